//! What each key of `#[emits_event]` does, descriptions and their placeholders, enriching the
//! event in progress, and calls with no emitter set.

mod common;

use std::borrow::Cow;
use std::fmt;

use common::{PingError, assert_error, assert_success};
use tidings::testing::capture;
use tidings::{Emitter, ErrorDetails, Severity, Uuid, current, emits_event};

#[emits_event(category = "connection", action = "ping", acted_upon = id)]
fn by_value(id: Uuid) -> Result<(), PingError> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", acted_upon = id)]
fn by_reference(id: &Uuid) -> Result<(), PingError> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", acted_upon = id)]
fn optional(id: Option<Uuid>) -> Result<(), PingError> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", acted_upon = id)]
fn from_str(id: &str) -> Result<(), PingError> {
    Ok(())
}

#[emits_event(category = "connection", action = "ping", acted_upon = id, user = user)]
fn from_strings(id: String, user: Cow<'static, str>) -> Result<usize, PingError> {
    // The expressions are read before the body, which may consume the parameters.
    Ok(id.len() + user.len())
}

#[test]
fn id_expressions_accept_uuids_references_options_and_strings() {
    let id = Uuid::new_v4();
    let (results, events) = capture(|| {
        by_value(id).unwrap();
        by_reference(&id).unwrap();
        optional(Some(id)).unwrap();
        optional(None).unwrap();
        from_str(&id.to_string()).unwrap();
        from_str(&format!(" {} ", id.hyphenated())).unwrap();
        from_strings(id.simple().to_string(), Cow::Owned(id.to_string()))
    });
    assert_eq!(results.unwrap(), 32 + 36);
    let acted: Vec<Option<Uuid>> = events.iter().map(tidings::Event::acted_upon).collect();
    assert_eq!(
        acted,
        [
            Some(id),
            Some(id),
            Some(id),
            None,
            Some(id),
            Some(id),
            Some(id)
        ]
    );
    assert_eq!(events[6].user_id(), Some(id));
    assert!(
        events
            .iter()
            .all(|e| !e.metadata().contains_key("invalid_ids"))
    );
}

#[test]
fn an_unparsable_id_string_gives_no_id_and_is_kept_in_metadata() {
    let (result, events) = capture(|| from_str("conn-42"));
    assert!(result.is_ok(), "the call itself is not affected");
    assert_eq!(events[0].acted_upon(), None);
    assert_eq!(events[0].metadata()["invalid_ids"]["acted_upon"], "conn-42");
    assert_eq!(events[0].severity(), Severity::Success);
}

struct Service {
    system_id: Uuid,
    events: Emitter,
}

impl Service {
    #[emits_event(category = "system", action = "restart", system = self.system_id, emitter = self.events)]
    fn restart(&self) -> Result<(), PingError> {
        Ok(())
    }

    #[emits_event(category = "system", action = "restart", emitter = self.events)]
    fn restart_default_system(&self) -> Result<(), PingError> {
        Ok(())
    }
}

#[test]
fn system_overrides_and_emitter_chooses_where_events_go() {
    let service = Service {
        system_id: Uuid::new_v4(),
        events: Emitter::new(),
    };
    let all = service.events.subscribe_all();
    let (_, captured) = capture(|| {
        service.restart().unwrap();
        service.restart_default_system().unwrap();
    });
    assert!(captured.is_empty(), "the emitter key wins over the default");
    let events = all.drain();
    assert_eq!(events[0].system_id(), Some(service.system_id));
    assert_eq!(events[1].system_id(), Some(service.events.system_id()));
}

#[emits_event(category = "pattern", action = "view", success = "informational")]
fn quiet(fail: bool) -> Result<(), PingError> {
    if fail {
        return Err(PingError::refused());
    }
    Ok(())
}

#[emits_event(category = "pattern", action = "view", success = "debug")]
fn quieter() -> Result<(), PingError> {
    Ok(())
}

#[test]
fn success_chooses_the_ok_severity_and_err_stays_error() {
    let (_, events) = capture(|| {
        quiet(false).unwrap();
        quiet(true).unwrap_err();
        quieter().unwrap();
    });
    assert_eq!(events[0].severity(), Severity::Informational);
    assert_error(
        &events[1],
        "pattern",
        "view",
        "could not ping",
        &["connection refused"],
    );
    assert_eq!(events[2].severity(), Severity::Debug);
}

