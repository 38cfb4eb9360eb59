//! A slow store does not stall the async executor: the events API runs store work off the
//! executor's threads, and an async `#[emits_event]` function waits for room in a full
//! background-writer queue without blocking its thread. Each test holds the store's calls on a
//! latch, on a server runtime with 2 worker threads, and checks the order of what happens.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[path = "../../common/mod.rs"]
mod common;

use common::{Latch, OpensOnDrop, StoreCall, WatchedStore};
use tidings::{Emitter, Event, EventQuery, EventStore, Uuid, emits_event};

/// A multi-thread runtime with 2 workers, as a small server has.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn four_slow_queries_leave_live_streams_and_cheap_requests_running() {
    let latch = Arc::new(Latch::default());
    let holds = Arc::clone(&latch);
    let store = Arc::new(WatchedStore::new(move |call| {
        if let StoreCall::Query = call {
            holds.hold();
        }
        Ok(())
    }));
    let events = Emitter::builder()
        .shared_store(store.clone())
        .inline_writes()
        .build();
    let server = server_runtime();
    let _release = OpensOnDrop(Arc::clone(&latch));
    let app = axum::Router::new()
        .route("/cheap", axum::routing::get(|| async { "cheap" }))
        .nest_service(
            "/api/events",
            tidings::web::router(events.clone(), |parts| {
                Uuid::parse_str(parts.headers.get("x-user-id")?.to_str().ok()?).ok()
            }),
        );
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    server.spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The client runs on a runtime of its own, so that only the server's threads are at stake.
    let client_runtime = tokio::runtime::Runtime::new().unwrap();
    client_runtime.block_on(async {
        let client = reqwest::Client::new();
        let user = Uuid::new_v4();
        let mut stream = client
            .get(format!("{base}/api/events/subscribe"))
            .header("x-user-id", user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);

        let slow: Vec<_> = (0..4)
            .map(|_| {
                let request = client
                    .get(format!("{base}/api/events"))
                    .header("x-user-id", user.to_string());
                tokio::spawn(async move { request.send().await.unwrap().status() })
            })
            .collect();
        let held = Arc::clone(&latch);
        tokio::task::spawn_blocking(move || held.wait_until_held(4, "list requests"))
            .await
            .unwrap();

        // 1. While the four are held: an event published now reaches the live stream.
        let event = Arc::new(
            Event::builder()
                .from_user(user)
                .category("connection")
                .action("ping")
                .build()
                .unwrap(),
        );
        assert_eq!(events.broadcaster().publish(&event), 1);
        let mut received = String::new();
        while !received.contains(&event.id().to_string()) {
            let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
                .await
                .expect("the live stream stalled while slow queries ran")
                .unwrap()
                .expect("the stream is open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        // 2. A cheap request answers.
        let cheap = tokio::time::timeout(
            Duration::from_secs(30),
            client.get(format!("{base}/cheap")).send(),
        )
        .await
        .expect("a cheap request stalled while slow queries ran")
        .unwrap();
        assert_eq!(cheap.text().await.unwrap(), "cheap");
        // 3. The four were still held through all of this.
        assert!(slow.iter().all(|request| !request.is_finished()));
        // 4. The latch opens and the four complete.
        latch.open();
        for request in slow {
            assert_eq!(request.await.unwrap(), 200);
        }
    });
    events.close_streams();
}

/// Counts the bodies that ran.
#[derive(Default)]
struct Bodies {
    ran: Mutex<usize>,
    changed: Condvar,
}

impl Bodies {
    fn ran(&self) {
        *self.ran.lock().unwrap() += 1;
        self.changed.notify_all();
    }

    fn wait_until(&self, n: usize) {
        let ran = self.ran.lock().unwrap();
        let (ran, timeout) = self
            .changed
            .wait_timeout_while(ran, Duration::from_secs(60), |ran| *ran < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "only {} of {n} bodies ran: callers waiting for room hold the executor's threads",
            *ran
        );
    }
}

#[emits_event(category = "pattern", action = "deploy", emitter = events)]
async fn deploy(events: &Emitter, bodies: &Bodies) -> Result<(), std::io::Error> {
    bodies.ran();
    Ok(())
}

#[test]
fn async_functions_wait_for_room_in_a_full_queue_without_blocking_the_executor() {
    let latch = Arc::new(Latch::default());
    let (store, events) = held_writer(&latch);
    let server = server_runtime();
    let _release = OpensOnDrop(Arc::clone(&latch));
    let bodies = Arc::new(Bodies::default());
    // One fills the queue; five wait for room.
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (events, bodies) = (events.clone(), Arc::clone(&bodies));
            server.spawn(async move { deploy(&events, &bodies).await })
        })
        .collect();
    // Every body has run: its call is now queued or waiting for room.
    bodies.wait_until(6);
    let cheap = server.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), tokio::spawn(async { 6 * 7 }))
            .await
            .expect("a cheap task stalled while emitters waited for room")
            .unwrap()
    });
    assert_eq!(cheap, 42);
    let waiting = calls.iter().filter(|call| !call.is_finished()).count();
    assert!(waiting >= 5, "only {waiting} calls were waiting for room");
    latch.open();
    server.block_on(async {
        for call in calls {
            call.await.unwrap().unwrap();
        }
    });
    events.flush().unwrap();
    assert_eq!(store.query(&EventQuery::new()).unwrap().total, 7);
}

