//! Keeping events for the record: the store trait, queries, and the in-memory store.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::event::Event;
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};

/// Where an [`Emitter`](crate::Emitter) keeps events before it publishes them.
///
/// Every implementation gives the same results for the same calls; [`MemoryStore`] is the
/// reference. Implementations must be cheap to call from request handlers or queue the work.
pub trait EventStore: Send + Sync + 'static {
    /// Stores a new event.
    ///
    /// # Errors
    /// [`StoreError::DuplicateId`] when an event with this id is stored already, or a backend
    /// failure.
    fn insert(&self, event: &Arc<Event>) -> Result<(), StoreError>;

    /// The event with this id, if it is stored.
    ///
    /// # Errors
    /// A backend failure.
    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError>;

    /// One page of the events that match `query`, with the total count and the unread counts.
    ///
    /// # Errors
    /// A backend failure.
    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError>;

    /// Sets the status of the events with these ids (unknown ids are skipped) and returns how
    /// many were found. `updated_at` becomes the current time.
    ///
    /// # Errors
    /// A backend failure.
    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError>;

    /// Deletes the events with these ids (unknown ids are skipped) and returns how many were
    /// found.
    ///
    /// # Errors
    /// A backend failure.
    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError>;

    /// Sets the status of one event; `false` when no event has this id.
    ///
    /// # Errors
    /// A backend failure.
    fn set_status(&self, id: Uuid, status: Status) -> Result<bool, StoreError> {
        Ok(self.set_status_many(&[id], status)? == 1)
    }

    /// Deletes one event; `false` when no event has this id.
    ///
    /// # Errors
    /// A backend failure.
    fn delete(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.delete_many(&[id])? == 1)
    }
}

/// Why a store could not do what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// An event with this id is stored already.
    DuplicateId(Uuid),
    /// The store's backend failed (I/O, database, full disk...).
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::DuplicateId(id) => write!(f, "an event with id {id} is stored already"),
            StoreError::Backend(e) => write!(f, "event store failed: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::DuplicateId(_) => None,
            StoreError::Backend(e) => Some(&**e),
        }
    }
}

/// The field events are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    /// When the event was made (the default).
    #[default]
    CreatedAt,
    /// When the event last changed.
    UpdatedAt,
}

/// Sort direction. Events with equal sort keys keep the order they were stored in (ascending) or
/// its reverse (descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

/// How many events a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    /// At most this many (the default is 25).
    Limit(usize),
    /// Every matching event on one page.
    All,
}

impl Default for PageSize {
    fn default() -> Self {
        PageSize::Limit(25)
    }
}

/// MeshKit's event filters. An empty list or `None` does not filter.
///
/// ```
/// use tidings_runtime::{EventQuery, Order, Severity};
///
/// let user = uuid::Uuid::new_v4();
/// let query = EventQuery::new()
///     .user(user)
///     .severity(Severity::Error)
///     .search("cluster")
///     .order(Order::Asc)
///     .page(0);
/// assert_eq!(query.severities, vec![Severity::Error]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventQuery {
    /// Only the events of this user. Without it, events of every user and system events.
    pub user: Option<Uuid>,
    /// Only events with one of these categories.
    pub categories: Vec<Category>,
    /// Only events with one of these actions.
    pub actions: Vec<Action>,
    /// Only events with one of these severities.
    pub severities: Vec<Severity>,
    /// Only events about one of these resources.
    pub acted_upon: Vec<Uuid>,
    /// Only events with this status.
    pub status: Option<Status>,
    /// Only events whose description contains this text, ignoring ASCII case. `%`, `_` and
    /// quotes are plain characters.
    pub search: Option<String>,
    /// The sort field.
    pub sort: SortField,
    /// The sort direction.
    pub order: Order,
    /// The page, from 0.
    pub page: usize,
    /// The page size.
    pub page_size: PageSize,
}

