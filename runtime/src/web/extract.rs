//! What a request carries: its user, a JSON body, an id, a status; and the store, awaited when
//! it is nonblocking, else reached from the router's store threads.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::Deserialize;
use uuid::Uuid;

use super::Web;
use super::error::ApiError;
use crate::event::Event;
use crate::severity::Status;
use crate::store::{EventPage, EventQuery, EventStore, EventTypes};

/// The user of a request, from the application's function.
pub(super) struct User(pub(super) Uuid);

impl FromRequestParts<Web> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, ApiError> {
        (web.user_of)(parts).map(User).ok_or_else(ApiError::no_user)
    }
}

/// A JSON body: `Content-Type: application/json` (else 415: a plain HTML form, which any site
/// can make a browser send with the user's cookie, is not JSON), and well-formed (else a 400
/// naming the body).
pub(super) fn body<T: for<'de> Deserialize<'de>>(
    headers: &HeaderMap,
    bytes: &Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    let is_json = content_type.is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case("application/json")
    });
    if !is_json {
        return Err(ApiError::not_json(content_type));
    }
    // A body over axum's limit (`DefaultBodyLimit`, 2 MB unless the application sets another)
    // is a 413 that says so, in this API's shape.
    let bytes = bytes.as_ref().map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(
                "body",
                format!("{rejection} (axum's DefaultBodyLimit: 2 MB unless the application sets another)"),
            )
        } else {
            ApiError::bad("body", rejection.to_string())
        }
    })?;
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad("body", format!("invalid JSON body: {e}")))
}

/// An event id from the path.
pub(super) fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::bad("id", format!("`id` must be a UUID, not {text:?}")))
}

/// A status from a body.
pub(super) fn parse_status(text: &str) -> Result<Status, ApiError> {
    text.parse()
        .map_err(|e: crate::UnknownLevel| ApiError::bad("status", e.to_string()))
}

/// Calls `$store.<method>(...)`, the same expression on a nonblocking store (awaited through the
/// router's gate) or else on the store (on a store thread): their methods have the same names
/// and arguments.
macro_rules! call_store {
    ($web:expr, |$store:ident| $call:expr) => {{
        let web: &Web = $web;
        let store = web.store()?;
        match store.nonblocking() {
            Some($store) => web.gate.run($call).await,
            None => {
                let $store = Arc::clone(&store);
                web.workers
                    .run(move || $call)
                    .await?
                    .map_err(ApiError::internal)
            }
        }
    }};
}

/// The events API's calls of its store.
impl Web {
    /// The emitter's store.
    fn store(&self) -> Result<Arc<dyn EventStore>, ApiError> {
        self.emitter
            .store()
            .map(Arc::clone)
            .ok_or_else(|| ApiError::internal("this server keeps no events"))
    }

    /// [`EventStore::get`].
    pub(super) async fn get(&self, id: Uuid) -> Result<Option<Event>, ApiError> {
        call_store!(self, |store| store.get(id))
    }

    /// [`EventStore::query`].
    pub(super) async fn query(&self, query: EventQuery) -> Result<EventPage, ApiError> {
        call_store!(self, |store| store.query(&query))
    }

    /// [`EventStore::stored_after`] the event `after` as the client last saw it (its id and
    /// count): `None` (the client reloads) when that event is not the user's any more, or when
    /// it was folded since (a fold moves it to the newest place, so the place the client saw
    /// it at is gone). The event is read after the replay, so a fold before the replay's read
    /// is seen.
    pub(super) async fn stored_after(
        &self,
        user: Uuid,
        (after, count): (Uuid, u32),
        limit: usize,
    ) -> Result<Option<Vec<Event>>, ApiError> {
        let Some(part) = call_store!(self, |store| store.stored_after(user, after, limit))? else {
            return Ok(None);
        };
        let seen = self.get(after).await?;
        Ok(seen.filter(|event| event.count() == count).map(|_| part))
    }

    /// The counts of the user's default view (the list without filters): its `totalCount`,
    /// `countBySeverityLevel` (unread) and `readCount`, as the list answers them.
    pub(super) async fn counts(&self, user: Uuid) -> Result<EventPage, ApiError> {
        let query = EventQuery::new()
            .user(user)
            .page_size(crate::store::PageSize::Limit(0));
        self.query(query).await
    }

    /// Tells the user's live streams that their counts changed (after `changed` events
    /// were marked or deleted).
    fn changed(&self, user: Option<Uuid>, changed: usize) {
        if changed == 0 {
            return;
        }
        match user {
            Some(user) => self.emitter.broadcaster().counts_changed(user),
            None => self.emitter.broadcaster().all_counts_changed(),
        }
    }

    /// [`EventStore::types`].
    pub(super) async fn types(&self, user: Uuid) -> Result<EventTypes, ApiError> {
        call_store!(self, |store| store.types(Some(user)))
    }

    /// [`EventStore::set_status_matching`].
    pub(super) async fn set_status_matching(
        &self,
        query: EventQuery,
        status: Status,
    ) -> Result<usize, ApiError> {
        let user = query.user_id();
        let changed = call_store!(self, |store| store.set_status_matching(&query, status))?;
        self.changed(user, changed);
        Ok(changed)
    }

    /// Marks the event that `query` matches (one id: `id`) and reads it back, in one turn of
    /// the store: a mark waits in the queue once, not once for each of its two calls.
    pub(super) async fn mark_one(
        &self,
        query: EventQuery,
        id: Uuid,
        status: Status,
    ) -> Result<Option<Event>, ApiError> {
        let user = query.user_id();
        let store = self.store()?;
        let marked = match store.nonblocking() {
            Some(store) => self.gate.run(store.mark_one(&query, id, status)).await,
            None => {
                let store = Arc::clone(&store);
                self.workers
                    .run(move || {
                        if store.set_status_matching(&query, status)? == 0 {
                            return Ok(None);
                        }
                        store.get(id)
                    })
                    .await?
                    .map_err(ApiError::internal)
            }
        }?;
        if let (Some(user), Some(_)) = (user, &marked) {
            self.emitter.broadcaster().counts_changed(user);
        }
        Ok(marked)
    }

    /// [`EventStore::delete_matching`].
    pub(super) async fn delete_matching(&self, query: EventQuery) -> Result<usize, ApiError> {
        let user = query.user_id();
        let deleted = call_store!(self, |store| store.delete_matching(&query))?;
        self.changed(user, deleted);
        Ok(deleted)
    }
}

/// Runs store work on the router's store threads: a slow query (a large database, a file
/// locked by another writer) must not hold an executor thread, and with it other requests and
/// the keepalives of live streams. A store that panics answers 500; a full queue 503.
pub(super) async fn with_store<T: Send + 'static>(
    web: &Web,
    work: impl FnOnce(&dyn EventStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store: Arc<dyn EventStore> = Arc::clone(
        web.emitter
            .store()
            .ok_or_else(|| ApiError::internal("this server keeps no events"))?,
    );
    web.workers.run(move || work(&*store)).await?
}
