//! tidings keeps the users of a server informed, in real time, about what the server does on
//! their behalf.
//!
//! Every operation worth telling a user about becomes an [`Event`]: `success` when it worked,
//! `error` with the error under the metadata key `err` when it did not. An [`Emitter`] stores
//! the event for the record, then publishes the very same event to that user's live
//! [`Subscription`]s (a browser tab, over Server-Sent Events) without waiting for them.
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
//! [`set_default`]. When none is set, [`emit`] drops the event and says so
//! ([`EmitError::NoEmitter`]); nothing else happens.
//!
//! # Testing
//!
//! [`testing::capture`] runs a closure with a scoped in-memory emitter and returns the events it
//! emitted, in order.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use tidings_macros::emits_event;
pub use tidings_runtime::*;

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
