//! The background writer: stores queued events in batches off the request path, then publishes
//! each stored event.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle, ThreadId};

use crate::delivery::Delivery;
use crate::event::Event;

/// How many events one transaction takes at most. Larger batches mean fewer commits, and each
/// commit rewrites the index pages it touched.
const MAX_BATCH: usize = 65_536;

/// Why the background writer could not take an event or finish a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriterError {
    /// The writer thread has stopped: it ended with a failure its guards could not catch.
    /// Events it had not stored were counted as failures; no more are taken.
    Stopped,
    /// `flush` was called on the writer thread itself (from the failure hook), where it would
    /// wait for itself forever.
    FlushFromWriter,
    /// The store's feed (see [`EventStore::start_feed`](crate::EventStore::start_feed)) did not
    /// publish the stored events in time: its connection is down. They are stored, and are
    /// published once it is back.
    FeedBehind,
}

impl fmt::Display for WriterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriterError::Stopped => f.write_str(
                "the background writer has stopped; events it had not stored were not stored",
            ),
            WriterError::FlushFromWriter => f.write_str(
                "`flush` was called from the failure hook, on the writer thread, where it would \
                 wait for itself",
            ),
            WriterError::FeedBehind => f.write_str(
                "the events are stored, but the store's feed has not published them in time \
                 (its connection is down); it publishes them once it is back",
            ),
        }
    }
}

impl std::error::Error for WriterError {}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits here for events.
    work: Condvar,
    /// Emitting threads wait here for room in a full queue.
    room: Condvar,
    /// `flush` waits here.
    done: Condvar,
    capacity: usize,
}

struct State {
    queue: VecDeque<Arc<Event>>,
    accepted: u64,
    finished: u64,
    closing: bool,
    /// The writer thread is gone: nothing queued will be stored.
    stopped: bool,
    /// Emitting tasks waiting for room in a full queue.
    room_wakers: Vec<Waker>,
    /// When the writer last finished a batch.
    last_batch: Option<std::time::Instant>,
}

