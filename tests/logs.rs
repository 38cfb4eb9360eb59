//! The runtime's own log lines, through `tracing` (target `tidings`): a store outage is one
//! warning when it starts and one line when it ends, never a line per event; a failure hook
//! that panics is an error.

mod common;

use std::sync::{Arc, Mutex};

use common::{StoreCall, WatchedStore};
use tidings::{Emitter, Event, StoreError};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// The `tidings` lines: level and message.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "tidings" {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
}

impl Lines {
    fn at(&self, level: Level, containing: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, m)| *l == level && m.contains(containing))
            .count()
    }
}

fn event(category: &'static str) -> Event {
    Event::builder()
        .category(category)
        .action("deploy")
        .build()
        .unwrap()
}

#[test]
fn a_store_outage_is_logged_once_when_it_starts_and_once_when_it_ends() {
    let lines = Lines::default();
    // The writer logs on its own thread: the subscriber is the process's.
    tracing::subscriber::set_global_default(Registry::default().with(lines.clone())).unwrap();

    let store = WatchedStore::new(|call| match call {
        StoreCall::Insert(event) if event.category().as_str() == "down" => {
            Err(StoreError::Backend("disk full".into()))
        }
        _ => Ok(()),
    })
    .in_background();
    let events = Emitter::builder().store(store).build();
    for (down, up) in [(20, 3), (7, 1)] {
        for _ in 0..down {
            events.emit(event("down")).unwrap();
        }
        events.flush().unwrap();
        for _ in 0..up {
            events.emit(event("up")).unwrap();
        }
        events.flush().unwrap();
    }
    assert_eq!(events.failures(), 27);
    assert_eq!(
        lines.at(Level::WARN, "the event store is failing"),
        2,
        "one warning per outage, not per event"
    );
    assert_eq!(lines.at(Level::INFO, "after 20 events failed"), 1);
    assert_eq!(lines.at(Level::INFO, "after 7 events failed"), 1);

    // A failure hook that panics is an error line (and delivery goes on).
    let panicking = Emitter::builder()
        .store(WatchedStore::new(|_| {
            Err(StoreError::Backend("refused".into()))
        }))
        .inline_writes()
        .on_failure(|_| panic!("a bug in the hook"))
        .build();
    assert!(panicking.emit(event("down")).is_err());
    assert_eq!(lines.at(Level::ERROR, "the failure hook panicked"), 1);
}
