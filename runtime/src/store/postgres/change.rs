//! What requests change: the status of events, and deleting them.

use uuid::Uuid;

use super::Shared;
use super::connection::{Context, off_runtime};
use crate::severity::Status;
use crate::store::StoreError;

impl Shared {
    /// Marks events read or unread.
    pub(super) fn set_status_many(
        &self,
        ids: &[Uuid],
        status: Status,
    ) -> Result<usize, StoreError> {
        let now = crate::event::now();
        off_runtime(|| {
            let changed = self
                .connection()?
                .execute(
                    "UPDATE tidings_events SET status = $1, updated_at = $2 WHERE id = ANY($3)",
                    &[&status.as_str(), &now, &ids],
                )
                .context("cannot update events")?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        })
    }

    /// Deletes events.
    pub(super) fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        off_runtime(|| {
            let deleted = self
                .connection()?
                .execute("DELETE FROM tidings_events WHERE id = ANY($1)", &[&ids])
                .context("cannot delete events")?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }
}