/// Runs `wait`, a blocking wait, giving a multi-threaded tokio runtime's worker up first.
#[cfg(feature = "tokio")]
fn wait_blocking<T>(wait: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// Runs `wait`, a blocking wait (without the `tokio` feature, on the calling thread).
#[cfg(not(feature = "tokio"))]
fn wait_blocking<T>(wait: impl FnOnce() -> T) -> T {
    wait()
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// Starts the writer thread; the error is the operating system's.
    pub(crate) fn start(delivery: Arc<Delivery>, capacity: usize) -> std::io::Result<Writer> {
        Writer::start_with(delivery, capacity, run)
    }

    /// Starts a writer thread that runs `body` (the tests give one that fails).
    fn start_with(
        delivery: Arc<Delivery>,
        capacity: usize,
        body: fn(&Shared, &Delivery),
    ) -> std::io::Result<Writer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                accepted: 0,
                finished: 0,
                closing: false,
                stopped: false,
                room_wakers: Vec::new(),
                last_batch: None,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            done: Condvar::new(),
            capacity: capacity.max(1),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("tidings-writer".to_owned())
                .spawn(move || {
                    // Marks the writer stopped however the body ends, also by a panic.
                    let _stopped = OnStop {
                        shared: &shared,
                        delivery: &delivery,
                    };
                    body(&shared, &delivery);
                })?
        };
        Ok(Writer {
            shared,
            thread_id: thread.thread().id(),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn on_writer_thread(&self) -> bool {
        thread::current().id() == self.thread_id
    }

    /// Queues the event in `slot` if there is room (always on the writer thread itself, so
    /// that a failure hook that emits cannot wait for itself): `Some` with the outcome, or
    /// `None` when the queue is full and the caller must wait.
    fn try_push(
        &self,
        state: &mut State,
        slot: &mut Option<Arc<Event>>,
    ) -> Option<Result<(), WriterError>> {
        if state.stopped {
            return Some(Err(WriterError::Stopped));
        }
        if state.queue.len() >= self.shared.capacity && !state.closing && !self.on_writer_thread() {
            return None;
        }
        if let Some(event) = slot.take() {
            state.queue.push_back(event);
            state.accepted += 1;
            self.shared.work.notify_one();
        }
        Some(Ok(()))
    }

    /// Queues an event; waits while the queue is full (backpressure), never drops it.
    ///
    /// On a worker thread of a multi-threaded tokio runtime (feature `tokio`), the wait gives
    /// the worker up first (`block_in_place`), so that the runtime's other tasks go on running
    /// on another thread; on a current-thread runtime, or outside tokio, the thread waits.
    pub(crate) fn submit(&self, event: Arc<Event>) -> Result<(), WriterError> {
        let mut slot = Some(event);
        {
            let mut state = lock(&self.shared);
            if let Some(done) = self.try_push(&mut state, &mut slot) {
                return done;
            }
        }
        wait_blocking(|| {
            let mut state = lock(&self.shared);
            loop {
                if let Some(done) = self.try_push(&mut state, &mut slot) {
                    return done;
                }
                state = self
                    .shared
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        })
    }

    /// Queues an event whatever the queue holds: the event of an emitting future that was
    /// dropped while it waited for room (it held the event in memory already; dropping it would
    /// lose the event silently). `Err` when the writer has stopped.
    pub(crate) fn push_abandoned(&self, event: Arc<Event>) -> Result<(), WriterError> {
        let mut state = lock(&self.shared);
        if state.stopped {
            return Err(WriterError::Stopped);
        }
        state.queue.push_back(event);
        state.accepted += 1;
        self.shared.work.notify_one();
        Ok(())
    }

    /// Queues the event in `slot`, or registers the task to be woken when there is room.
    pub(crate) fn poll_submit(
        &self,
        slot: &mut Option<Arc<Event>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), WriterError>> {
        let mut state = lock(&self.shared);
        if let Some(done) = self.try_push(&mut state, slot) {
            return Poll::Ready(done);
        }
        if !state.room_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.room_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The writer's state, for [`Emitter::health`](crate::Emitter::health).
    pub(crate) fn health(&self) -> crate::WriterHealth {
        let state = lock(&self.shared);
        crate::WriterHealth {
            alive: !state.stopped,
            queued: state.queue.len(),
            capacity: self.shared.capacity,
            last_batch: state.last_batch.map(|at| at.elapsed()),
        }
    }

    /// Returns once every event queued before the call is stored and published (or reported).
    pub(crate) fn flush(&self) -> Result<(), WriterError> {
        let mut state = lock(&self.shared);
        let target = state.accepted;
        if state.finished >= target {
            return Ok(());
        }
        if self.on_writer_thread() {
            return Err(WriterError::FlushFromWriter);
        }
        while state.finished < target {
            if state.stopped {
                return Err(WriterError::Stopped);
            }
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        Ok(())
    }

    /// Stores what is queued, then stops the thread.
    pub(crate) fn shutdown(&self) {
        {
            let mut state = lock(&self.shared);
            state.closing = true;
            self.shared.work.notify_all();
            wake_for_room(&self.shared, &mut state);
        }
        if self.on_writer_thread() {
            // The last handle was dropped by the failure hook: the thread ends by itself once
            // the queue is empty; it cannot wait for itself.
            return;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn wake_for_room(shared: &Shared, state: &mut State) {
    shared.room.notify_all();
    for waker in state.room_wakers.drain(..) {
        waker.wake();
    }
}

/// Runs when the writer thread ends, however it ends.
struct OnStop<'a> {
    shared: &'a Shared,
    delivery: &'a Delivery,
}

impl Drop for OnStop<'_> {
    fn drop(&mut self) {
        let mut state = lock(self.shared);
        state.stopped = true;
        let lost = state.queue.len() as u64;
        state.queue.clear();
        if lost > 0 {
            self.delivery.count_lost(lost);
        }
        self.shared.done.notify_all();
        wake_for_room(self.shared, &mut state);
    }
}

fn run(shared: &Shared, delivery: &Delivery) {
    loop {
        let batch: Vec<Arc<Event>> = {
            let mut state = lock(shared);
            while state.queue.is_empty() && !state.closing {
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.queue.is_empty() {
                // Stopped under the same lock that saw the queue empty: an event queued after
                // this is refused, not left behind.
                state.stopped = true;
                return;
            }
            let n = state.queue.len().min(MAX_BATCH);
            // Sampled as the writer takes a batch: what waited for it.
            metrics::gauge!("tidings_writer_queue_depth").set(state.queue.len() as f64);
            let batch = state.queue.drain(..n).collect();
            wake_for_room(shared, &mut state);
            batch
        };
        delivery.deliver_batch(&batch);
        let mut state = lock(shared);
        state.finished += batch.len() as u64;
        state.last_batch = Some(std::time::Instant::now());
        shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::{Writer, WriterError};
    use crate::broadcast::Broadcaster;
    use crate::delivery::Delivery;
    use crate::event::Event;
    use crate::store::MemoryStore;

    fn event() -> Arc<Event> {
        Arc::new(
            Event::builder()
                .category("pattern")
                .action("deploy")
                .build()
                .expect("valid"),
        )
    }

    /// A writer whose thread ended (here: a bug that panics) makes `submit` on a full queue and
    /// `flush` return an error instead of waiting forever.
    #[test]
    fn a_stopped_writer_refuses_instead_of_waiting_forever() {
        let delivery = Arc::new(Delivery::new(
            Some(Arc::new(MemoryStore::new())),
            Broadcaster::new(),
            None,
        ));
        let writer = Arc::new(
            Writer::start_with(Arc::clone(&delivery), 1, |_, _| {
                panic!("a bug in the writer")
            })
            .expect("the writer thread starts"),
        );
        let (done, results) = mpsc::channel();
        let calls = Arc::clone(&writer);
        std::thread::spawn(move || {
            // The first fills the queue (or is refused), the second would wait for room.
            let first = calls.submit(event());
            let second = calls.submit(event());
            let flushed = calls.flush();
            let _ = done.send((first, second, flushed));
        });
        let (first, second, flushed) = results
            .recv_timeout(Duration::from_secs(30))
            .expect("submit and flush returned instead of waiting forever");
        assert_eq!(second, Err(WriterError::Stopped));
        assert!(first.is_ok() || first == Err(WriterError::Stopped));
        assert_eq!(flushed, Err(WriterError::Stopped));
        writer.shutdown();
    }
}
