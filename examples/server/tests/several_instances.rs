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
    let dir = std::env::temp_dir().join(format!("tidings-example-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    Server::start_with(&["--pg", &db.url], dir)
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
    // The test database is made and dropped outside the async runtime (its client blocks).
    let db = TestDb::new();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(Box::pin(stream_across_instances(&db)));
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
