//! The event as JSON: MeshKit's field names, RFC 3339 UTC timestamps, omitted optional ids, and
//! deserialization errors that name the field and the value.

use serde_json::{Value, json};
use tidings::{Event, Severity, Status, Uuid};

fn full_event() -> Event {
    Event::builder()
        .from_user(Uuid::new_v4())
        .from_system(Uuid::new_v4())
        .acted_upon(Uuid::new_v4())
        .category("connection")
        .action("ping")
        .severity(Severity::Success)
        .description("Kubernetes context minikube pinged")
        .meta("Context Name", "minikube")
        .build()
        .unwrap()
}

#[test]
fn round_trip_keeps_every_field() {
    let event = full_event();
    let text = serde_json::to_string(&event).unwrap();
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, event);
    assert_eq!(back.created_at(), event.created_at());
}

#[test]
fn exact_field_names() {
    let event = full_event();
    let json = serde_json::to_value(&event).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "actedUpon",
            "action",
            "category",
            "count",
            "createdAt",
            "description",
            "id",
            "metadata",
            "operationId",
            "severity",
            "status",
            "systemId",
            "updatedAt",
            "userId",
        ]
    );
    assert_eq!(json["count"], 1, "1 when nothing was folded");
    assert_eq!(json["id"], event.id().to_string());
    assert_eq!(json["userId"], event.user_id().unwrap().to_string());
    assert_eq!(json["severity"], "success");
    assert_eq!(json["status"], "unread");
    assert_eq!(json["metadata"], json!({"Context Name": "minikube"}));
}

#[test]
fn timestamps_are_rfc3339_utc() {
    let event = full_event();
    let json = serde_json::to_value(&event).unwrap();
    for (field, at) in [
        ("createdAt", event.created_at()),
        ("updatedAt", event.updated_at()),
    ] {
        let text = json[field].as_str().unwrap();
        assert!(text.ends_with('Z'), "{field} = {text}: UTC, written as Z");
        let parsed =
            tidings::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("{field} = {text} is not RFC 3339: {e}"));
        assert_eq!(parsed, at, "{field} = {text} is the event's time");
        assert!(parsed.offset().is_utc());
    }
}

#[test]
fn absent_optional_ids_are_omitted_not_nil() {
    let event = Event::builder()
        .category("system")
        .action("start")
        .build()
        .unwrap();
    let json = serde_json::to_value(&event).unwrap();
    for field in ["userId", "actedUpon", "systemId"] {
        assert!(json.get(field).is_none(), "{field} present: {json}");
    }
    assert!(!json.to_string().contains(&Uuid::nil().to_string()));
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back.user_id(), None);
}

fn with_field(field: &str, value: Value) -> String {
    let mut json = serde_json::to_value(full_event()).unwrap();
    json[field] = value;
    json.to_string()
}

#[test]
fn unknown_severity_is_named() {
    let err = serde_json::from_str::<Event>(&with_field("severity", json!("fatal"))).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown severity \"fatal\""), "{msg}");
    assert!(msg.contains("informational"), "{msg}");
}

#[test]
fn non_snake_case_names_are_named() {
    let err =
        serde_json::from_str::<Event>(&with_field("category", json!("Connection"))).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("invalid category \"Connection\""), "{msg}");
    assert!(msg.contains("did you mean \"connection\""), "{msg}");

    let err =
        serde_json::from_str::<Event>(&with_field("action", json!("signup-request"))).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid action \"signup-request\""),
        "{err}"
    );
}

#[test]
fn unknown_status_is_named() {
    let err = serde_json::from_str::<Event>(&with_field("status", json!("seen"))).unwrap_err();
    assert!(err.to_string().contains("unknown status \"seen\""), "{err}");
}

#[test]
fn every_severity_string() {
    let names = [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "informational",
        "debug",
        "success",
    ];
    for name in names {
        let severity: Severity = name.parse().unwrap();
        assert_eq!(severity.to_string(), name);
        assert_eq!(serde_json::to_value(severity).unwrap(), name);
        assert_eq!(
            serde_json::from_value::<Severity>(json!(name)).unwrap(),
            severity
        );
    }
    assert_eq!(Severity::ALL.map(Severity::as_str), names);
    assert_eq!(serde_json::to_value(Status::Read).unwrap(), "read");
}

/// Found by the `event_json` fuzz target: a metadata number read from JSON must read back the
/// same after the event is written again (as a store that keeps JSON text does), not drift by
/// one unit in the last place.
#[test]
fn metadata_numbers_survive_a_second_round_trip() {
    let text = r#"{"id":"0b6a3f5e-8d7c-4b1a-9f2e-3c4d5e6f7a8b","operationId":"4f5a6b7c-8d9e-4f0a-1b2c-3d4e5f6a7b8c","category":"connection","action":"ping","severity":"error","status":"unread","description":"","metadata":{"load":99999999999994.11,"ratio":0.30000000000000004},"createdAt":"2026-11-28T21:52:55.123456Z","updatedAt":"2026-11-28T21:52:55.123456Z"}"#;
    let first: Event = serde_json::from_str(text).unwrap();
    let second: Event = serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
    assert_eq!(second, first);
    assert_eq!(first.metadata()["load"], json!(99_999_999_999_994.11));
}
