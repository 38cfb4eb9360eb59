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

/// Meshery's UI, replayed: the requests its notification center sends, in its order and shapes
/// (`../shared/reference/meshery-wire-contract.md`), against the example's Meshery mount, each
/// answer read the way the UI reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meshery_ui_requests_work_against_the_meshery_mount() {
    let server = Server::start();
    let api = format!("{}/api/system/events", server.base);
    let client = reqwest::Client::new();
    let cookie = server.cookie(&client).await;
    let get = |query: &str| {
        client
            .get(format!("{api}{query}"))
            .header("cookie", &cookie)
            .send()
    };
    for path in [
        "/api/connections/minikube/ping",
        "/api/connections/staging/ping",
        "/api/designs/web-frontend/deploy",
        "/api/designs/api-gateway/deploy",
    ] {
        client
            .post(format!("{}{path}", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
    }
    // The page of events, as the UI asks for it (with the `author` filter it sends).
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page: Value = get("?page=0&sort=created_at&order=desc&pagesize=15&author=")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["totalCount"] == 4 {
            break page;
        }
        assert!(Instant::now() < deadline, "events never stored: {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(page["readCount"], 0);
    // The error details the UI renders: MeshKit's shape, under `error`, derived from `err`.
    let failed = events.iter().find(|e| e["severity"] == "error").unwrap();
    assert_eq!(
        failed["metadata"]["error"]["ShortDescription"][0],
        failed["metadata"]["err"]["message"]
    );
    assert_eq!(failed["metadata"]["error"]["Severity"], 1);
    assert_eq!(
        failed["metadata"]["error"]["LongDescription"][0],
        "connection refused"
    );

    // The bell's summary.
    let summary: Value = get("?page=0&pagesize=1&status=unread")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        summary["countBySeverityLevel"],
        serde_json::json!([{"severity": "error", "count": 1}, {"severity": "success", "count": 3}])
    );
    // A severity clicked in the badge: one JSON array, as the UI sends it.
    let errors: Value = get("?severity=%5B%22error%22%5D&status=unread")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(errors["totalCount"], 1);
    assert_eq!(errors["events"][0]["id"], failed["id"]);

    // Mark one read, then two in bulk; the read count follows.
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let answer = client
        .put(format!("{api}/status/{}", ids[0]))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"status": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer = client
        .put(format!("{api}/status/bulk"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"ids": [ids[1], ids[2]], "status": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let page: Value = get("?page=0&pagesize=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["readCount"], 3);

    // Delete one, then the rest in bulk.
    let answer = client
        .delete(format!("{api}/{}", ids[0]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    let answer = client
        .delete(format!("{api}/bulk"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"ids": [ids[1], ids[2], ids[3]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    let page: Value = get("?page=0&pagesize=15")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["totalCount"], 0);

    // The filter menu's choices.
    let types: Value = get("/types").await.unwrap().json().await.unwrap();
    assert!(
        types["category"].is_array() && types["action"].is_array(),
        "{types}"
    );
}

/// `--help` prints the usage and exits 0; an unknown argument is an error that names it.
#[test]
fn help_prints_the_usage_and_an_unknown_argument_is_named() {
    let help = std::process::Command::new(common::binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success(), "{help:?}");
    let usage = String::from_utf8(help.stdout).unwrap();
    assert!(usage.starts_with("usage: server"), "{usage}");
    for option in ["--port", "--db", "--pg", "--memory"] {
        assert!(usage.contains(option), "{option} in {usage}");
    }
    let wrong = std::process::Command::new(common::binary())
        .arg("--prot")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    let error = String::from_utf8(wrong.stderr).unwrap();
    assert!(error.contains("unknown argument \"--prot\""), "{error}");
    assert!(error.contains("--help"), "{error}");
}

/// A client that opens a live stream and never reads it, while events are sent to it, holds its
/// connection open: a graceful shutdown would wait for it forever. The server exits all the same
/// once the shutdown deadline has passed, and every event emitted before the signal is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_shutdown_no_longer_than_the_deadline() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("tidings-example-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("events.db").display().to_string();
    let mut server = Server::start_with(&["--db", &db, "--shutdown-deadline", "1"], dir);
    let client = reqwest::Client::new();
    let cookie = server.cookie(&client).await;
    let user: Uuid = server.user(&client, &cookie).await;
    // The stream, asked for over a plain socket that is never read.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut idle = std::net::TcpStream::connect(&address).unwrap();
    write!(
        idle,
        "GET /api/events/subscribe HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    // Far more than the socket buffers hold: the server's writes to it block.
    const EVENTS: usize = 400;
    let large = "l".repeat(60_000);
    for _ in 0..EVENTS {
        let answer = client
            .post(format!("{}/api/events", server.base))
            .header("cookie", &cookie)
            .json(
                &serde_json::json!({"category": "design", "action": "import",
                "severity": "informational", "description": large}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    }
    let pid = server.child.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "the server was still running 30 s after SIGTERM, held by a client that never reads"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!(
        "SIGTERM with a stalled stream: exited {:?} after the signal",
        sent.elapsed()
    );
    assert!(exited.success(), "{exited}");
    assert!(
        sent.elapsed() >= Duration::from_secs(1),
        "it waited for the deadline"
    );
    drop(idle);
    let store = SqliteStore::open(server.dir.join("events.db")).unwrap();
    let stored = store
        .query(&EventQuery::new().user(user).page_size(PageSize::Limit(1)))
        .unwrap();
    assert_eq!(
        stored.total, EVENTS,
        "every event emitted before the signal is stored"
    );
}

/// The operator's view of the example server: `/health` is ready, and `/metrics` counts what
/// the annotated handlers emitted, in Prometheus' text format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_serves_health_and_metrics() {
    let server = Server::start();
    let client = reqwest::Client::new();
    let cookie = server.cookie(&client).await;
    for design in ["web-frontend", "api"] {
        let answer = client
            .post(format!("{}/api/designs/{design}/deploy", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let health = client
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["ready"], true);
    let emitted = server
        .counter(&client, "tidings_events_emitted_total")
        .await;
    assert!(emitted >= 2.0, "tidings_events_emitted_total is {emitted}");
}
