//! An event as this API serves it, in the list, as one event, as a created event and on the
//! live stream: the one place that says what a served event looks like.

use serde::{Serialize, Serializer};

use super::meshery;
use super::options::Options;
use crate::event::Event;

/// An event as served: its JSON, with `metadata.error` in Meshery's shape as well when
/// [`Options::meshery_errors`] is on and the event has an error.
pub(super) struct Served<'a> {
    event: &'a Event,
    meshery_errors: bool,
}

/// `event` as `options` serve it.
pub(super) fn served<'a>(options: &Options, event: &'a Event) -> Served<'a> {
    Served {
        event,
        meshery_errors: options.meshery_errors,
    }
}

impl Served<'_> {
    /// As a JSON value (for an answer that holds it).
    pub(super) fn value(&self) -> serde_json::Value {
        // An event is strings, numbers, ids, times and a JSON map: it always serializes.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// As JSON text (for a stream's frame).
    pub(super) fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Serialize for Served<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = if self.meshery_errors {
            meshery::error(self.event)
        } else {
            None
        };
        let Some(error) = error else {
            return self.event.serialize(serializer);
        };
        let mut value = serde_json::to_value(self.event).map_err(serde::ser::Error::custom)?;
        if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            metadata.insert("error".to_owned(), error);
        }
        value.serialize(serializer)
    }
}
