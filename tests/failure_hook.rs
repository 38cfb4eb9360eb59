//! The failure hook on a bad day: a hook that panics does not stop the background writer, and a
//! hook that emits through its own emitter neither deadlocks (on the writer thread, with a full
//! queue) nor recurses (inline, on a store that keeps failing) nor keeps the emitter alive.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod common;

use common::{StoreCall, WatchedStore};
use tidings::{
    Emitter, Event, EventQuery, EventStore, Severity, StoreError, WeakEmitter, WriterError,
};

/// Refuses events of category `pattern`, stores the others in memory.
fn refuses_patterns() -> WatchedStore {
    WatchedStore::new(|call| match call {
        StoreCall::Insert(event) if event.category().as_str() == "pattern" => {
            Err(StoreError::Backend("disk full".into()))
        }
        _ => Ok(()),
    })
}

fn deploy() -> Event {
    Event::builder()
        .category("pattern")
        .action("deploy")
        .build()
        .unwrap()
}

/// Runs `work` on another thread and fails the test, rather than hanging it, if it never returns.
fn returns<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} never returned"))
}

#[test]
fn a_panicking_hook_is_caught_counted_and_the_writer_keeps_going() {
    let emitter = Emitter::builder()
        .store(refuses_patterns())
        .background_writer(2)
        .on_failure(|failure| panic!("the hook failed on {}", failure.event.id()))
        .build();
    let events = emitter.clone();
    let flushed = returns("emitting 20 events through a queue of 2", move || {
        for _ in 0..20 {
            events.emit(deploy()).expect("accepted");
        }
        events.flush()
    });
    assert_eq!(flushed, Ok(()));
    assert_eq!(emitter.failures(), 20);
    assert_eq!(emitter.failure_hook_panics(), 20);
    // Still working: an event that can be stored is stored.
    let kept = emitter
        .emit(
            Event::builder()
                .category("connection")
                .action("ping")
                .build()
                .unwrap(),
        )
        .unwrap();
    emitter.flush().unwrap();
    assert!(emitter.store().unwrap().get(kept.id()).unwrap().is_some());
}

/// The hook's handle on its own emitter, set once the emitter exists.
fn hook_emitting_warnings(
    slot: &Arc<OnceLock<WeakEmitter>>,
    flushes: &Arc<Mutex<Vec<Result<(), WriterError>>>>,
) -> impl Fn(&tidings::DeliveryFailure) + Send + Sync + 'static {
    let (slot, flushes) = (Arc::clone(slot), Arc::clone(flushes));
    move |failure| {
        let Some(events) = slot.get().and_then(WeakEmitter::upgrade) else {
            return;
        };
        let warning = Event::builder()
            .category("storage")
            .action("write")
            .severity(Severity::Warning)
            .description(format!("event {} was not stored", failure.event.id()))
            .build()
            .unwrap();
        let _ = events.emit(warning);
        flushes.lock().unwrap().push(events.flush());
    }
}

#[test]
fn a_hook_that_emits_on_the_writer_thread_with_a_full_queue_does_not_deadlock_or_leak() {
    let store = Arc::new(refuses_patterns());
    let slot = Arc::new(OnceLock::new());
    let flushes = Arc::default();
    let emitter = Emitter::builder()
        .shared_store(store.clone())
        .background_writer(1)
        .on_failure(hook_emitting_warnings(&slot, &flushes))
        .build();
    slot.set(emitter.downgrade()).unwrap();
    let events = emitter.clone();
    returns("a hook emitting while the queue is full", move || {
        for _ in 0..50 {
            events.emit(deploy()).expect("accepted");
        }
        // The second flush waits for the warnings the hook emitted during the first.
        events.flush().unwrap();
        events.flush().unwrap();
    });
    assert_eq!(emitter.failures(), 50);
    let warnings = store
        .query(&EventQuery::new().category("storage".parse().unwrap()))
        .unwrap();
    assert_eq!(warnings.total, 50, "one warning per failure, stored");
    let flushes = flushes.lock().unwrap();
    assert_eq!(flushes.len(), 50);
    assert!(
        flushes
            .iter()
            .all(|f| *f == Err(WriterError::FlushFromWriter)),
        "flush from the hook refuses instead of waiting for itself: {flushes:?}"
    );

    // No leak: the hook's weak handle does not keep the emitter (and its writer) alive.
    let weak = emitter.downgrade();
    drop(emitter);
    assert!(weak.upgrade().is_none());
    assert_eq!(
        Arc::strong_count(&store),
        1,
        "the writer released the store"
    );
}

#[test]
fn a_hook_that_emits_inline_into_a_store_that_keeps_failing_does_not_recurse() {
    let calls = Arc::new(AtomicUsize::new(0));
    let slot: Arc<OnceLock<WeakEmitter>> = Arc::new(OnceLock::new());
    let emitter = Emitter::builder()
        .store(refuses_patterns())
        .inline_writes()
        .on_failure({
            let (calls, slot) = (Arc::clone(&calls), Arc::clone(&slot));
            move |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                if let Some(events) = slot.get().and_then(WeakEmitter::upgrade) {
                    // Refused too: counted, not handed to this hook again.
                    assert!(events.emit(deploy()).is_err());
                }
            }
        })
        .build();
    slot.set(emitter.downgrade()).unwrap();
    assert!(emitter.emit(deploy()).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(emitter.failures(), 2);
    assert_eq!(emitter.failure_hook_panics(), 0);
}
