//! The PostgreSQL store against a real PostgreSQL: the conformance suite, several instances on
//! one database, ordering across instances, and faults (connections killed, the server
//! restarted). Each test makes its own database (`pg::TestDb`), or its own cluster when it
//! restarts the server.

mod api;
#[path = "../../common/mod.rs"]
mod common;
mod pg;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pg::{Cluster, TestDb, eventually};
use tidings::testing::store_conformance;
use tidings::{
    DeliveryFailure, Emitter, Event, EventQuery, EventStore, Inserted, PgStore, RecvTimeoutError,
    Retention, Status, Subscription, Uuid,
};

const WAIT: Duration = Duration::from_secs(30);

use common::numbered_event as event;

/// An emitter on its own `PgStore` (its own pool and listener), as one server instance has,
/// whose failure hook records the ids it was given.
fn instance(url: &str) -> (Emitter, Arc<Mutex<Vec<Uuid>>>) {
    instance_with(PgStore::connect(url).unwrap())
}

fn instance_with(store: PgStore) -> (Emitter, Arc<Mutex<Vec<Uuid>>>) {
    let failed = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&failed);
    let emitter = Emitter::builder()
        .store(store)
        // Room for a whole burst: the tests read the subscriptions afterwards.
        .buffer(8_192)
        .on_failure(move |failure: &DeliveryFailure| {
            hook.lock().unwrap().push(failure.event.id());
        })
        .build();
    (emitter, failed)
}

/// Everything `subscription` receives until it has `count` events or `WAIT` passed.
fn receive(subscription: &Subscription, count: usize) -> Vec<Arc<Event>> {
    let mut received = Vec::new();
    while received.len() < count {
        match subscription.recv_timeout(WAIT) {
            Ok(event) => received.push(event),
            Err(RecvTimeoutError::Lagged(n)) => panic!("the subscriber lagged by {n}"),
            Err(_) => break,
        }
    }
    received
}

/// Asserts that two lists of ids are equal, naming the first difference (not printing
/// thousands of ids).
#[track_caller]
fn assert_same(actual: &[Uuid], expected: &[Uuid], what: &str) {
    if actual == expected {
        return;
    }
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{what}: {} ids where {} were expected; the first difference is at {at}: {:?} instead of {:?}",
        actual.len(),
        expected.len(),
        actual.get(at),
        expected.get(at)
    );
}

fn ids(events: &[Arc<Event>]) -> Vec<Uuid> {
    events.iter().map(|e| e.id()).collect()
}

#[test]
fn the_pg_store_passes_the_conformance_suite() {
    let db = TestDb::new();
    // One database; every check starts from an empty table.
    drop(PgStore::connect(&db.url).unwrap());
    store_conformance(|| {
        db.client()
            .batch_execute("TRUNCATE tidings_events")
            .unwrap();
        PgStore::connect(&db.url).unwrap()
    });
}

#[test]
fn a_schema_of_a_newer_release_or_a_foreign_table_is_refused_and_left_untouched() {
    let db = TestDb::new();
    drop(PgStore::connect(&db.url).unwrap());
    db.client()
        .batch_execute("UPDATE tidings_schema SET version = 99")
        .unwrap();
    let error = PgStore::connect(&db.url).unwrap_err().to_string();
    assert!(error.contains("schema version is 99"), "{error}");
    assert!(
        error.contains(&db.name),
        "the error names the database: {error}"
    );

    let other = TestDb::new();
    other
        .client()
        .batch_execute("CREATE TABLE tidings_events (x int); INSERT INTO tidings_events VALUES (7)")
        .unwrap();
    let error = PgStore::connect(&other.url).unwrap_err().to_string();
    assert!(error.contains("belongs to something else"), "{error}");
    let kept: i32 = other
        .client()
        .query_one("SELECT x FROM tidings_events", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, 7);
}

#[test]
fn an_unreachable_server_is_a_clear_error_without_the_password() {
    let error = PgStore::connect("postgres://app:secret@127.0.0.1:1/events")
        .unwrap_err()
        .to_string();
    assert!(error.contains("127.0.0.1:1/events"), "{error}");
    assert!(!error.contains("secret"), "{error}");
}

#[test]
fn the_live_event_equals_the_stored_one_to_the_microsecond() {
    let db = TestDb::new();
    let (emitter, _) = instance(&db.url);
    let user = Uuid::new_v4();
    let live = emitter.subscribe(user);
    let emitted = emitter.emit(event(user, 1)).unwrap();
    emitter.flush().unwrap();
    let received = live.recv_timeout(WAIT).unwrap();
    let stored = emitter.store().unwrap().get(emitted.id()).unwrap().unwrap();
    assert_eq!(*received, stored);
    assert_eq!(*emitted, stored, "the event made is the event stored");
}

