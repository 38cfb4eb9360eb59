//! The main example: Meshery's `KubernetesPingHandler`, annotated instead of hand-built.
//!
//! `ping` (async) and `register` (sync) are ordinary handlers with `#[emits_event]`. Each is
//! called once on a path that succeeds and once on a path that fails; a subscriber of the user,
//! standing in for a browser tab, prints every event it receives as a JSON line.
//!
//! Run it with `cargo run --example quickstart`.

use std::error::Error;
use std::fmt;
use std::thread;

use tidings::{Emitter, ErrorDetails, Uuid, current, emits_event};

pub struct User {
    pub id: Uuid,
}

#[derive(Clone, Debug)]
pub struct K8sContext {
    pub id: Uuid,
    pub name: String,
    pub server: String,
}

#[derive(Debug)]
pub enum PingError {
    UnknownContext(Uuid),
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

// MeshKit's error fields: they appear in the event's `err` on their own.
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

#[derive(Debug)]
pub struct RegisterError(String);

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a connection named {:?} exists already", self.0)
    }
}

impl Error for RegisterError {}

pub struct Handler {
    pub events: Emitter,
    pub contexts: Vec<K8sContext>,
}

impl Handler {
    /// Pings a Kubernetes context: the annotated port of `KubernetesPingHandler`.
    #[emits_event(
        category = "connection",
        action = "ping",
        acted_upon = connection_id,
        user = user.id,
        emitter = self.events,
        error_description = "Could not ping Kubernetes context {connection_id}",
        doc = "https://docs.meshery.io/concepts/logical/connections"
    )]
    pub async fn ping(&self, user: &User, connection_id: Uuid) -> Result<K8sContext, PingError> {
        let context = self
            .contexts
            .iter()
            .find(|c| c.id == connection_id)
            .ok_or(PingError::UnknownContext(connection_id))?;
        self.server_version(context).await?;
        current::meta("Context Name", context.name.clone());
        current::meta("Server Address", context.server.clone());
        current::set_description(format!("Kubernetes context {} pinged", context.name));
        Ok(context.clone())
    }

    /// Registers a new connection (sync): the event is about the resource this call creates.
    #[emits_event(
        category = "connection",
        action = "create",
        user = user.id,
        emitter = self.events,
        description = "Registered connection {name}"
    )]
    pub fn register(
        &mut self,
        user: &User,
        name: &str,
        server: &str,
    ) -> Result<Uuid, RegisterError> {
        if self.contexts.iter().any(|c| c.name == name) {
            return Err(RegisterError(name.to_owned()));
        }
        let id = Uuid::new_v4();
        current::set_acted_upon(id);
        self.contexts.push(K8sContext {
            id,
            name: name.to_owned(),
            server: server.to_owned(),
        });
        Ok(id)
    }

    async fn server_version(&self, context: &K8sContext) -> Result<String, PingError> {
        if context.server.contains("10.0.0.99") {
            return Err(PingError::Unreachable {
                server: context.server.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connection refused",
                ),
            });
        }
        Ok("v1.31.0".to_owned())
    }
}

fn main() {
    let user = User { id: Uuid::new_v4() };
    let mut handler = Handler {
        events: Emitter::new(),
        contexts: Vec::new(),
    };

    // The browser tab: prints each event as it arrives, until the server's emitter is gone.
    let tab = handler.events.subscribe(user.id);
    let printer = thread::spawn(move || {
        while let Ok(event) = tab.recv() {
            println!(
                "{}",
                serde_json::to_string(&*event).expect("events serialize")
            );
        }
    });

    let minikube = handler
        .register(&user, "minikube", "https://192.168.49.2:8443")
        .expect("a new name");
    let staging = handler
        .register(&user, "staging", "https://10.0.0.99:6443")
        .expect("a new name");
    let _ = handler.register(&user, "minikube", "https://127.0.0.1:8443");

    futures::executor::block_on(async {
        let _ = handler.ping(&user, minikube).await;
        let _ = handler.ping(&user, staging).await;
    });

    drop(handler);
    printer
        .join()
        .expect("the printer thread ends when the emitter is gone");
}
