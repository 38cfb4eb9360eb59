//! The PostgreSQL store (feature `postgres`): one history shared by several server instances,
//! and live delivery across them with `LISTEN`/`NOTIFY`.
//!
//! The writer of each instance stores a batch in one transaction that first takes a
//! transaction-level advisory lock (so that the `seq` column commits in its own order across
//! instances) and ends with one `NOTIFY` whose payload is the batch's last `seq`. Each instance
//! runs one listener on a dedicated connection ([`feed`]): on a notification, on a periodic
//! safety poll, and after every reconnect (`LISTEN` first, then catch up), it reads the rows
//! after the last `seq` it published, in order, and publishes them to its broadcaster.

mod feed;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{Json, ToSql, Type};
use postgres::{Client, Config, NoTls, Row};
use r2d2_postgres::{PostgresConnectionManager, r2d2};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    EventPage, EventQuery, EventStore, EventTypes, Feed, Filter, Order, PageSize, Retention,
    SortField, StoreError,
};
use crate::broadcast::Broadcaster;
use crate::event::{Event, EventParts};
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};

/// The schema this release writes, kept in the table `tidings_schema`.
const SCHEMA_VERSION: i32 = 1;

/// The channel every instance's writer notifies and every listener listens on.
const CHANNEL: &str = "tidings_events";

/// Advisory lock keys ("tidings" and a number). The ordering lock serializes the writers'
/// batch transactions, so that `seq` is committed in increasing order.
const ORDER_LOCK: i64 = 0x7469_6469_6e67_7301;
const SCHEMA_LOCK: i64 = 0x7469_6469_6e67_7302;
const RETENTION_LOCK: i64 = 0x7469_6469_6e67_7303;

/// The application name of the store's connections when the connection string sets none; the
/// listener's is this with `-listener` appended.
const APPLICATION_NAME: &str = "tidings";

const DEFAULT_POOL_SIZE: u32 = 8;
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE tidings_schema (version integer NOT NULL);
INSERT INTO tidings_schema (version) VALUES (1);
CREATE TABLE tidings_events (
    seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    operation_id uuid        NOT NULL,
    user_id      uuid,
    system_id    uuid,
    acted_upon   uuid,
    category     text        NOT NULL,
    action       text        NOT NULL,
    severity     text        NOT NULL,
    status       text        NOT NULL,
    description  text        NOT NULL,
    metadata     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- A user's newest-first page, filters and unread counts go through the user's rows. \"After
-- position P\" (the listeners' catch-up and a stream's resume) is a range of the primary key.
CREATE INDEX tidings_events_by_user_time ON tidings_events (user_id, created_at, seq);
";

const COLUMNS: &str = "id, operation_id, user_id, system_id, acted_upon, category, action, \
    severity, status, description, metadata, created_at, updated_at";

/// One statement for a whole batch: the columns as arrays, unnested in the batch's order. A
/// duplicate id is skipped (and reported as such), not a failure of the batch.
const INSERT: &str = "INSERT INTO tidings_events (id, operation_id, user_id, system_id, \
    acted_upon, category, action, severity, status, description, metadata, created_at, \
    updated_at) \
    SELECT id, operation_id, user_id, system_id, acted_upon, category, action, severity, status, \
    description, metadata, created_at, updated_at \
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], \
    $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::timestamptz[], \
    $13::timestamptz[]) WITH ORDINALITY AS batch(id, operation_id, user_id, system_id, \
    acted_upon, category, action, severity, status, description, metadata, created_at, \
    updated_at, n) ORDER BY n \
    ON CONFLICT (id) DO NOTHING RETURNING id, seq";

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

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
/// The sync `postgres` client cannot run on a thread of an async executor; the store moves
/// such a call to a thread of its own, so every method is safe to call anywhere (it blocks the
/// calling thread, as every [`EventStore`] call does).
///
/// ```no_run
/// use tidings_runtime::{Emitter, PgStore};
///
/// let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/app")?;
/// let events = Emitter::builder().store(store).build();
/// # Ok::<(), tidings_runtime::StoreError>(())
/// ```
pub struct PgStore {
    shared: Arc<Shared>,
}

/// What the store and its listener share.
struct Shared {
    /// Where the listener connects (with its own application name).
    config: Config,
    /// The connection string with its password hidden, for errors and `Debug`.
    shown: String,
    /// Always `Some` until the store is dropped (see `Drop`).
    pool: Option<Pool>,
    retention: Retention,
    last_prune: Mutex<Option<Instant>>,
    write_timeout: Duration,
    poll: Duration,
    /// The highest `seq` this store has committed; a listener started later begins after the
    /// highest `seq` stored when the store connected.
    committed: AtomicI64,
    start: i64,
    hooks: Mutex<TestHooks>,
}

/// Fault injection for the store's own tests. Not a public API.
#[derive(Default)]
struct TestHooks {
    hold: Option<Arc<Hold>>,
    lose_reply: bool,
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
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

fn backend(context: impl fmt::Display, error: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {error}").into())
}

/// PostgreSQL's message with its detail, or the client's.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({}; {detail})", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => error.to_string(),
    }
}

