//! The listener of one instance: publishes every instance's stored events, in `seq` order.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use uuid::Uuid;

use super::connection::bounded;
use super::read::read_event;
use super::schema::{CHANNEL, COUNTS_CHANNEL, READ_COLUMNS as COLUMNS};
use super::{QUERY_BOUND, Shared};
use crate::broadcast::Broadcaster;
use crate::store::Feed;

/// How many rows one catch-up read takes.
const PAGE: i64 = 1_000;

/// How often the listener looks whether it should stop while it waits for notifications.
const TICK: Duration = Duration::from_millis(50);

/// The running listener; dropping it stops the thread.
pub(super) struct Listener {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    store: Arc<Shared>,
    broadcaster: Broadcaster,
    /// Its connection is up (`LISTEN` done, caught up once).
    connected: std::sync::atomic::AtomicBool,
    progress: Mutex<Progress>,
    changed: Condvar,
}

struct Progress {
    /// The highest `seq` published.
    published: i64,
    /// The last [`PAGE`] rows published, oldest first: `seq` and id, to tell whether the history
    /// went back under them and not to publish one twice.
    recent: VecDeque<(i64, Uuid)>,
    stop: bool,
}

impl State {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.progress().stop
    }

    /// Waits up to `duration` unless the listener is told to stop; `true` when it is.
    fn pause(&self, duration: Duration) -> bool {
        let progress = self.progress();
        let (progress, _) = self
            .changed
            .wait_timeout_while(progress, duration, |p| !p.stop)
            .unwrap_or_else(PoisonError::into_inner);
        progress.stop
    }
}

impl Listener {
    /// Starts the listener's thread; the error is the operating system's.
    pub(super) fn start(store: Arc<Shared>, broadcaster: Broadcaster) -> std::io::Result<Listener> {
        let state = Arc::new(State {
            progress: Mutex::new(Progress {
                published: store.start,
                recent: VecDeque::new(),
                stop: false,
            }),
            store,
            broadcaster,
            connected: std::sync::atomic::AtomicBool::new(false),
            changed: Condvar::new(),
        });
        let thread = {
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name("tidings-pg-listener".to_owned())
                .spawn(move || run(&state))?
        };
        Ok(Listener {
            state,
            thread: Some(thread),
        })
    }
}

impl Feed for Listener {
    fn sync(&self, timeout: Duration) -> bool {
        let target = self.state.store.committed.load(Ordering::SeqCst);
        let progress = self.state.progress();
        let (progress, _) = self
            .state
            .changed
            .wait_timeout_while(progress, timeout, |p| p.published < target && !p.stop)
            .unwrap_or_else(PoisonError::into_inner);
        progress.published >= target
    }

