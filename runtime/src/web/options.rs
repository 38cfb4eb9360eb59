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
    pub(super) counts_interval: Duration,
    pub(super) meshery_errors: bool,
    pub(super) max_page_size: usize,
    pub(super) max_bulk_ids: usize,
    pub(super) max_streams_per_user: usize,
    pub(super) max_streams: usize,
    pub(super) max_replay_bytes: usize,
    pub(super) max_event_bytes: usize,
    pub(super) shutdown_deadline: Duration,
    pub(super) store_threads: usize,
    pub(super) nonblocking_store_calls: usize,
    pub(super) max_queued_store_calls: usize,
}

/// How often at most a live stream that asked for counts (`/subscribe?counts=true`) is sent
/// `event: counts` unless told otherwise: once a second. The changes in between are folded into
/// the next frame, which reads the store once.
pub const DEFAULT_COUNTS_INTERVAL: Duration = Duration::from_secs(1);

/// How long a shutdown waits for live streams to drain unless told otherwise: 10 seconds.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The most events one list answer holds unless told otherwise: 200 (`pagesize=all` too). An
/// event holds at most 64 KiB, so an answer is built in well under 64 MB.
pub const DEFAULT_MAX_PAGE_SIZE: usize = 200;
/// The most ids one bulk request takes unless told otherwise: 10,000.
pub const DEFAULT_MAX_BULK_IDS: usize = 10_000;
/// The most live streams one user has open at once unless told otherwise: 16.
pub const DEFAULT_MAX_STREAMS_PER_USER: usize = 16;
/// The most live streams one router has open at once unless told otherwise: 10,000.
pub const DEFAULT_MAX_STREAMS: usize = 10_000;
/// How many store calls a router runs at once unless told otherwise: 4. It bounds how many
/// answers read from the store are held at once: with 8, five resumes of large events read at
/// once grew the server by 68 MB (the hostile probes' limit is 64); with 4, 46.
pub const DEFAULT_STORE_THREADS: usize = 4;
/// How many calls of a nonblocking store a router awaits at once unless told otherwise: 8, as
/// many as the PostgreSQL store's pool has connections (more would wait for one). Measured
/// against 4 (issue #29, BENCHMARKS.md): with 4, the runtime's worker went idle three times as
/// often a request and answered 0.78x to 0.83x the hand-written server's requests; with 8,
/// 0.96x. Five resumes read at once grew the server by 13 to 23 MB.
pub const DEFAULT_NONBLOCKING_STORE_CALLS: usize = 8;
/// How many store calls may wait for their turn unless told otherwise: 1,024.
pub const DEFAULT_MAX_QUEUED_STORE_CALLS: usize = 1_024;
/// The most a resuming stream replays, in bytes of JSON, unless told otherwise: 4 MiB.
pub const DEFAULT_MAX_REPLAY_BYTES: usize = 4 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_alive: DEFAULT_KEEP_ALIVE,
            counts_interval: DEFAULT_COUNTS_INTERVAL,
            meshery_errors: false,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            max_bulk_ids: DEFAULT_MAX_BULK_IDS,
            max_streams_per_user: DEFAULT_MAX_STREAMS_PER_USER,
            max_streams: DEFAULT_MAX_STREAMS,
            max_replay_bytes: DEFAULT_MAX_REPLAY_BYTES,
            store_threads: DEFAULT_STORE_THREADS,
            nonblocking_store_calls: DEFAULT_NONBLOCKING_STORE_CALLS,
            max_queued_store_calls: DEFAULT_MAX_QUEUED_STORE_CALLS,
            max_event_bytes: crate::MAX_EVENT_BYTES,
            shutdown_deadline: DEFAULT_SHUTDOWN_DEADLINE,
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

    /// The least time between two `event: counts` frames of one live stream (default
    /// [`DEFAULT_COUNTS_INTERVAL`]): after a change of the user's counts, a stream that asked
    /// for them (`/subscribe?counts=true`) reads them once the interval since its last frame
    /// has passed, so a burst of changes costs one read of the store per stream and interval.
    pub fn counts_interval(mut self, interval: Duration) -> Self {
        self.counts_interval = interval;
        self
    }

    /// The counts interval.
    pub fn counts_interval_value(&self) -> Duration {
        self.counts_interval
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

    /// The most events one list answer holds (default [`DEFAULT_MAX_PAGE_SIZE`]; at least 1):
    /// a larger `pagesize`, and `all`, get this many, and the answer says `"capped": true`.
    pub fn max_page_size(mut self, events: usize) -> Self {
        self.max_page_size = events.max(1);
        self
    }

    /// The most ids a bulk request (`PUT /status/bulk`, `DELETE /bulk`) takes (default
    /// [`DEFAULT_MAX_BULK_IDS`]); more is a 413 naming the limit.
    pub fn max_bulk_ids(mut self, ids: usize) -> Self {
        self.max_bulk_ids = ids;
        self
    }

    /// The most live streams one user has open at once (default
    /// [`DEFAULT_MAX_STREAMS_PER_USER`]); one more is a 429 with `Retry-After`.
    pub fn max_streams_per_user(mut self, streams: usize) -> Self {
        self.max_streams_per_user = streams;
        self
    }

    /// How many threads the router reaches its store from (default [`DEFAULT_STORE_THREADS`]):
    /// a fixed set, started with the router, outside the async runtime, so that a store call
    /// neither holds an executor thread nor starts a thread of its own. As many store calls run
    /// at once, each holding what it read: more threads take more memory at a peak. A store
    /// with an async client is awaited instead (see
    /// [`nonblocking_store_calls`](Self::nonblocking_store_calls)); its threads then serve only
    /// the wait for a created event to be stored.
    pub fn store_threads(mut self, threads: usize) -> Self {
        self.store_threads = threads.max(1);
        self
    }

    /// How many calls of a store with an async client
    /// ([`EventStore::nonblocking`](crate::EventStore::nonblocking), PostgreSQL's) the router
    /// awaits at once (default [`DEFAULT_NONBLOCKING_STORE_CALLS`]; at least 1), each holding
    /// what it read; the others wait their turn, within
    /// [`max_queued_store_calls`](Self::max_queued_store_calls).
    pub fn nonblocking_store_calls(mut self, calls: usize) -> Self {
        self.nonblocking_store_calls = calls.max(1);
        self
    }

    /// How many store calls may wait for their turn (default
    /// [`DEFAULT_MAX_QUEUED_STORE_CALLS`]); one more is a 503 with `Retry-After`.
    pub fn max_queued_store_calls(mut self, calls: usize) -> Self {
        self.max_queued_store_calls = calls.max(1);
        self
    }

    /// The most live streams the router has open at once, all users together (default
    /// [`DEFAULT_MAX_STREAMS`]); one more is a 429 with `Retry-After`.
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// The most a reconnecting stream replays of what it missed, in bytes of the events' JSON
    /// (default [`DEFAULT_MAX_REPLAY_BYTES`]), besides at most
    /// [`MAX_REPLAY`](super::MAX_REPLAY) events: past either, the stream sends `event: reload`
    /// and goes on live. The replay is read and sent a part at a time, never held whole.
    pub fn max_replay_bytes(mut self, bytes: usize) -> Self {
        self.max_replay_bytes = bytes;
        self
    }

    /// The most a client event (`POST /`) holds, in bytes of its description and metadata
    /// (default [`MAX_EVENT_BYTES`](crate::MAX_EVENT_BYTES), which says how they are counted);
    /// more is a 413 naming the field that holds most of it.
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// How long after the shutdown signal [`Shutdown::deadline`](super::Shutdown::deadline)
    /// resolves (default [`DEFAULT_SHUTDOWN_DEADLINE`]): live streams that did not drain by
    /// then (a client that stopped reading) no longer hold the process.
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }
}
