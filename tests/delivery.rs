//! Delivery: persist then publish, failures reported and not published, bursts, lagging
//! subscribers, unsubscribing, and publishing while others subscribe and drop.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use common::{number_of, numbered_event};
use futures::StreamExt;
use tidings::{
    Broadcaster, DeliveryFailure, Emitter, Event, EventPage, EventQuery, EventStore, EventTypes,
    Lagged, MemoryStore, RecvError, Status, StoreError, Subscription, TryRecvError, Uuid,
};

/// A store that, at insert time, looks at a live subscription of the same user: with persist then
/// publish, the subscriber cannot have the event yet.
struct OrderCheckingStore {
    inner: MemoryStore,
    watcher: Mutex<Option<Subscription>>,
    seen_before_insert: AtomicUsize,
}

impl EventStore for OrderCheckingStore {
    fn insert(&self, event: &Arc<Event>) -> Result<tidings::Inserted, StoreError> {
        if let Some(watcher) = &*self.watcher.lock().unwrap() {
            match watcher.try_recv() {
                Err(TryRecvError::Empty) => {}
                _ => {
                    self.seen_before_insert.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        self.inner.insert(event)
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
fn stores_first_then_publishes_the_same_event() {
    let store = Arc::new(OrderCheckingStore {
        inner: MemoryStore::unbounded(),
        watcher: Mutex::new(None),
        seen_before_insert: AtomicUsize::new(0),
    });
    let emitter = Emitter::builder().shared_store(store.clone()).build();
    let user = Uuid::new_v4();
    *store.watcher.lock().unwrap() = Some(emitter.subscribe(user));
    let tab = emitter.subscribe(user);

    let delivered = emitter.emit(numbered_event(user, 1)).unwrap();
    assert_eq!(store.seen_before_insert.load(Ordering::SeqCst), 0);

    let live = tab.try_recv().unwrap();
    assert!(Arc::ptr_eq(&live, &delivered));
    let stored = store.get(live.id()).unwrap().unwrap();
    assert_eq!(stored, *live, "what was published is what was stored");
    assert_eq!(live.system_id(), Some(emitter.system_id()));
}

struct FailingStore;

impl EventStore for FailingStore {
    fn insert(&self, _: &Arc<Event>) -> Result<tidings::Inserted, StoreError> {
        Err(StoreError::Backend("disk full".into()))
    }
    fn get(&self, _: Uuid) -> Result<Option<Event>, StoreError> {
        Ok(None)
    }
    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        MemoryStore::new().query(query)
    }
    fn set_status_many(&self, _: &[Uuid], _: Status) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn delete_many(&self, _: &[Uuid]) -> Result<usize, StoreError> {
        Ok(0)
    }
    fn stored_after(&self, _: Uuid, _: Uuid, _: usize) -> Result<Option<Vec<Event>>, StoreError> {
        Ok(None)
    }
    fn types(&self, _: Option<Uuid>) -> Result<EventTypes, StoreError> {
        Ok(EventTypes::default())
    }
}

#[test]
fn failed_persistence_is_reported_and_not_published() {
    let reported: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = reported.clone();
    let emitter = Emitter::builder()
        .store(FailingStore)
        .on_failure(move |failure: &DeliveryFailure| {
            sink.lock()
                .unwrap()
                .push(format!("{} / {}", failure.event.id(), failure.error));
        })
        .build();
    let user = Uuid::new_v4();
    let tab = emitter.subscribe(user);
    let all = emitter.subscribe_all();

    let event = numbered_event(user, 1);
    let id = event.id();
    let failure = emitter.emit(event).unwrap_err();
    assert_eq!(failure.event.id(), id);
    assert!(failure.to_string().contains("was not stored"), "{failure}");
    assert_eq!(failure.error.to_string(), "event store failed: disk full");

    assert_eq!(tab.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(all.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(emitter.failures(), 1);
    assert_eq!(
        *reported.lock().unwrap(),
        [format!("{id} / event store failed: disk full")]
    );
}

#[test]
fn a_duplicate_id_is_refused_and_the_first_event_kept() {
    let store = MemoryStore::new();
    let event = Arc::new(numbered_event(Uuid::new_v4(), 1));
    store.insert(&event).unwrap();
    let err = store.insert(&event).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateId(id) if id == event.id()));
    assert_eq!(store.len(), 1);
    assert_eq!(store.get(event.id()).unwrap().unwrap(), *event);
}

#[test]
fn a_burst_reaches_every_subscriber_complete_and_in_order() {
    let emitter = Emitter::builder().buffer(64).build();
    let user = Uuid::new_v4();
    let tabs: Vec<Subscription> = (0..3).map(|_| emitter.subscribe(user)).collect();
    let other_user = emitter.subscribe(Uuid::new_v4());
    for n in 0..64 {
        emitter.emit(numbered_event(user, n)).unwrap();
    }
    for tab in &tabs {
        let got: Vec<usize> = tab.drain().iter().map(|e| number_of(e)).collect();
        assert_eq!(got, (0..64).collect::<Vec<_>>());
    }
    assert_eq!(other_user.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[test]
fn a_lagging_subscriber_is_told_its_loss_and_others_are_unaffected() {
    let broadcaster = Broadcaster::with_capacity(4);
    let user = Uuid::new_v4();
    let slow = broadcaster.subscribe(user);
    let fast = broadcaster.subscribe_with_capacity(user, 100);
    for n in 0..10 {
        let event = Arc::new(numbered_event(user, n));
        assert_eq!(broadcaster.publish(&event), 2);
    }
    assert_eq!(slow.recv(), Err(RecvError::Lagged(6)));
    let rest: Vec<usize> = (0..4).map(|_| number_of(&slow.recv().unwrap())).collect();
    assert_eq!(rest, [6, 7, 8, 9]);
    assert_eq!(slow.try_recv().unwrap_err(), TryRecvError::Empty);

    let all: Vec<usize> = fast.drain().iter().map(|e| number_of(e)).collect();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
}

#[test]
fn dropping_a_subscription_unsubscribes() {
    let broadcaster = Broadcaster::new();
    let user = Uuid::new_v4();
    let first = broadcaster.subscribe(user);
    let second = broadcaster.subscribe(user);
    assert_eq!(broadcaster.subscriber_count(user), 2);
    drop(first);
    assert_eq!(broadcaster.subscriber_count(user), 1);
    assert_eq!(broadcaster.publish(&Arc::new(numbered_event(user, 0))), 1);
    drop(second);
    assert_eq!(broadcaster.subscriber_count(user), 0);
    assert_eq!(
        broadcaster.user_count(),
        0,
        "no entry is left behind for the user"
    );
    // Many reconnects leave nothing behind.
    for _ in 0..1000 {
        let _tab = broadcaster.subscribe(user);
    }
    assert_eq!(broadcaster.user_count(), 0);
    let all = broadcaster.subscribe_all();
    drop(all);
    assert_eq!(broadcaster.publish(&Arc::new(numbered_event(user, 0))), 0);
}

#[test]
fn subscriptions_end_when_the_broadcaster_is_gone() {
    let broadcaster = Broadcaster::new();
    let user = Uuid::new_v4();
    let tab = broadcaster.subscribe(user);
    broadcaster.publish(&Arc::new(numbered_event(user, 7)));
    drop(broadcaster);
    assert_eq!(
        number_of(&tab.recv().unwrap()),
        7,
        "buffered events are still received"
    );
    assert_eq!(tab.recv(), Err(RecvError::Closed));
    assert_eq!(tab.try_recv().unwrap_err(), TryRecvError::Closed);
}

#[test]
fn blocking_receive_wakes_when_an_event_arrives() {
    let emitter = Emitter::new();
    let user = Uuid::new_v4();
    let tab = emitter.subscribe(user);
    let receiver = thread::spawn(move || {
        tab.recv_timeout(Duration::from_secs(30))
            .map(|e| number_of(&e))
    });
    // Publish only once the receiver is blocked, so that the wake-up is what is tested.
    while emitter.broadcaster().__blocked_receivers(user) == 0 {
        assert!(
            !receiver.is_finished(),
            "the receiver returned before anything was sent"
        );
        thread::yield_now();
    }
    emitter.emit(numbered_event(user, 5)).unwrap();
    assert_eq!(receiver.join().unwrap(), Ok(5));
}

#[test]
fn a_pending_stream_is_woken_when_an_event_arrives() {
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let emitter = Emitter::new();
    let user = Uuid::new_v4();
    let mut tab = emitter.subscribe(user);
    let woken = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(
        tab.poll_next_unpin(&mut cx).is_pending(),
        "nothing yet: it waits"
    );
    assert_eq!(woken.0.load(Ordering::SeqCst), 0);
    emitter.emit(numbered_event(user, 7)).unwrap();
    assert_eq!(woken.0.load(Ordering::SeqCst), 1, "publishing woke it");
    match tab.poll_next_unpin(&mut cx) {
        Poll::Ready(Some(Ok(event))) => assert_eq!(number_of(&event), 7),
        other => panic!("expected the event, got {other:?}"),
    }
}

#[test]
fn a_subscription_is_a_stream() {
    let emitter = Emitter::builder().buffer(2).build();
    let user = Uuid::new_v4();
    let mut tab = emitter.subscribe(user);
    let producer = {
        let emitter = emitter.clone();
        thread::spawn(move || {
            for n in 0..3 {
                emitter.emit(numbered_event(user, n)).unwrap();
            }
        })
    };
    producer.join().unwrap();
    futures::executor::block_on(async {
        assert_eq!(tab.next().await.unwrap(), Err(Lagged(1)));
        assert_eq!(number_of(&tab.next().await.unwrap().unwrap()), 1);
        assert_eq!(number_of(&tab.next().await.unwrap().unwrap()), 2);
    });

    // A pending stream is woken by a publish from another thread, and ends when the emitter is
    // gone.
    let producer = thread::spawn(move || {
        emitter.emit(numbered_event(user, 9)).unwrap();
        drop(emitter);
    });
    let rest: Vec<_> = futures::executor::block_on(tab.collect::<Vec<_>>());
    producer.join().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(number_of(rest[0].as_ref().unwrap()), 9);
}

#[test]
fn publishing_while_others_subscribe_and_drop_loses_nothing_and_never_panics() {
    const PUBLISHERS: usize = 4;
    const PER_PUBLISHER: usize = 2_000;
    let emitter = Emitter::builder()
        .without_store()
        .buffer(PUBLISHERS * PER_PUBLISHER)
        .build();
    let user = Uuid::new_v4();
    // Subscribers that keep up: subscribed before the first publish, with room for everything.
    let keepers: Vec<Subscription> = (0..3).map(|_| emitter.subscribe(user)).collect();
    let keeper_all = emitter.subscribe_all();
    let start = Arc::new(Barrier::new(PUBLISHERS + 2));

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let emitter = emitter.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for i in 0..PER_PUBLISHER {
                    emitter
                        .emit(numbered_event(user, p * PER_PUBLISHER + i))
                        .unwrap();
                }
            })
        })
        .collect();
    let churners: Vec<_> = (0..2)
        .map(|c| {
            let emitter = emitter.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for i in 0..2_000 {
                    let tab = if (i + c) % 3 == 0 {
                        emitter.subscribe_all()
                    } else {
                        emitter.subscribe(user)
                    };
                    let _ = tab.try_recv();
                    drop(tab);
                }
            })
        })
        .collect();
    for handle in publishers.into_iter().chain(churners) {
        handle.join().expect("no thread panicked");
    }

