//! The handlers of the user's stored events: list, types, create, one event, status and
//! delete, one at a time and in bulk.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Web;
use super::error::{ApiError, parameter};
use super::extract::{User, body, parse_id, parse_status, with_store};
use super::query::parse_query;
use super::schema;
use super::served::{Served, served, served_owned};
use crate::builder::BuildProblem;
use crate::event::Event;
use crate::severity::Severity;
use crate::store::{EventQuery, PageSize};

#[utoipa::path(get, tag = "events", path = "/", params(schema::ListParams), responses(
    (status = 200, description = "a page of the user's events", body = schema::EventListDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn list(
    State(web): State<Web>,
    User(user): User,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = parse_query(raw.as_deref(), user)?;
    // An answer is built in memory: never more events than the server's cap, whatever was asked.
    let cap = web.options.max_page_size;
    let capped = match query.page_limit() {
        PageSize::All => true,
        PageSize::Limit(size) => size > cap,
    };
    if capped {
        query = query.page_size(PageSize::Limit(cap));
    }
    let page = web.query(query).await?;
    let counts = by_severity(&page);
    let answer = serde_json::to_vec(&ListAnswer {
        events: page
            .events
            .iter()
            .map(|e| served(&web.options, e))
            .collect(),
        page: page.page,
        page_size: match page.page_size {
            PageSize::All => json!("all"),
            PageSize::Limit(n) => json!(n),
        },
        total_count: page.total,
        count_by_severity_level: counts,
        read_count: page.read_count,
        capped,
    })
    .map_err(ApiError::internal)?;
    Ok(json_answer(answer))
}

/// A page's counts per severity in Meshery's shape: an array of `{severity, count}`, most
/// urgent first (the list's `countBySeverityLevel`, and the live stream's counts).
pub(super) fn by_severity(page: &crate::store::EventPage) -> Vec<Value> {
    page.count_by_severity
        .iter()
        .rev()
        .map(|(severity, count)| json!({"severity": severity.as_str(), "count": count}))
        .collect()
}

/// The list's answer, in this order; each event as [`served`] writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListAnswer<'a> {
    events: Vec<Served<'a>>,
    page: usize,
    page_size: Value,
    total_count: usize,
    count_by_severity_level: Vec<Value>,
    read_count: usize,
    capped: bool,
}