    fn health(&self) -> crate::FeedHealth {
        let committed = self.state.store.committed.load(Ordering::SeqCst);
        let published = self.state.progress().published;
        crate::FeedHealth::new(
            self.state.connected.load(Ordering::SeqCst),
            u64::try_from(committed - published).unwrap_or(0),
        )
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.state.progress().stop = true;
        self.state.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(state: &State) {
    let mut backoff = Duration::from_millis(20);
    // Whether the connection is down now: logged once per outage, not per attempt.
    let mut down = false;
    while !state.stopping() {
        match listen(state, &mut down) {
            // Told to stop.
            Ok(()) => return,
            Err(error) => {
                state.connected.store(false, Ordering::SeqCst);
                if !down {
                    down = true;
                    tracing::warn!(
                        target: "tidings",
                        %error,
                        "the PostgreSQL listener lost its connection: live events from every \
                         instance wait until it is back"
                    );
                }
                // Connection lost or refused: connect again, `LISTEN`, then catch up.
                if state.pause(backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// One connection's life: `LISTEN` first, then catch up, then publish on every notification
/// and on every safety poll. Returns `Ok` when told to stop, `Err` when the connection fails.
fn listen(state: &State, down: &mut bool) -> Result<(), postgres::Error> {
    #[cfg(feature = "test-doors")]
    state.store.hooks.before_listen();
    let mut config = state.store.config.clone();
    let name = format!(
        "{}-listener",
        config.get_application_name().unwrap_or("tidings")
    );
    config.application_name(&name);
    bounded(&mut config, QUERY_BOUND);
    let mut client = postgres::Config::from(config).connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {COUNTS_CHANNEL}"))?;
    check_history(state, &mut client)?;
    let before = state.progress().published;
    catch_up(state, &mut client)?;
    state.connected.store(true, Ordering::SeqCst);
    if std::mem::take(down) {
        let rows = state.progress().published - before;
        tracing::info!(
            target: "tidings",
            rows,
            "the PostgreSQL listener is connected again and caught up ({rows} rows published)"
        );
    }
    let mut polled = Instant::now();
    loop {
        if state.stopping() {
            return Ok(());
        }
        let mut notified = false;
        {
            // New rows (one read serves every notification that arrived meanwhile), or a
            // user's counts changed without one.
            let mut seen = |notification: postgres::Notification| {
                if notification.channel() == COUNTS_CHANNEL {
                    counts_changed(state, notification.payload());
                } else {
                    notified = true;
                }
            };
            let mut notifications = client.notifications();
            if let Some(notification) = notifications.timeout_iter(TICK).next()? {
                seen(notification);
            }
            let mut pending = notifications.iter();
            while let Some(notification) = pending.next()? {
                seen(notification);
            }
        }
        if notified || polled.elapsed() >= state.store.poll {
            catch_up(state, &mut client)?;
            polled = Instant::now();
        }
    }
}

/// A user's counts changed on some instance (events marked or deleted): the user's live
/// streams here are told (`*`: every user's).
fn counts_changed(state: &State, payload: &str) {
    match super::notices::parse(payload) {
        Some(users) => users
            .into_iter()
            .for_each(|user| state.broadcaster.counts_changed(user)),
        None => state.broadcaster.all_counts_changed(),
    }
}

/// After a (re)connect: whether the store's history went back under what this listener
/// published, as after a failover to a standby that had not received the newest rows. Then
/// `seq` values at or below the last published one are handed out again (to new events), and
/// reading only `seq > published` would never deliver them. Two signs: the last published row
/// is not there any more with its id, or the `seq` sequence is behind it. The listener then
/// goes back to the newest row it published that is still there (rows it published are not
/// published twice), and every live subscription is told the history changed (a live stream
/// sends `event: reload`, and its client loads the list again). Deleting the newest event on
/// purpose looks the same: its streams reload once, harmlessly.
fn check_history(state: &State, client: &mut Client) -> Result<(), postgres::Error> {
    let (published, recent): (i64, Vec<(i64, Uuid)>) = {
        let progress = state.progress();
        (
            progress.published,
            progress.recent.iter().copied().collect(),
        )
    };
    let Some(&(last_seq, last_id)) = recent.last() else {
        return Ok(());
    };
    let sequence: Option<String> = client
        .query_one(
            "SELECT pg_get_serial_sequence('tidings_events', 'seq')",
            &[],
        )?
        .get(0);
    let handed_out = match sequence {
        Some(sequence) => {
            // The name comes from PostgreSQL, quoted where it needs to be.
            let row = client.query_one(
                &format!("SELECT last_value, is_called FROM {sequence}"),
                &[],
            )?;
            let (last, called): (i64, bool) = (row.get(0), row.get(1));
            if called { last } else { last - 1 }
        }
        None => i64::MAX,
    };
    let still: Option<Uuid> = client
        .query_opt("SELECT id FROM tidings_events WHERE seq = $1", &[&last_seq])?
        .map(|row| row.get(0));
    if still == Some(last_id) && handed_out >= published {
        return Ok(());
    }
    // The newest published row that is still there, as published.
    let seqs: Vec<i64> = recent.iter().map(|(seq, _)| *seq).collect();
    let there: std::collections::HashSet<(i64, Uuid)> = client
        .query(
            "SELECT seq, id FROM tidings_events WHERE seq = ANY($1)",
            &[&seqs],
        )?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let kept = recent
        .iter()
        .rev()
        .find(|pair| there.contains(pair))
        .map_or(recent[0].0 - 1, |(seq, _)| *seq);
    let back_to = kept.min(handed_out);
    {
        let mut progress = state.progress();
        progress.published = back_to;
        progress.recent.retain(|pair| there.contains(pair));
    }
    state.store.committed.fetch_min(back_to, Ordering::SeqCst);
    tracing::warn!(
        target: "tidings",
        published,
        back_to,
        "the store's history went back under what was published (a failover that lost the \
         newest rows?): the listener reads again from there and live streams are told to reload"
    );
    state.broadcaster.history_changed();
    state.changed.notify_all();
    Ok(())
}

/// Publishes the rows after the last published `seq`, in order.
fn catch_up(state: &State, client: &mut Client) -> Result<(), postgres::Error> {
    let statement = client.prepare(&format!(
        "SELECT {COLUMNS}, seq FROM tidings_events WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))?;
    loop {
        let after = state.progress().published;
        let rows = client.query(&statement, &[&after, &PAGE])?;
        let Some(last) = rows.last().map(|row| row.get::<_, i64>(14)) else {
            return Ok(());
        };
        let mut newest = None;
        let mut read = Vec::with_capacity(rows.len());
        for row in &rows {
            // A row this release cannot read is skipped, not a reason to stop delivering.
            if let Ok(event) = read_event(row) {
                read.push((row.get::<_, i64>(14), event));
            }
        }
        let mut published = Vec::with_capacity(read.len());
        {
            // Rows read again after the history went back: those published already are not
            // published twice.
            let progress = state.progress();
            let newest_known = progress.recent.back().map_or(i64::MIN, |(seq, _)| *seq);
            for (seq, event) in read {
                if seq > newest_known || !progress.recent.contains(&(seq, event.id())) {
                    published.push((seq, event));
                }
            }
        }
        let mut done = Vec::with_capacity(published.len());
        for (seq, event) in published {
            newest = Some(event.created_at());
            done.push((seq, event.id()));
            state.broadcaster.publish(&Arc::new(event));
        }
        {
            let mut progress = state.progress();
            progress.published = last;
            for pair in done {
                if progress.recent.len() == PAGE as usize {
                    progress.recent.pop_front();
                }
                progress.recent.push_back(pair);
            }
        }
        // How far behind the listener is: rows this instance committed that are not published
        // yet, and the age of the newest event it just published.
        let committed = state.store.committed.load(Ordering::SeqCst);
        metrics::gauge!("tidings_listener_lag_rows").set((committed - last).max(0) as f64);
        if let Some(created) = newest {
            let age = (time::OffsetDateTime::now_utc() - created)
                .as_seconds_f64()
                .max(0.0);
            metrics::gauge!("tidings_listener_lag_seconds").set(age);
        }
        state.changed.notify_all();
        if (rows.len() as i64) < PAGE {
            return Ok(());
        }
    }
}