/// Whether trying again later may succeed: the connection broke, the server is shutting down
/// or starting, or the transaction lost a race. Otherwise the server refused what was sent.
fn transient(error: &postgres::Error) -> bool {
    match error.code() {
        None => true,
        Some(code) => {
            let class = &code.code()[..2];
            matches!(class, "08" | "40" | "53" | "57" | "58")
        }
    }
}

trait Context<T> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| backend(doing, describe(&e)))
    }
}

impl<T> Context<T> for Result<T, r2d2::Error> {
    fn context(self, doing: impl fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| backend(doing, format!("no database connection ({e})")))
    }
}

/// Runs `f` where the sync client can run: the `postgres` crate drives its connection with a
/// runtime of its own, which panics on a thread of an async executor, so such a call moves to a
/// thread of its own for its duration.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The connection string with any password replaced.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|part| {
                if part.starts_with("password=") {
                    "password=***"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

impl PgStore {
    /// The advisory lock key that pruning takes, for the retention test. Not a public API.
    #[doc(hidden)]
    pub const __RETENTION_LOCK: i64 = RETENTION_LOCK;

    /// The statement that inserts a batch, for the benchmark of insert methods. Not a public
    /// API.
    #[doc(hidden)]
    pub const __INSERT: &str = INSERT;

    /// The columns' types, in the order `COPY` writes them, for the benchmark of insert
    /// methods. Not a public API.
    #[doc(hidden)]
    pub const __COLUMN_TYPES: [Type; 13] = COLUMN_TYPES;

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
    /// 8; at least 1) for the writer and the queries. The listener's connection comes on top.
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
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let start = off_runtime(|| -> Result<(Pool, i64), StoreError> {
            let pool = r2d2::Pool::builder()
                .max_size(pool_size.max(1))
                .min_idle(Some(1))
                .connection_timeout(CONNECT_TIMEOUT)
                .build(manager)
                .context(context())?;
            let mut client = pool.get().context(context())?;
            create_or_check(&mut client).map_err(|e| match e {
                SetupError::Sql(e) => backend(context(), describe(&e)),
                SetupError::Refused(why) => backend(context(), why),
            })?;
            let start: i64 = client
                .query_one("SELECT coalesce(max(seq), 0) FROM tidings_events", &[])
                .map(|row| row.get(0))
                .context(context())?;
            Ok((pool, start))
        })?;
        let (pool, start) = start;
        Ok(PgStore {
            shared: Arc::new(Shared {
                config,
                shown,
                pool: Some(pool),
                retention: Retention::default(),
                last_prune: Mutex::new(None),
                write_timeout: DEFAULT_WRITE_TIMEOUT,
                poll: DEFAULT_POLL,
                committed: AtomicI64::new(start),
                start,
                hooks: Mutex::new(TestHooks::default()),
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
        off_runtime(|| shared.prune())
    }

    /// Makes the next batch transaction stop after its insert, before its `NOTIFY` and
    /// `COMMIT`, until the returned hold is released: for the ordering tests. Not a public API.
    #[doc(hidden)]
    pub fn __hold_next_commit(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        self.shared.hooks().hold = Some(Arc::clone(&hold));
        hold
    }

    /// Makes the next batch transaction commit and then fail as if the connection broke before
    /// the reply came: the outcome the writer must look up. Not a public API.
    #[doc(hidden)]
    pub fn __lose_next_commit_reply(&self) {
        self.shared.hooks().lose_reply = true;
    }
}

/// A batch transaction held open by [`PgStore::__hold_next_commit`]. Not a public API.
#[doc(hidden)]
#[derive(Default, Debug)]
pub struct Hold {
    state: Mutex<(bool, bool)>,
    changed: std::sync::Condvar,
}

impl Hold {
    /// Waits until a batch transaction is held; `false` at the timeout.
    pub fn wait_held(&self, timeout: Duration) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |(held, _)| !*held)
            .unwrap_or_else(PoisonError::into_inner);
        state.0
    }

    /// Lets the held transaction go on.
    pub fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 = true;
        self.changed.notify_all();
    }

    fn hold(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = true;
        self.changed.notify_all();
        let _released = self
            .changed
            .wait_while(state, |(_, released)| !*released)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

enum SetupError {
    Sql(postgres::Error),
    Refused(String),
}

impl From<postgres::Error> for SetupError {
    fn from(error: postgres::Error) -> Self {
        SetupError::Sql(error)
    }
}

/// Creates the schema, or checks the existing one; one instance at a time.
fn create_or_check(client: &mut Client) -> Result<(), SetupError> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    let tables: Vec<String> = transaction
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() \
             AND table_name IN ('tidings_schema', 'tidings_events')",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if tables.iter().any(|t| t == "tidings_schema") {
        let version: Option<i32> = transaction
            .query_opt("SELECT max(version) FROM tidings_schema", &[])?
            .and_then(|row| row.get(0));
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(SetupError::Refused(format!(
                "its schema version is {version}, newer than the {SCHEMA_VERSION} this release \
                 of tidings knows; upgrade tidings to read it"
            )));
        }
        if version < 1 {
            return Err(SetupError::Refused(
                "the table tidings_schema holds no schema version; it is left untouched".into(),
            ));
        }
    } else if tables.iter().any(|t| t == "tidings_events") {
        return Err(SetupError::Refused(
            "a table tidings_events exists without tidings' schema version; it belongs to \
             something else and is left untouched"
                .into(),
        ));
    } else {
        transaction.batch_execute(SCHEMA)?;
    }
    transaction.commit()?;
    Ok(())
}

