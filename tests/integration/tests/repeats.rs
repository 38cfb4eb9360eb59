//! Quiet and truthful over real HTTP: folded repeats sent as `event: update` with their count,
//! a resume after a fold, the counts the server pushes (`/subscribe?counts=true`) after an
//! event, a mark and a delete, and bulk changes by the list's filters.

mod api;

use std::time::Duration;

use api::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings::{Emitter, Event, Severity, Uuid};
use tidings_test_support::{Frame, SseReader};

async fn start() -> Server {
    api::start(
        Emitter::new(),
        tidings::web::Options::default().counts_interval(Duration::from_millis(50)),
    )
    .await
}

async fn open(server: &Server, user: Uuid, query: &str, last: Option<&str>) -> SseReader {
    let mut request = server.get(user, &format!("/subscribe{query}"));
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    SseReader::new(response)
}

async fn next(stream: &mut SseReader) -> Frame {
    stream
        .next(Duration::from_secs(30))
        .await
        .expect("a frame within 30 s")
}

/// The next frame named `name`, skipping the others.
async fn next_named(stream: &mut SseReader, name: &str) -> Frame {
    loop {
        let frame = next(stream).await;
        if frame.event.as_deref() == Some(name) {
            return frame;
        }
    }
}

fn retry(user: Uuid, connection: Uuid, attempt: u32) -> Event {
    Event::builder()
        .from_user(user)
        .category("connection")
        .action("retry")
        .acted_upon(connection)
        .severity(Severity::Warning)
        .description(format!("attempt {attempt}"))
        .coalesce(Duration::from_secs(600))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folded_repeat_is_an_update_of_the_same_event_with_its_count() {
    let server = start().await;
    let (user, connection) = (Uuid::new_v4(), Uuid::new_v4());
    let mut stream = open(&server, user, "", None).await;
    let first = server.events.emit(retry(user, connection, 1)).unwrap();
    let frame = next(&mut stream).await;
    assert_eq!(frame.event, None, "the first is an event: {frame:?}");
    assert_eq!(frame.id, Some(first.id().to_string()));
    for attempt in 2..=3 {
        server
            .events
            .emit(retry(user, connection, attempt))
            .unwrap();
        let frame = next(&mut stream).await;
        assert_eq!(frame.event.as_deref(), Some("update"), "{frame:?}");
        assert_eq!(frame.id, Some(format!("{}:{attempt}", first.id())));
        let served: Value = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(served["id"], first.id().to_string());
        assert_eq!(served["count"], attempt);
        assert_eq!(served["description"], format!("attempt {attempt}"));
    }
    // The list holds it once, with its count; a new kind is a row of its own.
    let list: Value = server
        .get(user, "/")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["events"][0]["count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_gets_a_fold_made_while_away_once_and_reloads_when_its_last_event_was_folded() {
    let server = start().await;
    let (user, connection) = (Uuid::new_v4(), Uuid::new_v4());
    let folding = server.events.emit(retry(user, connection, 1)).unwrap();
    let other = server
        .events
        .emit(
            Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .build()
                .unwrap(),
        )
        .unwrap();
    // Away after `other`: a fold meanwhile comes first on the resume, as an update.
    server.events.emit(retry(user, connection, 2)).unwrap();
    let mut resumed = open(&server, user, "", Some(&other.id().to_string())).await;
    let frame = next(&mut resumed).await;
    assert_eq!(frame.event.as_deref(), Some("update"));
    assert_eq!(frame.id, Some(format!("{}:2", folding.id())));
    // And it is sent once: the live copy of the next fold is new, the replayed one is not.
    server.events.emit(retry(user, connection, 3)).unwrap();
    let frame = next(&mut resumed).await;
    assert_eq!(frame.id, Some(format!("{}:3", folding.id())));
    // Resuming after `folding` as it was at count 3: nothing missed, no reload.
    let mut same = open(&server, user, "", Some(&format!("{}:3", folding.id()))).await;
    assert_eq!(same.next(Duration::from_millis(300)).await, None);
    // After the event as it was at count 2, folded since: its place moved, so reload.
    let mut stale = open(&server, user, "", Some(&format!("{}:2", folding.id()))).await;
    assert_eq!(next(&mut stale).await.event.as_deref(), Some("reload"));
    let bad = server
        .get(user, "/subscribe")
        .header("last-event-id", format!("{}:zero", folding.id()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// The counts a frame or a list answer gives: `(totalCount, readCount, countBySeverityLevel)`.
fn counts(value: &Value) -> (Value, Value, Value) {
    (
        value["totalCount"].clone(),
        value["readCount"].clone(),
        value["countBySeverityLevel"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_pushed_after_an_event_a_mark_and_a_delete_exactly_as_the_list_gives_them() {
    let server = start().await;
    let user = Uuid::new_v4();
    let mut tab = open(&server, user, "?counts=true", None).await;
    let mut plain = open(&server, user, "", None).await;
    let list = || async {
        let answer: Value = server
            .get(user, "/")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counts(&answer)
    };
    // The first frame says where the counts stand.
    let frame = next_named(&mut tab, "counts").await;
    assert_eq!(
        counts(&serde_json::from_str(&frame.data).unwrap()),
        list().await
    );
    let failure = std::io::Error::other("refused");
    let error = server
        .events
        .emit(
            Event::builder()
                .from_user(user)
                .category("connection")
                .action("ping")
                .err(&failure)
                .build()
                .unwrap(),
        )
        .unwrap();
    let frame = next_named(&mut tab, "counts").await;
    let pushed: Value = serde_json::from_str(&frame.data).unwrap();
    assert_eq!(
        pushed["countBySeverityLevel"],
        json!([{"severity": "error", "count": 1}])
    );
    assert_eq!(counts(&pushed), list().await);
    // Marked read in another tab: this one's counts change without a new event.
    let marked = server
        .send(
            reqwest::Method::PUT,
            user,
            &format!("/status/{}", error.id()),
            json!({"status": "read"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), StatusCode::OK);
    let pushed: Value = serde_json::from_str(&next_named(&mut tab, "counts").await.data).unwrap();
    assert_eq!(pushed["readCount"], 1);
    assert_eq!(pushed["countBySeverityLevel"], json!([]));
    assert_eq!(counts(&pushed), list().await);
    // Deleted everything by the list's filters (one request, whatever the number).
    let deleted = server
        .send(reqwest::Method::DELETE, user, "/bulk", json!({"all": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let pushed: Value = serde_json::from_str(&next_named(&mut tab, "counts").await.data).unwrap();
    assert_eq!(pushed["totalCount"], 0);
    assert_eq!(counts(&pushed), list().await);
    // A stream that did not ask gets the event and no counts.
    let frame = next(&mut plain).await;
    assert_eq!(frame.event, None);
    assert_eq!(plain.next(Duration::from_millis(300)).await, None);
    let bad = server
        .get(user, "/subscribe?counts=often")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_is_one_counts_frame_per_interval() {
    let server = api::start(
        Emitter::new(),
        tidings::web::Options::default().counts_interval(Duration::from_secs(3600)),
    )
    .await;
    let user = Uuid::new_v4();
    let mut tab = open(&server, user, "?counts=true", None).await;
    assert_eq!(next(&mut tab).await.event.as_deref(), Some("counts"));
    for _ in 0..20 {
        server
            .events
            .emit(
                Event::builder()
                    .from_user(user)
                    .category("pattern")
                    .action("deploy")
                    .build()
                    .unwrap(),
            )
            .unwrap();
    }
    // The twenty events, and no counts frame within the hour's interval.
    for _ in 0..20 {
        assert_eq!(next(&mut tab).await.event, None);
    }
    assert_eq!(tab.next(Duration::from_millis(500)).await, None);
}
