//! The thread-scoped default emitter, emitting with no emitter set, and `testing::capture`.

use std::thread;

use tidings::testing::capture;
use tidings::{
    EmitError, Emitter, Event, MemoryStore, Uuid, emit, has_default, set_default, with_default,
};

fn ping(n: u64) -> Event {
    Event::builder()
        .category("connection")
        .action("ping")
        .meta("n", n)
        .build()
        .unwrap()
}

#[test]
fn without_an_emitter_emit_drops_the_event_and_says_so() {
    assert!(!has_default());
    assert!(matches!(emit(ping(0)), Err(EmitError::NoEmitter)));
}

#[test]
fn a_scoped_default_applies_to_this_thread_only_and_is_restored() {
    let outer = Emitter::builder().store(MemoryStore::unbounded()).build();
    let inner = Emitter::builder().store(MemoryStore::unbounded()).build();
    let count = |e: &Emitter| {
        e.store()
            .unwrap()
            .query(&tidings::EventQuery::new())
            .unwrap()
            .total
    };

    with_default(&outer, || {
        emit(ping(1)).unwrap();
        with_default(&inner, || {
            emit(ping(2)).unwrap();
            // Another thread does not see this thread's default.
            let other = thread::spawn(|| matches!(emit(ping(3)), Err(EmitError::NoEmitter)));
            assert!(other.join().unwrap());
        });
        emit(ping(4)).unwrap();
    });
    assert_eq!(count(&outer), 2);
    assert_eq!(count(&inner), 1);
    assert!(!has_default());

    let guard = set_default(&inner);
    assert!(has_default());
    drop(guard);
    assert!(!has_default());
}

#[test]
fn the_default_is_restored_after_a_panic() {
    let emitter = Emitter::new();
    let result = std::panic::catch_unwind(|| with_default(&emitter, || panic!("boom")));
    assert!(result.is_err());
    assert!(!has_default());
}

#[test]
fn capture_returns_the_result_and_the_events_in_order() {
    let user = Uuid::new_v4();
    let (result, events) = capture(|| {
        for n in 0..5 {
            let event = Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .meta("n", n)
                .build()
                .unwrap();
            emit(event).unwrap();
        }
        "done"
    });
    assert_eq!(result, "done");
    let ns: Vec<u64> = events
        .iter()
        .map(|e| e.metadata()["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [0, 1, 2, 3, 4]);
    assert!(
        events
            .iter()
            .all(|e| e.system_id().is_some() && e.user_id() == Some(user))
    );
    // Nothing leaks out of the capture.
    assert!(!has_default());
    let (_, none) = capture(|| ());
    assert!(none.is_empty());
}