fn read_event(row: &Row) -> Result<Event, StoreError> {
    let invalid =
        |what: &str, e: &dyn fmt::Display| backend("cannot read events", format!("{what}: {e}"));
    let metadata: serde_json::Value = row.try_get(10).context("cannot read events")?;
    let metadata = match metadata {
        serde_json::Value::Object(map) => map,
        other => return Err(invalid("metadata is not an object", &other)),
    };
    let text = |index: usize| -> Result<String, StoreError> {
        row.try_get(index).context("cannot read events")
    };
    Ok(Event::from_parts(EventParts {
        id: row.try_get(0).context("cannot read events")?,
        operation_id: row.try_get(1).context("cannot read events")?,
        user_id: row.try_get(2).context("cannot read events")?,
        system_id: row.try_get(3).context("cannot read events")?,
        acted_upon: row.try_get(4).context("cannot read events")?,
        category: Category::new(text(5)?).map_err(|e| invalid("category", &e))?,
        action: Action::new(text(6)?).map_err(|e| invalid("action", &e))?,
        severity: text(7)?.parse().map_err(|e| invalid("severity", &e))?,
        status: text(8)?.parse().map_err(|e| invalid("status", &e))?,
        description: Cow::Owned(text(9)?),
        metadata,
        created_at: row.try_get(11).context("cannot read events")?,
        updated_at: row.try_get(12).context("cannot read events")?,
    }))
}

