//! The demo's annotated handler, as the example server has it.

use tidings::{Emitter, ErrorDetails, Uuid, current, emits_event};

/// A failed ping, with what Meshery's errors carry.
#[derive(Debug)]
pub struct PingError(pub std::io::Error);

impl std::fmt::Display for PingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for PingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ErrorDetails for PingError {
    fn code(&self) -> Option<&str> {
        Some("meshery-server-1377")
    }
    fn probable_causes(&self) -> Vec<String> {
        vec!["The cluster's API server is down".into()]
    }
    fn suggested_remediations(&self) -> Vec<String> {
        vec!["Start the cluster and ping it again".into()]
    }
}

/// The demo's connection ping: fails for `staging`, succeeds with the context's metadata for
/// any other name.
///
/// # Errors
/// For `staging`: its API server refuses the connection.
#[emits_event(
    category = "connection",
    action = "ping",
    user = user,
    emitter = events,
    description = "Pinged connection {name}",
    doc = "https://docs.meshery.io/concepts/logical/connections"
)]
pub async fn ping(events: &Emitter, user: Uuid, name: String) -> Result<String, PingError> {
    if name == "staging" {
        return Err(PingError(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "dial tcp 10.0.0.7:6443: connect: connection refused",
        )));
    }
    current::meta("Context Name", name.clone());
    current::meta("Server Address", "https://10.0.0.5:6443");
    Ok(name)
}
