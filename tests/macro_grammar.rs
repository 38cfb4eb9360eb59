//! The attribute's keys beyond category and action, on sync and async functions: `error =`,
//! an error value's own severity, `emit_on`, `metadata(...)`, `current::set_severity`, and
//! `panic =`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures::executor::block_on;
use tidings::testing::capture;
use tidings::{ErrorDetails, Event, Severity, current, emits_event};

#[derive(Debug)]
enum ClusterError {
    Retrying,
    Lost,
    Plain,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterError::Retrying => "the cluster is busy; retrying",
            ClusterError::Lost => "the cluster is gone",
            ClusterError::Plain => "the cluster refused",
        })
    }
}

impl std::error::Error for ClusterError {}

/// One error type, a severity per value; `Plain` keeps the attribute's.
impl ErrorDetails for ClusterError {
    fn severity(&self) -> Option<Severity> {
        match self {
            ClusterError::Retrying => Some(Severity::Warning),
            ClusterError::Lost => Some(Severity::Critical),
            ClusterError::Plain => None,
        }
    }
}

fn one(events: Vec<Event>) -> Event {
    assert_eq!(events.len(), 1, "{events:?}");
    events.into_iter().next().unwrap()
}

#[emits_event(category = "cluster", action = "connect", error = "critical")]
fn connect(ok: bool) -> Result<(), std::io::Error> {
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other("unreachable"))
    }
}

#[emits_event(category = "cluster", action = "connect", error = "critical")]
async fn connect_async(ok: bool) -> Result<(), std::io::Error> {
    connect_body(ok)
}

fn connect_body(ok: bool) -> Result<(), std::io::Error> {
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other("unreachable"))
    }
}

#[test]
fn error_sets_the_severity_of_err_and_err_stays_in_the_metadata() {
    let (_, events) = capture(|| connect(false));
    let event = one(events);
    assert_eq!(event.severity(), Severity::Critical);
    assert_eq!(event.metadata()["err"]["message"], "unreachable");
    let (_, events) = capture(|| connect(true));
    assert_eq!(one(events).severity(), Severity::Success);
    let (_, events) = capture(|| block_on(connect_async(false)));
    assert_eq!(one(events).severity(), Severity::Critical);
}

#[emits_event(category = "cluster", action = "sync", error = "error")]
fn sync_cluster(outcome: ClusterError) -> Result<(), ClusterError> {
    Err(outcome)
}

#[emits_event(category = "cluster", action = "sync", error = "alert")]
async fn sync_cluster_async(outcome: ClusterError) -> Result<(), ClusterError> {
    Err(outcome)
}

#[test]
fn an_error_value_can_say_its_own_severity() {
    for (outcome, severity) in [
        (ClusterError::Retrying, Severity::Warning),
        (ClusterError::Lost, Severity::Critical),
        (ClusterError::Plain, Severity::Error),
    ] {
        let (_, events) = capture(|| sync_cluster(outcome));
        let event = one(events);
        assert_eq!(event.severity(), severity);
        assert!(
            event.metadata().contains_key("err"),
            "err whatever the level"
        );
    }
    let (_, events) = capture(|| block_on(sync_cluster_async(ClusterError::Plain)));
    assert_eq!(
        one(events).severity(),
        Severity::Alert,
        "the attribute's level"
    );
    let (_, events) = capture(|| block_on(sync_cluster_async(ClusterError::Retrying)));
    assert_eq!(
        one(events).severity(),
        Severity::Warning,
        "the value's level"
    );
}

#[emits_event(category = "health", action = "check", emit_on = "err")]
fn health_check(ok: bool, slow: bool) -> Result<(), std::io::Error> {
    if slow {
        current::set_severity(Severity::Warning);
    }
    connect_body(ok)
}

#[emits_event(category = "health", action = "check", emit_on = "err")]
async fn health_check_async(ok: bool) -> Result<(), std::io::Error> {
    connect_body(ok)
}

#[emits_event(category = "health", action = "report", emit_on = "ok")]
fn health_report(ok: bool) -> Result<(), std::io::Error> {
    connect_body(ok)
}

#[test]
fn emit_on_filters_on_the_outcome() {
    assert!(
        capture(|| health_check(true, false)).1.is_empty(),
        "Ok: nothing"
    );
    assert_eq!(
        one(capture(|| health_check(false, false)).1).severity(),
        Severity::Error
    );
    assert!(
        capture(|| health_check(true, true)).1.is_empty(),
        "an Ok whose severity the body raised still follows emit_on"
    );
    assert!(capture(|| block_on(health_check_async(true))).1.is_empty());
    assert_eq!(capture(|| block_on(health_check_async(false))).1.len(), 1);
    assert_eq!(capture(|| health_report(true)).1.len(), 1);
    assert!(
        capture(|| health_report(false)).1.is_empty(),
        "Err: nothing"
    );
}

