//! Delivery: store the event first, then publish the very same event to its user's subscribers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use uuid::Uuid;

use crate::broadcast::{Broadcaster, DEFAULT_SUBSCRIPTION_BUFFER, Subscription};
use crate::delivery::{Delivery, DeliveryFailure, FailureHook};
use crate::event::Event;
use crate::store::{EventStore, Feed, MemoryStore, StoreError};
use crate::writer::{Writer, WriterError};

/// How many events a background writer queues before emitting threads wait for room.
pub const DEFAULT_QUEUE: usize = 65_536;

/// How long [`Emitter::flush`] waits for a store's feed to publish what was stored.
const FEED_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Delivers events: stores each one, then publishes it to the live subscribers of its user.
///
/// An emitter holds the system id of this server instance (set on every event that has none),
/// an optional [`EventStore`] and a [`Broadcaster`]. [`emit`](Self::emit) stores the event and
/// then publishes the very same `Arc<Event>`, so what subscribers see is what was stored. When
/// storing fails, the event is not published (a notification that would vanish on reload);
/// the failure is counted ([`failures`](Self::failures)) and handed to the hook set with
/// [`EmitterBuilder::on_failure`]. Cloning an emitter is cheap and shares everything.
///
/// ```
/// use tidings_runtime::{Emitter, Event, Severity};
///
/// let emitter = Emitter::new();
/// let user = uuid::Uuid::new_v4();
/// let live = emitter.subscribe(user);
/// let event = Event::builder()
///     .from_user(user)
///     .category("connection")
///     .action("ping")
///     .severity(Severity::Success)
///     .build()?;
/// let delivered = emitter.emit(event)?;
/// assert_eq!(delivered.system_id(), Some(emitter.system_id()));
/// assert!(std::sync::Arc::ptr_eq(&live.try_recv()?, &delivered));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Emitter {
    inner: Arc<Inner>,
}

struct Inner {
    system_id: Uuid,
    delivery: Arc<Delivery>,
    writer: Option<Writer>,
    /// The store's feed, which publishes what is stored (see [`EventStore::start_feed`]).
    feed: Option<Box<dyn Feed>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(writer) = &self.writer {
            writer.shutdown();
        }
        // What the writer stored last is published before the feed stops (at most as long as
        // a flush waits).
        if let Some(feed) = &self.feed {
            feed.sync(FEED_SYNC_TIMEOUT);
        }
    }
}

impl Emitter {
    /// An emitter with a fresh system id, a [`MemoryStore`] and a [`Broadcaster`] with the
    /// default buffer size.
    pub fn new() -> Self {
        Emitter::builder().build()
    }

    /// Configures an emitter.
    pub fn builder() -> EmitterBuilder {
        EmitterBuilder::default()
    }

    /// The id of this server instance.
    pub fn system_id(&self) -> Uuid {
        self.inner.system_id
    }

    /// The store, if the emitter has one.
    pub fn store(&self) -> Option<&Arc<dyn EventStore>> {
        self.inner.delivery.store()
    }

    /// The broadcaster that publishes to live subscribers.
    pub fn broadcaster(&self) -> &Broadcaster {
        self.inner.delivery.broadcaster()
    }

    /// Subscribes to the events of `user` (see [`Broadcaster::subscribe`]).
    pub fn subscribe(&self, user: Uuid) -> Subscription {
        self.inner.delivery.broadcaster().subscribe(user)
    }

    /// Subscribes to every event (see [`Broadcaster::subscribe_all`]).
    pub fn subscribe_all(&self) -> Subscription {
        self.inner.delivery.broadcaster().subscribe_all()
    }

    /// How many events could not be stored since the emitter was made.
    pub fn failures(&self) -> u64 {
        self.inner.delivery.failures()
    }

    /// How many times the failure hook panicked. A panicking hook is caught: the failure is
    /// still counted in [`failures`](Self::failures), and delivery goes on.
    pub fn failure_hook_panics(&self) -> u64 {
        self.inner.delivery.hook_panics()
    }

