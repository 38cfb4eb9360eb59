//! Helpers for testing code that emits events, and (with the `testing` feature) the
//! conformance suite that every [`EventStore`](crate::EventStore) passes.

#[cfg(feature = "testing")]
mod conformance;
#[cfg(feature = "testing")]
pub use conformance::{event_at, store_conformance};

use std::sync::Arc;

use crate::dispatch::with_default;
use crate::emitter::Emitter;
use crate::event::Event;
use crate::store::MemoryStore;

/// Runs `f` with a fresh in-memory emitter as the current thread's default, and returns what `f`
/// returned together with every event emitted meanwhile, in order.
///
/// Events go through the whole delivery path (stored, then published). The emitter is scoped to
/// the current thread: run async code inside with a current-thread executor (for example
/// `futures::executor::block_on` or a tokio current-thread runtime). Events emitted through
/// another emitter, or on other threads, are not captured.
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
    let store = Arc::new(MemoryStore::unbounded());
    let emitter = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    let result = with_default(&emitter, f);
    (result, store.events())
}
