//! The axum integration over real HTTP on 127.0.0.1: the SSE stream (ids, resume with
//! `Last-Event-ID`, bursts), the REST API (filters, pagination, counts, marks, deletes, client
//! events), authorization between users, and clear 400s.

mod api;
#[path = "../../common/mod.rs"]
mod common;

use std::time::Duration;

use api::Server;
use common::numbered_event;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tidings::{Emitter, Event, Severity, Uuid};
use tidings_test_support::{Frame, SseReader as Frames};

async fn start() -> Server {
    start_with(Emitter::new()).await
}

async fn start_with(events: Emitter) -> Server {
    api::start(events, tidings::web::Options::default()).await
}

/// Reads frames from an SSE response, skipping keepalive comments; a frame must come within
/// 30 s.
struct SseReader(Frames);

impl SseReader {
    async fn next(&mut self) -> Frame {
        self.0
            .next(Duration::from_secs(30))
            .await
            .expect("a frame within 30 s, on an open stream")
    }

    async fn next_event(&mut self) -> Event {
        let frame = self.next().await;
        assert_eq!(frame.event, None, "{frame:?}");
        let event: Event = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(frame.id.as_deref(), Some(event.id().to_string().as_str()));
        event
    }
}

async fn subscribe(server: &Server, user: Uuid, last: Option<Uuid>) -> SseReader {
    let mut request = server.get(user, "/subscribe");
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The headers Meshery's server sends with its stream: no caching, no proxy buffering.
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    SseReader(Frames::new(response))
}

fn n_of(event: &Event) -> u64 {
    event.metadata()["n"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100_arrives_complete_in_order_with_ids() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut stream = subscribe(&server, user, None).await;
    let sent: Vec<Uuid> = (0..100)
        .map(|n| server.events.emit(numbered_event(user, n)).unwrap().id())
        .collect();
    let mut got = Vec::new();
    for _ in 0..100 {
        got.push(stream.next_event().await.id());
    }
    assert_eq!(got, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_last_event_id_gets_exactly_what_it_missed() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut first = subscribe(&server, user, None).await;
    for n in 0..3 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    let mut last = None;
    for n in 0..3 {
        let event = first.next_event().await;
        assert_eq!(n_of(&event), n);
        last = Some(event.id());
    }
    drop(first);
    // Missed while disconnected; another user's events are not replayed.
    for n in 3..7 {
        server.events.emit(numbered_event(user, n)).unwrap();
        server
            .events
            .emit(numbered_event(Uuid::new_v4(), 100 + n))
            .unwrap();
    }
    let mut second = subscribe(&server, user, last).await;
    server.events.emit(numbered_event(user, 7)).unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(n_of(&second.next_event().await));
    }
    assert_eq!(
        got,
        [3, 4, 5, 6, 7],
        "the missed ones in order, then live, no duplicate"
    );
}

/// On a current-thread runtime the server cannot run while this test emits, so a stream with a
/// buffer of 4 is sure to fall behind a burst of 100.
#[tokio::test(flavor = "current_thread")]
async fn a_stream_that_falls_behind_is_told_how_many_it_missed() {
    let server = start_with(Emitter::builder().buffer(4).build()).await;
    let user = Uuid::new_v4();
    let mut stream = subscribe(&server, user, None).await;
    for n in 0..100 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    let notice = stream.next().await;
    assert_eq!(notice.event.as_deref(), Some("lagged"));
    assert_eq!(
        serde_json::from_str::<Value>(&notice.data).unwrap(),
        json!({"missed": 96})
    );
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(n_of(&stream.next_event().await));
    }
    assert_eq!(got, [96, 97, 98, 99]);
}

