//! An axum server with annotated handlers, the events API and live stream under `/api/events`
//! (and under `/api/system/events`, where Meshery's UI reads it), SQLite as the store, and the
//! notification center at `/`.
//!
//! ```sh
//! cargo run -p tidings-example-server --example server -- --port 8080 --db tidings-events.db
//! ```
//!
//! Open <http://127.0.0.1:8080/> (the page gives the browser a demo user in a cookie; open
//! <http://127.0.0.1:8080/api/me> in the same browser to see its id), then trigger the annotated
//! handlers from another terminal as that user, and watch the notifications arrive without a
//! reload:
//!
//! ```sh
//! curl -X POST -b "tidings_user=<the id from /api/me>" http://127.0.0.1:8080/api/connections/minikube/ping
//! curl -X POST -b "tidings_user=<...>" http://127.0.0.1:8080/api/connections/staging/ping
//! curl -X POST -b "tidings_user=<...>" http://127.0.0.1:8080/api/designs/web-frontend/deploy
//! ```
//!
//! Two handlers keep the notification center quiet: a reconnect that fails every time folds its
//! failures into one notification with a count (`coalesce`), and a probe emits only when a
//! cluster's state changes (`emit_on = "change"`); call them a few times and watch:
//!
//! ```sh
//! curl -X POST -b "tidings_user=<...>" http://127.0.0.1:8080/api/connections/7f6f1c6e-3f0a-4d7e-9a51-0c2f6f0a1b2c/reconnect
//! curl -X POST -b "tidings_user=<...>" http://127.0.0.1:8080/api/clusters/7f6f1c6e-3f0a-4d7e-9a51-0c2f6f0a1b2c/probe/down
//! ```
//!
//! The port also comes from `PORT`, the database path from `TIDINGS_DB`. Ctrl-C or SIGTERM ends the
//! open live streams, waits for the requests in flight, stores every event they emitted, and
//! exits.
//!
//! With `--pg postgres://...` (or `TIDINGS_PG`) the events go to PostgreSQL instead, and several
//! instances of the server share one history: a notification emitted on one reaches the pages
//! open on every other, live.
//!
//! ```sh
//! cargo run -p tidings-example-server --example server -- --port 8081 --pg postgres://postgres@127.0.0.1/test
//! ```
//!
//! With `--memory`, the memory store (the last 10,000 events, nothing kept across restarts).

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tidings::{
    Emitter, ErrorDetails, EventStore, PgStore, SqliteStore, Uuid, current, emits_event,
};

const COOKIE: &str = "tidings_user";

/// DEMO ONLY: the user is whatever id the `tidings_user` cookie holds, and anyone can send any
/// id, so anyone can read anyone's events. A real application reads the user its own
/// authentication vouches for: `tidings::web::user_from_extension` with the user its auth
/// middleware put in the request's extensions (README, "The page behind your auth").
fn user_of(parts: &Parts) -> Option<Uuid> {
    let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
}

struct User(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StatusCode> {
        user_of(parts).map(User).ok_or(StatusCode::UNAUTHORIZED)
    }
}

#[derive(Clone)]
struct App {
    events: Emitter,
}

#[derive(Debug)]
enum PingError {
    UnknownConnection(String),
    Unreachable(std::io::Error),
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PingError::UnknownConnection(name) => write!(f, "no connection named {name:?}"),
            PingError::Unreachable(_) => f.write_str("the Kubernetes API server did not answer"),
        }
    }
}

impl Error for PingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PingError::UnknownConnection(_) => None,
            PingError::Unreachable(e) => Some(e),
        }
    }
}

impl ErrorDetails for PingError {
    fn code(&self) -> Option<&str> {
        Some("tidings-example-1001")
    }
    fn probable_causes(&self) -> Vec<String> {
        vec!["The cluster is stopped, or its address changed.".into()]
    }
    fn suggested_remediations(&self) -> Vec<String> {
        vec!["Start the cluster, or upload a fresh kubeconfig.".into()]
    }
}

/// A connection ping that succeeds for `minikube` and fails for anything else.
#[emits_event(
    category = "connection",
    action = "ping",
    user = user,
    emitter = app.events,
    description = "Pinged connection {name}",
    error_description = "Could not ping connection {name}",
    doc = "https://docs.meshery.io/concepts/logical/connections"
)]
async fn ping(app: &App, user: Uuid, name: String) -> Result<String, PingError> {
    match name.as_str() {
        "minikube" => {
            current::meta("Context Name", "minikube");
            current::meta("Server Address", "https://192.168.49.2:8443");
            Ok("v1.31.0".to_owned())
        }
        "staging" => Err(PingError::Unreachable(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ))),
        _ => Err(PingError::UnknownConnection(name)),
    }
}

