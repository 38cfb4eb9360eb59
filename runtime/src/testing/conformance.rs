//! The store conformance suite: the checks every [`EventStore`] passes, ours and an
//! application's own.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use crate::event::{Event, Repeat};
use crate::name::{Action, Category};
use crate::severity::{Severity, Status};
use crate::store::{
    EventQuery, EventStore, EventTypes, Inserted, Order, PageSize, SortField, StoreError,
};

/// Runs every check of the store conformance suite, each on a fresh store made by `make`, and
/// panics with what differs at the first check a store fails.
///
/// The checks: insert and get (and a duplicate id refused), every filter of [`EventQuery`] alone
/// and together, literal search ignoring ASCII case, order with ties in storage order, pages,
/// unread counts per severity, marking read and unread, deleting one and many,
/// [`EventStore::stored_after`] for resuming a stream, [`EventStore::types`], repeats folded
/// ([`Repeat::Coalesce`](crate::Repeat::Coalesce): into the newest unread event of the same kind
/// and severity within the window, which moves to the newest place; alone and within one batch)
/// and state changes only ([`Repeat::OnChange`](crate::Repeat::OnChange)). The memory
/// store is the reference; every store of tidings runs this suite in its tests.
///
/// A store of the application's own proves itself with one call in a test:
///
/// ```
/// use std::sync::Arc;
/// use tidings_runtime::testing::store_conformance;
/// use tidings_runtime::{
///     Event, EventPage, EventQuery, EventStore, EventTypes, Inserted, MemoryStore, Status,
///     StoreError, Uuid,
/// };
///
/// /// A store of the application's own (here it hands every call to a memory store).
/// struct AuditedStore(MemoryStore);
///
/// impl EventStore for AuditedStore {
///     fn insert(&self, event: &Arc<Event>) -> Result<Inserted, StoreError> {
///         self.0.insert(event)
///     }
///     fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
///         self.0.get(id)
///     }
///     fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
///         self.0.query(query)
///     }
///     fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
///         self.0.set_status_many(ids, status)
///     }
///     fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
///         self.0.delete_many(ids)
///     }
///     fn stored_after(
///         &self,
///         user: Uuid,
///         after: Uuid,
///         limit: usize,
///     ) -> Result<Option<Vec<Event>>, StoreError> {
///         self.0.stored_after(user, after, limit)
///     }
///     fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
///         self.0.types(user)
///     }
/// }
///
/// store_conformance(|| AuditedStore(MemoryStore::new()));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub fn store_conformance<S: EventStore>(make: impl Fn() -> S) {
    insert_and_get(&make());
    filters(&make());
    search_is_literal_and_ignores_ascii_case(&make());
    order_and_pagination(&make());
    unread_counts(&make());
    mark_read_and_unread(&make());
    delete_by_id_and_in_bulk(&make());
    mark_and_delete_everything_a_query_matches(&make());
    bulk_by_ids_changes_only_the_users_events(&make());
    stored_after_for_resuming_a_stream(&make());
    distinct_types(&make());
    repeats_fold_into_the_newest_unread_event_of_their_kind(&make());
    folds_in_one_batch_and_what_a_resume_reads(&make());
    state_changes_only(&make());
}

/// An event with a chosen creation time (`second` seconds after a base time one day before the
/// first call, the same for the whole process: the times are in the past on any day the tests
/// run), for tests of stores: of `user` (none for a system event), with a fresh id and an `err` entry when
/// the severity is `error`.
///
/// # Panics
/// When `category` or `action` is not snake_case.
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub fn event_at(
    user: Option<Uuid>,
    category: &str,
    action: &str,
    severity: Severity,
    description: &str,
    second: u32,
) -> Event {
    let mut json = json!({
        "id": Uuid::new_v4(),
        "operationId": Uuid::new_v4(),
        "systemId": Uuid::new_v4(),
        "category": category,
        "action": action,
        "severity": severity,
        "status": "unread",
        "description": description,
        "metadata": {},
        "createdAt": at(second),
        "updatedAt": at(second),
    });
    if let Some(user) = user {
        json["userId"] = json!(user);
    }
    if severity == Severity::Error {
        json["metadata"] = json!({"err": {"message": "failed", "causes": []}});
    }
    serde_json::from_value(json).unwrap()
}