/// Three instances in one process, subscribers of several users spread over them, events
/// emitted on every instance at once: each subscriber receives exactly its user's events, each
/// once, in the store's order; the table holds exactly what was emitted.
#[test]
fn three_instances_deliver_every_users_events_to_every_instance_once_in_store_order() {
    let db = TestDb::new();
    let instances: Vec<_> = (0..3).map(|_| instance(&db.url)).collect();
    let users: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    // Every user has a subscriber on every instance.
    let subscribers: Vec<(Uuid, Subscription)> = instances
        .iter()
        .flat_map(|(emitter, _)| users.iter().map(|&u| (u, emitter.subscribe(u))))
        .collect();
    const PER_INSTANCE: usize = 600;
    thread::scope(|scope| {
        for (i, (emitter, _)) in instances.iter().enumerate() {
            let users = &users;
            scope.spawn(move || {
                for n in 0..PER_INSTANCE {
                    emitter
                        .emit(event(users[(n + i) % users.len()], n))
                        .unwrap();
                }
                emitter.flush().unwrap();
            });
        }
    });
    let emitted = 3 * PER_INSTANCE;
    assert_eq!(db.count(), i64::try_from(emitted).unwrap());
    let mut per_user: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for &user in &users {
        per_user.insert(user, db.ids_of(user));
    }
    for (user, subscription) in &subscribers {
        let expected = &per_user[user];
        let received = receive(subscription, expected.len());
        assert_same(
            &ids(&received),
            expected,
            "a subscriber gets its user's events once each, in the store's order",
        );
        assert!(
            subscription.try_recv().is_err(),
            "and nothing else (no duplicate, no other user's event)"
        );
    }
    for (emitter, failed) in &instances {
        assert_eq!(emitter.failures(), 0);
        assert!(failed.lock().unwrap().is_empty());
    }
}

/// One instance's batch transaction is held open after its insert (its `seq` taken) while
/// another instance emits. Without the ordering lock the second commits a larger `seq` first,
/// every listener moves past the held one, and the held event reaches no live stream: this
/// test fails then (checked by removing the lock).
#[test]
fn a_batch_held_open_does_not_let_a_later_seq_overtake_it() {
    let db = TestDb::new();
    let store_a = PgStore::connect(&db.url).unwrap();
    let hold = store_a.__hold_next_commit();
    let (a, _) = instance_with(store_a);
    let (b, _) = instance(&db.url);
    let (c, _) = instance(&db.url);
    let user = Uuid::new_v4();
    let watchers = [a.subscribe(user), b.subscribe(user), c.subscribe(user)];

    let first = a.emit(event(user, 1)).unwrap();
    assert!(hold.wait_held(WAIT), "a's batch transaction is open");
    let second = b.emit(event(user, 2)).unwrap();
    // b's writer now waits for the ordering lock (or, without it, commits): either way,
    // released only once b's transaction has got as far as it can.
    assert!(
        eventually(WAIT, || waiting_for_a_lock(&db) || db.count() > 0),
        "b's batch waits for the lock or commits"
    );
    hold.release();
    a.flush().unwrap();
    b.flush().unwrap();
    c.flush().unwrap();
    let order = db.ids_of(user);
    assert_eq!(order.len(), 2);
    for watcher in &watchers {
        let received = receive(watcher, 2);
        assert_eq!(
            ids(&received),
            order,
            "every instance delivers both, in the store's order"
        );
    }
    assert_eq!(
        order,
        [first.id(), second.id()],
        "the held batch keeps its place"
    );
}

fn waiting_for_a_lock(db: &TestDb) -> bool {
    let waiting: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
             AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            &[&db.name],
        )
        .unwrap()
        .get(0);
    waiting > 0
}

/// The connection breaks after `COMMIT` reached the server but before its reply came back:
/// the writer looks up what is stored instead of storing it again or reporting it.
#[test]
fn a_commit_whose_reply_is_lost_is_looked_up_not_stored_twice_or_reported() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    store.__lose_next_commit_reply();
    let (emitter, failed) = instance_with(store);
    let user = Uuid::new_v4();
    let live = emitter.subscribe(user);
    let sent: Vec<Uuid> = (0..50)
        .map(|n| emitter.emit(event(user, n)).unwrap().id())
        .collect();
    emitter.flush().unwrap();
    assert_same(&db.ids_of(user), &sent, "stored once each");
    assert_same(
        &ids(&receive(&live, sent.len())),
        &sent,
        "delivered once each",
    );
    assert!(failed.lock().unwrap().is_empty(), "nothing reported");
    assert_eq!(emitter.failures(), 0);
}

/// The same with a batch of repeats folded into a stored event: the writer finds the folds in
/// `tidings_folds` and does not fold them again.
#[test]
fn a_lost_commit_reply_of_folds_is_looked_up_not_folded_twice() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    let (user, connection) = (Uuid::new_v4(), Uuid::new_v4());
    let retry = || {
        Event::builder()
            .err(&std::io::Error::other("connection refused"))
            .from_user(user)
            .acted_upon(connection)
            .category("connection")
            .action("retry")
            .coalesce(Duration::from_secs(600))
            .build()
            .unwrap()
    };
    let first = retry();
    assert_eq!(
        store.insert(&Arc::new(first.clone())).unwrap(),
        Inserted::New
    );
    let first = first.id();
    store.__lose_next_commit_reply();
    let (emitter, failed) = instance_with(store);
    for _ in 0..49 {
        emitter.emit(retry()).unwrap();
    }
    emitter.flush().unwrap();
    assert_eq!(db.ids_of(user), [first], "one event");
    let count: i32 = db
        .client()
        .query_one("SELECT count FROM tidings_events WHERE id = $1", &[&first])
        .unwrap()
        .get(0);
    assert_eq!(count, 50, "each repeat folded once");
    assert!(failed.lock().unwrap().is_empty(), "nothing reported");
    assert_eq!(emitter.failures(), 0);
}

/// Checks the promise under faults: every emitted event is either stored and received exactly
/// once by every subscriber of its user on every instance, or reported to the failure hook and
/// received by none.
fn assert_exactly_once_or_reported(
    db: &TestDb,
    emitted: &[Uuid],
    failed: &HashSet<Uuid>,
    subscribers: &[Subscription],
    user: Uuid,
) {
    let stored = db.ids_of(user);
    let stored_set: HashSet<Uuid> = stored.iter().copied().collect();
    assert_eq!(stored.len(), stored_set.len(), "no event stored twice");
    for id in emitted {
        assert!(
            stored_set.contains(id) != failed.contains(id),
            "event {id} is either stored or reported, not both or neither"
        );
    }
    for subscriber in subscribers {
        let received = receive(subscriber, stored.len());
        assert_same(
            &ids(&received),
            &stored,
            "every stored event is received once, in order; no reported one is",
        );
        assert!(subscriber.try_recv().is_err(), "and nothing more");
    }
}

