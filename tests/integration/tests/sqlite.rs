//! The SQLite store and the batched background writer.

#[path = "../../common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use common::numbered_event;
use tidings::testing::{event_at, store_conformance};
use tidings::{
    DeliveryFailure, Emitter, Event, EventQuery, EventStore, PageSize, Retention, Severity,
    SqliteStore, TryRecvError, Uuid,
};

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("tidings-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("events.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn count(path: &Path) -> usize {
    SqliteStore::open(path)
        .unwrap()
        .query(&EventQuery::new().page_size(PageSize::Limit(0)))
        .unwrap()
        .total
}

#[test]
fn sqlite_store_passes_the_store_conformance_suite() {
    let dir = TempDir::new();
    let made = std::cell::Cell::new(0);
    store_conformance(|| {
        made.set(made.get() + 1);
        SqliteStore::open(dir.0.join(format!("suite-{}.db", made.get()))).unwrap()
    });
}

#[test]
fn reopening_keeps_events_and_their_fields() {
    let dir = TempDir::new();
    let event = event_at(
        Some(Uuid::new_v4()),
        "connection",
        "ping",
        Severity::Error,
        "it failed",
        7,
    );
    {
        let store = SqliteStore::open(dir.db()).unwrap();
        store.insert(&Arc::new(event.clone())).unwrap();
    }
    let store = SqliteStore::open(dir.db()).unwrap();
    assert_eq!(store.get(event.id()).unwrap(), Some(event));
}

#[test]
fn emitting_with_a_sqlite_store_goes_through_the_background_writer() {
    let dir = TempDir::new();
    let store = Arc::new(SqliteStore::open(dir.db()).unwrap());
    let emitter = Emitter::builder().shared_store(store.clone()).build();
    assert!(emitter.has_background_writer());
    let user = Uuid::new_v4();
    let tab = emitter.subscribe(user);
    let emitted = emitter.emit(numbered_event(user, 1)).unwrap();
    emitter.flush().unwrap();
    let live = tab.try_recv().unwrap();
    assert!(Arc::ptr_eq(&live, &emitted));
    assert_eq!(store.get(live.id()).unwrap().as_ref(), Some(&*live));
}

#[test]
fn concurrent_emitters_store_and_publish_every_event_exactly_once() {
    const THREADS: usize = 4;
    const EACH: usize = 2_500;
    let dir = TempDir::new();
    let store = Arc::new(SqliteStore::open(dir.db()).unwrap());
    // A tiny queue: emitting threads wait for room instead of dropping anything.
    let emitter = Emitter::builder()
        .shared_store(store.clone())
        .background_writer(16)
        .buffer(THREADS * EACH)
        .build();
    let all = emitter.subscribe_all();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let emitter = emitter.clone();
            thread::spawn(move || {
                let user = Uuid::new_v4();
                for i in 0..EACH {
                    emitter.emit(numbered_event(user, t * EACH + i)).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    emitter.flush().unwrap();

    let published = all.drain();
    assert_eq!(published.len(), THREADS * EACH);
    let ids: HashSet<Uuid> = published.iter().map(|e| e.id()).collect();
    assert_eq!(ids.len(), THREADS * EACH, "each event published once");
    let stored = store
        .query(&EventQuery::new().page_size(PageSize::All))
        .unwrap();
    assert_eq!(stored.total, THREADS * EACH);
    let stored_ids: HashSet<Uuid> = stored.events.iter().map(Event::id).collect();
    assert_eq!(stored_ids, ids, "each event stored once, the same ones");
    assert_eq!(emitter.failures(), 0);
}

#[test]
fn dropping_the_emitter_flushes() {
    let dir = TempDir::new();
    let emitter = Emitter::builder()
        .store(SqliteStore::open(dir.db()).unwrap())
        .build();
    let user = Uuid::new_v4();
    for n in 0..300 {
        emitter.emit(numbered_event(user, n)).unwrap();
    }
    drop(emitter);
    assert_eq!(count(&dir.db()), 300);
}

const CHILD_DB: &str = "TIDINGS_TEST_CHILD_DB";
const CHILD_EVENTS: usize = 1_000;

/// The parent starts this same test in a child process, which emits, flushes, says so and waits
/// to be killed with SIGKILL; the parent then reopens the file and counts.
#[test]
fn a_process_killed_after_flush_keeps_every_flushed_event() {
    if let Ok(db) = std::env::var(CHILD_DB) {
        let emitter = Emitter::builder()
            .store(SqliteStore::open(db).unwrap())
            .build();
        let user = Uuid::new_v4();
        for n in 0..CHILD_EVENTS {
            emitter.emit(numbered_event(user, n)).unwrap();
        }
        emitter.flush().unwrap();
        println!("\ntidings-child-flushed");
        loop {
            thread::park();
        }
    }

    let dir = TempDir::new();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_process_killed_after_flush_keeps_every_flushed_event",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, dir.db())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let child = Arc::new(Mutex::new(child));
    // A bound on the whole exchange: a child that never reports is killed, and the test fails.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let child = Arc::clone(&child);
        thread::spawn(move || {
            if done_rx.recv_timeout(Duration::from_secs(120)).is_err() {
                let _ = child.lock().unwrap().kill();
            }
        })
    };
    let flushed = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("tidings-child-flushed"));
    let _ = done_tx.send(());
    watchdog.join().unwrap();
    assert!(flushed, "the child process reported its flush");
    let mut child = child.lock().unwrap();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed: {status:?}");
    assert_eq!(count(&dir.db()), CHILD_EVENTS);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = TempDir::new();
    let garbage = b"these are notes, not a database; please keep them".repeat(100);
    std::fs::write(dir.db(), &garbage).unwrap();
    let err = SqliteStore::open(dir.db()).unwrap_err().to_string();
    assert!(err.contains("not a SQLite database"), "{err}");
    assert!(err.contains(&dir.db().display().to_string()), "{err}");
    assert_eq!(std::fs::read(dir.db()).unwrap(), garbage);
}

#[test]
fn a_newer_schema_or_a_foreign_events_table_is_refused() {
    let dir = TempDir::new();
    {
        SqliteStore::open(dir.db()).unwrap();
    }
    rusqlite_for_tests::open(&format!("file:{}", dir.db().display()))
        .create_table("UPDATE tidings_schema SET version = 99");
    let newer = std::fs::read(dir.db()).unwrap();
    let err = SqliteStore::open(dir.db()).unwrap_err().to_string();
    assert!(err.contains("schema version is 99"), "{err}");
    assert!(
        err.contains(&dir.db().display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(
        std::fs::read(dir.db()).unwrap(),
        newer,
        "left byte for byte"
    );

    // A `tidings_events` table that tidings did not make (no schema version beside it).
    let foreign = dir.0.join("foreign.db");
    rusqlite_for_tests::open(&format!("file:{}", foreign.display()))
        .create_table("CREATE TABLE tidings_events (body TEXT)");
    let theirs = std::fs::read(&foreign).unwrap();
    let err = SqliteStore::open(&foreign).unwrap_err().to_string();
    assert!(err.contains("belongs to something else"), "{err}");
    assert!(err.contains("tidings_events"), "names the table: {err}");
    assert!(
        err.contains(&foreign.display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        theirs,
        "left byte for byte"
    );
    for sidecar in ["-wal", "-shm", "-journal"] {
        let mut path = foreign.clone().into_os_string();
        path.push(sidecar);
        assert!(
            !std::path::Path::new(&path).exists(),
            "no {sidecar} file was made next to it"
        );
    }
}

/// The application's own database file, with its own `events` table and `user_version`: the
/// store's tables go beside them (`tidings_events`, `tidings_schema`) and theirs are untouched.
#[test]
fn a_database_of_the_applications_own_gets_the_stores_tables_beside_its_own() {
    let dir = TempDir::new();
    {
        let theirs = rusqlite_for_tests::open(&format!("file:{}", dir.db().display()));
        theirs.create_table(
            "CREATE TABLE events (title TEXT); INSERT INTO events VALUES ('launch party');",
        );
        theirs.set_user_version(7);
    }
    let store = Arc::new(SqliteStore::open(dir.db()).unwrap());
    let events = Emitter::builder().shared_store(store.clone()).build();
    events.emit(numbered_event(Uuid::new_v4(), 1)).unwrap();
    events.flush().unwrap();
    assert_eq!(store.query(&EventQuery::new()).unwrap().total, 1);
    drop((events, store));
    let theirs = rusqlite::Connection::open(dir.db()).unwrap();
    let titles: Vec<String> = theirs
        .prepare("SELECT title FROM events")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(titles, ["launch party"]);
    let version: i64 = theirs
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 7, "the application's user_version is its own");
    assert_eq!(count(&dir.db()), 1, "reopened");
}

/// A file written by the first release (its table plainly `events`, its version in
/// `user_version`; `fixtures/schema-v1.db` was made by that code) opens, moves to the current
/// schema, and keeps its events, their status and their metadata.
#[test]
fn a_file_of_the_first_schema_is_migrated_and_keeps_its_events() {
    let dir = TempDir::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema-v1.db");
    std::fs::copy(fixture, dir.db()).unwrap();
    let user: Uuid = "0190f5a0-0000-7000-8000-00000000a11c".parse().unwrap();
    let store = Arc::new(SqliteStore::open(dir.db()).unwrap());
    let page = store
        .query(&EventQuery::new().user(user).order(tidings::Order::Asc))
        .unwrap();
    let descriptions: Vec<&str> = page.events.iter().map(|e| e.description()).collect();
    assert_eq!(descriptions, ["ping 0", "ping 1", "ping 2"]);
    assert_eq!(page.events[1].severity(), Severity::Error);
    assert_eq!(
        page.events[1].metadata()["err"]["message"],
        "connection refused"
    );
    assert_eq!(page.events[2].status(), tidings::Status::Read);
    assert_eq!(page.read_count, 1);
    // It goes on working: a new event after the old ones, and a resume across them.
    let events = Emitter::builder().shared_store(store.clone()).build();
    events.emit(numbered_event(user, 3)).unwrap();
    events.flush().unwrap();
    let after = store
        .stored_after(user, page.events[0].id(), 10)
        .unwrap()
        .unwrap();
    assert_eq!(after.len(), 3);
    drop((events, store));
    let file = rusqlite::Connection::open(dir.db()).unwrap();
    let tables: Vec<String> = file
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["tidings_events", "tidings_schema"]);
    let version: i64 = file
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 0, "user_version is given back to the application");
    assert_eq!(count(&dir.db()), 4, "reopened after the migration");
}

#[test]
fn a_read_only_database_gives_clear_errors() {
    let dir = TempDir::new();
    {
        let store = SqliteStore::open(dir.db()).unwrap();
        store
            .insert(&Arc::new(numbered_event(Uuid::new_v4(), 1)))
            .unwrap();
    }
    // A read-only database (SQLite's `mode=ro`: root ignores file permissions).
    let read_only = format!("file:{}?mode=ro", dir.db().display());
    let store = SqliteStore::open(&read_only).unwrap();
    assert_eq!(store.query(&EventQuery::new()).unwrap().total, 1);
    let err = store
        .insert(&Arc::new(numbered_event(Uuid::new_v4(), 2)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");

    // A new database cannot be made read-only.
    let missing = format!("file:{}?mode=ro", dir.0.join("missing.db").display());
    let err = SqliteStore::open(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.db"), "{err}");
}

#[test]
fn a_failed_write_is_reported_not_published_and_the_writer_goes_on() {
    let dir = TempDir::new();
    {
        SqliteStore::open(dir.db()).unwrap();
    }
    let (failed_tx, failed_rx) = mpsc::channel::<DeliveryFailure>();
    let failed_tx = Mutex::new(failed_tx);
    let emitter = Emitter::builder()
        .store(
            SqliteStore::open(dir.db())
                .unwrap()
                .with_busy_timeout(Duration::from_millis(20)),
        )
        .on_failure(move |failure| {
            let copy = DeliveryFailure {
                event: failure.event.clone(),
                error: tidings::StoreError::Backend(failure.error.to_string().into()),
            };
            let _ = failed_tx.lock().unwrap().send(copy);
        })
        .build();
    let user = Uuid::new_v4();
    let tab = emitter.subscribe(user);

    // Another connection holds the write lock beyond the store's busy timeout.
    let blocker = rusqlite_for_tests::open(&format!("file:{}", dir.db().display()));
    blocker.begin_exclusive();
    let doomed = emitter.emit(numbered_event(user, 1)).unwrap();
    let failure = failed_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(failure.event.id(), doomed.id());
    assert!(
        failure.error.to_string().contains("locked"),
        "{}",
        failure.error
    );
    assert_eq!(
        tab.try_recv().unwrap_err(),
        TryRecvError::Empty,
        "not published"
    );
    blocker.rollback();

    let kept = emitter.emit(numbered_event(user, 2)).unwrap();
    emitter.flush().unwrap();
    assert_eq!(tab.try_recv().unwrap().id(), kept.id());
    assert_eq!(emitter.failures(), 1);
    drop(emitter);
    let store = SqliteStore::open(dir.db()).unwrap();
    assert_eq!(store.get(doomed.id()).unwrap(), None);
    assert!(store.get(kept.id()).unwrap().is_some());
}

#[test]
fn retention_prunes_old_events_and_keeps_the_newest_per_user() {
    let dir = TempDir::new();
    let store = Arc::new(
        SqliteStore::open(dir.db())
            .unwrap()
            .with_retention(Retention {
                max_age: Some(Duration::from_secs(24 * 3600 * 365 * 20)),
                max_per_user: Some(3),
                every: Some(Duration::ZERO),
            }),
    );
    let emitter = Emitter::builder().shared_store(store.clone()).build();
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    // Older than twenty years: pruned by age.
    let ancient: Event = serde_json::from_value(serde_json::json!({
        "id": Uuid::new_v4(), "operationId": Uuid::new_v4(), "userId": bob,
        "category": "pattern", "action": "view", "severity": "debug",
        "createdAt": "1990-01-01T00:00:00Z", "updatedAt": "1990-01-01T00:00:00Z",
    }))
    .unwrap();
    emitter.emit(ancient.clone()).unwrap();
    let newest: Vec<Arc<Event>> = (0..5)
        .map(|n| emitter.emit(numbered_event(alice, n)).unwrap())
        .collect();
    emitter.emit(numbered_event(bob, 9)).unwrap();
    emitter.flush().unwrap();

    assert_eq!(store.get(ancient.id()).unwrap(), None);
    let alice_left = store
        .query(&EventQuery::new().user(alice).page_size(PageSize::All))
        .unwrap();
    let left: HashSet<Uuid> = alice_left.events.iter().map(Event::id).collect();
    let want: HashSet<Uuid> = newest[2..].iter().map(|e| e.id()).collect();
    assert_eq!(left, want);
    assert_eq!(store.query(&EventQuery::new().user(bob)).unwrap().total, 1);
}

/// A second connection to the same file, for the tests that need one.
mod rusqlite_for_tests {
    pub struct Connection(rusqlite::Connection);

    pub fn open(uri: &str) -> Connection {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
            | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        Connection(rusqlite::Connection::open_with_flags(uri, flags).unwrap())
    }

    impl Connection {
        pub fn set_user_version(&self, version: i64) {
            self.0.pragma_update(None, "user_version", version).unwrap();
        }
        pub fn create_table(&self, sql: &str) {
            self.0.execute_batch(sql).unwrap();
        }
        pub fn begin_exclusive(&self) {
            self.0.execute_batch("BEGIN EXCLUSIVE").unwrap();
        }
        pub fn rollback(&self) {
            self.0.execute_batch("ROLLBACK").unwrap();
        }
    }
}

/// What the README promises of the SQLite store's settings is what the connection has: the WAL
/// journal (kept in the file, so another connection sees it too) and `synchronous=NORMAL` (1).
#[test]
fn the_store_runs_in_wal_mode_with_synchronous_normal() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.db()).unwrap();
    assert_eq!(store.__pragma("journal_mode").unwrap(), "wal");
    assert_eq!(store.__pragma("synchronous").unwrap(), "1", "NORMAL");
    let other = rusqlite::Connection::open(dir.db()).unwrap();
    let mode: String = other
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A file of schema version 2 (before repeats: no `count`, no index of kinds), as that release
/// made it, opens at version 3: its events count 1, and a repeat folds into one of them.
#[test]
fn a_file_of_schema_2_is_migrated_and_its_events_take_repeats() {
    let dir = TempDir::new();
    let user = Uuid::new_v4();
    let old = event_at(Some(user), "cluster", "probe", Severity::Warning, "old", 1);
    {
        let file = rusqlite::Connection::open(dir.db()).unwrap();
        file.execute_batch(
            "CREATE TABLE tidings_events (seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, \
             operation_id BLOB NOT NULL, user_id BLOB, system_id BLOB, acted_upon BLOB, \
             category TEXT NOT NULL, action TEXT NOT NULL, severity TEXT NOT NULL, \
             status TEXT NOT NULL, description TEXT NOT NULL, metadata TEXT NOT NULL, \
             created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             CREATE INDEX tidings_events_by_user_time ON tidings_events (user_id, created_at);
             CREATE TABLE tidings_schema (version INTEGER NOT NULL);
             INSERT INTO tidings_schema (version) VALUES (2);",
        )
        .unwrap();
        let nanos = |t: tidings::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos()).unwrap();
        file.execute(
            "INSERT INTO tidings_events (id, operation_id, user_id, category, action, severity, \
             status, description, metadata, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'cluster', 'probe', 'warning', 'unread', 'old', '{}', ?4, ?4)",
            rusqlite::params![
                old.id().as_bytes(),
                old.operation_id().as_bytes(),
                user.as_bytes(),
                nanos(old.created_at()),
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.db()).unwrap();
    let stored = store.get(old.id()).unwrap().unwrap();
    assert_eq!((stored.description(), stored.count()), ("old", 1));
    let repeat = event_at(Some(user), "cluster", "probe", Severity::Warning, "new", 2)
        .with_repeat(tidings::Repeat::Coalesce(Duration::from_secs(60)));
    match store.insert(&Arc::new(repeat)).unwrap() {
        tidings::Inserted::Folded(folded) => {
            assert_eq!((folded.id(), folded.count()), (old.id(), 2));
        }
        other => panic!("a repeat folds into the migrated event, not {other:?}"),
    }
    drop(store);
    let file = rusqlite::Connection::open(dir.db()).unwrap();
    let version: i64 = file
        .query_row("SELECT max(version) FROM tidings_schema", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(version, 3);
}