/// A design deploy that records what it deployed.
#[emits_event(
    category = "pattern",
    action = "deploy",
    user = user,
    emitter = app.events,
    description = "Deployed design {design}"
)]
async fn deploy(app: &App, user: Uuid, design: String) -> Result<u32, std::io::Error> {
    let components = u32::try_from(design.len()).unwrap_or(u32::MAX);
    current::set_acted_upon(Uuid::new_v4());
    current::meta("Design", design.clone());
    current::meta("Components", components);
    Ok(components)
}

/// Reconnects a connection, which in this demo stays unreachable: its failures within ten
/// minutes are one notification with a count (`coalesce`), however many retries, on however
/// many instances.
#[emits_event(
    category = "connection",
    action = "reconnect",
    user = user,
    acted_upon = connection,
    emitter = app.events,
    coalesce = "10m",
    description = "Reconnected connection {connection}",
    error_description = "Could not reconnect connection {connection}"
)]
async fn reconnect(app: &App, user: Uuid, connection: Uuid) -> Result<(), std::io::Error> {
    let _ = connection;
    Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused",
    ))
}

/// A probe of a cluster, `up` or not as the caller says: it emits only when the cluster's state
/// changed since the last probe (`emit_on = "change"`), whichever instance ran either.
#[emits_event(
    category = "cluster",
    action = "probe",
    user = user,
    acted_upon = cluster,
    emitter = app.events,
    emit_on = "change",
    description = "Cluster {cluster} is up",
    error_description = "Cluster {cluster} is down"
)]
async fn probe(app: &App, user: Uuid, cluster: Uuid, up: bool) -> Result<(), std::io::Error> {
    let _ = cluster;
    if up {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "the cluster's API server does not answer",
        ))
    }
}

