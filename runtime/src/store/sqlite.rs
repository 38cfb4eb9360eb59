//! The SQLite store (feature `sqlite`): bundled SQLite, WAL journal, prepared statements only.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params_from_iter};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    EventPage, EventQuery, EventStore, EventTypes, Filter, Inserted, PageCounts, Retention,
    StoreError,
};
use crate::event::{Event, EventParts, Repeat, RepeatOutcome};
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};

const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema this release writes, kept in the table `tidings_schema`. Version 1 (the first
/// release) named its table `events` and kept its version in SQLite's `user_version`; it is
/// migrated when opened, and so is version 2 (without `count` and the index of kinds).
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE tidings_events (
    seq          INTEGER PRIMARY KEY,
    id           BLOB    NOT NULL UNIQUE,
    operation_id BLOB    NOT NULL,
    user_id      BLOB,
    system_id    BLOB,
    acted_upon   BLOB,
    category     TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    metadata     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1
);
-- Two secondary indexes: every index costs each insert. The id index grows at its end: ids are
-- version 7 UUIDs, time-ordered to the millisecond. A user's page, filters and unread counts go
-- through the user's rows; queries over every user scan the table. The newest event of a kind
-- (a repeat's rule) is one look-up in the index of kinds.
CREATE INDEX tidings_events_by_user_time ON tidings_events (user_id, created_at);
CREATE INDEX tidings_events_by_kind ON tidings_events (user_id, category, action, seq);
CREATE TABLE tidings_schema (version INTEGER NOT NULL);
INSERT INTO tidings_schema (version) VALUES (3);
";

/// From version 2 to this one: each event's `count` (1 for those stored before) and the index
/// of kinds.
const MIGRATE_FROM_2: &str = "
ALTER TABLE tidings_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
CREATE INDEX tidings_events_by_kind ON tidings_events (user_id, category, action, seq);
UPDATE tidings_schema SET version = 3;
";

/// From the first release's schema to this one, in one transaction: the table and its index
/// renamed (rows untouched), the version moved to `tidings_schema`, and `user_version` given back
/// to the application.
const MIGRATE_FROM_1: &str = "
ALTER TABLE events RENAME TO tidings_events;
DROP INDEX events_by_user_time;
CREATE INDEX tidings_events_by_user_time ON tidings_events (user_id, created_at);
CREATE TABLE tidings_schema (version INTEGER NOT NULL);
INSERT INTO tidings_schema (version) VALUES (2);
PRAGMA user_version = 0;
";

/// What a database file holds, as far as this store is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// This release's schema.
    Current,
    /// A schema of a newer release (its version).
    Newer(i64),
    /// The first release's schema (`events`, `user_version` 1).
    First,
    /// Version 2's.
    Second,
    /// No table of this store: the schema is to be made (beside the application's tables).
    Nothing,
    /// A table with this store's name that this store did not make.
    Foreign(&'static str),
}

/// What `connection`'s database holds.
fn found(connection: &Connection) -> rusqlite::Result<Found> {
    let exists = |kind: &str, name: &str| -> rusqlite::Result<bool> {
        connection.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = ?1 AND name = ?2",
            [kind, name],
            |row| row.get(0),
        )
    };
    if exists("table", "tidings_schema")? {
        let version: i64 = connection.query_row(
            "SELECT coalesce(max(version), 0) FROM tidings_schema",
            [],
            |row| row.get(0),
        )?;
        return Ok(match version {
            v if v > SCHEMA_VERSION => Found::Newer(v),
            SCHEMA_VERSION => Found::Current,
            2 => Found::Second,
            _ => Found::Foreign("tidings_schema"),
        });
    }
    if exists("table", "tidings_events")? {
        return Ok(Found::Foreign("tidings_events"));
    }
    let user_version: i64 =
        connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // The first release's file: its version, its table and its index's name.
    if user_version == 1 && exists("table", "events")? && exists("index", "events_by_user_time")? {
        return Ok(Found::First);
    }
    Ok(Found::Nothing)
}

/// Why a file's schema is refused; `None` for a schema that is this release's or can be made.
fn refusal(found: &Found) -> Option<String> {
    match found {
        Found::Newer(version) => Some(format!(
            "its schema version is {version}, newer than the {SCHEMA_VERSION} this release of \
             tidings knows; upgrade tidings to read it"
        )),
        Found::Foreign(table) => Some(format!(
            "it has a table `{table}` that tidings did not make; the database belongs to \
             something else and is left untouched"
        )),
        Found::Current | Found::First | Found::Second | Found::Nothing => None,
    }
}

/// Makes or migrates the schema where needed.
fn prepare_schema(connection: &Connection) -> Result<(), String> {
    let sql = |e: rusqlite::Error| describe(&e);
    let before = found(connection).map_err(sql)?;
    if let Some(refused) = refusal(&before) {
        return Err(refused);
    }
    if before == Found::Current {
        return Ok(());
    }
    // Decided again under the write lock: two processes opening one new file make it once.
    connection.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
    let made = found(connection).map_err(sql).and_then(|now| {
        if let Some(refused) = refusal(&now) {
            return Err(refused);
        }
        match now {
            Found::First => connection
                .execute_batch(MIGRATE_FROM_1)
                .and_then(|()| connection.execute_batch(MIGRATE_FROM_2))
                .map_err(sql),
            Found::Second => connection.execute_batch(MIGRATE_FROM_2).map_err(sql),
            Found::Nothing => connection.execute_batch(SCHEMA).map_err(sql),
            _ => Ok(()),
        }
    });
    let end = if made.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = connection.execute_batch(end).map_err(sql);
    made.and(ended)
}

const INSERT: &str = "INSERT INTO tidings_events (id, operation_id, user_id, system_id, acted_upon, \
    category, action, severity, status, description, metadata, created_at, updated_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

const COLUMNS: &str = "id, operation_id, user_id, system_id, acted_upon, category, action, \
    severity, status, description, metadata, created_at, updated_at, count";

/// The newest event of a kind, for a repeat's rule (`?5`: its severity, or `NULL` for any).
const NEWEST_OF_KIND: &str = "SELECT seq, id, operation_id, user_id, system_id, acted_upon, \
    category, action, severity, status, description, metadata, created_at, updated_at, count \
    FROM tidings_events WHERE user_id IS ?1 AND category = ?2 AND action = ?3 \
    AND acted_upon IS ?4 AND (?5 IS NULL OR severity = ?5) ORDER BY seq DESC LIMIT 1";

/// A fold: the stored event at `?5` takes the newest place, its new count, description,
/// metadata and `updated_at`.
const FOLD: &str = "UPDATE tidings_events SET seq = (SELECT max(seq) + 1 FROM tidings_events), \
    count = ?1, description = ?2, metadata = ?3, updated_at = ?4 WHERE seq = ?5";

/// Events kept in a SQLite database file.
///
/// [`open`](Self::open) creates the file and its tables (`tidings_events`, and `tidings_schema`
/// with the schema's version), also in a database file that holds the application's own tables,
/// or checks an existing one. A file of the first release (its table `events`) is migrated. A
/// file that is not a SQLite database, one written by a newer release, or one with a
/// `tidings_events` table that tidings did not make is refused with a clear error and left
/// untouched. The journal is
/// WAL with `synchronous=NORMAL`: a committed event survives the process being killed.
///
/// An [`Emitter`](crate::Emitter) with a `SqliteStore` writes through a background writer: see
/// [`EmitterBuilder::store`](crate::EmitterBuilder::store).
///
/// ```
/// use tidings_runtime::{Emitter, Event, EventQuery, EventStore, SqliteStore};
///
/// let dir = std::env::temp_dir().join(format!("tidings-doc-{}", uuid::Uuid::new_v4()));
/// std::fs::create_dir_all(&dir)?;
/// let store = std::sync::Arc::new(SqliteStore::open(dir.join("events.db"))?);
/// let emitter = Emitter::builder().shared_store(store.clone()).build();
/// emitter.emit(Event::builder().category("connection").action("ping").build()?)?;
/// emitter.flush()?;
/// assert_eq!(store.query(&EventQuery::new())?.total, 1);
/// # drop(emitter); std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub struct SqliteStore {
    path: PathBuf,
    connection: Mutex<Connection>,
    retention: Retention,
    last_prune: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

fn backend(context: impl std::fmt::Display, error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {error}").into())
}

/// Turns a SQLite error into a [`StoreError`] that says what the store was doing.
trait Context<T> {
    fn context(self, doing: impl std::fmt::Display) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, doing: impl std::fmt::Display) -> Result<T, StoreError> {
        self.map_err(|e| backend(doing, describe(&e)))
    }
}