#[test]
fn listener_connections_killed_again_and_again_during_a_burst_lose_and_repeat_nothing() {
    let db = TestDb::new();
    let instances: Vec<_> = (0..3)
        .map(|_| {
            instance_with(
                PgStore::connect(&db.url)
                    .unwrap()
                    .with_poll_interval(Duration::from_millis(200)),
            )
        })
        .collect();
    let user = Uuid::new_v4();
    let subscribers: Vec<Subscription> = instances.iter().map(|(e, _)| e.subscribe(user)).collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut emitted = Vec::new();
    let mut kills = 0;
    thread::scope(|scope| {
        let killer = scope.spawn(|| {
            let mut kills = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                kills += db.terminate("tidings-listener");
                thread::sleep(Duration::from_millis(15));
            }
            kills
        });
        for n in 0..3_000 {
            let (emitter, _) = &instances[n % 3];
            emitted.push(emitter.emit(event(user, n)).unwrap().id());
            if n % 100 == 0 {
                thread::sleep(Duration::from_millis(5));
            }
        }
        for (emitter, _) in &instances {
            emitter.flush().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        kills = killer.join().unwrap();
    });
    assert!(kills >= 3, "the listeners were killed ({kills} times)");
    let failed: HashSet<Uuid> = instances
        .iter()
        .flat_map(|(_, f)| f.lock().unwrap().clone())
        .collect();
    assert!(failed.is_empty(), "killing listeners fails no write");
    assert_exactly_once_or_reported(&db, &emitted, &failed, &subscribers, user);
}

#[test]
fn writer_connections_killed_mid_batch_store_each_event_once_or_report_it() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    let hold = store.__hold_next_commit();
    let (a, failed_a) = instance_with(store);
    let (b, failed_b) = instance(&db.url);
    let user = Uuid::new_v4();
    let subscribers = [a.subscribe(user), b.subscribe(user)];
    // The first batch is killed while its transaction is open, after its insert.
    let mut emitted = vec![a.emit(event(user, 0)).unwrap().id()];
    assert!(hold.wait_held(WAIT));
    assert!(
        db.terminate("tidings-writer") >= 1,
        "the writer's connection is killed"
    );
    hold.release();
    // Then a burst on both, with the writers' connections killed along the way.
    let done = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                db.terminate("tidings-writer");
                thread::sleep(Duration::from_millis(25));
            }
        });
        for n in 1..2_000 {
            let emitter = if n % 2 == 0 { &a } else { &b };
            emitted.push(emitter.emit(event(user, n)).unwrap().id());
            if n % 50 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
        a.flush().unwrap();
        b.flush().unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let failed: HashSet<Uuid> = failed_a
        .lock()
        .unwrap()
        .iter()
        .chain(failed_b.lock().unwrap().iter())
        .copied()
        .collect();
    assert_exactly_once_or_reported(&db, &emitted, &failed, &subscribers, user);
    assert!(
        db.ids_of(user).contains(&emitted[0]),
        "the killed batch was stored on retry"
    );
}

/// The server restarts (immediate shutdown, as a crash) during a burst, on a cluster of the
/// test's own: what was stored is delivered once everywhere, what could not be is reported.
#[test]
fn a_database_restart_during_a_burst_stores_and_delivers_once_or_reports() {
    let cluster = Cluster::start();
    let db = TestDb::on(&cluster.server());
    let instances: Vec<_> = (0..2).map(|_| instance(&db.url)).collect();
    let user = Uuid::new_v4();
    let subscribers: Vec<Subscription> = instances.iter().map(|(e, _)| e.subscribe(user)).collect();
    let mut emitted = Vec::new();
    for n in 0..3_000 {
        let (emitter, _) = &instances[n % 2];
        emitted.push(emitter.emit(event(user, n)).unwrap().id());
        if n == 1_000 {
            cluster.restart();
        }
        if n % 100 == 0 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    for (emitter, _) in &instances {
        emitter.flush().unwrap();
    }
    let failed: HashSet<Uuid> = instances
        .iter()
        .flat_map(|(_, f)| f.lock().unwrap().clone())
        .collect();
    assert_exactly_once_or_reported(&db, &emitted, &failed, &subscribers, user);
    // Every instance is ready again: its store stores and its listener is back (bounded).
    for (emitter, _) in &instances {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !emitter.health().is_ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "not ready 30 s after the restart: {}",
                emitter.health()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
    // The restart takes far less than the write timeout: nothing had to be given up.
    assert!(failed.is_empty(), "{} events reported", failed.len());
    drop(instances);
    drop(db);
}

/// A database that stays down longer than the write timeout: the events are reported to the
/// failure hook, published nowhere, and `flush` returns.
#[test]
fn a_database_down_longer_than_the_write_timeout_reports_the_events() {
    let cluster = Cluster::start();
    let db = TestDb::on(&cluster.server());
    let store = PgStore::connect(&db.url)
        .unwrap()
        .with_write_timeout(Duration::from_millis(500));
    let (emitter, failed) = instance_with(store);
    let user = Uuid::new_v4();
    let live = emitter.subscribe(user);
    cluster.stop();
    let lost: Vec<Uuid> = (0..20)
        .map(|n| emitter.emit(event(user, n)).unwrap().id())
        .collect();
    emitter.flush().unwrap();
    assert_eq!(
        *failed.lock().unwrap(),
        lost,
        "every event is reported, in order"
    );
    assert_eq!(emitter.failures(), 20);
    // The readiness check says so, with the reason.
    let health = emitter.health();
    assert!(!health.is_ready());
    assert!(health.reason().unwrap().contains("failing"), "{health}");
    cluster.start_again();
    let kept = emitter.emit(event(user, 99)).unwrap().id();
    emitter.flush().unwrap();
    // Ready again once the store stores and the listener is back (bounded: 30 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !emitter.health().is_ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready 30 s after the database came back: {}",
            emitter.health()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ids(&receive(&live, 1)),
        [kept],
        "only the stored event is delivered"
    );
    assert!(live.try_recv().is_err());
    drop(emitter);
    drop(db);
}

/// A batch is copied whole (`COPY`); one duplicate id in it makes the store insert it again
/// row by row, skipping the duplicate: the others are stored, the duplicate is refused.
#[test]
fn a_duplicate_id_in_a_batch_is_refused_alone() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    let user = Uuid::new_v4();
    let old = Arc::new(event(user, 0));
    store.insert(&old).unwrap();
    let (a, b) = (Arc::new(event(user, 1)), Arc::new(event(user, 2)));
    let results = store.insert_batch(&[
        Arc::clone(&a),
        Arc::clone(&old),
        Arc::clone(&b),
        Arc::clone(&a),
    ]);
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    for duplicate in [&results[1], &results[3]] {
        assert!(
            matches!(duplicate, Err(tidings::StoreError::DuplicateId(_))),
            "{results:?}"
        );
    }
    assert_eq!(db.ids_of(user), [old.id(), a.id(), b.id()]);
}