#[emits_event(
    category = "connection",
    action = "ping",
    description = "Pinged {name} ({count:>3} times, {{braces}})",
    error_description = "Could not ping {name}",
    doc = "https://docs.example.com/connections"
)]
fn described(mut name: String, count: u32) -> Result<String, PingError> {
    // The description shows the value the function received, not what the body made of it.
    name.push_str(" (changed)");
    if count == 0 {
        return Err(PingError::refused());
    }
    Ok(name)
}

#[emits_event(
    category = "entity",
    action = "get_summary",
    description = "Literal {{only}}"
)]
fn literal_braces() -> Result<(), PingError> {
    Ok(())
}

#[emits_event(category = "entity", action = "get_summary")]
fn defaults(fail: bool) -> Result<(), PingError> {
    if fail {
        return Err(PingError::refused());
    }
    Ok(())
}

#[test]
fn descriptions_placeholders_defaults_and_doc() {
    let (_, events) = capture(|| {
        described("minikube".into(), 7).unwrap();
        described("kind".into(), 0).unwrap_err();
        literal_braces().unwrap();
        defaults(false).unwrap();
        defaults(true).unwrap_err();
    });
    assert_eq!(
        events[0].description(),
        "Pinged minikube (  7 times, {braces})"
    );
    assert_eq!(
        events[0].metadata()["doc"],
        "https://docs.example.com/connections"
    );
    assert_eq!(events[1].description(), "Could not ping kind");
    assert_eq!(
        events[1].metadata()["doc"],
        "https://docs.example.com/connections"
    );
    assert_eq!(events[2].description(), "Literal {only}");
    assert_eq!(events[3].description(), "entity get summary succeeded");
    assert_eq!(events[4].description(), "entity get summary failed");
}

// ---- enriching the event in progress ----

#[emits_event(
    category = "pattern",
    action = "create",
    description = "Created a design"
)]
fn create_design(name: &str) -> Result<Uuid, PingError> {
    let id = Uuid::new_v4();
    current::set_acted_upon(id);
    current::meta("Design Name", name);
    current::metadata([("size", 3), ("layers", 2)]);
    record_in_helper();
    if name.is_empty() {
        return Err(PingError::refused());
    }
    current::set_description(format!("Created design {name}"));
    Ok(id)
}

/// A function the handler calls, which enriches the caller's event.
fn record_in_helper() {
    current::meta("helper", true);
}

#[emits_event(category = "pattern", action = "deploy")]
fn outer() -> Result<(), PingError> {
    current::meta("outer", 1);
    inner()?;
    current::meta("outer after inner", 2);
    Ok(())
}

#[emits_event(category = "pattern", action = "verify")]
fn inner() -> Result<(), PingError> {
    current::meta("inner", 1);
    Ok(())
}

#[test]
fn the_body_and_what_it_calls_enrich_the_event() {
    let (result, events) = capture(|| (create_design("mesh"), create_design("")));
    let id = result.0.unwrap();
    let ok = assert_success(&events[0], "pattern", "create");
    assert_eq!(ok.acted_upon(), Some(id));
    assert_eq!(ok.description(), "Created design mesh");
    assert_eq!(ok.metadata()["Design Name"], "mesh");
    assert_eq!(ok.metadata()["size"], 3);
    assert_eq!(ok.metadata()["helper"], true);
    let failed = assert_error(
        &events[1],
        "pattern",
        "create",
        "could not ping",
        &["connection refused"],
    );
    assert_eq!(failed.metadata()["Design Name"], "");
    assert_eq!(failed.description(), "pattern create failed");
    assert!(failed.acted_upon().is_some());
}

#[test]
fn nested_annotated_calls_enrich_their_own_events() {
    let (_, events) = capture(|| outer().unwrap());
    let inner = assert_success(&events[0], "pattern", "verify");
    let outer = assert_success(&events[1], "pattern", "deploy");
    assert_eq!(inner.metadata().keys().collect::<Vec<_>>(), ["inner"]);
    assert_eq!(
        outer.metadata().keys().collect::<Vec<_>>(),
        ["outer", "outer after inner"]
    );
}

#[emits_event(category = "pattern", action = "view")]
fn report_in_progress() -> Result<[bool; 4], PingError> {
    Ok([
        current::in_progress(),
        current::meta("k", "v"),
        current::set_acted_upon(Uuid::new_v4()),
        current::set_description("x"),
    ])
}

