//! Limits the server owns (issue #28): what one signed-in user can make the events API hold
//! (answers, replays, live streams, bodies) is bounded by the server's own limits, each with a
//! default, a way to set it, and an error that names it.

mod api;
#[path = "../../common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use api::{Server, start};
use common::numbered_event;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::web::Options;
use tidings::{Emitter, Event, EventStore as _, Uuid};
use tidings_test_support::SseReader;

fn n_of(event: &Event) -> u64 {
    event.metadata()["n"].as_u64().unwrap()
}

fn event_of(frame: &tidings_test_support::Frame) -> Event {
    assert_eq!(frame.event, None, "an event's frame: {frame:?}");
    serde_json::from_str(&frame.data).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_holds_at_most_the_servers_cap_and_says_so() {
    let server = start(Emitter::new(), Options::default().max_page_size(5)).await;
    let user = Uuid::new_v4();
    for n in 0..7 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    for query in ["pagesize=all", "pagesize=6", "pagesize=1000000"] {
        let page = server.list(user, query).await;
        assert_eq!(page["events"].as_array().unwrap().len(), 5, "{query}");
        assert_eq!(page["capped"], true, "{query}");
        assert_eq!(page["pageSize"], 5, "{query}");
        assert_eq!(
            page["totalCount"], 7,
            "{query}: the count is of every match"
        );
    }
    let second = server.list(user, "pagesize=all&page=1").await;
    assert_eq!(second["events"].as_array().unwrap().len(), 2);
    let within = server.list(user, "pagesize=5").await;
    assert_eq!(within["capped"], false);
    assert_eq!(within["events"].as_array().unwrap().len(), 5);
    // The default cap.
    assert_eq!(tidings::web::DEFAULT_MAX_PAGE_SIZE, 200);
    let server = start(Emitter::new(), Options::default()).await;
    let page = server.list(user, "pagesize=all").await;
    assert_eq!(page["capped"], true);
    assert_eq!(page["pageSize"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_refused_and_nothing_is_stored() {
    let server = start(Emitter::new(), Options::default()).await;
    let user = Uuid::new_v4();
    let planted = json!({"category": "security", "action": "alert", "severity": "critical",
        "description": "Click here", "metadata": {"doc": "https://evil.example"}})
    .to_string();
    // What a plain HTML form on any site can make the user's browser send.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = server
            .request(reqwest::Method::POST, user, "")
            .body(planted.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], "Content-Type");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("application/json"), "{error}");
        if let Some(content_type) = content_type {
            assert!(error.contains(content_type), "{error} names {content_type}");
        }
    }
    assert_eq!(
        server.list(user, "").await["totalCount"],
        0,
        "nothing planted"
    );
    // The marking and deleting routes with a body too.
    let id = server.events.emit(numbered_event(user, 0)).unwrap().id();
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            format!("/status/{id}"),
            json!({"status": "read"}),
        ),
        (
            reqwest::Method::PUT,
            "/status/bulk".to_owned(),
            json!({"status": "read", "ids": [id]}),
        ),
        (
            reqwest::Method::DELETE,
            "/bulk".to_owned(),
            json!({"ids": [id]}),
        ),
    ] {
        let response = server
            .request(method.clone(), user, &path)
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{method} {path}"
        );
    }
    let page = server.list(user, "").await;
    assert_eq!(
        (page["totalCount"].clone(), page["readCount"].clone()),
        (json!(1), json!(0))
    );
    // JSON with a charset is JSON.
    let response = server
        .request(reqwest::Method::PUT, user, &format!("/status/{id}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({"status": "read"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_request_takes_at_most_the_servers_count_of_ids() {
    let server = start(Emitter::new(), Options::default().max_bulk_ids(2)).await;
    let user = Uuid::new_v4();
    let ids: Vec<Uuid> = (0..3)
        .map(|n| server.events.emit(numbered_event(user, n)).unwrap().id())
        .collect();
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/status/bulk",
            json!({"status": "read", "ids": ids}),
        ),
        (reqwest::Method::DELETE, "/bulk", json!({"ids": ids})),
    ] {
        let response = server
            .request(method, user, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], "ids");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("3 ids") && error.contains("at most 2"),
            "{error}"
        );
        assert!(error.contains("max_bulk_ids"), "{error}");
    }
    assert_eq!(server.list(user, "status=unread").await["totalCount"], 3);
    let within = server
        .request(reqwest::Method::PUT, user, "/status/bulk")
        .json(&json!({"status": "read", "ids": ids[..2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(within.status(), StatusCode::OK);
}

/// Opens a live stream; `Err` with the status, `Retry-After` and error of a refusal.
async fn open(server: &Server, user: Uuid) -> Result<SseReader, (StatusCode, String, String)> {
    let response = server.get(user, "/subscribe").send().await.unwrap();
    if response.status() == StatusCode::OK {
        return Ok(SseReader::new(response));
    }
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap();
    Err((status, retry, body["error"].as_str().unwrap().to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_are_limited_per_user_and_in_all() {
    let options = Options::default()
        .max_streams_per_user(2)
        .max_streams(3)
        .keep_alive(Duration::from_millis(20));
    let server = start(Emitter::new(), options).await;
    let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let first = open(&server, alice).await.unwrap();
    let _second = open(&server, alice).await.unwrap();
    let Err((status, retry, error)) = open(&server, alice).await else {
        panic!("a third stream of one user is refused");
    };
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.parse::<u32>().unwrap() > 0);
    assert!(
        error.contains("max_streams_per_user") && error.contains("at most 2"),
        "{error}"
    );
    // Another user is not refused for Alice's streams, up to the limit of all.
    let _bob = open(&server, bob).await.unwrap();
    let Err((status, _, error)) = open(&server, carol).await else {
        panic!("a fourth stream in all is refused");
    };
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        error.contains("max_streams") && error.contains("at most 3"),
        "{error}"
    );
    // A stream that ends gives its place back: once the server has seen it closed (its next
    // keep-alive fails), Carol's stream opens (bounded: 30 s).
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match open(&server, carol).await {
            Ok(_) => break,
            Err(refused) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never freed: {refused:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// A resumed stream sends what was missed as it reads it, a part at a time: its first frames
/// arrive while the store is still held in reading the next part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_sends_frames_as_it_reads_them() {
    let latch = Arc::new(common::Latch::default());
    let holds = Arc::clone(&latch);
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&reads);
    let store = common::WatchedStore::new(move |call| {
        // The second read of the history is held until the test has the first part's frames.
        if let common::StoreCall::StoredAfter = call
            && counted.fetch_add(1, Ordering::SeqCst) == 1
        {
            holds.hold();
        }
        Ok(())
    });
    let events = Emitter::builder().store(store).inline_writes().build();
    let server = start(events, Options::default()).await;
    let _release = common::OpensOnDrop(Arc::clone(&latch));
    let user = Uuid::new_v4();
    let first = server.events.emit(numbered_event(user, 0)).unwrap().id();
    for n in 1..=250 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    let response = server
        .get(user, "/subscribe")
        .header("last-event-id", first.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = SseReader::new(response);
    for n in 1..=100 {
        let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
        assert_eq!(n_of(&event_of(&frame)), n);
    }
    let held = Arc::clone(&latch);
    tokio::task::spawn_blocking(move || held.wait_until_held(1, "the second part's read"))
        .await
        .unwrap();
    latch.open();
    for n in 101..=250 {
        let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
        assert_eq!(n_of(&event_of(&frame)), n);
    }
    // Then live, no duplicate.
    server.events.emit(numbered_event(user, 251)).unwrap();
    let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
    assert_eq!(n_of(&event_of(&frame)), 251);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_bounded_in_bytes_then_reloads() {
    let events = Emitter::new();
    let user = Uuid::new_v4();
    let first = events.emit(numbered_event(user, 0)).unwrap();
    let one = serde_json::to_string(&*first).unwrap().len();
    // Room for two of the events that follow (the same size, but for their ids' digits).
    let server = start(
        events,
        Options::default().max_replay_bytes(2 * one + one / 2),
    )
    .await;
    for n in 1..=5 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    let response = server
        .get(user, "/subscribe")
        .header("last-event-id", first.id().to_string())
        .send()
        .await
        .unwrap();
    let mut stream = SseReader::new(response);
    for n in 1..=2 {
        let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
        assert_eq!(n_of(&event_of(&frame)), n);
    }
    let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
    assert_eq!(frame.event.as_deref(), Some("reload"), "{frame:?}");
    // Live events follow.
    server.events.emit(numbered_event(user, 6)).unwrap();
    let frame = stream.next(Duration::from_secs(30)).await.expect("a frame");
    assert_eq!(n_of(&event_of(&frame)), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_event_over_the_size_limit_is_refused_naming_the_field() {
    let server = start(Emitter::new(), Options::default()).await;
    let user = Uuid::new_v4();
    let limit = tidings::MAX_EVENT_BYTES;
    for (body, field) in [
        (
            json!({"category": "design", "action": "import", "severity": "informational",
                "description": "d".repeat(limit + 1)}),
            "description",
        ),
        (
            json!({"category": "design", "action": "import", "severity": "informational",
                "metadata": {"Attachment": "m".repeat(limit)}}),
            "metadata",
        ),
    ] {
        let response = server
            .request(reqwest::Method::POST, user, "")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{field}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["field"], field);
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains(&limit.to_string()) && error.contains("max_event_bytes"),
            "{error}"
        );
    }
    assert_eq!(server.list(user, "").await["totalCount"], 0);
    // A smaller limit of the server's own.
    let server = start(Emitter::new(), Options::default().max_event_bytes(100)).await;
    let response = server
        .request(reqwest::Method::POST, user, "")
        .json(
            &json!({"category": "design", "action": "import", "severity": "informational",
            "description": "d".repeat(101)}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// "Mark all as read" and "Delete all" work for any number of events: the bulk routes take the
/// list's own filters, done by the store in one statement, for the request's user only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_and_delete_all_by_the_lists_filters_for_any_number_of_events() {
    let server = start(Emitter::new(), Options::default().max_bulk_ids(100)).await;
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    for n in 0..2_500 {
        server.events.emit(numbered_event(user, n)).unwrap();
    }
    server.events.emit(numbered_event(other, 0)).unwrap();
    let marked: Value = server
        .request(reqwest::Method::PUT, user, "/status/bulk?status=unread")
        .json(&json!({"status": "read", "all": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(marked["updated"], 2_500);
    assert_eq!(server.list(user, "status=unread").await["totalCount"], 0);
    assert_eq!(server.list(other, "status=unread").await["totalCount"], 1);
    // Both, or neither, is a 400 that says what to send.
    for (body, field) in [
        (json!({"status": "unread", "all": true, "ids": []}), "all"),
        (json!({"status": "unread"}), "ids"),
    ] {
        let response = server
            .request(reqwest::Method::PUT, user, "/status/bulk")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["field"], field);
    }
    let response = server
        .request(reqwest::Method::DELETE, user, "/bulk?status=read")
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.list(user, "").await["totalCount"], 0);
    assert_eq!(server.list(other, "").await["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_body_limit_is_a_413_that_names_it() {
    let server = start(Emitter::new(), Options::default()).await;
    let user = Uuid::new_v4();
    let huge = format!(
        "{{\"category\": \"design\", \"action\": \"import\", \"severity\": \"informational\", \
         \"description\": \"{}\"}}",
        "d".repeat(3 << 20)
    );
    let response = server
        .request(reqwest::Method::POST, user, "")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["field"], "body");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("DefaultBodyLimit"),
        "{answer}"
    );
}

/// The readiness route: 200 while events are stored, 503 with the reason while the store fails,
/// 200 again once it stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_route_goes_503_while_the_store_fails_and_back() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failing = Arc::clone(&down);
    let store = common::WatchedStore::new(move |call| match call {
        common::StoreCall::Insert(_) if failing.load(Ordering::SeqCst) => {
            Err(tidings::StoreError::Backend("disk full".into()))
        }
        _ => Ok(()),
    })
    .in_background();
    let events = Emitter::builder().store(store).build();
    let server = start(events.clone(), Options::default()).await;
    let check = || async {
        let response = server
            .client
            .get(format!("{}/health", server.origin))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let user = Uuid::new_v4();
    let emit_and_flush = |n| {
        let events = events.clone();
        tokio::task::spawn_blocking(move || {
            events.emit(numbered_event(user, n)).unwrap();
            events.flush().unwrap();
        })
    };
    emit_and_flush(0).await.unwrap();
    let (status, body) = check().await;
    assert_eq!(
        (status, body["ready"].clone()),
        (StatusCode::OK, json!(true))
    );
    down.store(true, Ordering::SeqCst);
    emit_and_flush(1).await.unwrap();
    let (status, body) = check().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().unwrap().contains("failing"),
        "{body}"
    );
    assert_eq!(body["details"]["failedInOutage"], 1);
    down.store(false, Ordering::SeqCst);
    emit_and_flush(2).await.unwrap();
    let (status, _) = check().await;
    assert_eq!(status, StatusCode::OK);
}

/// The store threads and their queue are a limit: with one thread held in a slow query and one
/// call waiting, one more is a 503 with `Retry-After` that names the limit; once the query
/// ends, the others are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_of_store_calls_is_a_503_that_names_the_limit() {
    let latch = Arc::new(common::Latch::default());
    let holds = Arc::clone(&latch);
    let store = common::WatchedStore::new(move |call| {
        if let common::StoreCall::Query = call {
            holds.hold();
        }
        Ok(())
    });
    let events = Emitter::builder().store(store).inline_writes().build();
    let server = start(
        events,
        Options::default()
            .store_threads(1)
            .max_queued_store_calls(1),
    )
    .await;
    let _release = common::OpensOnDrop(Arc::clone(&latch));
    let user = Uuid::new_v4();
    let slow = tokio::spawn(server.get(user, "").send());
    let held = Arc::clone(&latch);
    tokio::task::spawn_blocking(move || held.wait_until_held(1, "the first list's query"))
        .await
        .unwrap();
    // The only thread is held: of two more calls, one waits in the queue and one is refused
    // at once (the waiting one cannot end before the query does).
    let mut first = tokio::spawn(server.get(user, "/types").send());
    let mut second = tokio::spawn(server.get(user, "/types").send());
    let (refused, waiting) = tokio::select! {
        answer = &mut first => (answer.unwrap().unwrap(), second),
        answer = &mut second => (answer.unwrap().unwrap(), first),
    };
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("web::Options::max_queued_store_calls"),
        "{body}"
    );
    latch.open();
    assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(waiting.await.unwrap().unwrap().status(), StatusCode::OK);
}

/// A store with async calls (a user's own, through `EventStore::nonblocking`): its list queries
/// wait until the test lets them go.
struct Awaited {
    inner: tidings::MemoryStore,
    /// A permit for each list query let go.
    go: tokio::sync::Semaphore,
    /// How many list queries have started.
    started: AtomicUsize,
    started_one: tokio::sync::Notify,
}

impl tidings::EventStore for Awaited {
    fn insert(&self, event: &Arc<Event>) -> Result<tidings::Inserted, tidings::StoreError> {
        self.inner.insert(event)
    }
    fn get(&self, id: Uuid) -> Result<Option<Event>, tidings::StoreError> {
        self.inner.get(id)
    }
    fn query(
        &self,
        query: &tidings::EventQuery,
    ) -> Result<tidings::EventPage, tidings::StoreError> {
        panic!("the events API awaits this store's query, {query:?}")
    }
    fn set_status_many(
        &self,
        ids: &[Uuid],
        status: tidings::Status,
    ) -> Result<usize, tidings::StoreError> {
        self.inner.set_status_many(ids, status)
    }
    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, tidings::StoreError> {
        self.inner.delete_many(ids)
    }
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, tidings::StoreError> {
        self.inner.stored_after(user, after, limit)
    }
    fn types(&self, user: Option<Uuid>) -> Result<tidings::EventTypes, tidings::StoreError> {
        self.inner.types(user)
    }
    fn nonblocking(&self) -> Option<&dyn tidings::NonBlockingStore> {
        Some(self)
    }
}

impl tidings::NonBlockingStore for Awaited {
    fn get(&self, id: Uuid) -> tidings::StoreFuture<'_, Option<Event>> {
        Box::pin(std::future::ready(self.inner.get(id)))
    }
    fn query<'a>(
        &'a self,
        query: &'a tidings::EventQuery,
    ) -> tidings::StoreFuture<'a, tidings::EventPage> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.started_one.notify_one();
            self.go.acquire().await.unwrap().forget();
            self.inner.query(query)
        })
    }
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> tidings::StoreFuture<'_, Option<Vec<Event>>> {
        Box::pin(std::future::ready(
            self.inner.stored_after(user, after, limit),
        ))
    }
    fn types(&self, user: Option<Uuid>) -> tidings::StoreFuture<'_, tidings::EventTypes> {
        Box::pin(std::future::ready(self.inner.types(user)))
    }
    fn set_status_matching<'a>(
        &'a self,
        query: &'a tidings::EventQuery,
        status: tidings::Status,
    ) -> tidings::StoreFuture<'a, usize> {
        Box::pin(std::future::ready(
            self.inner.set_status_matching(query, status),
        ))
    }
    fn delete_matching<'a>(
        &'a self,
        query: &'a tidings::EventQuery,
    ) -> tidings::StoreFuture<'a, usize> {
        Box::pin(std::future::ready(self.inner.delete_matching(query)))
    }
}