/// PostgreSQL refuses the NUL character in text: that event is reported, the rest of its batch
/// is stored.
#[test]
fn an_event_postgres_refuses_fails_alone_not_its_batch() {
    let db = TestDb::new();
    let (emitter, failed) = instance(&db.url);
    let user = Uuid::new_v4();
    let mut good = Vec::new();
    let mut bad = None;
    for n in 0..20 {
        if n == 7 {
            let event = Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .description("a\0b")
                .build()
                .unwrap();
            bad = Some(emitter.emit(event).unwrap().id());
        } else {
            good.push(emitter.emit(event(user, n)).unwrap().id());
        }
    }
    emitter.flush().unwrap();
    assert_eq!(db.ids_of(user), good);
    assert_eq!(*failed.lock().unwrap(), [bad.unwrap()]);
}

/// The sync client cannot run on an async executor's thread; the store moves such calls off
/// it, so even inline writes from an async handler work.
#[test]
fn the_store_works_from_an_async_executor_thread_even_with_inline_writes() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    let emitter = Emitter::builder().store(store).inline_writes().build();
    let user = Uuid::new_v4();
    let live = emitter.subscribe(user);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emitted = runtime.block_on({
        let emitter = emitter.clone();
        async move {
            let emitted = emitter.emit_async(event(user, 1)).await.unwrap();
            let page = emitter
                .store()
                .unwrap()
                .query(&EventQuery::new().user(user))
                .unwrap();
            assert_eq!(page.total, 1);
            emitted
        }
    });
    assert_eq!(live.recv_timeout(WAIT).unwrap().id(), emitted.id());
}

/// Closing a connection runs the sync client's own runtime: an emitter dropped on an async
/// executor's thread (at the end of an async `main`) must close its store without a panic.
#[test]
fn an_emitter_dropped_inside_an_async_runtime_closes_its_store_cleanly() {
    let db = TestDb::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = db.url.clone();
    runtime.block_on(async move {
        let (emitter, _) = instance(&url);
        emitter.emit(event(Uuid::new_v4(), 1)).unwrap();
        drop(emitter);
    });
    assert_eq!(db.count(), 1, "stored before the store closed");
}

/// Retention runs on one instance at a time: while another holds the pruning lock, `prune`
/// skips.
#[test]
fn retention_prunes_on_one_instance_at_a_time() {
    let db = TestDb::new();
    let retention = Retention {
        max_per_user: Some(2),
        ..Retention::default()
    };
    let store = PgStore::connect(&db.url).unwrap().with_retention(retention);
    let user = Uuid::new_v4();
    for n in 0..5 {
        store.insert(&Arc::new(event(user, n))).unwrap();
    }
    let mut other = db.client();
    other
        .execute("SELECT pg_advisory_lock($1)", &[&PgStore::__RETENTION_LOCK])
        .unwrap();
    assert_eq!(store.prune().unwrap(), 0, "another instance is pruning");
    other
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&PgStore::__RETENTION_LOCK],
        )
        .unwrap();
    assert_eq!(store.prune().unwrap(), 3);
    assert_eq!(db.count(), 2);
}

// ---- A bad day (issue #29) ----

/// How many events with these ids are stored, each counted.
fn stored_count(db: &TestDb, ids: &[Uuid]) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM tidings_events WHERE id = ANY($1)",
            &[&ids],
        )
        .unwrap()
        .get(0)
}

/// Where a paused instance's writer is held.
#[derive(Clone, Copy)]
enum Pause {
    /// After its insert, holding the order lock, before `NOTIFY` and `COMMIT`.
    HoldingTheLock,
    /// In its transaction, before it sends its batch's statement.
    SendingItsBatch,
    /// In the middle of a large batch's `COPY` into the staging table.
    InTheMiddleOfItsCopy,
}

