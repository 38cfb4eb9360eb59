//! The tracing bridge (feature `tracing`): every emitted event is also a `tracing` event, with
//! a real `tracing-subscriber` registry and a layer that records what it is given.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tidings::{Emitter, Event, Severity, Uuid, emits_event};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One recorded `tracing` event: level, target, fields, and the names of the spans it is in,
/// innermost first.
#[derive(Debug, Clone)]
struct Recorded {
    level: tracing::Level,
    target: String,
    fields: BTreeMap<String, String>,
    spans: Vec<String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.map(|span| span.name().to_owned()).collect())
            .unwrap_or_default();
        self.0.lock().unwrap().push(Recorded {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
            spans,
        });
    }
}

/// Runs `f` with the recorder as the thread's subscriber; returns the `tidings` events it saw.
fn recorded(f: impl FnOnce()) -> Vec<Recorded> {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, f);
    let all = recorder.0.lock().unwrap().clone();
    all.into_iter().filter(|r| r.target == "tidings").collect()
}

#[derive(Debug)]
struct Unreachable {
    source: std::io::Error,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cluster unreachable")
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

// `#[emits_event]` above `#[tracing::instrument]`: attributes expand from the top, so the span
// then wraps the whole call, the event included. (Below it, the span would have ended by the time
// the outcome is known.)
#[emits_event(category = "connection", action = "ping", user = user, acted_upon = connection)]
#[tracing::instrument(skip_all)]
fn ping(user: Uuid, connection: Uuid, reachable: bool) -> Result<(), Unreachable> {
    if reachable {
        Ok(())
    } else {
        Err(Unreachable {
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        })
    }
}

#[test]
fn an_annotated_call_is_recorded_once_with_its_fields_in_the_instrumented_span() {
    let emitter = Emitter::new();
    let (user, connection) = (Uuid::new_v4(), Uuid::new_v4());
    let live = emitter.subscribe(user);
    let records = recorded(|| {
        tidings::with_default(&emitter, || ping(user, connection, true)).unwrap();
    });
    let event = live.try_recv().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.level, tracing::Level::INFO);
    assert_eq!(record.fields["category"], "connection");
    assert_eq!(record.fields["action"], "ping");
    assert_eq!(record.fields["severity"], "success");
    assert_eq!(record.fields["event.id"], event.id().to_string());
    assert_eq!(record.fields["user.id"], user.to_string());
    assert_eq!(record.fields["acted_upon"], connection.to_string());
    assert_eq!(record.fields["description"], "connection ping succeeded");
    assert!(!record.fields.contains_key("err.message"));
    assert_eq!(record.spans, ["ping"], "inside the #[instrument] span");
}

#[test]
fn an_error_is_recorded_at_error_level_with_its_message_and_causes() {
    let emitter = Emitter::new();
    let records = recorded(|| {
        let _ = tidings::with_default(&emitter, || ping(Uuid::new_v4(), Uuid::new_v4(), false));
    });
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].level, tracing::Level::ERROR);
    assert_eq!(records[0].fields["err.message"], "cluster unreachable");
    assert_eq!(records[0].fields["err.causes"], "timed out");
}

#[test]
fn each_severity_maps_to_its_level() {
    let emitter = Emitter::new();
    let cases = [
        (Severity::Emergency, tracing::Level::ERROR),
        (Severity::Alert, tracing::Level::ERROR),
        (Severity::Critical, tracing::Level::ERROR),
        (Severity::Warning, tracing::Level::WARN),
        (Severity::Informational, tracing::Level::INFO),
        (Severity::Success, tracing::Level::INFO),
        (Severity::Debug, tracing::Level::DEBUG),
    ];
    for (severity, level) in cases {
        let records = recorded(|| {
            let event = Event::builder()
                .category("cluster")
                .action("check")
                .severity(severity)
                .build()
                .unwrap();
            emitter.emit(event).unwrap();
        });
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].level, level, "{severity}");
        assert_eq!(tidings::trace::level(severity), level);
        assert!(
            !records[0].fields.contains_key("user.id"),
            "no user, no field"
        );
    }
}

/// Recorded by `emit` on the caller's thread, not by the background writer: with a store that
/// has one, the event is still recorded in the caller's span.
#[test]
fn with_a_background_writer_the_event_is_recorded_on_the_callers_thread() {
    let emitter = Emitter::builder()
        .store(tidings::MemoryStore::new())
        .background_writer(16)
        .build();
    let records = recorded(|| {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        let event = Event::builder()
            .category("design")
            .action("deploy")
            .build()
            .unwrap();
        emitter.emit(event).unwrap();
        emitter.flush().unwrap();
    });
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].spans, ["request"]);
}

#[emits_event(category = "design", action = "deploy", user = user)]
#[tracing::instrument(skip_all)]
async fn deploy(user: Uuid) -> Result<(), Unreachable> {
    Ok(())
}

#[test]
fn an_async_call_is_recorded_in_its_instrumented_span() {
    let emitter = Emitter::new();
    let records = recorded(|| {
        tidings::with_default(&emitter, || {
            futures::executor::block_on(deploy(Uuid::new_v4())).unwrap();
        });
    });
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].fields["action"], "deploy");
    assert_eq!(records[0].spans, ["deploy"]);
}
