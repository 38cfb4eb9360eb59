//! The attribute's `coalesce` and `emit_on = "change"`, as a user would use them: repeats
//! folded into one notification that live subscribers get as an update, and only the changes of
//! a health check's state stored.

use std::sync::Arc;

use tidings::{Emitter, EventQuery, EventStore, MemoryStore, Repeat, Severity, Uuid, emits_event};

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cluster does not answer")
    }
}

impl std::error::Error for Down {}

#[emits_event(category = "connection", action = "retry", user = user, acted_upon = connection,
    coalesce = "10m", error_description = "Could not reach {connection}")]
fn retry(user: Uuid, connection: Uuid, attempt: u32) -> Result<(), Down> {
    let _ = attempt;
    Err(Down)
}

#[emits_event(category = "cluster", action = "probe", user = user, acted_upon = cluster,
    emit_on = "change")]
fn probe(user: Uuid, cluster: Uuid, up: bool) -> Result<(), Down> {
    if up { Ok(()) } else { Err(Down) }
}

fn emitter() -> (Emitter, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let emitter = Emitter::builder()
        .shared_store(Arc::clone(&store) as Arc<dyn EventStore>)
        .inline_writes()
        .build();
    (emitter, store)
}

#[test]
fn repeats_within_the_window_are_one_event_with_a_count_sent_live_as_an_update() {
    let (emitter, store) = emitter();
    let (user, connection) = (Uuid::new_v4(), Uuid::new_v4());
    let live = emitter.subscribe(user);
    tidings::with_default(&emitter, || {
        for attempt in 0..12 {
            assert!(retry(user, connection, attempt).is_err());
        }
    });
    let page = store.query(&EventQuery::new().user(user)).unwrap();
    assert_eq!(page.total, 1, "twelve repeats, one notification");
    let event = &page.events[0];
    assert_eq!(event.count(), 12);
    assert_eq!(event.severity(), Severity::Error);
    assert_eq!(event.description(), format!("Could not reach {connection}"));
    // The first live, then each fold as an update of the same event.
    let received = live.drain();
    assert_eq!(received.len(), 12);
    assert!(received.iter().all(|e| e.id() == event.id()));
    let counts: Vec<u32> = received.iter().map(|e| e.count()).collect();
    assert_eq!(counts, (1..=12).collect::<Vec<_>>());
    // Another connection is a notification of its own.
    tidings::with_default(&emitter, || {
        let _ = retry(user, Uuid::new_v4(), 0);
    });
    assert_eq!(store.query(&EventQuery::new().user(user)).unwrap().total, 2);
}

#[test]
fn a_probe_that_fails_every_time_says_so_once_and_once_more_when_it_recovers() {
    let (emitter, store) = emitter();
    let (user, cluster) = (Uuid::new_v4(), Uuid::new_v4());
    let live = emitter.subscribe(user);
    tidings::with_default(&emitter, || {
        for up in [false, false, false, true, true, false, false] {
            let _ = probe(user, cluster, up);
        }
    });
    let stored: Vec<Severity> = store
        .query(&EventQuery::new().user(user).order(tidings::Order::Asc))
        .unwrap()
        .events
        .iter()
        .map(tidings::Event::severity)
        .collect();
    assert_eq!(
        stored,
        [Severity::Error, Severity::Success, Severity::Error]
    );
    assert_eq!(live.drain().len(), 3, "only changes reach live subscribers");
}

#[test]
fn the_builder_says_the_same() {
    let event = tidings::Event::builder()
        .category("connection")
        .action("retry")
        .coalesce(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(
        event.repeat(),
        Repeat::Coalesce(std::time::Duration::from_secs(60))
    );
    let (emitter, store) = emitter();
    emitter.emit(event.clone()).unwrap();
    let again = tidings::Event::builder()
        .category("connection")
        .action("retry")
        .coalesce(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    emitter.emit(again).unwrap();
    let stored = store.get(event.id()).unwrap().unwrap();
    assert_eq!(stored.count(), 2);
    assert_eq!(stored.repeat(), Repeat::Keep, "the rule is not stored");
}