#[emits_event(category = "pattern", action = "deploy", emitter = events)]
fn deploy_sync(events: &Emitter, bodies: &Bodies) -> Result<(), std::io::Error> {
    bodies.ran();
    Ok(())
}

/// An event of the kind these tests emit.
fn event() -> Event {
    Event::builder()
        .category("pattern")
        .action("deploy")
        .build()
        .unwrap()
}

/// An emitter whose background writer (a queue of 1) is held inside the store on its first
/// event, and the store.
fn held_writer(latch: &Arc<Latch>) -> (Arc<WatchedStore>, Emitter) {
    let holds = Arc::clone(latch);
    let store = Arc::new(WatchedStore::new(move |call| {
        if let StoreCall::Insert(_) = call {
            holds.hold();
        }
        Ok(())
    }));
    let events = Emitter::builder()
        .shared_store(store.clone())
        .background_writer(1)
        .build();
    // The writer takes this one and is held inside the store.
    events.emit(event()).unwrap();
    latch.wait_until_held(1, "writes");
    (store, events)
}

/// [`held_writer`], its queue then filled by a second event.
fn full_queue(latch: &Arc<Latch>) -> (Arc<WatchedStore>, Emitter) {
    let (store, events) = held_writer(latch);
    events.emit(event()).unwrap();
    (store, events)
}

/// A sync annotated function called from async code on a multi-threaded runtime, while the
/// queue is full, gives its worker up while it waits: with both workers in such calls, other
/// tasks still run.
#[test]
fn sync_functions_waiting_for_room_give_their_worker_up() {
    let latch = Arc::new(Latch::default());
    let server = server_runtime();
    // Dropped before the runtime: a failing test opens the latch, and the runtime can stop.
    let _release = OpensOnDrop(Arc::clone(&latch));
    let (store, events) = full_queue(&latch);
    let bodies = Arc::new(Bodies::default());
    // As many waiting calls as the runtime has workers.
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (events, bodies) = (events.clone(), Arc::clone(&bodies));
            server.spawn(async move { deploy_sync(&events, &bodies) })
        })
        .collect();
    bodies.wait_until(2);
    // A cheap task, seen from a thread outside the runtime (bounded: 30 s).
    let (done, cheap) = std::sync::mpsc::channel();
    server.spawn(async move { done.send(6 * 7).unwrap() });
    assert_eq!(
        cheap.recv_timeout(Duration::from_secs(30)),
        Ok(42),
        "a cheap task stalled while sync calls waited for room on every worker"
    );
    assert!(
        calls.iter().all(|call| !call.is_finished()),
        "the calls were waiting for room"
    );
    latch.open();
    server.block_on(async {
        for call in calls {
            call.await.unwrap().unwrap();
        }
    });
    events.flush().unwrap();
    assert_eq!(store.query(&EventQuery::new()).unwrap().total, 4);
}

/// An `emit_async` (and an annotated async function's hand-over) dropped while it waits for
/// room, as a timeout or a client that went away drops it: its event is delivered all the same.
#[test]
fn an_emitting_future_dropped_while_waiting_for_room_still_delivers() {
    let latch = Arc::new(Latch::default());
    let _release = OpensOnDrop(Arc::clone(&latch));
    let (store, events) = full_queue(&latch);
    let dropped = Event::builder()
        .category("pattern")
        .action("dropped")
        .build()
        .unwrap();
    let pending = futures_util::FutureExt::now_or_never(events.emit_async(dropped));
    assert!(
        pending.is_none(),
        "the queue is full: it waits, and is dropped"
    );
    let bodies = Bodies::default();
    let cancelled = futures_util::FutureExt::now_or_never(deploy(&events, &bodies));
    assert!(
        cancelled.is_none(),
        "the body ran, its hand-over waits, and is dropped"
    );
    latch.open();
    events.flush().unwrap();
    let stored = store.query(&EventQuery::new()).unwrap();
    assert_eq!(
        stored.total, 4,
        "two emitted, one dropped emit_async, one dropped call"
    );
    assert!(
        stored
            .events
            .iter()
            .any(|event| event.action().as_str() == "dropped")
    );
    assert_eq!(events.failures(), 0);
}
