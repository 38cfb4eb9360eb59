//! Every rule of `EventBuilder::build`, and what error events carry under `err`.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;

use serde_json::json;
use tidings::{BuildProblem, ErrorDetails, Event, Severity, Status, Uuid, error_report};

fn ping() -> tidings::EventBuilder {
    Event::builder().category("connection").action("ping")
}

#[test]
fn defaults() {
    let event = ping().build().unwrap();
    assert_eq!(event.severity(), Severity::Informational);
    assert_eq!(event.status(), Status::Unread);
    assert_eq!(event.description(), "");
    assert!(event.metadata().is_empty());
    assert_eq!(event.created_at(), event.updated_at());
    assert_eq!(
        event.created_at().offset(),
        tidings::OffsetDateTime::now_utc().offset()
    );
    assert_ne!(event.id(), Uuid::nil());
    // Version 7: time-ordered to the millisecond, so that a store's id index grows at its end
    // (BENCHMARKS.md); its time is the event's, from the same clock read.
    assert_eq!(event.id().get_version_num(), 7);
    let (seconds, nanos) = event.id().get_timestamp().unwrap().to_unix();
    let millis = |t: tidings::OffsetDateTime| t.unix_timestamp_nanos() / 1_000_000;
    assert_eq!(
        i128::from(seconds) * 1_000 + i128::from(nanos / 1_000_000),
        millis(event.created_at())
    );
    assert_eq!(event.id().get_variant(), uuid::Variant::RFC4122);
}

/// The 74 bits after a v7 id's millisecond are random: ids made in the same millisecond differ
/// there, and every one of those bits takes both values.
#[test]
fn ids_are_random_after_their_millisecond() {
    let ids: Vec<u128> = (0..2_000)
        .map(|_| ping().build().unwrap().id().as_u128())
        .collect();
    let distinct: std::collections::HashSet<u128> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len());
    // rand_a (12 bits) and rand_b (62 bits): all but the 48 time bits, the version and the
    // variant.
    let random_bits: u128 = (0xfff << 64) | ((1 << 62) - 1);
    let (mut ones, mut zeros) = (0_u128, 0_u128);
    for id in &ids {
        assert_eq!((id >> 76) & 0xf, 7, "version 7: {id:032x}");
        assert_eq!((id >> 62) & 0b11, 0b10, "RFC 9562 variant: {id:032x}");
        ones |= id & random_bits;
        zeros |= !id & random_bits;
    }
    assert_eq!(ones, random_bits, "a random bit never set");
    assert_eq!(zeros, random_bits, "a random bit always set");
}

#[test]
fn steps_set_fields() {
    let (user, system, resource, op) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let event = ping()
        .from_user(user)
        .from_system(system)
        .acted_upon(resource)
        .operation_id(op)
        .severity(Severity::Warning)
        .description("slow answer")
        .build()
        .unwrap();
    assert_eq!(event.user_id(), Some(user));
    assert_eq!(event.system_id(), Some(system));
    assert_eq!(event.acted_upon(), Some(resource));
    assert_eq!(event.operation_id(), op);
    assert_eq!(event.severity(), Severity::Warning);
    assert_eq!(event.description(), "slow answer");
}

#[test]
fn missing_category_and_action_are_both_reported() {
    let err = Event::builder().build().unwrap_err();
    assert_eq!(
        err.problems(),
        [BuildProblem::MissingCategory, BuildProblem::MissingAction]
    );
    assert_eq!(
        err.to_string(),
        "cannot build event: missing category; missing action"
    );
    assert_eq!(
        Event::builder()
            .category("connection")
            .build()
            .unwrap_err()
            .problems(),
        [BuildProblem::MissingAction]
    );
    assert_eq!(
        Event::builder()
            .action("ping")
            .build()
            .unwrap_err()
            .problems(),
        [BuildProblem::MissingCategory]
    );
}

#[test]
fn names_must_be_snake_case() {
    let err = Event::builder()
        .category("Connection")
        .action("signup-request")
        .build()
        .unwrap_err();
    assert_eq!(err.problems().len(), 2);
    let msg = err.to_string();
    assert!(msg.contains("invalid category \"Connection\""), "{msg}");
    assert!(msg.contains("invalid action \"signup-request\""), "{msg}");
    assert!(msg.contains("did you mean \"signup_request\"?"), "{msg}");
}

#[test]
fn error_severity_needs_err() {
    let err = ping().severity(Severity::Error).build().unwrap_err();
    assert_eq!(err.problems(), [BuildProblem::ErrorWithoutErr]);
    assert!(err.to_string().contains("`err`"), "{err}");
    let io = std::io::Error::other("boom");
    assert!(ping().err(&io).build().is_ok());
}

#[test]
fn doc_must_be_an_http_url() {
    let event = ping()
        .doc("https://docs.meshery.io/concepts")
        .build()
        .unwrap();
    assert_eq!(event.metadata()["doc"], "https://docs.meshery.io/concepts");
    for bad in [
        "docs.meshery.io",
        "ftp://docs.meshery.io",
        "javascript:alert(1)",
        "https://",
    ] {
        let err = ping().doc(bad).build().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("invalid doc link \"{bad}\"")),
            "{msg}"
        );
    }
    let err = ping().meta("doc", 42).build().unwrap_err();
    assert!(err.to_string().contains("must be a string"), "{err}");
}

