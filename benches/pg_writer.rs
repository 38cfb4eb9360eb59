//! Events per second into PostgreSQL, in one run on one server: through the batched background
//! writer of `PgStore` (one transaction per batch, under the ordering lock, one `NOTIFY`), and
//! with one such transaction per event (the same store with inline writes). Then the ways of
//! inserting a batch of rows that the store could use, on the same table: a multi-row
//! `INSERT ... VALUES`, `INSERT ... SELECT FROM unnest(...)` (what the store does, the order
//! lock taken by the statement itself), binary `COPY`, and binary `COPY` into a temporary
//! staging table then `INSERT ... SELECT` from it. Last, repeats through the background writer
//! (issue #30): folded (`coalesce`) and unchanged (`emit_on = "change"`) events against events
//! stored as new.
//!
//! Needs a PostgreSQL server: `TIDINGS_TEST_PG` (default postgres://postgres@127.0.0.1:5432);
//! each measurement makes a fresh database there and drops it.
//!
//! `cargo bench -p tidings --features postgres --bench pg_writer`

#[path = "../tests/integration/tests/pg/mod.rs"]
mod pg;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pg::TestDb;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{Json, ToSql, Type};
use tidings::{Emitter, Event, PgStore, Repeat, Severity, Uuid};

/// Events per measured burst through the background writer.
const BATCHED: usize = 20_000;
/// Events per measured burst with one transaction each (about a thousand a second).
const ONE_BY_ONE: usize = 1_000;
/// Rows per measured insert of each method.
const ROWS: usize = 10_000;

fn events(n: usize) -> Vec<Event> {
    let users: Vec<Uuid> = (0..100).map(|_| Uuid::new_v4()).collect();
    (0..n)
        .map(|i| {
            Event::builder()
                .from_user(users[i % users.len()])
                .acted_upon(Uuid::new_v4())
                .category("pattern")
                .action("deploy")
                .description("Deployed design web-frontend")
                .meta("n", i)
                .build()
                .expect("a valid event")
        })
        .collect()
}

/// One measured burst: `batch` emitted through a fresh database's store (its background writer,
/// or inline writes), then flushed; the time it took, and the database, to look at what is left.
fn burst(background: bool, batch: Vec<Event>) -> (Duration, TestDb) {
    let db = TestDb::new();
    let store = PgStore::connect(&db.url).expect("a database");
    let builder = Emitter::builder().store(store);
    let emitter = if background {
        builder.build()
    } else {
        builder.inline_writes().build()
    };
    let start = Instant::now();
    for event in batch {
        black_box(emitter.emit(event).expect("accepted"));
    }
    emitter.flush().expect("stored and published");
    let took = start.elapsed();
    assert_eq!(emitter.failures(), 0);
    drop(emitter);
    (took, db)
}

/// Events per measured burst of repeats through the background writer.
const REPEATS: usize = 5_000;

/// `n` events of 100 users, each user's of one kind (the same `acted_upon`), with `repeat`.
fn repeated(n: usize, repeat: Repeat) -> Vec<Event> {
    let users: Vec<(Uuid, Uuid)> = (0..100).map(|_| (Uuid::new_v4(), Uuid::new_v4())).collect();
    (0..n)
        .map(|i| {
            let (user, cluster) = users[i % users.len()];
            Event::builder()
                .from_user(user)
                .acted_upon(cluster)
                .category("connection")
                .action("retry")
                .severity(Severity::Warning)
                .description("Could not reach the cluster")
                .repeat(repeat)
                .build()
                .expect("a valid event")
        })
        .collect()
}

/// Repeats through the background writer: each batch's events of a rule are decided in the
/// writer's ordered transaction (the newest of their kind read `FOR UPDATE`), against the same
/// number of events stored as new.
fn pg_repeats(c: &mut Criterion) {
    let mut group = c.benchmark_group("pg_repeat");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(REPEATS as u64));
    for (name, repeat) in [
        ("stored", Repeat::Keep),
        ("folded", Repeat::Coalesce(Duration::from_secs(600))),
        ("unchanged", Repeat::OnChange),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    let (took, db) = burst(true, repeated(REPEATS, repeat));
                    spent += took;
                    let expected = if repeat == Repeat::Keep { REPEATS } else { 100 };
                    assert_eq!(
                        db.count(),
                        expected as i64,
                        "{name}: the rows the rule leaves"
                    );
                }
                spent
            });
        });
    }
    group.finish();
}

fn pg_writer(c: &mut Criterion) {
    let mut group = c.benchmark_group("pg_insert");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (name, background, n) in [
        ("batched_background_writer", true, BATCHED),
        ("one_transaction_per_event", false, ONE_BY_ONE),
    ] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                (0..iterations)
                    .map(|_| burst(background, events(n)).0)
                    .sum()
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pg_insert_method");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(ROWS as u64));
    type Method = fn(&mut postgres::Transaction<'_>, &[Event]);
    let methods: [(&str, Method); 4] = [
        ("multi_row_values", multi_row_values),
        ("unnest", unnest),
        ("copy_binary", copy_binary),
        ("copy_staged", copy_staged),
    ];
    for (name, method) in methods {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    let db = TestDb::new();
                    drop(PgStore::connect(&db.url).expect("the schema"));
                    let mut client = db.client();
                    let rows = events(ROWS);
                    let start = Instant::now();
                    let mut transaction = client.transaction().expect("a transaction");
                    method(&mut transaction, &rows);
                    transaction.commit().expect("committed");
                    spent += start.elapsed();
                }
                spent
            });
        });
    }
    group.finish();
}