/// A store with async calls is awaited, within the same limits: one call running and one
/// waiting, one more is a 503 that names the limit; once the first ends, the waiting one is
/// answered. (The store's sync `query` is never called: it would panic.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonblocking_store_is_awaited_within_the_same_limits() {
    let store = Arc::new(Awaited {
        inner: tidings::MemoryStore::new(),
        go: tokio::sync::Semaphore::new(0),
        started: AtomicUsize::new(0),
        started_one: tokio::sync::Notify::new(),
    });
    let events = Emitter::builder()
        .shared_store(Arc::clone(&store) as _)
        .build();
    let server = start(
        events,
        Options::default()
            .nonblocking_store_calls(1)
            .max_queued_store_calls(1),
    )
    .await;
    let user = Uuid::new_v4();
    let running = tokio::spawn(server.get(user, "").send());
    while store.started.load(Ordering::SeqCst) == 0 {
        store.started_one.notified().await;
    }
    // One call runs (its query waits); of two more, one waits for it and one is refused.
    let mut first = tokio::spawn(server.get(user, "").send());
    let mut second = tokio::spawn(server.get(user, "").send());
    let (refused, waiting) = tokio::select! {
        answer = &mut first => (answer.unwrap().unwrap(), second),
        answer = &mut second => (answer.unwrap().unwrap(), first),
    };
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("web::Options::nonblocking_store_calls"),
        "{body}"
    );
    assert_eq!(
        store.started.load(Ordering::SeqCst),
        1,
        "the waiting call has not started its query"
    );
    store.go.add_permits(2);
    assert_eq!(running.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(waiting.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(store.started.load(Ordering::SeqCst), 2);
}