fn read_events(rows: &[Row]) -> Result<Vec<Event>, StoreError> {
    rows.iter().map(read_event).collect()
}

/// The outcome of one attempt at a batch.
enum Attempt {
    /// Committed: for each event, whether it was stored (or skipped as a duplicate id).
    Done(Vec<bool>),
    /// The server refused the batch (it rolled back): one of its events is the cause.
    Refused(postgres::Error),
    /// The connection broke or the server is unavailable: if it broke during `COMMIT`, the
    /// batch may be stored.
    Broken(String),
    /// `COPY` met an id that is stored already (it rolled back).
    Duplicate,
}

/// How a batch is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// Binary `COPY`: the fastest, all or nothing.
    Copy,
    /// `INSERT ... SELECT FROM unnest(...) ON CONFLICT (id) DO NOTHING`: skips duplicates.
    Unnest,
}

/// Writes the batch with binary `COPY`.
fn copy(
    transaction: &mut postgres::Transaction<'_>,
    events: &[&Event],
) -> Result<(), postgres::Error> {
    let sink = transaction.copy_in(&format!(
        "COPY tidings_events ({COLUMNS}) FROM STDIN BINARY"
    ))?;
    let mut writer = BinaryCopyInWriter::new(sink, &COLUMN_TYPES);
    for event in events {
        let metadata = Json(event.metadata());
        writer.write(&[
            &event.id(),
            &event.operation_id(),
            &event.user_id(),
            &event.system_id(),
            &event.acted_upon(),
            &event.category().as_str(),
            &event.action().as_str(),
            &event.severity().as_str(),
            &event.status().as_str(),
            &event.description(),
            &metadata,
            &event.created_at(),
            &event.updated_at(),
        ])?;
    }
    writer.finish()?;
    Ok(())
}

/// The types of `COLUMNS`, for `COPY`.
const COLUMN_TYPES: [Type; 13] = [
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
];

impl Shared {
    fn hooks(&self) -> std::sync::MutexGuard<'_, TestHooks> {
        self.hooks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connection(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        self.pool
            .as_ref()
            .ok_or_else(|| backend("event store unavailable", "the store is closing"))?
            .get()
            .context("event store unavailable")
    }

