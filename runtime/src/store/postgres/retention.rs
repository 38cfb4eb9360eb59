//! Retention: deleting what the retention setting no longer keeps, on one instance at a time.

use time::OffsetDateTime;

use super::Shared;
use super::connection::Context;
use super::schema::RETENTION_LOCK;
use crate::store::StoreError;

impl Shared {
    /// Deletes what the retention setting no longer keeps; `0` without waiting when another
    /// instance is pruning.
    pub(super) async fn prune(&self) -> Result<usize, StoreError> {
        let context = "cannot prune events";
        let max_age = self.retention.max_age.map(|max_age| {
            OffsetDateTime::now_utc()
                - time::Duration::try_from(max_age).unwrap_or(time::Duration::MAX)
        });
        let max_per_user = self
            .retention
            .max_per_user
            .map(|max| i64::try_from(max).unwrap_or(i64::MAX));
        let queries = self.queries()?;
        let mut client = queries.connection(context).await?;
        let transaction = client.transaction().await.context(context)?;
        let ours: bool = transaction
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .await
            .map(|row| row.get(0))
            .context(context)?;
        if !ours {
            return Ok(0);
        }
        let mut deleted = 0;
        if let Some(cutoff) = max_age {
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE created_at < $1",
                    &[&cutoff],
                )
                .await
                .context(context)?;
        }
        if let Some(max) = max_per_user {
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE seq IN (SELECT seq FROM (SELECT seq, \
                     row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, seq DESC) \
                     AS n FROM tidings_events) AS ranked WHERE n > $1)",
                    &[&max],
                )
                .await
                .context(context)?;
        }
        transaction.commit().await.context(context)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}
