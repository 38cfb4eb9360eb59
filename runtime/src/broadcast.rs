//! Live delivery: per-user subscriptions with bounded buffers that never block the publisher.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::event::Event;

/// The buffer of each subscription unless said otherwise: enough for a burst of one import.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Hands published events to the live subscriptions of their user, and to subscriptions to all
/// events.
///
/// Each [`Subscription`] has a bounded buffer. Publishing never waits: when a subscriber's buffer
/// is full, its oldest event is dropped and the subscriber is told how many it missed the next
/// time it receives ([`RecvError::Lagged`]). Other subscribers are not affected. Dropping a
/// subscription unsubscribes it. Cloning a `Broadcaster` gives another handle to the same
/// subscriptions; when the last handle is dropped, subscriptions end ([`RecvError::Closed`])
/// after their buffered events.
///
/// ```
/// use std::sync::Arc;
/// use tidings_runtime::{Broadcaster, Event};
///
/// let broadcaster = Broadcaster::new();
/// let user = uuid::Uuid::new_v4();
/// let subscription = broadcaster.subscribe(user);
/// let event = Arc::new(Event::builder().from_user(user).category("connection").action("ping").build()?);
/// assert_eq!(broadcaster.publish(&event), 1);
/// assert_eq!(subscription.try_recv()?.id(), event.id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Broadcaster {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    users: RwLock<HashMap<Uuid, Vec<Arc<Slot>>>>,
    all: RwLock<Vec<Arc<Slot>>>,
}

struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

struct SlotState {
    queue: VecDeque<Arc<Event>>,
    capacity: usize,
    missed: u64,
    closed: bool,
    blocked_receivers: usize,
    waker: Option<Waker>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of our locks cannot leave the state half-changed, so poisoning is
    // ignored rather than spread to every later publisher.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    fn new(capacity: usize) -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                queue: VecDeque::with_capacity(capacity.min(64)),
                capacity,
                missed: 0,
                closed: false,
                blocked_receivers: 0,
                waker: None,
            }),
            ready: Condvar::new(),
        })
    }

    fn push(&self, event: &Arc<Event>) {
        let waker = {
            let mut state = lock(&self.state);
            if state.queue.len() == state.capacity {
                state.queue.pop_front();
                state.missed += 1;
            }
            state.queue.push_back(Arc::clone(event));
            if state.blocked_receivers > 0 {
                self.ready.notify_all();
            }
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close(&self) {
        let waker = {
            let mut state = lock(&self.state);
            state.closed = true;
            self.ready.notify_all();
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl SlotState {
    fn take(&mut self) -> Option<Result<Arc<Event>, Lagged>> {
        if self.missed > 0 {
            let missed = std::mem::take(&mut self.missed);
            return Some(Err(Lagged(missed)));
        }
        self.queue.pop_front().map(Ok)
    }
}

impl Broadcaster {
    /// A broadcaster whose subscriptions buffer [`DEFAULT_CAPACITY`] events each.
    pub fn new() -> Self {
        Broadcaster::with_capacity(DEFAULT_CAPACITY)
    }

    /// A broadcaster whose subscriptions buffer `capacity` events each (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Broadcaster {
            shared: Arc::new(Shared {
                capacity: capacity.max(1),
                users: RwLock::new(HashMap::new()),
                all: RwLock::new(Vec::new()),
            }),
        }
    }

    /// The buffer size of new subscriptions.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Subscribes to the events of `user`.
    pub fn subscribe(&self, user: Uuid) -> Subscription {
        self.subscribe_with_capacity(user, self.shared.capacity)
    }

    /// Subscribes to the events of `user` with a buffer of `capacity` events (at least 1).
    pub fn subscribe_with_capacity(&self, user: Uuid, capacity: usize) -> Subscription {
        let slot = Slot::new(capacity.max(1));
        self.shared
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user)
            .or_default()
            .push(Arc::clone(&slot));
        Subscription {
            slot,
            shared: Arc::downgrade(&self.shared),
            user: Some(user),
        }
    }

    /// Subscribes to every event, whatever its user (for system or admin views).
    pub fn subscribe_all(&self) -> Subscription {
        self.subscribe_all_with_capacity(self.shared.capacity)
    }

    /// Subscribes to every event with a buffer of `capacity` events (at least 1).
    pub fn subscribe_all_with_capacity(&self, capacity: usize) -> Subscription {
        let slot = Slot::new(capacity.max(1));
        self.shared
            .all
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&slot));
        Subscription {
            slot,
            shared: Arc::downgrade(&self.shared),
            user: None,
        }
    }

    /// Hands `event` to the subscriptions of its user and to those of all events, and returns
    /// how many subscriptions got it. Never waits for a subscriber.
    pub fn publish(&self, event: &Arc<Event>) -> usize {
        let mut delivered = 0;
        if let Some(user) = event.user_id() {
            let users = self
                .shared
                .users
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(slots) = users.get(&user) {
                for slot in slots {
                    slot.push(event);
                }
                delivered += slots.len();
            }
        }
        let all = self
            .shared
            .all
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in all.iter() {
            slot.push(event);
        }
        delivered + all.len()
    }

    /// How many live subscriptions `user` has (not counting subscriptions to all events).
    pub fn subscriber_count(&self, user: Uuid) -> usize {
        self.shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .map_or(0, Vec::len)
    }

    /// How many users have at least one live subscription.
    pub fn user_count(&self) -> usize {
        self.shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Default for Broadcaster {
    fn default() -> Self {
        Broadcaster::new()
    }
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster")
            .field("capacity", &self.shared.capacity)
            .field("users", &self.user_count())
            .finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let users = self.users.get_mut().unwrap_or_else(PoisonError::into_inner);
        for slot in users.values().flatten() {
            slot.close();
        }
        let all = self.all.get_mut().unwrap_or_else(PoisonError::into_inner);
        for slot in all.iter() {
            slot.close();
        }
    }
}