const COLUMNS: &str = "id, operation_id, user_id, system_id, acted_upon, category, action, \
    severity, status, description, metadata, created_at, updated_at";

/// The columns' types, in the order of `COLUMNS`: the store's, after its staging table's `n`.
const COLUMN_TYPES: &[Type] = PgStore::__STAGING_TYPES.split_at(1).1;

/// A staging table for `copy_staged`.
const STAGING: &str = "CREATE TEMPORARY TABLE tidings_staging (n integer NOT NULL, \
    LIKE tidings_events INCLUDING DEFAULTS) ON COMMIT DROP";

/// Rows of 13 values each.
struct Values<'a> {
    ids: [Uuid; 2],
    optional: [Option<Uuid>; 3],
    texts: [&'a str; 5],
    metadata: Json<&'a tidings::Map<String, tidings::Value>>,
    times: [tidings::OffsetDateTime; 2],
}

impl<'a> Values<'a> {
    fn of(event: &'a Event) -> Values<'a> {
        Values {
            ids: [event.id(), event.operation_id()],
            optional: [event.user_id(), event.system_id(), event.acted_upon()],
            texts: [
                event.category().as_str(),
                event.action().as_str(),
                event.severity().as_str(),
                event.status().as_str(),
                event.description(),
            ],
            metadata: Json(event.metadata()),
            times: [event.created_at(), event.updated_at()],
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.ids[0],
            &self.ids[1],
            &self.optional[0],
            &self.optional[1],
            &self.optional[2],
            &self.texts[0],
            &self.texts[1],
            &self.texts[2],
            &self.texts[3],
            &self.texts[4],
            &self.metadata,
            &self.times[0],
            &self.times[1],
        ]
    }
}

fn multi_row_values(transaction: &mut postgres::Transaction<'_>, events: &[Event]) {
    // At most 65,535 parameters a statement: 1,000 rows of 13 each.
    for chunk in events.chunks(1_000) {
        let values: Vec<Values<'_>> = chunk.iter().map(Values::of).collect();
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().flat_map(|v| v.params()).collect();
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let marks: Vec<String> = (1..=13).map(|c| format!("${}", r * 13 + c)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        transaction
            .execute(
                &format!(
                    "INSERT INTO tidings_events ({COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING",
                    rows.join(", ")
                ),
                &params,
            )
            .expect("inserted");
    }
}

/// The store's statement: one array per column, and the order lock.
fn unnest(transaction: &mut postgres::Transaction<'_>, events: &[Event]) {
    let values: Vec<Values<'_>> = events.iter().map(Values::of).collect();
    let uuids = |i: usize| values.iter().map(|v| v.ids[i]).collect::<Vec<_>>();
    let optional = |i: usize| values.iter().map(|v| v.optional[i]).collect::<Vec<_>>();
    let texts = |i: usize| values.iter().map(|v| v.texts[i]).collect::<Vec<_>>();
    let times = |i: usize| values.iter().map(|v| v.times[i]).collect::<Vec<_>>();
    let metadata: Vec<_> = values.iter().map(|v| Json(v.metadata.0)).collect();
    let (ids, operations) = (uuids(0), uuids(1));
    let (users, systems, acted) = (optional(0), optional(1), optional(2));
    let (categories, actions, severities, statuses, descriptions) =
        (texts(0), texts(1), texts(2), texts(3), texts(4));
    let (created, updated) = (times(0), times(1));
    transaction
        .query(
            PgStore::__INSERT,
            &[
                &ids,
                &operations,
                &users,
                &systems,
                &acted,
                &categories,
                &actions,
                &severities,
                &statuses,
                &descriptions,
                &metadata,
                &created,
                &updated,
                &PgStore::__ORDER_LOCK,
            ],
        )
        .expect("inserted");
}

fn copy_binary(transaction: &mut postgres::Transaction<'_>, events: &[Event]) {
    let sink = transaction
        .copy_in(&format!(
            "COPY tidings_events ({COLUMNS}) FROM STDIN BINARY"
        ))
        .expect("COPY starts");
    let mut writer = BinaryCopyInWriter::new(sink, COLUMN_TYPES);
    for event in events {
        writer
            .write(&Values::of(event).params())
            .expect("a row written");
    }
    writer.finish().expect("COPY done");
}

/// `COPY` into a staging table (created in the transaction here), then one `INSERT ... SELECT`
/// in the batch's order: what the store did for a moment in issue #29.
fn copy_staged(transaction: &mut postgres::Transaction<'_>, events: &[Event]) {
    transaction
        .batch_execute(STAGING)
        .expect("the staging table");
    let sink = transaction
        .copy_in(&format!(
            "COPY tidings_staging (n, {COLUMNS}) FROM STDIN BINARY"
        ))
        .expect("COPY starts");
    let mut writer = BinaryCopyInWriter::new(sink, &PgStore::__STAGING_TYPES);
    for (n, event) in (0_i32..).zip(events) {
        let values = Values::of(event);
        let mut row: Vec<&(dyn ToSql + Sync)> = vec![&n];
        row.extend(values.params());
        writer.write(&row).expect("a row written");
    }
    writer.finish().expect("COPY done");
    transaction
        .execute(
            &format!(
                "INSERT INTO tidings_events ({COLUMNS}) SELECT {COLUMNS} FROM tidings_staging \
                 ORDER BY n ON CONFLICT (id) DO NOTHING"
            ),
            &[],
        )
        .expect("inserted");
}

criterion_group!(benches, pg_writer, pg_repeats);
criterion_main!(benches);
