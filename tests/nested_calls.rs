//! Nested annotated calls: the events of one outer call share the outermost call's
//! `operationId`, in sync and async code and across `.await`; `nested = "skip"` makes an inner
//! function emit only when it is called on its own.

use std::sync::Arc;

use tidings::{Emitter, Event, EventQuery, EventStore, MemoryStore, Severity, emits_event};

#[derive(Debug)]
struct HandshakeFailed;

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cluster handshake failed")
    }
}

impl std::error::Error for HandshakeFailed {}

#[emits_event(category = "cluster", action = "handshake")]
fn handshake(ok: bool) -> Result<(), HandshakeFailed> {
    if ok { Ok(()) } else { Err(HandshakeFailed) }
}

#[emits_event(category = "cluster", action = "handshake", nested = "skip")]
fn quiet_handshake(ok: bool) -> Result<(), HandshakeFailed> {
    if ok { Ok(()) } else { Err(HandshakeFailed) }
}

#[emits_event(category = "cluster", action = "probe")]
async fn probe(ok: bool) -> Result<(), HandshakeFailed> {
    tokio::task::yield_now().await;
    handshake(ok)
}

#[emits_event(
    category = "connection",
    action = "connect",
    error_description = "Could not connect to cluster prod"
)]
fn connect(ok: bool) -> Result<(), HandshakeFailed> {
    handshake(true)?;
    handshake(ok)
}

#[emits_event(
    category = "connection",
    action = "connect",
    error_description = "Could not connect to cluster prod"
)]
fn connect_quietly(ok: bool) -> Result<(), HandshakeFailed> {
    quiet_handshake(ok)
}

#[emits_event(category = "connection", action = "connect")]
async fn connect_async(ok: bool) -> Result<(), HandshakeFailed> {
    tokio::task::yield_now().await;
    handshake(true)?;
    probe(true).await?;
    tokio::task::yield_now().await;
    probe(ok).await
}

#[emits_event(category = "connection", action = "connect", nested = "skip")]
async fn connect_async_quietly(ok: bool) -> Result<(), HandshakeFailed> {
    tokio::task::yield_now().await;
    quiet_handshake(ok)
}

fn recorded() -> (Emitter, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::unbounded());
    let emitter = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    (emitter, store)
}

fn events(store: &MemoryStore) -> Vec<Event> {
    let mut events = store
        .query(&EventQuery::new().order(tidings::Order::Asc))
        .unwrap()
        .events;
    events.sort_by_key(Event::created_at);
    events
}

#[test]
fn the_events_of_one_sync_call_share_the_outermost_calls_operation_id() {
    let (emitter, store) = recorded();
    tidings::with_default(&emitter, || {
        connect(false).unwrap_err();
        connect(true).unwrap();
    });
    let events = events(&store);
    let actions: Vec<&str> = events.iter().map(|e| e.action().as_str()).collect();
    // Inner events are emitted when the inner call returns, before the outer one.
    assert_eq!(
        actions,
        [
            "handshake",
            "handshake",
            "connect",
            "handshake",
            "handshake",
            "connect"
        ]
    );
    let (first, second) = events.split_at(3);
    for operation in [first, second] {
        let outer = operation[2].operation_id();
        for event in operation {
            assert_eq!(event.operation_id(), outer, "{event:?}");
        }
        let ids: std::collections::HashSet<_> = operation.iter().map(Event::id).collect();
        assert_eq!(ids.len(), 3, "each event keeps an id of its own");
    }
    assert_ne!(
        first[0].operation_id(),
        second[0].operation_id(),
        "two outer calls are two operations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_of_one_async_call_share_its_operation_id_across_awaits() {
    let (emitter, store) = recorded();
    // Polled by a task of a multi-threaded runtime: it may move between threads at each await.
    let polled = tidings::with_default_async(&emitter, connect_async(false));
    tokio::spawn(async move { polled.await.unwrap_err() })
        .await
        .unwrap();
    let events = events(&store);
    let actions: Vec<&str> = events.iter().map(|e| e.action().as_str()).collect();
    assert_eq!(
        actions,
        [
            "handshake",
            "handshake",
            "probe",
            "handshake",
            "probe",
            "connect"
        ]
    );
    let operation = events[5].operation_id();
    assert!(
        events.iter().all(|e| e.operation_id() == operation),
        "{events:#?}"
    );
    assert_eq!(events[5].severity(), Severity::Error);
}

#[test]
fn a_function_marked_nested_skip_emits_only_when_called_on_its_own() {
    let (emitter, store) = recorded();
    tidings::with_default(&emitter, || {
        connect_quietly(false).unwrap_err();
    });
    let events = events(&store);
    assert_eq!(
        events.len(),
        1,
        "one failed request, one notification: {events:#?}"
    );
    assert_eq!(events[0].action().as_str(), "connect");
    assert_eq!(events[0].description(), "Could not connect to cluster prod");
    assert_eq!(
        events[0].metadata()["err"]["message"],
        "cluster handshake failed"
    );
    assert_eq!(
        events[0].operation_id(),
        events[0].id(),
        "an operation of its own"
    );

    tidings::with_default(&emitter, || quiet_handshake(false).unwrap_err());
    let events = self::events(&store);
    assert_eq!(events.len(), 2, "on its own it emits");
    assert_eq!(events[1].action().as_str(), "handshake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_skip_in_async_code() {
    let (emitter, store) = recorded();
    tidings::with_default_async(&emitter, connect_async_quietly(false))
        .await
        .unwrap_err();
    let events = events(&store);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].action().as_str(), "connect");
}