/// An instance whose writer is paused at `pause` (held in the test door, as a VM pause or SIGSTOP
/// would hold it) while another stores 20 events: they must be stored while it is still paused,
/// and its own batch, once it resumes, stored once; neither reports a failure.
fn a_paused_instance_holds_up_no_other(pause: Pause) {
    let db = TestDb::new();
    let paused_store = PgStore::connect(&db.url)
        .unwrap()
        .with_write_timeout(Duration::from_secs(4));
    let hold = match pause {
        Pause::HoldingTheLock => paused_store.__hold_next_commit(),
        Pause::SendingItsBatch => paused_store.__hold_next_send(),
        Pause::InTheMiddleOfItsCopy => paused_store.__hold_next_copy(),
    };
    let (paused, paused_failed) = instance_with(paused_store);
    let (other, other_failed) = instance(&db.url);
    let user = Uuid::new_v4();
    // A large batch (emitted at once: the writer takes what is queued) is copied.
    let size = match pause {
        Pause::InTheMiddleOfItsCopy => 500,
        Pause::HoldingTheLock | Pause::SendingItsBatch => 1,
    };
    let first: Vec<Uuid> = (0..size)
        .map(|n| paused.emit(event(user, n)).unwrap().id())
        .collect();
    assert!(hold.wait_held(WAIT), "the paused instance is held");
    let others: Vec<Uuid> = (1000..1020)
        .map(|n| other.emit(event(user, n)).unwrap().id())
        .collect();
    // While the paused instance is still paused: the other's events are stored.
    let stored = eventually(Duration::from_secs(20), || {
        stored_count(&db, &others) == others.len() as i64
    });
    hold.release();
    assert!(
        stored,
        "the other instance stored nothing while the paused one was held"
    );
    other.flush().unwrap();
    paused.flush().unwrap();
    assert_eq!(
        stored_count(&db, &first),
        first.len() as i64,
        "stored once after the pause"
    );
    assert!(paused_failed.lock().unwrap().is_empty());
    assert!(other_failed.lock().unwrap().is_empty());
}

/// Paused while its batch holds the order lock: the server ends its idle transaction at its
/// session's bound (half its write timeout), and the paused instance, resumed, stores its batch
/// on a new connection.
#[test]
fn an_instance_paused_holding_the_order_lock_holds_up_the_others_only_for_its_bound() {
    a_paused_instance_holds_up_no_other(Pause::HoldingTheLock);
}

/// Paused while it sends its batch (the server waiting for the rest of it: with the lock taken
/// before, as it was with `COPY`, neither a statement nor an idle-transaction timeout ended that
/// wait, and the kernel answers keepalives).
#[test]
fn an_instance_paused_while_sending_its_batch_holds_up_no_other() {
    a_paused_instance_holds_up_no_other(Pause::SendingItsBatch);
}

/// Paused in the middle of a large batch's `COPY` into the writer's staging table, before the
/// lock is taken.
#[test]
fn an_instance_paused_in_the_middle_of_a_large_batchs_copy_holds_up_no_other() {
    a_paused_instance_holds_up_no_other(Pause::InTheMiddleOfItsCopy);
}

/// The pool's connections are taken again without a round trip to check them when they were
/// given back a moment ago: one that the server ended meanwhile (a restart, an administrator's
/// `pg_terminate_backend`) is replaced and the query run on the new one, not failed.
#[test]
fn a_pooled_connection_ended_by_the_server_is_replaced_not_failed() {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).unwrap();
    let user = Uuid::new_v4();
    let query = EventQuery::new().user(user);
    for _ in 0..3 {
        store.query(&query).unwrap();
        assert!(db.terminate("tidings") >= 1, "the pool had a connection");
        let page = store
            .query(&query)
            .expect("the query runs on a new connection");
        assert_eq!(page.total, 0);
        store
            .set_status_many(&[Uuid::new_v4()], Status::Read)
            .expect("a change runs on a new connection");
    }
}

/// The server goes read only during a burst (as a demoted primary does, SQLSTATE 25006): the
/// writer retries on new connections instead of reporting, and once the database takes writes
/// again every event is stored once.
#[test]
fn a_read_only_switch_during_a_burst_is_retried_not_reported() {
    let db = TestDb::new();
    let (events, failed) = instance_with(
        PgStore::connect(&db.url)
            .unwrap()
            .with_write_timeout(Duration::from_secs(30)),
    );
    let user = Uuid::new_v4();
    let mut emitted = vec![events.emit(event(user, 0)).unwrap().id()];
    events.flush().unwrap();
    let mut admin = db.client();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            db.name
        ))
        .unwrap();
    let rollbacks = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_one(
                "SELECT xact_rollback FROM pg_stat_database WHERE datname = $1",
                &[&db.name],
            )
            .unwrap()
            .get(0)
    };
    let before = rollbacks(&mut admin);
    // The store's connections open again, read only now.
    assert!(
        db.terminate("tidings-writer") + db.terminate("tidings") >= 1,
        "the store reconnects"
    );
    for n in 1..=200 {
        emitted.push(events.emit(event(user, n)).unwrap().id());
    }
    // A batch failed on a read-only connection (its transaction rolled back).
    assert!(
        eventually(WAIT, || rollbacks(&mut admin) > before),
        "a write was tried on a read-only connection"
    );
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} RESET default_transaction_read_only",
            db.name
        ))
        .unwrap();
    events.flush().unwrap();
    assert!(
        failed.lock().unwrap().is_empty(),
        "no event was reported: {} failed",
        failed.lock().unwrap().len()
    );
    assert_eq!(stored_count(&db, &emitted), emitted.len() as i64);
}

