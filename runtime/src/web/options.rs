//! How a router behaves where the defaults do not suit.

use std::time::Duration;

/// How often a live stream sends a keep-alive comment unless told otherwise: 15 seconds.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How the events API behaves where the defaults do not suit; for [`router_with`](super::router_with).
///
/// ```
/// use std::time::Duration;
///
/// let options = tidings_runtime::web::Options::default().keep_alive(Duration::from_secs(30));
/// assert_eq!(options.keep_alive_interval(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(super) keep_alive: Duration,
    pub(super) meshery_errors: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_alive: DEFAULT_KEEP_ALIVE,
            meshery_errors: false,
        }
    }
}

impl Options {
    /// How often a live stream sends a comment when it has nothing else to send, so that
    /// proxies keep the connection open (default [`DEFAULT_KEEP_ALIVE`]).
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// The keep-alive interval.
    pub fn keep_alive_interval(&self) -> Duration {
        self.keep_alive
    }

    /// Serves each error event with `metadata.error` as well, derived from `err` in the shape
    /// of MeshKit's error type, which Meshery's UI reads for its error details: `Code`,
    /// `Severity` (MeshKit's number: 3 for emergency, 2 critical, 1 alert and error, 0 the
    /// others), `ShortDescription` (the message), `LongDescription` (the long description, or
    /// the causes), `ProbableCause` and `SuggestedRemediation`. `err` stays the one stored
    /// source; `error` is made when an event is served (the list, one event, a created event,
    /// the live stream). Off by default; mount a second router with it where Meshery's UI
    /// reads (`/api/system/events`).
    pub fn meshery_errors(mut self, on: bool) -> Self {
        self.meshery_errors = on;
        self
    }
}
