//! What requests change: the status of events, and deleting them.

use uuid::Uuid;

use super::Shared;
use super::connection::{execute, on_pool};
use super::read::filters;
use crate::severity::Status;
use crate::store::{EventQuery, StoreError};

/// How many rows a statement changed, as a count.
fn changed(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

impl Shared {
    /// Marks events read or unread.
    pub(super) async fn set_status_many(
        &self,
        ids: &[Uuid],
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        let status = status.as_str();
        on_pool!(self.queries()?, "cannot update events", |client| async {
            execute(
                client,
                "UPDATE tidings_events SET status = $1, \
                     updated_at = CASE WHEN status = $1 THEN updated_at ELSE $2 END \
                     WHERE id = ANY($3)",
                &[&status, &now, &ids],
            )
            .await
        })
        .map(changed)
    }

    /// Deletes events.
    pub(super) async fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        on_pool!(self.queries()?, "cannot delete events", |client| async {
            execute(
                client,
                "DELETE FROM tidings_events WHERE id = ANY($1)",
                &[&ids],
            )
            .await
        })
        .map(changed)
    }

    /// Marks every event that matches `query`'s filters, in one statement.
    pub(super) async fn set_status_matching(
        &self,
        query: &EventQuery,
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        let condition = filters(query);
        let n = condition.params().len();
        let status = status.as_str();
        let sql = format!(
            "UPDATE tidings_events SET status = ${0}, \
             updated_at = CASE WHEN status = ${0} THEN updated_at ELSE ${1} END {2}",
            n + 1,
            n + 2,
            condition.clause
        );
        on_pool!(self.queries()?, "cannot update events", |client| async {
            let mut params = condition.params();
            params.push(&status);
            params.push(&now);
            execute(client, &sql, &params).await
        })
        .map(changed)
    }

    /// Deletes every event that matches `query`'s filters, in one statement.
    pub(super) async fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        let condition = filters(query);
        let sql = format!("DELETE FROM tidings_events {}", condition.clause);
        on_pool!(self.queries()?, "cannot delete events", |client| async {
            execute(client, &sql, &condition.params()).await
        })
        .map(changed)
    }
}