/// The listener's connection is killed and stays down while a client creates an event over the
/// API: the answer is 201 as soon as the event is stored (not a 500 after waiting for the
/// listener), the readiness route says 503 meanwhile and 200 once the listener is back, and the
/// event is stored and delivered once.
#[test]
fn post_answers_201_once_stored_while_the_listener_is_down() {
    let db = TestDb::new();
    let store = Arc::new(PgStore::connect(&db.url).unwrap());
    let events = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(api::start(events.clone(), tidings::web::Options::default()));
    let ready = || {
        runtime.block_on(async {
            server
                .client
                .get(format!("{}/health", server.origin))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert!(
        eventually(WAIT, || ready() == 200),
        "ready once the listener is connected"
    );
    let user = Uuid::new_v4();
    let subscription = events.subscribe(user);

    let hold = store.__hold_listener_reconnect();
    // Released when the test ends, also when it fails: the listener must not wait forever.
    struct OnDrop<F: FnMut()>(F);
    impl<F: FnMut()> Drop for OnDrop<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let _release = OnDrop(|| hold.release());
    assert!(
        db.terminate("tidings-listener") >= 1,
        "the listener's connection is killed"
    );
    assert!(
        eventually(WAIT, || ready() == 503),
        "not ready while the listener is down"
    );

    let (status, body) = runtime.block_on(async {
        let created = server
            .send(
                reqwest::Method::POST,
                user,
                "",
                serde_json::json!({"category": "connection", "action": "ping", "severity": "success"}),
            )
            .send()
            .await
            .unwrap();
        let status = created.status().as_u16();
        (status, created.text().await.unwrap())
    });
    assert_eq!(status, 201, "stored, so created: {body}");
    let id: Uuid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ready(), 503, "the listener is still held down");

    hold.release();
    assert!(
        eventually(WAIT, || ready() == 200),
        "ready again once the listener is back"
    );
    assert_eq!(
        ids(&receive(&subscription, 1)),
        [id],
        "delivered once the listener caught up"
    );
    assert_eq!(stored_count(&db, &[id]), 1, "stored once");
    drop(events);
}

/// A mark or a delete on one instance reaches the subscriptions of the user on another as a
/// change of counts (the notices sent after the change), and one of users not known (an
/// operator's bulk by ids) reaches every user's.
#[test]
fn counts_changed_on_one_instance_reach_the_subscriptions_on_another() {
    let db = TestDb::new();
    let (a, _) = instance(&db.url);
    let (b, _) = instance(&db.url);
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let hers: Vec<Uuid> = (0..3)
        .map(|n| a.emit(event(alice, n)).unwrap().id())
        .collect();
    let his = a.emit(event(bob, 9)).unwrap().id();
    a.flush().unwrap();
    let (alice_on_b, bob_on_b) = (b.subscribe(alice), b.subscribe(bob));
    let store = a.store().unwrap();
    let changes = |expected: (bool, bool), what: &str| {
        assert!(
            eventually(WAIT, || {
                let (alice, bob) = (alice_on_b.counts_changed(), bob_on_b.counts_changed());
                (alice || !expected.0) && (bob || !expected.1) && (alice || bob)
            }),
            "{what}: the counts change reached the other instance"
        );
    };
    let marked = store
        .set_status_matching(&EventQuery::new().user(alice), Status::Read)
        .unwrap();
    assert_eq!(marked, 3);
    changes((true, false), "alice's marked");
    assert!(!bob_on_b.counts_changed(), "not bob's");
    store
        .delete_matching(&EventQuery::new().user(alice).ids(vec![hers[0]]))
        .unwrap();
    changes((true, false), "one of alice's deleted");
    // By ids, users not known: everyone's counts.
    store.set_status_many(&[his], Status::Read).unwrap();
    assert!(eventually(WAIT, || bob_on_b.counts_changed()), "bob's");
    assert!(
        eventually(WAIT, || alice_on_b.counts_changed()),
        "alice's too"
    );
    drop((a, b));
}

/// `PUT /status/{id}` on PostgreSQL: the mark and the read back go together (one round trip);
/// the answer is the event as marked, and another user's event is not found and not marked.
#[test]
fn marking_one_event_answers_it_as_marked_and_only_for_its_user() {
    let db = TestDb::new();
    let events = Emitter::builder()
        .store(PgStore::connect(&db.url).unwrap())
        .build();
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let hers = events.emit(event(alice, 1)).unwrap().id();
    events.flush().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mine, theirs, list) = runtime.block_on(async {
        let server = api::start(events.clone(), tidings::web::Options::default()).await;
        let mark = |user| {
            server
                .send(
                    reqwest::Method::PUT,
                    user,
                    &format!("/status/{hers}"),
                    serde_json::json!({"status": "read"}),
                )
                .send()
        };
        let theirs = mark(bob).await.unwrap().status().as_u16();
        let mine = mark(alice).await.unwrap();
        let mine = (
            mine.status().as_u16(),
            mine.json::<serde_json::Value>().await.unwrap(),
        );
        let list: serde_json::Value = server
            .get(alice, "?pagesize=15")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (mine, theirs, list)
    });
    assert_eq!(theirs, 404, "another user's event");
    assert_eq!(mine.0, 200);
    assert_eq!(mine.1["id"], hers.to_string());
    assert_eq!(mine.1["status"], "read", "answered as marked: {}", mine.1);
    assert_eq!(list["readCount"], 1);
    assert_eq!(list["totalCount"], 1);
    drop(events);
}

/// The events API's store calls are awaited on the runtime (the store's queries run on async
/// clients): not one moves to a thread of its own (before issue #29, each list, mark and delete
/// did).
#[test]
fn the_events_api_starts_no_thread_per_store_call() {
    let db = TestDb::new();
    let store = Arc::new(PgStore::connect(&db.url).unwrap());
    let events = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    let user = Uuid::new_v4();
    let stored: Vec<Uuid> = (0..20)
        .map(|n| events.emit(event(user, n)).unwrap().id())
        .collect();
    events.flush().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spawned_before = store.__threads_spawned();
    let answers: Vec<u16> = runtime.block_on(async {
        let server = api::start(events.clone(), tidings::web::Options::default()).await;
        let mut answers = Vec::new();
        for id in &stored {
            let list = server.get(user, "?pagesize=15").send().await.unwrap();
            answers.push(list.status().as_u16());
            let marked = server
                .send(
                    reqwest::Method::PUT,
                    user,
                    &format!("/status/{id}"),
                    serde_json::json!({"status": "read"}),
                )
                .send()
                .await
                .unwrap();
            answers.push(marked.status().as_u16());
        }
        let types = server.get(user, "/types").send().await.unwrap();
        answers.push(types.status().as_u16());
        answers
    });
    assert!(answers.iter().all(|&status| status == 200), "{answers:?}");
    assert_eq!(
        store.__threads_spawned() - spawned_before,
        0,
        "store calls moved to threads of their own"
    );
    drop(runtime);
}

/// One store, served by one runtime after another (as `#[tokio::test]`s that share a store
/// do): the connections the first runtime drove end with it, and the next runtime's requests,
/// and a sync call made outside any runtime, get new ones instead of failing.
#[test]
fn a_store_outlives_the_runtime_that_drove_its_connections() {
    let db = TestDb::new();
    let store = Arc::new(PgStore::connect(&db.url).unwrap());
    let events = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    let user = Uuid::new_v4();
    let id = events.emit(event(user, 0)).unwrap().id();
    events.flush().unwrap();
    let list = |events: &Emitter| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let answer = runtime.block_on(async {
            let server = api::start(events.clone(), tidings::web::Options::default()).await;
            // Several at once: the pool opens more than one connection on this runtime.
            let calls: Vec<_> = (0..4)
                .map(|_| tokio::spawn(server.get(user, "?pagesize=15").send()))
                .collect();
            let mut ids = Vec::new();
            for call in calls {
                let answer = call.await.unwrap().unwrap();
                assert_eq!(answer.status(), 200);
                let page: serde_json::Value = answer.json().await.unwrap();
                ids.push(page["events"][0]["id"].as_str().unwrap().to_owned());
            }
            ids
        });
        drop(runtime);
        answer
    };
    assert_eq!(list(&events), vec![id.to_string(); 4]);
    assert_eq!(list(&events), vec![id.to_string(); 4], "a second runtime");
    assert_eq!(
        store.get(id).unwrap().map(|e| e.id()),
        Some(id),
        "a sync call"
    );
}

