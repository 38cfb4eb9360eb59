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
//! | `PUT /status/{id}` | `{"status": "read"}` |
//! | `PUT /status/bulk` | `{"status": "read", "ids": [...]}` |
//! | `DELETE /{id}` | 204 |
//! | `DELETE /bulk` | `{"ids": [...]}`, 204 |
//!
//! tidings has no authentication of its own: the application says who the user of a request
//! is, with a function of the request's parts (headers, extensions set by its own middleware).
//! Every route answers the same with and without a trailing slash. A request without a user
//! gets 401. A user never reads, marks or deletes another user's
//! events: such requests answer as if the event did not exist. Bad bodies and parameters get
//! 400 with a JSON error naming the field and the value.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event as Frame, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use uuid::Uuid;

mod openapi;

use crate::broadcast::{Lagged, Subscription};
use crate::builder::BuildProblem;
use crate::emitter::Emitter;
use crate::event::Event;
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};
use crate::store::{EventQuery, EventStore, Order, PageSize, SortField};

/// How many missed events a reconnecting stream replays at most; beyond that it is told to
/// reload.
pub const MAX_REPLAY: usize = 1000;

type UserOf = dyn Fn(&Parts) -> Option<Uuid> + Send + Sync;

#[derive(Clone)]
struct Web {
    emitter: Emitter,
    user_of: Arc<UserOf>,
    options: Options,
    recent: Arc<RecentJson>,
}

/// The JSON of the live events this router sent last, shared by all its streams: a live event
/// goes to every stream of its user at about the same time, and is serialized for the first one
/// only. Replayed (stored) events are serialized afresh: their status may have changed.
struct RecentJson {
    sent: std::sync::Mutex<VecDeque<(Uuid, Arc<str>)>>,
}

impl RecentJson {
    /// Enough for the events of many users in flight at once; the JSON of an event is a few
    /// hundred bytes.
    const KEPT: usize = 256;

    fn new() -> Self {
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
        // An event is strings, numbers, ids, times and a JSON map: it always serializes.
        let json: Arc<str> = serde_json::to_string(event)
            .unwrap_or_else(|_| "{}".to_owned())
            .into();
        let mut sent = lock();
        if sent.len() == Self::KEPT {
            sent.pop_front();
        }
        sent.push_back((id, Arc::clone(&json)));
        json
    }
}

/// How the events API behaves where the defaults do not suit; for [`router_with`].
///
/// ```
/// use std::time::Duration;
///
/// let options = tidings_runtime::web::Options::default().keep_alive(Duration::from_secs(30));
/// assert_eq!(options.keep_alive_interval(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    keep_alive: std::time::Duration,
    meshery_errors: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_alive: DEFAULT_KEEP_ALIVE,
            meshery_errors: false,
        }
    }
}

