//! The event: what the server did, for whom, and how it went.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::name::{Action, Category};
use crate::report::ErrorReport;
use crate::severity::{Severity, Status};

/// The metadata key of the error of an error event (from `tidings-rules`).
pub const ERR_KEY: &str = tidings_rules::ERR_KEY;
/// The metadata key of a documentation link (from `tidings-rules`).
pub const DOC_KEY: &str = tidings_rules::DOC_KEY;

mod repeat;
mod size;

pub(crate) use repeat::RepeatRule;
pub use repeat::{Repeat, RepeatOutcome};
pub use size::{MAX_EVENT_BYTES, TRUNCATED_KEY};
pub(crate) use size::{fit, weight};

/// One thing the server did on a user's behalf (a port of MeshKit's `Event`).
///
/// Events are made with [`Event::builder`] (or by `#[emits_event]`), delivered by an
/// [`Emitter`](crate::Emitter), and read through the methods below. As JSON, the field names are
/// MeshKit's camelCase ones; absent optional ids are omitted, timestamps are RFC 3339 in UTC:
///
/// ```
/// use tidings_runtime::{Event, Severity};
///
/// let event = Event::builder()
///     .category("connection")
///     .action("ping")
///     .severity(Severity::Success)
///     .description("Kubernetes context pinged")
///     .build()?;
/// assert!(event.category() == "connection");
/// let json = serde_json::to_value(&event)?;
/// assert_eq!(json["severity"], "success");
/// assert!(json.get("userId").is_none());
/// let back: Event = serde_json::from_value(json)?;
/// assert_eq!(back, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    id: Uuid,
    operation_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    system_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acted_upon: Option<Uuid>,
    category: Category,
    action: Action,
    severity: Severity,
    #[serde(default)]
    status: Status,
    #[serde(default)]
    description: Cow<'static, str>,
    #[serde(default)]
    metadata: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// How many times it happened: 1, plus one for each repeat folded into it
    /// ([`Repeat::Coalesce`]).
    #[serde(default = "one")]
    count: u32,
    /// What a store does when it repeats an earlier event: how it is delivered, not part of
    /// the event (neither stored, serialized nor compared).
    #[serde(skip)]
    repeat: RepeatRule,
}

fn one() -> u32 {
    1
}

/// What a new event is made of, before [`Event::assemble`] gives it its id, times and status.
pub(crate) struct NewEvent {
    pub user_id: Option<Uuid>,
    pub system_id: Option<Uuid>,
    pub acted_upon: Option<Uuid>,
    /// `None`: the event is an operation of its own.
    pub operation_id: Option<Uuid>,
    pub category: Category,
    pub action: Action,
    pub severity: Severity,
    pub description: Cow<'static, str>,
    pub metadata: Map<String, Value>,
    pub repeat: Repeat,
}

/// The system id an event is delivered with: its own when it has one, else the emitter's. The
/// one place that decides it, for built events ([`Event::with_default_system`]) and for
/// `#[emits_event]`'s, which are assembled with it.
#[inline]
pub(crate) fn delivered_system(own: Option<Uuid>, emitter: Uuid) -> Uuid {
    own.unwrap_or(emitter)
}

/// Puts an error's report under [`ERR_KEY`]: the one place that says where an error event
/// keeps its error.
pub(crate) fn put_error(metadata: &mut Map<String, Value>, report: ErrorReport) {
    let value = serde_json::to_value(report).unwrap_or(Value::Null);
    metadata.insert(ERR_KEY.to_owned(), value);
}

/// Puts a documentation link under [`DOC_KEY`].
pub(crate) fn put_doc(metadata: &mut Map<String, Value>, url: String) {
    metadata.insert(DOC_KEY.to_owned(), Value::String(url));
}