impl SqliteStore {
    /// A pragma's value on the store's connection, for tests of its settings (journal mode,
    /// synchronous level). Not a public API: compiled only with the `test-doors` feature.
    #[cfg(feature = "test-doors")]
    #[doc(hidden)]
    pub fn __pragma(&self, name: &str) -> Result<String, StoreError> {
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        connection
            .pragma_query_value(None, name, |row| {
                row.get::<_, rusqlite::types::Value>(0)
                    .map(|value| match value {
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Text(text) => text,
                        other => format!("{other:?}"),
                    })
            })
            .context(format!("reading the pragma {name}"))
    }

    /// Opens the database at `path`, creating it and its schema when it does not exist.
    ///
    /// # Errors
    /// When the file cannot be opened or created, is not a SQLite database, is read-only, or
    /// holds a schema of a newer release. The error names the path.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let connection = open_connection(&path)?;
        let context = || format!("cannot open event store {}", path.display());
        prepare_schema(&connection).map_err(|e| backend(context(), e))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .context(context())?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .context(context())?;
        // A page cache of 32 MiB (SQLite's default is 2 MiB): it holds the index pages that
        // inserts and a user's pages touch, and bounds what the store holds in memory however
        // large the events (a flood of large events fills it, then nothing more).
        connection
            .pragma_update(None, "cache_size", -32_768)
            .context(context())?;
        connection
            .pragma_update(None, "wal_autocheckpoint", 16_384)
            .context(context())?;
        Ok(SqliteStore {
            path,
            connection: Mutex::new(connection),
            retention: Retention::default(),
            last_prune: Mutex::new(None),
        })
    }

    /// Sets how long events are kept (see [`Retention`]).
    #[must_use]
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How long a write waits for a lock held by another connection before it fails (default
    /// 5 s).
    #[must_use]
    pub fn with_busy_timeout(self, timeout: Duration) -> Self {
        // Setting the timeout of an open connection only fails on misuse (a closed connection);
        // the previous timeout then stays.
        let _ = self.lock().busy_timeout(timeout);
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes what the retention setting no longer keeps, now, and returns how many events went.
    ///
    /// # Errors
    /// A database failure.
    pub fn prune(&self) -> Result<usize, StoreError> {
        let mut deleted = 0;
        let connection = self.lock();
        if let Some(max_age) = self.retention.max_age {
            let cutoff = nanos(OffsetDateTime::now_utc())
                - i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX);
            deleted += connection
                .prepare_cached("DELETE FROM tidings_events WHERE created_at < ?1")
                .and_then(|mut s| s.execute([cutoff]))
                .context("cannot prune events")?;
        }
        if let Some(max) = self.retention.max_per_user {
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            deleted += connection
                .prepare_cached(
                    "DELETE FROM tidings_events WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() \
                     OVER (PARTITION BY user_id ORDER BY created_at DESC, seq DESC) AS n \
                     FROM tidings_events) WHERE n > ?1)",
                )
                .and_then(|mut s| s.execute([max]))
                .context("cannot prune events")?;
        }
        Ok(deleted)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags).map_err(|e| {
        backend(
            format!("cannot open event store {}", path.display()),
            describe(&e),
        )
    })?;
    connection.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(|e| {
        backend(
            format!("cannot open event store {}", path.display()),
            describe(&e),
        )
    })?;
    Ok(connection)
}