    /// Ends every live stream of this emitter, now and later ([`Broadcaster::close`]): each
    /// subscription ends after the events it has buffered, and the Server-Sent-Events streams of
    /// `web::router` (feature `axum`) end with them. Events are still stored.
    ///
    /// Call it when the server starts shutting down: a graceful shutdown (axum's
    /// `with_graceful_shutdown`, hyper's, tonic's) waits for every open connection, and a live
    /// stream never ends by itself. Then [`flush`](Self::flush) once the server has stopped, so
    /// that what the last requests emitted is stored.
    ///
    /// ```
    /// let events = tidings_runtime::Emitter::new();
    /// let tab = events.subscribe(uuid::Uuid::new_v4());
    /// events.close_streams();
    /// assert_eq!(tab.recv(), Err(tidings_runtime::RecvError::Closed));
    /// events.flush()?;
    /// # Ok::<(), tidings_runtime::WriterError>(())
    /// ```
    pub fn close_streams(&self) {
        self.inner.delivery.broadcaster().close();
    }

    /// A handle that does not keep the emitter alive: what a failure hook that emits should
    /// hold (a clone held by the hook would keep its own emitter, and the writer thread, alive
    /// forever, as any `Arc` cycle does).
    pub fn downgrade(&self) -> WeakEmitter {
        WeakEmitter {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Whether events can be stored and delivered now, and if not why: the background writer's
    /// state (alive, queue fill, last batch), whether the store failed its last write, and the
    /// store's feed (connected, how far behind). For a readiness check; with the `axum` feature,
    /// `web::health` serves it.
    pub fn health(&self) -> crate::Health {
        let (store_failing, failed_in_outage) = self.inner.delivery.outage();
        crate::Health {
            writer: self.inner.writer.as_ref().map(Writer::health),
            store_failing,
            failed_in_outage,
            feed: self.inner.feed.as_ref().map(|feed| feed.health()),
        }
    }

    /// Whether events are stored by a background writer (see [`EmitterBuilder::store`]).
    pub fn has_background_writer(&self) -> bool {
        self.inner.writer.is_some()
    }

    /// Returns once every event emitted before the call is stored and published, or reported
    /// as failed. Immediate without a background writer and a store's feed. With a feed (the
    /// PostgreSQL store), "published" means published by this instance's feed. Dropping the
    /// last handle of an emitter flushes too. It blocks the thread: in async code, call it from
    /// `spawn_blocking`.
    ///
    /// # Errors
    /// [`WriterError::Stopped`] when the background writer thread has stopped, so that the
    /// events will never be stored; [`WriterError::FlushFromWriter`] when called from the
    /// failure hook, on the writer thread, where it would wait for itself;
    /// [`WriterError::FeedBehind`] when the store's feed did not publish what was stored within
    /// 30 seconds (its connection is down).
    pub fn flush(&self) -> Result<(), WriterError> {
        if let Some(writer) = &self.inner.writer {
            writer.flush()?;
        }
        match &self.inner.feed {
            Some(feed) if !feed.sync(FEED_SYNC_TIMEOUT) => Err(WriterError::FeedBehind),
            _ => Ok(()),
        }
    }

    /// Returns once every event emitted before the call is stored or reported as failed, whatever
    /// the state of the store's feed (the PostgreSQL listener): for an answer that must say
    /// "stored" without waiting for this instance's live delivery.
    #[cfg(feature = "axum")]
    pub(crate) fn flush_stored(&self) -> Result<(), WriterError> {
        match &self.inner.writer {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }

    /// Stores `event`, then publishes it; returns the event. Sets the system id when the event
    /// has none. Never waits for a subscriber.
    ///
    /// With a background writer the event is queued and `Ok` means accepted: the writer stores
    /// it, then publishes it, and reports a failure to the failure hook. When the queue is full
    /// the call waits for room rather than drop anything (backpressure).
    ///
    /// This blocks the thread while the queue is full, and writes inline stores on it: in
    /// async code, use [`emit_async`](Self::emit_async).
    ///
    /// # Errors
    /// Without a background writer, a [`DeliveryFailure`] when the store refused the event. It
    /// is then not published; the failure is counted and handed to the failure hook first.
    /// With one, a [`DeliveryFailure`] whose error is [`WriterError::Stopped`] when the writer
    /// thread has stopped.
    pub fn emit(&self, event: Event) -> Result<Arc<Event>, DeliveryFailure> {
        self.emit_prepared(self.prepare(event))
    }

    /// Stores (or queues) and publishes an event made ready by [`prepare`](Self::prepare) or
    /// [`recorded`](Self::recorded).
    pub(crate) fn emit_prepared(&self, event: Arc<Event>) -> Result<Arc<Event>, DeliveryFailure> {
        if let Some(writer) = &self.inner.writer {
            return match writer.submit(Arc::clone(&event)) {
                Ok(()) => Ok(event),
                Err(error) => Err(stopped(event, error)),
            };
        }
        self.inner.delivery.deliver(event)
    }

    /// [`emit`](Self::emit) for async code: when a background writer's queue is full, the task
    /// waits for room without blocking its executor thread. Without a background writer, the
    /// store is written on the calling thread, as `emit` does (choose a background writer for a
    /// store that waits on I/O).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use tidings_runtime::{Emitter, Event};
    ///
    /// let events = Emitter::new();
    /// let event = Event::builder().category("connection").action("ping").build()?;
    /// let stored = events.emit_async(event).await?;
    /// assert_eq!(stored.category().as_str(), "connection");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn emit_async(&self, event: Event) -> EmitAsync<'_> {
        EmitAsync {
            emitter: self,
            event: Some(self.prepare(event)),
        }
    }

    /// The event as this emitter delivers it: with its system id when it has none.
    pub(crate) fn prepare(&self, event: Event) -> Arc<Event> {
        self.recorded(Arc::new(event.with_default_system(self.inner.system_id)))
    }

    /// An event made with its system id already set (`#[emits_event]`'s, built straight into its
    /// `Arc`), recorded as [`prepare`](Self::prepare) records.
    pub(crate) fn recorded(&self, event: Arc<Event>) -> Arc<Event> {
        // Once per event, on the emitting thread, in its current span: never by the writer.
        #[cfg(feature = "tracing")]
        crate::trace::record(&event);
        metrics::counter!("tidings_events_emitted_total").increment(1);
        event
    }

    /// Polls the delivery of the event in `slot` (taken once it is queued or delivered).
    pub(crate) fn poll_emit(
        &self,
        slot: &mut Option<Arc<Event>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Arc<Event>, DeliveryFailure>> {
        let Some(writer) = &self.inner.writer else {
            return match slot.take() {
                Some(event) => Poll::Ready(self.inner.delivery.deliver(event)),
                None => Poll::Pending,
            };
        };
        let Some(event) = slot.clone() else {
            return Poll::Pending;
        };
        writer.poll_submit(slot, cx).map(|done| match done {
            Ok(()) => Ok(event),
            Err(error) => {
                *slot = None;
                Err(stopped(event, error))
            }
        })
    }
}

impl Emitter {
    /// Delivers the event of an emitting future dropped before it was delivered (a timeout, a
    /// client that went away): queued whatever the queue holds, or stored inline; a writer that
    /// has stopped reports it to the failure hook and counts it. Never lost silently.
    pub(crate) fn deliver_abandoned(&self, event: Arc<Event>) {
        let Some(writer) = &self.inner.writer else {
            // A failure is counted and reported inside.
            let _ = self.inner.delivery.deliver(event);
            return;
        };
        if let Err(error) = writer.push_abandoned(Arc::clone(&event)) {
            let _ = self.inner.delivery.report(stopped(event, error));
        }
    }
}

fn stopped(event: Arc<Event>, error: WriterError) -> DeliveryFailure {
    DeliveryFailure {
        event,
        error: StoreError::Backend(Box::new(error)),
    }
}

/// The future of [`Emitter::emit_async`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct EmitAsync<'a> {
    emitter: &'a Emitter,
    event: Option<Arc<Event>>,
}

impl Future for EmitAsync<'_> {
    type Output = Result<Arc<Event>, DeliveryFailure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.emitter.poll_emit(&mut this.event, cx)
    }
}

