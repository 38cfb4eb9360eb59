//! The size of one event: how it is counted, the limit, and how an event made by
//! `#[emits_event]` is cut to fit it (a call never fails for its event).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::ERR_KEY;
use crate::report::ErrorReport;

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
