//! The cost of one call, side by side in one run:
//! - `plain`: the handler without any attribute (the baseline of the group);
//! - `emits_event_ok` / `emits_event_err`: the same handler under `#[emits_event]`;
//! - `hand_built_ok` / `hand_built_err`: the same events built with the builder and emitted by
//!   hand, as Meshery's handlers do;
//! - `tracing_instrument_ok` / `tracing_instrument_err`: the same handler under
//!   `#[tracing::instrument(err)]`, with a subscriber that records every span and event in
//!   memory;
//! - `plain_async_*` / `emits_event_async_*`: the handler as an `async fn`, without and with the
//!   attribute, each call polled to completion by `futures::executor::block_on`.
//!
//! Delivery goes to an in-memory emitter (its default memory store) with one live subscriber.
//! Also: building events alone (`build/*`), and what the performance anchors call the floor: a
//! success event built and handed to delivery with no store, one live subscriber
//! (`build/success_event_to_one_subscriber` with the builder,
//! `build/annotated_success_to_one_subscriber` through `#[emits_event]`).
//!
//! `cargo bench --bench per_call`, then `python3 benches/report.py per_call plain`.

use std::error::Error;
use std::fmt;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use tidings::{Emitter, Event, Severity, Subscription, Uuid, emits_event};
use tracing::span;

#[derive(Debug)]
struct PingError {
    source: Inner,
}

#[derive(Debug)]
struct Inner {
    source: std::io::Error,
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not ping Kubernetes context minikube")
    }
}

impl Error for PingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot reach https://192.168.49.2:8443")
    }
}

impl Error for Inner {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

fn ping_error() -> PingError {
    PingError {
        source: Inner {
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ),
        },
    }
}

/// The handler's own work: the same in every variant.
#[inline(never)]
fn work(connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    if fail {
        return Err(ping_error());
    }
    Ok(black_box(connection_id.as_u64_pair().0))
}

