//! What a repeat costs against an event stored as new (issue #30), in one process: per call on
//! the memory store (inline delivery), and per batch in the SQLite writer's transaction.
//! `cargo bench -p tidings --bench repeats`; the ratios are in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tidings::{Emitter, Event, EventStore, MemoryStore, Repeat, Severity, SqliteStore, Uuid};

fn event(user: Uuid, repeat: Repeat) -> Event {
    Event::builder()
        .from_user(user)
        .category("connection")
        .action("retry")
        .severity(Severity::Warning)
        .description("Could not reach the cluster")
        .repeat(repeat)
        .build()
        .unwrap()
}

fn per_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("repeat_per_call");
    let window = Repeat::Coalesce(Duration::from_secs(600));
    for (name, repeat) in [
        ("stored", Repeat::Keep),
        ("folded", window),
        ("unchanged", Repeat::OnChange),
    ] {
        let emitter = Emitter::builder()
            .store(MemoryStore::new())
            .inline_writes()
            .build();
        let user = Uuid::new_v4();
        group.bench_function(name, |b| {
            b.iter_batched(
                || event(user, repeat),
                |event| emitter.emit(event).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn in_the_writer(c: &mut Criterion) {
    let mut group = c.benchmark_group("repeat_sqlite_batch_of_100");
    let dir = std::env::temp_dir().join(format!("tidings-bench-repeats-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("events.db")).unwrap();
    let window = Repeat::Coalesce(Duration::from_secs(600));
    for (name, repeat) in [("stored", Repeat::Keep), ("folded", window)] {
        let user = Uuid::new_v4();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (0..100)
                        .map(|_| Arc::new(event(user, repeat)))
                        .collect::<Vec<_>>()
                },
                |batch| store.insert_batch(&batch),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, per_call, in_the_writer);
criterion_main!(benches);
