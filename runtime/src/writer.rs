//! The background writer: stores queued events in batches off the request path, then publishes
//! each stored event.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crate::delivery::Delivery;
use crate::event::Event;

/// How many events one transaction takes at most. Larger batches mean fewer commits, and each
/// commit rewrites the pages of the (random) id index it touched.
const MAX_BATCH: usize = 65_536;

pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// Starts the writer thread.
    pub(crate) fn start(delivery: Arc<Delivery>, capacity: usize) -> Writer {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                accepted: 0,
                finished: 0,
                closing: false,
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
                .spawn(move || run(&shared, &delivery))
                .expect("the tidings writer thread starts")
        };
        Writer {
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Queues an event; waits while the queue is full (backpressure), never drops it.
    pub(crate) fn submit(&self, event: Arc<Event>) {
        let mut state = lock(&self.shared);
        while state.queue.len() >= self.shared.capacity && !state.closing {
            state = self
                .shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.queue.push_back(event);
        state.accepted += 1;
        self.shared.work.notify_one();
    }

    /// Returns once every event queued before the call is stored and published (or reported).
    pub(crate) fn flush(&self) {
        let mut state = lock(&self.shared);
        let target = state.accepted;
        while state.finished < target {
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Stores what is queued, then stops the thread.
    pub(crate) fn shutdown(&self) {
        lock(&self.shared).closing = true;
        self.shared.work.notify_all();
        self.shared.room.notify_all();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            // The loop catches store panics, so the thread ends normally.
            let _ = thread.join();
        }
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
                return;
            }
            let n = state.queue.len().min(MAX_BATCH);
            let batch = state.queue.drain(..n).collect();
            shared.room.notify_all();
            batch
        };
        delivery.deliver_batch(&batch);
        let mut state = lock(shared);
        state.finished += batch.len() as u64;
        shared.done.notify_all();
    }
}