#[inline(never)]
fn plain(connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

#[inline(never)]
#[emits_event(category = "connection", action = "ping", acted_upon = connection_id, user = user)]
fn annotated(user: Uuid, connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// Only failures emit (`emit_on = "err"`): on `Ok`, no event is built.
#[inline(never)]
#[emits_event(category = "connection", action = "ping", acted_upon = connection_id, user = user, emit_on = "err")]
fn annotated_only_errors(user: Uuid, connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// Two metadata entries from the arguments, taken before the body runs.
#[inline(never)]
#[emits_event(category = "connection", action = "ping", acted_upon = connection_id, user = user, metadata("Context Name" = context, attempt))]
fn annotated_metadata(
    user: Uuid,
    connection_id: Uuid,
    context: &str,
    attempt: u32,
    fail: bool,
) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// Only failures emit, with the same two metadata entries: their cost is paid on `Ok` too.
#[inline(never)]
#[emits_event(category = "connection", action = "ping", acted_upon = connection_id, user = user, emit_on = "err", metadata("Context Name" = context, attempt))]
fn annotated_only_errors_metadata(
    user: Uuid,
    connection_id: Uuid,
    context: &str,
    attempt: u32,
    fail: bool,
) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// The same handler as an `async fn`, without the attribute.
#[inline(never)]
async fn plain_async(connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// The same handler as an annotated `async fn`: its event is handed over by an awaited submit.
#[inline(never)]
#[emits_event(category = "connection", action = "ping", acted_upon = connection_id, user = user)]
async fn annotated_async(user: Uuid, connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// One call of `annotated_async` polled to completion on this thread: a named function, so that
/// `benches/callgrind.sh` counts the future's polls with its construction.
#[inline(never)]
fn annotated_async_blocking(user: Uuid, connection_id: Uuid, fail: bool) -> bool {
    block_on(annotated_async(user, connection_id, fail)).is_ok()
}

/// A `metrics` recorder of atomic counters (one per metric, made once): what an exporter's
/// hot path costs at least.
#[derive(Default)]
struct AtomicRecorder {
    values: Mutex<Vec<(metrics::Key, std::sync::Arc<AtomicValue>)>>,
}

#[derive(Default)]
struct AtomicValue(AtomicU64);

impl metrics::CounterFn for AtomicValue {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl metrics::GaugeFn for AtomicValue {
    fn increment(&self, value: f64) {
        self.0.fetch_add(value as u64, Ordering::Relaxed);
    }
    fn decrement(&self, value: f64) {
        self.0.fetch_sub(value as u64, Ordering::Relaxed);
    }
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl metrics::HistogramFn for AtomicValue {
    fn record(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl AtomicRecorder {
    fn value(&self, key: &metrics::Key) -> std::sync::Arc<AtomicValue> {
        let mut values = self.values.lock().unwrap();
        if let Some((_, value)) = values.iter().find(|(k, _)| k == key) {
            return std::sync::Arc::clone(value);
        }
        let value = std::sync::Arc::new(AtomicValue::default());
        values.push((key.clone(), std::sync::Arc::clone(&value)));
        value
    }
}

impl metrics::Recorder for AtomicRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.value(key))
    }
    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(self.value(key))
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::from_arc(self.value(key))
    }
}

/// The anchors' floor with the builder: a success event built and handed to `emitter`.
#[inline(never)]
fn built_and_emitted(emitter: &Emitter, user: Uuid) -> std::sync::Arc<Event> {
    let event = Event::builder()
        .from_user(user)
        .category("connection")
        .action("ping")
        .severity(Severity::Success)
        .description("Kubernetes context pinged")
        .build()
        .expect("valid");
    emitter.emit(event).expect("delivered")
}

/// What a person writes without the attribute: build the event by hand and emit it.
#[inline(never)]
fn hand_built(
    emitter: &Emitter,
    user: Uuid,
    connection_id: Uuid,
    fail: bool,
) -> Result<u64, PingError> {
    let result = work(connection_id, fail);
    let builder = Event::builder()
        .from_user(user)
        .acted_upon(connection_id)
        .category("connection")
        .action("ping");
    let builder = match &result {
        Ok(_) => builder
            .severity(Severity::Success)
            .description("connection ping succeeded"),
        Err(e) => builder.err(e).description("connection ping failed"),
    };
    if let Ok(event) = builder.build() {
        let _ = emitter.emit(event);
    }
    result
}

#[inline(never)]
#[tracing::instrument(err, skip_all, fields(%connection_id))]
fn instrumented(connection_id: Uuid, fail: bool) -> Result<u64, PingError> {
    work(connection_id, fail)
}

/// A subscriber that records every span and event in memory, as a test or an in-process
/// exporter would.
struct Recorder {
    next: AtomicU64,
    records: Mutex<Vec<String>>,
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        let mut record = String::from(span.metadata().name());
        span.record(&mut Fields(&mut record));
        self.push(record);
        span::Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &span::Id, values: &span::Record<'_>) {
        let mut record = String::new();
        values.record(&mut Fields(&mut record));
        self.push(record);
    }
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut record = String::from(event.metadata().name());
        event.record(&mut Fields(&mut record));
        self.push(record);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

impl Recorder {
    fn push(&self, record: String) {
        let mut records = self.records.lock().expect("not poisoned");
        if records.len() >= 10_000 {
            records.clear();
        }
        records.push(record);
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        use fmt::Write;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

/// Keeps the one live subscriber from growing without end: it is drained now and then, as a
/// browser tab reading its stream would.
fn drain_sometimes(tab: &Subscription, n: &mut u32) {
    *n += 1;
    if n.is_multiple_of(512) {
        black_box(tab.drain());
    }
}

/// An in-memory emitter (default memory store) already holding as many events as its store
/// keeps, so every measured call meets the same steady state, and a live subscriber.
fn steady_emitter(user: Uuid) -> (Emitter, Subscription) {
    let emitter = Emitter::new();
    let tab = emitter.subscribe(user);
    for _ in 0..tidings::MemoryStore::DEFAULT_CAPACITY {
        let event = Event::builder()
            .from_user(user)
            .category("connection")
            .action("ping")
            .build()
            .expect("valid");
        emitter.emit(event).expect("stored");
    }
    tab.drain();
    (emitter, tab)
}

fn per_call(c: &mut Criterion) {
    let user = Uuid::new_v4();
    let id = Uuid::new_v4();
    let recorder = Recorder {
        next: AtomicU64::new(0),
        records: Mutex::new(Vec::new()),
    };
    let dispatch = tracing::Dispatch::new(recorder);
    let mut n = 0;

    let mut group = c.benchmark_group("per_call");
    // Calls that touch a shared store vary from run to run on a virtual machine: measure long.
    group.measurement_time(std::time::Duration::from_secs(10));
    group.sample_size(200);
    for (name, fail) in [("ok", false), ("err", true)] {
        group.bench_function(format!("plain_{name}"), |b| {
            b.iter(|| black_box(plain(black_box(id), fail).is_ok()));
        });
        group.bench_function(format!("emits_event_no_emitter_{name}"), |b| {
            b.iter(|| black_box(annotated(user, black_box(id), fail).is_ok()));
        });
        let (emitter, tab) = steady_emitter(user);
        let default = tidings::set_default(&emitter);
        group.bench_function(format!("emits_event_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(annotated(user, black_box(id), fail).is_ok())
            });
        });
        // The same with a `metrics` recorder installed (on this thread): what the runtime's
        // metrics cost when something records them.
        group.bench_function(format!("emits_event_with_metrics_recorder_{name}"), |b| {
            let recorder = AtomicRecorder::default();
            let _recording = metrics::set_default_local_recorder(&recorder);
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(annotated(user, black_box(id), fail).is_ok())
            });
        });
        // The grammar's keys: only errors, metadata from the arguments, both.
        group.bench_function(format!("emits_event_only_errors_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(annotated_only_errors(user, black_box(id), fail).is_ok())
            });
        });
        group.bench_function(format!("emits_event_metadata_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(annotated_metadata(user, black_box(id), "minikube", 3, fail).is_ok())
            });
        });
        group.bench_function(format!("emits_event_only_errors_metadata_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                let ok = annotated_only_errors_metadata(user, black_box(id), "minikube", 3, fail);
                black_box(ok.is_ok())
            });
        });
        // Async: each call polled to completion by `block_on` on this thread.
        group.bench_function(format!("plain_async_{name}"), |b| {
            b.iter(|| black_box(block_on(plain_async(black_box(id), fail)).is_ok()));
        });
        group.bench_function(format!("emits_event_async_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(annotated_async_blocking(user, black_box(id), fail))
            });
        });
        drop(default);
        let (emitter, tab) = steady_emitter(user);
        group.bench_function(format!("hand_built_{name}"), |b| {
            b.iter(|| {
                drain_sometimes(&tab, &mut n);
                black_box(hand_built(&emitter, user, black_box(id), fail).is_ok())
            });
        });
        tracing::dispatcher::with_default(&dispatch, || {
            group.bench_function(format!("tracing_instrument_{name}"), |b| {
                b.iter(|| black_box(instrumented(black_box(id), fail).is_ok()));
            });
        });
    }
    group.finish();
}

