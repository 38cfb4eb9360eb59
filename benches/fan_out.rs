//! Publishing one event to 1, 16 and 256 subscribers of one user, each of which then receives
//! it, next to `tokio::sync::broadcast` with as many receivers, side by side in one run.
//!
//! `cargo bench --bench fan_out`, then `python3 benches/report.py fan_out_16 tokio_broadcast`
//! (and likewise for 1 and 256). Divide a median by the number of subscribers for the cost per
//! delivered event.

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
        group.finish();
    }
}

criterion_group!(benches, fan_out);
criterion_main!(benches);