#[derive(Debug, serde::Serialize)]
struct Context {
    name: String,
    server: String,
}

#[emits_event(
    category = "connection",
    action = "ping",
    metadata("Context Name" = context.name, "Server" = &context.server, attempt)
)]
fn ping(context: Context, attempt: u32) -> Result<String, std::io::Error> {
    // The body moves the arguments: the metadata was taken before it ran.
    let Context { name, server } = context;
    Ok(format!("{name} at {server}, attempt {attempt}"))
}

#[emits_event(category = "connection", action = "ping", metadata(context, attempt))]
async fn ping_async(context: Context, attempt: u32) -> Result<u32, std::io::Error> {
    drop(context);
    Ok(attempt)
}

#[test]
fn metadata_takes_values_from_the_arguments_before_the_body_moves_them() {
    let context = || Context {
        name: "minikube".to_owned(),
        server: "https://127.0.0.1:8443".to_owned(),
    };
    let (result, events) = capture(|| ping(context(), 3));
    assert_eq!(
        result.unwrap(),
        "minikube at https://127.0.0.1:8443, attempt 3"
    );
    let event = one(events);
    assert_eq!(event.metadata()["Context Name"], "minikube");
    assert_eq!(event.metadata()["Server"], "https://127.0.0.1:8443");
    assert_eq!(event.metadata()["attempt"], 3);
    let (_, events) = capture(|| block_on(ping_async(context(), 4)));
    let event = one(events);
    assert_eq!(event.metadata()["context"]["name"], "minikube");
    assert_eq!(event.metadata()["attempt"], 4);
}

#[emits_event(category = "connection", action = "ping", success = "informational")]
fn slow_ping(slow: bool, outcome: Option<ClusterError>) -> Result<(), ClusterError> {
    if slow {
        current::set_severity(Severity::Warning);
    }
    match outcome {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[emits_event(category = "connection", action = "ping")]
async fn slow_ping_async() -> Result<(), std::io::Error> {
    current::set_severity(Severity::Warning);
    Ok(())
}

#[test]
fn set_severity_in_the_body_wins_over_every_other_source() {
    assert_eq!(
        one(capture(|| slow_ping(false, None)).1).severity(),
        Severity::Informational,
        "the attribute's success ="
    );
    assert_eq!(
        one(capture(|| slow_ping(true, None)).1).severity(),
        Severity::Warning,
        "Ok, but degraded"
    );
    assert_eq!(
        one(capture(|| slow_ping(true, Some(ClusterError::Lost))).1).severity(),
        Severity::Warning,
        "over the error value's own"
    );
    assert_eq!(
        one(capture(|| slow_ping(false, Some(ClusterError::Lost))).1).severity(),
        Severity::Critical
    );
    assert_eq!(
        one(capture(|| block_on(slow_ping_async())).1).severity(),
        Severity::Warning
    );
}

#[emits_event(category = "design", action = "deploy", panic = "critical")]
fn deploy(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        panic!("the deployer crashed");
    }
    Ok(())
}

#[emits_event(category = "design", action = "deploy", panic = "alert")]
async fn deploy_async(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        panic!("the async deployer crashed");
    }
    Ok(())
}

#[emits_event(category = "design", action = "deploy")]
fn deploy_without_panic_key() -> Result<(), std::io::Error> {
    panic!("nobody is told");
}

#[test]
fn a_panic_emits_with_its_severity_and_message_then_goes_on_unwinding() {
    let (unwound, events) = capture(|| catch_unwind(|| deploy(true)));
    let payload = unwound.expect_err("the panic was not swallowed");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the deployer crashed")
    );
    let event = one(events);
    assert_eq!(event.severity(), Severity::Critical);
    assert_eq!(
        event.metadata()["err"]["message"],
        "panicked: the deployer crashed"
    );
    assert_eq!(event.description(), "design deploy failed");

    let (unwound, events) =
        capture(|| catch_unwind(AssertUnwindSafe(|| block_on(deploy_async(true)))));
    assert!(unwound.is_err(), "the async panic was not swallowed");
    let event = one(events);
    assert_eq!(event.severity(), Severity::Alert);
    assert_eq!(
        event.metadata()["err"]["message"],
        "panicked: the async deployer crashed"
    );

    let (_, events) = capture(|| deploy(false));
    assert_eq!(one(events).severity(), Severity::Success);
    let (unwound, events) = capture(|| catch_unwind(deploy_without_panic_key));
    assert!(unwound.is_err());
    assert!(
        events.is_empty(),
        "without `panic =`, a panic emits nothing"
    );
}