fn building(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.bench_function("success_literal_no_metadata", |b| {
        b.iter(|| {
            Event::builder()
                .category("connection")
                .action("ping")
                .severity(Severity::Success)
                .description("Kubernetes context pinged")
                .build()
                .expect("valid")
        });
    });
    let error = ping_error();
    group.bench_function("error_with_two_causes", |b| {
        b.iter(|| {
            Event::builder()
                .category("connection")
                .action("ping")
                .err(black_box(&error))
                .description("Could not ping Kubernetes context")
                .build()
                .expect("valid")
        });
    });
    // The anchors' floor: a success event built and handed to delivery, one live subscriber,
    // no store.
    let emitter = Emitter::builder().without_store().build();
    let user = Uuid::new_v4();
    let tab = emitter.subscribe(user);
    let mut n = 0;
    group.bench_function("success_event_to_one_subscriber", |b| {
        b.iter(|| {
            drain_sometimes(&tab, &mut n);
            built_and_emitted(&emitter, black_box(user))
        });
    });
    // The same through `#[emits_event]`: what the macro's runtime builds, with no builder.
    let _default = tidings::set_default(&emitter);
    let id = Uuid::new_v4();
    group.bench_function("annotated_success_to_one_subscriber", |b| {
        b.iter(|| {
            drain_sometimes(&tab, &mut n);
            black_box(annotated(user, black_box(id), false).is_ok())
        });
    });
    group.finish();
}

criterion_group!(benches, per_call, building);
criterion_main!(benches);
