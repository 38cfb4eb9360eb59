//! How the events API reaches its store. A store with an async client
//! ([`EventStore::nonblocking`](crate::EventStore::nonblocking)) is awaited on the API's runtime,
//! through a [`Gate`] that bounds how many run at once. Every other call runs on the threads
//! the router starts: a fixed set, outside any async runtime, so that a store call neither holds
//! an executor thread nor starts a thread of its own. Either way the queue of those waiting is
//! bounded: past it a request is refused with 503, naming the limit.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, oneshot};

use super::error::ApiError;
use crate::store::StoreError;

type Job = Box<dyn FnOnce() + Send>;

/// The store threads of one router; they end when the router is dropped.
pub(super) struct StoreWorkers {
    jobs: SyncSender<Job>,
    threads: usize,
    queue: usize,
}

impl StoreWorkers {
    /// `threads` threads (at least one) and a queue of `queue` calls waiting for them.
    pub(super) fn start(threads: usize, queue: usize) -> StoreWorkers {
        let (jobs, waiting) = sync_channel::<Job>(queue);
        let waiting = Arc::new(Mutex::new(waiting));
        let mut started = 0;
        for _ in 0..threads.max(1) {
            let waiting = Arc::clone(&waiting);
            match std::thread::Builder::new()
                .name("tidings-store".to_owned())
                .spawn(move || work(&waiting))
            {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(
                    target: "tidings",
                    %error,
                    "the events API could not start a store thread"
                ),
            }
        }
        StoreWorkers {
            jobs,
            threads: started,
            queue,
        }
    }

    /// Runs `work` on a store thread and waits for it without holding the executor.
    ///
    /// # Errors
    /// 503 when every thread is busy and the queue is full; 500 when no thread runs or `work`
    /// panicked.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        if self.threads == 0 {
            return Err(ApiError::internal("the events API has no store thread"));
        }
        let (done, value) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::busy(format!(
                    "the event store is busy: {} calls are waiting for its {} threads \
                     (web::Options::max_queued_store_calls, web::Options::store_threads)",
                    self.queue, self.threads
                )));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("the events API's store threads stopped"));
            }
        }
        match value.await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(ApiError::internal("the event store failed")),
        }
    }
}

/// One store thread: takes the next job until the router is gone.
fn work(waiting: &Mutex<Receiver<Job>>) {
    loop {
        let job = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// The bounds of the calls awaited on a nonblocking store: how many run at once (each holds what
/// it read), and how many may wait (as many as the store threads' queue takes).
pub(super) struct Gate {
    /// Running and waiting calls.
    admitted: Semaphore,
    running: Semaphore,
    running_max: usize,
    queue: usize,
}

impl Gate {
    /// `running` calls at once, `queue` more waiting.
    pub(super) fn new(running: usize, queue: usize) -> Gate {
        let running = running.max(1);
        Gate {
            admitted: Semaphore::new(running.saturating_add(queue).min(Semaphore::MAX_PERMITS)),
            running: Semaphore::new(running),
            running_max: running,
            queue,
        }
    }

    /// Awaits `call` once its turn comes.
    ///
    /// # Errors
    /// 503 when as many calls run as may and the queue is full; 500 when the store fails.
    pub(super) async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ApiError> {
        let Ok(_admitted) = self.admitted.try_acquire() else {
            return Err(ApiError::busy(format!(
                "the event store is busy: {} calls are waiting for one of its {} at once \
                 (web::Options::max_queued_store_calls, web::Options::nonblocking_store_calls)",
                self.queue, self.running_max
            )));
        };
        let _running = self
            .running
            .acquire()
            .await
            .map_err(|_| ApiError::internal("the events API's store gate closed"))?;
        call.await.map_err(ApiError::internal)
    }
}
