//! The baseline of the load harness's `--api` mode: the events API a team would write by hand
//! with axum, `tokio-postgres` and `deadpool-postgres` (a pool of 8 connections, as tidings'
//! store has, each statement prepared once per connection with `prepare_cached`), on tidings' PostgreSQL table
//! and with the same SQL as tidings' store runs for the routes a page load uses:
//!
//! - `GET /api/events?page=P&pagesize=N&sort=created_at&order=desc`: a page of the user's
//!   events, newest first, with the total and the counts per severity;
//! - `GET /api/events/types`: the distinct categories and actions of the user's events;
//! - `PUT /api/events/status/{id}` with `{"status": "read"}`: one event marked, then read back;
//! - `PUT /api/events/status/bulk` with `{"ids": [...], "status": "unread"}`: several marked in
//!   one statement.
//!
//! The user is the id in the `tidings_user` cookie, as in the example server. No validation
//! beyond what serde does, no limits, no live streams: the fastest thing that answers the same.
//!
//! `cargo run --release -p tidings-load --bin api_baseline -- --port 0 --pg postgres://...`
//! prints its address; SIGTERM ends it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use deadpool_postgres::{Config, Pool, Runtime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio_postgres::NoTls;
use tokio_postgres::Row;
use uuid::Uuid;

const COLUMNS: &str = "id, operation_id, user_id, system_id, acted_upon, category, action, \
    severity, status, description, metadata, created_at, updated_at";

