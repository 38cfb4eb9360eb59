//! Annotated handlers in a crate of their own, in every shape `#[emits_event]` takes: a plain
//! function, one in a module, methods of an impl, a trait's default method and its
//! implementation, a generic function, an `async fn`, and functions behind `#[cfg]`.
//! `cargo run --example catalog` prints the catalog they make.

use std::fmt;

use tidings::emits_event;

/// What every handler here fails with.
#[derive(Debug)]
pub struct HandlerError;

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the handler failed")
    }
}

impl std::error::Error for HandlerError {}

/// Pings a connection.
#[emits_event(
    category = "connection",
    action = "ping",
    description = "Pinged {name}",
    doc = "https://docs.meshery.io/reference/error-codes"
)]
pub fn ping(name: &str) -> Result<(), HandlerError> {
    handshake(name)
}

/// The handshake a ping makes: it emits only when called on its own, not inside `ping`.
#[emits_event(category = "cluster", action = "handshake", nested = "skip")]
pub fn handshake(name: &str) -> Result<(), HandlerError> {
    let _ = name;
    Ok(())
}

/// A health check that reports only its failures, critical ones, with its context.
#[emits_event(
    category = "cluster",
    action = "health_check",
    emit_on = "err",
    error = "critical",
    metadata("Cluster" = cluster, attempt),
    panic = "alert"
)]
pub fn health_check(cluster: &str, attempt: u32) -> Result<(), HandlerError> {
    let _ = (cluster, attempt);
    Ok(())
}

/// A probe of a cluster's state, run every 10 s: it says once that the cluster went down and
/// once that it came back (`emit_on = "change"`), not every 10 s.
#[emits_event(category = "cluster", action = "probe", emit_on = "change")]
pub fn probe(cluster: &str) -> Result<(), HandlerError> {
    let _ = cluster;
    Ok(())
}

/// A retried connection: its repeats within ten minutes are one notification with a count.
#[emits_event(category = "connection", action = "retry", coalesce = "10m")]
pub fn retry(name: &str) -> Result<(), HandlerError> {
    let _ = name;
    Ok(())
}

/// Design handlers, in a module.
pub mod designs {
    use super::{HandlerError, emits_event};

    /// Deploys a design.
    #[emits_event(category = "design", action = "deploy", success = "informational")]
    pub async fn deploy(design: String) -> Result<String, HandlerError> {
        Ok(design)
    }
}

/// A registry of connections: methods of an impl.
#[derive(Debug, Default)]
pub struct Registry;

impl Registry {
    /// Registers a connection.
    #[emits_event(category = "connection", action = "register")]
    pub fn register(&self, name: &str) -> Result<usize, HandlerError> {
        Ok(name.len())
    }

    /// Deletes a connection.
    #[emits_event(
        category = "connection",
        action = "delete",
        error_description = "Could not delete {name}"
    )]
    pub fn delete(&self, name: &str) -> Result<(), HandlerError> {
        let _ = name;
        Err(HandlerError)
    }
}

/// A trait with an annotated default method, and an implementation that annotates its own.
pub trait Environment {
    /// Synchronizes, the default way.
    #[emits_event(category = "environment", action = "sync")]
    fn sync(&self) -> Result<(), HandlerError> {
        Ok(())
    }

    /// Refreshes.
    fn refresh(&self) -> Result<(), HandlerError>;
}

impl Environment for Registry {
    #[emits_event(category = "environment", action = "refresh")]
    fn refresh(&self) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// A generic function: one entry, however many types it is called with.
#[emits_event(category = "model", action = "import")]
pub fn import<T: fmt::Debug>(model: T) -> Result<String, HandlerError> {
    Ok(format!("{model:?}"))
}

/// Compiled in: listed.
#[cfg(not(any()))]
#[emits_event(category = "workspace", action = "create")]
pub fn create_workspace() -> Result<(), HandlerError> {
    Ok(())
}

/// Compiled out: not listed.
#[cfg(any())]
#[emits_event(category = "workspace", action = "destroy")]
pub fn destroy_workspace() -> Result<(), HandlerError> {
    Ok(())
}
