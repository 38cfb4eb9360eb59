//! tidings keeps the users of a server informed, in real time, about what the server does on
//! their behalf.
//!
//! Annotate a handler with [`#[emits_event]`](emits_event) and every call produces an
//! [`Event`]: `success` when it returns `Ok`, `error` with the error under the metadata key
//! `err` when it returns `Err`. An [`Emitter`] stores the event for the record, then publishes
//! the very same event to that user's live [`Subscription`]s (a browser tab, over Server-Sent
//! Events) without waiting for them.
//!
//! ```
//! use tidings::{Emitter, Uuid, current, emits_event, testing::capture};
//!
//! #[derive(Debug)]
//! struct K8sContext { name: String, server: String }
//!
//! #[emits_event(category = "connection", action = "ping", acted_upon = connection_id)]
//! fn ping(connection_id: Uuid, reachable: bool) -> Result<K8sContext, std::io::Error> {
//!     if !reachable {
//!         return Err(std::io::Error::other("connection refused"));
//!     }
//!     let context = K8sContext { name: "minikube".into(), server: "https://192.168.49.2:8443".into() };
//!     // Enrich the event in progress (here, and in anything `ping` calls).
//!     current::meta("Context Name", context.name.clone());
//!     current::meta("Server Address", context.server.clone());
//!     current::set_description(format!("Kubernetes context {} pinged", context.name));
//!     Ok(context)
//! }
//!
//! let id = Uuid::new_v4();
//! let (_, events) = capture(|| (ping(id, true), ping(id, false)));
//! assert!(events[0].action() == "ping");
//! assert_eq!(events[0].metadata()["Server Address"], "https://192.168.49.2:8443");
//! assert_eq!(events[0].description(), "Kubernetes context minikube pinged");
//! assert_eq!(events[1].severity(), tidings::Severity::Error);
//! assert_eq!(events[1].metadata()["err"]["message"], "connection refused");
//! ```
//!
//! This ports the server events of Meshery/MeshKit to Rust and fixes that model's known defects:
//! every event has an id, what is published is what was stored, a failed write is never
//! published as if it had happened, bursts are not lost, subscriptions end when dropped, and
//! publishing never races with unsubscribing.
//!
//! # Building events by hand
//!
//! ```
//! use tidings::{Emitter, Event, Severity};
//! use serde_json::json;
//!
//! let emitter = Emitter::new();
//! let user = tidings::Uuid::new_v4();
//! let browser_tab = emitter.subscribe(user);
//!
//! let event = Event::builder()
//!     .from_user(user)
//!     .acted_upon(tidings::Uuid::new_v4())
//!     .category("connection")
//!     .action("ping")
//!     .severity(Severity::Success)
//!     .description("Kubernetes context minikube pinged")
//!     .metadata([("Context Name", json!("minikube")), ("Server Address", json!("https://127.0.0.1:8443"))])
//!     .build()?;
//! emitter.emit(event)?;
//!
//! let live = browser_tab.try_recv()?;
//! assert_eq!(live.metadata()["Context Name"], "minikube");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The default emitter
//!
//! Handlers usually emit through the default emitter: set one for the process with
//! [`set_global_default`], or for the current thread with [`with_default`] /
//! [`set_default`]. An annotated function resolves its emitter when it is called (or uses its
//! `emitter = ...` key). When none is set, [`emit`] drops the event and says so
//! ([`EmitError::NoEmitter`]), and annotated functions build nothing.
//!
//! # Testing
//!
//! [`testing::capture`] runs a closure with a scoped in-memory emitter and returns the events it
//! emitted, in order. With the `testing` feature, `testing::store_conformance` runs the checks
//! every [`EventStore`] must pass on a store of your own.
//!
//! # Features
//!
//! All off by default: `sqlite` (the SQLite store and its background writer), `postgres`
//! (`PgStore`: one history for several server instances, with live delivery across them),
//! `axum` (the events API, the live stream and the notification center, in `web`), `tracing`
//! (every emitted event also a `tracing` event, in the caller's span: see `trace`), `catalog`
//! (every annotated function of the binary, known at link time: see `catalog`) and `testing`
//! (the store conformance suite).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// On docs.rs (`--cfg docsrs`), each item behind a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Emits a `success` event when the function returns `Ok` and an `error` event (with the error
/// under the metadata key `err`) when it returns `Err`.
///
/// ```
/// use tidings::{Uuid, emits_event, testing::capture};
///
/// struct Connections;
///
/// impl Connections {
///     #[emits_event(
///         category = "connection",
///         action = "update",
///         acted_upon = id,
///         description = "Renamed connection {id} to {name}",
///         success = "informational",
///     )]
///     async fn rename(&self, id: &str, name: String) -> std::io::Result<String> {
///         Ok(name)
///     }
/// }
///
/// let id = Uuid::new_v4();
/// let (renamed, events) = capture(|| {
///     futures::executor::block_on(Connections.rename(&id.to_string(), "prod".into()))
/// });
/// assert_eq!(renamed?, "prod");
/// assert_eq!(events[0].acted_upon(), Some(id));
/// assert_eq!(events[0].description(), format!("Renamed connection {id} to prod"));
/// assert_eq!(events[0].severity(), tidings::Severity::Informational);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The keys: `category` and `action` (required snake_case string literals), `acted_upon`,
/// `user` and `system` (id expressions: a `Uuid`, a reference to one, an `Option<Uuid>` or a
/// string holding a UUID), `description` and `error_description` (literals whose `{name}`
/// placeholders name parameters), `success` (the severity on `Ok`), `error` (the severity on
/// `Err`, unless the error value's [`ErrorDetails::severity`] says another), `emit_on` (`"ok"`,
/// `"err"` or `"both"`), `metadata(...)` (entries taken from the arguments before the body runs),
/// `panic` (the severity of the event of a panicking body, which then goes on unwinding), `doc`
/// (an http(s) link put under the metadata key `doc`), `emitter` (an expression giving the
/// [`Emitter`] to use) and `crate` (the path to tidings, when it is re-exported or renamed). The
/// body can raise the level with [`current::set_severity`], which wins over the others. The
/// README lists what each does in detail and shows the expansion.
///
/// A health check that only reports failures, a critical level for a lost cluster, context from
/// the arguments, and a panic that is reported before it unwinds:
///
/// ```
/// use tidings::{Severity, emits_event, testing::capture};
///
/// #[emits_event(
///     category = "cluster",
///     action = "health_check",
///     emit_on = "err",
///     error = "critical",
///     metadata("Cluster" = cluster, attempt),
///     panic = "alert",
/// )]
/// fn health_check(cluster: &str, attempt: u32, up: bool) -> std::io::Result<()> {
///     if up { Ok(()) } else { Err(std::io::Error::other("no answer")) }
/// }
///
/// let (_, events) = capture(|| health_check("prod", 1, true));
/// assert!(events.is_empty(), "a healthy check emits nothing");
/// let (_, events) = capture(|| health_check("prod", 2, false));
/// assert_eq!(events[0].severity(), Severity::Critical);
/// assert_eq!(events[0].metadata()["Cluster"], "prod");
/// assert_eq!(events[0].metadata()["attempt"], 2);
/// ```
pub use tidings_macros::emits_event;
pub use tidings_runtime::*;
// The optional stores again, each with its feature for docs.rs (the glob above carries no
// feature marks across crates).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use tidings_runtime::PgStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use tidings_runtime::SqliteStore;

/// Helpers for testing code that emits events ([`capture`](testing::capture),
/// [`capture_async`](testing::capture_async), [`Capture`](testing::Capture)), and (with the
/// `testing` feature) the conformance suite that every [`EventStore`] passes.
pub mod testing {
    pub use tidings_runtime::testing::*;
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub use tidings_runtime::testing::{event_at, store_conformance};
}

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