/// Every field of an event, for rebuilding one that was stored: what an [`EventStore`] of an
/// application's own reads back ([`Event::from_parts`]).
///
/// [`EventStore`]: crate::EventStore
///
/// ```
/// use tidings_runtime::{Event, EventParts};
///
/// let event = Event::builder().category("connection").action("ping").build()?;
/// let parts: EventParts = event.clone().into_parts();
/// assert_eq!(Event::from_parts(parts), event);
/// # Ok::<(), tidings_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // The fields are the event's, documented on its accessors.
pub struct EventParts {
    pub id: Uuid,
    pub operation_id: Uuid,
    pub user_id: Option<Uuid>,
    pub system_id: Option<Uuid>,
    pub acted_upon: Option<Uuid>,
    pub category: Category,
    pub action: Action,
    pub severity: Severity,
    pub status: Status,
    pub description: Cow<'static, str>,
    pub metadata: Map<String, Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// 1, plus one for each repeat folded into the event.
    pub count: u32,
}

/// The current time at the precision every store keeps: microseconds (PostgreSQL's). An event
/// read back from any store then equals the event that was made, and a live event equals the
/// stored one.
pub(crate) fn now() -> OffsetDateTime {
    at(since_epoch())
}

/// The time since the Unix epoch, in microseconds: one clock read. A clock before 1970 reads
/// as the epoch.
fn since_epoch() -> std::time::Duration {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::time::Duration::new(since.as_secs(), since.subsec_micros() * 1_000)
}

fn at(since: std::time::Duration) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + since
}

/// A fresh event id and the event's time, from one clock read: the id is a version 7 UUID (RFC
/// 9562), whose first 48 bits are the millisecond and the other 74 random. Ids made later sort
/// after (to the millisecond), so a store's id index grows at its end instead of at random
/// places; nothing relies on that order, which the stores keep themselves.
///
/// The 74 random bits are the last ten bytes of a version 4 id, from uuid's own generator: a v4
/// id has its version and variant bits exactly where a v7 id has them, and the builder
/// overwrites both. This is `Uuid::new_v7` without its counter and timestamp conversions, which
/// tidings does not use (measured in BENCHMARKS.md, "Per call").
fn fresh_id_and_now() -> (Uuid, OffsetDateTime) {
    let since = since_epoch();
    let millis = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    let [_, _, _, _, _, _, random @ ..] = Uuid::new_v4().into_bytes();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    (id, at(since))
}

impl Event {
    /// Makes a new event: the one place where an event gets its fresh id, its operation id (its
    /// own id unless it joins an operation), its times (one clock read for the id and both
    /// times, in microseconds: see `fresh_id_and_now`) and its status (unread). The builder and
    /// `#[emits_event]` both come here.
    #[inline]
    pub(crate) fn assemble(new: NewEvent) -> Event {
        let (id, now) = fresh_id_and_now();
        Event {
            id,
            operation_id: new.operation_id.unwrap_or(id),
            user_id: new.user_id,
            system_id: new.system_id,
            acted_upon: new.acted_upon,
            category: new.category,
            action: new.action,
            severity: new.severity,
            status: Status::Unread,
            description: new.description,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
            count: 1,
            repeat: RepeatRule(new.repeat),
        }
    }

    /// Rebuilds an event from its parts, as they were stored: its id, status and times are
    /// kept. For stores; new events come from [`Event::builder`].
    pub fn from_parts(parts: EventParts) -> Event {
        let EventParts {
            id,
            operation_id,
            user_id,
            system_id,
            acted_upon,
            category,
            action,
            severity,
            status,
            description,
            metadata,
            created_at,
            updated_at,
            count,
        } = parts;
        Event {
            id,
            operation_id,
            user_id,
            system_id,
            acted_upon,
            category,
            action,
            severity,
            status,
            description,
            metadata,
            created_at,
            updated_at,
            count: count.max(1),
            repeat: RepeatRule::default(),
        }
    }

    /// The event's parts, to store them.
    pub fn into_parts(self) -> EventParts {
        let Event {
            id,
            operation_id,
            user_id,
            system_id,
            acted_upon,
            category,
            action,
            severity,
            status,
            description,
            metadata,
            created_at,
            updated_at,
            count,
            repeat: _,
        } = self;
        EventParts {
            id,
            operation_id,
            user_id,
            system_id,
            acted_upon,
            category,
            action,
            severity,
            status,
            description,
            metadata,
            created_at,
            updated_at,
            count,
        }
    }

    /// The event as an emitter delivers it: with `system` as its system id when it has none.
    pub(crate) fn with_default_system(mut self, system: Uuid) -> Event {
        self.system_id = Some(delivered_system(self.system_id, system));
        self
    }