/// A subscriber fell behind and lost this many of its oldest events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscriber fell behind and missed {} events", self.0)
    }
}

impl std::error::Error for Lagged {}

/// Why [`Subscription::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The subscriber fell behind and lost this many of its oldest events; receiving again gives
    /// the events that followed.
    Lagged(u64),
    /// Every handle of the broadcaster is gone and the buffer is empty.
    Closed,
}

/// Why [`Subscription::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is buffered now.
    Empty,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
    /// As [`RecvError::Closed`].
    Closed,
}

/// Why [`Subscription::recv_timeout`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived in time.
    Timeout,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
    /// As [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => fmt::Display::fmt(&Lagged(*n), f),
            RecvError::Closed => f.write_str("the broadcaster is gone"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no event is buffered"),
            TryRecvError::Lagged(n) => fmt::Display::fmt(&Lagged(*n), f),
            TryRecvError::Closed => f.write_str("the broadcaster is gone"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("no event arrived in time"),
            RecvTimeoutError::Lagged(n) => fmt::Display::fmt(&Lagged(*n), f),
            RecvTimeoutError::Closed => f.write_str("the broadcaster is gone"),
        }
    }
}

impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}

/// A live subscription: a blocking receiver and a `futures_core::Stream`, for any runtime.
///
/// As a stream it yields `Ok(event)`, or `Err(Lagged(n))` when `n` events were lost because the
/// subscriber fell behind, and ends when the broadcaster is gone. Dropping it unsubscribes.
pub struct Subscription {
    slot: Arc<Slot>,
    shared: Weak<Shared>,
    user: Option<Uuid>,
}

impl Subscription {
    /// The user whose events this subscription receives; `None` for all events.
    pub fn user(&self) -> Option<Uuid> {
        self.user
    }

    /// Takes the next event without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is buffered, `Lagged(n)` after a loss, `Closed` when
    /// the broadcaster is gone and the buffer is empty.
    pub fn try_recv(&self) -> Result<Arc<Event>, TryRecvError> {
        let mut state = lock(&self.slot.state);
        match state.take() {
            Some(Ok(event)) => Ok(event),
            Some(Err(Lagged(n))) => Err(TryRecvError::Lagged(n)),
            None if state.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next event, blocking this thread.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] after a loss, [`RecvError::Closed`] when the broadcaster is gone and
    /// the buffer is empty.
    pub fn recv(&self) -> Result<Arc<Event>, RecvError> {
        match self.recv_until(None) {
            Ok(event) => Ok(event),
            Err(RecvTimeoutError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(RecvTimeoutError::Closed | RecvTimeoutError::Timeout) => Err(RecvError::Closed),
        }
    }

    /// Waits at most `timeout` for the next event, blocking this thread.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] when nothing arrived in time, otherwise as [`recv`](Self::recv).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Arc<Event>, RecvTimeoutError> {
        self.recv_until(Some(Instant::now() + timeout))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Arc<Event>, RecvTimeoutError> {
        let mut state = lock(&self.slot.state);
        loop {
            match state.take() {
                Some(Ok(event)) => return Ok(event),
                Some(Err(Lagged(n))) => return Err(RecvTimeoutError::Lagged(n)),
                None if state.closed => return Err(RecvTimeoutError::Closed),
                None => {}
            }
            state.blocked_receivers += 1;
            state = match deadline {
                None => self
                    .slot
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.blocked_receivers -= 1;
                        return Err(RecvTimeoutError::Timeout);
                    }
                    self.slot
                        .ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            state.blocked_receivers -= 1;
        }
    }

    /// Takes every event buffered now, without waiting (a loss notice is skipped).
    pub fn drain(&self) -> Vec<Arc<Event>> {
        let mut state = lock(&self.slot.state);
        state.missed = 0;
        state.queue.drain(..).collect()
    }
}

impl futures_core::Stream for Subscription {
    type Item = Result<Arc<Event>, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = lock(&self.slot.state);
        if let Some(item) = state.take() {
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        match self.user {
            Some(user) => {
                let mut users = shared.users.write().unwrap_or_else(PoisonError::into_inner);
                if let Some(slots) = users.get_mut(&user) {
                    slots.retain(|slot| !Arc::ptr_eq(slot, &self.slot));
                    if slots.is_empty() {
                        users.remove(&user);
                    }
                }
            }
            None => shared
                .all
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|slot| !Arc::ptr_eq(slot, &self.slot)),
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}