/// `second` seconds after the suite's base time, as RFC 3339.
fn at(second: u32) -> String {
    static BASE: std::sync::OnceLock<time::OffsetDateTime> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let day_ago = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        day_ago.replace_nanosecond(0).unwrap_or(day_ago)
    });
    (*base + time::Duration::seconds(second.into()))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn put(store: &dyn EventStore, event: Event) -> Event {
    store.insert(&Arc::new(event.clone())).unwrap();
    event
}

fn ids(events: &[Event]) -> Vec<Uuid> {
    events.iter().map(Event::id).collect()
}

fn insert_and_get(store: &dyn EventStore) {
    let event = put(
        store,
        event_at(
            Some(Uuid::new_v4()),
            "connection",
            "ping",
            Severity::Success,
            "pinged",
            1,
        ),
    );
    assert_eq!(store.get(event.id()).unwrap(), Some(event.clone()));
    assert_eq!(store.get(Uuid::new_v4()).unwrap(), None);
    let id = event.id();
    match store.insert(&Arc::new(event)) {
        Err(StoreError::DuplicateId(refused)) => assert_eq!(refused, id, "the duplicate's id"),
        other => {
            panic!("a duplicate id must be refused with StoreError::DuplicateId, not {other:?}")
        }
    }
}

fn filters(store: &dyn EventStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let resource = Uuid::new_v4();
    let a1 = put(
        store,
        event_at(
            Some(alice),
            "connection",
            "ping",
            Severity::Success,
            "a1",
            1,
        ),
    );
    let a2 = put(
        store,
        event_at(
            Some(alice),
            "connection",
            "create",
            Severity::Error,
            "a2",
            2,
        ),
    );
    let a3 = put(
        store,
        event_at(Some(alice), "pattern", "deploy", Severity::Warning, "a3", 3),
    );
    let b1 = put(
        store,
        event_at(Some(bob), "pattern", "deploy", Severity::Success, "b1", 4),
    );
    let sys = put(
        store,
        event_at(None, "system", "start", Severity::Informational, "sys", 5),
    );
    let mut a4 = event_at(Some(alice), "pattern", "view", Severity::Success, "a4", 6);
    a4 = serde_json::from_value({
        let mut v = serde_json::to_value(a4).unwrap();
        v["actedUpon"] = json!(resource);
        v
    })
    .unwrap();
    let a4 = put(store, a4);

    let q = |query: EventQuery| ids(&store.query(&query.order(Order::Asc)).unwrap().events);
    assert_eq!(
        q(EventQuery::new()),
        ids(&[
            a1.clone(),
            a2.clone(),
            a3.clone(),
            b1.clone(),
            sys,
            a4.clone()
        ])
    );
    assert_eq!(
        q(EventQuery::new().user(alice)),
        ids(&[a1.clone(), a2.clone(), a3.clone(), a4.clone()])
    );
    assert_eq!(q(EventQuery::new().user(bob)), vec![b1.id()]);
    assert_eq!(
        q(EventQuery::new()
            .user(alice)
            .category(Category::new("pattern").unwrap())),
        ids(&[a3.clone(), a4.clone()])
    );
    assert_eq!(
        q(EventQuery::new()
            .category(Category::new("pattern").unwrap())
            .action(Action::new("deploy").unwrap())),
        ids(&[a3.clone(), b1.clone()])
    );
    assert_eq!(
        q(EventQuery::new()
            .action(Action::new("ping").unwrap())
            .action(Action::new("create").unwrap())),
        ids(&[a1.clone(), a2.clone()])
    );
    assert_eq!(
        q(EventQuery::new()
            .user(alice)
            .severity(Severity::Error)
            .severity(Severity::Warning)),
        ids(&[a2.clone(), a3.clone()])
    );
    assert_eq!(q(EventQuery::new().acted_upon(resource)), vec![a4.id()]);
    store.set_status(a1.id(), Status::Read).unwrap();
    assert_eq!(
        q(EventQuery::new().user(alice).status(Status::Read)),
        vec![a1.id()]
    );
    assert_eq!(
        q(EventQuery::new().user(alice).status(Status::Unread)),
        ids(&[a2, a3, a4])
    );
    assert_eq!(
        q(EventQuery::new().user(Uuid::new_v4())),
        Vec::<Uuid>::new()
    );
}