impl Options {
    /// How often a live stream sends a comment when it has nothing else to send, so that
    /// proxies keep the connection open (default [`DEFAULT_KEEP_ALIVE`]).
    pub fn keep_alive(mut self, interval: std::time::Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// The keep-alive interval.
    pub fn keep_alive_interval(&self) -> std::time::Duration {
        self.keep_alive
    }

    /// Serves each error event with `metadata.error` as well, derived from `err` in the shape
    /// of MeshKit's error type, which Meshery's UI reads for its error details: `Code`,
    /// `Severity` (MeshKit's number: 3 for emergency, 2 critical, 1 alert and error, 0 the
    /// others), `ShortDescription` (the message), `LongDescription` (the long description, or
    /// the causes), `ProbableCause` and `SuggestedRemediation`. `err` stays the one stored
    /// source; `error` is made when an event is served (the list, one event, a created event,
    /// the live stream). Off by default; mount a second router with it where Meshery's UI
    /// reads (`/api/system/events`).
    pub fn meshery_errors(mut self, on: bool) -> Self {
        self.meshery_errors = on;
        self
    }
}

/// An event as this API serves it: with `metadata.error` derived from `err` when
/// [`Options::meshery_errors`] is on.
fn shown(options: &Options, event: &Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or_else(|_| json!({}));
    if !options.meshery_errors {
        return value;
    }
    let Some(err) = event.metadata().get(crate::ERR_KEY) else {
        return value;
    };
    let strings = |key: &str| -> Vec<Value> {
        err.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let long = match err.get("longDescription").and_then(Value::as_str) {
        Some(text) => vec![json!(text)],
        None => strings("causes"),
    };
    let level = match event.severity() {
        crate::Severity::Emergency => 3,
        crate::Severity::Critical => 2,
        crate::Severity::Alert | crate::Severity::Error => 1,
        _ => 0,
    };
    let error = json!({
        "Code": err.get("code").and_then(Value::as_str).unwrap_or_default(),
        "Severity": level,
        "ShortDescription": [err.get("message").and_then(Value::as_str).unwrap_or_default()],
        "LongDescription": long,
        "ProbableCause": strings("probableCauses"),
        "SuggestedRemediation": strings("suggestedRemediations"),
    });
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("error".to_owned(), error);
    }
    value
}

/// How often a live stream sends a keep-alive comment unless told otherwise: 15 seconds.
pub const DEFAULT_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The events API and live stream of `emitter`'s store and broadcaster; `user_of` says who the
/// user of a request is (`None`: 401).
///
/// Mount it with `nest_service`: every route then answers the same with and without a trailing
/// slash, the mount point too (`/api/events/` as `/api/events`). axum's `nest` also works, but it
/// copies the routes into the outer router and does not route the mount point with a slash.
///
/// ```
/// use tidings_runtime::{Emitter, Uuid};
///
/// let events = Emitter::new();
/// let api: axum::Router = axum::Router::new().nest_service(
///     "/api/events",
///     tidings_runtime::web::router(events, |parts| {
///         // Here, a header set by the application's own authentication layer.
///         let value = parts.headers.get("x-user-id")?;
///         Uuid::parse_str(value.to_str().ok()?).ok()
///     }),
/// );
/// # drop(api);
/// ```
pub fn router<S>(
    emitter: Emitter,
    user_of: impl Fn(&Parts) -> Option<Uuid> + Send + Sync + 'static,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(emitter, user_of, Options::default())
}

/// [`router`] with [`Options`].
pub fn router_with<S>(
    emitter: Emitter,
    user_of: impl Fn(&Parts) -> Option<Uuid> + Send + Sync + 'static,
    options: Options,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let web = Web {
        emitter,
        user_of: Arc::new(user_of),
        options,
        recent: Arc::new(RecentJson::new()),
    };
    // A path with a trailing slash that matched no route is tried again without it, so that
    // `/types/` answers as `/types` does (and `/api/events/` as `/api/events`).
    let without_slash = routes().with_state(web.clone());
    routes()
        .with_state(web)
        .fallback_service(tower::service_fn(move |mut request: Request| {
            let retry = without_slash.clone();
            async move {
                let trimmed = trim_trailing_slash(request.uri());
                match trimmed {
                    Some(uri) => {
                        *request.uri_mut() = uri;
                        retry.oneshot(request).await
                    }
                    None => Ok(StatusCode::NOT_FOUND.into_response()),
                }
            }
        }))
}

fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/openapi.json", get(openapi_document))
        .route("/types", get(types))
        .route("/subscribe", get(subscribe))
        .route("/status/bulk", put(set_status_bulk))
        .route("/status/{id}", put(set_status_one))
        .route("/bulk", axum::routing::delete(delete_bulk))
        .route("/{id}", get(get_one).delete(delete_one))
}

