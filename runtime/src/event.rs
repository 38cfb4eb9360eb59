//! The event: what the server did, for whom, and how it went.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::builder::EventBuilder;
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};

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
    pub(crate) id: Uuid,
    pub(crate) operation_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) acted_upon: Option<Uuid>,
    pub(crate) category: Category,
    pub(crate) action: Action,
    pub(crate) severity: Severity,
    #[serde(default)]
    pub(crate) status: Status,
    #[serde(default)]
    pub(crate) description: Cow<'static, str>,
    #[serde(default)]
    pub(crate) metadata: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) updated_at: OffsetDateTime,
}

impl Event {
    /// A new [`EventBuilder`].
    pub fn builder() -> EventBuilder {
        EventBuilder::new()
    }

    /// The event's own id: a fresh v4 UUID for every built event.
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