    /// The event's own id: a fresh UUID for every built event, version 7 (time-ordered to the
    /// millisecond). Treat it as opaque: it names the event, and nothing else may be read
    /// from it.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The id of the operation the event belongs to: the event's own id unless the builder
    /// grouped several events under one ([`EventBuilder::operation_id`](crate::EventBuilder::operation_id)).
    pub fn operation_id(&self) -> Uuid {
        self.operation_id
    }

    /// The user the event is for; `None` for system events.
    pub fn user_id(&self) -> Option<Uuid> {
        self.user_id
    }

    /// The server instance that produced the event. An [`Emitter`](crate::Emitter) sets it when
    /// the builder did not, so every delivered event has one.
    pub fn system_id(&self) -> Option<Uuid> {
        self.system_id
    }

    /// The resource the event is about, when there is one.
    pub fn acted_upon(&self) -> Option<Uuid> {
        self.acted_upon
    }

    /// The event's category, such as `connection`. Compares with `&str`.
    pub fn category(&self) -> &Category {
        &self.category
    }

    /// The event's action, such as `ping`. Compares with `&str`.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// How urgent the event is.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Whether the user has read the event; new events are unread.
    pub fn status(&self) -> Status {
        self.status
    }

    /// A sentence for people.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The event's metadata: `err` holds the error of an error event, `doc` a documentation link.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The error of an error event, read back from its [`ERR_KEY`] entry; `None` when it has
    /// none.
    ///
    /// The entry is read leniently: a field that is missing or not of its type (an event a
    /// client posted) is empty, so an `err` that is not a report still gives its message where
    /// it has one.
    ///
    /// ```
    /// use tidings_runtime::Event;
    ///
    /// let failure = std::io::Error::other("connection refused");
    /// let event = Event::builder().category("connection").action("ping").err(&failure).build()?;
    /// assert_eq!(event.error_report().unwrap().message, "connection refused");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error_report(&self) -> Option<ErrorReport> {
        let err = self.metadata.get(ERR_KEY)?;
        let text = |key: &str| err.get(key).and_then(Value::as_str).map(str::to_owned);
        let texts = |key: &str| -> Vec<String> {
            err.get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut report = ErrorReport::from_message(text("message").unwrap_or_default());
        report.causes = texts("causes");
        report.code = text("code");
        report.long_description = text("longDescription");
        report.probable_causes = texts("probableCauses");
        report.suggested_remediations = texts("suggestedRemediations");
        Some(report)
    }

    /// When the event was made (UTC).
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// When the event last changed (its status, or a repeat folded into it), in UTC.
    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    /// How many times it happened: 1, plus one for each repeat folded into it
    /// ([`Repeat::Coalesce`]). Served as `count`.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// What a store does when this event repeats an earlier one of its kind (the attribute's
    /// `coalesce` and `emit_on = "change"`, the builder's [`coalesce`] and [`on_change`]).
    /// Not stored: an event read back from a store says [`Repeat::Keep`].
    ///
    /// [`coalesce`]: crate::EventBuilder::coalesce
    /// [`on_change`]: crate::EventBuilder::on_change
    pub fn repeat(&self) -> Repeat {
        self.repeat.0
    }

    /// The event with another [`Repeat`] rule: for an event made elsewhere (read back, or
    /// deserialized), and for a store's tests.
    #[must_use]
    pub fn with_repeat(mut self, repeat: Repeat) -> Event {
        self.repeat = RepeatRule(repeat);
        self
    }

    /// The event with another status, and `updated_at` set to `now`.
    /// A copy with one more metadata entry (an entry with this key is replaced), for an answer
    /// that serves more than is stored.
    #[cfg(feature = "axum")]
    pub(crate) fn with_metadata_entry(&self, key: &str, value: Value) -> Event {
        let mut event = self.clone();
        event.metadata.insert(key.to_owned(), value);
        event
    }

    pub(crate) fn with_status(&self, status: Status, now: OffsetDateTime) -> Event {
        let mut event = self.clone();
        event.status = status;
        event.updated_at = now;
        event
    }
}
