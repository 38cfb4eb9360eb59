//! Events built by hand with the builder: a port of Meshery's `KubernetesPingHandler`, which
//! builds a `connection`/`ping` event for the user who asked, `success` with the context's name
//! and server address, or `error` with the error under `err`.
//!
//! Run with `cargo run --example builder`. Each delivered event is printed as a JSON line by a
//! live subscriber of the user.

use std::error::Error;
use std::fmt;

use serde_json::json;
use tidings::{Emitter, ErrorDetails, Event, Severity, Subscription, Uuid};

/// A Kubernetes context known to the server.
struct K8sContext {
    id: Uuid,
    name: String,
    server: String,
}

/// Why a ping failed.
#[derive(Debug)]
enum PingError {
    UnknownContext(String),
    Unreachable {
        server: String,
        source: std::io::Error,
    },
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PingError::UnknownContext(id) => write!(f, "no Kubernetes context with id {id}"),
            PingError::Unreachable { server, .. } => {
                write!(f, "the Kubernetes API server at {server} did not answer")
            }
        }
    }
}

impl Error for PingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PingError::UnknownContext(_) => None,
            PingError::Unreachable { source, .. } => Some(source),
        }
    }
}

impl ErrorDetails for PingError {
    fn code(&self) -> Option<&str> {
        Some("tidings-example-1001")
    }
    fn probable_causes(&self) -> Vec<String> {
        vec!["The cluster is stopped, or the kubeconfig points to an old address.".into()]
    }
    fn suggested_remediations(&self) -> Vec<String> {
        vec!["Start the cluster, or upload a fresh kubeconfig.".into()]
    }
}

struct Handler {
    events: Emitter,
    contexts: Vec<K8sContext>,
}

impl Handler {
    /// What `KubernetesPingHandler` does, with its events built by hand.
    fn kubernetes_ping(&self, user_id: Uuid, context_id: &str) -> Result<String, PingError> {
        let event = Event::builder()
            .from_user(user_id)
            .category("connection")
            .action("ping");
        let result = self.ping(context_id);
        let event = match &result {
            Ok(context) => event
                .acted_upon(context.id)
                .severity(Severity::Success)
                .description(format!("Kubernetes context {} pinged", context.name))
                .metadata([
                    ("Context Name", json!(context.name)),
                    ("Server Address", json!(context.server)),
                ]),
            Err(error) => event
                .err_details(error)
                .description(format!("Could not ping Kubernetes context {context_id}"))
                .doc("https://docs.meshery.io/concepts/logical/connections"),
        };
        let event = event.build().expect("a valid event");
        if let Err(failure) = self.events.emit(event) {
            eprintln!("not delivered: {failure}");
        }
        result.map(|context| context.server.clone())
    }

    fn ping(&self, context_id: &str) -> Result<&K8sContext, PingError> {
        let context = self
            .contexts
            .iter()
            .find(|c| c.id.to_string() == context_id)
            .ok_or_else(|| PingError::UnknownContext(context_id.to_owned()))?;
        if context.server.contains("10.0.0.99") {
            return Err(PingError::Unreachable {
                server: context.server.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connection refused",
                ),
            });
        }
        Ok(context)
    }
}

fn print_all(tab: &Subscription) {
    for event in tab.drain() {
        println!(
            "{}",
            serde_json::to_string(&*event).expect("events serialize")
        );
    }
}

fn main() {
    let handler = Handler {
        events: Emitter::new(),
        contexts: vec![
            K8sContext {
                id: Uuid::new_v4(),
                name: "minikube".into(),
                server: "https://192.168.49.2:8443".into(),
            },
            K8sContext {
                id: Uuid::new_v4(),
                name: "staging".into(),
                server: "https://10.0.0.99:6443".into(),
            },
        ],
    };
    let user = Uuid::new_v4();
    let browser_tab = handler.events.subscribe(user);

    let minikube = handler.contexts[0].id.to_string();
    let staging = handler.contexts[1].id.to_string();
    let _ = handler.kubernetes_ping(user, &minikube);
    let _ = handler.kubernetes_ping(user, &staging);
    print_all(&browser_tab);
}