    for tab in keepers.iter().chain([&keeper_all]) {
        let got = tab.drain();
        assert_eq!(got.len(), PUBLISHERS * PER_PUBLISHER);
        // Each publisher's events arrive in the order it published them.
        let mut last = [None::<usize>; PUBLISHERS];
        for event in &got {
            let n = number_of(event);
            let p = n / PER_PUBLISHER;
            assert!(last[p].is_none_or(|prev| prev < n));
            last[p] = Some(n);
        }
    }
    assert_eq!(emitter.broadcaster().subscriber_count(user), 3);
}

/// Any mix of subscribing (with small buffers, so that some lag), publishing, receiving and
/// unsubscribing: nothing panics, and once every subscription is gone no ring holds an event.
#[test]
fn the_ring_releases_every_event_whatever_the_readers_do() {
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Subscribe(usize),
        Publish,
        Receive(usize),
        Drop(usize),
    }
    let step = prop_oneof![
        (1_usize..5).prop_map(Step::Subscribe),
        Just(Step::Publish),
        (0_usize..8).prop_map(Step::Receive),
        (0_usize..8).prop_map(Step::Drop),
    ];
    proptest!(ProptestConfig::with_cases(300), |(steps in proptest::collection::vec(step, 1..80))| {
        let broadcaster = Broadcaster::with_capacity(3);
        let user = Uuid::new_v4();
        let mut subscriptions: Vec<Subscription> = Vec::new();
        let mut published = Vec::new();
        for step in steps {
            match step {
                Step::Subscribe(4) => {
                    subscriptions.push(broadcaster.subscribe_all_with_capacity(2));
                }
                Step::Subscribe(capacity) => {
                    subscriptions.push(broadcaster.subscribe_with_capacity(user, capacity));
                }
                Step::Publish => {
                    let event = Arc::new(numbered_event(user, published.len()));
                    broadcaster.publish(&event);
                    published.push(event);
                }
                Step::Receive(i) => {
                    if let Some(subscription) = subscriptions.get(i) {
                        let _ = subscription.try_recv();
                    }
                }
                Step::Drop(i) => {
                    if i < subscriptions.len() {
                        subscriptions.swap_remove(i);
                    }
                }
            }
        }
        drop(subscriptions);
        for event in &published {
            prop_assert_eq!(Arc::strong_count(event), 1);
        }
    });
}

