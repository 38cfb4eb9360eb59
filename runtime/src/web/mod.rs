//! The events API and live stream for axum (feature `axum`).
//!
//! [`router`] serves, under wherever it is nested (for example `/api/events`):
//!
//! | verb, path | what |
//! |---|---|
//! | `GET /` | the user's events: `page` (from 0), `pagesize` (a number or `all`, default 25), `search`, `order` (`asc`/`desc`), `sort` (`created_at`/`updated_at`), `status`, and `category`, `action`, `severity`, `actedUpon`, each repeated or one JSON array of strings; other parameters are ignored. Answers `events`, `page`, `pageSize`, `totalCount`, `countBySeverityLevel` (`[{"severity", "count"}]`, most urgent first: the user's events with the request's `status`, unread without one) and `readCount` |
//! | `GET /{id}` | one event of the user (404 for another user's) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of this API, generated from the code (`utoipa`), paths relative to the mount |
//! | `GET /types` | `{"category": [...], "action": [...]}`: the distinct categories and actions of the user's events, and (feature `catalog`) of every annotated function of the binary: what can happen, not only what happened |
//! | `GET /subscribe` | Server-Sent Events: every frame has `id:` (the event id) and the event as JSON in `data:`; a reconnect with `Last-Event-ID` first gets the stored events it missed, in order, then the live ones, with no gap and no duplicate; a subscriber that fell behind gets an `event: lagged` frame with `{"missed": n}`; an unknown `Last-Event-ID` gets `event: reload` |
//! | `POST /` | a client event: `category`, `action`, `severity` required; the server sets id, user, system, status and timestamps; 201 with the stored event |
//! | `PUT /status/{id}` | `{"status": "read"}`; answers the event as now stored (idempotent: a read event marked read again is unchanged) |
//! | `PUT /status/bulk` | `{"status": "read", "ids": [...]}` |
//! | `DELETE /{id}` | 204 |
//! | `DELETE /bulk` | `{"ids": [...]}`, 204 |
//!
//! tidings has no authentication of its own: the application says who the user of a request
//! is, with a function of the request's parts: the user its own auth middleware put in the
//! request's extensions, read with [`user_from_extension`]. The page,
//! [`notification_center`], works behind any mount point and bearer-token auth with
//! [`notification_center_with`].
//! Every route answers the same with and without a trailing slash. A request without a user
//! gets 401. A user never reads, marks or deletes another user's
//! events: such requests answer as if the event did not exist. Bad bodies and parameters get
//! 400 with a JSON error naming the field and the value.

//!
//! The rooms, one concern each: [`router`] and its routes (`routes.rs`), [`Options`]
//! (`options.rs`), the notification center's page (`page.rs`, `page.html`), an event as served (`served.rs`) and Meshery's error shape (`meshery.rs`),
//! errors as answers (`error.rs`), what a request carries (`extract.rs`, the list's parameters
//! in `query.rs`), the handlers of stored events (`handlers.rs`), the live stream
//! (`stream.rs`), the store calls (awaited, or on the store threads: `workers.rs`), and the OpenAPI document (`openapi.rs`, which names the handlers, with the
//! documented shapes in `schema.rs`).

use std::sync::Arc;

use axum::http::request::Parts;
use uuid::Uuid;

use crate::emitter::Emitter;

mod error;
mod extract;
mod handlers;
mod health;
mod meshery;
mod openapi;
mod options;
mod page;
mod query;
mod routes;
#[expect(
    dead_code,
    reason = "the OpenAPI document's shapes are described to utoipa, never built"
)]
mod schema;
mod served;
mod shutdown;
mod stream;
mod workers;

pub use health::health;
pub use options::{
    DEFAULT_COUNTS_INTERVAL, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BULK_IDS, DEFAULT_MAX_PAGE_SIZE,
    DEFAULT_MAX_QUEUED_STORE_CALLS, DEFAULT_MAX_REPLAY_BYTES, DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_USER, DEFAULT_NONBLOCKING_STORE_CALLS, DEFAULT_SHUTDOWN_DEADLINE,
    DEFAULT_STORE_THREADS, Options,
};
pub use page::{PageAuth, PageOptions, notification_center, notification_center_with};
#[cfg(feature = "test-doors")]
pub use query::__parse_query;
pub use routes::{router, router_with, user_from_extension};
pub use shutdown::Shutdown;
pub use stream::MAX_REPLAY;

/// Who the user of a request is, as the application says.
type UserOf = dyn Fn(&Parts) -> Option<Uuid> + Send + Sync;

/// What every handler of one router shares: one reference, cloned for each request.
#[derive(Clone)]
struct Web(Arc<Shared>);

/// What a [`Web`] refers to.
struct Shared {
    emitter: Emitter,
    user_of: Arc<UserOf>,
    options: Options,
    recent: Arc<stream::RecentJson>,
    streams: Arc<stream::OpenStreams>,
    workers: Arc<workers::StoreWorkers>,
    gate: workers::Gate,
}

impl std::ops::Deref for Web {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
