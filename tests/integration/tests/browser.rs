//! The notification center in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`), as a user uses it: an event triggered over HTTP
//! by an annotated handler appears without a reload; counts by severity filter the list;
//! status, category, action and search filters live in the address; "Load more" pages without
//! duplicates while live events arrive; bulk select, mark read and unread, delete, "Mark all as
//! read", and "all matching" past what is loaded; counts pushed to a second tab; a repeated
//! error folded into one card ("×3", moved to the top); a ping's details as a table; the
//! stream's `reload` and `lagged` frames and the
//! reconnecting and offline states; "Mark as read" by keyboard alone; and an axe-core scan
//! (WCAG 2.1 AA, light and dark) with no violation.
//!
//! Needs the browser, so it is built only with the `browser-test` feature:
//! `cargo test -p tidings-integration-tests --features browser-test --test browser` (`.ci/run`
//! installs the packages and runs it). axe-core comes from npm (`npm pack axe-core@4.14.1`, into
//! cargo's scratch directory, once) unless `TIDINGS_AXE_JS` names its `axe.min.js`. It leaves
//! screenshots, light and dark, in cargo's scratch directory (`target/tmp/notification-center*.png`
//! by default) and prints where.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use futures_util::StreamExt as _;
use reqwest::Client;
use serde_json::{Value, json};
use tidings::{Emitter, Event, EventQuery, Severity, Status, Uuid};
use tidings_test_support::demo::ping;
use tidings_test_support::{COOKIE, user_from_cookie};
use tokio::sync::watch;

const AXE_VERSION: &str = "4.14.1";

/// One browser at a time: each test starts its own, and two on a 2-core machine only slow
/// each other down.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn user_of(parts: &Parts) -> Option<Uuid> {
    user_from_cookie(&parts.headers)
}

/// What the test does to the live streams: `cut` ends every open stream (the browser then
/// reconnects by itself, with `Last-Event-ID`), `hold` keeps new stream requests waiting (so
/// the page stays in its reconnecting state until released); `resumed` records the
/// `Last-Event-ID` of each stream request.
#[derive(Clone)]
struct Gate {
    cut: Arc<watch::Sender<u64>>,
    hold: Arc<watch::Sender<bool>>,
    resumed: Arc<Mutex<Vec<Option<String>>>>,
}

impl Gate {
    fn new() -> Self {
        Gate {
            cut: Arc::new(watch::channel(0).0),
            hold: Arc::new(watch::channel(false).0),
            resumed: Arc::default(),
        }
    }

    async fn apply(self, request: Request, next: Next) -> Response {
        if !request.uri().path().ends_with("/subscribe") {
            return next.run(request).await;
        }
        let last = request
            .headers()
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        self.resumed.lock().unwrap().push(last);
        let mut hold = self.hold.subscribe();
        let _ = hold.wait_for(|held| !*held).await;
        let mut cut = self.cut.subscribe();
        cut.borrow_and_update();
        let (parts, body) = next.run(request).await.into_parts();
        let body = body.into_data_stream().take_until(async move {
            let _ = cut.changed().await;
        });
        Response::from_parts(parts, Body::from_stream(body))
    }
}