/// A store whose feed cannot start: `try_build` says so instead of panicking, and leaves
/// nothing running; `build` panics with the same reason.
#[test]
fn an_emitter_whose_feed_cannot_start_is_an_error_from_try_build() {
    struct NoFeed(tidings::MemoryStore);
    impl tidings::EventStore for NoFeed {
        fn insert(
            &self,
            event: &Arc<tidings::Event>,
        ) -> Result<tidings::Inserted, tidings::StoreError> {
            self.0.insert(event)
        }
        fn get(&self, id: tidings::Uuid) -> Result<Option<tidings::Event>, tidings::StoreError> {
            self.0.get(id)
        }
        fn query(
            &self,
            query: &tidings::EventQuery,
        ) -> Result<tidings::EventPage, tidings::StoreError> {
            self.0.query(query)
        }
        fn set_status_many(
            &self,
            ids: &[tidings::Uuid],
            status: tidings::Status,
        ) -> Result<usize, tidings::StoreError> {
            self.0.set_status_many(ids, status)
        }
        fn delete_many(&self, ids: &[tidings::Uuid]) -> Result<usize, tidings::StoreError> {
            self.0.delete_many(ids)
        }
        fn stored_after(
            &self,
            user: tidings::Uuid,
            after: tidings::Uuid,
            limit: usize,
        ) -> Result<Option<Vec<tidings::Event>>, tidings::StoreError> {
            self.0.stored_after(user, after, limit)
        }
        fn types(
            &self,
            user: Option<tidings::Uuid>,
        ) -> Result<tidings::EventTypes, tidings::StoreError> {
            self.0.types(user)
        }
        fn start_feed(
            &self,
            _: tidings::Broadcaster,
        ) -> Result<Option<Box<dyn tidings::Feed>>, tidings::StoreError> {
            Err(tidings::StoreError::Backend(
                "no thread for the listener".into(),
            ))
        }
    }
    let error = tidings::Emitter::builder()
        .store(NoFeed(tidings::MemoryStore::new()))
        .try_build()
        .expect_err("the feed failed");
    assert!(matches!(error, tidings::StartError::Feed(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot start the store's feed: event store failed: no thread for the listener"
    );
    let panic = std::panic::catch_unwind(|| {
        tidings::Emitter::builder()
            .store(NoFeed(tidings::MemoryStore::new()))
            .build()
    })
    .expect_err("build panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("no thread for the listener"),
        "{message:?}"
    );
}

/// With inline delivery (the memory store, the default), two emitters of one user at once
/// publish in the order the store holds their events: a stream that resumes after the second
/// has the first already, or never needed it.
#[test]
fn inline_delivery_publishes_a_users_events_in_the_stores_order() {
    let latch = Arc::new(common::Latch::default());
    let _release = common::OpensOnDrop(Arc::clone(&latch));
    // The event numbered 0 is held after it is stored, before it is published.
    let holds = Arc::clone(&latch);
    let store = Arc::new(common::WatchedStore::new(move |call| {
        if let common::StoreCall::Inserted(event) = call
            && number_of(event) == 0
        {
            holds.hold();
        }
        Ok(())
    }));
    let emitter = Emitter::builder()
        .shared_store(store.clone())
        .inline_writes()
        .build();
    let user = Uuid::new_v4();
    let live = emitter.subscribe(user);
    let first = {
        let emitter = emitter.clone();
        thread::spawn(move || emitter.emit(numbered_event(user, 0)).unwrap())
    };
    latch.wait_until_held(1, "the first event's insert");
    let (done, second_done) = std::sync::mpsc::channel();
    let second = {
        let emitter = emitter.clone();
        thread::spawn(move || {
            let event = emitter.emit(numbered_event(user, 1)).unwrap();
            let _ = done.send(());
            event
        })
    };
    // Time for the second emitter to run to its end if it could (it ran in microseconds when
    // nothing ordered the two): it must not publish before the first, which is stored first.
    let returned_early = second_done.recv_timeout(Duration::from_secs(2)).is_ok();
    latch.open();
    first.join().unwrap();
    second.join().unwrap();
    let published: Vec<usize> = (0..2).map(|_| number_of(&live.recv().unwrap())).collect();
    let stored: Vec<usize> = store
        .query(&EventQuery::new().user(user).order(tidings::Order::Asc))
        .unwrap()
        .events
        .iter()
        .map(number_of)
        .collect();
    assert_eq!(stored, [0, 1]);
    assert_eq!(
        published, stored,
        "published in another order than stored (the second emit returned while the first \
         was held: {returned_early})"
    );
}