fn search_is_literal_and_ignores_ascii_case(store: &dyn EventStore) {
    let user = Uuid::new_v4();
    let texts = [
        "Deployed 100% of the pattern",
        "Deployed 1000 of the pattern",
        "renamed my_design",
        "renamed myXdesign",
        "it's done",
        "said \"hello\"",
        "Kubernetes Context minikube",
    ];
    let events: Vec<Event> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let second = u32::try_from(i).unwrap();
            put(
                store,
                event_at(
                    Some(user),
                    "pattern",
                    "deploy",
                    Severity::Success,
                    t,
                    second,
                ),
            )
        })
        .collect();
    let find = |text: &str| {
        ids(&store
            .query(&EventQuery::new().user(user).search(text).order(Order::Asc))
            .unwrap()
            .events)
    };
    assert_eq!(find("100%"), ids(&events[0..1]));
    assert_eq!(find("my_design"), ids(&events[2..3]));
    assert_eq!(find("it's"), ids(&events[4..5]));
    assert_eq!(find("\"hello\""), ids(&events[5..6]));
    assert_eq!(find("context MINIKUBE"), ids(&events[6..7]));
    assert_eq!(find("%"), ids(&events[0..1]));
    assert_eq!(find("_"), ids(&events[2..3]));
    assert_eq!(find("nothing like this"), Vec::<Uuid>::new());
}

fn order_and_pagination(store: &dyn EventStore) {
    let user = Uuid::new_v4();
    // Stored out of time order, with a tie at second 20.
    let late = put(
        store,
        event_at(Some(user), "pattern", "view", Severity::Debug, "late", 30),
    );
    let early = put(
        store,
        event_at(Some(user), "pattern", "view", Severity::Debug, "early", 10),
    );
    let tie1 = put(
        store,
        event_at(Some(user), "pattern", "view", Severity::Debug, "tie1", 20),
    );
    let tie2 = put(
        store,
        event_at(Some(user), "pattern", "view", Severity::Debug, "tie2", 20),
    );
    let ascending = ids(&[early.clone(), tie1.clone(), tie2.clone(), late.clone()]);
    let descending = ids(&[late.clone(), tie2.clone(), tie1.clone(), early.clone()]);

    let all = |order| {
        store
            .query(
                &EventQuery::new()
                    .user(user)
                    .order(order)
                    .page_size(PageSize::All),
            )
            .unwrap()
    };
    assert_eq!(ids(&all(Order::Asc).events), ascending);
    assert_eq!(ids(&all(Order::Desc).events), descending);
    assert_eq!(all(Order::Desc).total, 4);
    // The default is newest first.
    assert_eq!(
        ids(&store.query(&EventQuery::new().user(user)).unwrap().events),
        descending
    );

    let page = |n| {
        store
            .query(
                &EventQuery::new()
                    .user(user)
                    .page(n)
                    .page_size(PageSize::Limit(3)),
            )
            .unwrap()
    };
    assert_eq!(ids(&page(0).events), descending[..3]);
    assert_eq!(ids(&page(1).events), descending[3..]);
    assert!(page(2).events.is_empty());
    assert_eq!(page(2).total, 4);
    assert_eq!(page(1).page, 1);
    assert_eq!(page(1).page_size, PageSize::Limit(3));
    // Page numbers and sizes at the edge of what the numbers hold: an empty page, no error.
    let edge = store
        .query(
            &EventQuery::new()
                .user(user)
                .page(usize::MAX)
                .page_size(PageSize::Limit(usize::MAX)),
        )
        .unwrap();
    assert!(edge.events.is_empty());
    assert_eq!(edge.total, 4);
    let huge_size = store
        .query(
            &EventQuery::new()
                .user(user)
                .page_size(PageSize::Limit(usize::MAX)),
        )
        .unwrap();
    assert_eq!(ids(&huge_size.events), descending);

    // Marking `early` read moves it to the end by update time.
    store.set_status(early.id(), Status::Read).unwrap();
    let by_update = store
        .query(
            &EventQuery::new()
                .user(user)
                .sort(SortField::UpdatedAt)
                .order(Order::Desc)
                .page_size(PageSize::All),
        )
        .unwrap();
    assert_eq!(by_update.events[0].id(), early.id());
}

