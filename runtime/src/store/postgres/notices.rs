//! Counts notices: after a change of users' counts (events marked or deleted), every instance's
//! listener is told whose, on [`COUNTS_CHANNEL`], so that their live streams send the new
//! counts. The notices are sent after the change's commit, outside its transaction (a `NOTIFY`
//! inside one makes every commit wait in PostgreSQL's queue of notifications), and coalesced:
//! at most one round of them each [`GAP`], each naming up to [`PER_NOTICE`] users.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use uuid::Uuid;

use super::connection::{Queries, select};
use super::schema::COUNTS_CHANNEL;

/// The shortest time between two rounds of notices. A stream sends its counts at most once a
/// `counts_interval` (1 s by default): a change waits at most this much longer to reach the
/// other instances' streams.
pub(super) const GAP: Duration = Duration::from_millis(50);

/// Users named in one notice: 200 ids of 37 bytes fit PostgreSQL's payload limit (8,000 bytes).
const PER_NOTICE: usize = 200;

/// What one notice names: `*` (the counts of users not known changed: everyone's), or users'
/// ids separated by commas.
pub(super) fn parse(payload: &str) -> Option<Vec<Uuid>> {
    payload
        .split(',')
        .map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// The users whose counts changed since the last round, and whether a round is on its way.
#[derive(Default)]
struct Pending {
    /// `None`: users not known (everyone's counts).
    users: BTreeSet<Option<Uuid>>,
    sending: bool,
}

/// The store's sender of counts notices.
#[derive(Default)]
pub(super) struct Notices {
    pending: Arc<Mutex<Pending>>,
}

impl Notices {
    /// Tells every instance that `user`'s counts changed (`None`: users not known), in the next
    /// round.
    pub(super) fn changed(&self, queries: &Queries, user: Option<Uuid>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.users.insert(user);
        if std::mem::replace(&mut pending.sending, true) {
            return;
        }
        drop(pending);
        let pending = Arc::clone(&self.pending);
        let pool = queries.pool().clone();
        queries.spawn(async move {
            loop {
                let users = {
                    let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
                    if pending.users.is_empty() {
                        pending.sending = false;
                        return;
                    }
                    std::mem::take(&mut pending.users)
                };
                if let Err(error) = send(&pool, &users).await {
                    // The counts of those users' streams on other instances are behind until
                    // their next change; their events and lists are not.
                    tracing::warn!(
                        target: "tidings",
                        %error,
                        users = users.len(),
                        "cannot tell the other instances that users' counts changed"
                    );
                }
                tokio::time::sleep(GAP).await;
            }
        });
    }
}

/// One round: the notices of `users`, in one statement.
async fn send(
    pool: &deadpool_postgres::Pool,
    users: &BTreeSet<Option<Uuid>>,
) -> Result<(), String> {
    let payloads: Vec<String> = if users.contains(&None) {
        vec!["*".to_owned()]
    } else {
        let ids: Vec<String> = users.iter().flatten().map(Uuid::to_string).collect();
        ids.chunks(PER_NOTICE)
            .map(|chunk| chunk.join(","))
            .collect()
    };
    let client = pool.get().await.map_err(|e| e.to_string())?;
    select(
        &client,
        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
        &[&COUNTS_CHANNEL, &payloads],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_users_or_everyone() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(parse(&format!("{a},{b}")), Some(vec![a, b]));
        assert_eq!(parse(&a.to_string()), Some(vec![a]), "one, as before");
        assert_eq!(parse("*"), None);
        assert_eq!(parse(&format!("{a},nobody")), None, "not read: everyone's");
    }
}
