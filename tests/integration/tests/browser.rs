//! The notification center in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`). The page shows an event triggered over HTTP by an
//! annotated handler without a reload, marks it read, and its unread count drops.
//!
//! Needs the browser, so it is built only with the `browser-test` feature:
//! `cargo test -p tidings-integration-tests --features browser-test --test browser` (`.ci/run`
//! installs the packages and runs it). It leaves a screenshot in cargo's scratch directory
//! (`target/tmp/notification-center.png` by default) and prints where.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use reqwest::Client;
use serde_json::{Value, json};
use tidings::{Emitter, Uuid, current, emits_event};

const COOKIE: &str = "tidings_user";

fn user_of(parts: &Parts) -> Option<Uuid> {
    let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
}

#[emits_event(
    category = "connection",
    action = "ping",
    user = user,
    emitter = events,
    description = "Pinged connection {name}"
)]
async fn ping(events: &Emitter, user: Uuid, name: String) -> Result<String, std::io::Error> {
    if name == "staging" {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
    }
    current::meta("Context Name", name.clone());
    Ok(name)
}

async fn app(events: Emitter) -> String {
    let ping_events = events.clone();
    let router = axum::Router::new()
        .route(
            "/",
            get(|parts: Parts| async move {
                let page = tidings::web::notification_center().await;
                if user_of(&parts).is_some() {
                    page.into_response()
                } else {
                    let cookie = format!("{COOKIE}={}; Path=/", Uuid::new_v4());
                    ([(header::SET_COOKIE, cookie)], page).into_response()
                }
            }),
        )
        .route(
            "/ping/{name}",
            post(
                move |parts: Parts, axum::extract::Path(name): axum::extract::Path<String>| {
                    let events = ping_events.clone();
                    async move {
                        let user = user_of(&parts).expect("the test sends the cookie");
                        ping(&events, user, name)
                            .await
                            .unwrap_or_else(|e| e.to_string())
                    }
                },
            ),
        )
        .nest_service("/api/events", tidings::web::router(events, user_of));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// chromedriver, ended when dropped.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it gives a value or `what` has taken 30 seconds.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Session {
    client: Client,
    url: String,
}

impl Session {
    /// Opens (or reloads) the notification center and waits until its live stream is up.
    async fn open_live(&self, base: &str) {
        self.call(
            reqwest::Method::POST,
            "/url",
            Some(json!({"url": format!("{base}/")})),
        )
        .await;
        wait_for("the live stream", || async {
            (self.texts("#state").await == ["live"]).then_some(())
        })
        .await;
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        response["value"].clone()
    }

    /// The WebDriver ids of the elements matching a CSS selector.
    async fn find(&self, selector: &str) -> Vec<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": selector})),
            )
            .await;
        // Each element is an object whose one value is its id.
        found
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|element| {
                element
                    .as_object()?
                    .values()
                    .next()?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The text of the elements matching a CSS selector.
    async fn texts(&self, selector: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for id in self.find(selector).await {
            let text = self
                .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await;
            texts.push(text.as_str().unwrap_or_default().to_owned());
        }
        texts
    }

    /// Clicks the first element matching a CSS selector.
    async fn click(&self, selector: &str) {
        let id = self
            .find(selector)
            .await
            .into_iter()
            .next()
            .expect("an element to click");
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_appears_live_and_is_marked_read() {
    let port = free_port();
    let driver = Driver {
        child: Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let status_url = format!("{}/status", driver.base);
    wait_for("chromedriver", || {
        let request = client.get(&status_url).send();
        async move { request.await.ok().filter(|r| r.status().is_success()) }
    })
    .await;

    let profile = std::env::temp_dir().join(format!("tidings-chromium-{}", Uuid::new_v4()));
    let created: Value = client
        .post(format!("{}/session", driver.base))
        .json(&json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1000,800",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_id = created["value"]["sessionId"]
        .as_str()
        .expect("a WebDriver session")
        .to_owned();
    let session = Session {
        client: client.clone(),
        url: format!("{}/session/{session_id}", driver.base),
    };

    let events = Emitter::new();
    let base = app(events.clone()).await;
    session.open_live(&base).await;
    assert_eq!(session.texts("#unread").await, ["0"]);
    let cookie = session
        .call(reqwest::Method::GET, &format!("/cookie/{COOKIE}"), None)
        .await;
    let user = cookie["value"]
        .as_str()
        .expect("the page set the demo user cookie")
        .to_owned();

    // An event stored while the page is closed: a reload must load it (the count "1" cannot be
    // the page's static "0").
    let earlier = tidings::Event::builder()
        .from_user(user.parse().expect("a user id"))
        .category("system")
        .action("notice")
        .severity(tidings::Severity::Informational)
        .description("Stored before the page loaded")
        .build()
        .unwrap();
    events.emit(earlier).unwrap();
    session.open_live(&base).await;
    assert_eq!(session.texts("#unread").await, ["1"], "loaded from the API");

    // Annotated handlers, over HTTP, as the browser's user: one that fails, one that succeeds.
    for name in ["staging", "minikube"] {
        let answer = client
            .post(format!("{base}/ping/{name}"))
            .header("cookie", format!("{COOKIE}={user}"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    let shown = wait_for("the notification", || async {
        let texts = session
            .texts("li[data-severity=\"success\"] .description")
            .await;
        (!texts.is_empty()).then_some(texts)
    })
    .await;
    assert_eq!(shown, ["Pinged connection minikube"]);
    let failure = session
        .texts("li[data-severity=\"error\"] details summary")
        .await;
    assert_eq!(
        failure,
        ["connection refused"],
        "the error's message is shown"
    );
    wait_for("the unread count", || async {
        (session.texts("#unread").await == ["3"]).then_some(())
    })
    .await;

    let screenshot = session
        .call(reqwest::Method::GET, "/screenshot", None)
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(screenshot.as_str().unwrap())
        .unwrap();
    // Where cargo keeps the target directory's scratch files, wherever CARGO_TARGET_DIR is.
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("notification-center.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());

    // The newest (the success) is first; mark it read.
    session
        .click("li[data-severity=\"success\"] .mark-read")
        .await;
    wait_for("the unread count to drop", || async {
        (session.texts("#unread").await == ["2"]).then_some(())
    })
    .await;
    let stored = events
        .store()
        .unwrap()
        .query(&tidings::EventQuery::new())
        .unwrap();
    assert_eq!(stored.events[0].status(), tidings::Status::Read);
    assert_eq!(stored.events[1].status(), tidings::Status::Unread);
    assert_eq!(stored.events[2].status(), tidings::Status::Unread);

    session.call(reqwest::Method::DELETE, "", None).await;
    drop(driver);
    let _ = std::fs::remove_dir_all(profile);
}
