//! The delivery policy, in one place: store the event, then publish the very same event; when
//! storing fails, count the failure, hand it to the application's hook, and never publish. The
//! emitter (one event, on the caller's thread) and the background writer (a batch, on its
//! thread) both deliver through [`Delivery`].

use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::broadcast::Broadcaster;
use crate::event::Event;
use crate::store::{EventStore, Inserted, StoreError};

/// The application's failure hook.
pub(crate) type FailureHook = Box<dyn Fn(&DeliveryFailure) + Send + Sync>;

/// An event that was not delivered because storing it failed; it was not published either.
#[derive(Debug)]
pub struct DeliveryFailure {
    /// The event, as it would have been stored.
    pub event: Arc<Event>,
    /// What the store said.
    pub error: StoreError,
}

impl fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} ({}/{}) was not stored, so it was not published",
            self.event.id(),
            self.event.category(),
            self.event.action()
        )
    }
}

impl std::error::Error for DeliveryFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Stores events, then publishes what was stored; reports what was not.
///
/// Publishing is the broadcaster's `publish` of the stored `Arc<Event>`. A store with a feed of
/// its own ([`EventStore::start_feed`]: every instance's events, in the store's order) replaces
/// that one step; storing first and reporting failures stays here.
pub(crate) struct Delivery {
    store: Option<Arc<dyn EventStore>>,
    broadcaster: Broadcaster,
    /// `false` when the store's feed publishes what was stored.
    publish_stored: bool,
    failures: AtomicU64,
    hook_panics: AtomicU64,
    hook: Option<FailureHook>,
    /// Inline delivery stores and publishes an event under its user's stripe of these locks, so
    /// that concurrent emitters publish a user's events in the order the store holds them (a
    /// stream that resumes after one event has every event stored before it).
    order: [Mutex<()>; ORDER_STRIPES],
    /// Whether the store is failing now (an episode, logged once at its start and its end), and
    /// how many events failed in it.
    failing: std::sync::atomic::AtomicBool,
    failed_in_episode: AtomicU64,
}

/// How many locks order inline delivery: users share a lock when their ids fall on one stripe,
/// which costs only waiting, never order.
const ORDER_STRIPES: usize = 64;

