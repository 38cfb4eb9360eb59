//! `async fn` under `#[emits_event]`: plain, in `#[async_trait]` impls, native `async fn` in
//! trait impls, `Send` futures in a real axum handler, and enriching the event across `.await`
//! on a multi-threaded runtime.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use common::{PingError, assert_error, assert_success};
use tidings::testing::capture;
use tidings::{Emitter, Uuid, current, emits_event};
use tower::ServiceExt;

#[emits_event(category = "connection", action = "ping", acted_upon = connection_id)]
async fn ping(connection_id: Uuid, fail: bool) -> Result<&'static str, PingError> {
    tokio::task::yield_now().await;
    if fail {
        return Err(PingError::refused());
    }
    current::meta("Context Name", "minikube");
    Ok("pong")
}

#[test]
fn async_fn_on_a_current_thread_executor() {
    let id = Uuid::new_v4();
    let (results, events) = capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { (ping(id, false).await, ping(id, true).await) })
    });
    assert_eq!(results.0.unwrap(), "pong");
    assert!(results.1.is_err());
    assert_success(&events[0], "connection", "ping");
    assert_eq!(events[0].acted_upon(), Some(id));
    assert_eq!(events[0].metadata()["Context Name"], "minikube");
    assert_error(
        &events[1],
        "connection",
        "ping",
        "could not ping",
        &["connection refused"],
    );
    assert!(events[1].metadata().get("Context Name").is_none());
}

// ---- #[async_trait] and native async fn in traits ----

#[async_trait::async_trait]
trait Connections {
    async fn connect(&self, name: &str) -> Result<String, PingError>;
    fn sync_count(&self) -> Result<usize, PingError>;
}

struct Provider {
    prefix: String,
}

#[async_trait::async_trait]
impl Connections for Provider {
    #[emits_event(
        category = "connection",
        action = "create",
        description = "Connected {name}"
    )]
    async fn connect(&self, name: &str) -> Result<String, PingError> {
        tokio::task::yield_now().await;
        if name.is_empty() {
            return Err(PingError::refused());
        }
        Ok(format!("{}{name}", self.prefix))
    }

    #[emits_event(category = "connection", action = "view")]
    fn sync_count(&self) -> Result<usize, PingError> {
        Ok(self.prefix.len())
    }
}

trait NativeConnections {
    async fn discover(&mut self) -> Result<u32, PingError>;
}

struct Scanner {
    found: u32,
}

impl NativeConnections for Scanner {
    #[emits_event(category = "connection", action = "discovered")]
    async fn discover(&mut self) -> Result<u32, PingError> {
        tokio::task::yield_now().await;
        self.found += 1;
        if self.found > 1 {
            return Err(PingError::refused());
        }
        Ok(self.found)
    }
}

#[test]
fn async_trait_and_native_async_fn_in_trait_impls() {
    let (results, events) = capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let provider = Provider {
                prefix: "k8s-".into(),
            };
            let dyn_provider: &dyn Connections = &provider;
            let mut scanner = Scanner { found: 0 };
            (
                dyn_provider.connect("minikube").await,
                dyn_provider.connect("").await,
                dyn_provider.sync_count(),
                scanner.discover().await,
                scanner.discover().await,
            )
        })
    });
    assert_eq!(results.0.unwrap(), "k8s-minikube");
    assert!(results.1.is_err());
    assert_eq!(results.2.unwrap(), 4);
    assert_eq!(results.3.unwrap(), 1);
    assert!(results.4.is_err());
    assert_eq!(events.len(), 5);
    assert_success(&events[0], "connection", "create");
    assert_eq!(events[0].description(), "Connected minikube");
    assert_error(
        &events[1],
        "connection",
        "create",
        "could not ping",
        &["connection refused"],
    );
    assert_success(&events[2], "connection", "view");
    assert_success(&events[3], "connection", "discovered");
    assert_error(
        &events[4],
        "connection",
        "discovered",
        "could not ping",
        &["connection refused"],
    );
}

// ---- Send futures, axum, and a multi-threaded runtime ----

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[derive(Clone)]
struct AppState {
    events: Emitter,
}

/// Moves across worker threads between its awaits and enriches its event after each one.
#[emits_event(
    category = "pattern",
    action = "deploy",
    user = user,
    acted_upon = design,
    emitter = state.events,
    description = "Deployed design {design}"
)]
async fn deploy(state: &AppState, user: Uuid, design: String) -> Result<u32, PingError> {
    let mut steps = 0;
    for step in 0..4 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        current::meta(
            format!("step {step}"),
            format!("{:?}", std::thread::current().id()),
        );
        steps += 1;
    }
    if design.ends_with("broken") {
        return Err(PingError::refused());
    }
    Ok(steps)
}

async fn deploy_handler(
    State(state): State<AppState>,
    Path((user, design)): Path<(Uuid, String)>,
) -> (StatusCode, String) {
    match deploy(&state, user, design).await {
        Ok(steps) => (StatusCode::OK, format!("{steps} steps")),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

#[test]
fn a_send_future_in_a_real_axum_handler_on_a_multi_threaded_runtime() {
    let state = AppState {
        events: Emitter::new(),
    };
    let user = Uuid::new_v4();
    let design = Uuid::new_v4();
    let live = state.events.subscribe(user);

    // Compiles only if the annotated function's future is `Send`.
    let future = assert_send(deploy(&state, user, design.to_string()));
    drop(future);

    let app = axum::Router::new()
        .route(
            "/deploy/{user}/{design}",
            axum::routing::post(deploy_handler),
        )
        .with_state(state.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let statuses = rt.block_on(async {
        let mut tasks = Vec::new();
        for suffix in ["", "broken"] {
            let app = app.clone();
            let uri = format!("/deploy/{user}/{design}{suffix}");
            tasks.push(tokio::spawn(async move {
                let request = Request::post(uri).body(axum::body::Body::empty()).unwrap();
                app.oneshot(request).await.unwrap().status()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        statuses
    });
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_GATEWAY]);

    let mut events: Vec<Arc<tidings::Event>> = live.drain();
    events.sort_by_key(|e| e.severity());
    assert_eq!(events.len(), 2);
    let ok = assert_success(&events[0], "pattern", "deploy");
    assert_eq!(ok.user_id(), Some(user));
    assert_eq!(ok.acted_upon(), Some(design));
    assert_eq!(ok.description(), format!("Deployed design {design}"));
    for step in 0..4 {
        assert!(
            ok.metadata().contains_key(&format!("step {step}")),
            "{ok:?}"
        );
    }
    let failed = assert_error(
        &events[1],
        "pattern",
        "deploy",
        "could not ping",
        &["connection refused"],
    );
    assert_eq!(failed.acted_upon(), None, "`{design}broken` is not a UUID");
    assert_eq!(
        failed.metadata()["invalid_ids"]["acted_upon"],
        format!("{design}broken")
    );
    assert!(failed.metadata().contains_key("step 3"));
}
