//! Generated code is clean under the strictest settings a user may have: this file denies every
//! rustc warning, and CI's clippy run (`.ci/run`) checks it with `-D warnings` plus the pedantic
//! group and `clippy::implicit_return`, a restriction lint that clippy keeps finding in
//! generated code. The user's own `dead_code` and `unused_variables` still fire on annotated
//! functions: `tests/ui/user_lints_still_fire.rs` shows it.
#![deny(warnings)]
#![warn(clippy::pedantic, clippy::implicit_return)]
#![allow(clippy::needless_return)]

use std::error::Error;
use std::fmt;

use tidings::{Emitter, Uuid, current, emits_event, testing::capture};

#[derive(Debug)]
pub struct LintError;

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        return f.write_str("lint error");
    }
}

impl Error for LintError {}

pub struct Service {
    pub events: Emitter,
    pub system: Uuid,
}

impl Service {
    /// Every key of the attribute at once.
    ///
    /// # Errors
    /// When `fail` is set.
    #[emits_event(
        category = "connection",
        action = "ping",
        acted_upon = connection_id,
        user = user,
        system = self.system,
        description = "Pinged {connection_id}",
        error_description = "Could not ping {connection_id}",
        success = "informational",
        doc = "https://docs.example.com/connections",
        emitter = self.events,
        crate = ::tidings,
    )]
    pub fn ping(&self, user: Uuid, connection_id: Uuid, fail: bool) -> Result<u8, LintError> {
        if fail {
            return Err(LintError);
        }
        current::meta("checked", true);
        return Ok(1);
    }

    /// An async method.
    ///
    /// # Errors
    /// When `fail` is set.
    #[emits_event(category = "pattern", action = "deploy", emitter = self.events)]
    pub async fn deploy(&self, fail: bool) -> Result<u8, LintError> {
        if fail {
            return Err(LintError);
        }
        return Ok(2);
    }
}

/// A free function with the default emitter.
///
/// # Errors
/// When `fail` is set.
#[emits_event(category = "pattern", action = "view")]
pub fn view(fail: bool) -> Result<Vec<u8>, LintError> {
    if fail {
        return Err(LintError);
    }
    return Ok(vec![1, 2]);
}

#[test]
fn strict_lints_pass_and_events_are_emitted() {
    let service = Service {
        events: Emitter::new(),
        system: Uuid::new_v4(),
    };
    let user = Uuid::new_v4();
    let tab = service.events.subscribe(user);
    assert!(service.ping(user, Uuid::new_v4(), false).is_ok());
    assert!(service.ping(user, Uuid::new_v4(), true).is_err());
    let events = tab.drain();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].severity(), tidings::Severity::Informational);
    assert_eq!(events[0].system_id(), Some(service.system));
    assert_eq!(events[1].severity(), tidings::Severity::Error);

    let all = service.events.subscribe_all();
    let done = futures::executor::block_on(service.deploy(false));
    assert_eq!(done.ok(), Some(2));
    assert_eq!(all.drain().len(), 1);

    let (result, events) = capture(|| return view(true));
    assert!(result.is_err());
    assert_eq!(events.len(), 1);
}
