//! Promises of the attribute that only a test with side effects can keep: what is evaluated
//! when, what a cancelled call leaves behind, and enrichment from a body that moves between
//! executor threads.

mod common;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::Context;
use std::thread::ThreadId;

use common::PingError;
use tidings::testing::capture;
use tidings::{Emitter, Uuid, current, emits_event};

thread_local! {
    static IDS_EVALUATED: Cell<usize> = const { Cell::new(0) };
    static NAMES_RENDERED: Cell<usize> = const { Cell::new(0) };
}

fn counted(id: Uuid) -> Uuid {
    IDS_EVALUATED.with(|n| n.set(n.get() + 1));
    id
}

struct Name(&'static str);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        NAMES_RENDERED.with(|n| n.set(n.get() + 1));
        f.write_str(self.0)
    }
}

#[emits_event(
    category = "connection",
    action = "ping",
    acted_upon = counted(id),
    description = "Pinged {name}"
)]
fn ping(id: Uuid, name: &Name) -> Result<(), PingError> {
    let _ = (id, name);
    Ok(())
}

#[test]
fn ids_and_descriptions_are_evaluated_only_when_an_event_will_be_emitted() {
    let id = Uuid::new_v4();
    // No emitter: nothing is evaluated, no description rendered, so no event can be built.
    ping(id, &Name("minikube")).unwrap();
    assert_eq!(IDS_EVALUATED.with(Cell::get), 0);
    assert_eq!(NAMES_RENDERED.with(Cell::get), 0);

    let ((), events) = capture(|| ping(id, &Name("minikube")).unwrap());
    assert_eq!(IDS_EVALUATED.with(Cell::get), 1);
    assert_eq!(NAMES_RENDERED.with(Cell::get), 1);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].acted_upon(), Some(id));
    assert_eq!(events[0].description(), "Pinged minikube");
}

#[emits_event(category = "pattern", action = "deploy")]
async fn deploy_never_finishing() -> Result<(), PingError> {
    current::meta("started", true);
    std::future::pending::<()>().await;
    Ok(())
}

#[emits_event(category = "pattern", action = "deploy")]
async fn deploy_at_once() -> Result<(), PingError> {
    Ok(())
}

#[test]
fn a_call_cancelled_after_its_first_await_emits_nothing_and_leaves_no_frame() {
    let ((), events) = capture(|| {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        {
            let mut call = pin!(deploy_never_finishing());
            assert!(call.as_mut().poll(&mut cx).is_pending());
            assert!(!current::in_progress(), "no frame installed between polls");
        }
        // Dropped midway, as a request whose client went away.
        assert!(!current::in_progress());
        assert!(
            !current::meta("stray", 1),
            "no event in progress takes metadata"
        );
        let mut next = pin!(deploy_at_once());
        assert!(next.as_mut().poll(&mut cx).is_ready());
    });
    assert_eq!(
        events.len(),
        1,
        "only the call that finished emitted: {events:?}"
    );
    assert!(events[0].metadata().get("started").is_none());
    assert!(events[0].metadata().get("stray").is_none());
}

/// Records the thread before and after awaits that let another worker take the task over.
#[emits_event(category = "pattern", action = "deploy", emitter = events)]
async fn deploy_moving(events: &Emitter) -> Result<(ThreadId, ThreadId), PingError> {
    let before = std::thread::current().id();
    current::meta("before", format!("{before:?}"));
    for _ in 0..200 {
        // This worker runs a task that keeps it busy as soon as this one waits, and the wake-up
        // comes from the blocking pool, outside the workers: the idle worker takes the task.
        tokio::spawn(async { std::thread::sleep(std::time::Duration::from_millis(5)) });
        tokio::task::spawn_blocking(|| ()).await.expect("runs");
        if std::thread::current().id() != before {
            break;
        }
    }
    let after = std::thread::current().id();
    current::meta("after", format!("{after:?}"));
    Ok((before, after))
}

#[test]
fn enrichment_reaches_the_event_from_a_body_that_moved_to_another_worker_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let events = Emitter::new();
    let all = events.subscribe_all();
    let emitter = events.clone();
    let (before, after) = runtime
        .block_on(async move { tokio::spawn(async move { deploy_moving(&emitter).await }).await })
        .unwrap()
        .unwrap();
    assert_ne!(before, after, "the body never moved to the other worker");
    let event = all.try_recv().expect("one event");
    assert_eq!(event.metadata()["before"], format!("{before:?}"));
    assert_eq!(event.metadata()["after"], format!("{after:?}"));
}

struct Cluster {
    name: String,
}

impl Cluster {
    #[emits_event(
        category = "connection",
        action = "ping",
        description = "Pinged {name:?}"
    )]
    fn boxed(self: Box<Self>, name: &str) -> Result<String, PingError> {
        Ok(format!("{}:{name}", self.name))
    }

    #[emits_event(
        category = "connection",
        action = "ping",
        description = "Pinged {name:?}"
    )]
    fn counted(self: std::rc::Rc<Self>, name: &str) -> Result<String, PingError> {
        Ok(format!("{}:{name}", self.name))
    }

    #[emits_event(
        category = "connection",
        action = "ping",
        description = "Pinged {name:?}"
    )]
    fn pinned(self: std::pin::Pin<&mut Self>, name: &str) -> Result<String, PingError> {
        let this = self.get_mut();
        this.name.push('!');
        Ok(format!("{}:{name}", this.name))
    }
}

#[test]
fn box_rc_and_pin_receivers_work_and_debug_placeholders_render() {
    let (results, events) = capture(|| {
        let boxed = Box::new(Cluster { name: "a".into() }).boxed("x");
        let counted = std::rc::Rc::new(Cluster { name: "b".into() }).counted("y");
        let mut cluster = Cluster { name: "c".into() };
        let pinned = std::pin::Pin::new(&mut cluster).pinned("z \"quoted\"");
        (boxed, counted, pinned, cluster.name)
    });
    assert_eq!(results.0.unwrap(), "a:x");
    assert_eq!(results.1.unwrap(), "b:y");
    assert_eq!(results.2.unwrap(), "c!:z \"quoted\"");
    assert_eq!(results.3, "c!", "the body changed the pinned value");
    let descriptions: Vec<&str> = events.iter().map(|e| e.description()).collect();
    assert_eq!(
        descriptions,
        [
            "Pinged \"x\"",
            "Pinged \"y\"",
            "Pinged \"z \\\"quoted\\\"\""
        ]
    );
}
