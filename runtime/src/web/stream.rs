//! The live stream: Server-Sent Events of the user's events, stored ones first on a reconnect
//! (`Last-Event-ID`), then live ones, with no gap and no duplicate.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::Web;
use super::error::ApiError;
use super::extract::{User, with_store};
use super::options::Options;
use super::schema;
use super::served::served;
use crate::broadcast::{Lagged, Subscription};
use crate::event::Event;

/// How many missed events a reconnecting stream replays at most; beyond that it is told to
/// reload.
pub const MAX_REPLAY: usize = 1000;

/// The JSON of the live events this router sent last, shared by all its streams: a live event
/// goes to every stream of its user at about the same time, and is serialized for the first one
/// only. Replayed (stored) events are serialized afresh: their status may have changed.
pub(super) struct RecentJson {
    sent: std::sync::Mutex<VecDeque<(Uuid, Arc<str>)>>,
}

impl RecentJson {
    /// Enough for the events of many users in flight at once; the JSON of an event is a few
    /// hundred bytes.
    const KEPT: usize = 256;

    pub(super) fn new() -> Self {
        RecentJson {
            sent: std::sync::Mutex::new(VecDeque::with_capacity(Self::KEPT)),
        }
    }

    fn json(&self, event: &Event) -> Arc<str> {
        let lock = || {
            self.sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let id = event.id();
        // The newest first: the other streams of a user follow the first one closely.
        if let Some((_, json)) = lock().iter().rev().find(|(sent, _)| *sent == id) {
            return Arc::clone(json);
        }
        let json: Arc<str> = served(&Options::default(), event).text().into();
        let mut sent = lock();
        if sent.len() == Self::KEPT {
            sent.pop_front();
        }
        sent.push_back((id, Arc::clone(&json)));
        json
    }
}

#[utoipa::path(get, tag = "events", path = "/subscribe", params(("Last-Event-ID" = Option<String>, Header, format = Uuid, description = "the last event received: the stored events after it are sent first")), responses(
    (status = 200, description = "Server-Sent Events: each frame's `id` is the event's id and its `data` the event", content_type = "text/event-stream", body = String),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn subscribe(
    State(web): State<Web>,
    User(user): User,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Subscribe before reading history: whatever is published meanwhile is either in the
    // history (skipped live by id) or arrives live. No gap, no duplicate.
    let live = web.emitter.subscribe(user);
    let mut stream = LiveStream {
        replay: VecDeque::new(),
        replayed: HashSet::new(),
        live,
        options: web.options.clone(),
        recent: Arc::clone(&web.recent),
    };
    if let Some(last) = headers.get("last-event-id") {
        let last = last
            .to_str()
            .ok()
            .and_then(|text| Uuid::parse_str(text).ok())
            .ok_or_else(|| ApiError::bad("Last-Event-ID", "`Last-Event-ID` must be an event id"))?;
        let missed = with_store(&web, move |store| {
            store
                .stored_after(user, last, MAX_REPLAY + 1)
                .map_err(ApiError::internal)
        })
        .await?;
        match missed {
            Some(missed) if missed.len() <= MAX_REPLAY => {
                for event in missed {
                    stream.replayed.insert(event.id());
                    stream.replay.push_back(frame(&web.options, &event));
                }
            }
            _ => stream
                .replay
                .push_back(SseEvent::default().event("reload").data("{}")),
        }
    }
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(web.options.keep_alive));
    // nginx and proxies like it would otherwise buffer the stream (Meshery's server sends it).
    Ok((
        [(
            axum::http::HeaderName::from_static("x-accel-buffering"),
            "no",
        )],
        sse,
    )
        .into_response())
}

/// A stored event's SSE event (its frame), serialized for this stream.
fn frame(options: &Options, event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id().to_string())
        .data(served(options, event).text())
}

/// A live event's frame: its JSON made once for all the streams it goes to (Meshery's shape, with
/// the derived `error`, is made per stream).
fn live_frame(options: &Options, recent: &RecentJson, event: &Event) -> SseEvent {
    if options.meshery_errors {
        return frame(options, event);
    }
    SseEvent::default()
        .id(event.id().to_string())
        .data(&*recent.json(event))
}

/// Replayed frames first, then live events not already replayed.
struct LiveStream {
    replay: VecDeque<SseEvent>,
    replayed: HashSet<Uuid>,
    live: Subscription,
    options: Options,
    recent: Arc<RecentJson>,
}

impl futures_core::Stream for LiveStream {
    type Item = Result<SseEvent, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(frame) = self.replay.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        loop {
            return match Pin::new(&mut self.live).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => {
                    if self.replayed.remove(&event.id()) {
                        continue;
                    }
                    Poll::Ready(Some(Ok(live_frame(&self.options, &self.recent, &event))))
                }
                Poll::Ready(Some(Err(Lagged(missed)))) => {
                    Poll::Ready(Some(Ok(SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": missed }).to_string()))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::builder()
            .category("connection")
            .action("ping")
            .build()
            .expect("valid")
    }

    #[test]
    fn a_live_event_is_serialized_once_for_all_its_streams() {
        let recent = RecentJson::new();
        let first = event();
        let json = recent.json(&first);
        assert_eq!(*json, serde_json::to_string(&first).unwrap());
        // A second stream gets the same text, not a new serialization.
        assert!(Arc::ptr_eq(&json, &recent.json(&first)));
        // The cache keeps the last `KEPT` events: the oldest goes.
        for _ in 0..RecentJson::KEPT {
            recent.json(&event());
        }
        let again = recent.json(&first);
        assert_eq!(again, json);
        assert!(!Arc::ptr_eq(&json, &again));
    }
}
