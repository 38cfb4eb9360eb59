//! An event as this API serves it, in the list, as one event, as a created event and on the
//! live stream: the one place that says what a served event looks like.
//!
//! Every answer writes an event's JSON straight from [`Event`]'s own serialization (never through
//! a `serde_json::Value`, whose map sorts keys), so its keys come in one order everywhere: the
//! text of an event in the list, in one event's answer and in a live frame is the same.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

use super::meshery;
use super::options::Options;
use crate::event::Event;

/// An event as served: its JSON, with `metadata.error` in Meshery's shape as well when
/// [`Options::meshery_errors`] is on and the event has an error.
pub(super) struct Served<'a> {
    event: Cow<'a, Event>,
    meshery_errors: bool,
}

/// `event` as `options` serve it.
pub(super) fn served<'a>(options: &Options, event: &'a Event) -> Served<'a> {
    Served {
        event: Cow::Borrowed(event),
        meshery_errors: options.meshery_errors,
    }
}

/// [`served`] for an answer that owns its event.
pub(super) fn served_owned(options: &Options, event: Event) -> Served<'static> {
    Served {
        event: Cow::Owned(event),
        meshery_errors: options.meshery_errors,
    }
}

impl Served<'_> {
    /// As JSON text (for a stream's frame).
    pub(super) fn text(&self) -> String {
        // An event is strings, numbers, ids, times and a JSON map: it always serializes.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Serialize for Served<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = if self.meshery_errors {
            meshery::error(&self.event)
        } else {
            None
        };
        match error {
            None => self.event.serialize(serializer),
            Some(error) => self
                .event
                .with_metadata_entry("error", error)
                .serialize(serializer),
        }
    }
}