/// SQLite's message, with the plain-words reason for the failures people meet.
fn describe(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => format!("the file is not a SQLite database ({error})"),
        Some(ErrorCode::ReadOnly) => format!("the database is read-only ({error})"),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            format!("the database stayed locked by another connection ({error})")
        }
        Some(ErrorCode::DiskFull) => format!("the disk is full ({error})"),
        Some(ErrorCode::CannotOpen) => format!("the file cannot be opened ({error})"),
        _ => error.to_string(),
    }
}

fn nanos(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(value: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
    })
}

fn id_bytes(id: Option<Uuid>) -> Option<[u8; 16]> {
    id.map(|id| id.into_bytes())
}

/// Binds the 13 columns of `event` to an insert statement; `scratch` holds the metadata JSON.
fn bind_event(
    statement: &mut rusqlite::Statement<'_>,
    event: &Event,
    scratch: &mut Vec<u8>,
) -> rusqlite::Result<()> {
    scratch.clear();
    if serde_json::to_writer(&mut *scratch, event.metadata()).is_err() {
        scratch.clear();
        scratch.extend_from_slice(b"{}");
    }
    let metadata = std::str::from_utf8(scratch).unwrap_or("{}");
    statement.raw_bind_parameter(1, event.id().as_bytes())?;
    statement.raw_bind_parameter(2, event.operation_id().as_bytes())?;
    statement.raw_bind_parameter(3, id_bytes(event.user_id()))?;
    statement.raw_bind_parameter(4, id_bytes(event.system_id()))?;
    statement.raw_bind_parameter(5, id_bytes(event.acted_upon()))?;
    statement.raw_bind_parameter(6, event.category().as_str())?;
    statement.raw_bind_parameter(7, event.action().as_str())?;
    statement.raw_bind_parameter(8, event.severity().as_str())?;
    statement.raw_bind_parameter(9, event.status().as_str())?;
    statement.raw_bind_parameter(10, event.description())?;
    statement.raw_bind_parameter(11, metadata)?;
    statement.raw_bind_parameter(12, nanos(event.created_at()))?;
    statement.raw_bind_parameter(13, nanos(event.updated_at()))?;
    Ok(())
}