thread_local! {
    /// Set while this thread runs the failure hook: a failure of an event the hook itself emits
    /// is counted but not handed to the hook again (no endless recursion on a store that keeps
    /// failing).
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Drops a panic's payload; a payload whose own `drop` panics is forgotten instead.
fn discard(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

impl Delivery {
    pub(crate) fn new(
        store: Option<Arc<dyn EventStore>>,
        broadcaster: Broadcaster,
        hook: Option<FailureHook>,
    ) -> Delivery {
        Delivery {
            store,
            broadcaster,
            publish_stored: true,
            failures: AtomicU64::new(0),
            hook_panics: AtomicU64::new(0),
            hook,
            order: std::array::from_fn(|_| Mutex::new(())),
            failing: std::sync::atomic::AtomicBool::new(false),
            failed_in_episode: AtomicU64::new(0),
        }
    }

    /// Leaves publishing stored events to the store's feed.
    pub(crate) fn published_by_feed(mut self) -> Delivery {
        self.publish_stored = false;
        self
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn EventStore>> {
        self.store.as_ref()
    }

    pub(crate) fn broadcaster(&self) -> &Broadcaster {
        &self.broadcaster
    }

    /// How many events could not be stored.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// How many times the failure hook panicked.
    pub(crate) fn hook_panics(&self) -> u64 {
        self.hook_panics.load(Ordering::Relaxed)
    }

    /// Whether the store failed its last write, and how many events failed since it last
    /// stored one.
    pub(crate) fn outage(&self) -> (bool, u64) {
        (
            self.failing.load(Ordering::Relaxed),
            self.failed_in_episode.load(Ordering::Relaxed),
        )
    }

    /// Counts events that were accepted but will never be stored (the writer stopped).
    pub(crate) fn count_lost(&self, events: u64) {
        self.failures.fetch_add(events, Ordering::Relaxed);
        metrics::counter!("tidings_events_failed_total", "reason" => "writer_stopped")
            .increment(events);
    }

    /// Delivers one event on the caller's thread: stored and published under its user's lock,
    /// so that a user's events are published in the order the store holds them. A failure is
    /// reported after the lock is let go (the hook may emit).
    pub(crate) fn deliver(&self, event: Arc<Event>) -> Result<Arc<Event>, DeliveryFailure> {
        let Some(store) = &self.store else {
            // Nothing is stored, so there is no store order to keep.
            if self.publish_stored {
                self.broadcaster.publish(&event);
            }
            return Ok(event);
        };
        let stripe = event
            .user_id()
            .map_or(0, |user| (user.as_u64_pair().1 as usize) % ORDER_STRIPES);
        let ordered = self.order[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let inserted = match store.insert(&event) {
            Ok(inserted) => inserted,
            Err(error) => {
                drop(ordered);
                self.episode(0, 1, Some(&error as &dyn fmt::Display));
                return Err(self.report(DeliveryFailure { event, error }));
            }
        };
        self.published(&event, inserted);
        drop(ordered);
        self.episode(1, 0, None);
        Ok(event)
    }

    /// Publishes what the store made of `event` (itself, or the event it folded into; nothing
    /// when it was not stored), and counts it.
    fn published(&self, event: &Arc<Event>, inserted: Inserted) {
        match inserted {
            Inserted::New => {
                if self.publish_stored {
                    self.broadcaster.publish(event);
                }
                metrics::counter!("tidings_events_stored_total").increment(1);
            }
            Inserted::Folded(folded) => {
                if self.publish_stored {
                    self.broadcaster.publish(&Arc::new(folded));
                }
                metrics::counter!("tidings_events_folded_total").increment(1);
            }
            Inserted::Unchanged => {
                metrics::counter!("tidings_events_unchanged_total").increment(1);
            }
        }
    }

    /// Logs the store's state as it changes: the first failure after success (warn, once per
    /// episode, with the error), each failing batch after it (debug), and the first success
    /// after failures (info, with how many failed). Never a line per event.
    fn episode(&self, stored: usize, failed: usize, error: Option<&dyn fmt::Display>) {
        if failed > 0 {
            let in_episode = self
                .failed_in_episode
                .fetch_add(failed as u64, Ordering::Relaxed)
                + failed as u64;
            if !self.failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "tidings",
                    failed,
                    error = error.map(tracing::field::display),
                    "the event store is failing: events are not stored (nor published), and go \
                     to the failure hook"
                );
            } else {
                tracing::debug!(target: "tidings", failed, in_episode, "the event store still fails");
            }
        } else if stored > 0
            && self.failing.load(Ordering::Relaxed)
            && self.failing.swap(false, Ordering::Relaxed)
        {
            let failed = self.failed_in_episode.swap(0, Ordering::Relaxed);
            tracing::info!(
                target: "tidings",
                failed,
                "the event store stores events again, after {failed} events failed"
            );
        }
    }

    /// Delivers a batch: one `insert_batch` (a store that panics fails the whole batch), then
    /// each event is published or reported, in order; then the store's housekeeping.
    pub(crate) fn deliver_batch(&self, batch: &[Arc<Event>]) {
        let Some(store) = &self.store else {
            for event in batch {
                self.broadcaster.publish(event);
            }
            return;
        };
        metrics::histogram!("tidings_writer_batch_size").record(batch.len() as f64);
        let started = std::time::Instant::now();
        let results =
            catch_unwind(AssertUnwindSafe(|| store.insert_batch(batch))).unwrap_or_else(|panic| {
                discard(panic);
                batch
                    .iter()
                    .map(|_| Err(StoreError::Backend("the event store panicked".into())))
                    .collect()
            });
        let mut results = results.into_iter();
        let (mut stored, mut failed, mut first_error) = (0, 0, None::<String>);
        for event in batch {
            let error = match results.next() {
                Some(Ok(inserted)) => {
                    stored += 1;
                    self.published(event, inserted);
                    continue;
                }
                Some(Err(error)) => error,
                None => StoreError::Backend("the event store gave no result for it".into()),
            };
            failed += 1;
            first_error.get_or_insert_with(|| error.to_string());
            self.report(DeliveryFailure {
                event: Arc::clone(event),
                error,
            });
        }
        metrics::histogram!("tidings_write_seconds").record(started.elapsed().as_secs_f64());
        self.episode(
            stored,
            failed,
            first_error.as_ref().map(|text| text as &dyn fmt::Display),
        );
        // Retention and other housekeeping: off the request path. A failure here loses no
        // event; the next batch tries again.
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| store.maintain())) {
            discard(panic);
        }
    }

    /// Counts a failure and hands it to the hook. A hook that panics is counted and does not
    /// stop the caller (the writer thread keeps going); a failure of an event the hook emits is
    /// counted but not handed to the hook again.
    pub(crate) fn report(&self, failure: DeliveryFailure) -> DeliveryFailure {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let reason = match &failure.error {
            StoreError::DuplicateId(_) => "duplicate_id",
            StoreError::Backend(error) if error.is::<crate::WriterError>() => "writer_stopped",
            _ => "store",
        };
        metrics::counter!("tidings_events_failed_total", "reason" => reason).increment(1);
        let Some(hook) = &self.hook else {
            return failure;
        };
        if IN_HOOK.with(Cell::get) {
            return failure;
        }
        IN_HOOK.with(|flag| flag.set(true));
        let ran = catch_unwind(AssertUnwindSafe(|| hook(&failure)));
        IN_HOOK.with(|flag| flag.set(false));
        if let Err(panic) = ran {
            self.hook_panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                target: "tidings",
                event_id = %failure.event.id(),
                "the failure hook panicked (caught and counted; delivery goes on)"
            );
            discard(panic);
        }
        failure
    }
}