/// An event as tidings serves it (the same keys in the same order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: Uuid,
    operation_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acted_upon: Option<Uuid>,
    category: String,
    action: String,
    severity: String,
    status: String,
    description: String,
    metadata: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl Event {
    fn of(row: &Row) -> Event {
        Event {
            id: row.get(0),
            operation_id: row.get(1),
            user_id: row.get(2),
            system_id: row.get(3),
            acted_upon: row.get(4),
            category: row.get(5),
            action: row.get(6),
            severity: row.get(7),
            status: row.get(8),
            description: row.get(9),
            metadata: match row.get::<_, Value>(10) {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            created_at: row.get(11),
            updated_at: row.get(12),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListAnswer {
    events: Vec<Event>,
    page: i64,
    page_size: i64,
    total_count: i64,
    count_by_severity_level: Vec<Value>,
    read_count: i64,
    capped: bool,
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    page: i64,
    #[serde(default = "default_page_size")]
    pagesize: i64,
}

fn default_page_size() -> i64 {
    25
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
struct BulkBody {
    ids: Vec<Uuid>,
    status: String,
}

/// A failed request: 500 with the error, or 401 without a user.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

fn user(headers: &HeaderMap) -> Result<Uuid, Failure> {
    tidings_test_support::user_from_cookie(headers)
        .ok_or_else(|| Failure(StatusCode::UNAUTHORIZED, "no user".to_owned()))
}

/// The severities, least urgent first (Meshery's list shows them most urgent first).
const SEVERITIES: [&str; 7] = [
    "success",
    "informational",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

async fn list(
    State(pool): State<Pool>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Json<ListAnswer>, Failure> {
    let user = user(&headers)?;
    let client = pool.get().await?;
    let total = client
        .prepare_cached("SELECT count(*) FROM tidings_events WHERE user_id = $1")
        .await?;
    let total: i64 = client.query_one(&total, &[&user]).await?.get(0);
    let page = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tidings_events WHERE user_id = $1 \
             ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
        ))
        .await?;
    let rows = client
        .query(
            &page,
            &[&user, &params.pagesize, &(params.page * params.pagesize)],
        )
        .await?;
    let events: Vec<Event> = rows.iter().map(Event::of).collect();
    let counts = client
        .prepare_cached(
            "SELECT severity, count(*) FILTER (WHERE status = $1), \
             count(*) FILTER (WHERE status = 'read') FROM tidings_events \
             WHERE ($2::uuid IS NULL OR user_id = $2) GROUP BY severity",
        )
        .await?;
    let mut by_severity: HashMap<String, (i64, i64)> = HashMap::new();
    for row in client.query(&counts, &[&"unread", &Some(user)]).await? {
        by_severity.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let read_count = by_severity.values().map(|(_, read)| read).sum();
    let count_by_severity_level = SEVERITIES
        .iter()
        .rev()
        .filter_map(|severity| {
            let (count, _) = by_severity.get(*severity)?;
            Some(json!({ "severity": severity, "count": count }))
        })
        .collect();
    Ok(Json(ListAnswer {
        events,
        page: params.page,
        page_size: params.pagesize,
        total_count: total,
        count_by_severity_level,
        read_count,
        capped: false,
    }))
}

async fn types(State(pool): State<Pool>, headers: HeaderMap) -> Result<Json<Value>, Failure> {
    let user = user(&headers)?;
    let client = pool.get().await?;
    let mut distinct = Vec::new();
    for column in ["category", "action"] {
        let statement = client
            .prepare_cached(&format!(
                "SELECT DISTINCT {column} FROM tidings_events WHERE user_id = $1 \
                 ORDER BY {column}"
            ))
            .await?;
        let values: Vec<String> = client
            .query(&statement, &[&user])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        distinct.push(values);
    }
    let actions = distinct.pop();
    let categories = distinct.pop();
    Ok(Json(json!({ "category": categories, "action": actions })))
}

const SET_STATUS: &str = "UPDATE tidings_events SET status = $3, \
    updated_at = CASE WHEN status = $3 THEN updated_at ELSE $4 END \
    WHERE user_id = $1 AND id = ANY($2)";

async fn set_status(
    State(pool): State<Pool>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(body): Json<StatusBody>,
) -> Result<Response, Failure> {
    let user = user(&headers)?;
    let client = pool.get().await?;
    let update = client.prepare_cached(SET_STATUS).await?;
    let changed = client
        .execute(
            &update,
            &[&user, &vec![id], &body.status, &OffsetDateTime::now_utc()],
        )
        .await?;
    if changed == 0 {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    let one = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tidings_events WHERE id = $1"
        ))
        .await?;
    match client.query_opt(&one, &[&id]).await? {
        Some(row) => Ok(Json(Event::of(&row)).into_response()),
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

async fn set_status_bulk(
    State(pool): State<Pool>,
    headers: HeaderMap,
    Json(body): Json<BulkBody>,
) -> Result<Json<Value>, Failure> {
    let user = user(&headers)?;
    let client = pool.get().await?;
    let update = client.prepare_cached(SET_STATUS).await?;
    let updated = client
        .execute(
            &update,
            &[&user, &body.ids, &body.status, &OffsetDateTime::now_utc()],
        )
        .await?;
    Ok(Json(json!({ "updated": updated })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut port = 8080_u16;
    let mut url = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let text = args.next().ok_or("--port needs a value")?;
                port = text
                    .parse()
                    .map_err(|_| format!("the port must be a number, not {text:?}"))?;
            }
            "--pg" => url = Some(args.next().ok_or("--pg needs a value")?),
            other => {
                return Err(format!("unknown argument {other:?}; use --port N --pg URL").into());
            }
        }
    }
    // Eight connections, as tidings' store has (deadpool's default is four per core, and the
    // harness runs the server on one).
    let config = Config {
        url: Some(url.ok_or("--pg URL is needed")?),
        pool: Some(deadpool_postgres::PoolConfig::new(8)),
        ..Config::default()
    };
    let pool = config.create_pool(Some(Runtime::Tokio1), NoTls)?;
    let router = axum::Router::new()
        .route("/api/events", get(list))
        .route("/api/events/types", get(types))
        .route("/api/events/status/{id}", put(set_status))
        .route("/api/events/status/bulk", put(set_status_bulk))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("API baseline server on http://{}", listener.local_addr()?);
    let shutdown = async move {
        if let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            terminate.recv().await;
        }
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
