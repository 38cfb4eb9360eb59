//! The example server itself (built by the test), on an ephemeral port.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;
use tidings::{EventQuery, EventStore, PageSize, SqliteStore, Uuid};

/// Open live streams, events emitted, then the signal: the server ends the streams, exits
/// cleanly, and the database holds every event emitted before the signal.
async fn shutdown_on(signal: &str) {
    const EVENTS: usize = 200;
    let mut server = Server::start();
    let client = reqwest::Client::new();
    let cookie = server.cookie(&client).await;
    let user: Uuid = server.user(&client, &cookie).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let stream = client
            .get(format!("{}/api/events/subscribe", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        // Each reads until its stream ends; a clean end is `Ok`.
        streams.push(tokio::spawn(async move {
            stream.bytes().await.map(|b| b.len())
        }));
    }
    for i in 0..EVENTS {
        let answer = client
            .post(format!("{}/api/designs/design-{i}/deploy", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    let pid = server.child.id().to_string();
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {signal} {pid}");
    let exited = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "the server was still running 10 s after SIG{signal}, with live streams open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!(
        "SIG{signal}: the server exited {:?} after the signal",
        sent.elapsed()
    );
    assert!(
        exited.success(),
        "after SIG{signal} the server exited with {exited}"
    );
    for stream in streams {
        let body = stream.await.unwrap();
        assert!(body.is_ok(), "a live stream did not end cleanly: {body:?}");
    }

    let store = SqliteStore::open(server.dir.join("events.db")).unwrap();
    let stored = store
        .query(&EventQuery::new().user(user).page_size(PageSize::All))
        .unwrap();
    assert_eq!(
        stored.total, EVENTS,
        "events emitted before SIG{signal} missing from the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_open_streams_exits_and_keeps_every_event() {
    shutdown_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_with_open_streams_exits_and_keeps_every_event() {
    shutdown_on("INT").await;
}

/// The example server itself, on an ephemeral port: the page gives a demo user, the annotated
/// handlers emit through SQLite, and the events API shows the user's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_serves_the_page_the_handlers_and_the_api() {
    let server = Server::start();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let cookie = server.cookie(&client).await;
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Notifications"));
    for (path, status) in [
        ("/api/connections/minikube/ping", 200),
        ("/api/connections/staging/ping", 502),
        ("/api/designs/web-frontend/deploy", 200),
    ] {
        let answer = client
            .post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path}");
    }
    // The server's background writer stores events just after the handlers answer: wait for
    // all three (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let listed = loop {
        let listed: Value = client
            .get(format!("{base}/api/events?order=asc"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["totalCount"] == 3 {
            break listed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events never stored: {listed}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let severities: Vec<&str> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["success", "error", "success"]);
    assert_eq!(
        listed["events"][1]["metadata"]["err"]["causes"][0],
        "connection refused"
    );
    assert_eq!(listed["events"][2]["metadata"]["Design"], "web-frontend");
}