/// The URI without the trailing slash of its path; `None` when there is none to take away.
fn trim_trailing_slash(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let trimmed = path.strip_suffix('/')?;
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    if trimmed == path {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The notification center: one static page (no build step, no framework) that lists the
/// user's events newest first and shows new ones live over the stream: unread counts (in all and
/// per severity, each a filter), filters by severity, status, category, action and text (kept in
/// the page's address), paging as the list is scrolled, mark as read or unread and delete, one
/// at a time or for a selection, "Mark all as read", each event's metadata and error details,
/// and the stream's state. Keyboard accessible; follows the system's dark mode. It expects
/// [`router`] mounted at `/api/events` on the same origin, and the user to be known from
/// something the browser sends by itself (a cookie).
pub async fn notification_center() -> Html<&'static str> {
    Html(include_str!("web/page.html"))
}

/// A 4xx or 5xx answer with a JSON body naming what was wrong.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<&'static str>,
}

impl ApiError {
    fn bad(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field),
        }
    }

    fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: "no such event".to_owned(),
            field: None,
        }
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(self.message));
        if let Some(field) = self.field {
            body.insert("field".to_owned(), Value::String(field.to_owned()));
        }
        (self.status, Json(Value::Object(body))).into_response()
    }
}

/// The user of a request, from the application's function.
struct User(Uuid);

impl FromRequestParts<Web> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, ApiError> {
        (web.user_of)(parts).map(User).ok_or(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "no user for this request".to_owned(),
            field: None,
        })
    }
}

fn store(web: &Web) -> Result<&Arc<dyn EventStore>, ApiError> {
    web.emitter
        .store()
        .ok_or_else(|| ApiError::internal("this server keeps no events"))
}

/// Runs store work on tokio's blocking pool: a slow query (a large database, a file locked by
/// another writer) must not hold an executor thread, and with it other requests and the
/// keepalives of live streams. A store that panics answers 500.
/// The OpenAPI 3.1 document of this API (paths relative to where it is mounted).
async fn openapi_document() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(openapi::document).clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document,
    )
        .into_response()
}

async fn with_store<T: Send + 'static>(
    web: &Web,
    work: impl FnOnce(&dyn EventStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(store(web)?);
    tokio::task::spawn_blocking(move || work(&*store))
        .await
        .map_err(|_| ApiError::internal("the event store failed"))?
}

/// Parses the list parameters; repeated keys add values.
fn parse_query(raw: Option<&str>, user: Uuid) -> Result<EventQuery, ApiError> {
    let mut query = EventQuery::new().user(user);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.as_ref();
        let number = |field: &'static str| {
            let parsed = value.parse::<usize>();
            parameter(
                field,
                parsed.map_err(|_| format!("`{field}` must be a whole number, not {value:?}")),
            )
        };
        query = match key.as_ref() {
            "page" => query.page(number("page")?),
            "pagesize" if value == "all" => query.page_size(PageSize::All),
            "pagesize" => query.page_size(PageSize::Limit(number("pagesize")?)),
            "search" => query.search(value),
            "order" => query.order(parameter(
                "order",
                match value {
                    "asc" => Ok(Order::Asc),
                    "desc" => Ok(Order::Desc),
                    _ => Err(format!("`order` must be `asc` or `desc`, not {value:?}")),
                },
            )?),
            "sort" => query.sort(parameter(
                "sort",
                match value {
                    "created_at" => Ok(SortField::CreatedAt),
                    "updated_at" => Ok(SortField::UpdatedAt),
                    _ => Err(format!(
                        "`sort` must be `created_at` or `updated_at`, not {value:?}"
                    )),
                },
            )?),
            "status" => query.status(parameter("status", value.parse())?),
            "category" => each(
                "category",
                value,
                |q, v| Ok(q.category(Category::new(v.to_owned()).map_err(|e| e.to_string())?)),
                query,
            )?,
            "action" => each(
                "action",
                value,
                |q, v| Ok(q.action(Action::new(v.to_owned()).map_err(|e| e.to_string())?)),
                query,
            )?,
            "severity" => each(
                "severity",
                value,
                |q, v| Ok(q.severity(v.parse().map_err(|e: crate::UnknownLevel| e.to_string())?)),
                query,
            )?,
            "actedUpon" => each(
                "actedUpon",
                value,
                |q, v| {
                    let id = Uuid::parse_str(v)
                        .map_err(|_| format!("`actedUpon` must be a UUID, not {v:?}"))?;
                    Ok(q.acted_upon(id))
                },
                query,
            )?,
            // Parameters this API does not take (Meshery's UI sends `author`) are ignored, as
            // Meshery's server does.
            _ => query,
        };
    }
    Ok(query)
}