impl Drop for EmitAsync<'_> {
    /// Dropped before its event was delivered (while it waited for room, or never polled): the
    /// event is delivered all the same, or reported.
    fn drop(&mut self) {
        if let Some(event) = self.event.take() {
            self.emitter.deliver_abandoned(event);
        }
    }
}

/// A handle to an [`Emitter`] that does not keep it alive; from [`Emitter::downgrade`].
///
/// ```
/// use tidings_runtime::{Emitter, Event, Severity};
///
/// // A failure hook that emits a warning of its own holds a weak handle, set once the emitter
/// // exists.
/// let slot = std::sync::Arc::new(std::sync::OnceLock::<tidings_runtime::WeakEmitter>::new());
/// let hook_slot = slot.clone();
/// let events = Emitter::builder()
///     .on_failure(move |failure| {
///         if let Some(events) = hook_slot.get().and_then(|weak| weak.upgrade()) {
///             let warning = Event::builder()
///                 .category("storage")
///                 .action("write")
///                 .severity(Severity::Warning)
///                 .description(format!("event {} was not stored", failure.event.id()))
///                 .build();
///             if let Ok(warning) = warning {
///                 let _ = events.emit(warning);
///             }
///         }
///     })
///     .build();
/// let _ = slot.set(events.downgrade());
/// # drop(events);
/// ```
#[derive(Clone, Debug)]
pub struct WeakEmitter {
    inner: Weak<Inner>,
}

