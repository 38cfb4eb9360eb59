//! The documented defaults are the ones the code uses: a subscription buffers 1,024 events, the
//! memory store keeps the newest 10,000, a background writer queues 65,536 before emitting waits.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Waker};

use common::numbered_event;
use tidings::{
    DEFAULT_QUEUE, DEFAULT_SUBSCRIPTION_BUFFER, Emitter, Event, EventPage, EventQuery, EventStore,
    EventTypes, MemoryStore, PageSize, RecvError, Status, StoreError, Uuid,
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

/// A store that prefers a background writer and holds its first write until told.
struct Held {
    inner: MemoryStore,
    holding: Mutex<bool>,
    held: Condvar,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            inner: MemoryStore::with_capacity(2 * DEFAULT_QUEUE),
            holding: Mutex::default(),
            held: Condvar::new(),
            open: Mutex::default(),
            opened: Condvar::new(),
        }
    }
}

impl EventStore for Held {
    fn insert(&self, event: &Arc<Event>) -> Result<(), StoreError> {
        *self.holding.lock().unwrap() = true;
        self.held.notify_all();
        drop(
            self.opened
                .wait_while(self.open.lock().unwrap(), |open| !*open)
                .unwrap(),
        );
        self.inner.insert(event)
    }
    fn prefers_background_writer(&self) -> bool {
        true
    }
    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        self.inner.get(id)
    }
    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        self.inner.query(query)
    }
    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        self.inner.set_status_many(ids, status)
    }
    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        self.inner.delete_many(ids)
    }
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.inner.stored_after(user, after, limit)
    }
    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        self.inner.types(user)
    }
}

#[test]
fn a_background_writer_queues_65536_events_before_emitting_waits() {
    assert_eq!(DEFAULT_QUEUE, 65_536);
    let store = Arc::new(Held::default());
    let events = Emitter::builder().shared_store(store.clone()).build();
    assert!(events.has_background_writer());
    let user = Uuid::new_v4();
    // The writer takes the first event and is held inside the store.
    events.emit(numbered_event(user, 0)).unwrap();
    drop(
        store
            .held
            .wait_while(store.holding.lock().unwrap(), |h| !*h)
            .unwrap(),
    );

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

    *store.open.lock().unwrap() = true;
    store.opened.notify_all();
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

/// Records the threads that store events and run the store's housekeeping.
#[derive(Default)]
struct ThreadRecorder {
    inner: MemoryStore,
    writes: Mutex<Vec<std::thread::ThreadId>>,
    housekeeping: Mutex<Vec<std::thread::ThreadId>>,
}

impl EventStore for ThreadRecorder {
    fn insert(&self, event: &Arc<Event>) -> Result<(), StoreError> {
        self.writes
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.inner.insert(event)
    }
    fn prefers_background_writer(&self) -> bool {
        true
    }
    fn maintain(&self) -> Result<usize, StoreError> {
        self.housekeeping
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        Ok(0)
    }
    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        self.inner.get(id)
    }
    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        self.inner.query(query)
    }
    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        self.inner.set_status_many(ids, status)
    }
    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        self.inner.delete_many(ids)
    }
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.inner.stored_after(user, after, limit)
    }
    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        self.inner.types(user)
    }
}

/// Retention (the store's housekeeping) and the writes themselves run on the writer's thread,
/// never on the thread that emits.
#[test]
fn with_a_background_writer_neither_writes_nor_retention_run_on_the_callers_thread() {
    let store = Arc::new(ThreadRecorder::default());
    let events = Emitter::builder().shared_store(store.clone()).build();
    let user = Uuid::new_v4();
    for n in 0..100 {
        events.emit(numbered_event(user, n)).unwrap();
    }
    events.flush().unwrap();
    let me = std::thread::current().id();
    let writes = store.writes.lock().unwrap();
    let housekeeping = store.housekeeping.lock().unwrap();
    assert_eq!(writes.len(), 100);
    assert!(!housekeeping.is_empty(), "housekeeping ran");
    assert!(writes.iter().chain(housekeeping.iter()).all(|t| *t != me));
}