/// A multi-valued filter: repeated (`severity=error&severity=warning`), or one JSON array of
/// strings (`severity=["error","warning"]`, as Meshery's UI sends it). Each value is added by
/// `add`; a malformed array or value is a 400 naming the parameter.
fn each(
    field: &'static str,
    value: &str,
    add: impl Fn(EventQuery, &str) -> Result<EventQuery, String>,
    mut query: EventQuery,
) -> Result<EventQuery, ApiError> {
    // An empty value (a filter with nothing chosen, `category=`) does not filter.
    if value.is_empty() {
        return Ok(query);
    }
    if !value.trim_start().starts_with('[') {
        return parameter(field, add(query, value));
    }
    let values: Vec<String> = parameter(
        field,
        serde_json::from_str(value).map_err(|e| {
            format!("`{field}` as a list must be a JSON array of strings, not {value:?} ({e})")
        }),
    )?;
    for value in &values {
        query = parameter(field, add(query, value))?;
    }
    Ok(query)
}

/// The list parameters' parser, for the fuzz target: the query, or the parameter a 400 would
/// name and its message. Not a public API.
#[doc(hidden)]
pub fn __parse_query(raw: &str) -> Result<EventQuery, (&'static str, String)> {
    parse_query(Some(raw), Uuid::nil()).map_err(|e| (e.field.unwrap_or("query"), e.message))
}

/// A parameter's parsed value, or a 400 that names the parameter and says what is wrong.
fn parameter<T, E: std::fmt::Display>(
    field: &'static str,
    parsed: Result<T, E>,
) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::bad(field, e.to_string()))
}

#[utoipa::path(get, tag = "events", path = "/", params(openapi::ListParams), responses(
    (status = 200, description = "a page of the user's events", body = openapi::EventListDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn list(
    State(web): State<Web>,
    User(user): User,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(raw.as_deref(), user)?;
    let page = with_store(&web, move |store| {
        store.query(&query).map_err(ApiError::internal)
    })
    .await?;
    // Meshery's shape: an array of `{severity, count}`, most urgent first.
    let counts: Vec<Value> = page
        .count_by_severity
        .iter()
        .rev()
        .map(|(severity, count)| json!({"severity": severity.as_str(), "count": count}))
        .collect();
    Ok(Json(json!({
        "events": page.events.iter().map(|e| shown(&web.options, e)).collect::<Vec<_>>(),
        "page": page.page,
        "pageSize": match page.page_size {
            PageSize::All => json!("all"),
            PageSize::Limit(n) => json!(n),
        },
        "totalCount": page.total,
        "countBySeverityLevel": counts,
        "readCount": page.read_count,
    })))
}

#[utoipa::path(get, tag = "events", path = "/types", responses(
    (status = 200, description = "the distinct categories and actions", body = openapi::TypesDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn types(State(web): State<Web>, User(user): User) -> Result<Json<Value>, ApiError> {
    #[allow(unused_mut)]
    let mut types = with_store(&web, move |store| {
        store.types(Some(user)).map_err(ApiError::internal)
    })
    .await?;
    // What can happen, not only what happened: the catalog's kinds too.
    #[cfg(feature = "catalog")]
    {
        let (categories, actions) = crate::catalog::types();
        types.categories.extend(categories);
        types.categories.sort();
        types.categories.dedup();
        types.actions.extend(actions);
        types.actions.sort();
        types.actions.dedup();
    }
    Ok(Json(json!({
        "category": types.categories,
        "action": types.actions,
    })))
}

/// What a client may send; the server sets the rest, and ignores fields it does not take (a
/// client never sets the user, system, id, status or times).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientEvent {
    acted_upon: Option<Uuid>,
    category: Option<String>,
    action: Option<String>,
    severity: Option<String>,
    /// Absent or `null`: empty.
    description: Option<String>,
    /// Absent or `null`: none.
    metadata: Option<Map<String, Value>>,
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad("body", format!("invalid JSON body: {e}")))
}

