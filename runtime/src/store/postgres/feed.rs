//! The listener of one instance: publishes every instance's stored events, in `seq` order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::connection::bounded;
use super::read::read_event;
use super::schema::{CHANNEL, COLUMNS};
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
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
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
            let mut notifications = client.notifications();
            if notifications.timeout_iter(TICK).next()?.is_some() {
                notified = true;
            }
            // The others that arrived meanwhile: one read serves them all.
            let mut pending = notifications.iter();
            while pending.next()?.is_some() {}
        }
        if notified || polled.elapsed() >= state.store.poll {
            catch_up(state, &mut client)?;
            polled = Instant::now();
        }
    }
}

/// Publishes the rows after the last published `seq`, in order.
fn catch_up(state: &State, client: &mut Client) -> Result<(), postgres::Error> {
    let statement = client.prepare(&format!(
        "SELECT {COLUMNS}, seq FROM tidings_events WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))?;
    loop {
        let after = state.progress().published;
        let rows = client.query(&statement, &[&after, &PAGE])?;
        let Some(last) = rows.last().map(|row| row.get::<_, i64>(13)) else {
            return Ok(());
        };
        let mut newest = None;
        for row in &rows {
            // A row this release cannot read is skipped, not a reason to stop delivering.
            if let Ok(event) = read_event(row) {
                newest = Some(event.created_at());
                state.broadcaster.publish(&Arc::new(event));
            }
        }
        state.progress().published = last;
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