    /// Stores a batch: retried while the database is unreachable, for at most the write
    /// timeout; after a broken connection, the events already stored are looked up first.
    fn write(&self, events: &[Arc<Event>]) -> Vec<Result<(), StoreError>> {
        let deadline = Instant::now() + self.write_timeout;
        let mut results: Vec<Option<Result<(), StoreError>>> =
            events.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..events.len()).collect();
        let mut maybe_stored = false;
        let mut backoff = Duration::from_millis(20);
        let mut last_error = String::new();
        let mut method = Method::Copy;
        while !pending.is_empty() {
            match self.connection() {
                Err(e) => last_error = e.to_string(),
                Ok(mut client) => {
                    if maybe_stored {
                        let ids: Vec<Uuid> = pending.iter().map(|&i| events[i].id()).collect();
                        match client
                            .query("SELECT id FROM tidings_events WHERE id = ANY($1)", &[&ids])
                        {
                            Ok(rows) => {
                                let stored: HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
                                pending.retain(|&i| {
                                    if stored.contains(&events[i].id()) {
                                        results[i] = Some(Ok(()));
                                        false
                                    } else {
                                        true
                                    }
                                });
                                maybe_stored = false;
                                if pending.is_empty() {
                                    break;
                                }
                            }
                            Err(e) => {
                                last_error = describe(&e);
                                pending_wait(&mut backoff, deadline);
                                if Instant::now() >= deadline {
                                    break;
                                }
                                continue;
                            }
                        }
                    }
                    let batch: Vec<&Event> = pending.iter().map(|&i| &*events[i]).collect();
                    match self.attempt(&mut client, &batch, method) {
                        Attempt::Duplicate => {
                            method = Method::Unnest;
                            continue;
                        }
                        Attempt::Done(stored) => {
                            for (&i, stored) in pending.iter().zip(stored) {
                                results[i] = Some(if stored {
                                    Ok(())
                                } else {
                                    Err(StoreError::DuplicateId(events[i].id()))
                                });
                            }
                            pending.clear();
                            break;
                        }
                        Attempt::Refused(error) if pending.len() == 1 => {
                            let i = pending[0];
                            results[i] = Some(Err(backend(
                                format!("cannot store event {}", events[i].id()),
                                describe(&error),
                            )));
                            pending.clear();
                            break;
                        }
                        Attempt::Refused(_) => {
                            // One event spoils the batch (a NUL character, say): each event on
                            // its own, so that only that one fails.
                            drop(client);
                            for i in std::mem::take(&mut pending) {
                                let one = self.write(std::slice::from_ref(&events[i]));
                                results[i] = one.into_iter().next();
                            }
                            break;
                        }
                        Attempt::Broken(error) => {
                            last_error = error;
                            maybe_stored = true;
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            pending_wait(&mut backoff, deadline);
        }
        let unknown = if maybe_stored {
            "; the last attempt's outcome is unknown (the connection broke during it), so the \
             event may be stored after all"
        } else {
            ""
        };
        events
            .iter()
            .zip(results)
            .map(|(event, result)| {
                result.unwrap_or_else(|| {
                    Err(backend(
                        format!("cannot store event {}", event.id()),
                        format!(
                            "the database stayed unreachable for {:?} ({last_error}){unknown}",
                            self.write_timeout
                        ),
                    ))
                })
            })
            .collect()
    }

    /// One batch transaction: the ordering lock, the insert, one `NOTIFY`, the commit.
    fn attempt(&self, client: &mut Client, events: &[&Event], method: Method) -> Attempt {
        let broken = |e: postgres::Error| {
            if transient(&e) {
                Attempt::Broken(describe(&e))
            } else {
                Attempt::Refused(e)
            }
        };
        let mut transaction = match client.transaction() {
            Ok(transaction) => transaction,
            Err(e) => return broken(e),
        };
        if let Err(e) = transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK]) {
            return broken(e);
        }
        // `COPY` first: twice as fast as the `unnest` insert (BENCHMARKS.md), but a duplicate id
        // fails it whole; then the batch goes again with `unnest`, which skips duplicates.
        let (mut stored, last) = if method == Method::Copy {
            let copied = copy(&mut transaction, events).and_then(|()| {
                transaction
                    .query_one(
                        "SELECT currval(pg_get_serial_sequence('tidings_events', 'seq'))",
                        &[],
                    )
                    .map(|row| row.get::<_, i64>(0))
            });
            match copied {
                Ok(last) => (
                    events.iter().map(|e| e.id()).collect::<HashSet<Uuid>>(),
                    last,
                ),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Attempt::Duplicate;
                }
                Err(e) => return broken(e),
            }
        } else {
            let columns = Columns::of(events);
            let rows = match transaction.query(INSERT, &columns.params()) {
                Ok(rows) => rows,
                Err(e) => return broken(e),
            };
            let mut stored: HashSet<Uuid> = HashSet::with_capacity(rows.len());
            let mut last = 0_i64;
            for row in &rows {
                stored.insert(row.get(0));
                last = last.max(row.get(1));
            }
            (stored, last)
        };
        let hold = self.hooks().hold.take();
        if let Some(hold) = hold {
            hold.hold();
        }
        if !stored.is_empty()
            && let Err(e) =
                transaction.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last.to_string()])
        {
            return broken(e);
        }
        if let Err(e) = transaction.commit() {
            return broken(e);
        }
        self.committed.fetch_max(last, Ordering::SeqCst);
        if std::mem::take(&mut self.hooks().lose_reply) {
            return Attempt::Broken("the connection broke during COMMIT (test)".into());
        }
        // A duplicate id within the batch: the first is stored, the others are duplicates.
        Attempt::Done(
            events
                .iter()
                .map(|event| stored.remove(&event.id()))
                .collect(),
        )
    }

    fn prune(&self) -> Result<usize, StoreError> {
        let context = "cannot prune events";
        let mut client = self.connection()?;
        let mut transaction = client.transaction().context(context)?;
        let ours: bool = transaction
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .map(|row| row.get(0))
            .context(context)?;
        if !ours {
            return Ok(0);
        }
        let mut deleted = 0;
        if let Some(max_age) = self.retention.max_age {
            let cutoff = OffsetDateTime::now_utc()
                - time::Duration::try_from(max_age).unwrap_or(time::Duration::MAX);
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE created_at < $1",
                    &[&cutoff],
                )
                .context(context)?;
        }
        if let Some(max) = self.retention.max_per_user {
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            deleted += transaction
                .execute(
                    "DELETE FROM tidings_events WHERE seq IN (SELECT seq FROM (SELECT seq, \
                     row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, seq DESC) \
                     AS n FROM tidings_events) AS ranked WHERE n > $1)",
                    &[&max],
                )
                .context(context)?;
        }
        transaction.commit().context(context)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