#[utoipa::path(post, tag = "events", path = "/", request_body = openapi::ClientEventDoc, responses(
    (status = 201, description = "the stored event", body = openapi::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn create(
    State(web): State<Web>,
    User(user): User,
    bytes: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let client: ClientEvent = body(&bytes)?;
    let category = client
        .category
        .ok_or_else(|| ApiError::bad("category", "`category` is required"))?;
    let action = client
        .action
        .ok_or_else(|| ApiError::bad("action", "`action` is required"))?;
    let severity: Severity = parameter(
        "severity",
        client
            .severity
            .ok_or_else(|| "`severity` is required".to_owned())
            .and_then(|name| name.parse().map_err(|e: crate::UnknownLevel| e.to_string())),
    )?;
    // The builder checks the names: one rule, one place.
    let mut builder = Event::builder()
        .from_user(user)
        .category(category)
        .action(action)
        .severity(severity)
        .description(client.description.unwrap_or_default())
        .metadata(client.metadata.unwrap_or_default());
    // MeshKit writes an absent id as the nil UUID: it means none here too.
    if let Some(id) = client.acted_upon.filter(|id| !id.is_nil()) {
        builder = builder.acted_upon(id);
    }
    let event = builder.build().map_err(|e| {
        let field = match e.problems().first() {
            Some(BuildProblem::InvalidName(name)) => name.kind(),
            Some(BuildProblem::ErrorWithoutErr | BuildProblem::InvalidDoc { .. }) => "metadata",
            _ => "body",
        };
        ApiError::bad(field, e.to_string())
    })?;
    let emitted = web
        .emitter
        .emit_async(event)
        .await
        .map_err(ApiError::internal)?;
    let emitter = web.emitter.clone();
    // 201 only for an event that is stored: a failed write was reported, not published.
    let stored = with_store(&web, move |store| {
        // Waits for the background writer, if any.
        emitter.flush().map_err(ApiError::internal)?;
        store
            .get(emitted.id())
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("the event could not be stored"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(shown(&web.options, &stored))))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::bad("id", format!("`id` must be a UUID, not {text:?}")))
}

/// The ids among `ids` that are events of `user`; the others answer as if they did not exist.
fn owned(store: &dyn EventStore, user: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    let mut mine = Vec::with_capacity(ids.len());
    for &id in ids {
        if store
            .get(id)
            .map_err(ApiError::internal)?
            .and_then(|e| e.user_id())
            == Some(user)
        {
            mine.push(id);
        }
    }
    Ok(mine)
}

/// Every body takes the fields it knows and ignores the others (Meshery's UI sends more).
#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
struct BulkStatusBody {
    status: String,
    ids: Vec<Uuid>,
}

#[derive(Deserialize)]
struct BulkBody {
    ids: Vec<Uuid>,
}

fn parse_status(text: &str) -> Result<Status, ApiError> {
    text.parse()
        .map_err(|e: crate::UnknownLevel| ApiError::bad("status", e.to_string()))
}

#[utoipa::path(put, tag = "events", path = "/status/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), request_body = openapi::StatusBodyDoc, responses(
    (status = 200, description = "the event with its new status", body = openapi::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = openapi::ErrorDoc),
))]
async fn set_status_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let status = parse_status(&body::<StatusBody>(&bytes)?.status)?;
    let options = web.options.clone();
    with_store(&web, move |store| {
        if owned(store, user, &[id])?.is_empty() {
            return Err(ApiError::not_found());
        }
        store.set_status(id, status).map_err(ApiError::internal)?;
        store
            .get(id)
            .map_err(ApiError::internal)?
            .map(|event| Json(shown(&options, &event)))
            .ok_or_else(ApiError::not_found)
    })
    .await
}