fn insert_one(connection: &Connection, event: &Event) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(INSERT)?;
    bind_event(&mut statement, event, &mut Vec::new())?;
    statement.raw_execute()?;
    Ok(())
}

fn insert_error(event: &Event, error: &rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(e, _) = error
        && e.code == ErrorCode::ConstraintViolation
    {
        return StoreError::DuplicateId(event.id());
    }
    backend(
        format!("cannot store event {}", event.id()),
        describe(error),
    )
}

fn read_uuid(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<Uuid>> {
    let bytes: Option<Vec<u8>> = row.get(index)?;
    bytes
        .map(|b| {
            Uuid::from_slice(&b).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    rusqlite::types::Type::Blob,
                    Box::new(e),
                )
            })
        })
        .transpose()
}

fn conversion(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error))
}

fn read_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    read_event_at(row, 0)
}

/// The event whose [`COLUMNS`] start at column `at`.
fn read_event_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Event> {
    let missing = |index| conversion(index, std::io::Error::other("missing id"));
    let metadata: String = row.get(at + 10)?;
    Ok(Event::from_parts(EventParts {
        id: read_uuid(row, at)?.ok_or_else(|| missing(at))?,
        operation_id: read_uuid(row, at + 1)?.ok_or_else(|| missing(at + 1))?,
        user_id: read_uuid(row, at + 2)?,
        system_id: read_uuid(row, at + 3)?,
        acted_upon: read_uuid(row, at + 4)?,
        category: Category::new(row.get::<_, String>(at + 5)?)
            .map_err(|e| conversion(at + 5, e))?,
        action: Action::new(row.get::<_, String>(at + 6)?).map_err(|e| conversion(at + 6, e))?,
        severity: row
            .get::<_, String>(at + 7)?
            .parse()
            .map_err(|e| conversion(at + 7, e))?,
        status: row
            .get::<_, String>(at + 8)?
            .parse()
            .map_err(|e| conversion(at + 8, e))?,
        description: Cow::Owned(row.get(at + 9)?),
        metadata: serde_json::from_str(&metadata).map_err(|e| conversion(at + 10, e))?,
        created_at: from_nanos(row.get(at + 11)?)?,
        updated_at: from_nanos(row.get(at + 12)?)?,
        count: u32::try_from(row.get::<_, i64>(at + 13)?).unwrap_or(u32::MAX),
    }))
}