impl WeakEmitter {
    /// The emitter, if a handle of it is still alive.
    pub fn upgrade(&self) -> Option<Emitter> {
        self.inner.upgrade().map(|inner| Emitter { inner })
    }
}

// Every lock inside ignores poisoning and every update is a single step, so an emitter seen
// again after a panic is in a consistent state; the store and hook are the application's own.
impl std::panic::UnwindSafe for Emitter {}
impl std::panic::RefUnwindSafe for Emitter {}

impl Default for Emitter {
    fn default() -> Self {
        Emitter::new()
    }
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("system_id", &self.inner.system_id)
            .field("has_store", &self.store().is_some())
            .field("broadcaster", self.broadcaster())
            .field("failures", &self.failures())
            .field("background_writer", &self.has_background_writer())
            .finish_non_exhaustive()
    }
}

/// Configures an [`Emitter`]; get one from [`Emitter::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct EmitterBuilder {
    system_id: Option<Uuid>,
    store: StoreChoice,
    capacity: usize,
    on_failure: Option<FailureHook>,
    writing: Writing,
}

/// Where events are kept.
enum StoreChoice {
    /// A [`MemoryStore`].
    Default,
    Given(Arc<dyn EventStore>),
    /// Only published.
    Without,
}

/// Who writes to the store.
enum Writing {
    /// A background writer when the store prefers one, else the emitting thread.
    AsTheStorePrefers,
    /// The emitting thread.
    Inline,
    /// A background writer with a queue of this many events.
    Background(usize),
}

impl Default for EmitterBuilder {
    fn default() -> Self {
        EmitterBuilder {
            system_id: None,
            store: StoreChoice::Default,
            capacity: DEFAULT_SUBSCRIPTION_BUFFER,
            on_failure: None,
            writing: Writing::AsTheStorePrefers,
        }
    }
}

impl EmitterBuilder {
    /// The id of this server instance (default: a fresh v4 id).
    pub fn system_id(mut self, id: Uuid) -> Self {
        self.system_id = Some(id);
        self
    }