fn unread_counts(store: &dyn EventStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let a = [
        put(
            store,
            event_at(Some(alice), "connection", "ping", Severity::Success, "", 1),
        ),
        put(
            store,
            event_at(Some(alice), "connection", "ping", Severity::Success, "", 2),
        ),
        put(
            store,
            event_at(Some(alice), "connection", "ping", Severity::Error, "", 3),
        ),
        put(
            store,
            event_at(Some(alice), "pattern", "deploy", Severity::Warning, "", 4),
        ),
    ];
    put(
        store,
        event_at(Some(bob), "connection", "ping", Severity::Critical, "", 5),
    );
    store.set_status(a[3].id(), Status::Read).unwrap();

    let page = store
        .query(
            &EventQuery::new()
                .user(alice)
                .category(Category::new("pattern").unwrap()),
        )
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(
        page.count_by_severity,
        BTreeMap::from([(Severity::Success, 2), (Severity::Error, 1)]),
        "counts cover the user's unread events whatever the other filters"
    );
    assert_eq!(page.read_count, 1, "the user's read events");
    let read = store
        .query(&EventQuery::new().user(alice).status(Status::Read))
        .unwrap();
    assert_eq!(
        read.count_by_severity,
        BTreeMap::from([(Severity::Warning, 1)]),
        "with a status, the counts are of that status"
    );
    assert_eq!(read.read_count, 1);
    let everyone = store.query(&EventQuery::new()).unwrap();
    assert_eq!(everyone.count_by_severity[&Severity::Critical], 1);
    assert_eq!(everyone.read_count, 1);
}

fn mark_read_and_unread(store: &dyn EventStore) {
    let user = Uuid::new_v4();
    let events: Vec<Event> = (0..3)
        .map(|i| {
            put(
                store,
                event_at(Some(user), "pattern", "deploy", Severity::Success, "", i),
            )
        })
        .collect();
    assert!(store.set_status(events[0].id(), Status::Read).unwrap());
    assert!(!store.set_status(Uuid::new_v4(), Status::Read).unwrap());
    let marked = store.get(events[0].id()).unwrap().unwrap();
    assert_eq!(marked.status(), Status::Read);
    assert!(marked.updated_at() > events[0].updated_at());
    assert_eq!(marked.created_at(), events[0].created_at());
    // Idempotent: marking a read event read again finds it and leaves it as it is.
    assert!(store.set_status(events[0].id(), Status::Read).unwrap());
    let again = store.get(events[0].id()).unwrap().unwrap();
    assert_eq!(
        again.updated_at(),
        marked.updated_at(),
        "marking a read event read again moved its updatedAt"
    );

    let bulk = [events[1].id(), events[2].id(), Uuid::new_v4()];
    assert_eq!(store.set_status_many(&bulk, Status::Read).unwrap(), 2);
    let unread = store
        .query(&EventQuery::new().user(user).status(Status::Unread))
        .unwrap();
    assert_eq!(unread.total, 0);
    assert_eq!(
        store
            .set_status_many(&ids(&events), Status::Unread)
            .unwrap(),
        3
    );
    let unread = store
        .query(&EventQuery::new().user(user).status(Status::Unread))
        .unwrap();
    assert_eq!(unread.total, 3);
}