/// Stores one event under its repeat rule, on a connection whose writes are this store's only
/// (the store's lock is held): the newest stored event of its kind is read, the reference rule
/// decides, then the event is inserted or folded.
fn insert_ruled(
    connection: &Connection,
    event: &Event,
    scratch: &mut Vec<u8>,
) -> rusqlite::Result<Inserted> {
    let insert = |scratch: &mut Vec<u8>| -> rusqlite::Result<Inserted> {
        let mut statement = connection.prepare_cached(INSERT)?;
        bind_event(&mut statement, event, scratch)?;
        statement.raw_execute()?;
        Ok(Inserted::New)
    };
    if event.repeat() == Repeat::Keep {
        return insert(scratch);
    }
    let severity = match event.repeat() {
        Repeat::Coalesce(_) => Some(event.severity().as_str()),
        _ => None,
    };
    let newest: Option<(i64, Event)> = connection
        .prepare_cached(NEWEST_OF_KIND)?
        .query_row(
            rusqlite::params![
                id_bytes(event.user_id()),
                event.category().as_str(),
                event.action().as_str(),
                id_bytes(event.acted_upon()),
                severity,
            ],
            |row| Ok((row.get(0)?, read_event_at(row, 1)?)),
        )
        .optional()?;
    match event.repeat_outcome(newest.as_ref().map(|(_, stored)| stored)) {
        RepeatOutcome::Skip => Ok(Inserted::Unchanged),
        RepeatOutcome::FoldInto => {
            let Some((seq, stored)) = newest else {
                unreachable!("an event folds only into one that is stored")
            };
            // The new event's id must not be stored already, as for an insert.
            let taken: bool = connection
                .prepare_cached("SELECT count(*) > 0 FROM tidings_events WHERE id = ?1")?
                .query_row([event.id().as_bytes()], |row| row.get(0))?;
            if taken {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE),
                    None,
                ));
            }
            let folded = event.folded_into(&stored);
            let metadata = serde_json::to_string(folded.metadata()).unwrap_or_else(|_| "{}".into());
            connection.prepare_cached(FOLD)?.execute(rusqlite::params![
                i64::from(folded.count()),
                folded.description(),
                metadata,
                nanos(folded.updated_at()),
                seq,
            ])?;
            Ok(Inserted::Folded(folded))
        }
        RepeatOutcome::Store => insert(scratch),
    }
}

/// A `WHERE` clause built from fixed text and `?` placeholders only; the values are bound.
fn filters(query: &EventQuery) -> (String, Vec<SqlValue>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    // Lists are never empty: `filters` leaves out a list that does not filter.
    let any_of = |column: &str, items: Vec<SqlValue>| {
        let marks = vec!["?"; items.len()].join(", ");
        (format!("{column} IN ({marks})"), items)
    };
    let text = |s: &str| SqlValue::Text(s.to_owned());
    let blob = |id: &Uuid| SqlValue::Blob(id.as_bytes().to_vec());
    for filter in query.filters() {
        let (clause, items) = match filter {
            Filter::User(user) => any_of("user_id", vec![blob(&user)]),
            Filter::Categories(categories) => any_of(
                "category",
                categories.iter().map(|c| text(c.as_str())).collect(),
            ),
            Filter::Actions(actions) => {
                any_of("action", actions.iter().map(|a| text(a.as_str())).collect())
            }
            Filter::Severities(severities) => any_of(
                "severity",
                severities.iter().map(|s| text(s.as_str())).collect(),
            ),
            Filter::ActedUpon(ids) => any_of("acted_upon", ids.iter().map(blob).collect()),
            // One parameter whatever the number of ids (SQLite takes at most 32,766).
            Filter::Ids(ids) => (
                "id IN (SELECT unhex(value) FROM json_each(?))".to_owned(),
                vec![SqlValue::Text(
                    serde_json::to_string(
                        &ids.iter()
                            .map(|id| id.simple().to_string())
                            .collect::<Vec<_>>(),
                    )
                    .unwrap_or_else(|_| "[]".to_owned()),
                )],
            ),
            Filter::Status(status) => any_of("status", vec![text(status.as_str())]),
            // instr, not LIKE: `%`, `_` and quotes in the search text are plain characters.
            Filter::Search(search) => (
                "instr(lower(description), lower(?)) > 0".to_owned(),
                vec![text(search)],
            ),
        };
        clauses.push(clause);
        values.extend(items);
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (clause, values)
}

/// The same failure for every event of a batch (the transaction could not begin or commit).
fn all_failed(events: &[Arc<Event>], error: &rusqlite::Error) -> Vec<Result<Inserted, StoreError>> {
    let reason = describe(error);
    events
        .iter()
        .map(|event| {
            Err(backend(
                format!("cannot store event {}", event.id()),
                &reason,
            ))
        })
        .collect()
}

impl SqliteStore {
    /// Runs `sql` once per id (bound as `?1`, after `extra` values) in one transaction; returns
    /// how many rows changed.
    fn each_id(
        &self,
        context: &str,
        sql: &str,
        extra: &[&dyn rusqlite::ToSql],
        ids: &[Uuid],
    ) -> Result<usize, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction().context(context)?;
        let mut changed = 0;
        {
            let mut statement = transaction.prepare_cached(sql).context(context)?;
            for id in ids {
                statement
                    .raw_bind_parameter(1, id.as_bytes())
                    .context(context)?;
                for (i, value) in extra.iter().enumerate() {
                    statement
                        .raw_bind_parameter(i + 2, value)
                        .context(context)?;
                }
                changed += statement.raw_execute().context(context)?;
            }
        }
        transaction.commit().context(context)?;
        Ok(changed)
    }
}