/// A JSON answer from its bytes.
fn json_answer(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, tag = "events", path = "/types", responses(
    (status = 200, description = "the distinct categories and actions", body = schema::TypesDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn types(
    State(web): State<Web>,
    User(user): User,
) -> Result<Json<Value>, ApiError> {
    #[allow(unused_mut)]
    let mut types = web.types(user).await?;
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

#[utoipa::path(post, tag = "events", path = "/", request_body = schema::ClientEventDoc, responses(
    (status = 201, description = "the stored event", body = schema::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 413, description = "over a limit of the server, named in `error`", body = schema::ErrorDoc),
    (status = 415, description = "a body that is not `application/json`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn create(
    State(web): State<Web>,
    User(user): User,
    headers: HeaderMap,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Served<'static>>), ApiError> {
    let client: ClientEvent = body(&headers, &bytes)?;
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
    let event = builder
        .max_bytes(web.options.max_event_bytes)
        .build()
        .map_err(|e| match e.problems().first() {
            Some(BuildProblem::TooLarge { field, .. }) => {
                ApiError::too_large(field, format!("{e} (web::Options::max_event_bytes)"))
            }
            Some(BuildProblem::InvalidName(name)) => ApiError::bad(name.kind(), e.to_string()),
            Some(BuildProblem::ErrorWithoutErr | BuildProblem::InvalidDoc { .. }) => {
                ApiError::bad("metadata", e.to_string())
            }
            _ => ApiError::bad("body", e.to_string()),
        })?;
    let emitted = web
        .emitter
        .emit_async(event)
        .await
        .map_err(ApiError::internal)?;
    let emitter = web.emitter.clone();
    // 201 only for an event that is stored: a failed write was reported, not published. Only
    // the store is waited for, never this instance's live delivery (the PostgreSQL listener
    // may be reconnecting): the client must not retry an event that is stored.
    let stored = with_store(&web, move |store| {
        emitter.flush_stored().map_err(ApiError::internal)?;
        store
            .get(emitted.id())
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("the event could not be stored"))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(served_owned(&web.options, stored)),
    ))
}

/// A bulk request's ids within [`Options::max_bulk_ids`](super::Options::max_bulk_ids), else a
/// 413 that names the limit and the count.
fn within_bulk_limit(web: &Web, ids: &[Uuid]) -> Result<(), ApiError> {
    let limit = web.options.max_bulk_ids;
    if ids.len() > limit {
        return Err(ApiError::too_large(
            "ids",
            format!(
                "`ids` holds {} ids; one request takes at most {limit} \
                 (web::Options::max_bulk_ids)",
                ids.len()
            ),
        ));
    }
    Ok(())
}

/// The user's events among `ids`: the query the store checks and changes in one statement.
fn of_user(user: Uuid, ids: impl IntoIterator<Item = Uuid>) -> EventQuery {
    EventQuery::new().user(user).ids(ids)
}

/// Every body takes the fields it knows and ignores the others (Meshery's UI sends more).
#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
struct BulkStatusBody {
    status: String,
    #[serde(flatten)]
    which: Which,
}

#[derive(Deserialize)]
struct BulkBody {
    #[serde(flatten)]
    which: Which,
}

/// Which events a bulk request is about: `ids`, or with `"all": true` every event of the user
/// that the list's filters in the request's query string match ("Mark all as read" is
/// `PUT /status/bulk?status=unread` with `{"status": "read", "all": true}`).
#[derive(Deserialize)]
struct Which {
    ids: Option<Vec<Uuid>>,
    #[serde(default)]
    all: bool,
}

/// What a bulk request is about, checked: ids within the limit, or a query of the user's
/// events.
enum Bulk {
    Ids(Vec<Uuid>),
    Matching(EventQuery),
}

impl Which {
    fn checked(self, web: &Web, user: Uuid, raw: Option<&str>) -> Result<Bulk, ApiError> {
        match (self.ids, self.all) {
            (Some(_), true) => Err(ApiError::bad(
                "all",
                "give `ids` or `\"all\": true` with the list's filters, not both",
            )),
            (Some(ids), false) => {
                within_bulk_limit(web, &ids)?;
                Ok(Bulk::Ids(ids))
            }
            // The list's own parameters; the user is always the request's.
            (None, true) => Ok(Bulk::Matching(parse_query(raw, user)?)),
            (None, false) => Err(ApiError::bad(
                "ids",
                "`ids` is required (or `\"all\": true` with the list's filters)",
            )),
        }
    }
}

#[utoipa::path(put, tag = "events", path = "/status/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), request_body = schema::StatusBodyDoc, responses(
    (status = 200, description = "the event with its new status", body = schema::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 413, description = "over a limit of the server, named in `error`", body = schema::ErrorDoc),
    (status = 415, description = "a body that is not `application/json`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = schema::ErrorDoc),
))]
pub(super) async fn set_status_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Served<'static>>, ApiError> {
    let id = parse_id(&id)?;
    let status = parse_status(&body::<StatusBody>(&headers, &bytes)?.status)?;
    web.mark_one(of_user(user, [id]), id, status)
        .await?
        .map(|event| Json(served_owned(&web.options, event)))
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, tag = "events", path = "/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), responses(
    (status = 200, description = "the event", body = schema::EventDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = schema::ErrorDoc),
))]
pub(super) async fn get_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<Served<'static>>, ApiError> {
    let id = parse_id(&id)?;
    web.get(id)
        .await?
        .filter(|event| event.user_id() == Some(user))
        .map(|event| Json(served_owned(&web.options, event)))
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(put, tag = "events", path = "/status/bulk", params(schema::ListParams), request_body = schema::BulkStatusBodyDoc, responses(
    (status = 200, description = "how many of the user's events changed", body = schema::UpdatedDoc),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 413, description = "over a limit of the server, named in `error`", body = schema::ErrorDoc),
    (status = 415, description = "a body that is not `application/json`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn set_status_bulk(
    State(web): State<Web>,
    User(user): User,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let request: BulkStatusBody = body(&headers, &bytes)?;
    let status = parse_status(&request.status)?;
    let which = request.which.checked(&web, user, raw.as_deref())?;
    let query = match which {
        Bulk::Ids(ids) => of_user(user, ids),
        Bulk::Matching(query) => query,
    };
    let updated = web.set_status_matching(query, status).await?;
    Ok(Json(json!({ "updated": updated })))
}

#[utoipa::path(delete, tag = "events", path = "/{id}", params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "the event's id")), responses(
    (status = 204, description = "deleted"),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
    (status = 404, description = "no event of the user has this id", body = schema::ErrorDoc),
))]
pub(super) async fn delete_one(
    State(web): State<Web>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    match web.delete_matching(of_user(user, [id])).await? {
        0 => Err(ApiError::not_found()),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

#[utoipa::path(delete, tag = "events", path = "/bulk", params(schema::ListParams), request_body = schema::BulkBodyDoc, responses(
    (status = 204, description = "the user's events among these are deleted"),
    (status = 400, description = "a bad parameter or body, named in `field`", body = schema::ErrorDoc),
    (status = 413, description = "over a limit of the server, named in `error`", body = schema::ErrorDoc),
    (status = 415, description = "a body that is not `application/json`", body = schema::ErrorDoc),
    (status = 401, description = "no user for this request", body = schema::ErrorDoc),
))]
pub(super) async fn delete_bulk(
    State(web): State<Web>,
    User(user): User,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let request: BulkBody = body(&headers, &bytes)?;
    let which = request.which.checked(&web, user, raw.as_deref())?;
    let query = match which {
        Bulk::Ids(ids) => of_user(user, ids),
        Bulk::Matching(query) => query,
    };
    web.delete_matching(query).await?;
    Ok(StatusCode::NO_CONTENT)
}
