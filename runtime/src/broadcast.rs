//! Live delivery: per-user subscriptions with bounded buffers that never block the publisher.

use std::collections::HashMap;
use std::fmt;
use std::hash::RandomState;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::event::Event;

/// The buffer of each subscription unless said otherwise: enough for a burst of one import.
pub const DEFAULT_SUBSCRIPTION_BUFFER: usize = 1024;

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
    /// Keyed by user ids, which come from requests (a cookie, a header): std's SipHash with
    /// random keys, so that a client cannot choose ids that all land in one bucket.
    users: RwLock<HashMap<Uuid, Arc<Channel>, RandomState>>,
    all: Arc<Channel>,
    /// Set by [`Broadcaster::close`]; changed under the `users` write lock.
    closed: AtomicBool,
    /// Bumped by [`Broadcaster::history_changed`]: each subscription compares it with the one it
    /// last saw.
    history: AtomicU64,
}

/// One ring of recent events, shared by every subscription of a user (or by every subscription
/// to all events): a publish writes the event once; each subscription keeps its own position.
struct Channel {
    state: Mutex<ChannelState>,
    ready: Condvar,
    /// Live subscriptions, readable without the lock so that publishing to nobody is cheap.
    subscribers: AtomicUsize,
    /// Bumped by [`Broadcaster::counts_changed`]: each subscription compares it with the one it
    /// last saw.
    counts: AtomicU64,
}

struct ChannelState {
    /// The last `ring.len()` positions; the event at position `p` is at `ring[p % ring.len()]`,
    /// until every subscription has taken it (or left, or skipped it).
    ring: Vec<Option<Slot>>,
    /// The position the next event gets.
    tail: u64,
    closed: bool,
    blocked_receivers: usize,
    wakers: Vec<(u64, Waker)>,
    next_id: u64,
}

/// An event in the ring and how many subscriptions have yet to take it: the last one to take it
/// empties the slot, so that the ring holds what is unread, as `tokio::sync::broadcast` does,
/// not the last `ring.len()` events whatever their readers.
#[derive(Clone)]
struct Slot {
    event: Arc<Event>,
    unread: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of our locks cannot leave the state half-changed, so poisoning is
    // ignored rather than spread to every later publisher.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Channel {
    fn new(window: usize) -> Arc<Channel> {
        Arc::new(Channel {
            state: Mutex::new(ChannelState {
                ring: vec![None; window],
                tail: 0,
                closed: false,
                blocked_receivers: 0,
                wakers: Vec::new(),
                next_id: 0,
            }),
            ready: Condvar::new(),
            subscribers: AtomicUsize::new(0),
            counts: AtomicU64::new(0),
        })
    }

    /// Adds a subscription that keeps up to `window` events; returns its id and first position.
    fn join(&self, window: usize) -> (u64, u64) {
        let mut state = lock(&self.state);
        if window > state.ring.len() {
            // Grow the ring, keeping the events it holds at their positions.
            let old = std::mem::take(&mut state.ring);
            let mut ring = vec![None; window];
            let kept = state.tail.saturating_sub(old.len() as u64)..state.tail;
            for position in kept {
                ring[slot(position, window)] = old[slot(position, old.len())].clone();
            }
            state.ring = ring;
        }
        state.next_id += 1;
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        (state.next_id, state.tail)
    }

    /// Removes a subscription whose next position is `next`, releasing what it left unread;
    /// returns how many are left.
    fn leave(&self, id: u64, next: u64) -> usize {
        let mut state = lock(&self.state);
        state.wakers.retain(|(owner, _)| *owner != id);
        let tail = state.tail;
        state.release(next..tail);
        self.subscribers.fetch_sub(1, Ordering::Relaxed) - 1
    }