/// A failover to a standby that had not received the newest rows, as the new primary sees it:
/// those rows are gone and the `seq` sequence hands out their values again. The listener, on
/// its reconnect, goes back to what the sequence handed out: the new events are delivered (not
/// skipped as already published), and every subscription is told the history changed (a live
/// stream sends `reload`).
#[test]
fn a_history_that_went_back_is_delivered_and_streams_are_told_to_reload() {
    let db = TestDb::new();
    let (events, failed) = instance_with(
        PgStore::connect(&db.url)
            .unwrap()
            .with_poll_interval(Duration::from_millis(100)),
    );
    let user = Uuid::new_v4();
    let subscription = events.subscribe(user);
    let before: Vec<Uuid> = (0..5)
        .map(|n| events.emit(event(user, n)).unwrap().id())
        .collect();
    events.flush().unwrap();
    assert_eq!(ids(&receive(&subscription, 5)), before);
    assert!(!subscription.history_changed());
    // The failover: the last three rows lost, the sequence behind what was published.
    db.client()
        .batch_execute(
            "BEGIN; \
             DELETE FROM tidings_events WHERE seq > 2; \
             ALTER TABLE tidings_events ALTER COLUMN seq RESTART WITH 3; \
             COMMIT;",
        )
        .unwrap();
    assert!(
        db.terminate("tidings-listener") >= 1,
        "the listener reconnects"
    );
    let after: Vec<Uuid> = (5..8)
        .map(|n| events.emit(event(user, n)).unwrap().id())
        .collect();
    events.flush().unwrap();
    assert_eq!(
        ids(&receive(&subscription, 3)),
        after,
        "the events stored after the failover are delivered"
    );
    assert!(
        subscription.history_changed(),
        "and the history change is told"
    );
    assert!(!subscription.history_changed(), "once");
    assert!(failed.lock().unwrap().is_empty());
}

