//! The example server itself (`cargo test` builds it first), on an ephemeral port.

use std::process::Command;

use serde_json::Value;

/// The example server itself, on an ephemeral port: the page gives a demo user, the annotated
/// handlers emit through SQLite, and the events API shows the user's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_serves_the_page_the_handlers_and_the_api() {
    use std::io::{BufRead, BufReader};

    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let dir = std::env::temp_dir().join(format!("tidings-example-{}", tidings::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(path.join("examples").join("server"))
        .args(["--port", "0", "--db"])
        .arg(dir.join("events.db"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let base = banner
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_owned();

    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
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
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
