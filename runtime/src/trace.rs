//! The tracing bridge (feature `tracing`): every emitted event is also a `tracing` event, on
//! the thread that emits it, inside the span current there.

use tracing::Level;

use crate::event::Event;
use crate::severity::Severity;

/// The target of every `tracing` event tidings records.
pub const TARGET: &str = "tidings";

/// The `tracing` level of a severity: emergency, alert, critical and error are `ERROR`;
/// warning is `WARN`; informational and success are `INFO`; debug is `DEBUG`.
pub fn level(severity: Severity) -> Level {
    match severity {
        Severity::Emergency | Severity::Alert | Severity::Critical | Severity::Error => {
            Level::ERROR
        }
        Severity::Warning => Level::WARN,
        Severity::Informational | Severity::Success => Level::INFO,
        Severity::Debug => Level::DEBUG,
    }
}

/// Records `event`. With no subscriber interested in its level and target, this is the
/// level check `tracing` makes for every event, and nothing else.
pub(crate) fn record(event: &Event) {
    macro_rules! record {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                category = event.category().as_str(),
                action = event.action().as_str(),
                severity = event.severity().as_str(),
                event.id = %event.id(),
                user.id = event.user_id().map(tracing::field::display),
                acted_upon = event.acted_upon().map(tracing::field::display),
                description = event.description(),
                err.message = error_message(event).map(tracing::field::display),
                err.causes = error_causes(event).map(tracing::field::display),
            )
        };
    }
    match level(event.severity()) {
        Level::ERROR => record!(Level::ERROR),
        Level::WARN => record!(Level::WARN),
        Level::INFO => record!(Level::INFO),
        _ => record!(Level::DEBUG),
    }
}

/// The message of the event's error report.
fn error_message(event: &Event) -> Option<String> {
    event.error_report().map(|report| report.message)
}

/// The causes of the event's error report, outermost first, joined with `": "`.
fn error_causes(event: &Event) -> Option<String> {
    let causes = event.error_report()?.causes;
    (!causes.is_empty()).then(|| causes.join(": "))
}