#[test]
fn enriching_says_whether_an_event_took_the_change() {
    let (inside, _) = capture(report_in_progress);
    assert_eq!(inside.unwrap(), [true; 4]);
    // Without an emitter nothing will be emitted, so nothing takes the change.
    assert_eq!(report_in_progress().unwrap(), [false; 4]);
}

#[emits_event(category = "pattern", action = "deploy")]
fn outer_with_silent_inner() -> Result<bool, PingError> {
    current::meta("outer", 1);
    let inner_took_it = silent_inner()?;
    Ok(inner_took_it)
}

/// An annotated call that emits nothing (its emitter is `None`) inside one that does.
#[emits_event(category = "pattern", action = "verify", emitter = None::<Emitter>)]
fn silent_inner() -> Result<bool, PingError> {
    Ok(current::meta("inner", 1))
}

#[test]
fn a_silent_inner_call_does_not_enrich_the_outer_event() {
    let (inner_took_it, events) = capture(outer_with_silent_inner);
    assert!(!inner_took_it.unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata().keys().collect::<Vec<_>>(), ["outer"]);
}

#[test]
fn enriching_outside_an_annotated_function_does_nothing() {
    assert!(!current::in_progress());
    assert!(!current::meta("k", "v"));
    assert!(!current::set_acted_upon(Uuid::new_v4()));
    assert!(!current::set_description("x"));
}

/// That nothing is evaluated or built without an emitter is observed, with side-effecting
/// arguments, by `tests/macro_promises.rs`.
#[test]
fn without_an_emitter_the_function_behaves_as_before() {
    assert!(!tidings::has_default());
    let id = create_design("mesh").unwrap();
    assert_ne!(id, Uuid::nil());
    assert_eq!(described("kind".into(), 2).unwrap(), "kind (changed)");
    assert!(!current::in_progress());
}

// ---- ErrorDetails and Display-only errors ----

#[derive(Debug)]
struct DetailedError;

impl fmt::Display for DetailedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cluster unreachable")
    }
}

impl std::error::Error for DetailedError {}

impl ErrorDetails for DetailedError {
    fn code(&self) -> Option<&str> {
        Some("meshery-server-1033")
    }
    fn suggested_remediations(&self) -> Vec<String> {
        vec!["Start the cluster".into()]
    }
}

#[derive(Debug)]
struct DisplayOnly;

impl fmt::Display for DisplayOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("display only")
    }
}

#[emits_event(category = "connection", action = "update")]
fn detailed() -> Result<(), DetailedError> {
    Err(DetailedError)
}

#[emits_event(category = "connection", action = "update")]
fn display_only() -> Result<(), DisplayOnly> {
    Err(DisplayOnly)
}

#[test]
fn err_picks_up_error_details_and_display_only_errors() {
    let (_, events) = capture(|| {
        detailed().unwrap_err();
        display_only().unwrap_err();
    });
    let err = &events[0].metadata()["err"];
    assert_eq!(err["message"], "cluster unreachable");
    assert_eq!(err["code"], "meshery-server-1033");
    assert_eq!(err["suggestedRemediations"][0], "Start the cluster");
    assert_error(&events[1], "connection", "update", "display only", &[]);
}

#[derive(Debug)]
enum DebugOnly {
    Refused {
        #[expect(dead_code, reason = "read by its Debug text only")]
        port: u16,
    },
}

struct Opaque;

#[emits_event(category = "connection", action = "update")]
fn debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly::Refused { port: 6443 })
}

#[emits_event(category = "connection", action = "update")]
fn opaque() -> Result<(), Opaque> {
    Err(Opaque)
}

#[emits_event(category = "connection", action = "update")]
fn unit_error() -> Result<(), ()> {
    Err(())
}

/// Every error type compiles: one that is only `Debug` gives its `Debug` text, one that is
/// neither `Display` nor `Debug` its type's name.
#[test]
fn err_of_an_error_that_is_only_debug_or_neither_says_what_it_can() {
    let (_, events) = capture(|| {
        debug_only().unwrap_err();
        let _ = opaque();
        unit_error().unwrap_err();
    });
    assert_error(
        &events[0],
        "connection",
        "update",
        "Refused { port: 6443 }",
        &[],
    );
    assert_error(
        &events[1],
        "connection",
        "update",
        "an error of type `macro_attribute::Opaque`",
        &[],
    );
    assert_error(&events[2], "connection", "update", "()", &[]);
}
