//! Graceful shutdown with a deadline: live streams end when the signal comes, and a stream that
//! does not drain by the deadline (a client that stopped reading holds its connection open) no
//! longer holds the process.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::Options;
use crate::emitter::Emitter;

/// A server's shutdown: on the signal every live stream ends (after what it has buffered), and
/// [`deadline`](Self::deadline) resolves [`Options::shutdown_deadline`] later, for the
/// application to stop waiting for connections that did not close (axum's graceful shutdown
/// waits for every one).
///
/// ```no_run
/// # async fn run(listener: tokio::net::TcpListener, app: axum::Router, events: tidings_runtime::Emitter) -> Result<(), Box<dyn std::error::Error>> {
/// use tidings_runtime::web::{Options, Shutdown};
///
/// # let ctrl_c_or_sigterm = std::future::pending::<()>;
/// // The signal: Ctrl-C or SIGTERM (`examples/server.rs` has one).
/// let shutdown = Shutdown::new(events.clone(), ctrl_c_or_sigterm(), &Options::default());
/// tokio::select! {
///     served = axum::serve(listener, app).with_graceful_shutdown(shutdown.graceful()) => served?,
///     () = shutdown.deadline() => eprintln!("live streams that did not drain were cut"),
/// }
/// events.flush()?; // what the last requests emitted is stored
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Shutdown {
    signalled: watch::Receiver<bool>,
    deadline: Duration,
}

impl Shutdown {
    /// Waits for `signal` on a task of its own (it must be called within a tokio runtime); then
    /// ends `events`' live streams.
    pub fn new(
        events: Emitter,
        signal: impl Future<Output = ()> + Send + 'static,
        options: &Options,
    ) -> Shutdown {
        let (tell, signalled) = watch::channel(false);
        let deadline = options.shutdown_deadline;
        tokio::spawn(async move {
            signal.await;
            tracing::info!(
                target: "tidings",
                deadline = ?deadline,
                "shutting down: live streams end after what they have buffered"
            );
            events.close_streams();
            let _ = tell.send(true);
        });
        Shutdown {
            signalled,
            deadline: options.shutdown_deadline,
        }
    }

    /// Resolves once the signal came and the live streams were told to end: for axum's
    /// `with_graceful_shutdown`.
    pub fn graceful(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut signalled = self.signalled.clone();
        async move {
            let _ = signalled.wait_for(|signalled| *signalled).await;
        }
    }

    /// Resolves the deadline after the signal: then stop waiting for the server (drop its
    /// future, flush the emitter and return from `main`; the runtime's end closes what is left).
    pub fn deadline(&self) -> impl Future<Output = ()> + Send + 'static {
        let graceful = self.graceful();
        let deadline = self.deadline;
        async move {
            graceful.await;
            tokio::time::sleep(deadline).await;
        }
    }
}
