//! The baseline of the load harness: the live-notification server a team would write by hand
//! with axum, without tidings. One `tokio::sync::broadcast` channel per user, each event
//! serialized to JSON once and sent as it is to every stream of its user, axum's `Sse`; no store,
//! no resume. The routes are those of the example server that the harness uses:
//!
//! - `GET /`: a new user, in the `tidings_user` cookie;
//! - `POST /api/designs/{design}/deploy`: an event for the cookie's user;
//! - `GET /api/events/subscribe`: the user's events, live.
//!
//! `cargo run --release -p tidings-load --bin baseline -- --port 0` prints its address; SIGTERM
//! ends the streams and the server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as Frame, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The same buffer per stream as tidings' default.
const BUFFER: usize = 1024;

#[derive(Clone, Default)]
struct Channels(Arc<RwLock<HashMap<Uuid, broadcast::Sender<Arc<str>>>>>);

impl Channels {
    fn sender(&self, user: Uuid) -> broadcast::Sender<Arc<str>> {
        if let Some(sender) = self.0.read().unwrap().get(&user) {
            return sender.clone();
        }
        self.0
            .write()
            .unwrap()
            .entry(user)
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .clone()
    }
}

fn user_of(headers: &HeaderMap) -> Option<Uuid> {
    tidings_test_support::user_from_cookie(headers)
}

async fn page() -> Response {
    let cookie = format!("tidings_user={}; Path=/", Uuid::new_v4());
    ([(header::SET_COOKIE, cookie)], "baseline").into_response()
}

async fn deploy(
    State(channels): State<Channels>,
    headers: HeaderMap,
    Path(design): Path<String>,
) -> Response {
    let Some(user) = user_of(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let components = design.len();
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let id = Uuid::new_v4();
    let event = serde_json::json!({
        "id": id,
        "operationId": id,
        "userId": user,
        "actedUpon": Uuid::new_v4(),
        "category": "pattern",
        "action": "deploy",
        "severity": "success",
        "status": "unread",
        "description": format!("Deployed design {design}"),
        "metadata": {"Components": components, "Design": design},
        "createdAt": now,
        "updatedAt": now,
    });
    // Serialized once, whatever the number of streams.
    let _ = channels.sender(user).send(event.to_string().into());
    (StatusCode::OK, format!("{components} components deployed")).into_response()
}

async fn subscribe(State(channels): State<Channels>, headers: HeaderMap) -> Response {
    let Some(user) = user_of(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let receiver = channels.sender(user).subscribe();
    let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let frame = match receiver.recv().await {
            Ok(json) => Frame::default().data(&*json),
            Err(broadcast::error::RecvError::Lagged(missed)) => Frame::default()
                .event("lagged")
                .data(format!("{{\"missed\":{missed}}}")),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(frame), receiver))
    });
    Sse::new(frames)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut port = 8080_u16;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let text = args.next().ok_or("--port needs a value")?;
                port = text
                    .parse()
                    .map_err(|_| format!("the port must be a number, not {text:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}; use --port N").into()),
        }
    }
    let channels = Channels::default();
    let router = axum::Router::new()
        .route("/", get(page))
        .route("/api/designs/{design}/deploy", post(deploy))
        .route("/api/events/subscribe", get(subscribe))
        .with_state(channels.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("baseline server on http://{}", listener.local_addr()?);
    let shutdown = async move {
        if let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            terminate.recv().await;
        }
        // Dropping the senders ends every stream; graceful shutdown waits for them.
        channels.0.write().unwrap().clear();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
