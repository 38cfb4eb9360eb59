//! The PostgreSQL store (feature `postgres`): one history shared by several server instances,
//! and live delivery across them with `LISTEN`/`NOTIFY`.
//!
//! The writer of each instance stores a batch in one transaction that first takes a
//! transaction-level advisory lock (so that the `seq` column commits in its own order across
//! instances) and ends with one `NOTIFY` whose payload is the batch's last `seq`. Each instance
//! runs one listener on a dedicated connection ([`feed`]): on a notification, on a periodic
//! safety poll, and after every reconnect (`LISTEN` first, then catch up), it reads the rows
//! after the last `seq` it published, in order, and publishes them to its broadcaster.
//!
//! The queries run on a pool of async clients, which the events API awaits and the sync methods
//! block on (`connection.rs`); the writer and the listener each keep one sync connection.
//!
//! The rooms: the store and its settings here; its connections and errors (`connection.rs`);
//! the schema (`schema.rs`); the writer's batches (`write.rs`); reading (`read.rs`); status and
//! delete (`change.rs`); retention (`retention.rs`); the listener (`feed.rs`); and, only for
//! tidings' own tests, fault injection (`hooks.rs`, feature `test-doors`).

mod change;
mod connection;
mod feed;
#[cfg(feature = "test-doors")]
mod hooks;
mod notices;
mod read;
mod retention;
mod schema;
mod write;

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::NoTls;
use tokio_postgres::Config;
use uuid::Uuid;

use self::connection::{
    APPLICATION_NAME, CONNECT_TIMEOUT, Context, Queries, backend, bounded, describe, hide_password,
    off_runtime,
};
#[cfg(feature = "test-doors")]
use self::schema::{INSERT, ORDER_LOCK, RETENTION_LOCK, STAGING_TYPES};
use self::schema::{SetupError, create_or_check};
use super::{
    EventPage, EventQuery, EventStore, EventTypes, Feed, Inserted, NonBlockingStore, Retention,
    StoreError, StoreFuture,
};
use crate::broadcast::Broadcaster;
use crate::event::Event;
use crate::severity::Status;

const DEFAULT_POOL_SIZE: u32 = 8;
/// How long a query's statement, lock wait or idle transaction may last on the pool's and the
/// listener's connections.
const QUERY_BOUND: Duration = Duration::from_secs(30);
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// Events kept in PostgreSQL, shared by several server instances, with live delivery across
/// them.
///
/// [`connect`](Self::connect) takes the application's connection string, creates the schema
/// (tables `tidings_schema` and `tidings_events` in the connection's schema) or checks an
/// existing one: a schema written by a newer release, or a `tidings_events` table without
/// tidings' schema version, is refused with a clear error and left untouched.
///
/// An [`Emitter`](crate::Emitter) with a `PgStore` writes through a background writer: each
/// batch is one transaction, and one `NOTIFY` per batch tells every instance. Each emitter runs
/// one listener on a dedicated connection (not from the pool: a transaction-pooling proxy
/// breaks `LISTEN`) that publishes every instance's events, its own included, in the order of
/// the store: every live stream on every instance sees one order, and a `Last-Event-ID` seen on
/// one instance is honoured by another. [`Emitter::flush`](crate::Emitter::flush) returns once
/// what was emitted before it is stored and published by this instance's listener.
///
/// When the database is unreachable, a batch is retried for the write timeout
/// ([`with_write_timeout`](Self::with_write_timeout), default 10 s); a connection lost during
/// `COMMIT` leaves the outcome unknown, so the writer looks up which events are stored before
/// it reports or retries any. Events that are still not stored at the timeout go to the
/// failure hook and are published nowhere. PostgreSQL refuses the NUL character in text: an
/// event with one is reported to the failure hook, and the rest of its batch is stored.
///
/// The queries (the list, one event, marking, deleting) run on a pool of async clients
/// (`tokio-postgres` with `deadpool-postgres`). The events API awaits them on its runtime
/// ([`EventStore::nonblocking`]), holding no thread while PostgreSQL answers. The
/// [`EventStore`] methods block the calling thread, as every store's do, and are safe to call
/// anywhere: on an async executor's thread such a call moves to a thread of its own for its
/// duration.
///
/// ```no_run
/// use tidings_runtime::{Emitter, PgStore};
///
/// let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/app")?;
/// let events = Emitter::builder().store(store).build();
/// # Ok::<(), tidings_runtime::StoreError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PgStore {
    shared: Arc<Shared>,
}

