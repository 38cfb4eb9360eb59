//! Keeping events for the record: the store trait, queries, the in-memory store and (with the
//! `sqlite` feature) the SQLite store.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::broadcast::Broadcaster;
use crate::event::Event;
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};

/// Where an [`Emitter`](crate::Emitter) keeps events before it publishes them.
///
/// Every implementation gives the same results for the same calls; [`MemoryStore`] is the
/// reference. Implementations must be cheap to call from request handlers or queue the work.
pub trait EventStore: Send + Sync + 'static {
    /// Stores a new event, under its [`Repeat`](crate::Repeat) rule: an event that repeats an
    /// earlier one ([`Event::repeats_kind_of`], [`Event::repeat_outcome`]) is folded into it
    /// ([`Event::folded_into`], which then takes the newest place in the store's order, as
    /// [`stored_after`](Self::stored_after) reads it) or not stored at all. The rule is
    /// decided atomically with the insert: two repeats stored at once fold into one event that
    /// counts both.
    ///
    /// # Errors
    /// [`StoreError::DuplicateId`] when an event with this id is stored already, or a backend
    /// failure.
    fn insert(&self, event: &Arc<Event>) -> Result<Inserted, StoreError>;

    /// Stores several new events, in order, as one transaction where the backend has them; one
    /// result per event, in order. A repeat may fold into an event of the same batch. The
    /// default inserts them one by one.
    fn insert_batch(&self, events: &[Arc<Event>]) -> Vec<Result<Inserted, StoreError>> {
        events.iter().map(|event| self.insert(event)).collect()
    }

    /// Whether an [`Emitter`](crate::Emitter) should write through a background writer thread
    /// (batched inserts off the request path) rather than on the caller's thread. The default is
    /// `false`; the SQLite store says `true`.
    fn prefers_background_writer(&self) -> bool {
        false
    }

    /// Starts the feed of a store that several server instances share, and that publishes
    /// every instance's events itself; `None` (the default) for a store that only this
    /// instance writes.
    ///
    /// Without a feed, the [`Emitter`](crate::Emitter) publishes each event it stored. With
    /// one, it publishes nothing itself: the feed publishes to `broadcaster` every event stored
    /// by any instance, its own included, in the store's order, so that every live stream on
    /// every instance sees one order and a resume is exact. The emitter calls this once, when
    /// it is built, and stops the feed by dropping it.
    ///
    /// # Errors
    /// When the feed cannot start (its thread cannot be spawned):
    /// [`EmitterBuilder::try_build`](crate::EmitterBuilder::try_build) returns it.
    fn start_feed(&self, broadcaster: Broadcaster) -> Result<Option<Box<dyn Feed>>, StoreError> {
        let _ = broadcaster;
        Ok(None)
    }

    /// Housekeeping such as retention pruning; the background writer calls it after each batch,
    /// never on the request path. Returns how many events were removed. The default does
    /// nothing.
    ///
    /// # Errors
    /// A backend failure.
    fn maintain(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

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
    /// many were found. `updated_at` becomes the current time where the status changes; an
    /// event that has the status already is counted and left as it is (marking is idempotent).
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

    /// Sets the status of every event that matches `query`'s filters (its page aside), whatever
    /// their number, and returns how many matched: "Mark all as read" for a user is
    /// `EventQuery::new().user(user).status(Status::Unread)`. The built-in stores do it in one
    /// statement; the default reads the matching ids a page at a time, then marks them.
    ///
    /// # Errors
    /// A backend failure.
    fn set_status_matching(&self, query: &EventQuery, status: Status) -> Result<usize, StoreError> {
        // Marked events leave the match when the query asks for another status: the next page
        // is then the first again. Otherwise they stay, in creation order, and the pages move on.
        let leave = query.status_filter().is_some_and(|asked| asked != status);
        let mut changed = 0;
        for page in 0.. {
            let ids = matching_page(self, query, if leave { 0 } else { page })?;
            let marked = self.set_status_many(&ids, status)?;
            changed += marked;
            if ids.len() < MATCHING_PAGE || (leave && marked == 0) {
                break;
            }
        }
        Ok(changed)
    }

    /// Deletes every event that matches `query`'s filters (its page aside), whatever their
    /// number, and returns how many went. The built-in stores do it in one statement; the
    /// default deletes a page of 1,000 matching ids at a time.
    ///
    /// # Errors
    /// A backend failure.
    fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        // Deleted events leave the match: the first page each time, until none is left.
        let mut deleted = 0;
        loop {
            let ids = matching_page(self, query, 0)?;
            let gone = self.delete_many(&ids)?;
            deleted += gone;
            if ids.len() < MATCHING_PAGE || gone == 0 {
                return Ok(deleted);
            }
        }
    }

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

    /// The events of `user` stored after the event `after`, oldest first, at most `limit`: what a
    /// live stream that reconnects with `Last-Event-ID` missed. `None` when no event of `user`
    /// has the id `after` (deleted, pruned, or another user's): the client should reload.
    ///
    /// # Errors
    /// A backend failure.
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError>;

    /// The distinct categories and actions of the events of `user` (of every user without one),
    /// sorted: what a filter menu offers.
    ///
    /// # Errors
    /// A backend failure.
    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError>;

    /// The same store's calls as futures, when its backend has an async client: the events API
    /// (`tidings::web`) then awaits them on its own runtime instead of running these methods on
    /// its store threads. `None` (the default): every call goes through the methods above. The
    /// PostgreSQL store gives one.
    fn nonblocking(&self) -> Option<&dyn NonBlockingStore> {
        None
    }
}

