//! What requests change: the status of events, and deleting them.

use uuid::Uuid;

use super::Shared;
use super::read::filters;
use crate::severity::Status;
use crate::store::{EventQuery, StoreError};

impl Shared {
    /// Marks events read or unread.
    pub(super) fn set_status_many(
        &self,
        ids: &[Uuid],
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        self.off_runtime(|| {
            let changed = self.on_pool("cannot update events", |connection| {
                connection.execute_prepared(
                    "UPDATE tidings_events SET status = $1, \
                     updated_at = CASE WHEN status = $1 THEN updated_at ELSE $2 END \
                     WHERE id = ANY($3)",
                    &[&status.as_str(), &now, &ids],
                )
            })?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        })
    }

    /// Deletes events.
    pub(super) fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        self.off_runtime(|| {
            let deleted = self.on_pool("cannot delete events", |connection| {
                connection
                    .execute_prepared("DELETE FROM tidings_events WHERE id = ANY($1)", &[&ids])
            })?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }

    /// Marks every event that matches `query`'s filters, in one statement.
    pub(super) fn set_status_matching(
        &self,
        query: &EventQuery,
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        self.off_runtime(|| {
            let condition = filters(query);
            let n = condition.params().len();
            let mut params = condition.params();
            let status = status.as_str();
            params.push(&status);
            params.push(&now);
            let changed = self.on_pool("cannot update events", |connection| {
                connection.execute_prepared(
                    &format!(
                        "UPDATE tidings_events SET status = ${0}, \
                         updated_at = CASE WHEN status = ${0} THEN updated_at ELSE ${1} END {2}",
                        n + 1,
                        n + 2,
                        condition.clause
                    ),
                    &params,
                )
            })?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        })
    }

    /// Deletes every event that matches `query`'s filters, in one statement.
    pub(super) fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        self.off_runtime(|| {
            let condition = filters(query);
            let deleted = self.on_pool("cannot delete events", |connection| {
                connection.execute_prepared(
                    &format!("DELETE FROM tidings_events {}", condition.clause),
                    &condition.params(),
                )
            })?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }
}