/// What the store and its listener share.
struct Shared {
    /// Where the listener and the writer connect (each with its own application name and
    /// session bounds).
    config: Config,
    /// The background writer's own connection, never waiting behind the queries' pool; `None`
    /// until the first batch, and after a failure that may have left it broken or read only.
    writer: Mutex<Option<write::WriterConnection>>,
    /// The connection string with its password hidden, for errors and `Debug`.
    shown: String,
    /// The queries' connections. Always `Some` until the store is dropped (see `Drop`).
    queries: Option<Queries>,
    retention: Retention,
    last_prune: Mutex<Option<Instant>>,
    /// The counts notices this store sends after a change of users' counts.
    notices: notices::Notices,
    /// Events folded by this store's writer: every 1,024, old rows of `tidings_folds` go.
    folds: std::sync::atomic::AtomicU64,
    write_timeout: Duration,
    poll: Duration,
    /// The highest `seq` this store has committed; a listener started later begins after the
    /// highest `seq` stored when the store connected.
    committed: AtomicI64,
    start: i64,
    /// Fault injection for tidings' own tests (feature `test-doors` only).
    #[cfg(feature = "test-doors")]
    hooks: hooks::TestHooks,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("connection", &self.shared.shown)
            .field("retention", &self.shared.retention)
            .field("write_timeout", &self.shared.write_timeout)
            .finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing a connection runs the client's own runtime too: off the executor's threads.
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let queries = self.queries.take();
        off_runtime(move || drop((queries, writer)));
    }
}

impl PgStore {
    /// The advisory lock key that pruning takes, for the retention test. Not a public API.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub const __RETENTION_LOCK: i64 = RETENTION_LOCK;

    /// The statement that takes the order lock and inserts a batch, for the benchmark of insert
    /// methods. Not a public API.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub const __INSERT: &str = INSERT;

    /// The order lock's key, the statement's last parameter. Not a public API.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub const __ORDER_LOCK: i64 = ORDER_LOCK;

    /// The staging table's columns' types for `COPY`: `n`, then the event's columns. Not a
    /// public API.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub const __STAGING_TYPES: [postgres::types::Type; 14] = STAGING_TYPES;

    /// Connects to the database of `url` (a `postgres://` URL or `key=value` pairs, as libpq
    /// takes them), and creates or checks the schema. TLS is not supported: connect over a
    /// trusted network or a local socket (`host=/var/run/postgresql`).
    ///
    /// # Errors
    /// When the connection string is invalid, the database cannot be reached within 5 seconds,
    /// or it holds a schema this release does not know. The error names the connection
    /// (without its password).
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, DEFAULT_POOL_SIZE)
    }

    /// Like [`connect`](Self::connect), with a pool of at most `pool_size` connections (default
    /// 8; at least 1) for the queries, opened as they are needed. The writer's and the
    /// listener's connections come on top.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_with(url: &str, pool_size: u32) -> Result<PgStore, StoreError> {
        let shown = hide_password(url);
        let context = || format!("cannot open the PostgreSQL event store at {shown}");
        let mut config: Config = url
            .parse()
            .map_err(|e| backend(context(), format!("invalid connection string ({e})")))?;
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut bounded_config = config.clone();
        bounded(&mut bounded_config, QUERY_BOUND);
        let queries = Queries::new(bounded_config.clone(), pool_size as usize)
            .map_err(|e| backend(context(), e))?;
        let start = off_runtime(|| -> Result<i64, StoreError> {
            let mut client = postgres::Config::from(bounded_config)
                .connect(NoTls)
                .context(context())?;
            create_or_check(&mut client).map_err(|e| match e {
                SetupError::Sql(e) => backend(context(), describe(&e)),
                SetupError::Refused(why) => backend(context(), why),
            })?;
            let start: i64 = client
                .query_one("SELECT coalesce(max(seq), 0) FROM tidings_events", &[])
                .map(|row| row.get(0))
                .context(context())?;
            Ok(start)
        })?;
        Ok(PgStore {
            shared: Arc::new(Shared {
                config,
                shown,
                writer: Mutex::new(None),
                queries: Some(queries),
                retention: Retention::default(),
                last_prune: Mutex::new(None),
                notices: notices::Notices::default(),
                folds: std::sync::atomic::AtomicU64::new(0),
                write_timeout: DEFAULT_WRITE_TIMEOUT,
                poll: DEFAULT_POLL,
                committed: AtomicI64::new(start),
                start,
                #[cfg(feature = "test-doors")]
                hooks: hooks::TestHooks::default(),
            }),
        })
    }

    fn configure(mut self, change: impl FnOnce(&mut Shared)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => change(shared),
            None => unreachable!("a PgStore is configured before it is shared"),
        }
        self
    }

    /// The connection string, with any password hidden: for logs and banners.
    pub fn location(&self) -> &str {
        &self.shared.shown
    }

    /// Sets how long events are kept (see [`Retention`]). Pruning runs on one instance at a
    /// time (an advisory lock the others skip).
    #[must_use]
    pub fn with_retention(self, retention: Retention) -> Self {
        self.configure(|shared| shared.retention = retention)
    }

    /// How long a batch is retried while the database is unreachable before its events are
    /// reported to the failure hook (default 10 s).
    #[must_use]
    pub fn with_write_timeout(self, timeout: Duration) -> Self {
        self.configure(|shared| shared.write_timeout = timeout)
    }

    /// How often the listener reads the store without having been notified: the safety poll
    /// against a lost notification (default 1 s).
    #[must_use]
    pub fn with_poll_interval(self, interval: Duration) -> Self {
        self.configure(|shared| shared.poll = interval)
    }

    /// Deletes what the retention setting no longer keeps, now, and returns how many events
    /// went; `0` without waiting when another instance is pruning.
    ///
    /// # Errors
    /// A database failure.
    pub fn prune(&self) -> Result<usize, StoreError> {
        let shared = &self.shared;
        shared.blocking(shared.prune())
    }
}

