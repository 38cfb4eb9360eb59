//! The documented defaults are the ones the code uses: a subscription buffers 1,024 events, the
//! memory store keeps the newest 10,000, a background writer queues 65,536 before emitting waits.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use common::{Latch, StoreCall, WatchedStore, numbered_event};
use tidings::{
    DEFAULT_QUEUE, DEFAULT_SUBSCRIPTION_BUFFER, Emitter, EventQuery, EventStore, MemoryStore,
    PageSize, RecvError, Uuid,
};

#[test]
fn a_subscription_buffers_1024_events_by_default() {
    assert_eq!(DEFAULT_SUBSCRIPTION_BUFFER, 1024);
    let events = Emitter::builder().without_store().build();
    assert_eq!(events.broadcaster().capacity(), 1024);
    let user = Uuid::new_v4();
    let tab = events.subscribe(user);
    for n in 0..1025 {
        events.emit(numbered_event(user, n)).unwrap();
    }
    assert_eq!(tab.recv().map(|e| e.id()), Err(RecvError::Lagged(1)));
    assert_eq!(tab.drain().len(), 1024);
}

#[test]
fn the_memory_store_keeps_the_newest_10000_events_by_default() {
    assert_eq!(MemoryStore::DEFAULT_CAPACITY, 10_000);
    let store = MemoryStore::new();
    let user = Uuid::new_v4();
    let first = Arc::new(numbered_event(user, 0));
    store.insert(&first).unwrap();
    for n in 1..10_001 {
        store.insert(&Arc::new(numbered_event(user, n))).unwrap();
    }
    let all = store
        .query(&EventQuery::new().page_size(PageSize::All))
        .unwrap();
    assert_eq!(all.total, 10_000);
    assert_eq!(
        store.get(first.id()).unwrap(),
        None,
        "the oldest went first"
    );
}

#[test]
fn a_background_writer_queues_65536_events_before_emitting_waits() {
    assert_eq!(DEFAULT_QUEUE, 65_536);
    let latch = Arc::new(Latch::default());
    let holds = Arc::clone(&latch);
    let store = Arc::new(
        WatchedStore::new(move |call| {
            if let StoreCall::Insert(_) = call {
                holds.hold();
            }
            Ok(())
        })
        .in_background(),
    );
    let events = Emitter::builder().shared_store(store.clone()).build();
    assert!(events.has_background_writer());
    let user = Uuid::new_v4();
    // The writer takes the first event and is held inside the store.
    events.emit(numbered_event(user, 0)).unwrap();
    latch.wait_until_held(1, "writes");

    let mut cx = Context::from_waker(Waker::noop());
    for n in 1..=DEFAULT_QUEUE {
        let emit = pin!(events.emit_async(numbered_event(user, n)));
        assert!(emit.poll(&mut cx).is_ready(), "event {n} waited");
    }
    let mut full = pin!(events.emit_async(numbered_event(user, DEFAULT_QUEUE + 1)));
    assert!(
        full.as_mut().poll(&mut cx).is_pending(),
        "the queue is full: emitting waits"
    );

    latch.open();
    futures::executor::block_on(full.as_mut()).expect("room, once the writer goes on");
    events.flush().unwrap();
    let stored = store
        .query(&EventQuery::new().page_size(PageSize::All))
        .unwrap();
    assert_eq!(
        stored.total,
        DEFAULT_QUEUE + 2,
        "nothing was lost while emitting waited"
    );
}

/// Retention (the store's housekeeping) and the writes themselves run on the writer's thread,
/// never on the thread that emits.
#[test]
fn with_a_background_writer_neither_writes_nor_retention_run_on_the_callers_thread() {
    let writes: Arc<Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
    let housekeeping: Arc<Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
    let (w, h) = (Arc::clone(&writes), Arc::clone(&housekeeping));
    let store = WatchedStore::new(move |call| {
        let thread = std::thread::current().id();
        match call {
            StoreCall::Insert(_) => w.lock().unwrap().push(thread),
            StoreCall::Maintain => h.lock().unwrap().push(thread),
            _ => {}
        }
        Ok(())
    })
    .in_background();
    let events = Emitter::builder().store(store).build();
    let user = Uuid::new_v4();
    for n in 0..100 {
        events.emit(numbered_event(user, n)).unwrap();
    }
    events.flush().unwrap();
    let me = std::thread::current().id();
    let writes = writes.lock().unwrap();
    let housekeeping = housekeeping.lock().unwrap();
    assert_eq!(writes.len(), 100);
    assert!(!housekeeping.is_empty(), "housekeeping ran");
    assert!(writes.iter().chain(housekeeping.iter()).all(|t| *t != me));
}