impl EventStore for SqliteStore {
    fn insert(&self, event: &Arc<Event>) -> Result<Inserted, StoreError> {
        let mut connection = self.lock();
        if event.repeat() == Repeat::Keep {
            return insert_one(&connection, event)
                .map(|()| Inserted::New)
                .map_err(|e| insert_error(event, &e));
        }
        // The look-up and the change in one transaction.
        let transaction = connection.transaction().context("cannot store an event")?;
        let inserted = insert_ruled(&transaction, event, &mut Vec::new())
            .map_err(|e| insert_error(event, &e))?;
        transaction.commit().context("cannot store an event")?;
        Ok(inserted)
    }

    fn insert_batch(&self, events: &[Arc<Event>]) -> Vec<Result<Inserted, StoreError>> {
        let mut connection = self.lock();
        let transaction = match connection.transaction() {
            Ok(transaction) => transaction,
            Err(e) => return all_failed(events, &e),
        };
        // A failed insert (a duplicate id) undoes only its own statement; the others stay.
        // One prepared statement for the whole batch. (Multi-row `INSERT`s measured slower.)
        let results: Vec<Result<Inserted, StoreError>> = match transaction.prepare_cached(INSERT) {
            Ok(mut statement) => {
                let mut scratch = Vec::with_capacity(256);
                events
                    .iter()
                    .map(|event| {
                        if event.repeat() != Repeat::Keep {
                            return insert_ruled(&transaction, event, &mut scratch)
                                .map_err(|e| insert_error(event, &e));
                        }
                        bind_event(&mut statement, event, &mut scratch)
                            .and_then(|()| statement.raw_execute())
                            .map(|_| Inserted::New)
                            .map_err(|e| insert_error(event, &e))
                    })
                    .collect()
            }
            Err(e) => all_failed(events, &e),
        };
        match transaction.commit() {
            Ok(()) => results,
            Err(e) => all_failed(events, &e),
        }
    }

    fn prefers_background_writer(&self) -> bool {
        true
    }