/// Waits before the next attempt, doubling the wait up to a second; never past `deadline`.
fn pending_wait(backoff: &mut Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    std::thread::sleep((*backoff).min(left));
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
}

/// A batch as one array per column.
struct Columns<'a> {
    ids: Vec<Uuid>,
    operation_ids: Vec<Uuid>,
    user_ids: Vec<Option<Uuid>>,
    system_ids: Vec<Option<Uuid>>,
    acted_upon: Vec<Option<Uuid>>,
    categories: Vec<&'a str>,
    actions: Vec<&'a str>,
    severities: Vec<&'a str>,
    statuses: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    metadata: Vec<Json<&'a serde_json::Map<String, serde_json::Value>>>,
    created_at: Vec<OffsetDateTime>,
    updated_at: Vec<OffsetDateTime>,
}

impl<'a> Columns<'a> {
    fn of(events: &[&'a Event]) -> Columns<'a> {
        Columns {
            ids: events.iter().map(|e| e.id()).collect(),
            operation_ids: events.iter().map(|e| e.operation_id()).collect(),
            user_ids: events.iter().map(|e| e.user_id()).collect(),
            system_ids: events.iter().map(|e| e.system_id()).collect(),
            acted_upon: events.iter().map(|e| e.acted_upon()).collect(),
            categories: events.iter().map(|e| e.category().as_str()).collect(),
            actions: events.iter().map(|e| e.action().as_str()).collect(),
            severities: events.iter().map(|e| e.severity().as_str()).collect(),
            statuses: events.iter().map(|e| e.status().as_str()).collect(),
            descriptions: events.iter().map(|e| e.description()).collect(),
            metadata: events.iter().map(|e| Json(e.metadata())).collect(),
            created_at: events.iter().map(|e| e.created_at()).collect(),
            updated_at: events.iter().map(|e| e.updated_at()).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.ids,
            &self.operation_ids,
            &self.user_ids,
            &self.system_ids,
            &self.acted_upon,
            &self.categories,
            &self.actions,
            &self.severities,
            &self.statuses,
            &self.descriptions,
            &self.metadata,
            &self.created_at,
            &self.updated_at,
        ]
    }
}

/// A `WHERE` clause of fixed text and numbered placeholders; the values are bound.
struct Where {
    clause: String,
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Where {
    fn new() -> Where {
        Where {
            clause: String::new(),
            values: Vec::new(),
        }
    }

    /// Adds `condition`, in which `$` stands for the next placeholder.
    fn and(&mut self, condition: &str, value: Box<dyn ToSql + Sync>) {
        self.values.push(value);
        let condition = condition.replace('$', &format!("${}", self.values.len()));
        self.clause.push_str(if self.clause.is_empty() {
            "WHERE "
        } else {
            " AND "
        });
        self.clause.push_str(&condition);
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| &**v).collect()
    }
}

/// ASCII-only lower case, as the reference store compares (`lower` would fold other letters by
/// the database's locale).
const ASCII_LOWER: &str = "translate(description, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
    'abcdefghijklmnopqrstuvwxyz')";

fn filters(query: &EventQuery) -> Where {
    let mut condition = Where::new();
    let texts = |items: Vec<&str>| -> Box<dyn ToSql + Sync> {
        Box::new(
            items
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<String>>(),
        )
    };
    for filter in query.filters() {
        match filter {
            Filter::User(user) => condition.and("user_id = $", Box::new(user)),
            Filter::Categories(categories) => condition.and(
                "category = ANY($)",
                texts(categories.iter().map(Category::as_str).collect()),
            ),
            Filter::Actions(actions) => condition.and(
                "action = ANY($)",
                texts(actions.iter().map(Action::as_str).collect()),
            ),
            Filter::Severities(severities) => condition.and(
                "severity = ANY($)",
                texts(severities.iter().map(|s| s.as_str()).collect()),
            ),
            Filter::ActedUpon(ids) => condition.and("acted_upon = ANY($)", Box::new(ids.to_vec())),
            Filter::Status(status) => condition.and("status = $", Box::new(status.as_str())),
            // strpos, not LIKE: `%`, `_` and quotes in the search text are plain characters.
            Filter::Search(search) => condition.and(
                &format!("strpos({ASCII_LOWER}, $) > 0"),
                Box::new(search.to_ascii_lowercase()),
            ),
        }
    }
    condition
}

impl EventStore for PgStore {
    fn insert(&self, event: &Arc<Event>) -> Result<(), StoreError> {
        self.insert_batch(std::slice::from_ref(event))
            .pop()
            .unwrap_or_else(|| Err(backend("cannot store event", "no result")))
    }

