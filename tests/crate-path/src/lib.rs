//! `#[emits_event(crate = ...)]` for a crate that knows tidings under another name: here the
//! dependency is renamed to `my_tidings` in Cargo.toml, and also re-exported as
//! `crate::reexport::tidings`, as a framework crate would.

/// tidings re-exported under a path of this crate.
pub mod reexport {
    pub use my_tidings as tidings;
}

use my_tidings::emits_event;

/// Annotated through the renamed dependency.
///
/// # Errors
/// When `fail` is set.
#[emits_event(crate = ::my_tidings, category = "connection", action = "ping")]
pub fn through_renamed_dependency(fail: bool) -> Result<u8, std::io::Error> {
    if fail {
        return Err(std::io::Error::other("unreachable"));
    }
    Ok(1)
}

/// Annotated through a re-export.
///
/// # Errors
/// Never.
#[reexport::tidings::emits_event(crate = crate::reexport::tidings, category = "pattern", action = "deploy")]
pub async fn through_reexport() -> Result<u8, std::io::Error> {
    Ok(2)
}

#[cfg(test)]
mod tests {
    use my_tidings::Severity;
    use my_tidings::testing::capture;

    #[test]
    fn the_crate_path_override_reaches_the_runtime() {
        let (results, events) = capture(|| {
            (
                super::through_renamed_dependency(false),
                super::through_renamed_dependency(true),
                futures_lite_block_on(super::through_reexport()),
            )
        });
        assert_eq!(results.0.unwrap(), 1);
        assert!(results.1.is_err());
        assert_eq!(results.2.unwrap(), 2);
        let summary: Vec<(&str, &str, Severity)> = events
            .iter()
            .map(|e| (e.category().as_str(), e.action().as_str(), e.severity()))
            .collect();
        assert_eq!(
            summary,
            [
                ("connection", "ping", Severity::Success),
                ("connection", "ping", Severity::Error),
                ("pattern", "deploy", Severity::Success),
            ]
        );
        assert_eq!(events[1].metadata()["err"]["message"], "unreachable");
    }

    /// Polls a future that never waits (enough for this test; no executor dependency).
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the future was expected to be ready"),
        }
    }
}