/// The same resume through SQLite and its background writer (persist, then publish).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_list_work_the_same_with_sqlite_and_its_writer() {
    let dir = std::env::temp_dir().join(format!("tidings-web-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = tidings::SqliteStore::open(dir.join("events.db")).unwrap();
    let server = start_with(Emitter::builder().store(store).build()).await;
    assert!(server.events.has_background_writer());
    let user = Uuid::new_v4();
    let mut first = subscribe(&server, user, None).await;
    let sent: Vec<Uuid> = (0..20)
        .map(|n| server.events.emit(numbered_event(user, n)).unwrap().id())
        .collect();
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(first.next_event().await.id());
    }
    assert_eq!(got, sent);
    drop(first);
    for n in 20..25 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    server.events.flush().unwrap();
    let mut second = subscribe(&server, user, Some(sent[19])).await;
    let mut resumed = Vec::new();
    for _ in 20..25 {
        resumed.push(n_of(&second.next_event().await));
    }
    assert_eq!(resumed, [20, 21, 22, 23, 24]);
    let all: Value = json_of(server.get(user, "?pagesize=all")).await;
    assert_eq!(all["totalCount"], 25);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_last_event_id_asks_for_a_reload() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut stream = subscribe(&server, user, Some(Uuid::new_v4())).await;
    let frame = stream.next().await;
    assert_eq!(frame.event.as_deref(), Some("reload"));
    let bad = server
        .get(user, "/subscribe")
        .header("last-event-id", "not-an-id")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

async fn emit_mixed(server: &Server, user: Uuid) -> Vec<Event> {
    let mut events = Vec::new();
    for (i, (category, action, severity)) in [
        ("connection", "ping", Severity::Success),
        ("connection", "ping", Severity::Error),
        ("pattern", "deploy", Severity::Success),
        ("pattern", "deploy", Severity::Warning),
        ("pattern", "view", Severity::Informational),
    ]
    .into_iter()
    .enumerate()
    {
        let mut builder = Event::builder()
            .from_user(user)
            .category(category)
            .action(action)
            .severity(severity)
            .description(format!("Event number {i} 100%"));
        if severity == Severity::Error {
            builder = builder.err(&std::io::Error::other("boom"));
        }
        events.push((*server.events.emit(builder.build().unwrap()).unwrap()).clone());
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_paginates_and_counts() {
    let server = start().await;
    let user = Uuid::new_v4();
    let events = emit_mixed(&server, user).await;
    emit_mixed(&server, Uuid::new_v4()).await;

    let page: Value = json_of(server.get(user, "?pagesize=2&page=1&order=asc")).await;
    assert_eq!(page["totalCount"], 5);
    assert_eq!(page["pageSize"], 2);
    let ids: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [events[2].id().to_string(), events[3].id().to_string()]
    );
    // Meshery's badge: unread counts per severity, most urgent first, and the read count.
    assert_eq!(
        page["countBySeverityLevel"],
        json!([
            {"severity": "error", "count": 1},
            {"severity": "warning", "count": 1},
            {"severity": "informational", "count": 1},
            {"severity": "success", "count": 2}
        ])
    );
    assert_eq!(page["readCount"], 0);

    // Several values: repeated, or one JSON array as Meshery's UI sends them; unknown
    // parameters (the UI's `author`) are ignored.
    for query in [
        "?category=pattern&severity=success&severity=warning&pagesize=all",
        "?category=pattern&severity=%5B%22success%22%2C%22warning%22%5D&pagesize=all&author=someone",
        "?category=%5B%22pattern%22%5D&severity=%5B%22success%22%5D&severity=warning&pagesize=all",
    ] {
        let filtered: Value = json_of(server.get(user, query)).await;
        assert_eq!(filtered["totalCount"], 2, "{query}");
        // `all` is up to the server's cap, and the answer says the size asked for was capped.
        assert_eq!(filtered["pageSize"], tidings::web::DEFAULT_MAX_PAGE_SIZE);
        assert_eq!(filtered["capped"], true);
    }
    let searched: Value = json_of(server.get(user, "?search=NUMBER%204%20100%25")).await;
    assert_eq!(searched["totalCount"], 1);
    assert_eq!(searched["events"][0]["id"], events[4].id().to_string());

    // The store's kinds, and the catalog's (`create_workspace` below).
    let types: Value = json_of(server.get(user, "/types")).await;
    assert_eq!(
        types,
        json!({
            "category": ["connection", "pattern", "workspace"],
            "action": ["create", "deploy", "ping", "view"]
        })
    );
}

/// The one annotated function of this test binary: in the catalog, so in `/types`.
#[tidings::emits_event(category = "workspace", action = "create")]
fn create_workspace() -> Result<(), std::io::Error> {
    Ok(())
}

/// What Schemathesis found, kept: a filter with nothing chosen (`category=`, an empty array)
/// does not filter, and a client event's nil `actedUpon` (MeshKit's way of writing "none")
/// means none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_filters_do_not_filter_and_a_nil_acted_upon_is_none() {
    let server = start().await;
    let user = Uuid::new_v4();
    emit_mixed(&server, user).await;
    for query in [
        "?category=&action=&pagesize=all",
        "?severity=%5B%5D&actedUpon=",
    ] {
        let page: Value = json_of(server.get(user, query)).await;
        assert_eq!(page["totalCount"], 5, "{query}");
    }
    let answer = server
        .send(
            reqwest::Method::POST,
            user,
            "",
            json!({"category": "ui", "action": "click", "severity": "debug",
                   "actedUpon": "00000000-0000-0000-0000-000000000000"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let event: Event = answer.json().await.unwrap();
    assert_eq!(event.acted_upon(), None);
}

/// The OpenAPI document: 3.1, every route, the event schema, and the repeated form of the
/// multi-valued filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let server = start().await;
    let document = server.openapi().await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/",
            "/bulk",
            "/status/bulk",
            "/status/{id}",
            "/subscribe",
            "/types",
            "/{id}"
        ]
    );
    let parameters = document["paths"]["/"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in ["category", "action", "severity", "actedUpon"] {
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(parameter["style"], "form", "{name}");
        assert_eq!(parameter["explode"], true, "{name}");
        assert_eq!(parameter["schema"]["type"], "array", "{name}");
    }
    let body = &document["components"]["schemas"]["ClientEvent"];
    assert_ne!(
        body.get("additionalProperties"),
        Some(&json!(false)),
        "bodies accept additional properties"
    );
    let event = &document["components"]["schemas"]["Event"]["properties"];
    for field in [
        "id",
        "userId",
        "category",
        "severity",
        "metadata",
        "createdAt",
    ] {
        assert!(event.get(field).is_some(), "the event schema has {field}");
    }
}

/// `/types` offers what can happen (the catalog, feature `catalog`) as well as what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_offer_what_the_catalog_says_can_happen_before_it_happened() {
    let server = start().await;
    let types: Value = json_of(server.get(Uuid::new_v4(), "/types")).await;
    // Every annotated function linked into this binary: this file's `create_workspace`, and
    // those of the crates it links (the test-support crate's demo ping).
    let entries = tidings::catalog::entries();
    let kinds = |of: fn(&tidings::catalog::Entry) -> &str| {
        let mut kinds: Vec<&str> = entries.iter().map(|entry| of(entry)).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    };
    let (categories, actions) = (
        kinds(|e| e.category().as_str()),
        kinds(|e| e.action().as_str()),
    );
    assert!(categories.contains(&"workspace") && actions.contains(&"create"));
    assert_eq!(
        types,
        json!({"category": categories, "action": actions}),
        "a user without events sees the catalog's kinds"
    );
    create_workspace().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_and_deleting_and_no_user_touches_another_users_events() {
    let server = start().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let events = emit_mixed(&server, alice).await;
    let id = events[0].id();

    // Bob sees none of Alice's events and cannot mark or delete them.
    let bobs: Value = json_of(server.get(bob, "")).await;
    assert_eq!(bobs["totalCount"], 0);
    let marked = server
        .send(
            reqwest::Method::PUT,
            bob,
            &format!("/status/{id}"),
            json!({"status": "read"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), StatusCode::NOT_FOUND);
    let deleted = server
        .client
        .delete(format!("{}/{id}", server.base))
        .header("x-user-id", bob.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);
    let bulk: Value = json_of(server.send(
        reqwest::Method::PUT,
        bob,
        "/status/bulk",
        json!({"status": "read", "ids": [id]}),
    ))
    .await;
    assert_eq!(bulk["updated"], 0);
    let deleted = server
        .send(reqwest::Method::DELETE, bob, "/bulk", json!({"ids": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(
        server.events.store().unwrap().get(id).unwrap().is_some(),
        "Bob deleted nothing"
    );

    // Alice can.
    let marked: Value = json_of(server.send(
        reqwest::Method::PUT,
        alice,
        &format!("/status/{id}"),
        json!({"status": "read"}),
    ))
    .await;
    assert_eq!(marked["status"], "read");
    let bulk: Value = json_of(server.send(
        reqwest::Method::PUT,
        alice,
        "/status/bulk",
        json!({"status": "read", "ids": [events[1].id(), events[2].id()]}),
    ))
    .await;
    assert_eq!(bulk["updated"], 2);
    let unread: Value = json_of(server.get(alice, "?status=unread")).await;
    assert_eq!(unread["totalCount"], 2);
    let deleted = server
        .client
        .delete(format!("{}/{id}", server.base))
        .header("x-user-id", alice.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let deleted = server
        .send(
            reqwest::Method::DELETE,
            alice,
            "/bulk",
            json!({"ids": [events[1].id(), events[2].id()]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let left: Value = json_of(server.get(alice, "")).await;
    assert_eq!(left["totalCount"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_events_are_checked_completed_by_the_server_and_kept() {
    let server = start().await;
    let user = Uuid::new_v4();
    for n in 0..50 {
        let created = server
            .send(
                reqwest::Method::POST,
                user,
                "",
                json!({"category": "ui", "action": "page_view", "severity": "debug", "metadata": {"n": n}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let event: Event = created.json().await.unwrap();
        assert_eq!(event.user_id(), Some(user));
        assert_eq!(event.system_id(), Some(server.events.system_id()));
        assert_eq!(event.status(), tidings::Status::Unread);
    }
    let all: Value = json_of(server.get(user, "?pagesize=all")).await;
    assert_eq!(all["totalCount"], 50, "nothing accepted is lost");
}

/// A client event the store cannot keep is not answered 201: here a read-only SQLite database
/// behind the background writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_event_that_cannot_be_stored_is_not_accepted() {
    let dir = std::env::temp_dir().join(format!("tidings-web-ro-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    drop(tidings::SqliteStore::open(dir.join("events.db")).unwrap());
    let read_only = format!("file:{}?mode=ro", dir.join("events.db").display());
    let store = tidings::SqliteStore::open(&read_only).unwrap();
    let server = start_with(Emitter::builder().store(store).build()).await;
    let user = Uuid::new_v4();
    let live = server.events.subscribe(user);
    let answer = server
        .send(
            reqwest::Method::POST,
            user,
            "",
            json!({"category": "ui", "action": "page_view", "severity": "debug"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(server.events.failures(), 1);
    assert!(matches!(live.try_recv(), Err(tidings::TryRecvError::Empty)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends a request and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_clear_400s_and_no_user_gets_401() {
    let server = start().await;
    let user = Uuid::new_v4();
    let post = |body: Value| server.send(reqwest::Method::POST, user, "", body).send();

    for (sent, field, named) in [
        (
            json!({"action": "ping", "severity": "success"}),
            "category",
            "`category`",
        ),
        (
            json!({"category": "Connection", "action": "ping", "severity": "success"}),
            "category",
            "\"Connection\"",
        ),
        (
            json!({"category": "connection", "action": "ping", "severity": "fatal"}),
            "severity",
            "\"fatal\"",
        ),
        (
            json!({"category": "connection", "action": "ping", "severity": "error"}),
            "metadata",
            "`err`",
        ),
    ] {
        let (status, body) = error_of(post(sent).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["field"], field, "{body}");
        assert!(body["error"].as_str().unwrap().contains(named), "{body}");
    }
    let (status, body) = error_of(
        server
            .client
            .post(server.base.clone())
            .header("x-user-id", user.to_string())
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "body");

    for (query, field) in [
        ("pagesize=lots", "pagesize"),
        ("order=up", "order"),
        ("sort=name", "sort"),
        ("severity=bad", "severity"),
        ("actedUpon=x", "actedUpon"),
        ("severity=%5B%22error%22%2C", "severity"),
        ("severity=%5B%22error%22%2C%22bad%22%5D", "severity"),
        ("category=%5B1%5D", "category"),
    ] {
        let (status, body) =
            error_of(server.get(user, &format!("?{query}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (status, body) = error_of(
        server
            .send(
                reqwest::Method::PUT,
                user,
                "/status/not-a-uuid",
                json!({"status": "read"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "id");
    let (status, body) = error_of(
        server
            .send(
                reqwest::Method::PUT,
                user,
                &format!("/status/{}", Uuid::new_v4()),
                json!({"status": "seen"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "status");

    let anonymous = server.client.get(server.base.clone()).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_the_same_with_a_trailing_slash() {
    let server = start().await;
    let user = Uuid::new_v4();
    let stored = json_of(server.send(
        reqwest::Method::POST,
        user,
        "",
        json!({"category": "connection", "action": "ping", "severity": "informational"}),
    ))
    .await;
    let id = stored["id"].as_str().unwrap().to_owned();
    for path in ["", "/types", &format!("/{id}")] {
        let plain = server.get(user, path).send().await.unwrap();
        let slashed = server.get(user, &format!("{path}/")).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "GET {path:?}");
        assert_eq!(
            slashed.status(),
            StatusCode::OK,
            "GET {path:?} with a trailing slash"
        );
        let (plain, slashed): (Value, Value) =
            (plain.json().await.unwrap(), slashed.json().await.unwrap());
        assert_eq!(plain, slashed, "GET {path:?}");
    }
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            format!("/status/{id}/"),
            json!({"status": "read"}),
        ),
        (
            reqwest::Method::PUT,
            "/status/bulk/".to_owned(),
            json!({"status": "read", "ids": [id]}),
        ),
        (
            reqwest::Method::POST,
            "/".to_owned(),
            json!({"category": "connection", "action": "ping", "severity": "informational"}),
        ),
        (
            reqwest::Method::DELETE,
            "/bulk/".to_owned(),
            json!({"ids": []}),
        ),
        (reqwest::Method::DELETE, format!("/{id}/"), json!({})),
    ] {
        let status = server
            .send(method.clone(), user, &path, body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }
    let stream = server.get(user, "/subscribe/").send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_by_id_for_its_owner_only() {
    let server = start().await;
    let (owner, other) = (Uuid::new_v4(), Uuid::new_v4());
    let stored = json_of(server.send(
        reqwest::Method::POST,
        owner,
        "",
        json!({"category": "connection", "action": "ping", "severity": "warning",
               "description": "one event"}),
    ))
    .await;
    let id = stored["id"].as_str().unwrap();
    let mine = server.get(owner, &format!("/{id}")).send().await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.json::<Value>().await.unwrap(), stored);

    let (status, body) = error_of(server.get(other, &format!("/{id}")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = error_of(
        server
            .get(owner, &format!("/{}", Uuid::new_v4()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = error_of(server.get(owner, "/not-an-id").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "id");
}

/// Whether the history read happens before or after the latch.
#[derive(Clone, Copy, Debug)]
enum HistoryRead {
    /// Reads the missed events, then waits: what is published while it waits is only live.
    ThenWait,
    /// Waits, then reads: what was published while it waited is both in the history and live.
    AfterWaiting,
}

/// A resume while events are published: the stream's history read is held on a latch while two
/// events are stored and published, then released. Each event must arrive exactly once, in
/// order, whichever side of the read they fall on: after the history when they are only live,
/// and skipped live when the history already had them.
async fn resume_while_events_are_published(read: HistoryRead) {
    let latch = std::sync::Arc::new(common::Latch::default());
    let holds = std::sync::Arc::clone(&latch);
    let store = common::WatchedStore::new(move |call| {
        match (read, call) {
            (HistoryRead::AfterWaiting, common::StoreCall::StoredAfter)
            | (HistoryRead::ThenWait, common::StoreCall::StoredAfterRead) => holds.hold(),
            _ => {}
        }
        Ok(())
    });
    let events = Emitter::builder().store(store).inline_writes().build();
    let server = start_with(events).await;
    let _release = common::OpensOnDrop(std::sync::Arc::clone(&latch));
    let user = Uuid::new_v4();
    let first = server.events.emit(numbered_event(user, 0)).unwrap();
    for n in 1..3 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    let request = server
        .get(user, "/subscribe")
        .header("last-event-id", first.id().to_string());
    let pending = tokio::spawn(request.send());

    // The server has subscribed (or not) and is held in the history read.
    let held = std::sync::Arc::clone(&latch);
    tokio::task::spawn_blocking(move || held.wait_until_held(1, "history reads"))
        .await
        .unwrap();
    for n in 3..5 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    latch.open();

    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = SseReader(Frames::new(response));
    // A live event after them shows what came between: a duplicate or a gap would be seen
    // before it.
    server.events.emit(numbered_event(user, 5)).unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(n_of(&stream.next_event().await));
    }
    assert_eq!(got, [1, 2, 3, 4, 5], "{read:?}: each once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_gets_events_published_during_its_history_read_once_no_gap() {
    resume_while_events_are_published(HistoryRead::ThenWait).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_gets_events_both_in_its_history_and_live_once_no_duplicate() {
    resume_while_events_are_published(HistoryRead::AfterWaiting).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_acted_upon_updated_at_sorting_and_marking_unread_over_http() {
    let server = start().await;
    let user = Uuid::new_v4();
    let resource = Uuid::new_v4();
    let mut ids = Vec::new();
    for (action, acted_upon) in [("ping", Some(resource)), ("deploy", None), ("ping", None)] {
        let mut builder = Event::builder()
            .from_user(user)
            .category("connection")
            .action(action);
        if let Some(id) = acted_upon {
            builder = builder.acted_upon(id);
        }
        ids.push(server.events.emit(builder.build().unwrap()).unwrap().id());
    }
    let listed = |query: String| json_of(server.get(user, &format!("?{query}")));
    let ids_of = |page: Value| -> Vec<String> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let pings = listed("action=ping&order=asc".to_owned()).await;
    assert_eq!(ids_of(pings), [ids[0].to_string(), ids[2].to_string()]);
    let about = listed(format!("actedUpon={resource}")).await;
    assert_eq!(ids_of(about), [ids[0].to_string()]);

    // Marking the oldest read, then unread again, touches its `updatedAt`: it sorts first by
    // `updated_at`, newest first, while `created_at` keeps it last.
    for status in ["read", "unread"] {
        let marked = json_of(server.send(
            reqwest::Method::PUT,
            user,
            &format!("/status/{}", ids[0]),
            json!({ "status": status }),
        ))
        .await;
        assert_eq!(marked["status"], status);
    }
    let unread = listed("status=unread".to_owned()).await;
    assert_eq!(unread["totalCount"], 3, "marked unread again over HTTP");
    let by_update = listed("sort=updated_at&order=desc".to_owned()).await;
    assert_eq!(ids_of(by_update)[0], ids[0].to_string());
    let by_creation = listed("sort=created_at&order=desc".to_owned()).await;
    assert_eq!(ids_of(by_creation)[2], ids[0].to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_missed_more_than_the_replay_limit_is_told_to_reload() {
    let server = start().await;
    let user = Uuid::new_v4();
    let limit = tidings::web::MAX_REPLAY;
    let first = server.events.emit(numbered_event(user, 0)).unwrap().id();
    let mut ids = vec![first];
    for n in 1..=limit + 1 {
        ids.push(server.events.emit(numbered_event(user, n)).unwrap().id());
    }
    // Exactly the limit missed: replayed, the first and the last of them in place.
    let mut at_limit = subscribe(&server, user, Some(ids[1])).await;
    assert_eq!(n_of(&at_limit.next_event().await), 2);
    for _ in 3..=limit {
        at_limit.next_event().await;
    }
    assert_eq!(n_of(&at_limit.next_event().await), limit as u64 + 1);
    // One more than the limit: the replay is sent as it is read, so the first `limit` of them
    // come, then a reload instead of the rest.
    let mut beyond = subscribe(&server, user, Some(first)).await;
    for n in 1..=limit {
        assert_eq!(n_of(&beyond.next_event().await), n as u64);
    }
    let frame = beyond.next().await;
    assert_eq!(frame.event.as_deref(), Some("reload"), "{frame:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gets_keepalive_comments_at_the_configured_interval() {
    let events = Emitter::new();
    let app = axum::Router::new().nest_service(
        "/api/events",
        tidings::web::router_with(
            events,
            |parts| Uuid::parse_str(parts.headers.get("x-user-id")?.to_str().ok()?).ok(),
            tidings::web::Options::default().keep_alive(Duration::from_millis(50)),
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut stream = Client::new()
        .get(format!("http://{address}/api/events/subscribe"))
        .header("x-user-id", Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    // Three comments from a stream that has nothing to send (bounded: 30 s at most).
    while received
        .lines()
        .filter(|line| line.starts_with(':'))
        .count()
        < 3
    {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
            .await
            .expect("no keep-alive comment within 30 s")
            .unwrap()
            .expect("the stream is open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!received.contains("data:"), "only comments: {received:?}");
}

/// A client cannot choose whose event it is, its id, its status, its system or its times: bodies
/// ignore the fields they do not take (Meshery's UI sends more), and the stored event has the
/// server's values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_event_never_takes_user_id_status_system_or_times_from_its_body() {
    let server = start().await;
    let (user, someone_else, chosen_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (field, value) in [
        ("userId", json!(someone_else)),
        ("id", json!(chosen_id)),
        ("status", json!("read")),
        ("systemId", json!(someone_else)),
        ("createdAt", json!("2001-01-01T00:00:00Z")),
        ("updatedAt", json!("2001-01-01T00:00:00Z")),
    ] {
        let mut body = json!({"category": "ui", "action": "page_view", "severity": "debug"});
        body[field] = value;
        let answer = server
            .send(reqwest::Method::POST, user, "", body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED, "{field}");
        let event: Event = answer.json().await.unwrap();
        assert_eq!(event.user_id(), Some(user), "{field}");
        assert_ne!(event.id(), chosen_id, "{field}");
        assert_eq!(event.status(), tidings::Status::Unread, "{field}");
        assert_eq!(
            event.system_id(),
            Some(server.events.system_id()),
            "{field}"
        );
        assert!(event.created_at().year() > 2001, "{field}");
    }
    let theirs: Value = json_of(server.get(someone_else, "?pagesize=all")).await;
    assert_eq!(theirs["totalCount"], 0, "nothing reached the other user");
}

/// One key order everywhere: an event's JSON text is the same in a live frame, the list, one
/// event's answer and a created event's answer (the order of `Event`'s fields), and a status
/// change answers the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_orders_an_events_keys_as_the_live_stream_does() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut stream = subscribe(&server, user, None).await;
    let created = server
        .send(
            reqwest::Method::POST,
            user,
            "",
            json!({"category": "connection", "action": "ping", "severity": "warning",
                   "description": "one event", "metadata": {"zone": "b", "attempt": 2}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = created.text().await.unwrap();
    let live = stream.next().await.data;
    assert_eq!(
        created, live,
        "the created event's answer and the live frame differ"
    );
    let id = serde_json::from_str::<Value>(&live).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = server.get(user, &format!("/{id}")).send().await.unwrap();
    assert_eq!(one.text().await.unwrap(), live, "GET /{{id}}");
    let list = server
        .get(user, "")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.starts_with(&format!("{{\"events\":[{live}]")),
        "the list's event is not the live frame's text: {list}"
    );
    let marked = server
        .send(
            reqwest::Method::PUT,
            user,
            &format!("/status/{id}"),
            json!({"status": "read"}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let position = |text: &str, key: &str| text.find(&format!("\"{key}\":")).unwrap();
    let keys = [
        "id",
        "operationId",
        "userId",
        "category",
        "action",
        "severity",
        "status",
    ];
    for pair in keys.windows(2) {
        assert!(
            position(&marked, pair[0]) < position(&marked, pair[1]),
            "{} after {} in {marked}",
            pair[0],
            pair[1]
        );
    }
}

/// The README's table of routes gives, for each, the answers the OpenAPI document (generated
/// from the handlers) lists: no route and no status code left out or invented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_table_of_routes_gives_every_routes_status_codes() {
    let server = start().await;
    let document = server.openapi().await;
    let readme = include_str!("../../../README.md");
    let header = "| verb, path (under `/api/events`) | what | answers |";
    let table = &readme[readme.find(header).expect("the README's table of routes")..];
    let mut documented = std::collections::BTreeMap::new();
    for row in table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("| `"))
    {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        let route = cells[0].trim().trim_matches('`');
        let (verb, path) = route.split_once(' ').unwrap();
        let codes: Vec<String> = cells
            .last()
            .unwrap()
            .split(", ")
            .map(|code| code.trim().to_owned())
            .collect();
        documented.insert((verb.to_lowercase(), path.to_owned()), codes);
    }
    let mut generated = std::collections::BTreeMap::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (verb, operation) in methods.as_object().unwrap() {
            let codes: Vec<String> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            generated.insert((verb.clone(), path.clone()), codes);
        }
    }
    // The document does not describe itself.
    generated.insert(
        ("get".to_owned(), "/openapi.json".to_owned()),
        vec!["200".to_owned()],
    );
    let sorted = |map: std::collections::BTreeMap<(String, String), Vec<String>>| {
        map.into_iter()
            .map(|(route, mut codes)| {
                codes.sort();
                (route, codes)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sorted(documented), sorted(generated));
}

/// When the store's history changes under the live streams (a PostgreSQL failover that lost its
/// newest rows), each stream sends `event: reload`, then goes on live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_change_makes_every_stream_send_reload() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut stream = subscribe(&server, user, None).await;
    server.events.broadcaster().history_changed();
    let frame = stream.next().await;
    assert_eq!(frame.event.as_deref(), Some("reload"), "{frame:?}");
    let live = server.events.emit(numbered_event(user, 1)).unwrap();
    assert_eq!(stream.next_event().await.id(), live.id());
}