fn delete_by_id_and_in_bulk(store: &dyn EventStore) {
    let user = Uuid::new_v4();
    let events: Vec<Event> = (0..4)
        .map(|i| {
            put(
                store,
                event_at(Some(user), "pattern", "delete", Severity::Success, "", i),
            )
        })
        .collect();
    assert!(store.delete(events[0].id()).unwrap());
    assert!(!store.delete(events[0].id()).unwrap());
    assert_eq!(store.get(events[0].id()).unwrap(), None);
    assert_eq!(
        store
            .delete_many(&[events[1].id(), events[2].id(), Uuid::new_v4()])
            .unwrap(),
        2
    );
    let left = store.query(&EventQuery::new().user(user)).unwrap();
    assert_eq!(ids(&left.events), ids(&events[3..]));
}

/// "Mark all as read" and "Delete all" by the list's filters: every match, whatever the page,
/// and only the user's.
fn mark_and_delete_everything_a_query_matches(store: &dyn EventStore) {
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    let mut mine = Vec::new();
    for i in 0..30 {
        let severity = if i % 3 == 0 {
            Severity::Warning
        } else {
            Severity::Success
        };
        mine.push(put(
            store,
            event_at(Some(user), "pattern", "deploy", severity, "", i),
        ));
        put(
            store,
            event_at(Some(other), "pattern", "deploy", severity, "", i),
        );
    }
    let unread = |user| {
        store
            .query(&EventQuery::new().user(user).status(Status::Unread))
            .unwrap()
            .total
    };
    // The page of the query does not limit what is marked.
    let warnings = EventQuery::new()
        .user(user)
        .severity(Severity::Warning)
        .page_size(PageSize::Limit(2));
    assert_eq!(
        store.set_status_matching(&warnings, Status::Read).unwrap(),
        10
    );
    assert_eq!(unread(user), 20);
    let all_unread = EventQuery::new().user(user).status(Status::Unread);
    assert_eq!(
        store
            .set_status_matching(&all_unread, Status::Read)
            .unwrap(),
        20
    );
    assert_eq!(unread(user), 0);
    assert_eq!(unread(other), 30, "another user's events are untouched");
    let marked = store.get(mine[1].id()).unwrap().unwrap();
    assert_eq!(marked.status(), Status::Read);
    assert!(marked.updated_at() > mine[1].updated_at());
    // Idempotent: what has the status already is counted as matched, and left as it is.
    assert_eq!(
        store
            .set_status_matching(&EventQuery::new().user(user), Status::Read)
            .unwrap(),
        30
    );
    assert_eq!(
        store.get(mine[1].id()).unwrap().unwrap().updated_at(),
        marked.updated_at(),
        "marking read events read again moved their updatedAt"
    );
    // Delete what matches.
    assert_eq!(store.delete_matching(&warnings).unwrap(), 10);
    let left = store
        .query(&EventQuery::new().user(user).page_size(PageSize::All))
        .unwrap();
    assert_eq!(left.total, 20);
    assert!(
        left.events
            .iter()
            .all(|e| e.severity() == Severity::Success)
    );
    assert_eq!(
        store
            .delete_matching(&EventQuery::new().user(user))
            .unwrap(),
        20
    );
    assert_eq!(store.query(&EventQuery::new().user(user)).unwrap().total, 0);
    assert_eq!(
        store.query(&EventQuery::new().user(other)).unwrap().total,
        30
    );
}

