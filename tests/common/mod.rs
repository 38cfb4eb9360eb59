//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::error::Error;
use std::fmt;

use serde_json::{Value, json};
use tidings::{Event, Severity, Uuid};

/// A `pattern`/`deploy` event for `user`, numbered `n` in its metadata.
pub fn numbered_event(user: Uuid, n: usize) -> Event {
    Event::builder()
        .from_user(user)
        .category("pattern")
        .action("deploy")
        .meta("n", n)
        .build()
        .unwrap()
}

/// The number `numbered_event` gave an event.
pub fn number_of(event: &Event) -> usize {
    usize::try_from(event.metadata()["n"].as_u64().unwrap()).unwrap()
}

/// Asserts a `success` event of this category and action, and returns it.
pub fn assert_success<'a>(event: &'a Event, category: &str, action: &str) -> &'a Event {
    assert!(event.category() == category, "category: {event:?}");
    assert!(event.action() == action, "action: {event:?}");
    assert_eq!(event.severity(), Severity::Success, "{event:?}");
    assert!(event.metadata().get("err").is_none(), "{event:?}");
    event
}

/// Asserts an `error` event of this category and action whose `err` has this message and causes.
pub fn assert_error<'a>(
    event: &'a Event,
    category: &str,
    action: &str,
    message: &str,
    causes: &[&str],
) -> &'a Event {
    assert!(event.category() == category, "category: {event:?}");
    assert!(event.action() == action, "action: {event:?}");
    assert_eq!(event.severity(), Severity::Error, "{event:?}");
    let err = &event.metadata()["err"];
    assert_eq!(err["message"], Value::from(message), "{event:?}");
    assert_eq!(err["causes"], json!(causes), "{event:?}");
    event
}

/// An error with one cause.
#[derive(Debug)]
pub struct PingError {
    pub source: std::io::Error,
}

impl PingError {
    pub fn refused() -> Self {
        PingError {
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ),
        }
    }
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not ping")
    }
}

impl Error for PingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}