    fn maintain(&self) -> Result<usize, StoreError> {
        if !self.retention.due(&self.last_prune) {
            return Ok(0);
        }
        self.prune()
    }

    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tidings_events WHERE id = ?1"
            ))
            .context("cannot read events")?;
        let mut rows = statement
            .query_map([id.as_bytes()], read_event)
            .context("cannot read events")?;
        rows.next().transpose().context("cannot read events")
    }

    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let (clause, values) = filters(query);
        let (column, direction) = (query.sort_column(), query.sort_direction());
        let connection = self.lock();
        let total: i64 = connection
            .prepare_cached(&format!("SELECT count(*) FROM tidings_events {clause}"))
            .and_then(|mut s| s.query_row(params_from_iter(values.iter()), |row| row.get(0)))
            .context("cannot query events")?;
        let mut page_values = values.clone();
        let limit = match query.window() {
            None => String::new(),
            Some((size, offset)) => {
                page_values.push(SqlValue::Integer(i64::try_from(size).unwrap_or(i64::MAX)));
                page_values.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
                "LIMIT ? OFFSET ?".to_owned()
            }
        };
        let events = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tidings_events {clause} ORDER BY {column} {direction}, seq {direction} {limit}"
            ))
            .and_then(|mut s| {
                s.query_map(params_from_iter(page_values.iter()), read_event)?
                    .collect::<rusqlite::Result<Vec<Event>>>()
            })
            .context("cannot query events")?;

        // Per severity with the counted status, and read: the user's events (everyone's).
        let (user_clause, user_values) = match query.user_id() {
            Some(user) => (
                "AND user_id = ?2",
                vec![SqlValue::Blob(user.as_bytes().to_vec())],
            ),
            None => ("", Vec::new()),
        };
        let counted = query.counted_status().as_str();
        let count_values: Vec<SqlValue> = std::iter::once(SqlValue::Text(counted.to_owned()))
            .chain(user_values.iter().cloned())
            .collect();
        let mut counts = PageCounts::default();
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT severity, count(*) FROM tidings_events WHERE status = ?1 {user_clause} \
                 GROUP BY severity"
            ))
            .context("cannot query events")?;
        let rows = statement
            .query_map(params_from_iter(count_values.iter()), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .context("cannot query events")?;
        for row in rows {
            let (severity, count) = row.context("cannot query events")?;
            let severity: Severity = severity
                .parse()
                .map_err(|e| backend("cannot query events", e))?;
            counts.add(severity, super::count(count), 0);
        }
        let read_values: Vec<SqlValue> = std::iter::once(SqlValue::Text("read".to_owned()))
            .chain(user_values)
            .collect();
        let read_count: i64 = connection
            .prepare_cached(&format!(
                "SELECT count(*) FROM tidings_events WHERE status = ?1 {user_clause}"
            ))
            .and_then(|mut s| s.query_row(params_from_iter(read_values.iter()), |row| row.get(0)))
            .context("cannot query events")?;
        // Read events of every severity: counted once, under none.
        counts.add(Severity::Debug, 0, super::count(read_count));
        Ok(EventPage::assemble(
            query,
            events,
            super::count(total),
            counts,
        ))
    }

    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let connection = self.lock();
        let seq: Option<i64> = connection
            .prepare_cached("SELECT seq FROM tidings_events WHERE id = ?1 AND user_id = ?2")
            .and_then(|mut s| {
                let mut rows =
                    s.query_map([after.as_bytes(), user.as_bytes()], |row| row.get(0))?;
                rows.next().transpose()
            })
            .context("cannot read events")?;
        let Some(seq) = seq else {
            return Ok(None);
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let events = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tidings_events WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params_from_iter([
                        SqlValue::Blob(user.as_bytes().to_vec()),
                        SqlValue::Integer(seq),
                        SqlValue::Integer(limit),
                    ]),
                    read_event,
                )?
                .collect::<rusqlite::Result<Vec<Event>>>()
            })
            .context("cannot read events")?;
        Ok(Some(events))
    }

    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        let connection = self.lock();
        let (clause, values) = match user {
            Some(user) => (
                "WHERE user_id = ?1",
                vec![SqlValue::Blob(user.as_bytes().to_vec())],
            ),
            None => ("", Vec::new()),
        };
        let distinct = |column: &str| -> Result<Vec<String>, StoreError> {
            connection
                .prepare_cached(&format!(
                    "SELECT DISTINCT {column} FROM tidings_events {clause} ORDER BY {column}"
                ))
                .and_then(|mut s| {
                    s.query_map(params_from_iter(values.iter()), |row| row.get(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .context("cannot read event types")
        };
        let categories = distinct("category")?
            .into_iter()
            .map(|c| Category::new(c).map_err(|e| backend("cannot read event types", e)))
            .collect::<Result<_, _>>()?;
        let actions = distinct("action")?
            .into_iter()
            .map(|a| Action::new(a).map_err(|e| backend("cannot read event types", e)))
            .collect::<Result<_, _>>()?;
        Ok(EventTypes {
            categories,
            actions,
        })
    }

    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        let now = nanos(crate::event::now());
        self.each_id(
            "cannot update events",
            "UPDATE tidings_events SET updated_at = CASE WHEN status = ?2 THEN updated_at ELSE ?3 END, \
             status = ?2 WHERE id = ?1",
            &[&status.as_str(), &now],
            ids,
        )
    }

    fn set_status_matching(&self, query: &EventQuery, status: Status) -> Result<usize, StoreError> {
        let (clause, values) = filters(query);
        let now = nanos(crate::event::now());
        let params: Vec<SqlValue> = [
            SqlValue::Text(status.as_str().to_owned()),
            SqlValue::Integer(now),
        ]
        .into_iter()
        .chain(values)
        .collect();
        let changed = self
            .lock()
            .execute(
                &format!(
                    "UPDATE tidings_events SET updated_at = CASE WHEN status = ?1 THEN updated_at ELSE ?2 END, \
                     status = ?1 {clause}"
                ),
                params_from_iter(params.iter()),
            )
            .context("cannot update events")?;
        Ok(changed)
    }

    fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        let (clause, values) = filters(query);
        let deleted = self
            .lock()
            .execute(
                &format!("DELETE FROM tidings_events {clause}"),
                params_from_iter(values.iter()),
            )
            .context("cannot delete events")?;
        Ok(deleted)
    }

    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        self.each_id(
            "cannot delete events",
            "DELETE FROM tidings_events WHERE id = ?1",
            &[],
            ids,
        )
    }
}