#[utoipa::path(get, tag = "events", path = "/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), responses(
    (status = 200, description = "the event", body = openapi::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = openapi::ErrorDoc),
))]
async fn get_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let options = web.options.clone();
    with_store(&web, move |store| {
        store
            .get(id)
            .map_err(ApiError::internal)?
            .filter(|event| event.user_id() == Some(user))
            .map(|event| Json(shown(&options, &event)))
            .ok_or_else(ApiError::not_found)
    })
    .await
}

#[utoipa::path(put, tag = "events", path = "/status/bulk", request_body = openapi::BulkStatusBodyDoc, responses(
    (status = 200, description = "how many of the user's events changed", body = openapi::UpdatedDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn set_status_bulk(
    State(web): State<Web>,
    User(user): User,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: BulkStatusBody = body(&bytes)?;
    let status = parse_status(&request.status)?;
    let updated = with_store(&web, move |store| {
        let mine = owned(store, user, &request.ids)?;
        store
            .set_status_many(&mine, status)
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(Json(json!({ "updated": updated })))
}

#[utoipa::path(delete, tag = "events", path = "/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), responses(
    (status = 204, description = "deleted"),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = openapi::ErrorDoc),
))]
async fn delete_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    with_store(&web, move |store| {
        if owned(store, user, &[id])?.is_empty() {
            return Err(ApiError::not_found());
        }
        store.delete(id).map_err(ApiError::internal)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, tag = "events", path = "/bulk", request_body = openapi::BulkBodyDoc, responses(
    (status = 204, description = "the user's events among these are deleted"),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn delete_bulk(
    State(web): State<Web>,
    User(user): User,
    bytes: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let request: BulkBody = body(&bytes)?;
    with_store(&web, move |store| {
        let mine = owned(store, user, &request.ids)?;
        store.delete_many(&mine).map_err(ApiError::internal)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, tag = "events", path = "/subscribe", params(("Last-Event-ID" = Option<String>, Header, format = Uuid, description = "the last event received: the stored events after it are sent first")), responses(
    (status = 200, description = "Server-Sent Events: each frame's `id` is the event's id and its `data` the event", content_type = "text/event-stream", body = String),
    (status = 400, description = "a bad parameter or body, named in `field`", body = openapi::ErrorDoc),
    (status = 401, description = "no user for this request", body = openapi::ErrorDoc),
))]
async fn subscribe(
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
                .push_back(Frame::default().event("reload").data("{}")),
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

/// A stored event's frame, serialized for this stream.
fn frame(options: &Options, event: &Event) -> Frame {
    let frame = Frame::default().id(event.id().to_string());
    if options.meshery_errors {
        frame.data(shown(options, event).to_string())
    } else {
        frame.data(serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned()))
    }
}

/// A live event's frame: its JSON made once for all the streams it goes to (Meshery's shape, with
/// the derived `error`, is made per stream).
fn live_frame(options: &Options, recent: &RecentJson, event: &Event) -> Frame {
    if options.meshery_errors {
        return frame(options, event);
    }
    Frame::default()
        .id(event.id().to_string())
        .data(&*recent.json(event))
}

/// Replayed frames first, then live events not already replayed.
struct LiveStream {
    replay: VecDeque<Frame>,
    replayed: HashSet<Uuid>,
    live: Subscription,
    options: Options,
    recent: Arc<RecentJson>,
}

impl futures_core::Stream for LiveStream {
    type Item = Result<Frame, Infallible>;

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
                Poll::Ready(Some(Err(Lagged(missed)))) => Poll::Ready(Some(Ok(Frame::default()
                    .event("lagged")
                    .data(json!({ "missed": missed }).to_string())))),
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
