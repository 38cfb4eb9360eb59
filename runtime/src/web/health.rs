//! The readiness route: whether this instance can store and deliver events now.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::emitter::Emitter;

/// A router with one route, `GET /`: `200 {"ready": true}` when events can be stored and
/// delivered, `503 {"ready": false, "reason": ...}` otherwise (see
/// [`Emitter::health`]), so that a load balancer stops sending traffic to an instance whose
/// writer, store or listener is stuck. Mount it where the application's checks live:
///
/// ```
/// let events = tidings_runtime::Emitter::new();
/// let app: axum::Router = axum::Router::new()
///     .nest_service("/health", tidings_runtime::web::health(events));
/// # drop(app);
/// ```
pub fn health<S>(emitter: Emitter) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/", get(answer)).with_state(emitter)
}

async fn answer(State(emitter): State<Emitter>) -> (StatusCode, Json<Value>) {
    let health = emitter.health();
    let details = json!({
        "writer": health.writer.as_ref().map(|w| json!({
            "alive": w.alive,
            "queued": w.queued,
            "capacity": w.capacity,
            "lastBatchSecondsAgo": w.last_batch.map(|d| d.as_secs_f64()),
        })),
        "storeFailing": health.store_failing,
        "failedInOutage": health.failed_in_outage,
        "feed": health.feed.as_ref().map(|f| json!({
            "connected": f.connected,
            "behind": f.behind,
        })),
    });
    match health.reason() {
        None => (
            StatusCode::OK,
            Json(json!({ "ready": true, "details": details })),
        ),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason, "details": details })),
        ),
    }
}