    fn insert_batch(&self, events: &[Arc<Event>]) -> Vec<Result<(), StoreError>> {
        if events.is_empty() {
            return Vec::new();
        }
        let shared = &self.shared;
        off_runtime(|| shared.write(events))
    }

    fn prefers_background_writer(&self) -> bool {
        true
    }

    fn start_feed(&self, broadcaster: Broadcaster) -> Option<Box<dyn Feed>> {
        Some(Box::new(feed::Listener::start(
            Arc::clone(&self.shared),
            broadcaster,
        )))
    }

    fn maintain(&self) -> Result<usize, StoreError> {
        if !self.shared.retention.due(&self.shared.last_prune) {
            return Ok(0);
        }
        self.prune()
    }

    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let shared = &self.shared;
        off_runtime(|| {
            let rows = shared
                .connection()?
                .query(
                    &format!("SELECT {COLUMNS} FROM tidings_events WHERE id = $1"),
                    &[&id],
                )
                .context("cannot read events")?;
            rows.first().map(read_event).transpose()
        })
    }

    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let shared = &self.shared;
        off_runtime(|| {
            let context = "cannot query events";
            let condition = filters(query);
            let column = match query.sort_field() {
                SortField::CreatedAt => "created_at",
                SortField::UpdatedAt => "updated_at",
            };
            let direction = match query.sort_order() {
                Order::Asc => "ASC",
                Order::Desc => "DESC",
            };
            let limit = match query.page_limit() {
                PageSize::All => String::new(),
                PageSize::Limit(size) => {
                    // Numbers, not text from the request; beyond `bigint` means "all of them".
                    let size = i64::try_from(size).unwrap_or(i64::MAX);
                    let offset = i64::try_from(query.page_number())
                        .unwrap_or(i64::MAX)
                        .saturating_mul(size);
                    format!("LIMIT {size} OFFSET {offset}")
                }
            };
            let mut client = shared.connection()?;
            let params = condition.params();
            let total: i64 = client
                .query_one(
                    &format!("SELECT count(*) FROM tidings_events {}", condition.clause),
                    &params,
                )
                .map(|row| row.get(0))
                .context(context)?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM tidings_events {} \
                         ORDER BY {column} {direction}, seq {direction} {limit}",
                        condition.clause
                    ),
                    &params,
                )
                .context(context)?;
            let events = read_events(&rows)?;
            // Per severity with the counted status, and read: the user's events (everyone's).
            let counted = query.counted_status().as_str();
            let counts = client
                .query(
                    "SELECT severity, count(*) FILTER (WHERE status = $1), \
                     count(*) FILTER (WHERE status = 'read') FROM tidings_events \
                     WHERE ($2::uuid IS NULL OR user_id = $2) GROUP BY severity",
                    &[&counted, &query.user_id()],
                )
                .context(context)?;
            let mut count_by_severity = BTreeMap::new();
            let mut read_count = 0_usize;
            for row in counts {
                let severity: Severity = row
                    .get::<_, String>(0)
                    .parse()
                    .map_err(|e| backend(context, e))?;
                let count: i64 = row.get(1);
                if count > 0 {
                    count_by_severity.insert(severity, usize::try_from(count).unwrap_or(0));
                }
                let read: i64 = row.get(2);
                read_count += usize::try_from(read).unwrap_or(0);
            }
            Ok(EventPage {
                events,
                page: query.page_number(),
                page_size: query.page_limit(),
                total: usize::try_from(total).unwrap_or(0),
                count_by_severity,
                read_count,
            })
        })
    }

    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let shared = &self.shared;
        off_runtime(|| {
            let context = "cannot read events";
            let mut client = shared.connection()?;
            let seq: Option<i64> = client
                .query_opt(
                    "SELECT seq FROM tidings_events WHERE id = $1 AND user_id = $2",
                    &[&after, &user],
                )
                .context(context)?
                .map(|row| row.get(0));
            let Some(seq) = seq else {
                return Ok(None);
            };
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM tidings_events \
                         WHERE seq > $1 AND user_id = $2 ORDER BY seq LIMIT $3"
                    ),
                    &[&seq, &user, &limit],
                )
                .context(context)?;
            read_events(&rows).map(Some)
        })
    }

    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        let shared = &self.shared;
        off_runtime(|| {
            let context = "cannot read event types";
            let mut client = shared.connection()?;
            let mut distinct = |column: &str| -> Result<Vec<String>, StoreError> {
                let rows = match user {
                    Some(user) => client.query(
                        &format!(
                            "SELECT DISTINCT {column} FROM tidings_events WHERE user_id = $1 \
                             ORDER BY {column}"
                        ),
                        &[&user],
                    ),
                    None => client.query(
                        &format!("SELECT DISTINCT {column} FROM tidings_events ORDER BY {column}"),
                        &[],
                    ),
                }
                .context(context)?;
                Ok(rows.iter().map(|row| row.get(0)).collect())
            };
            let categories = distinct("category")?
                .into_iter()
                .map(|c| Category::new(c).map_err(|e| backend(context, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let actions = distinct("action")?
                .into_iter()
                .map(|a| Action::new(a).map_err(|e| backend(context, e)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(EventTypes {
                categories,
                actions,
            })
        })
    }

    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        let shared = &self.shared;
        let now = crate::event::now();
        off_runtime(|| {
            let changed = shared
                .connection()?
                .execute(
                    "UPDATE tidings_events SET status = $1, updated_at = $2 WHERE id = ANY($3)",
                    &[&status.as_str(), &now, &ids],
                )
                .context("cannot update events")?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        })
    }

    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        let shared = &self.shared;
        off_runtime(|| {
            let deleted = shared
                .connection()?
                .execute("DELETE FROM tidings_events WHERE id = ANY($1)", &[&ids])
                .context("cannot delete events")?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::hide_password;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            hide_password("postgres://app:secret@db:5432/events?sslmode=disable"),
            "postgres://app:***@db:5432/events?sslmode=disable"
        );
        assert_eq!(
            hide_password("postgres://app@db/events"),
            "postgres://app@db/events"
        );
        assert_eq!(
            hide_password("host=db user=app password=secret dbname=events"),
            "host=db user=app password=*** dbname=events"
        );
    }
}
