//! Helpers for testing code that emits events, and (with the `testing` feature) the
//! conformance suite that every [`EventStore`](crate::EventStore) passes.

#[cfg(feature = "testing")]
mod conformance;
#[cfg(feature = "testing")]
pub use conformance::{event_at, store_conformance};

use std::future::Future;
use std::sync::Arc;

use crate::dispatch::{with_default, with_default_async};
use crate::emitter::Emitter;
use crate::event::Event;
use crate::store::MemoryStore;

/// Runs `f` with a fresh in-memory emitter as the current thread's default, and returns what `f`
/// returned together with every event emitted meanwhile, in order.
///
/// Events go through the whole delivery path (stored, then published). The emitter is the
/// default of the current thread while `f` runs, and only then:
///
/// - **Async code: use [`capture_async`].** `capture(|| handler(req))` returns the handler's
///   *future*; awaited after `capture` returned, it runs with no emitter and nothing is captured
///   (`events` is empty). In a `#[tokio::test]` (either flavour), write
///   `capture_async(handler(req)).await`.
/// - **Handlers that name their emitter** (`emitter = state.events`) emit through that emitter,
///   never the default: give them [`Capture::emitter`] and read [`Capture::events`].
/// - Work spawned onto other tasks or threads, and events emitted through another emitter, are
///   not captured.
///
/// ```
/// use tidings_runtime::{Event, testing::capture};
///
/// let (answer, events) = capture(|| {
///     let event = Event::builder().category("connection").action("ping").build().unwrap();
///     tidings_runtime::emit(event).unwrap();
///     42
/// });
/// assert_eq!(answer, 42);
/// assert_eq!(events.len(), 1);
/// assert!(events[0].action() == "ping");
/// ```
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Event>) {
    let capture = Capture::new();
    let result = with_default(&capture.emitter, f);
    (result, capture.events())
}

/// [`capture`] for async code: awaits `future` with a fresh in-memory emitter as the default of
/// whichever thread polls it (at every poll, so a task of a multi-threaded runtime that moves
/// between threads is followed), and returns its output with every event emitted meanwhile, in
/// order. It works in `#[tokio::test]`, both flavours, around an axum `Router::oneshot`: the
/// handler runs inside the future. Tasks the future spawns are outside it.
///
/// ```
/// use tidings_runtime::{Event, testing::capture_async};
///
/// # futures::executor::block_on(async {
/// let (answer, events) = capture_async(async {
///     let event = Event::builder().category("connection").action("ping").build().unwrap();
///     tidings_runtime::emit(event).unwrap();
///     42
/// })
/// .await;
/// assert_eq!(answer, 42);
/// assert_eq!(events.len(), 1);
/// # });
/// ```
pub async fn capture_async<F: Future>(future: F) -> (F::Output, Vec<Event>) {
    let capture = Capture::new();
    let output = with_default_async(&capture.emitter, future).await;
    (output, capture.events())
}

/// An in-memory emitter for a test, and the events it delivered: for code that names its
/// emitter (the attribute's `emitter = ...`, an application state's `Emitter`, the events API's
/// `web::router`), where [`capture`] and [`capture_async`], which set the default, cannot reach.
///
/// ```
/// use tidings_runtime::{Emitter, Event, testing::Capture};
///
/// struct App { events: Emitter }
///
/// let capture = Capture::new();
/// let app = App { events: capture.emitter().clone() };
/// app.events.emit(Event::builder().category("connection").action("ping").build()?)?;
/// assert_eq!(capture.events().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Capture {
    store: Arc<MemoryStore>,
    emitter: Emitter,
}

impl Capture {
    /// A fresh emitter with an unbounded in-memory store (delivery inline: an event is stored
    /// and published before `emit` returns).
    #[must_use]
    pub fn new() -> Capture {
        let store = Arc::new(MemoryStore::unbounded());
        let emitter = Emitter::builder()
            .shared_store(Arc::clone(&store) as _)
            .build();
        Capture { store, emitter }
    }

    /// The emitter to hand to the code under test.
    #[must_use]
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    /// Every event delivered so far, in order.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.store.events()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}