impl EventQuery {
    /// A query that matches everything, newest first, 25 a page.
    pub fn new() -> Self {
        EventQuery::default()
    }
    /// Only the events of `user`.
    pub fn user(mut self, user: Uuid) -> Self {
        self.user = Some(user);
        self
    }
    /// Adds a category to match.
    pub fn category(mut self, category: Category) -> Self {
        self.categories.push(category);
        self
    }
    /// Adds an action to match.
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }
    /// Adds a severity to match.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severities.push(severity);
        self
    }
    /// Adds a resource to match.
    pub fn acted_upon(mut self, id: Uuid) -> Self {
        self.acted_upon.push(id);
        self
    }
    /// Only events with this status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }
    /// Only events whose description contains `text` (ASCII case ignored).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }
    /// The sort field.
    pub fn sort(mut self, sort: SortField) -> Self {
        self.sort = sort;
        self
    }
    /// The sort direction.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// The page, from 0.
    pub fn page(mut self, page: usize) -> Self {
        self.page = page;
        self
    }
    /// The page size.
    pub fn page_size(mut self, page_size: PageSize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Whether `event` passes every filter except the page.
    pub fn matches(&self, event: &Event) -> bool {
        (self.user.is_none() || event.user_id() == self.user)
            && (self.categories.is_empty() || self.categories.contains(event.category()))
            && (self.actions.is_empty() || self.actions.contains(event.action()))
            && (self.severities.is_empty() || self.severities.contains(&event.severity()))
            && (self.acted_upon.is_empty()
                || event
                    .acted_upon()
                    .is_some_and(|id| self.acted_upon.contains(&id)))
            && self.status.is_none_or(|s| s == event.status())
            && self
                .search
                .as_deref()
                .is_none_or(|needle| contains_ignore_ascii_case(event.description(), needle))
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// One page of a query's results.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events of the page, in the query's order.
    pub events: Vec<Event>,
    /// The page number, from 0.
    pub page: usize,
    /// The page size asked for.
    pub page_size: PageSize,
    /// How many events match the query, on every page.
    pub total: usize,
    /// Unread events per severity among the events of the query's user (of every user without
    /// one), whatever the other filters: what a notification badge shows. Severities with none
    /// are absent.
    pub unread_by_severity: BTreeMap<Severity, usize>,
}

/// The in-memory store: the embedded default.
///
/// It keeps at most `capacity` events (by default [`MemoryStore::DEFAULT_CAPACITY`]); storing
/// one more drops the oldest. [`MemoryStore::unbounded`] keeps everything.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: Option<usize>,
    inner: RwLock<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    next_seq: u64,
    by_seq: BTreeMap<u64, Arc<Event>>,
    seq_of: HashMap<Uuid, u64>,
}

impl MemoryStore {
    /// How many events [`MemoryStore::new`] keeps.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A store that keeps the last [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) events.
    pub fn new() -> Self {
        MemoryStore::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store that keeps the last `capacity` events (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            capacity: Some(capacity.max(1)),
            inner: RwLock::default(),
        }
    }

    /// A store that keeps every event.
    pub fn unbounded() -> Self {
        MemoryStore {
            capacity: None,
            inner: RwLock::default(),
        }
    }

    /// Every stored event, in the order they were stored.
    pub fn events(&self) -> Vec<Event> {
        self.read().by_seq.values().map(|e| (**e).clone()).collect()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.read().by_seq.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MemoryInner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, MemoryInner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl EventStore for MemoryStore {
    fn insert(&self, event: &Arc<Event>) -> Result<(), StoreError> {
        let mut inner = self.write();
        if inner.seq_of.contains_key(&event.id()) {
            return Err(StoreError::DuplicateId(event.id()));
        }
        let seq = inner.next_seq;
        inner.seq_of.insert(event.id(), seq);
        inner.next_seq += 1;
        inner.by_seq.insert(seq, Arc::clone(event));
        if let Some(capacity) = self.capacity {
            while inner.by_seq.len() > capacity {
                if let Some((_, oldest)) = inner.by_seq.pop_first() {
                    inner.seq_of.remove(&oldest.id());
                }
            }
        }
        Ok(())
    }

    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let inner = self.read();
        Ok(inner
            .seq_of
            .get(&id)
            .and_then(|seq| inner.by_seq.get(seq))
            .map(|e| (**e).clone()))
    }

    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let inner = self.read();
        let mut matching: Vec<&Arc<Event>> =
            inner.by_seq.values().filter(|e| query.matches(e)).collect();
        let key = |e: &&Arc<Event>| match query.sort {
            SortField::CreatedAt => e.created_at(),
            SortField::UpdatedAt => e.updated_at(),
        };
        matching.sort_by_key(key);
        if query.order == Order::Desc {
            matching.reverse();
        }
        let total = matching.len();
        let events = match query.page_size {
            PageSize::All => matching.iter().map(|e| (***e).clone()).collect(),
            PageSize::Limit(size) => matching
                .iter()
                .skip(query.page.saturating_mul(size))
                .take(size)
                .map(|e| (***e).clone())
                .collect(),
        };
        let mut unread_by_severity = BTreeMap::new();
        for event in inner.by_seq.values() {
            if event.status() == Status::Unread
                && (query.user.is_none() || event.user_id() == query.user)
            {
                *unread_by_severity.entry(event.severity()).or_insert(0) += 1;
            }
        }
        Ok(EventPage {
            events,
            page: query.page,
            page_size: query.page_size,
            total,
            unread_by_severity,
        })
    }

    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.write();
        let mut found = 0;
        for id in ids {
            let Some(&seq) = inner.seq_of.get(id) else {
                continue;
            };
            if let Some(event) = inner.by_seq.get_mut(&seq) {
                *event = Arc::new(event.with_status(status, now));
                found += 1;
            }
        }
        Ok(found)
    }

    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        let mut inner = self.write();
        let mut found = 0;
        for id in ids {
            if let Some(seq) = inner.seq_of.remove(id) {
                inner.by_seq.remove(&seq);
                found += 1;
            }
        }
        Ok(found)
    }
}
