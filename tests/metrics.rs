//! The runtime's metrics through the `metrics` facade: with a recorder installed, emitting,
//! storing, failing, folding and unchanged states are counted, and the writer's batches are
//! measured.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{StoreCall, WatchedStore};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use tidings::{Emitter, Event, StoreError};

/// Every counter's total and how often each histogram and gauge were set, by name and labels.
#[derive(Default, Clone)]
struct Recorded(Arc<Mutex<HashMap<String, Arc<Value>>>>);

#[derive(Default)]
struct Value(AtomicU64);

impl CounterFn for Value {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl GaugeFn for Value {
    fn increment(&self, _: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn decrement(&self, _: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn set(&self, _: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl HistogramFn for Value {
    fn record(&self, _: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Recorded {
    fn value(&self, key: &Key) -> Arc<Value> {
        let mut name = key.name().to_owned();
        for label in key.labels() {
            name.push_str(&format!("{{{}={}}}", label.key(), label.value()));
        }
        Arc::clone(self.0.lock().unwrap().entry(name).or_default())
    }

    fn get(&self, name: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |value| value.0.load(Ordering::SeqCst))
    }
}

impl Recorder for Recorded {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.value(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.value(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.value(key))
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
fn emitting_storing_and_failing_are_counted() {
    let recorded = Recorded::default();
    // The writer records on its own thread: the recorder is the process's.
    metrics::set_global_recorder(recorded.clone()).unwrap();
    let store = WatchedStore::new(|call| match call {
        StoreCall::Insert(event) if event.category().as_str() == "down" => {
            Err(StoreError::Backend("disk full".into()))
        }
        _ => Ok(()),
    })
    .in_background();
    let events = Emitter::builder().store(store).build();
    for _ in 0..5 {
        events.emit(event("up")).unwrap();
    }
    for _ in 0..3 {
        events.emit(event("down")).unwrap();
    }
    events.flush().unwrap();
    assert_eq!(recorded.get("tidings_events_emitted_total"), 8);
    assert_eq!(recorded.get("tidings_events_stored_total"), 5);
    assert_eq!(recorded.get("tidings_events_failed_total{reason=store}"), 3);
    assert!(recorded.get("tidings_writer_batch_size") >= 1);
    assert!(recorded.get("tidings_write_seconds") >= 1);
    assert!(recorded.get("tidings_writer_queue_depth") >= 1);
    // Inline delivery counts as it stores.
    let inline = Emitter::new();
    inline.emit(event("up")).unwrap();
    assert_eq!(recorded.get("tidings_events_emitted_total"), 9);
    assert_eq!(recorded.get("tidings_events_stored_total"), 6);
    // Repeats: folded into the first (`coalesce`), or not stored as no change (`emit_on`).
    let repeat = |rule: tidings::Repeat| {
        Event::builder()
            .category("cluster")
            .action("probe")
            .repeat(rule)
            .build()
            .unwrap()
    };
    let minute = tidings::Repeat::Coalesce(std::time::Duration::from_secs(60));
    for _ in 0..3 {
        inline.emit(repeat(minute)).unwrap();
    }
    let on_change = Emitter::new();
    for _ in 0..2 {
        on_change.emit(repeat(tidings::Repeat::OnChange)).unwrap();
    }
    assert_eq!(recorded.get("tidings_events_stored_total"), 8);
    assert_eq!(recorded.get("tidings_events_folded_total"), 2);
    assert_eq!(recorded.get("tidings_events_unchanged_total"), 1);
}
