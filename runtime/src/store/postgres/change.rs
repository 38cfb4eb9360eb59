//! What requests change: the status of events, and deleting them.

use uuid::Uuid;

use super::Shared;
use super::connection::{change, on_pool, select};
use super::read::{filters, read_event};
use super::schema::READ_COLUMNS as COLUMNS;
use crate::event::Event;
use crate::severity::Status;
use crate::store::{EventQuery, StoreError};

impl Shared {
    /// After `rows` of `user`'s events changed (`None`: users not known): tells every instance
    /// whose counts changed, when any did; `rows`, as a count.
    fn counts_changed(&self, user: Option<Uuid>, rows: u64) -> usize {
        if rows > 0
            && let Some(queries) = &self.queries
        {
            self.notices.changed(queries, user);
        }
        usize::try_from(rows).unwrap_or(usize::MAX)
    }

    /// Marks events read or unread.
    pub(super) async fn set_status_many(
        &self,
        ids: &[Uuid],
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        let status = status.as_str();
        let sql = "UPDATE tidings_events SET status = $1, \
             updated_at = CASE WHEN status = $1 THEN updated_at ELSE $2 END WHERE id = ANY($3)";
        let marked = on_pool!(self.queries()?, "cannot update events", |client| async {
            change(client, sql, &[&status, &now, &ids]).await
        })?;
        Ok(self.counts_changed(None, marked))
    }

    /// Deletes events.
    pub(super) async fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        let sql = "DELETE FROM tidings_events WHERE id = ANY($1)";
        let deleted = on_pool!(self.queries()?, "cannot delete events", |client| async {
            change(client, sql, &[&ids]).await
        })?;
        Ok(self.counts_changed(None, deleted))
    }

    /// Marks every event that matches `query`'s filters, in one statement.
    pub(super) async fn set_status_matching(
        &self,
        query: &EventQuery,
        status: Status,
    ) -> Result<usize, StoreError> {
        self.marking(query, status, None)
            .await
            .map(|(marked, _)| marked)
    }

    /// Marks the event `id` that `query` matches and reads it back, both statements sent
    /// together on one connection (one round trip): `None` when no event matched.
    pub(super) async fn mark_one(
        &self,
        query: &EventQuery,
        id: Uuid,
        status: Status,
    ) -> Result<Option<Event>, StoreError> {
        let (marked, event) = self.marking(query, status, Some(id)).await?;
        Ok(event.filter(|_| marked > 0))
    }

    /// Marks what `query` matches; with `read_back`, reads that event after the mark.
    async fn marking(
        &self,
        query: &EventQuery,
        status: Status,
        read_back: Option<Uuid>,
    ) -> Result<(usize, Option<Event>), StoreError> {
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
        let one = format!("SELECT {COLUMNS} FROM tidings_events WHERE id = $1");
        let (marked, rows) = on_pool!(self.queries()?, "cannot update events", |client| async {
            let mut params = condition.params();
            params.push(&status);
            params.push(&now);
            let mark = change(client, &sql, &params);
            match &read_back {
                None => Ok((mark.await?, Vec::new())),
                // In the order sent: the read sees the mark.
                Some(id) => futures_util::future::try_join(mark, select(client, &one, &[id])).await,
            }
        })?;
        let event = rows.first().map(read_event).transpose()?;
        Ok((self.counts_changed(query.user_id(), marked), event))
    }

    /// Deletes every event that matches `query`'s filters, in one statement.
    pub(super) async fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        let condition = filters(query);
        let sql = format!("DELETE FROM tidings_events {}", condition.clause);
        let deleted = on_pool!(self.queries()?, "cannot delete events", |client| async {
            change(client, &sql, &condition.params()).await
        })?;
        Ok(self.counts_changed(query.user_id(), deleted))
    }
}
