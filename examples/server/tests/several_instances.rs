//! Three example-server processes on one PostgreSQL database: a live stream on one instance
//! sees what the others emit, and resumes on another with `Last-Event-ID`.

mod common;
#[path = "../../../tests/integration/tests/pg/mod.rs"]
mod pg;

use std::time::Duration;

use common::{Frame, Frames, Server};
use pg::TestDb;
use tidings::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn instance(db: &TestDb) -> Server {
    instance_at(&db.url)
}

/// An instance on the database at `url`.
fn instance_at(url: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("tidings-example-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    Server::start_with(&["--pg", url], dir)
}

/// Runs a test's async part on a runtime of its own; the test database is made and dropped
/// outside it (its client blocks).
fn run(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(Box::pin(test));
}

async fn deploy(client: &reqwest::Client, server: &Server, cookie: &str, design: &str) {
    let answer = client
        .post(format!("{}/api/designs/{design}/deploy", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

async fn subscribe(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    last: Option<&str>,
) -> Frames {
    let mut request = client
        .get(format!("{}/api/events/subscribe", server.base))
        .header("cookie", cookie);
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    Frames::new(request.send().await.unwrap())
}

/// The design a frame's event is about.
fn design(frame: &Frame) -> String {
    let event: serde_json::Value = serde_json::from_str(&frame.data).unwrap();
    event["metadata"]["Design"].as_str().unwrap().to_owned()
}

/// The database's calls block: off the executor's threads.
fn ids_of(db: &TestDb, user: Uuid) -> Vec<Uuid> {
    tokio::task::block_in_place(|| db.ids_of(user))
}

#[test]
fn a_stream_on_one_instance_sees_the_others_live_and_resumes_on_a_third() {
    let db = TestDb::new();
    run(stream_across_instances(&db));
}

async fn stream_across_instances(db: &TestDb) {
    let (a, b, c) = (instance(db), instance(db), instance(db));
    let client = reqwest::Client::new();
    let cookie = a.cookie(&client).await;
    let user: Uuid = a.user(&client, &cookie).await;

    // Live on A, emitted on B and C.
    let mut on_a = subscribe(&client, &a, &cookie, None).await;
    for i in 0..6 {
        let server = if i % 2 == 0 { &b } else { &c };
        deploy(&client, server, &cookie, &format!("live-{i}")).await;
        let frame = on_a
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("the event emitted on another instance reached A live"));
        assert_eq!(design(&frame), format!("live-{i}"));
    }
    let last_seen = ids_of(db, user).last().unwrap().to_string();
    drop(on_a);

    // Missed while disconnected, then resumed on C with the last id A gave.
    for i in 0..4 {
        deploy(&client, &b, &cookie, &format!("missed-{i}")).await;
    }
    let mut on_c = subscribe(&client, &c, &cookie, Some(&last_seen)).await;
    let stored = ids_of(db, user);
    for (i, id) in stored[6..].iter().enumerate() {
        let frame = on_c.next(WAIT).await.expect("a missed event is replayed");
        assert_eq!(frame.id.as_deref(), Some(id.to_string().as_str()));
        assert_eq!(design(&frame), format!("missed-{i}"));
    }
    // Then live again, with nothing repeated in between.
    deploy(&client, &a, &cookie, "after").await;
    let frame = on_c.next(WAIT).await.expect("live after the replay");
    assert_eq!(design(&frame), "after");
    assert_eq!(stored.len(), 10);
    drop((a, b, c));
}

/// An instance of the database `db` whose connections carry `name` (its writer's is
/// `{name}-writer`).
fn named_instance(db: &TestDb, name: &str) -> Server {
    instance_at(&format!("{}?application_name={name}", db.url))
}

/// Whether the writer of the instance named `name` holds the order lock (an advisory lock,
/// granted) now, in whatever state its session is.
fn holds_order_lock(db: &TestDb, name: &str) -> bool {
    tokio::task::block_in_place(|| {
        db.client()
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                 WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1 \
                 AND a.application_name = $2",
                &[&db.name, &format!("{name}-writer")],
            )
            .map(|row| row.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    })
}

fn signal(server: &Server, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal}");
}

#[test]
fn an_instance_stopped_while_it_holds_the_order_lock_stops_no_other() {
    let db = TestDb::new();
    run(stopped_instance(&db));
}

async fn stopped_instance(db: &TestDb) {
    let (a, b, c) = (
        named_instance(db, "inst-a"),
        named_instance(db, "inst-b"),
        named_instance(db, "inst-c"),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let cookie = a.cookie(&client).await;
    let user: Uuid = a.user(&client, &cookie).await;
    let mut on_c = subscribe(&client, &c, &cookie, None).await;

    // B is kept busy storing; it is stopped (SIGSTOP, as a VM pause would) at a moment its
    // writer holds the order lock, and still holds it once stopped.
    let mut sent_to_b = 0;
    let mut b_requests = Vec::new();
    let stopped = loop {
        assert!(
            sent_to_b < 20_000,
            "B's writer was never caught holding the order lock"
        );
        for _ in 0..10 {
            let (client, cookie, base) = (client.clone(), cookie.clone(), b.base.clone());
            let design = format!("b-{sent_to_b}");
            sent_to_b += 1;
            b_requests.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/api/designs/{design}/deploy"))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .map(|answer| answer.status().as_u16())
            }));
        }
        if holds_order_lock(db, "inst-b") {
            signal(&b, "-STOP");
            if holds_order_lock(db, "inst-b") {
                break true;
            }
            signal(&b, "-CONT");
        }
    };
    assert!(stopped);

    // A goes on: its events are stored and reach C's stream live, within the bound of B's
    // session (half the write timeout, 5 s) and a margin; C's stream sees B's delivered ones
    // first, as they were stored before.
    for i in 0..5 {
        deploy(&client, &a, &cookie, &format!("a-{i}")).await;
    }
    let mut from_a = Vec::new();
    while from_a.len() < 5 {
        let frame = on_c
            .next(Duration::from_secs(20))
            .await
            .expect("A's events reach C while B is stopped");
        let name = design(&frame);
        if name.starts_with("a-") {
            from_a.push(name);
        }
    }
    assert_eq!(from_a, ["a-0", "a-1", "a-2", "a-3", "a-4"]);

    // B resumes: its held batch is stored once, and every request it answered 200 is stored.
    signal(&b, "-CONT");
    let mut answered = 0;
    for request in b_requests {
        if matches!(request.await.unwrap(), Ok(200)) {
            answered += 1;
        }
    }
    assert_eq!(answered, sent_to_b, "B answered every request once resumed");
    // Answered means queued: wait until B's writer has stored what it held.
    let read = || {
        tokio::task::block_in_place(|| {
            db.client()
                .query(
                    "SELECT metadata->>'Design' FROM tidings_events WHERE user_id = $1",
                    &[&user],
                )
                .unwrap()
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut stored = read();
    while stored.len() < sent_to_b + 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = read();
    }
    let distinct: std::collections::HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "no event is stored twice");
    for i in 0..sent_to_b {
        assert!(
            distinct.contains(&format!("b-{i}")),
            "b-{i} is stored once B resumed"
        );
    }
    assert_eq!(stored.len(), sent_to_b + 5);
    drop((a, b, c));
}

/// How many events an instance has handed to its store and the store has decided on (stored,
/// folded into another, or not stored as unchanged).
async fn decided(client: &reqwest::Client, server: &Server) -> f64 {
    let mut sum = 0.0;
    for name in [
        "tidings_events_stored_total",
        "tidings_events_folded_total",
        "tidings_events_unchanged_total",
    ] {
        sum += server.counter(client, name).await;
    }
    sum
}

/// Waits until `server` has decided on `expected` events.
async fn wait_decided(client: &reqwest::Client, server: &Server, expected: f64) {
    let deadline = std::time::Instant::now() + WAIT;
    while decided(client, server).await < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "{} decided on {} events, not {expected}",
            server.base,
            decided(client, server).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(count, severity)` of the user's stored events of a category, in the store's order.
fn rows_of(db: &TestDb, user: Uuid, category: &str) -> Vec<(i32, String)> {
    tokio::task::block_in_place(|| {
        db.client()
            .query(
                "SELECT count, severity FROM tidings_events WHERE user_id = $1 AND category = $2 \
                 ORDER BY seq",
                &[&user, &category],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    })
}

#[test]
fn three_instances_fold_the_same_repeats_into_one_event_and_agree_on_state_changes() {
    let db = TestDb::new();
    run(repeats_across_instances(&db));
}

async fn repeats_across_instances(db: &TestDb) {
    let (a, b, c) = (instance(db), instance(db), instance(db));
    let client = reqwest::Client::new();
    let cookie = a.cookie(&client).await;
    let user: Uuid = a.user(&client, &cookie).await;
    let servers = [&a, &b, &c];

    // 60 failed reconnects of one connection, 20 on each instance, all at once.
    let connection = Uuid::new_v4();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..60 {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = format!(
            "{}/api/connections/{connection}/reconnect",
            servers[i % 3].base
        );
        calls.spawn(async move {
            client
                .post(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), 502, "the demo's reconnect fails");
    }
    for server in servers {
        wait_decided(&client, server, 20.0).await;
    }
    assert_eq!(
        rows_of(db, user, "connection"),
        [(60, "error".to_owned())],
        "one event, counted 60 times"
    );
    let folded: f64 = {
        let mut sum = 0.0;
        for server in servers {
            sum += server.counter(&client, "tidings_events_folded_total").await;
        }
        sum
    };
    assert_eq!(folded, 59.0, "every repeat folded, on whichever instance");

    // A cluster probed in turn on the three instances: only its changes are stored.
    let cluster = Uuid::new_v4();
    let states = ["down", "down", "down", "up", "up", "down", "down", "up"];
    let mut handed = [20.0; 3];
    for (i, state) in states.iter().enumerate() {
        let server = servers[i % 3];
        client
            .post(format!(
                "{}/api/clusters/{cluster}/probe/{state}",
                server.base
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        // Decided before the next probe, so that the probes' order is the store's.
        handed[i % 3] += 1.0;
        wait_decided(&client, server, handed[i % 3]).await;
    }
    let changes: Vec<String> = rows_of(db, user, "cluster")
        .into_iter()
        .map(|(count, severity)| {
            assert_eq!(count, 1);
            severity
        })
        .collect();
    assert_eq!(changes, ["error", "success", "error", "success"]);
    drop((a, b, c));
}