/// A bulk request's ids as a filter: the user's events among them are listed, marked and
/// deleted; another user's and unknown ids are skipped; no ids match nothing.
fn bulk_by_ids_changes_only_the_users_events(store: &dyn EventStore) {
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    let mine: Vec<Event> = (0..4)
        .map(|i| {
            put(
                store,
                event_at(Some(user), "pattern", "deploy", Severity::Success, "", i),
            )
        })
        .collect();
    let theirs = put(
        store,
        event_at(Some(other), "pattern", "deploy", Severity::Success, "", 9),
    );
    let asked = [
        mine[2].id(),
        theirs.id(),
        mine[0].id(),
        Uuid::new_v4(),
        mine[0].id(),
    ];
    let query = EventQuery::new().user(user).ids(asked);
    let listed = store.query(&query.clone().order(Order::Asc)).unwrap();
    assert_eq!(ids(&listed.events), [mine[0].id(), mine[2].id()]);
    assert_eq!(store.set_status_matching(&query, Status::Read).unwrap(), 2);
    assert_eq!(
        store.get(mine[2].id()).unwrap().unwrap().status(),
        Status::Read
    );
    assert_eq!(
        store.get(mine[1].id()).unwrap().unwrap().status(),
        Status::Unread
    );
    assert_eq!(
        store.get(theirs.id()).unwrap().unwrap().status(),
        Status::Unread
    );
    let none = EventQuery::new().user(user).ids([]);
    assert_eq!(store.query(&none).unwrap().total, 0, "no ids match nothing");
    assert_eq!(store.set_status_matching(&none, Status::Read).unwrap(), 0);
    assert_eq!(store.delete_matching(&none).unwrap(), 0);
    assert_eq!(store.delete_matching(&query).unwrap(), 2);
    assert_eq!(store.get(mine[0].id()).unwrap(), None);
    assert!(
        store.get(theirs.id()).unwrap().is_some(),
        "another user's event stays"
    );
    assert_eq!(store.query(&EventQuery::new().user(user)).unwrap().total, 2);
}

fn stored_after_for_resuming_a_stream(store: &dyn EventStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let a: Vec<Event> = (0..5)
        .map(|i| {
            put(
                store,
                event_at(Some(alice), "pattern", "deploy", Severity::Success, "", i),
            )
        })
        .collect();
    let b = put(
        store,
        event_at(Some(bob), "pattern", "deploy", Severity::Success, "", 9),
    );
    // Stored after a[1]: a[2], a[3], a[4], in storage order, none of Bob's.
    assert_eq!(
        store
            .stored_after(alice, a[1].id(), 100)
            .unwrap()
            .map(|e| ids(&e)),
        Some(ids(&a[2..]))
    );
    assert_eq!(
        store
            .stored_after(alice, a[1].id(), 2)
            .unwrap()
            .map(|e| ids(&e)),
        Some(ids(&a[2..4]))
    );
    assert_eq!(
        store.stored_after(alice, a[4].id(), 100).unwrap(),
        Some(Vec::new())
    );
    // Unknown ids, and another user's event, say "reload".
    assert_eq!(
        store.stored_after(alice, Uuid::new_v4(), 100).unwrap(),
        None
    );
    assert_eq!(store.stored_after(alice, b.id(), 100).unwrap(), None);
    store.delete(a[1].id()).unwrap();
    assert_eq!(store.stored_after(alice, a[1].id(), 100).unwrap(), None);
    // A deleted event in between is simply absent.
    store.delete(a[3].id()).unwrap();
    assert_eq!(
        store
            .stored_after(alice, a[0].id(), 100)
            .unwrap()
            .map(|e| ids(&e)),
        Some(vec![a[2].id(), a[4].id()])
    );
}

