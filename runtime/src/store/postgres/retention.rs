//! Retention: deleting what the retention setting no longer keeps, on one instance at a time.

use time::OffsetDateTime;

use super::Shared;
use super::connection::Context;
use super::schema::RETENTION_LOCK;
use crate::store::StoreError;

impl Shared {
    /// Deletes what the retention setting no longer keeps; `0` without waiting when another
    /// instance is pruning.
    pub(super) fn prune(&self) -> Result<usize, StoreError> {
        let context = "cannot prune events";
        let mut client = self.connection()?;
        let mut transaction = client.transaction().context(context)?;
        let ours: bool = transaction
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .map(|row| row.get(0))
            .context(context)?;
        if !ours {
            return Ok(0);
        }
        let mut deleted = 0;
        if let Some(max_age) = self.retention.max_age {
            let cutoff = OffsetDateTime::now_utc()
                - time::Duration::try_from(max_age).unwrap_or(time::Duration::MAX);
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE created_at < $1",
                    &[&cutoff],
                )
                .context(context)?;
        }
        if let Some(max) = self.retention.max_per_user {
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE seq IN (SELECT seq FROM (SELECT seq, \
                     row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, seq DESC) \
                     AS n FROM tidings_events) AS ranked WHERE n > $1)",
                    &[&max],
                )
                .context(context)?;
        }
        transaction.commit().context(context)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}
