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
/// The metadata key under which an event says what was cut to fit [`MAX_EVENT_BYTES`] (from
/// `tidings-rules`).
pub const TRUNCATED_KEY: &str = tidings_rules::TRUNCATED_KEY;

/// The most an event holds, in bytes of its description and metadata (their keys, their text,
/// and 8 bytes for each other value, nested ones included): 64 KiB. An event over it is refused
/// by [`EventBuilder::build`](crate::EventBuilder::build) and by the events API (413), and cut to
/// fit when `#[emits_event]` makes it (a call never fails for its event).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// What an event holds, in the measure of [`MAX_EVENT_BYTES`].
pub(crate) fn weight(description: &str, metadata: &Map<String, Value>) -> usize {
    description.len() + map_weight(metadata)
}

fn map_weight(map: &Map<String, Value>) -> usize {
    map.iter()
        .map(|(key, value)| key.len() + value_weight(value))
        .sum()
}

fn value_weight(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(value_weight).sum::<usize>() + 8,
        Value::Object(map) => map_weight(map) + 8,
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
    }
}

/// Cuts an event over `limit` until it fits: its longest texts (the description, and strings
/// anywhere in the metadata) are shortened first, the longest down towards the next longest, so
/// that every long text keeps its start; a metadata entry that holds no long text (a large
/// array) is then replaced by a short note. What was cut is named under [`TRUNCATED_KEY`]:
/// `{"limit": 65536, "cut": ["description", "Context Name"]}`. For `#[emits_event]`, whose call
/// must not fail for its event.
pub(crate) fn fit(
    description: &mut Cow<'static, str>,
    metadata: &mut Map<String, Value>,
    limit: usize,
) {
    // Room for the note itself.
    let budget = limit.saturating_sub(256);
    let mut cut: Vec<String> = Vec::new();
    for _ in 0..32 {
        let over = weight(description, metadata).saturating_sub(budget);
        if over == 0 {
            break;
        }
        // Every text's length, longest first: the longest is cut towards the next one.
        let mut lengths: Vec<usize> = metadata.values().flat_map(text_lengths).collect();
        lengths.push(description.len());
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        let longest = lengths[0];
        if longest <= 64 {
            if !drop_largest_entry(metadata, &mut cut) {
                let mut text = std::mem::take(description).into_owned();
                shorten(&mut text, over);
                *description = Cow::Owned(text);
                note(&mut cut, "description");
                break;
            }
            continue;
        }
        let next = lengths.get(1).copied().unwrap_or(0);
        let ties = lengths.iter().filter(|&&length| length == longest).count();
        let by = if longest > next {
            (longest - next).min(over)
        } else {
            over.div_ceil(ties)
        }
        .max(1);
        if description.len() == longest {
            let mut text = std::mem::take(description).into_owned();
            shorten(&mut text, by);
            *description = Cow::Owned(text);
            note(&mut cut, "description");
            continue;
        }
        for (key, value) in metadata.iter_mut() {
            if let Some(text) = longest_text(value).filter(|text| text.len() == longest) {
                shorten(text, by);
                note(&mut cut, key);
                break;
            }
        }
    }
    // Many small values that did not fit in the rounds above: the entries go, the error keeps
    // its message's start, and the description what room is left.
    if weight(description, metadata) > budget {
        let keys: Vec<String> = metadata.keys().filter(|k| *k != ERR_KEY).cloned().collect();
        for key in keys {
            metadata.remove(&key);
            note(&mut cut, &key);
        }
        if let Some(err) = metadata.get_mut(ERR_KEY) {
            let mut message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let over = message.len().saturating_sub(budget / 2);
            if over > 0 {
                shorten(&mut message, over);
            }
            *err = serde_json::to_value(ErrorReport::from_message(message)).unwrap_or_default();
            note(&mut cut, ERR_KEY);
        }
        let over = weight(description, metadata).saturating_sub(budget);
        if over > 0 {
            let mut text = std::mem::take(description).into_owned();
            shorten(&mut text, over);
            *description = Cow::Owned(text);
            note(&mut cut, "description");
        }
    }
    if !cut.is_empty() {
        metadata.insert(
            TRUNCATED_KEY.to_owned(),
            serde_json::json!({ "limit": limit, "cut": cut }),
        );
    }
}

/// Replaces the largest metadata entry but the error by a note of its size; `false` when there
/// is none.
fn drop_largest_entry(metadata: &mut Map<String, Value>, cut: &mut Vec<String>) -> bool {
    let Some(key) = metadata
        .iter()
        .filter(|(key, value)| key.as_str() != ERR_KEY && !matches!(value, Value::String(_)))
        .max_by_key(|(key, value)| key.len() + value_weight(value))
        .map(|(key, _)| key.clone())
    else {
        return false;
    };
    let dropped = value_weight(&metadata[&key]);
    metadata.insert(
        key.clone(),
        Value::String(format!("(cut: {dropped} bytes)")),
    );
    note(cut, &key);
    true
}

/// The lengths of every string in `value`, nested ones included.
fn text_lengths(value: &Value) -> Vec<usize> {
    match value {
        Value::String(text) => vec![text.len()],
        Value::Array(items) => items.iter().flat_map(text_lengths).collect(),
        Value::Object(map) => map.values().flat_map(text_lengths).collect(),
        _ => Vec::new(),
    }
}

/// The longest string in `value`, nested ones included.
fn longest_text(value: &mut Value) -> Option<&mut String> {
    match value {
        Value::String(text) => Some(text),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(longest_text)
            .max_by_key(|text| text.len()),
        Value::Object(map) => map
            .values_mut()
            .filter_map(longest_text)
            .max_by_key(|text| text.len()),
        _ => None,
    }
}

/// Shortens `text` by at least `by` bytes (at a character boundary), and marks the cut with `…`.
fn shorten(text: &mut String, by: usize) {
    let mut keep = text.len().saturating_sub(by + '…'.len_utf8());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    text.truncate(keep);
    text.push('…');
}

fn note(cut: &mut Vec<String>, what: &str) {
    if !cut.iter().any(|c| c == what) {
        cut.push(what.to_owned());
    }
}

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

    /// When the event last changed (its status), in UTC.
    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    /// The event with another status, and `updated_at` set to `now`.
    pub(crate) fn with_status(&self, status: Status, now: OffsetDateTime) -> Event {
        let mut event = self.clone();
        event.status = status;
        event.updated_at = now;
        event
    }
}