/// A failover under load, on a throwaway primary with a streaming standby: the standby misses
/// the primary's newest rows (it is down while they are written), the primary is lost, and the
/// standby is promoted. The instance reaches the new primary through a two-host connection
/// string: every event emitted after the failover is stored and delivered, none is reported,
/// and the subscription is told the history changed (a live stream sends `reload`), since what
/// it received last is gone.
#[test]
fn a_failover_that_lost_the_newest_rows_delivers_every_new_event_and_tells_streams_to_reload() {
    let primary = Cluster::start();
    let db = TestDb::on(&primary.server());
    drop(PgStore::connect(&db.url).unwrap()); // the schema, before the base backup
    let standby = primary.standby();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{}?target_session_attrs=read-write",
        primary.port, standby.port, db.name
    );
    let (events, failed) = instance_with(
        PgStore::connect(&url)
            .unwrap()
            .with_write_timeout(Duration::from_secs(60))
            .with_poll_interval(Duration::from_millis(100)),
    );
    let user = Uuid::new_v4();
    let subscription = events.subscribe(user);
    let replicated: Vec<Uuid> = (0..100)
        .map(|n| events.emit(event(user, n)).unwrap().id())
        .collect();
    events.flush().unwrap();
    assert_eq!(ids(&receive(&subscription, 100)), replicated);
    // Replication is asynchronous: the standby is stopped once it has these rows.
    let on_the_standby = format!("{}/{}", standby.server(), db.name);
    assert!(
        eventually(WAIT, || {
            postgres::Client::connect(&on_the_standby, postgres::NoTls)
                .and_then(|mut standby| {
                    standby.query_one(
                        "SELECT count(*) FROM tidings_events WHERE user_id = $1",
                        &[&user],
                    )
                })
                .is_ok_and(|row| row.get::<_, i64>(0) == 100)
        }),
        "the standby received the first rows"
    );
    // The standby is away while the primary takes its newest rows: they never reach it.
    standby.stop();
    let lost: Vec<Uuid> = (100..150)
        .map(|n| events.emit(event(user, n)).unwrap().id())
        .collect();
    events.flush().unwrap();
    assert_eq!(ids(&receive(&subscription, 50)), lost);
    // The primary is lost; the standby comes back and is promoted, while events are emitted.
    primary.stop();
    standby.start_again();
    let after: Vec<Uuid> = thread::scope(|scope| {
        let emitting = scope.spawn(|| {
            (150..250)
                .map(|n| events.emit(event(user, n)).unwrap().id())
                .collect::<Vec<_>>()
        });
        standby.promote();
        emitting.join().unwrap()
    });
    events.flush().unwrap();
    assert!(
        failed.lock().unwrap().is_empty(),
        "{} events reported",
        failed.lock().unwrap().len()
    );
    let mut on_the_new_primary = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let stored: Vec<Uuid> = on_the_new_primary
        .query(
            "SELECT id FROM tidings_events WHERE user_id = $1 ORDER BY seq",
            &[&user],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<Uuid> = replicated.iter().chain(&after).copied().collect();
    assert_same(
        &stored,
        &expected,
        "the new primary has the replicated rows and the new ones",
    );
    assert_same(
        &ids(&receive(&subscription, after.len())),
        &after,
        "every event stored after the failover is delivered, once, in order",
    );
    assert!(
        subscription.history_changed(),
        "the stream is told to reload"
    );
    drop(events);
}

/// An instance paused longer than its write timeout while its batch held the order lock: the
/// server ended that session meanwhile; resumed, the writer tries once more on a new connection
/// before reporting anything, and the batch is stored once.
#[test]
fn a_batch_paused_past_its_write_timeout_is_tried_again_once_resumed() {
    let db = TestDb::new();
    let write_timeout = Duration::from_secs(2);
    let store = PgStore::connect(&db.url)
        .unwrap()
        .with_write_timeout(write_timeout);
    let hold = store.__hold_next_commit();
    let (paused, failed) = instance_with(store);
    let user = Uuid::new_v4();
    let started = std::time::Instant::now();
    let held = paused.emit(event(user, 0)).unwrap().id();
    assert!(hold.wait_held(WAIT));
    // The server ends the idle transaction (its bound is half the write timeout)...
    assert!(
        eventually(WAIT, || {
            db.client()
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                     AND application_name = 'tidings-writer'",
                    &[&db.name],
                )
                .map(|row| row.get::<_, i64>(0) == 0)
                .unwrap_or(false)
        }),
        "the paused writer's session was ended by the server"
    );
    // ...and the pause outlasts the write timeout.
    assert!(eventually(WAIT, || started.elapsed()
        > write_timeout + Duration::from_millis(500)));
    hold.release();
    paused.flush().unwrap();
    assert!(
        failed.lock().unwrap().is_empty(),
        "the held batch was reported"
    );
    assert_eq!(stored_count(&db, &[held]), 1);
}

/// Sixteen slow request queries hold every connection of the pool (8) and queue the rest: the
/// writer, on its own connection, stores a burst meanwhile, none reported.
#[test]
fn slow_request_queries_filling_the_pool_do_not_hold_up_the_writer() {
    let db = TestDb::new();
    let store = Arc::new(PgStore::connect(&db.url).unwrap());
    let (events, failed) = {
        let failed = Arc::new(Mutex::new(Vec::new()));
        let hook = Arc::clone(&failed);
        let events = Emitter::builder()
            .shared_store(Arc::clone(&store) as _)
            .on_failure(move |failure: &DeliveryFailure| {
                hook.lock().unwrap().push(failure.event.id())
            })
            .build();
        (events, failed)
    };
    let user = Uuid::new_v4();
    thread::scope(|scope| {
        let slow: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| store.__run_on_pool("SELECT pg_sleep(10)")))
            .collect();
        // Every pool connection is taken by a slow query.
        assert!(
            eventually(WAIT, || {
                db.client()
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                         AND query = 'SELECT pg_sleep(10)' AND state = 'active'",
                        &[&db.name],
                    )
                    .map(|row| row.get::<_, i64>(0) == 8)
                    .unwrap_or(false)
            }),
            "eight slow queries hold the pool"
        );
        let burst: Vec<Uuid> = (0..500)
            .map(|n| events.emit(event(user, n)).unwrap().id())
            .collect();
        // Stored while the slow queries still run.
        assert!(
            eventually(Duration::from_secs(5), || stored_count(&db, &burst) == 500),
            "the burst was held up behind the request queries"
        );
        assert!(
            slow.iter().any(|query| !query.is_finished()),
            "the slow queries still run"
        );
        for query in slow {
            let _ = query.join().unwrap();
        }
    });
    events.flush().unwrap();
    assert!(failed.lock().unwrap().is_empty());
}
