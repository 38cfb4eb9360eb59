//! The emitter's health, for operators: whether events can be stored and delivered now.

use std::fmt;
use std::time::Duration;

/// What [`Emitter::health`](crate::Emitter::health) reports.
///
/// ```
/// let events = tidings_runtime::Emitter::new();
/// let health = events.health();
/// assert!(health.is_ready(), "{health}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The background writer, when the emitter has one.
    pub writer: Option<WriterHealth>,
    /// Whether the store failed its last write (an outage goes on).
    pub store_failing: bool,
    /// How many events failed since the store last stored one.
    pub failed_in_outage: u64,
    /// The store's feed (PostgreSQL's listener), when it has one.
    pub feed: Option<FeedHealth>,
}

/// The background writer's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterHealth {
    /// Its thread runs.
    pub alive: bool,
    /// Events queued now.
    pub queued: usize,
    /// The queue's capacity.
    pub capacity: usize,
    /// How long ago it last finished a batch; `None` before its first.
    pub last_batch: Option<Duration>,
}

/// A store's feed's state (see [`Feed::health`](crate::Feed::health)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FeedHealth {
    /// Its connection is up.
    pub connected: bool,
    /// Events this instance stored that it has not published yet.
    pub behind: u64,
}

impl FeedHealth {
    /// A feed's state.
    pub fn new(connected: bool, behind: u64) -> Self {
        FeedHealth { connected, behind }
    }
}

impl Health {
    /// Whether events can be stored and delivered now: the writer (if any) runs and its queue
    /// is not full, the store did not fail its last write, and the feed (if any) is connected.
    pub fn is_ready(&self) -> bool {
        self.reason().is_none()
    }

    /// Why it is not ready; `None` when it is.
    pub fn reason(&self) -> Option<String> {
        if let Some(writer) = &self.writer {
            if !writer.alive {
                return Some("the background writer has stopped".to_owned());
            }
            if writer.queued >= writer.capacity {
                return Some(format!(
                    "the writer's queue is full ({} events)",
                    writer.capacity
                ));
            }
        }
        if self.store_failing {
            return Some(format!(
                "the event store is failing ({} events not stored since it last stored one)",
                self.failed_in_outage
            ));
        }
        if let Some(feed) = &self.feed
            && !feed.connected
        {
            return Some(format!(
                "the store's feed has lost its connection ({} events not published yet)",
                feed.behind
            ));
        }
        None
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            None => f.write_str("ready"),
            Some(reason) => write!(f, "not ready: {reason}"),
        }
    }
}