/// The application: the page at `/`, which gives a new visitor a user cookie; the annotated
/// `ping` handler; the events API at `/api/events`.
async fn app(events: Emitter, gate: Gate) -> String {
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
        .nest_service("/api/events", tidings::web::router(events, user_of))
        .layer(axum::middleware::from_fn(move |request, next| {
            gate.clone().apply(request, next)
        }));
    serve(router).await
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
    /// The page left behind is marked first, so that its own "live" is not taken for the new
    /// page's.
    async fn open_live_at(&self, url: &str) {
        self.script("window.tidingsOldPage = true", json!([])).await;
        let answer = self
            .call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
        assert!(answer.get("error").is_none(), "opening {url}: {answer}");
        wait_for("the live stream", || async {
            let old = self
                .script("return window.tidingsOldPage === true", json!([]))
                .await;
            (old == false && self.texts("#state").await == ["live"]).then_some(())
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

    /// The WebDriver id of the first element matching a CSS selector.
    async fn first(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {selector}"))
    }

    /// An attribute of the first element matching a CSS selector.
    async fn attribute(&self, selector: &str, name: &str) -> String {
        let id = self.first(selector).await;
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

    /// Clicks the first element matching a CSS selector. The page redraws parts of itself
    /// (the counts, after every change): an element replaced between finding and clicking it
    /// is found again, as a user's second look would.
    async fn click(&self, selector: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let id = self.first(selector).await;
            let answer = self
                .call(
                    reqwest::Method::POST,
                    &format!("/element/{id}/click"),
                    Some(json!({})),
                )
                .await;
            match answer.get("error").and_then(Value::as_str) {
                None => return,
                Some("stale element reference") if Instant::now() < deadline => continue,
                Some(error) => panic!("clicking {selector}: {error}: {answer}"),
            }
        }
    }
}

impl Session {
    /// Runs a script in the page and returns its value.
    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Presses keys (WebDriver key codes: "\u{E004}" is Tab, "\u{E007}" Enter) on whatever has
    /// the focus, as a keyboard does.
    async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// Types into the first element matching a CSS selector.
    async fn type_into(&self, selector: &str, text: &str) {
        let id = self.first(selector).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Whether the first element matching a CSS selector is shown (WebDriver's own test of
    /// what a user sees, styles included).
    async fn displayed(&self, selector: &str) -> bool {
        let id = self.first(selector).await;
        let shown = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/displayed"),
                None,
            )
            .await;
        shown.as_bool().unwrap_or_else(|| panic!("{shown}"))
    }

    /// Chooses an option of a `select` by its value, as a user picking it does.
    async fn choose(&self, name: &str, value: &str) {
        self.click(&format!(
            "select[name=\"{name}\"] option[value=\"{value}\"]"
        ))
        .await;
    }

    /// A Chrome DevTools command.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    /// The ids of the notifications shown, top to bottom.
    async fn shown_ids(&self) -> Vec<String> {
        let ids = self
            .script(
                "return [...document.querySelectorAll('#events li')].map((li) => li.dataset.id)",
                json!([]),
            )
            .await;
        serde_json::from_value(ids).unwrap()
    }

    /// Waits until the list shows exactly `count` notifications.
    async fn wait_for_count(&self, what: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let shown = self.find("#events li").await.len();
            if shown == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {shown} shown, not {count}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A headless Chromium with its chromedriver and a fresh profile.
struct Browser {
    driver: Driver,
    session: Session,
    profile: PathBuf,
}

impl Browser {
    async fn start() -> Browser {
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
            client,
            url: format!("{}/session/{session_id}", driver.base),
        };
        Browser {
            driver,
            session,
            profile,
        }
    }

    /// Opens the page of the application at `base` and returns the user its cookie names.
    async fn open_as_new_user(&self, base: &str) -> Uuid {
        self.session.open_live(base).await;
        let cookie = self
            .session
            .call(reqwest::Method::GET, &format!("/cookie/{COOKIE}"), None)
            .await;
        cookie["value"]
            .as_str()
            .expect("the page set the demo user cookie")
            .parse()
            .expect("a user id")
    }

    async fn close(self) {
        self.session.call(reqwest::Method::DELETE, "", None).await;
        drop(self.driver);
        let _ = std::fs::remove_dir_all(self.profile);
    }
}

/// An event of `user`, as the server's own code makes one.
fn notice(user: Uuid, severity: Severity, category: &str, description: &str) -> Event {
    let builder = Event::builder();
    let builder = if severity == Severity::Error {
        builder.err(&std::io::Error::other("it failed"))
    } else {
        builder
    };
    builder
        .from_user(user)
        .category(category.to_owned())
        .action("notice")
        .severity(severity)
        .description(description.to_owned())
        .build()
        .unwrap()
}

fn stored(events: &Emitter) -> Vec<Event> {
    events
        .store()
        .unwrap()
        .query(&EventQuery::new().page_size(tidings::PageSize::All))
        .unwrap()
        .events
}

/// axe-core's browser build: `TIDINGS_AXE_JS`, or the npm package unpacked into cargo's
/// scratch directory (fetched with `npm pack` the first time).
fn axe_source() -> String {
    if let Ok(path) = std::env::var("TIDINGS_AXE_JS") {
        return std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("TIDINGS_AXE_JS={path}: {e}"));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("axe-core-{AXE_VERSION}"));
    let script = dir.join("package/axe.min.js");
    if !script.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let packed = Command::new("npm")
            .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent"])
            .current_dir(&dir)
            .output()
            .expect("npm is installed (Debian's npm), to fetch axe-core");
        assert!(packed.status.success(), "npm pack axe-core: {packed:?}");
        let archive = String::from_utf8(packed.stdout).unwrap();
        let unpacked = Command::new("tar")
            .args(["xzf", archive.trim()])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(unpacked.success());
    }
    std::fs::read_to_string(&script).unwrap()
}

/// The WCAG 2.1 A and AA violations axe-core finds in the page as it is.
async fn axe_violations(session: &Session, axe: &str) -> Vec<Value> {
    session
        .script(&format!("{axe}\n;return true;"), json!([]))
        .await;
    let found = session
        .call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                  .then((result) => done(result.violations.map((v) => ({
                    id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }))))
                  .catch((error) => done([{ id: 'axe failed', help: String(error) }]));",
                "args": []})),
        )
        .await;
    found
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{found}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_appears_live_is_filtered_detailed_marked_read_and_deleted() {
    let _one = SERIAL.lock().await;
    let browser = Browser::start().await;
    let session = &browser.session;
    let client = session.client.clone();
    let events = Emitter::new();
    let base = app(events.clone(), Gate::new()).await;
    let user = browser.open_as_new_user(&base).await;
    assert_eq!(session.texts("#unread").await, ["0"]);

    // An event stored while the page is closed: a reload must load it (the count "1" cannot be
    // the page's static "0").
    let earlier = notice(
        user,
        Severity::Informational,
        "system",
        "Stored before the page loaded",
    );
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
    wait_for("the unread count", || async {
        (session.texts("#unread").await == ["3"]).then_some(())
    })
    .await;

    // The error's summary is its message; expanded, its parts and the doc link.
    let failure = session
        .texts("li[data-severity=\"error\"] details summary")
        .await;
    assert_eq!(failure, ["connection refused"]);
    session
        .click("li[data-severity=\"error\"] details summary")
        .await;
    let rows = session
        .texts("li[data-severity=\"error\"] details tr")
        .await;
    for expected in [
        "Error connection refused",
        "Causes dial tcp 10.0.0.7:6443: connect: connection refused",
        "Code meshery-server-1377",
        "Probable causes The cluster's API server is down",
        "Remediation Start the cluster and ping it again",
    ] {
        assert!(
            rows.iter().any(|row| row == expected),
            "{expected:?} in {rows:?}"
        );
    }
    assert_eq!(
        session
            .attribute("li[data-severity=\"error\"] a.doc", "href")
            .await,
        "https://docs.meshery.io/concepts/logical/connections"
    );
    // A ping's metadata, as a table.
    session
        .click("li[data-severity=\"success\"] details summary")
        .await;
    let rows = session
        .texts("li[data-severity=\"success\"] details tr")
        .await;
    assert_eq!(
        rows,
        [
            "Context Name minikube",
            "Server Address https://10.0.0.5:6443"
        ]
    );
    let path = session.screenshot("notification-center.png").await;
    println!("screenshot: {}", path.display());

    // The counts read as English: one of a kind, and any other number.
    wait_for("the counts by severity, in the singular", || async {
        let counts = session.texts("#levels button").await;
        (counts == ["1 error", "0 warnings", "1 success", "1 informational"]).then_some(())
    })
    .await;

    // Mark the success read.
    session
        .click("li[data-severity=\"success\"] .mark-read")
        .await;
    wait_for("the unread count to drop", || async {
        (session.texts("#unread").await == ["2"]).then_some(())
    })
    .await;
    let now = stored(&events);
    assert_eq!(now[0].status(), Status::Read);
    assert_eq!(now[1].status(), Status::Unread);
    assert_eq!(now[2].status(), Status::Unread);

    // The header's unread counts per severity; one filters the list, in the page's address.
    wait_for("the counts by severity", || async {
        let counts = session.texts("#levels button").await;
        (counts == ["1 error", "0 warnings", "0 successes", "1 informational"]).then_some(())
    })
    .await;
    session
        .click("#levels button[data-severity=\"error\"]")
        .await;
    wait_for("only the error shown", || async {
        let shown = session.find("#events li").await.len();
        let errors = session.find("li[data-severity=\"error\"]").await.len();
        (shown == 1 && errors == 1).then_some(())
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
    // Several severities at once.
    session
        .click("#levels button[data-severity=\"informational\"]")
        .await;
    session.wait_for_count("errors and informational", 2).await;
    assert!(
        session
            .current_url()
            .await
            .ends_with("?severity=error&severity=informational")
    );
    // A linked (or reloaded) filtered view is the same view.
    let filtered = session.current_url().await;
    session.open_live_at(&filtered).await;
    session
        .wait_for_count("the filtered view after a reload", 2)
        .await;
    assert_eq!(
        session
            .attribute(
                "#levels button[data-severity=\"informational\"]",
                "aria-pressed"
            )
            .await,
        "true"
    );
    // A live event that does not match stays out; one that does comes in.
    events
        .emit(notice(user, Severity::Warning, "system", "A warning"))
        .unwrap();
    events
        .emit(notice(user, Severity::Error, "system", "A live error"))
        .unwrap();
    session.wait_for_count("the live error", 3).await;
    assert!(
        session
            .find("li[data-severity=\"warning\"]")
            .await
            .is_empty()
    );
    // Pressed again, each filter goes.
    for severity in ["error", "informational"] {
        session
            .click(&format!("#levels button[data-severity=\"{severity}\"]"))
            .await;
    }
    session.wait_for_count("every notification again", 5).await;
    assert!(session.current_url().await.ends_with('/'));

    // Status, category (its choices from /types) and the search, each in the address.
    session.choose("status", "read").await;
    session.wait_for_count("the read one", 1).await;
    assert_eq!(
        session.texts("#events .description").await,
        ["Pinged connection minikube"]
    );
    assert!(session.current_url().await.ends_with("?status=read"));
    session.choose("status", "").await;
    session.wait_for_count("all statuses", 5).await;
    let categories = session.texts("select[name=\"category\"] option").await;
    assert_eq!(categories, ["All", "connection", "system"]);
    session.choose("category", "connection").await;
    session.wait_for_count("the connection category", 2).await;
    session.choose("category", "").await;
    session
        .type_into("input[name=\"search\"]", "minikube")
        .await;
    session.wait_for_count("the search", 1).await;
    assert!(session.current_url().await.ends_with("?search=minikube"));
    session.open_live_at(&session.current_url().await).await;
    session.wait_for_count("the search after a reload", 1).await;
    assert_eq!(
        session
            .script(
                "return document.querySelector('input[name=search]').value",
                json!([])
            )
            .await,
        "minikube"
    );
    session.open_live(&base).await;
    session.wait_for_count("no filter", 5).await;

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
    session.wait_for_count("the deleted one gone", 4).await;
    assert_eq!(stored(&events).len(), 4, "deleted in the store too");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_load_without_duplicates_and_bulk_actions_apply_to_the_selection() {
    let _one = SERIAL.lock().await;
    let browser = Browser::start().await;
    let session = &browser.session;
    let events = Emitter::new();
    let base = app(events.clone(), Gate::new()).await;
    let user = browser.open_as_new_user(&base).await;

    // 90 stored before the page loads: the first page shows 25.
    for n in 0..90 {
        let event = notice(
            user,
            Severity::Informational,
            "system",
            &format!("Stored {n}"),
        );
        events.emit(event).unwrap();
    }
    session.open_live(&base).await;
    session.wait_for_count("the first page", 25).await;
    assert_eq!(session.texts("#more").await, ["Load more"]);
    assert!(session.displayed("#more").await);

    // Three arrive live at the top, which pushes the server's pages down by three.
    for n in 0..3 {
        let event = notice(user, Severity::Warning, "system", &format!("Live {n}"));
        events.emit(event).unwrap();
    }
    session.wait_for_count("the live ones on top", 28).await;
    // "Load more" pressed from the keyboard, the button kept off screen (so that scrolling
    // does not load): the events from the 29th on, through the 75th (the two pages that hold
    // the 29th).
    session
        .script(
            "document.getElementById('more').focus({preventScroll: true})",
            json!([]),
        )
        .await;
    let focused = session
        .script("return document.activeElement.id", json!([]))
        .await;
    assert_eq!(focused, "more");
    assert_eq!(
        session.find("#events li").await.len(),
        28,
        "focus alone loads nothing"
    );
    session.press("\u{E007}").await;
    session.wait_for_count("a page more", 75).await;
    // Then scrolled to the end of the list, as a user does: the rest.
    session
        .script(
            "document.getElementById('more').scrollIntoView()",
            json!([]),
        )
        .await;
    session.wait_for_count("every notification", 93).await;
    let ids = session.shown_ids().await;
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 93, "no duplicates");
    let newest_first: Vec<String> = stored(&events)
        .iter()
        .map(|event| event.id().to_string())
        .collect();
    assert_eq!(ids, newest_first, "the order of the store, newest first");
    assert!(!session.displayed("#more").await, "nothing more to load");

    // Select two, mark them read, then unread again, then delete them.
    let [first, second] = [&ids[0], &ids[1]];
    for id in [first, second] {
        session
            .click(&format!("li[data-id=\"{id}\"] .select"))
            .await;
    }
    session.click("#bulk-read").await;
    wait_for("the two marked read", || async {
        (session.find("li.read").await.len() == 2).then_some(())
    })
    .await;
    let read: Vec<String> = events
        .store()
        .unwrap()
        .query(&EventQuery::new().status(Status::Read))
        .unwrap()
        .events
        .iter()
        .map(|event| event.id().to_string())
        .collect();
    assert_eq!(read, [first.clone(), second.clone()]);
    wait_for("the unread count", || async {
        (session.texts("#unread").await == ["91"]).then_some(())
    })
    .await;
    session.click("#bulk-unread").await;
    wait_for("the two unread again", || async {
        (session.texts("#unread").await == ["93"]).then_some(())
    })
    .await;
    assert!(session.find("li.read").await.is_empty());
    session.click("#bulk-delete").await;
    session.wait_for_count("the two deleted", 91).await;
    assert_eq!(stored(&events).len(), 91);
    assert!(
        !session.shown_ids().await.contains(first),
        "the deleted one is gone"
    );

    // "Select all shown" selects every notification in the list.
    session.click("#select-all").await;
    let checked = session
        .script(
            "return document.querySelectorAll('#events .select:checked').length",
            json!([]),
        )
        .await;
    assert_eq!(checked, 91);
    session.click("#select-all").await;

    // "Mark all as read".
    session.click("#all-read").await;
    wait_for("nothing unread", || async {
        (session.texts("#unread").await == ["0"]).then_some(())
    })
    .await;
    assert!(
        stored(&events)
            .iter()
            .all(|event| event.status() == Status::Read)
    );
    assert_eq!(session.find("li.unread").await.len(), 0);

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_its_connection_and_recovers_from_reload_and_lagged_frames() {
    let _one = SERIAL.lock().await;
    let browser = Browser::start().await;
    let session = &browser.session;
    let events = Emitter::new();
    let gate = Gate::new();
    let base = app(events.clone(), gate.clone()).await;
    let user = browser.open_as_new_user(&base).await;
    assert_eq!(session.texts("#state").await, ["live"]);

    // An event arrives live; then, behind the page's back, it is deleted and another is stored
    // without being published. Only loading the list again shows either change.
    let seen = events
        .emit(notice(user, Severity::Success, "system", "Seen live"))
        .unwrap();
    session.wait_for_count("the live event", 1).await;
    let store = events.store().unwrap();
    store.delete(seen.id()).unwrap();
    let unseen = Arc::new(notice(user, Severity::Warning, "system", "Stored quietly"));
    store.insert(&unseen).unwrap();

    // The stream drops and the reconnect waits: the page says it is reconnecting.
    gate.hold.send_replace(true);
    gate.cut.send_modify(|generation| *generation += 1);
    wait_for("the reconnecting state", || async {
        (session.texts("#state").await == ["reconnecting…"]).then_some(())
    })
    .await;
    assert_eq!(session.texts("#events .description").await, ["Seen live"]);
    // Released, the browser resumes after the last event it saw; that event is gone, so the
    // server sends `reload`, and the page loads the list again.
    gate.hold.send_replace(false);
    wait_for("the list loaded again", || async {
        (session.texts("#events .description").await == ["Stored quietly"]).then_some(())
    })
    .await;
    wait_for("live again", || async {
        (session.texts("#state").await == ["live"]).then_some(())
    })
    .await;
    let resumed = gate.resumed.lock().unwrap().clone();
    assert_eq!(
        resumed.last().cloned().flatten(),
        Some(seen.id().to_string()),
        "resumed with Last-Event-ID: {resumed:?}"
    );

    // The network goes away and comes back.
    session.cdp("Network.enable", json!({})).await;
    let conditions = |offline: bool| json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1});
    session
        .cdp("Network.emulateNetworkConditions", conditions(true))
        .await;
    wait_for("the offline state", || async {
        (session.texts("#state").await == ["offline"]).then_some(())
    })
    .await;
    session
        .cdp("Network.emulateNetworkConditions", conditions(false))
        .await;
    wait_for("live after the network is back", || async {
        (session.texts("#state").await == ["live"]).then_some(())
    })
    .await;

    // A subscriber that falls behind is told so: a page of an emitter whose subscriptions
    // buffer one event, sent bursts until its stream lags.
    let small = Emitter::builder().buffer(1).build();
    let small_base = app(small.clone(), Gate::new()).await;
    session.open_live(&small_base).await;
    wait_for("a lagged notice", || async {
        for n in 0..200 {
            small
                .emit(notice(
                    user,
                    Severity::Informational,
                    "system",
                    &format!("Burst {n}"),
                ))
                .unwrap();
        }
        session.displayed("#notice").await.then_some(())
    })
    .await;
    assert_eq!(
        session.texts("#notice span").await,
        ["Some live updates were skipped; the list was refreshed."]
    );
    // The refresh shows the newest page of what is stored.
    let newest: Vec<String> = small
        .store()
        .unwrap()
        .query(&EventQuery::new().page_size(tidings::PageSize::Limit(25)))
        .unwrap()
        .events
        .iter()
        .map(|event| event.id().to_string())
        .collect();
    wait_for("the refreshed list", || async {
        let ids = session.shown_ids().await;
        (ids.len() >= 25 && ids[..25] == newest[..]).then_some(())
    })
    .await;
    session.click("#dismiss").await;
    assert!(!session.displayed("#notice").await);

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_usable_by_keyboard_alone_and_axe_finds_no_violation() {
    let _one = SERIAL.lock().await;
    let axe = axe_source();
    let browser = Browser::start().await;
    let session = &browser.session;
    let events = Emitter::new();
    let base = app(events.clone(), Gate::new()).await;
    let user = browser.open_as_new_user(&base).await;
    let client = session.client.clone();
    for name in ["staging", "minikube"] {
        client
            .post(format!("{base}/ping/{name}"))
            .header("cookie", format!("{COOKIE}={user}"))
            .send()
            .await
            .unwrap();
    }
    session.wait_for_count("two notifications", 2).await;

    // Tab to the first "Mark as read" (the newest, the success), see it outlined, press Enter.
    let mut tabs = 0;
    loop {
        session.press("\u{E004}").await;
        tabs += 1;
        let on = session
            .script(
                "return document.activeElement.matches('#events li .mark-read')",
                json!([]),
            )
            .await;
        if on == true {
            break;
        }
        assert!(tabs < 40, "Tab never reached a \"Mark as read\" button");
    }
    let outline = session
        .script(
            "const style = getComputedStyle(document.activeElement);
             return [style.outlineStyle, style.outlineWidth]",
            json!([]),
        )
        .await;
    assert_eq!(outline, json!(["solid", "3px"]), "visible on focus");
    session.press("\u{E007}").await;
    wait_for("marked read by keyboard", || async {
        (session.texts("#unread").await == ["1"]).then_some(())
    })
    .await;
    assert_eq!(stored(&events)[0].status(), Status::Read);

    // axe-core, WCAG 2.1 A and AA, with the details open and the notice shown: light, then dark.
    for summary in session.find("#events details summary").await {
        session
            .call(
                reqwest::Method::POST,
                &format!("/element/{summary}/click"),
                Some(json!({})),
            )
            .await;
    }
    session
        .script(
            "const notice = document.getElementById('notice');
             notice.firstElementChild.textContent = 'Some live updates were skipped; the list was refreshed.';
             notice.hidden = false;",
            json!([]),
        )
        .await;
    let light = axe_violations(session, &axe).await;
    assert!(light.is_empty(), "light: {light:#?}");
    let path = session.screenshot("notification-center-details.png").await;
    println!("screenshot: {}", path.display());
    session
        .cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await;
    let dark = axe_violations(session, &axe).await;
    assert!(dark.is_empty(), "dark: {dark:#?}");
    let path = session.screenshot("notification-center-dark.png").await;
    println!("screenshot (dark): {}", path.display());

    browser.close().await;
}

/// An error that repeats, folded by its store into one event (a ten-minute window).
fn repeated(user: Uuid, description: &str) -> Event {
    Event::builder()
        .err(&std::io::Error::other("connection refused"))
        .from_user(user)
        .category("connection")
        .action("ping")
        .severity(Severity::Error)
        .description(description.to_owned())
        .coalesce(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// Waits until the first element matching `selector` reads `text`.
async fn wait_for_text(session: &Session, what: &str, selector: &str, text: &str) {
    wait_for(what, || async {
        (session.texts(selector).await.first().map(String::as_str) == Some(text)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_follow_every_tab_repeats_fold_into_one_card_and_all_matching_are_marked() {
    let _one = SERIAL.lock().await;
    let browser = Browser::start().await;
    let session = &browser.session;
    let events = Emitter::new();
    let base = app(events.clone(), Gate::new()).await;
    let user = browser.open_as_new_user(&base).await;
    for (severity, description) in [
        (Severity::Error, "Failed once"),
        (Severity::Error, "Failed twice"),
        (Severity::Warning, "Slow"),
    ] {
        events
            .emit(notice(user, severity, "system", description))
            .unwrap();
    }
    wait_for_text(session, "three unread", "#unread", "3").await;
    let errors = "#levels button[data-severity=\"error\"]";
    wait_for_text(session, "two errors", errors, "2 errors").await;

    // A second tab of the same user; the first is marked, to tell a reload from a live change.
    let first_tab = session.call(reqwest::Method::GET, "/window", None).await;
    session
        .script("window.tidingsFirstTab = true", json!([]))
        .await;
    let second_tab = session
        .call(
            reqwest::Method::POST,
            "/window/new",
            Some(json!({"type": "tab"})),
        )
        .await["handle"]
        .clone();
    session
        .call(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": second_tab })),
        )
        .await;
    session.open_live(&base).await;
    wait_for_text(session, "the second tab's count", "#unread", "3").await;
    let once = stored(&events)
        .into_iter()
        .find(|event| event.description() == "Failed once")
        .unwrap()
        .id();
    session
        .click(&format!("li[data-id=\"{once}\"] .mark-read"))
        .await;
    wait_for_text(session, "the second tab's own count", "#unread", "2").await;

    // The first tab hears it from the server: its counts change, and it was not reloaded.
    session
        .call(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": first_tab })),
        )
        .await;
    wait_for_text(session, "the first tab's count", "#unread", "2").await;
    wait_for_text(session, "the first tab's errors", errors, "1 error").await;
    assert_eq!(
        session
            .script("return window.tidingsFirstTab === true", json!([]))
            .await,
        true,
        "changed live, not reloaded"
    );

    // A repeated error is one card: ×3, the latest time, moved to the top; one stored event.
    events.emit(repeated(user, "Cluster unreachable")).unwrap();
    session.wait_for_count("the repeated error", 4).await;
    events
        .emit(notice(user, Severity::Informational, "system", "Later"))
        .unwrap();
    session.wait_for_count("a later one", 5).await;
    let later = stored(&events)[0].id().to_string();
    assert_eq!(session.shown_ids().await[0], later, "the later one on top");
    for n in 2..=3 {
        events
            .emit(repeated(user, &format!("Cluster unreachable ({n})")))
            .unwrap();
    }
    let folded: Vec<Event> = stored(&events)
        .into_iter()
        .filter(|event| event.category() == "connection")
        .collect();
    assert_eq!(folded.len(), 1, "one stored event");
    assert_eq!(folded[0].count(), 3);
    let card = format!("li[data-id=\"{}\"]", folded[0].id());
    wait_for_text(session, "the folded card", &format!("{card} .count"), "×3").await;
    assert_eq!(session.find("#events li").await.len(), 5, "no card more");
    assert_eq!(
        session.shown_ids().await[0],
        folded[0].id().to_string(),
        "the folded card moved to the top"
    );
    assert_eq!(
        session.texts(&format!("{card} .description")).await,
        ["Cluster unreachable (3)"],
        "the latest description"
    );
    let served: Value = session
        .client
        .get(format!("{base}/api/events/{}", folded[0].id()))
        .header("cookie", format!("{COOKIE}={user}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session.attribute(&format!("{card} time"), "datetime").await,
        served["updatedAt"].as_str().unwrap(),
        "the latest time: {served}"
    );
    wait_for_text(session, "folds add nothing unread", "#unread", "4").await;

    // 60 of another category, 25 of them loaded: "all matching" marks and deletes all 60.
    for n in 0..60 {
        let event = notice(
            user,
            Severity::Informational,
            "deploy",
            &format!("Step {n}"),
        );
        events.emit(event).unwrap();
    }
    session
        .open_live_at(&format!("{base}/?category=deploy"))
        .await;
    session.wait_for_count("the first page", 25).await;
    assert!(!session.displayed("#select-matching").await);
    session.click("#select-all").await;
    assert_eq!(
        session.texts("#select-matching").await,
        ["Select all 60 matching"]
    );
    session.click("#select-matching").await;
    assert_eq!(
        session.texts("#select-matching").await,
        ["All 60 matching selected · Select only the 25 shown"]
    );
    session.click("#bulk-read").await;
    wait_for("the 60 marked read", || async {
        let all = stored(&events);
        let deploy = all.iter().filter(|event| event.category() == "deploy");
        deploy
            .clone()
            .all(|event| event.status() == Status::Read)
            .then_some(())
    })
    .await;
    assert_eq!(
        stored(&events)
            .iter()
            .filter(|event| event.status() == Status::Unread)
            .count(),
        4,
        "the other categories untouched"
    );
    wait_for_text(session, "the count after", "#unread", "4").await;
    session.wait_for_count("the page again", 25).await;
    session.click("#select-all").await;
    session.click("#select-matching").await;
    session.click("#bulk-delete").await;
    session.wait_for_count("every one of them deleted", 0).await;
    let left = stored(&events);
    assert_eq!(left.len(), 5, "only the 60 deleted: {left:?}");
    assert!(left.iter().all(|event| event.category() != "deploy"));

    browser.close().await;
}

/// Serves `router` on an ephemeral port of 127.0.0.1; its address.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// What a bearer-token application's auth middleware puts into the request's extensions.
#[derive(Clone)]
struct BearerUser {
    id: Uuid,
}

/// An application whose auth is a bearer token only (no cookie): the page at `/notifications`,
/// the events API under `/v1/events` behind the token check, the user read from extensions.
async fn bearer_app(events: Emitter, gate: Gate, tokens: Vec<(String, Uuid)>) -> String {
    let tokens: Arc<std::collections::HashMap<String, Uuid>> =
        Arc::new(tokens.into_iter().collect());
    let check = move |mut request: Request, next: Next| {
        let tokens = Arc::clone(&tokens);
        async move {
            let user = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .and_then(|token| tokens.get(token).copied());
            match user {
                Some(id) => {
                    request.extensions_mut().insert(BearerUser { id });
                    next.run(request).await
                }
                None => axum::http::StatusCode::UNAUTHORIZED.into_response(),
            }
        }
    };
    let api = tidings::web::router(
        events,
        tidings::web::user_from_extension(|user: &BearerUser| user.id),
    )
    .layer(axum::middleware::from_fn(check));
    let router = axum::Router::new()
        .route(
            "/notifications",
            tidings::web::notification_center_with(
                tidings::web::PageOptions::new()
                    .api_base("/v1/events")
                    .auth(tidings::web::PageAuth::BearerFromStorage(
                        "access_token".into(),
                    )),
            ),
        )
        .nest_service("/v1/events", api)
        .layer(axum::middleware::from_fn(move |request, next| {
            gate.clone().apply(request, next)
        }));
    serve(router).await
}

/// The page behind bearer-token auth and another mount point: it loads, streams live, resumes a
/// dropped stream with `Last-Event-ID`, and marks read, each request with the token the
/// application keeps in the browser's storage; without a token the API answers 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_behind_bearer_token_auth_at_another_mount_point() {
    let _one = SERIAL.lock().await;
    let browser = Browser::start().await;
    let session = &browser.session;
    let events = Emitter::new();
    let gate = Gate::new();
    let user = Uuid::new_v4();
    let base = bearer_app(
        events.clone(),
        gate.clone(),
        vec![("alice-token".to_owned(), user)],
    )
    .await;
    let anonymous = reqwest::get(format!("{base}/v1/events")).await.unwrap();
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);

    events
        .emit(notice(
            user,
            Severity::Warning,
            "system",
            "Stored before the page loaded",
        ))
        .unwrap();
    // The application's own front end signed in and kept its token.
    let answer = session
        .call(
            reqwest::Method::POST,
            "/url",
            Some(json!({"url": format!("{base}/notifications")})),
        )
        .await;
    assert!(answer.get("error").is_none(), "{answer}");
    session
        .script(
            "localStorage.setItem('access_token', 'alice-token')",
            json!([]),
        )
        .await;
    session.open_live_at(&format!("{base}/notifications")).await;
    session.wait_for_count("the stored event", 1).await;
    assert_eq!(session.texts("#unread").await, ["1"]);

    // Live, over the fetch-read stream.
    let live = events
        .emit(notice(user, Severity::Success, "system", "Arrived live"))
        .unwrap();
    session.wait_for_count("the live event", 2).await;

    // The stream drops; an event is stored meanwhile; the page resumes after the last it saw.
    gate.hold.send_replace(true);
    gate.cut.send_modify(|generation| *generation += 1);
    wait_for("the reconnecting state", || async {
        (session.texts("#state").await == ["reconnecting…"]).then_some(())
    })
    .await;
    events
        .emit(notice(
            user,
            Severity::Success,
            "system",
            "Missed while away",
        ))
        .unwrap();
    gate.hold.send_replace(false);
    session.wait_for_count("the missed event", 3).await;
    wait_for("live again", || async {
        (session.texts("#state").await == ["live"]).then_some(())
    })
    .await;
    let resumed = gate.resumed.lock().unwrap().clone();
    assert_eq!(
        resumed.last().cloned().flatten(),
        Some(live.id().to_string()),
        "resumed with Last-Event-ID: {resumed:?}"
    );

    // Marking read sends the token too.
    session
        .click("li[data-severity=\"warning\"] .mark-read")
        .await;
    wait_for("the unread count to drop", || async {
        (session.texts("#unread").await == ["2"]).then_some(())
    })
    .await;
    let marked = stored(&events)
        .into_iter()
        .filter(|e| e.status() == Status::Read)
        .count();
    assert_eq!(marked, 1);
    browser.close().await;
}