impl Shared {
    /// The queries' connections.
    fn queries(&self) -> Result<&Queries, StoreError> {
        self.queries
            .as_ref()
            .ok_or_else(|| backend("event store unavailable", "the store is closing"))
    }

    /// Runs a query of the store for a sync caller, on the store's runtime; counted for the
    /// tests when it moves to a thread of its own.
    fn blocking<T: Send>(
        &self,
        query: impl std::future::Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        #[cfg(feature = "test-doors")]
        if tokio::runtime::Handle::try_current().is_ok() {
            self.hooks
                .spawned
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.queries()?.block_on(query)
    }
}

impl EventStore for PgStore {
    fn insert(&self, event: &Arc<Event>) -> Result<Inserted, StoreError> {
        self.insert_batch(std::slice::from_ref(event))
            .pop()
            .unwrap_or_else(|| Err(backend("cannot store event", "no result")))
    }

    fn insert_batch(&self, events: &[Arc<Event>]) -> Vec<Result<Inserted, StoreError>> {
        if events.is_empty() {
            return Vec::new();
        }
        let shared = &self.shared;
        off_runtime(|| shared.write(events))
    }

    fn prefers_background_writer(&self) -> bool {
        true
    }

    fn start_feed(&self, broadcaster: Broadcaster) -> Result<Option<Box<dyn Feed>>, StoreError> {
        let listener = feed::Listener::start(Arc::clone(&self.shared), broadcaster)
            .map_err(|e| backend("cannot start the PostgreSQL listener's thread", e))?;
        Ok(Some(Box::new(listener)))
    }

    fn maintain(&self) -> Result<usize, StoreError> {
        if !self.shared.retention.due(&self.shared.last_prune) {
            return Ok(0);
        }
        self.prune()
    }

    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        self.shared.blocking(self.shared.get(id))
    }

    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        self.shared.blocking(self.shared.query(query))
    }

    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        self.shared
            .blocking(self.shared.stored_after(user, after, limit))
    }

    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        self.shared.blocking(self.shared.types(user))
    }

    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        self.shared
            .blocking(self.shared.set_status_many(ids, status))
    }

    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        self.shared.blocking(self.shared.delete_many(ids))
    }

    fn set_status_matching(&self, query: &EventQuery, status: Status) -> Result<usize, StoreError> {
        self.shared
            .blocking(self.shared.set_status_matching(query, status))
    }

    fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        self.shared.blocking(self.shared.delete_matching(query))
    }

    fn nonblocking(&self) -> Option<&dyn NonBlockingStore> {
        Some(self)
    }
}

/// The events API's calls on the queries' pool, awaited on the API's runtime: no thread held
/// while PostgreSQL answers.
impl NonBlockingStore for PgStore {
    fn get(&self, id: Uuid) -> StoreFuture<'_, Option<Event>> {
        Box::pin(self.shared.get(id))
    }

    fn query<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, EventPage> {
        Box::pin(self.shared.query(query))
    }

    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> StoreFuture<'_, Option<Vec<Event>>> {
        Box::pin(self.shared.stored_after(user, after, limit))
    }

    fn types(&self, user: Option<Uuid>) -> StoreFuture<'_, EventTypes> {
        Box::pin(self.shared.types(user))
    }

    fn set_status_matching<'a>(
        &'a self,
        query: &'a EventQuery,
        status: Status,
    ) -> StoreFuture<'a, usize> {
        Box::pin(self.shared.set_status_matching(query, status))
    }

    fn delete_matching<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, usize> {
        Box::pin(self.shared.delete_matching(query))
    }

    fn mark_one<'a>(
        &'a self,
        query: &'a EventQuery,
        id: Uuid,
        status: Status,
    ) -> StoreFuture<'a, Option<Event>> {
        Box::pin(self.shared.mark_one(query, id, status))
    }
}