/// What became of an event given to [`EventStore::insert`].
#[derive(Debug, Clone, PartialEq)]
// One answer per insert, moved to the publisher, never kept: boxing the event would cost an
// allocation per fold for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Inserted {
    /// Stored as a new event.
    New,
    /// Folded into a stored event ([`Repeat::Coalesce`](crate::Repeat::Coalesce)): that event
    /// as it is now (its id, one more in its count), which live streams get as an update.
    Folded(Event),
    /// Not stored: it repeats the state of the last event of its kind
    /// ([`Repeat::OnChange`](crate::Repeat::OnChange)).
    Unchanged,
}

/// What a [`NonBlockingStore`] call returns: a future of its answer.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The calls the events API makes of a store, as futures, for a store with an async client (see
/// [`EventStore::nonblocking`]). Each answers exactly as the [`EventStore`] method of the same
/// name.
///
/// ```
/// use tidings_runtime::{EventQuery, EventStore, MemoryStore, NonBlockingStore, StoreFuture};
/// use uuid::Uuid;
///
/// /// A store whose every call is ready at once (a real one awaits its async client).
/// struct Ready(MemoryStore);
///
/// impl NonBlockingStore for Ready {
///     fn get(&self, id: Uuid) -> StoreFuture<'_, Option<tidings_runtime::Event>> {
///         Box::pin(std::future::ready(self.0.get(id)))
///     }
///     fn query<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, tidings_runtime::EventPage> {
///         Box::pin(std::future::ready(self.0.query(query)))
///     }
///     fn stored_after(
///         &self,
///         user: Uuid,
///         after: Uuid,
///         limit: usize,
///     ) -> StoreFuture<'_, Option<Vec<tidings_runtime::Event>>> {
///         Box::pin(std::future::ready(self.0.stored_after(user, after, limit)))
///     }
///     fn types(&self, user: Option<Uuid>) -> StoreFuture<'_, tidings_runtime::EventTypes> {
///         Box::pin(std::future::ready(self.0.types(user)))
///     }
///     fn set_status_matching<'a>(
///         &'a self,
///         query: &'a EventQuery,
///         status: tidings_runtime::Status,
///     ) -> StoreFuture<'a, usize> {
///         Box::pin(std::future::ready(self.0.set_status_matching(query, status)))
///     }
///     fn delete_matching<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, usize> {
///         Box::pin(std::future::ready(self.0.delete_matching(query)))
///     }
/// }
/// ```
pub trait NonBlockingStore: Send + Sync {
    /// [`EventStore::get`].
    fn get(&self, id: Uuid) -> StoreFuture<'_, Option<Event>>;

    /// [`EventStore::query`].
    fn query<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, EventPage>;

    /// [`EventStore::stored_after`].
    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> StoreFuture<'_, Option<Vec<Event>>>;

    /// [`EventStore::types`].
    fn types(&self, user: Option<Uuid>) -> StoreFuture<'_, EventTypes>;

    /// [`EventStore::set_status_matching`].
    fn set_status_matching<'a>(
        &'a self,
        query: &'a EventQuery,
        status: Status,
    ) -> StoreFuture<'a, usize>;

    /// [`EventStore::delete_matching`].
    fn delete_matching<'a>(&'a self, query: &'a EventQuery) -> StoreFuture<'a, usize>;

    /// Marks the event `id`, which `query` matches (the user's event of that id), and reads it
    /// back: `None` when no event matched. The events API's `PUT /status/{id}`. By default
    /// [`set_status_matching`](Self::set_status_matching), then [`get`](Self::get); a store
    /// that can do both in one round trip does (PostgreSQL sends them together).
    fn mark_one<'a>(
        &'a self,
        query: &'a EventQuery,
        id: Uuid,
        status: Status,
    ) -> StoreFuture<'a, Option<Event>> {
        Box::pin(async move {
            if self.set_status_matching(query, status).await? == 0 {
                return Ok(None);
            }
            self.get(id).await
        })
    }
}

/// How many ids the default `*_matching` methods hold at once.
const MATCHING_PAGE: usize = 1_000;