fn distinct_types(store: &dyn EventStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    put(
        store,
        event_at(Some(alice), "pattern", "deploy", Severity::Success, "", 1),
    );
    put(
        store,
        event_at(Some(alice), "pattern", "view", Severity::Success, "", 2),
    );
    put(
        store,
        event_at(Some(alice), "connection", "ping", Severity::Success, "", 3),
    );
    put(
        store,
        event_at(
            Some(bob),
            "academy",
            "academy_quiz_evaluation",
            Severity::Success,
            "",
            4,
        ),
    );
    let names = |types: EventTypes| {
        (
            types
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect::<Vec<_>>(),
            types
                .actions
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        names(store.types(Some(alice)).unwrap()),
        (
            vec!["connection".to_owned(), "pattern".to_owned()],
            vec!["deploy".to_owned(), "ping".to_owned(), "view".to_owned()]
        )
    );
    let (categories, actions) = names(store.types(None).unwrap());
    assert_eq!(categories, ["academy", "connection", "pattern"]);
    assert_eq!(actions.len(), 4);
}

/// An event of `user` about `resource` (`cluster`/`health_check`) at `second`, under `repeat`.
fn check(
    user: Uuid,
    resource: Option<Uuid>,
    severity: Severity,
    description: &str,
    second: u32,
    repeat: Repeat,
) -> Event {
    let mut json = serde_json::to_value(event_at(
        Some(user),
        "cluster",
        "health_check",
        severity,
        description,
        second,
    ))
    .unwrap();
    if let Some(resource) = resource {
        json["actedUpon"] = json!(resource);
    }
    serde_json::from_value::<Event>(json)
        .unwrap()
        .with_repeat(repeat)
}

fn insert(store: &dyn EventStore, event: &Event) -> Inserted {
    store.insert(&Arc::new(event.clone())).unwrap()
}

fn repeats_fold_into_the_newest_unread_event_of_their_kind(store: &dyn EventStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let cluster = Some(Uuid::new_v4());
    let ten_minutes = Repeat::Coalesce(std::time::Duration::from_secs(600));
    let down = |description: &str, second: u32| {
        check(
            alice,
            cluster,
            Severity::Error,
            description,
            second,
            ten_minutes,
        )
    };
    let first = down("down 1", 10);
    assert_eq!(insert(store, &first), Inserted::New, "nothing to fold into");
    let second = down("down 2", 20);
    let Inserted::Folded(folded) = insert(store, &second) else {
        panic!("a repeat within the window folds into the unread event of its kind")
    };
    assert_eq!(folded.id(), first.id(), "the stored event keeps its id");
    assert_eq!(folded.count(), 2);
    assert_eq!(folded.description(), "down 2", "the latest description");
    assert_eq!(folded.metadata(), second.metadata(), "the latest metadata");
    assert_eq!(folded.created_at(), first.created_at());
    assert_eq!(folded.updated_at(), second.created_at(), "the latest time");
    assert_eq!(folded.status(), Status::Unread);
    assert_eq!(store.get(first.id()).unwrap(), Some(folded.clone()));
    assert_eq!(
        store.get(second.id()).unwrap(),
        None,
        "a folded event is no row"
    );
    let page = store.query(&EventQuery::new().user(alice)).unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.count_by_severity.get(&Severity::Error), Some(&1));
    // Not the same kind: another severity, resource or user, or no rule.
    let ok = check(alice, cluster, Severity::Success, "up", 30, ten_minutes);
    assert_eq!(insert(store, &ok), Inserted::New, "another severity");
    let elsewhere = check(alice, None, Severity::Error, "down", 31, ten_minutes);
    assert_eq!(insert(store, &elsewhere), Inserted::New, "another resource");
    let bobs = check(bob, cluster, Severity::Error, "down", 32, ten_minutes);
    assert_eq!(insert(store, &bobs), Inserted::New, "another user");
    let kept = check(alice, cluster, Severity::Error, "kept", 33, Repeat::Keep);
    assert_eq!(
        insert(store, &kept),
        Inserted::New,
        "an event without the rule"
    );
    // The newest of the kind is `kept` now: the next repeat folds into it.
    let Inserted::Folded(into_kept) = insert(store, &down("down 3", 40)) else {
        panic!("a repeat folds into the newest event of its kind")
    };
    assert_eq!(into_kept.id(), kept.id());
    assert_eq!(into_kept.count(), 2);
    // Outside the window (from the event it would fold into): stored.
    let late = down("down late", 33 + 601);
    assert_eq!(insert(store, &late), Inserted::New, "past the window");
    // A read event takes no repeats: stored.
    store.set_status(late.id(), Status::Read).unwrap();
    assert_eq!(
        insert(store, &down("down after read", 33 + 602)),
        Inserted::New,
        "the newest of its kind is read"
    );
    assert_eq!(store.get(first.id()).unwrap().map(|e| e.count()), Some(2));
}