async fn reconnect_route(
    State(app): State<App>,
    User(user): User,
    Path(connection): Path<Uuid>,
) -> Response {
    match reconnect(&app, user, connection).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn probe_route(
    State(app): State<App>,
    User(user): User,
    Path((cluster, state)): Path<(Uuid, String)>,
) -> Response {
    let up = match state.as_str() {
        "up" => true,
        "down" => false,
        other => {
            let message = format!("a probe's state is `up` or `down`, not {other:?}");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    match probe(&app, user, cluster, up).await {
        Ok(()) => (StatusCode::OK, "up").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn ping_route(
    State(app): State<App>,
    User(user): User,
    Path(name): Path<String>,
) -> Response {
    match ping(&app, user, name).await {
        Ok(version) => (StatusCode::OK, version).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn deploy_route(
    State(app): State<App>,
    User(user): User,
    Path(design): Path<String>,
) -> Response {
    match deploy(&app, user, design).await {
        Ok(n) => (StatusCode::OK, format!("{n} components deployed")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The notification center; gives a new browser a demo user. DEMO ONLY: a random id in a cookie
/// is no authentication (see `user_of`).
async fn page(parts: Parts) -> Response {
    let page = tidings::web::notification_center().await;
    if user_of(&parts).is_some() {
        return page.into_response();
    }
    let cookie = format!("{COOKIE}={}; Path=/; SameSite=Strict", Uuid::new_v4());
    ([(header::SET_COOKIE, cookie)], page).into_response()
}

struct Options {
    port: u16,
    db: PathBuf,
    pg: Option<String>,
    /// The memory store: nothing kept across restarts (the load harness's server).
    memory: bool,
    /// How long a shutdown waits for live streams to drain (`--shutdown-deadline SECONDS`).
    shutdown_deadline: Option<std::time::Duration>,
}

/// What `--help` prints.
const USAGE: &str = "\
usage: server [--port N] [--db PATH | --pg URL | --memory]

  --port N     the port to listen on (default 8080, or PORT; 0 picks a free one)
  --db PATH    the SQLite file of the events (default tidings-events.db, or TIDINGS_DB)
  --pg URL     PostgreSQL instead, shared by several instances (or TIDINGS_PG)
  --memory     the memory store: nothing kept across restarts
  --shutdown-deadline S
               how long a shutdown waits for live streams to drain (default 10)
  --help       this text";

/// The server's options; `Ok(None)` when `--help` asked for the usage.
fn options() -> Result<Option<Options>, String> {
    let mut port = std::env::var("PORT").ok();
    let mut db = std::env::var("TIDINGS_DB").ok();
    let mut pg = std::env::var("TIDINGS_PG")
        .ok()
        .filter(|url| !url.is_empty());
    let mut memory = false;
    let mut shutdown_deadline = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--memory" => memory = true,
            "--shutdown-deadline" => {
                let text = args.next().ok_or("--shutdown-deadline needs a value")?;
                let seconds: f64 = text.parse().map_err(|_| {
                    format!("--shutdown-deadline must be a number of seconds, not {text:?}")
                })?;
                shutdown_deadline = Some(std::time::Duration::from_secs_f64(seconds.max(0.0)));
            }
            "--port" => port = Some(args.next().ok_or("--port needs a value")?),
            "--db" => db = Some(args.next().ok_or("--db needs a value")?),
            "--pg" => pg = Some(args.next().ok_or("--pg needs a connection string")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use --port N, and --db PATH, --pg URL or --memory \
                     (--help says more)"
                ));
            }
        }
    }
    let port = match port {
        Some(p) => p
            .parse()
            .map_err(|_| format!("the port must be a number from 0 to 65535, not {p:?}"))?,
        None => 8080,
    };
    Ok(Some(Options {
        port,
        db: PathBuf::from(db.unwrap_or_else(|| "tidings-events.db".to_owned())),
        pg,
        memory,
        shutdown_deadline,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Log lines (tidings' own, target `tidings`, at INFO and above) on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let options = match options() {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(error) => {
            eprintln!("server: {error}");
            std::process::exit(2);
        }
    };
    // PostgreSQL for several instances, or a SQLite file for one.
    let (store, place): (Arc<dyn EventStore>, String) = match &options.pg {
        _ if options.memory => (
            Arc::new(tidings::MemoryStore::new()),
            "memory, the last 10,000".to_owned(),
        ),
        Some(url) => {
            let store = PgStore::connect(url)?;
            let place = format!("PostgreSQL at {}", store.location());
            (Arc::new(store), place)
        }
        None => (
            Arc::new(SqliteStore::open(&options.db)?),
            options.db.display().to_string(),
        ),
    };
    // Metrics: installed before the emitter, which records into it from then on.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let events = Emitter::builder().shared_store(store).build();
    let app = App {
        events: events.clone(),
    };
    let router = axum::Router::new()
        .route("/", get(page))
        .route(
            "/api/me",
            get(|User(user): User| async move { user.to_string() }),
        )
        .route("/api/connections/{name}/ping", post(ping_route))
        .route("/api/designs/{design}/deploy", post(deploy_route))
        .route("/api/connections/{id}/reconnect", post(reconnect_route))
        .route("/api/clusters/{id}/probe/{state}", post(probe_route))
        .nest_service("/api/events", tidings::web::router(events.clone(), user_of))
        // Readiness, for a load balancer: 503 while the store fails or the listener is down.
        .nest_service("/health", tidings::web::health(events.clone()))
        // tidings' metrics (and any other the application records), for Prometheus.
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.render() }
            }),
        )
        // The same API where Meshery's UI reads it, with error details in MeshKit's shape.
        .nest_service(
            "/api/system/events",
            tidings::web::router_with(
                events.clone(),
                user_of,
                tidings::web::Options::default().meshery_errors(true),
            ),
        )
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
    println!(
        "tidings example server on http://{} (events in {place})",
        listener.local_addr()?,
    );
    // On Ctrl-C or SIGTERM every live stream ends (they never end by themselves, and graceful
    // shutdown waits for every connection); a stream whose client stopped reading holds the
    // process no longer than the deadline (10 s, `web::Options::shutdown_deadline`).
    let signal = async {
        shutdown_signal().await;
        println!("shutting down: ending live streams, storing what was emitted");
    };
    let deadline = match options.shutdown_deadline {
        Some(seconds) => tidings::web::Options::default().shutdown_deadline(seconds),
        None => tidings::web::Options::default(),
    };
    let shutdown = tidings::web::Shutdown::new(events.clone(), signal, &deadline);
    tokio::select! {
        served = axum::serve(listener, router).with_graceful_shutdown(shutdown.graceful()) => served?,
        () = shutdown.deadline() => println!("live streams that did not drain in time were cut"),
    }
    // Every request has answered: store what the last ones emitted before exiting.
    events.flush()?;
    println!("stopped; every event emitted is stored");
    Ok(())
}

/// Ctrl-C (SIGINT), or SIGTERM, which containers and systemd send.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
