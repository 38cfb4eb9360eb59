//! The live stream: Server-Sent Events of the user's events, stored ones first on a reconnect
//! (`Last-Event-ID`), then live ones, with no gap and no duplicate.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use super::Web;
use super::error::ApiError;
use super::extract::User;
use super::options::Options;
use super::schema;
use super::served::served;
use crate::broadcast::{Lagged, Subscription};
use crate::event::Event;

/// How many missed events a reconnecting stream replays at most; beyond that it is told to
/// reload.
pub const MAX_REPLAY: usize = 1000;

/// The live streams a router has open, in all and per user, within
/// [`Options::max_streams`] and [`Options::max_streams_per_user`].
#[derive(Default)]
pub(super) struct OpenStreams {
    per_user: std::sync::Mutex<std::collections::HashMap<Uuid, usize>>,
}

/// One open stream's place among the [`OpenStreams`]; given back when the stream is dropped.
struct StreamSlot {
    open: Arc<OpenStreams>,
    user: Uuid,
}

impl OpenStreams {
    fn counts(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Uuid, usize>> {
        self.per_user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for one more stream of `user`, or a 429 naming the limit that refuses it.
    fn open(self: &Arc<Self>, user: Uuid, options: &Options) -> Result<StreamSlot, ApiError> {
        let mut counts = self.counts();
        let all: usize = counts.values().sum();
        if all >= options.max_streams {
            return Err(ApiError::too_many(
                format!(
                    "{all} live streams are open; the server takes at most {} \
                     (web::Options::max_streams)",
                    options.max_streams
                ),
                RETRY_AFTER_SECONDS,
            ));
        }
        let mine = counts.entry(user).or_insert(0);
        if *mine >= options.max_streams_per_user {
            return Err(ApiError::too_many(
                format!(
                    "this user has {mine} live streams open; a user may have at most {} \
                     (web::Options::max_streams_per_user)",
                    options.max_streams_per_user
                ),
                RETRY_AFTER_SECONDS,
            ));
        }
        *mine += 1;
        metrics::gauge!("tidings_live_streams_open").increment(1.0);
        Ok(StreamSlot {
            open: Arc::clone(self),
            user,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        metrics::gauge!("tidings_live_streams_open").decrement(1.0);
        let mut counts = self.open.counts();
        if let Some(mine) = counts.get_mut(&self.user) {
            *mine -= 1;
            if *mine == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// When a refused stream may try again: a stream closes when its tab does.
const RETRY_AFTER_SECONDS: u32 = 5;

/// An event as a client saw it: its id and count.
type Seen = (Uuid, u32);

/// The read of a stream's counts.
type CountsRead = Pin<Box<dyn Future<Output = Result<crate::store::EventPage, ApiError>> + Send>>;

/// The JSON of the live events this router sent last, shared by all its streams: a live event
/// goes to every stream of its user at about the same time, and is serialized for the first one
/// only. Replayed (stored) events are serialized afresh: their status may have changed.
pub(super) struct RecentJson {
    sent: std::sync::Mutex<VecDeque<(Seen, Arc<str>)>>,
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
        // An event folded again is another text: its id and count name the text.
        let id = (event.id(), event.count());
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

#[utoipa::path(get, tag = "events", path = "/subscribe", params(
    ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(:[0-9]+)?$", description = "the last frame's `id` received (an event's id, and `:` and its count once repeats were folded into it): the stored events after it are sent first, and that event again if it was folded since"),
    ("counts" = Option<bool>, Query, description = "`true`: `event: counts` frames as well (`countBySeverityLevel`, `readCount`, `totalCount` of the default view, as the list counts them), the first at once, then after each change of the user's counts, at most one per stream per the router's counts interval"),
), responses(
    (status = 200, description = "Server-Sent Events: each frame's `data` is an event and its `id` the event's id; an event repeats were folded into comes as `event: update`, with the id `{id}:{count}`; `event: counts` frames when asked for", content_type = "text/event-stream", body = String),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 429, description = "too many live streams open (the user's, or all), named in `error`; `Retry-After` says when to try again", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn subscribe(
    State(web): State<Web>,
    User(user): User,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let counts = wants_counts(raw.as_deref())?;
    let slot = web.streams.open(user, &web.options)?;
    // Subscribe before reading history: whatever is published meanwhile is either in the
    // history (skipped live by id) or arrives live. No gap, no duplicate.
    let live = web.emitter.subscribe(user);
    let mut stream = LiveStream {
        _slot: slot,
        replay: VecDeque::new(),
        replayed: HashSet::new(),
        reading: Reading::Done,
        live,
        user,
        counts: counts.then(|| Counts::new(web.options.counts_interval)),
        web: web.clone(),
    };
    if let Some(last) = headers.get("last-event-id") {
        let last = last.to_str().ok().and_then(parse_frame_id).ok_or_else(|| {
            ApiError::bad(
                "Last-Event-ID",
                "`Last-Event-ID` must be a frame's id: an event id, or an event id, `:` and \
                     its count",
            )
        })?;
        // The first part of what was missed is read before the answer, so that a store that
        // fails is a 500; the rest is read as the stream is sent, a part at a time.
        let first = web.stored_after(user, last, REPLAY_PART).await?;
        stream.replayed_part(first, Replayed::default(), user);
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

/// Whether the query string asks for `event: counts` frames (`counts=true`, or `counts=1`);
/// other parameters are ignored.
fn wants_counts(raw: Option<&str>) -> Result<bool, ApiError> {
    let mut wants = false;
    for pair in raw.unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key == "counts" {
            wants = match value {
                "true" | "1" | "" => true,
                "false" | "0" => false,
                other => {
                    return Err(ApiError::bad(
                        "counts",
                        format!("`counts` is `true` or `false`, not {other:?}"),
                    ));
                }
            };
        }
    }
    Ok(wants)
}

/// A frame's id: the event's id, and `:` and its count once repeats were folded into it, so
/// that a client resuming after it names the event as it saw it.
fn frame_id(event: &Event) -> String {
    match event.count() {
        1 => event.id().to_string(),
        count => format!("{}:{count}", event.id()),
    }
}

/// The event and count a frame id names ([`frame_id`]).
fn parse_frame_id(text: &str) -> Option<(Uuid, u32)> {
    let (id, count) = match text.split_once(':') {
        Some((id, count)) => (id, count.parse().ok().filter(|&count| count > 1)?),
        None => (text, 1),
    };
    Some((Uuid::parse_str(id).ok()?, count))
}

/// An SSE event with `event`'s frame id: an event folded again is sent as `event: update`.
fn framed(event: &Event) -> SseEvent {
    let frame = SseEvent::default().id(frame_id(event));
    if event.count() > 1 {
        frame.event("update")
    } else {
        frame
    }
}

/// A live event's frame: its JSON made once for all the streams it goes to (Meshery's shape, with
/// the derived `error`, is made per stream).
fn live_frame(options: &Options, recent: &RecentJson, event: &Event) -> SseEvent {
    if options.meshery_errors {
        return framed(event).data(served(options, event).text());
    }
    framed(event).data(&*recent.json(event))
}

/// The counts frame: the user's default view as the list counts it.
fn counts_frame(page: &crate::store::EventPage) -> SseEvent {
    SseEvent::default().event("counts").data(
        json!({
            "countBySeverityLevel": super::handlers::by_severity(page),
            "readCount": page.read_count,
            "totalCount": page.total,
        })
        .to_string(),
    )
}

/// A stream's counts: due after a change, read once the interval since the last frame has
/// passed.
struct Counts {
    interval: std::time::Duration,
    due: bool,
    earliest: tokio::time::Instant,
    wait: Pin<Box<tokio::time::Sleep>>,
    read: Option<CountsRead>,
}

impl Counts {
    /// The first frame is due at once.
    fn new(interval: std::time::Duration) -> Counts {
        let now = tokio::time::Instant::now();
        Counts {
            interval,
            due: true,
            earliest: now,
            wait: Box::pin(tokio::time::sleep_until(now)),
            read: None,
        }
    }
}

/// How many stored events a resuming stream reads at once: the most it holds in memory.
const REPLAY_PART: usize = 100;

/// How much of what was missed a resuming stream has replayed so far.
#[derive(Default, Clone, Copy)]
struct Replayed {
    events: usize,
    bytes: usize,
}

/// One part of a replay: `None` when the event it follows is unknown.
type Part = Option<Vec<Event>>;

/// Where a resuming stream is in reading what was missed.
enum Reading {
    /// Nothing more to read: live events follow.
    Done,
    /// The next part is to be read once the frames queued before it are sent: a client that
    /// does not read makes the stream hold one part at most.
    Next {
        after: (Uuid, u32),
        replayed: Replayed,
        user: Uuid,
    },
    /// The next part is being read.
    Part {
        task: Pin<Box<dyn Future<Output = Result<Part, ApiError>> + Send>>,
        replayed: Replayed,
        user: Uuid,
    },
}

/// The frame that tells a client to load the list again.
fn reload() -> SseEvent {
    SseEvent::default().event("reload").data("{}")
}

/// Replayed frames first, as they are read (a part at a time), then live events not already
/// replayed.
struct LiveStream {
    /// Its place among the router's open streams, given back when the stream ends.
    _slot: StreamSlot,
    replay: VecDeque<SseEvent>,
    /// The events replayed, as they were: a live event of the same id and count is skipped.
    replayed: HashSet<(Uuid, u32)>,
    reading: Reading,
    live: Subscription,
    user: Uuid,
    /// `None` unless the stream asked for counts.
    counts: Option<Counts>,
    /// The router's: its options, its serialized events, and its store for the next part of
    /// a replay.
    web: Web,
}

impl LiveStream {
    /// Takes one part of the replay: its frames are queued, and the next part is asked for
    /// while the replay is within [`MAX_REPLAY`] events and [`Options::max_replay_bytes`];
    /// past either, or for an unknown `Last-Event-ID`, a `reload` frame ends it.
    fn replayed_part(&mut self, part: Option<Vec<Event>>, mut replayed: Replayed, user: Uuid) {
        self.reading = Reading::Done;
        let Some(part) = part else {
            self.replay.push_back(reload());
            return;
        };
        let full = part.len() == REPLAY_PART;
        let mut last = None;
        for event in &part {
            let text = served(&self.web.options, event).text();
            replayed.events += 1;
            replayed.bytes += text.len();
            if replayed.events > MAX_REPLAY || replayed.bytes > self.web.options.max_replay_bytes {
                self.replay.push_back(reload());
                return;
            }
            self.replayed.insert((event.id(), event.count()));
            self.replay.push_back(framed(event).data(text));
            last = Some((event.id(), event.count()));
        }
        if let (true, Some(after)) = (full, last) {
            self.reading = Reading::Next {
                after,
                replayed,
                user,
            };
        }
    }

    /// Asks the store for the part after `after`; a store that is busy (its queue full) ends
    /// the replay with `reload` (the client loads the list instead).
    /// Marks the counts due (after a live event or a change of the user's counts).
    fn counts_due(&mut self) {
        if let Some(counts) = &mut self.counts {
            counts.due = true;
        }
    }

    /// The counts frame, once it is due, the interval since the last has passed and the store
    /// has answered; the waits register this task's waker.
    fn poll_counts(&mut self, cx: &mut Context<'_>) -> Option<SseEvent> {
        let counts = self.counts.as_mut()?;
        loop {
            if let Some(read) = &mut counts.read {
                let Poll::Ready(answer) = read.as_mut().poll(cx) else {
                    return None;
                };
                counts.read = None;
                counts.earliest = tokio::time::Instant::now() + counts.interval;
                match answer {
                    Ok(page) => return Some(counts_frame(&page)),
                    // A store that fails or is busy: tried again after the interval.
                    Err(_) => counts.due = true,
                }
            }
            if !counts.due {
                return None;
            }
            if tokio::time::Instant::now() < counts.earliest {
                counts.wait.as_mut().reset(counts.earliest);
                if counts.wait.as_mut().poll(cx).is_pending() {
                    return None;
                }
            }
            counts.due = false;
            let (web, user) = (self.web.clone(), self.user);
            counts.read = Some(Box::pin(async move { web.counts(user).await }));
        }
    }

    fn read_next(&mut self) {
        let Reading::Next {
            after,
            replayed,
            user,
        } = std::mem::replace(&mut self.reading, Reading::Done)
        else {
            return;
        };
        let web = self.web.clone();
        self.reading = Reading::Part {
            task: Box::pin(async move { web.stored_after(user, after, REPLAY_PART).await }),
            replayed,
            user,
        };
    }
}

impl futures_core::Stream for LiveStream {
    type Item = Result<SseEvent, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(frame) = self.replay.pop_front() {
                metrics::counter!("tidings_frames_sent_total").increment(1);
                return Poll::Ready(Some(Ok(frame)));
            }
            if matches!(self.reading, Reading::Next { .. }) {
                self.read_next();
                continue;
            }
            let Reading::Part { task, .. } = &mut self.reading else {
                break;
            };
            let read = match Pin::new(task).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // A store that fails, panics or is busy mid-replay: the client loads the list
                // again.
                Poll::Ready(Ok(part)) => Some(part),
                Poll::Ready(Err(_)) => None,
            };
            let Reading::Part { replayed, user, .. } =
                std::mem::replace(&mut self.reading, Reading::Done)
            else {
                unreachable!("matched above")
            };
            match read {
                Some(part) => self.replayed_part(part, replayed, user),
                None => self.replay.push_back(reload()),
            }
        }
        loop {
            // The store's history went back under the stream (a failover that lost its newest
            // rows): the client loads the list again.
            if self.live.history_changed() {
                return Poll::Ready(Some(Ok(reload())));
            }
            if let Some(frame) = self.poll_counts(cx) {
                return Poll::Ready(Some(Ok(frame)));
            }
            return match Pin::new(&mut self.live).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => {
                    // Stored or folded: the user's counts changed.
                    self.counts_due();
                    if self.replayed.remove(&(event.id(), event.count())) {
                        continue;
                    }
                    metrics::counter!("tidings_frames_sent_total").increment(1);
                    Poll::Ready(Some(Ok(live_frame(
                        &self.web.options,
                        &self.web.recent,
                        &event,
                    ))))
                }
                Poll::Ready(Some(Err(Lagged(missed)))) => {
                    Poll::Ready(Some(Ok(SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": missed }).to_string()))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                // Looked at again once the waker is registered: a change made in between woke
                // no one.
                Poll::Pending if self.live.history_changed() => Poll::Ready(Some(Ok(reload()))),
                Poll::Pending if self.counts.is_some() && self.live.counts_changed() => {
                    self.counts_due();
                    continue;
                }
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
