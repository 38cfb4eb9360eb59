//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::error::Error;
use std::fmt;

use serde_json::{Value, json};
use tidings::{Event, Severity, Uuid};

/// A `pattern`/`deploy` event for `user`, numbered `n` in its metadata.
pub fn numbered_event(user: Uuid, n: usize) -> Event {
    Event::builder()
        .from_user(user)
        .category("pattern")
        .action("deploy")
        .meta("n", n)
        .build()
        .unwrap()
}

/// The number `numbered_event` gave an event.
pub fn number_of(event: &Event) -> usize {
    usize::try_from(event.metadata()["n"].as_u64().unwrap()).unwrap()
}

/// Asserts a `success` event of this category and action, and returns it.
pub fn assert_success<'a>(event: &'a Event, category: &str, action: &str) -> &'a Event {
    assert!(event.category() == category, "category: {event:?}");
    assert!(event.action() == action, "action: {event:?}");
    assert_eq!(event.severity(), Severity::Success, "{event:?}");
    assert!(event.metadata().get("err").is_none(), "{event:?}");
    event
}

/// Asserts an `error` event of this category and action whose `err` has this message and causes.
pub fn assert_error<'a>(
    event: &'a Event,
    category: &str,
    action: &str,
    message: &str,
    causes: &[&str],
) -> &'a Event {
    assert!(event.category() == category, "category: {event:?}");
    assert!(event.action() == action, "action: {event:?}");
    assert_eq!(event.severity(), Severity::Error, "{event:?}");
    let err = &event.metadata()["err"];
    assert_eq!(err["message"], Value::from(message), "{event:?}");
    assert_eq!(err["causes"], json!(causes), "{event:?}");
    event
}

/// An error with one cause.
#[derive(Debug)]
pub struct PingError {
    pub source: std::io::Error,
}

impl PingError {
    pub fn refused() -> Self {
        PingError {
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ),
        }
    }
}

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not ping")
    }
}

impl Error for PingError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// A store call, as [`WatchedStore`]'s hook sees it.
#[derive(Debug)]
pub enum StoreCall<'a> {
    /// Before an event is stored.
    Insert(&'a Event),
    /// After an event is stored, before the insert returns.
    Inserted(&'a Event),
    /// Before a query.
    Query,
    /// Before the history read of a resuming stream.
    StoredAfter,
    /// After that read, before its result is returned.
    StoredAfterRead,
    /// The store's housekeeping (retention).
    Maintain,
}

type Hook = Box<dyn Fn(StoreCall<'_>) -> Result<(), tidings::StoreError> + Send + Sync>;

/// A memory store whose calls a test watches, holds or refuses: the hook runs at each
/// [`StoreCall`], and an `Err` from it is the call's answer.
pub struct WatchedStore {
    inner: tidings::MemoryStore,
    background: bool,
    hook: Hook,
}

impl WatchedStore {
    pub fn new(
        hook: impl Fn(StoreCall<'_>) -> Result<(), tidings::StoreError> + Send + Sync + 'static,
    ) -> Self {
        WatchedStore {
            inner: tidings::MemoryStore::with_capacity(1 << 20),
            background: false,
            hook: Box::new(hook),
        }
    }

    /// Prefers a background writer, as SQLite does.
    pub fn in_background(mut self) -> Self {
        self.background = true;
        self
    }
}

impl tidings::EventStore for WatchedStore {
    fn insert(
        &self,
        event: &std::sync::Arc<Event>,
    ) -> Result<tidings::Inserted, tidings::StoreError> {
        (self.hook)(StoreCall::Insert(event))?;
        let inserted = self.inner.insert(event)?;
        (self.hook)(StoreCall::Inserted(event))?;
        Ok(inserted)
    }
    fn prefers_background_writer(&self) -> bool {
        self.background
    }
    fn maintain(&self) -> Result<usize, tidings::StoreError> {
        (self.hook)(StoreCall::Maintain)?;
        Ok(0)
    }
    fn get(&self, id: Uuid) -> Result<Option<Event>, tidings::StoreError> {
        self.inner.get(id)
    }
    fn query(
        &self,
        query: &tidings::EventQuery,
    ) -> Result<tidings::EventPage, tidings::StoreError> {
        (self.hook)(StoreCall::Query)?;
        self.inner.query(query)
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
        (self.hook)(StoreCall::StoredAfter)?;
        let missed = self.inner.stored_after(user, after, limit);
        (self.hook)(StoreCall::StoredAfterRead)?;
        missed
    }
    fn types(&self, user: Option<Uuid>) -> Result<tidings::EventTypes, tidings::StoreError> {
        self.inner.types(user)
    }
}

/// Where store calls wait until the test opens it; counts the calls held.
#[derive(Default)]
pub struct Latch {
    held: std::sync::Mutex<usize>,
    held_changed: std::sync::Condvar,
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Latch {
    /// Waits here until the latch opens.
    pub fn hold(&self) {
        *self.held.lock().unwrap() += 1;
        self.held_changed.notify_all();
        let open = self.open.lock().unwrap();
        drop(self.opened.wait_while(open, |open| !*open).unwrap());
    }

    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    /// Waits (blocking this thread) until `n` calls are held; fails the test after a minute.
    pub fn wait_until_held(&self, n: usize, what: &str) {
        let held = self.held.lock().unwrap();
        let (held, timeout) = self
            .held_changed
            .wait_timeout_while(held, std::time::Duration::from_secs(60), |held| *held < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "only {} of {n} {what} reached the store: the ones held there hold the executor's threads",
            *held
        );
    }
}

/// Opens the latch when dropped: a failing test releases the held calls, so that runtimes can
/// shut down and the failure be reported rather than hang.
pub struct OpensOnDrop(pub std::sync::Arc<Latch>);

impl Drop for OpensOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}
