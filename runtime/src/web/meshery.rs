//! Meshery's error shape: what Meshery's UI reads under `metadata.error`, derived from the
//! event's [`ErrorReport`](crate::ErrorReport).

use serde_json::{Value, json};

use crate::event::Event;
use crate::severity::Severity;

/// The event's error in MeshKit's shape (`Code`, `Severity`, `ShortDescription`,
/// `LongDescription`, `ProbableCause`, `SuggestedRemediation`); `None` for an event without one.
///
/// MeshKit's `Severity` is a number: 3 for emergency, 2 critical, 1 alert and error, 0 the
/// others. `LongDescription` is the report's long description, or else its causes.
pub(super) fn error(event: &Event) -> Option<Value> {
    let report = event.error_report()?;
    let long = match report.long_description {
        Some(text) => vec![text],
        None => report.causes,
    };
    let level = match event.severity() {
        Severity::Emergency => 3,
        Severity::Critical => 2,
        Severity::Alert | Severity::Error => 1,
        _ => 0,
    };
    Some(json!({
        "Code": report.code.unwrap_or_default(),
        "Severity": level,
        "ShortDescription": [report.message],
        "LongDescription": long,
        "ProbableCause": report.probable_causes,
        "SuggestedRemediation": report.suggested_remediations,
    }))
}
