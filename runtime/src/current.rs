//! Enrich the event of the `#[emits_event]` function that is running.
//!
//! Inside an annotated function, and in anything it calls (across `.await` points, on whatever
//! executor thread polls it), these functions change the event that will be emitted when the
//! function returns: add metadata, set the resource the event is about once it is known (a
//! resource created by this very call), or replace the description.
//!
//! The `tidings` crate's documentation shows them at work in a handler.
//!
//! Each call returns whether an event in progress took the change. Outside an annotated
//! function, or when no emitter is set (nothing will be emitted), they do nothing and return
//! `false`, without converting their arguments. The innermost annotated function gets the
//! change; work spawned onto other tasks or threads is outside it.

use std::cell::RefCell;

use serde_json::{Map, Value};
use uuid::Uuid;

/// What the body of an annotated function added to its event.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    pub(crate) active: bool,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) acted_upon: Option<Uuid>,
    pub(crate) description: Option<String>,
    /// Set by [`set_severity`]: wins over every other source of the event's severity.
    pub(crate) severity: Option<crate::severity::Severity>,
    /// The operation the event joins: the outermost call's, for a call made inside it; for the
    /// outermost call, the id its inner calls' events share (made when the first one needs it).
    pub(crate) operation: Option<Uuid>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Installs `frame` as the innermost event in progress on this thread. An event that will be
/// emitted inside another call joins the outermost call's operation.
pub(crate) fn push(mut frame: Frame) {
    FRAMES.with(|frames| {
        let mut frames = frames.borrow_mut();
        if frame.active
            && frame.operation.is_none()
            && let Some(outermost) = frames.first_mut()
        {
            frame.operation = Some(*outermost.operation.get_or_insert_with(Uuid::now_v7));
        }
        frames.push(frame);
    });
}

/// How many calls have an event (or an inactive frame) installed on this thread.
pub(crate) fn depth() -> usize {
    FRAMES.try_with(|frames| frames.borrow().len()).unwrap_or(0)
}

/// Removes the innermost event in progress on this thread.
pub(crate) fn pop() -> Frame {
    FRAMES
        .try_with(|frames| frames.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn with_active(f: impl FnOnce(&mut Frame)) -> bool {
    FRAMES
        .try_with(|frames| match frames.borrow_mut().last_mut() {
            Some(frame) if frame.active => {
                f(frame);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
}

/// Whether an annotated function is running on this thread and will emit an event.
pub fn in_progress() -> bool {
    FRAMES
        .try_with(|frames| frames.borrow().last().is_some_and(|frame| frame.active))
        .unwrap_or(false)
}

/// Adds one metadata entry to the event in progress (an entry with the same key is replaced).
pub fn meta(key: impl Into<String>, value: impl Into<Value>) -> bool {
    if !in_progress() {
        return false;
    }
    let (key, value) = (key.into(), value.into());
    with_active(|frame| {
        frame.metadata.insert(key, value);
    })
}

/// Adds metadata entries to the event in progress (see [`meta`]).
pub fn metadata<K, V, I>(entries: I) -> bool
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<Value>,
{
    if !in_progress() {
        return false;
    }
    let entries: Vec<(String, Value)> = entries
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    with_active(|frame| frame.metadata.extend(entries))
}

/// Sets the resource the event in progress is about, replacing the attribute's `acted_upon`.
pub fn set_acted_upon(id: Uuid) -> bool {
    with_active(|frame| frame.acted_upon = Some(id))
}

/// Replaces the description of the event in progress, for `Ok` and `Err` alike.
pub fn set_description(description: impl Into<String>) -> bool {
    if !in_progress() {
        return false;
    }
    let description = description.into();
    with_active(|frame| frame.description = Some(description))
}

/// Sets the severity of the event in progress, whatever the outcome: for "`Ok`, but degraded"
/// (a ping that answered slowly is a `warning`). It wins over the error value's own severity
/// ([`ErrorDetails::severity`](crate::ErrorDetails::severity)) and the attribute's `success =`
/// and `error =`; the attribute's `emit_on` still filters on the outcome.
///
/// ```
/// use tidings_runtime::{Severity, current};
///
/// // Outside an annotated function nothing is in progress.
/// assert!(!current::set_severity(Severity::Warning));
/// ```
pub fn set_severity(severity: crate::severity::Severity) -> bool {
    with_active(|frame| frame.severity = Some(severity))
}