/// The ids of one page of the events that match `query`'s filters, in creation order (which
/// marking does not change), for the default `*_matching` methods: they hold one page of ids at
/// a time, whatever the number of events.
fn matching_page<S: EventStore + ?Sized>(
    store: &S,
    query: &EventQuery,
    page: usize,
) -> Result<Vec<Uuid>, StoreError> {
    let query = query
        .clone()
        .sort(SortField::CreatedAt)
        .order(Order::Asc)
        .page(page)
        .page_size(PageSize::Limit(MATCHING_PAGE));
    Ok(store.query(&query)?.events.iter().map(Event::id).collect())
}

/// The running feed of a shared store (see [`EventStore::start_feed`]); dropping it stops it.
pub trait Feed: Send + Sync {
    /// Waits until every event this store has stored so far (on this instance) has been
    /// published by this feed, or until `timeout` has passed; `true` when it has.
    fn sync(&self, timeout: Duration) -> bool;

    /// Its state, for [`Emitter::health`](crate::Emitter::health): connected, and how far
    /// behind. The default says connected and not behind.
    fn health(&self) -> crate::FeedHealth {
        crate::FeedHealth::new(true, 0)
    }
}

/// How long events are kept. Pruning runs in the background writer, never on the request path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are deleted.
    pub max_age: Option<Duration>,
    /// At most this many events are kept per user (and as many system events); the oldest go.
    pub max_per_user: Option<usize>,
    /// How often the writer prunes (default: at most once a minute; `Duration::ZERO` after every
    /// batch).
    pub every: Option<Duration>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Retention {
    /// Whether the writer should prune now: something to prune, and at least `every` (default
    /// a minute) since the last time, which `last` keeps.
    pub(crate) fn due(&self, last: &std::sync::Mutex<Option<std::time::Instant>>) -> bool {
        if self.max_age.is_none() && self.max_per_user.is_none() {
            return false;
        }
        let every = self.every.unwrap_or(Duration::from_secs(60));
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < every) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

/// The distinct categories and actions of stored events, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTypes {
    /// The categories.
    pub categories: Vec<Category>,
    /// The actions.
    pub actions: Vec<Action>,
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

/// A query: MeshKit's filters, the order and a page. Set with its builder-style methods; a
/// filter that is not set does not filter.
///
/// ```
/// use tidings_runtime::{EventQuery, Filter, Order, Severity};
///
/// let user = uuid::Uuid::new_v4();
/// let query = EventQuery::new()
///     .user(user)
///     .severity(Severity::Error)
///     .search("cluster")
///     .order(Order::Asc)
///     .page(0);
/// let filters: Vec<Filter<'_>> = query.filters().collect();
/// assert_eq!(
///     filters,
///     [Filter::User(user), Filter::Severities(&[Severity::Error]), Filter::Search("cluster")]
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    user: Option<Uuid>,
    categories: Vec<Category>,
    actions: Vec<Action>,
    severities: Vec<Severity>,
    acted_upon: Vec<Uuid>,
    /// Sorted, without duplicates; `Some(empty)` matches nothing.
    ids: Option<Vec<Uuid>>,
    status: Option<Status>,
    search: Option<String>,
    sort: SortField,
    order: Order,
    page: usize,
    page_size: PageSize,
}