fn folds_in_one_batch_and_what_a_resume_reads(store: &dyn EventStore) {
    let alice = Uuid::new_v4();
    let minute = Repeat::Coalesce(std::time::Duration::from_secs(60));
    let down = |second: u32| {
        let description = format!("down {second}");
        check(alice, None, Severity::Error, &description, second, minute)
    };
    let other = |second| {
        let mut json = serde_json::to_value(event_at(
            Some(alice),
            "pattern",
            "deploy",
            Severity::Success,
            "deployed",
            second,
        ))
        .unwrap();
        json["metadata"] = json!({});
        serde_json::from_value::<Event>(json).unwrap()
    };
    let (a, b, c, d) = (down(1), other(2), down(3), down(4));
    let results = store.insert_batch(&[
        Arc::new(a.clone()),
        Arc::new(b.clone()),
        Arc::new(c.clone()),
        Arc::new(d.clone()),
    ]);
    assert_eq!(results.len(), 4);
    assert!(matches!(results[0], Ok(Inserted::New)), "{:?}", results[0]);
    assert!(matches!(results[1], Ok(Inserted::New)), "{:?}", results[1]);
    for (result, count) in [(&results[2], 2), (&results[3], 3)] {
        match result {
            Ok(Inserted::Folded(folded)) => {
                assert_eq!((folded.id(), folded.count()), (a.id(), count));
            }
            other => panic!("a repeat folds into an event of its own batch, not {other:?}"),
        }
    }
    // The folded event took the newest place: a stream that saw `b` gets it again, once.
    let after_b = store.stored_after(alice, b.id(), 100).unwrap().unwrap();
    assert_eq!(ids(&after_b), [a.id()]);
    assert_eq!(after_b[0].count(), 3);
    assert_eq!(after_b[0].description(), d.description(), "the latest");
    // And one that saw `a` as it is now has nothing new.
    assert_eq!(
        store.stored_after(alice, a.id(), 100).unwrap(),
        Some(vec![])
    );
    // The list keeps creation order (`a` first).
    let page = store
        .query(&EventQuery::new().user(alice).order(Order::Asc))
        .unwrap();
    assert_eq!(ids(&page.events), [a.id(), b.id()]);
    // A duplicate id under the rule is still refused.
    match store.insert(&Arc::new(c)) {
        Err(StoreError::DuplicateId(_)) | Ok(Inserted::Folded(_)) => {}
        other => panic!("a repeat of an event id already folded: {other:?}"),
    }
}

fn state_changes_only(store: &dyn EventStore) {
    let alice = Uuid::new_v4();
    let cluster = Some(Uuid::new_v4());
    let health =
        |severity, second| check(alice, cluster, severity, "health", second, Repeat::OnChange);
    let down = health(Severity::Error, 1);
    assert_eq!(
        insert(store, &down),
        Inserted::New,
        "the first state is stored"
    );
    let again = health(Severity::Error, 2);
    assert_eq!(insert(store, &again), Inserted::Unchanged, "the same state");
    assert_eq!(
        store.get(again.id()).unwrap(),
        None,
        "an unchanged state is not stored"
    );
    // Marking read does not matter: it is the state that counts.
    store.set_status(down.id(), Status::Read).unwrap();
    assert_eq!(
        insert(store, &health(Severity::Error, 3)),
        Inserted::Unchanged
    );
    let up = health(Severity::Success, 4);
    assert_eq!(insert(store, &up), Inserted::New, "a change");
    assert_eq!(
        insert(store, &health(Severity::Success, 5)),
        Inserted::Unchanged
    );
    // Another resource has a state of its own.
    let other = check(
        alice,
        None,
        Severity::Success,
        "health",
        6,
        Repeat::OnChange,
    );
    assert_eq!(insert(store, &other), Inserted::New);
    // An event of the kind without the rule is its last state too.
    let plain = check(alice, cluster, Severity::Error, "health", 7, Repeat::Keep);
    assert_eq!(insert(store, &plain), Inserted::New);
    assert_eq!(
        insert(store, &health(Severity::Error, 8)),
        Inserted::Unchanged
    );
    // In one batch: down, down, up: the second is unchanged.
    let results = store.insert_batch(&[
        Arc::new(health(Severity::Success, 9)),
        Arc::new(health(Severity::Success, 10)),
        Arc::new(health(Severity::Error, 11)),
    ]);
    let outcomes: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        outcomes,
        [Inserted::New, Inserted::Unchanged, Inserted::New],
        "each event of a batch is compared with the one before it"
    );
    let page = store.query(&EventQuery::new().user(alice)).unwrap();
    assert_eq!(page.total, 6, "down, up, other, plain, up, down");
}
