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
        self.open_live_at(&format!("{base}/")).await;
    }

    /// Opens the notification center at `url` (with a query, say) and waits for its stream.
    async fn open_live_at(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
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

    /// An attribute of the first element matching a CSS selector.
    async fn attribute(&self, selector: &str, name: &str) -> String {
        let id = self
            .find(selector)
            .await
            .into_iter()
            .next()
            .expect("an element");
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/attribute/{name}"),
                None,
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The page's address.
    async fn current_url(&self) -> String {
        let value = self.call(reqwest::Method::GET, "/url", None).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Writes a screenshot next to cargo's scratch files and returns where.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let screenshot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(screenshot.as_str().unwrap())
            .unwrap();
        // Where cargo keeps the target directory's scratch files, wherever CARGO_TARGET_DIR is.
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).unwrap();
        path
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

    let path = session.screenshot("notification-center.png").await;
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

    // The header's unread counts per severity; one filters the list, in the page's address.
    wait_for("the counts by severity", || async {
        let counts = session.texts("#levels button").await;
        (counts == ["1 errors", "0 warnings", "0 successes", "1 informational"]).then_some(())
    })
    .await;
    session
        .click("#levels button[data-severity=\"error\"]")
        .await;
    wait_for("only the error shown", || async {
        let severities = session.find("li").await.len();
        let errors = session.find("li[data-severity=\"error\"]").await.len();
        (severities == 1 && errors == 1).then_some(())
    })
    .await;
    let filtered = session.current_url().await;
    assert!(filtered.ends_with("?severity=error"), "{filtered}");
    assert_eq!(
        session
            .attribute("#levels button[data-severity=\"error\"]", "aria-pressed")
            .await,
        "true"
    );
    // A linked (or reloaded) filtered view is the same view.
    session.open_live_at(&filtered).await;
    wait_for("the filtered view after a reload", || async {
        let shown = session.find("li").await.len();
        let errors = session.find("li[data-severity=\"error\"]").await.len();
        (shown == 1 && errors == 1).then_some(())
    })
    .await;
    // Pressed again, the filter goes.
    session
        .click("#levels button[data-severity=\"error\"]")
        .await;
    wait_for("every notification again", || async {
        (session.find("li").await.len() == 3).then_some(())
    })
    .await;
    assert!(session.current_url().await.ends_with('/'));

    // Times are relative, with the exact time on hover.
    let when = session.texts("li time").await;
    assert!(
        when.iter().all(|t| t.contains("now") || t.contains("ago")),
        "{when:?}"
    );
    assert!(!session.attribute("li time", "title").await.is_empty());

    // Delete one.
    session
        .click("li[data-severity=\"informational\"] .delete")
        .await;
    wait_for("the deleted notification gone", || async {
        (session.find("li").await.len() == 2).then_some(())
    })
    .await;
    let stored = events
        .store()
        .unwrap()
        .query(&tidings::EventQuery::new())
        .unwrap();
    assert_eq!(stored.total, 2, "deleted in the store too");

    // The system's dark mode.
    session
        .call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": "dark"}]
            }})),
        )
        .await;
    let path = session.screenshot("notification-center-dark.png").await;
    println!("screenshot (dark): {}", path.display());

    session.call(reqwest::Method::DELETE, "", None).await;
    drop(driver);
    let _ = std::fs::remove_dir_all(profile);
}
