//! Publishing one event to 1, 16 and 256 subscribers of one user, each of which then receives
//! it, next to `tokio::sync::broadcast` with as many receivers, side by side in one run.
//!
//! `cargo bench --bench fan_out`, then `python3 benches/report.py fan_out_16 tokio_broadcast`
//! (and likewise for 1 and 256). Divide a median by the number of subscribers for the cost per
//! delivered event.
//!
//! `tokio_broadcast_per_user` is what a server written by hand does: one channel per user, found
//! by the event's user id in a `RwLock<HashMap>` with std's SipHash, as tidings' user map.
//!
//! `user_map_10000`: subscribing, publishing to and unsubscribing one more user while 10,000
//! are subscribed, with ids built to collide under a linear hash against random ids:
//! `python3 benches/report.py user_map_10000 random_ids`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tidings::{Broadcaster, Event, Uuid};

fn fan_out(c: &mut Criterion) {
    let user = Uuid::new_v4();
    let event = Arc::new(
        Event::builder()
            .from_user(user)
            .category("pattern")
            .action("deploy")
            .build()
            .expect("valid"),
    );
    for subscribers in [1_usize, 16, 256] {
        let mut group = c.benchmark_group(format!("fan_out_{subscribers}"));
        group.throughput(Throughput::Elements(subscribers as u64));

        let broadcaster = Broadcaster::with_capacity(16);
        let tabs: Vec<_> = (0..subscribers)
            .map(|_| broadcaster.subscribe(user))
            .collect();
        group.bench_function("tidings_broadcaster", |b| {
            b.iter(|| {
                broadcaster.publish(&event);
                for tab in &tabs {
                    black_box(tab.try_recv().expect("delivered"));
                }
            });
        });

        let (sender, _) = tokio::sync::broadcast::channel::<Arc<Event>>(16);
        let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
        group.bench_function("tokio_broadcast", |b| {
            b.iter(|| {
                sender.send(Arc::clone(&event)).expect("receivers exist");
                for receiver in &mut receivers {
                    black_box(receiver.try_recv().expect("delivered"));
                }
            });
        });

        // What a server written by hand does: one channel per user, found in a map by the
        // event's user id (std's `HashMap`, SipHash, as tidings' user map).
        let mut channels = std::collections::HashMap::new();
        for _ in 0..1000 {
            channels.insert(
                Uuid::new_v4(),
                tokio::sync::broadcast::channel::<Arc<Event>>(16).0,
            );
        }
        let (sender, _) = tokio::sync::broadcast::channel::<Arc<Event>>(16);
        let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
        channels.insert(user, sender);
        let channels = std::sync::RwLock::new(channels);
        group.bench_function("tokio_broadcast_per_user", |b| {
            b.iter(|| {
                let user = event.user_id().expect("has a user");
                if let Some(sender) = channels.read().expect("not poisoned").get(&user) {
                    sender.send(Arc::clone(&event)).expect("receivers exist");
                }
                for receiver in &mut receivers {
                    black_box(receiver.try_recv().expect("delivered"));
                }
            });
        });
        group.finish();
    }
}

/// Ids `(a ^ d, b ^ d.rotate_left(29))` in little-endian words: ids a client could choose to
/// collide under a linear hash (the hand-written one the user map had before).
fn colliding_ids(n: u64, salt: u64) -> Vec<Uuid> {
    let (a, b) = (0x0123_4567_89ab_cdef_u64 ^ salt, 0xfedc_ba98_7654_3210_u64);
    (0..n)
        .map(|i| {
            let d = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut bytes = [0_u8; 16];
            bytes[..8].copy_from_slice(&(a ^ d).to_le_bytes());
            bytes[8..].copy_from_slice(&(b ^ d.rotate_left(29)).to_le_bytes());
            Uuid::from_bytes(bytes)
        })
        .collect()
}

/// With 10,000 users subscribed, one more user subscribes, is published to, and leaves: ids
/// built to collide against random ids, side by side.
fn hostile_ids(c: &mut Criterion) {
    const USERS: u64 = 10_000;
    let mut group = c.benchmark_group("user_map_10000");
    for (name, present, extra) in [
        (
            "random_ids",
            (0..USERS).map(|_| Uuid::new_v4()).collect::<Vec<_>>(),
            (0..USERS).map(|_| Uuid::new_v4()).collect::<Vec<_>>(),
        ),
        (
            "colliding_ids",
            colliding_ids(USERS, 0),
            colliding_ids(USERS, 1 << 63),
        ),
    ] {
        let broadcaster = Broadcaster::with_capacity(4);
        let _tabs: Vec<_> = present.iter().map(|&u| broadcaster.subscribe(u)).collect();
        let events: Vec<_> = extra
            .iter()
            .map(|&user| {
                Arc::new(
                    Event::builder()
                        .from_user(user)
                        .category("pattern")
                        .action("deploy")
                        .build()
                        .expect("valid"),
                )
            })
            .collect();
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let event = &events[next % events.len()];
                next += 1;
                let tab = broadcaster.subscribe(event.user_id().expect("has a user"));
                black_box(broadcaster.publish(event));
                black_box(tab.try_recv().expect("delivered"));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, fan_out, hostile_ids);
criterion_main!(benches);