    fn push(&self, event: &Arc<Event>) {
        let wakers = {
            let mut state = lock(&self.state);
            if state.closed {
                return;
            }
            let at = slot(state.tail, state.ring.len());
            // Under the lock that `join` and `leave` take: exactly the subscriptions that will
            // read this position. With none, nothing is kept.
            let unread = self.subscribers.load(Ordering::Relaxed);
            state.ring[at] = (unread > 0).then(|| Slot {
                event: Arc::clone(event),
                unread,
            });
            state.tail += 1;
            if state.blocked_receivers > 0 {
                self.ready.notify_all();
            }
            if state.wakers.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut state.wakers)
            }
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// Wakes every waiting receiver and task, with nothing new to take.
    fn wake(&self) {
        let wakers = {
            let mut state = lock(&self.state);
            self.ready.notify_all();
            std::mem::take(&mut state.wakers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    fn close(&self) {
        let wakers = {
            let mut state = lock(&self.state);
            state.closed = true;
            self.ready.notify_all();
            std::mem::take(&mut state.wakers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }
}

fn slot(position: u64, len: usize) -> usize {
    // `len` is at least 1; the remainder is below `len`, so it fits in `usize`.
    (position % len as u64) as usize
}

impl ChannelState {
    /// The next item for a subscription at `next` that keeps `window` events.
    fn take(&mut self, next: &AtomicU64, window: usize) -> Option<Result<Arc<Event>, Lagged>> {
        let position = next.load(Ordering::Relaxed);
        let oldest = self.tail.saturating_sub(window.min(self.ring.len()) as u64);
        if position < oldest {
            next.store(oldest, Ordering::Relaxed);
            self.release(position..oldest);
            let missed = oldest - position;
            tracing::debug!(target: "tidings", missed, "a live subscriber fell behind and is told so");
            metrics::counter!("tidings_subscribers_lagged_total").increment(1);
            return Some(Err(Lagged(missed)));
        }
        if position < self.tail {
            next.store(position + 1, Ordering::Relaxed);
            let at = slot(position, self.ring.len());
            let held = self.ring[at].as_mut()?;
            held.unread -= 1;
            return Some(Ok(if held.unread == 0 {
                self.ring[at].take()?.event
            } else {
                Arc::clone(&held.event)
            }));
        }
        None
    }

    /// One subscription will not take the events at `positions`: those still in the ring have
    /// one reader fewer.
    fn release(&mut self, positions: std::ops::Range<u64>) {
        let first_kept = self.tail.saturating_sub(self.ring.len() as u64);
        for position in positions.start.max(first_kept)..positions.end {
            let at = slot(position, self.ring.len());
            if let Some(held) = &mut self.ring[at] {
                held.unread -= 1;
                if held.unread == 0 {
                    self.ring[at] = None;
                }
            }
        }
    }
}

impl Broadcaster {
    /// A broadcaster whose subscriptions buffer [`DEFAULT_SUBSCRIPTION_BUFFER`] events each.
    pub fn new() -> Self {
        Broadcaster::with_capacity(DEFAULT_SUBSCRIPTION_BUFFER)
    }

    /// A broadcaster whose subscriptions buffer `capacity` events each (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Broadcaster {
            shared: Arc::new(Shared {
                capacity,
                users: RwLock::new(HashMap::new()),
                all: Channel::new(capacity),
                closed: AtomicBool::new(false),
                history: AtomicU64::new(0),
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
        let window = capacity.max(1);
        // Joined under the map's lock: a last subscription leaving at the same time cannot
        // remove the channel this one is joining.
        let mut users = self
            .shared
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let channel = Arc::clone(users.entry(user).or_insert_with(|| {
            let channel = Channel::new(window);
            if self.shared.closed.load(Ordering::Relaxed) {
                channel.close();
            }
            channel
        }));
        let subscription = self.attach(channel, window, Some(user));
        drop(users);
        subscription
    }

    /// Subscribes to every event, whatever its user (for system or admin views).
    pub fn subscribe_all(&self) -> Subscription {
        self.subscribe_all_with_capacity(self.shared.capacity)
    }

    /// Subscribes to every event with a buffer of `capacity` events (at least 1).
    pub fn subscribe_all_with_capacity(&self, capacity: usize) -> Subscription {
        let window = capacity.max(1);
        self.attach(Arc::clone(&self.shared.all), window, None)
    }

    fn attach(&self, channel: Arc<Channel>, window: usize, user: Option<Uuid>) -> Subscription {
        let (id, next) = channel.join(window);
        let counts = channel.counts.load(Ordering::SeqCst);
        Subscription {
            channel,
            id,
            window,
            next: AtomicU64::new(next),
            history_seen: AtomicU64::new(self.shared.history.load(Ordering::SeqCst)),
            counts_seen: AtomicU64::new(counts),
            shared: Arc::downgrade(&self.shared),
            user,
        }
    }

    /// Hands `event` to the subscriptions of its user and to those of all events, and returns
    /// how many subscriptions got it. Never waits for a subscriber.
    pub fn publish(&self, event: &Arc<Event>) -> usize {
        if self.shared.closed.load(Ordering::Relaxed) {
            return 0;
        }
        let mut delivered = 0;
        if let Some(user) = event.user_id() {
            let users = self
                .shared
                .users
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(channel) = users.get(&user) {
                channel.push(event);
                delivered += channel.subscribers.load(Ordering::Relaxed);
            }
        }
        let all = &self.shared.all;
        let everyone = all.subscribers.load(Ordering::Relaxed);
        if everyone > 0 {
            all.push(event);
            delivered += everyone;
        }
        delivered
    }

    /// Tells every subscription that the history it follows changed under it (the store's
    /// history went back, as after a database failover that lost its newest rows): what it
    /// received may not be stored, and events may have been stored that it will not receive.
    /// Each subscription's [`Subscription::history_changed`] then says so, once, and its waiting
    /// tasks are woken; a live stream sends `event: reload`, and its client loads the list
    /// again.
    pub fn history_changed(&self) {
        self.shared.history.fetch_add(1, Ordering::SeqCst);
        let users = self.user_channels();
        for channel in users.iter().chain(std::iter::once(&self.shared.all)) {
            channel.wake();
        }
    }

    /// Tells the subscriptions of `user` that the user's counts changed without a new event
    /// reaching them (events marked or deleted, here or on another instance): each one's
    /// [`Subscription::counts_changed`] then says so, once, and its waiting tasks are woken. A
    /// live stream that asked for counts sends `event: counts`. Cheap when the user has no
    /// subscription.
    pub fn counts_changed(&self, user: Uuid) {
        let channel = self
            .shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .cloned();
        if let Some(channel) = channel {
            channel.counts.fetch_add(1, Ordering::SeqCst);
            channel.wake();
        }
    }

    /// [`counts_changed`](Self::counts_changed) for every user with a subscription (a change
    /// whose users are not known, such as an operator's bulk delete on another instance).
    pub fn all_counts_changed(&self) {
        for channel in self.user_channels() {
            channel.counts.fetch_add(1, Ordering::SeqCst);
            channel.wake();
        }
    }

    /// The channel of every user with a subscription, taken out of the lock.
    fn user_channels(&self) -> Vec<Arc<Channel>> {
        self.shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Ends every subscription, now and later: each ends ([`RecvError::Closed`], the end of the
    /// stream) after the events it has buffered, and events published afterwards reach no one.
    /// For shutdown: it cannot be undone.
    pub fn close(&self) {
        let users = self
            .shared
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.closed.store(true, Ordering::Relaxed);
        for channel in users.values() {
            channel.close();
        }
        self.shared.all.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    /// How many live subscriptions `user` has (not counting subscriptions to all events).
    pub fn subscriber_count(&self, user: Uuid) -> usize {
        self.shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .map_or(0, |channel| channel.subscribers.load(Ordering::Relaxed))
    }

    /// How many threads wait in [`Subscription::recv`] for `user`'s events now: for tests that
    /// must publish only once a receiver blocks. Not a public API: compiled only with the
    /// `test-doors` feature.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub fn __blocked_receivers(&self, user: Uuid) -> usize {
        self.shared
            .users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .map_or(0, |channel| lock(&channel.state).blocked_receivers)
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
        for channel in users.values() {
            channel.close();
        }
        self.all.close();
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
    /// The broadcaster was closed, or every handle of it is gone, and the buffer is empty.
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
            RecvError::Closed => f.write_str("the broadcaster is closed or gone"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no event is buffered"),
            TryRecvError::Lagged(n) => fmt::Display::fmt(&Lagged(*n), f),
            TryRecvError::Closed => f.write_str("the broadcaster is closed or gone"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("no event arrived in time"),
            RecvTimeoutError::Lagged(n) => fmt::Display::fmt(&Lagged(*n), f),
            RecvTimeoutError::Closed => f.write_str("the broadcaster is closed or gone"),
        }
    }
}

impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}

/// A live subscription: a blocking receiver and a `futures_core::Stream`, for any runtime.
///
/// As a stream it yields `Ok(event)`, or `Err(Lagged(n))` when `n` events were lost because the
/// subscriber fell behind, and ends when the broadcaster is closed or gone. Dropping it unsubscribes.
pub struct Subscription {
    channel: Arc<Channel>,
    id: u64,
    window: usize,
    next: AtomicU64,
    /// The broadcaster's history counter when this subscription last looked.
    history_seen: AtomicU64,
    /// Its channel's counts counter when this subscription last looked.
    counts_seen: AtomicU64,
    shared: Weak<Shared>,
    user: Option<Uuid>,
}

impl Subscription {
    /// Whether the history this subscription follows changed under it since it subscribed or
    /// last asked ([`Broadcaster::history_changed`]): then the client should load the list
    /// again. `true` once per change.
    pub fn history_changed(&self) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let now = shared.history.load(Ordering::SeqCst);
        self.history_seen.swap(now, Ordering::SeqCst) != now
    }

    /// Whether its user's counts changed without a new event since it subscribed or last
    /// asked ([`Broadcaster::counts_changed`]). `true` once per change, however many.
    pub fn counts_changed(&self) -> bool {
        let now = self.channel.counts.load(Ordering::SeqCst);
        self.counts_seen.swap(now, Ordering::SeqCst) != now
    }

    /// The user whose events this subscription receives; `None` for all events.
    pub fn user(&self) -> Option<Uuid> {
        self.user
    }

    /// Takes the next event without waiting.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when nothing is buffered, `Lagged(n)` after a loss, `Closed` when
    /// the broadcaster is closed or gone and the buffer is empty.
    pub fn try_recv(&self) -> Result<Arc<Event>, TryRecvError> {
        let mut state = lock(&self.channel.state);
        match state.take(&self.next, self.window) {
            Some(Ok(event)) => Ok(event),
            Some(Err(Lagged(n))) => Err(TryRecvError::Lagged(n)),
            None if state.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next event, blocking this thread.
    ///
    /// # Errors
    /// [`RecvError::Lagged`] after a loss, [`RecvError::Closed`] when the broadcaster is closed or gone and
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
        let mut state = lock(&self.channel.state);
        loop {
            match state.take(&self.next, self.window) {
                Some(Ok(event)) => return Ok(event),
                Some(Err(Lagged(n))) => return Err(RecvTimeoutError::Lagged(n)),
                None if state.closed => return Err(RecvTimeoutError::Closed),
                None => {}
            }
            state.blocked_receivers += 1;
            state = match deadline {
                None => self
                    .channel
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.blocked_receivers -= 1;
                        return Err(RecvTimeoutError::Timeout);
                    }
                    self.channel
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
        let mut state = lock(&self.channel.state);
        let mut events = Vec::new();
        while let Some(item) = state.take(&self.next, self.window) {
            if let Ok(event) = item {
                events.push(event);
            }
        }
        events
    }
}

impl futures_core::Stream for Subscription {
    type Item = Result<Arc<Event>, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = lock(&self.channel.state);
        if let Some(item) = state.take(&self.next, self.window) {
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        let id = self.id;
        match state.wakers.iter_mut().find(|(owner, _)| *owner == id) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => *waker = cx.waker().clone(),
            None => state.wakers.push((id, cx.waker().clone())),
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
                if self
                    .channel
                    .leave(self.id, self.next.load(Ordering::Relaxed))
                    == 0
                {
                    users.remove(&user);
                }
            }
            None => {
                self.channel
                    .leave(self.id, self.next.load(Ordering::Relaxed));
            }
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("user", &self.user)
            .field("capacity", &self.window)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    use std::sync::Arc;

    use uuid::Uuid;

    use super::{Broadcaster, RecvError};
    use crate::event::Event;

    fn event(user: Uuid) -> Arc<Event> {
        Arc::new(
            Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .build()
                .expect("valid"),
        )
    }

    /// Ids `(a, b)` and `(a ^ d, b ^ d.rotate_left(29))` (the 64-bit little-endian words of the
    /// id) all collided under the hand-written fold hash this map used: a client choosing its
    /// user ids could put every one in one bucket.
    #[test]
    fn ids_built_to_collide_land_in_many_buckets() {
        let broadcaster = Broadcaster::new();
        let users = broadcaster.shared.users.read().expect("not poisoned");
        let hasher = users.hasher();
        let (a, b) = (0x0123_4567_89ab_cdef_u64, 0xfedc_ba98_7654_3210_u64);
        let hashes: HashSet<u64> = (0..10_000_u64)
            .map(|i| {
                let d = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut bytes = [0_u8; 16];
                bytes[..8].copy_from_slice(&(a ^ d).to_le_bytes());
                bytes[8..].copy_from_slice(&(b ^ d.rotate_left(29)).to_le_bytes());
                hasher.hash_one(Uuid::from_bytes(bytes))
            })
            .collect();
        assert!(
            hashes.len() > 9_900,
            "10,000 ids built to collide gave only {} distinct hashes",
            hashes.len()
        );
    }

    #[test]
    fn close_ends_every_subscription_after_its_buffer_and_those_made_later() {
        let broadcaster = Broadcaster::new();
        let user = Uuid::new_v4();
        let tab = broadcaster.subscribe(user);
        let all = broadcaster.subscribe_all();
        let event = event(user);
        broadcaster.publish(&event);
        broadcaster.close();
        assert!(broadcaster.is_closed());
        assert_eq!(broadcaster.publish(&event), 0, "reaches no one");
        assert_eq!(tab.recv().map(|e| e.id()), Ok(event.id()));
        assert_eq!(tab.recv().map(|e| e.id()), Err(RecvError::Closed));
        assert_eq!(all.recv().map(|e| e.id()), Ok(event.id()));
        assert_eq!(all.recv().map(|e| e.id()), Err(RecvError::Closed));
        let later = broadcaster.subscribe(Uuid::new_v4());
        assert_eq!(later.recv().map(|e| e.id()), Err(RecvError::Closed));
        drop((tab, later));
        assert_eq!(broadcaster.user_count(), 0);
    }

    /// The ring holds an event only until every subscription has taken it (or left, or skipped
    /// it when told it lagged): memory follows what is unread, not the buffer's size.
    #[test]
    fn an_event_is_released_once_every_subscription_has_it() {
        let broadcaster = Broadcaster::new();
        let user = Uuid::new_v4();
        let (a, b) = (broadcaster.subscribe(user), broadcaster.subscribe(user));
        let all = broadcaster.subscribe_all();
        let first = event(user);
        broadcaster.publish(&first);
        assert!(a.try_recv().is_ok());
        assert!(all.try_recv().is_ok());
        assert_eq!(Arc::strong_count(&first), 2, "b has not taken it yet");
        assert!(b.try_recv().is_ok());
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "taken by all, held by no ring"
        );

        // A subscription that leaves with unread events releases them.
        let second = event(user);
        broadcaster.publish(&second);
        assert!(a.try_recv().is_ok());
        assert!(all.try_recv().is_ok());
        drop(b);
        assert_eq!(Arc::strong_count(&second), 1);

        // With no subscription, nothing is kept.
        let nobody = Uuid::new_v4();
        let unseen = event(nobody);
        drop(all);
        broadcaster.publish(&unseen);
        assert_eq!(Arc::strong_count(&unseen), 1);

        // A subscription with a smaller buffer that lagged releases what it skipped.
        let small = broadcaster.subscribe_with_capacity(user, 1);
        let skipped = event(user);
        let kept = event(user);
        broadcaster.publish(&skipped);
        broadcaster.publish(&kept);
        assert!(a.try_recv().is_ok() && a.try_recv().is_ok());
        assert!(small.try_recv().is_err(), "told it lagged");
        assert_eq!(Arc::strong_count(&skipped), 1);
        assert!(small.try_recv().is_ok());
        assert_eq!(Arc::strong_count(&kept), 1);
    }
}