#[test]
fn metadata_adds_entries_and_never_drops_earlier_ones() {
    let event = ping()
        .metadata([("a", json!(1)), ("b", json!(2))])
        .meta("c", "three")
        .metadata([("b", json!("two"))])
        .build()
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(event.metadata().clone()),
        json!({"a": 1, "b": "two", "c": "three"})
    );
}

#[test]
fn a_reused_builder_makes_distinct_independent_events() {
    let builder = ping().meta("k", "v");
    let events: Vec<Event> = (0..100).map(|_| builder.build().unwrap()).collect();
    let ids: HashSet<Uuid> = events.iter().map(Event::id).collect();
    assert_eq!(ids.len(), 100);
    let ops: HashSet<Uuid> = events.iter().map(Event::operation_id).collect();
    assert_eq!(ops.len(), 100);
    // A later change to the builder does not reach events already built.
    let later = builder.clone().meta("k", "changed").build().unwrap();
    assert_eq!(events[0].metadata()["k"], "v");
    assert_eq!(later.metadata()["k"], "changed");
}

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner(std::io::Error);

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not ping Kubernetes context minikube")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot reach https://127.0.0.1:8443")
    }
}
impl Error for Inner {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

fn chained() -> Outer {
    Outer(Inner(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused",
    )))
}

const CHAIN: [&str; 2] = ["cannot reach https://127.0.0.1:8443", "connection refused"];

#[test]
fn err_of_a_std_error_has_message_and_chain() {
    let event = ping().err(&chained()).build().unwrap();
    assert_eq!(event.severity(), Severity::Error);
    assert_eq!(
        event.metadata()["err"],
        json!({"message": "could not ping Kubernetes context minikube", "causes": CHAIN})
    );
}

#[test]
fn err_of_a_boxed_error() {
    let boxed: Box<dyn Error + Send + Sync> = Box::new(chained());
    let event = ping().err(&boxed).build().unwrap();
    assert_eq!(event.metadata()["err"]["causes"], json!(CHAIN));
    let local: Box<dyn Error> = Box::new(chained());
    let event = ping().err(&local).build().unwrap();
    assert_eq!(event.metadata()["err"]["causes"], json!(CHAIN));
    let event = ping().err(&*local).build().unwrap();
    assert_eq!(
        event.metadata()["err"]["message"],
        "could not ping Kubernetes context minikube"
    );
}

#[test]
fn err_of_an_anyhow_error_keeps_its_chain() {
    let err = anyhow::Error::new(std::io::Error::other("connection refused"))
        .context("cannot reach https://127.0.0.1:8443")
        .context("could not ping Kubernetes context minikube");
    let event = ping().err(&err).build().unwrap();
    assert_eq!(
        event.metadata()["err"],
        json!({"message": "could not ping Kubernetes context minikube", "causes": CHAIN})
    );
    assert_eq!(error_report!(err).causes, CHAIN);
}

#[derive(Debug)]
struct PingError;
impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not ping")
    }
}
impl Error for PingError {}
impl ErrorDetails for PingError {
    fn code(&self) -> Option<&str> {
        Some("meshery-server-1234")
    }
    fn long_description(&self) -> Option<String> {
        Some("The Kubernetes API server did not answer.".into())
    }
    fn probable_causes(&self) -> Vec<String> {
        vec!["The cluster is down.".into()]
    }
    fn suggested_remediations(&self) -> Vec<String> {
        vec!["Start the cluster.".into(), "Check the kubeconfig.".into()]
    }
}

#[test]
fn err_of_an_error_with_details() {
    let want = json!({
        "message": "could not ping",
        "causes": [],
        "code": "meshery-server-1234",
        "longDescription": "The Kubernetes API server did not answer.",
        "probableCauses": ["The cluster is down."],
        "suggestedRemediations": ["Start the cluster.", "Check the kubeconfig."],
    });
    let event = ping().err_details(&PingError).build().unwrap();
    assert_eq!(event.metadata()["err"], want);
    // The autoref-specialized report picks the details up without being told.
    assert_eq!(
        serde_json::to_value(error_report!(PingError)).unwrap(),
        want
    );
    // Plain `err` reports it as the std error it also is.
    let plain = ping().err(&PingError).build().unwrap();
    assert_eq!(
        plain.metadata()["err"],
        json!({"message": "could not ping", "causes": []})
    );
}

#[derive(Debug)]
struct OnlyDisplay;
impl fmt::Display for OnlyDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("display only")
    }
}

#[test]
fn err_of_a_display_only_type() {
    let event = ping().err(&error_report!(OnlyDisplay)).build().unwrap();
    assert_eq!(
        event.metadata()["err"],
        json!({"message": "display only", "causes": []})
    );
}

#[test]
fn err_is_never_an_empty_object() {
    let io = std::io::Error::other("x");
    for event in [
        ping().err(&io).build().unwrap(),
        ping().err(&chained()).build().unwrap(),
        ping().err(&error_report!(OnlyDisplay)).build().unwrap(),
    ] {
        let err = event.metadata()["err"].as_object().unwrap();
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
}
