//! Events per second into SQLite, on the same data in one run: through the batched background
//! writer, and with one transaction per event on the caller's thread (the Meshery way); into a
//! fresh database and into one that already holds 300,000 events (`_grown`).
//!
//! `cargo bench --bench sqlite_writer`; `benches/report.py` turns the results into the table of
//! BENCHMARKS.md.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidings::{Emitter, Event, SqliteStore, Uuid};

/// Events per measured burst; each burst goes into a fresh database, so both ways write the same
/// data into the same state.
const EVENTS: usize = 5_000;

/// The events already stored in the `_grown` cases.
const GROWN: usize = 300_000;

fn events(user: Uuid) -> Vec<Event> {
    (0..EVENTS)
        .map(|n| {
            Event::builder()
                .from_user(user)
                .acted_upon(Uuid::new_v4())
                .category("pattern")
                .action("deploy")
                .description("Deployed design web-frontend")
                .meta("n", n)
                .build()
                .expect("a valid event")
        })
        .collect()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tidings-bench-{name}-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Emits `EVENTS` pre-built events through `emitter` and waits until all are stored.
fn emit_all(emitter: &Emitter, batch: Vec<Event>) {
    for event in batch {
        black_box(emitter.emit(event).expect("accepted"));
    }
    emitter.flush().expect("the writer runs");
}

fn sqlite_writer(c: &mut Criterion) {
    let mut group = c.benchmark_group("sqlite_insert");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    let user = Uuid::new_v4();

    // Fresh databases, then databases that already hold `GROWN` events (copied from a template
    // made once, outside the timing): where the id index no longer fits in a few pages, and a
    // random id costs a walk to a random leaf.
    let template = Scratch::new("template");
    let grown = template.0.join("events.db");
    {
        let emitter = Emitter::builder()
            .store(SqliteStore::open(&grown).expect("a database"))
            .build();
        for _ in 0..GROWN / EVENTS {
            emit_all(&emitter, events(user));
        }
    }
    for (name, background, from) in [
        ("batched_background_writer", true, None),
        ("one_transaction_per_event", false, None),
        ("batched_background_writer_grown", true, Some(&grown)),
        ("one_transaction_per_event_grown", false, Some(&grown)),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    let scratch = Scratch::new(name);
                    let path = scratch.0.join("events.db");
                    if let Some(template) = from {
                        std::fs::copy(template, &path).expect("a copy of the template");
                    }
                    let store = SqliteStore::open(&path).expect("a database");
                    let builder = Emitter::builder().store(store);
                    let emitter = if background {
                        builder.build()
                    } else {
                        builder.inline_writes().build()
                    };
                    assert_eq!(emitter.has_background_writer(), background);
                    let batch = events(user);
                    let start = Instant::now();
                    emit_all(&emitter, batch);
                    spent += start.elapsed();
                    drop(emitter);
                }
                spent
            });
        });
    }
    // A reference, not a target: Meshery's own SQLite settings (rollback journal, synchronous
    // FULL: an fsync per commit), one transaction per event, same schema and data.
    group.bench_function("meshery_settings_one_transaction_per_event", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let scratch = Scratch::new("meshery");
                let path = scratch.0.join("events.db");
                drop(SqliteStore::open(&path).expect("the schema"));
                let connection = rusqlite::Connection::open(&path).expect("a database");
                connection
                    .execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")
                    .expect("Meshery's settings");
                let batch = events(user);
                let start = Instant::now();
                for event in &batch {
                    insert_like_meshery(&connection, event);
                }
                spent += start.elapsed();
            }
            spent
        });
    });
    group.finish();
}

fn insert_like_meshery(connection: &rusqlite::Connection, event: &Event) {
    let blob = |id: Option<Uuid>| id.map(|id| id.as_bytes().to_vec());
    let nanos = |t: tidings::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos()).unwrap_or(0);
    connection
        .execute(
            "INSERT INTO tidings_events (id, operation_id, user_id, system_id, acted_upon, category, \
             action, severity, status, description, metadata, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            rusqlite::params![
                event.id().as_bytes(),
                event.operation_id().as_bytes(),
                blob(event.user_id()),
                blob(event.system_id()),
                blob(event.acted_upon()),
                event.category().as_str(),
                event.action().as_str(),
                event.severity().as_str(),
                event.status().as_str(),
                event.description(),
                serde_json::to_string(event.metadata()).expect("JSON"),
                nanos(event.created_at()),
                nanos(event.updated_at()),
            ],
        )
        .expect("inserted");
}

criterion_group!(benches, sqlite_writer);
criterion_main!(benches);