    /// The store events go to before they are published (default: a [`MemoryStore`]).
    ///
    /// A store that prefers it ([`EventStore::prefers_background_writer`], such as the SQLite
    /// store) is written by a background writer thread: `emit` queues the event and returns;
    /// the writer stores what is queued in one transaction and then publishes each stored
    /// event. Choose with [`background_writer`](Self::background_writer) and
    /// [`inline_writes`](Self::inline_writes).
    pub fn store(self, store: impl EventStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// Like [`store`](Self::store), for a store the application keeps a handle on.
    pub fn shared_store(mut self, store: Arc<dyn EventStore>) -> Self {
        self.store = StoreChoice::Given(store);
        self
    }

    /// No store: events are only published, and are gone for anyone not subscribed.
    pub fn without_store(mut self) -> Self {
        self.store = StoreChoice::Without;
        self
    }

    /// Stores events through a background writer thread whose queue holds `queue` events (at
    /// least 1; default [`DEFAULT_QUEUE`]). When the queue is full, emitting waits for room.
    pub fn background_writer(mut self, queue: usize) -> Self {
        self.writing = Writing::Background(queue);
        self
    }

    /// Stores each event on the emitting thread, before `emit` returns (the default for stores
    /// that do not prefer a background writer, such as the in-memory store).
    pub fn inline_writes(mut self) -> Self {
        self.writing = Writing::Inline;
        self
    }

    /// The buffer of each live subscription, in events (default [`DEFAULT_SUBSCRIPTION_BUFFER`]).
    pub fn buffer(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Called with every event that could not be stored (and so was not published).
    ///
    /// With a background writer, the hook runs on the writer thread. A hook that panics is
    /// caught and counted ([`Emitter::failure_hook_panics`]); delivery goes on. A hook may emit
    /// through the same emitter: on the writer thread such an event is queued even when the
    /// queue is full (it cannot wait for itself), and a failure of an event the hook emitted is
    /// counted but not handed to the hook again. To emit, the hook holds a [`WeakEmitter`]
    /// ([`Emitter::downgrade`]): a clone would keep the emitter alive forever, as any `Arc`
    /// cycle does. [`Emitter::flush`] from the hook returns [`WriterError::FlushFromWriter`].
    pub fn on_failure(mut self, hook: impl Fn(&DeliveryFailure) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Box::new(hook));
        self
    }

    /// The emitter.
    ///
    /// # Panics
    /// When its background writer's thread or its store's feed cannot start (the operating
    /// system refuses a thread): [`try_build`](Self::try_build) returns that as an error.
    pub fn build(self) -> Emitter {
        self.try_build()
            .unwrap_or_else(|e| panic!("the tidings emitter could not start: {e}"))
    }

    /// The emitter, or why it could not start: its background writer's thread or its store's
    /// feed (the listener of a shared store) could not start.
    ///
    /// # Errors
    /// [`StartError::Writer`] or [`StartError::Feed`]; nothing is left running.
    ///
    /// ```
    /// let events = tidings_runtime::Emitter::builder().try_build()?;
    /// # drop(events);
    /// # Ok::<(), tidings_runtime::StartError>(())
    /// ```
    pub fn try_build(self) -> Result<Emitter, StartError> {
        let store = match self.store {
            StoreChoice::Default => Some(Arc::new(MemoryStore::new()) as Arc<dyn EventStore>),
            StoreChoice::Given(store) => Some(store),
            StoreChoice::Without => None,
        };
        let queue = match self.writing {
            Writing::Background(queue) => Some(queue),
            Writing::Inline => None,
            Writing::AsTheStorePrefers => store
                .as_ref()
                .filter(|s| s.prefers_background_writer())
                .map(|_| DEFAULT_QUEUE),
        };
        let has_store = store.is_some();
        let broadcaster = Broadcaster::with_capacity(self.capacity);
        let feed = match &store {
            Some(store) => store
                .start_feed(broadcaster.clone())
                .map_err(StartError::Feed)?,
            None => None,
        };
        let mut delivery = Delivery::new(store, broadcaster, self.on_failure);
        if feed.is_some() {
            delivery = delivery.published_by_feed();
        }
        let delivery = Arc::new(delivery);
        let writer = queue
            .filter(|_| has_store)
            .map(|queue| Writer::start(Arc::clone(&delivery), queue))
            .transpose()
            .map_err(StartError::Writer)?;
        Ok(Emitter {
            inner: Arc::new(Inner {
                system_id: self.system_id.unwrap_or_else(Uuid::new_v4),
                delivery,
                writer,
                feed,
            }),
        })
    }
}

/// Why [`EmitterBuilder::try_build`] could not start an emitter.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The background writer's thread could not be spawned.
    Writer(std::io::Error),
    /// The store's feed could not start ([`EventStore::start_feed`]).
    Feed(StoreError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Writer(e) => write!(f, "cannot start the background writer's thread: {e}"),
            StartError::Feed(e) => write!(f, "cannot start the store's feed: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Writer(e) => Some(e),
            StartError::Feed(e) => Some(e),
        }
    }
}

impl fmt::Debug for EmitterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmitterBuilder")
            .field("system_id", &self.system_id)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}
