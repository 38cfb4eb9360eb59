//! A team's first day, as a test of its own: an axum application with its own bearer-token
//! middleware (the user in request extensions), an async handler returning
//! `Result<Json<_>, AppError>` that calls an annotated sync helper, and `#[tokio::test]`s of
//! both flavours driving the router with `oneshot`. Events are captured with
//! `testing::capture_async` (handlers that use the default emitter) and `testing::Capture`
//! (handlers that name theirs).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tidings::testing::{Capture, capture, capture_async};
use tidings::{Emitter, Severity, Uuid, emits_event};
use tower::ServiceExt;

#[derive(Clone, Debug)]
struct AuthUser {
    id: Uuid,
}

#[derive(Debug)]
struct AppError(String);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_GATEWAY, self.0).into_response()
    }
}

#[derive(Clone)]
struct AppState {
    tokens: Arc<HashMap<String, AuthUser>>,
    events: Emitter,
}

/// The team's own auth: a bearer token, the user into the request's extensions.
async fn bearer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| state.tokens.get(token).cloned());
    match user {
        Some(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The helper: on its own it says so; inside a handler, the handler's event tells the story.
#[emits_event(category = "cluster", action = "handshake", nested = "skip")]
fn handshake(cluster: &str) -> Result<(), AppError> {
    if cluster == "prod" {
        Err(AppError("cluster handshake failed".into()))
    } else {
        Ok(())
    }
}

/// Uses the default emitter.
#[emits_event(
    category = "connection",
    action = "connect",
    user = user.id,
    description = "Connected to cluster {cluster}",
    error_description = "Could not connect to cluster {cluster}"
)]
async fn connect(
    Extension(user): Extension<AuthUser>,
    Path(cluster): Path<String>,
) -> Result<Json<Value>, AppError> {
    tokio::task::yield_now().await;
    handshake(&cluster)?;
    Ok(Json(json!({ "connected": cluster })))
}

/// Names its emitter, from the application's state.
#[emits_event(category = "connection", action = "disconnect", user = user.id, emitter = state.events)]
async fn disconnect(
    State(state): State<AppState>,
    Extension(user): Extension<AuthUser>,
    Path(cluster): Path<String>,
) -> Result<Json<Value>, AppError> {
    tokio::task::yield_now().await;
    Ok(Json(json!({ "disconnected": cluster })))
}

fn app(events: Emitter) -> (Router, Uuid) {
    let alice = AuthUser { id: Uuid::new_v4() };
    let state = AppState {
        tokens: Arc::new(HashMap::from([("alice-token".to_owned(), alice.clone())])),
        events,
    };
    let router = Router::new()
        .route("/clusters/{cluster}/connect", post(connect))
        .route("/clusters/{cluster}/disconnect", post(disconnect))
        .layer(middleware::from_fn_with_state(state.clone(), bearer))
        .with_state(state);
    (router, alice.id)
}

fn post_as(token: &str, path: &str) -> Request {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn capture_async_sees_a_handlers_events_in_a_current_thread_test() {
    let (router, alice) = app(Emitter::new());
    let (response, events) =
        capture_async(router.oneshot(post_as("alice-token", "/clusters/prod/connect"))).await;
    assert_eq!(response.unwrap().status(), StatusCode::BAD_GATEWAY);
    // One failed request, one notification: the helper's `nested = "skip"`.
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].severity(), Severity::Error);
    assert_eq!(events[0].user_id(), Some(alice));
    assert_eq!(events[0].description(), "Could not connect to cluster prod");
    assert_eq!(
        events[0].metadata()["err"]["message"],
        "cluster handshake failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_async_sees_a_handlers_events_in_a_multi_thread_test() {
    let (router, alice) = app(Emitter::new());
    let (response, events) =
        capture_async(router.oneshot(post_as("alice-token", "/clusters/dev/connect"))).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].description(), "Connected to cluster dev");
    assert_eq!(events[0].user_id(), Some(alice));
}

#[tokio::test]
async fn capture_around_the_future_instead_captures_nothing_as_its_docs_say() {
    let (router, _) = app(Emitter::new());
    // The closure returns the future; it runs, and emits, after `capture` returned.
    let (future, events) =
        capture(|| router.oneshot(post_as("alice-token", "/clusters/dev/connect")));
    assert_eq!(future.await.unwrap().status(), StatusCode::OK);
    assert!(events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_names_its_emitter_is_tested_with_a_capture() {
    let capture = Capture::new();
    let (router, alice) = app(capture.emitter().clone());
    let response = router
        .oneshot(post_as("alice-token", "/clusters/dev/disconnect"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let events = capture.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(events[0].action() == "disconnect");
    assert_eq!(events[0].user_id(), Some(alice));
}

#[tokio::test]
async fn a_request_without_a_token_emits_nothing() {
    let (router, _) = app(Emitter::new());
    let (response, events) =
        capture_async(router.oneshot(post_as("stolen", "/clusters/dev/connect"))).await;
    assert_eq!(response.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert!(events.is_empty());
}