/// One filter of an [`EventQuery`], as [`EventQuery::filters`] lists them: every store handles
/// each variant in a `match` of its own, so a filter added here does not compile until every
/// store handles it. An event passes a query when it passes each of its filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter<'a> {
    /// Only the events of this user. Without it, events of every user and system events.
    User(Uuid),
    /// Only events with one of these categories.
    Categories(&'a [Category]),
    /// Only events with one of these actions.
    Actions(&'a [Action]),
    /// Only events with one of these severities.
    Severities(&'a [Severity]),
    /// Only events about one of these resources.
    ActedUpon(&'a [Uuid]),
    /// Only the events with one of these ids: sorted, without duplicates, and possibly empty
    /// (then no event matches). A bulk request's ids, so that a store checks whose they are and
    /// changes them in one statement.
    Ids(&'a [Uuid]),
    /// Only events with this status.
    Status(Status),
    /// Only events whose description contains this text, ignoring ASCII case. `%`, `_` and
    /// quotes are plain characters. Never empty.
    Search(&'a str),
}

impl Filter<'_> {
    /// Whether `event` passes this filter: the reference every store's filtering must agree
    /// with.
    pub fn matches(&self, event: &Event) -> bool {
        match *self {
            Filter::User(user) => event.user_id() == Some(user),
            Filter::Categories(categories) => categories.contains(event.category()),
            Filter::Actions(actions) => actions.contains(event.action()),
            Filter::Severities(severities) => severities.contains(&event.severity()),
            Filter::ActedUpon(ids) => event.acted_upon().is_some_and(|id| ids.contains(&id)),
            Filter::Ids(ids) => ids.binary_search(&event.id()).is_ok(),
            Filter::Status(status) => event.status() == status,
            Filter::Search(needle) => contains_ignore_ascii_case(event.description(), needle),
        }
    }
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
    /// Only the events with these ids (added to those given before); an empty list matches
    /// nothing. With [`user`](Self::user), what a bulk request changes: the user's events among
    /// these ids, checked and changed by the store in one statement.
    pub fn ids(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        let mut all = self.ids.take().unwrap_or_default();
        all.extend(ids);
        all.sort_unstable();
        all.dedup();
        self.ids = Some(all);
        self
    }
    /// Only events with this status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }
    /// Only events whose description contains `text` (ASCII case ignored); an empty text does
    /// not filter.
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

    /// The filters that are set, in a fixed order.
    pub fn filters(&self) -> impl Iterator<Item = Filter<'_>> {
        [
            self.user.map(Filter::User),
            (!self.categories.is_empty()).then_some(Filter::Categories(&self.categories)),
            (!self.actions.is_empty()).then_some(Filter::Actions(&self.actions)),
            (!self.severities.is_empty()).then_some(Filter::Severities(&self.severities)),
            (!self.acted_upon.is_empty()).then_some(Filter::ActedUpon(&self.acted_upon)),
            self.ids.as_deref().map(Filter::Ids),
            self.status.map(Filter::Status),
            self.search
                .as_deref()
                .filter(|text| !text.is_empty())
                .map(Filter::Search),
        ]
        .into_iter()
        .flatten()
    }

    /// The user whose events are asked for; also whose events
    /// [`EventPage::count_by_severity`] counts.
    pub fn user_id(&self) -> Option<Uuid> {
        self.user
    }
    /// The status asked for, if any.
    pub fn status_filter(&self) -> Option<Status> {
        self.status
    }
    /// The status whose events [`EventPage::count_by_severity`] counts: the query's, unread
    /// without one.
    pub fn counted_status(&self) -> Status {
        self.status.unwrap_or(Status::Unread)
    }
    /// The sort field.
    pub fn sort_field(&self) -> SortField {
        self.sort
    }
    /// The sort direction.
    pub fn sort_order(&self) -> Order {
        self.order
    }
    /// The page, from 0.
    pub fn page_number(&self) -> usize {
        self.page
    }
    /// The page size.
    pub fn page_limit(&self) -> PageSize {
        self.page_size
    }

    /// Whether `event` passes every filter (the page aside).
    pub fn matches(&self, event: &Event) -> bool {
        self.filters().all(|filter| filter.matches(event))
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The counts of a page ([`EventPage::count_by_severity`] and [`EventPage::read_count`]) as a
/// store adds them up: the part of a page that is not the store's dialect.
#[derive(Debug, Default)]
pub(crate) struct PageCounts {
    by_severity: BTreeMap<Severity, usize>,
    read: usize,
}

impl PageCounts {
    /// `counted` events of `severity` with the counted status (none: no entry), `read` read.
    pub(crate) fn add(&mut self, severity: Severity, counted: usize, read: usize) {
        if counted > 0 {
            *self.by_severity.entry(severity).or_insert(0) += counted;
        }
        self.read += read;
    }
}

/// A count read from a database (never negative) as a `usize`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl EventQuery {
    /// The SQL column the query sorts by.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn sort_column(&self) -> &'static str {
        match self.sort {
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
        }
    }

    /// The SQL direction of the sort.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn sort_direction(&self) -> &'static str {
        match self.order {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        }
    }

    /// The page as `(size, offset)` in events; `None` for all of them. Numbers beyond a
    /// database's `bigint` mean "all of them" there.
    pub(crate) fn window(&self) -> Option<(usize, usize)> {
        match self.page_size {
            PageSize::All => None,
            PageSize::Limit(size) => Some((size, self.page.saturating_mul(size))),
        }
    }
}

impl EventPage {
    /// The page of `query`: its events, how many match in all, and its counts.
    pub(crate) fn assemble(
        query: &EventQuery,
        events: Vec<Event>,
        total: usize,
        counts: PageCounts,
    ) -> EventPage {
        EventPage {
            events,
            page: query.page_number(),
            page_size: query.page_limit(),
            total,
            count_by_severity: counts.by_severity,
            read_count: counts.read,
        }
    }
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
    /// Events per severity among the events of the query's user (of every user without one)
    /// whose status is the query's status, unread when the query has none, whatever the other
    /// filters: what a notification badge shows. Severities with none are absent.
    pub count_by_severity: BTreeMap<Severity, usize>,
    /// How many events of the query's user (of every user without one) are read, whatever the
    /// filters.
    pub read_count: usize,
}
