//! The store conformance suite on the in-memory store (and on a store with only the required
//! methods), and what is particular to the in-memory store.

mod common;

use std::sync::Arc;

use tidings::testing::{event_at, store_conformance};
use tidings::{EventQuery, EventStore, MemoryStore, PageSize, Severity, Status, Uuid};

#[test]
fn memory_store_passes_the_store_conformance_suite() {
    store_conformance(MemoryStore::new);
    store_conformance(MemoryStore::unbounded);
}

#[test]
fn memory_store_keeps_the_newest_events_up_to_its_capacity() {
    let store = MemoryStore::with_capacity(3);
    let user = Uuid::new_v4();
    let events: Vec<_> = (0..5)
        .map(|i| event_at(Some(user), "pattern", "view", Severity::Debug, "", i))
        .collect();
    for event in &events {
        store.insert(&Arc::new(event.clone())).unwrap();
    }
    assert_eq!(store.len(), 3);
    assert_eq!(store.events(), events[2..]);
    assert_eq!(store.get(events[0].id()).unwrap(), None);
    let page = store
        .query(&EventQuery::new().page_size(PageSize::All))
        .unwrap();
    assert_eq!(page.total, 3);
}

/// One user's flood evicts that user's oldest events, never another user's; and once the store
/// is full, another user's new events evict the flooder's, not their own history.
#[test]
fn the_memory_store_is_fair_between_users() {
    let store = tidings::MemoryStore::with_capacity(100);
    let (alice, mallory) = (tidings::Uuid::new_v4(), tidings::Uuid::new_v4());
    let event = |user, n: usize| {
        std::sync::Arc::new(
            tidings::Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .meta("n", n)
                .build()
                .unwrap(),
        )
    };
    for n in 0..10 {
        store.insert(&event(alice, n)).unwrap();
    }
    for n in 0..1_000 {
        store.insert(&event(mallory, n)).unwrap();
    }
    let of = |user| {
        store
            .query(
                &tidings::EventQuery::new()
                    .user(user)
                    .page_size(tidings::PageSize::All),
            )
            .unwrap()
    };
    assert_eq!(of(alice).total, 10, "Alice keeps every event");
    let flood = of(mallory);
    assert_eq!(flood.total, 90, "Mallory holds what Alice does not");
    assert_eq!(
        flood.events[0].metadata()["n"],
        999,
        "Mallory's newest are kept"
    );
    for n in 10..15 {
        store.insert(&event(alice, n)).unwrap();
    }
    assert_eq!(of(alice).total, 15, "Alice's new events evict Mallory's");
    assert_eq!(of(mallory).total, 85);
    assert_eq!(store.len(), 100);
}

/// The memory store is bounded in bytes as well as in events: events of 60 KiB each cannot make
/// it hold more than its bytes.
#[test]
fn the_memory_store_is_bounded_in_bytes() {
    let store = tidings::MemoryStore::new();
    let text = "x".repeat(60 * 1024);
    for user in [tidings::Uuid::new_v4(), tidings::Uuid::new_v4()] {
        for _ in 0..2_000 {
            let event = tidings::Event::builder()
                .from_user(user)
                .category("pattern")
                .action("deploy")
                .description(text.clone())
                .build()
                .unwrap();
            store.insert(&std::sync::Arc::new(event)).unwrap();
        }
    }
    assert_eq!(tidings::MemoryStore::DEFAULT_MAX_BYTES, 32 << 20);
    assert!(
        store.bytes() <= tidings::MemoryStore::DEFAULT_MAX_BYTES,
        "{} bytes",
        store.bytes()
    );
    // Both users keep events: each holds at most half of the bytes.
    assert!(
        store.len() > 250 && store.len() < 600,
        "{} events",
        store.len()
    );
}

/// A flood that evicts its own events from the middle of the store leaves empty places there:
/// the store compacts them, and every read stays right.
#[test]
fn a_long_flood_keeps_the_memory_store_compact_and_right() {
    let store = MemoryStore::with_capacity(10);
    let (alice, mallory) = (Uuid::new_v4(), Uuid::new_v4());
    let first = Arc::new(event_at(
        Some(alice),
        "pattern",
        "view",
        Severity::Debug,
        "",
        0,
    ));
    store.insert(&first).unwrap();
    let mut flood = Vec::new();
    for i in 1..=10_000 {
        let event = Arc::new(event_at(
            Some(mallory),
            "pattern",
            "deploy",
            Severity::Debug,
            "",
            i,
        ));
        store.insert(&event).unwrap();
        flood.push(event.id());
    }
    assert_eq!(store.len(), 10);
    assert_eq!(store.get(first.id()).unwrap().unwrap().id(), first.id());
    let kept = &flood[flood.len() - 9..];
    let after = store
        .stored_after(mallory, kept[0], 100)
        .unwrap()
        .expect("a kept event");
    let ids: Vec<Uuid> = after.iter().map(|e| e.id()).collect();
    assert_eq!(ids, kept[1..]);
    assert_eq!(store.get(flood[0]).unwrap(), None);
    let events = store.events();
    assert_eq!(events.len(), 10);
    assert_eq!(events[0].id(), first.id());
}

/// The default `set_status_matching` and `delete_matching` (a store that has only the required
/// methods) page through any number of matches, a page of ids at a time.
#[test]
fn the_default_matching_methods_page_through_every_match() {
    let store = common::WatchedStore::new(|_| Ok(()));
    store_conformance(|| common::WatchedStore::new(|_| Ok(())));
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    for i in 0..2_500 {
        store
            .insert(&Arc::new(event_at(
                Some(user),
                "pattern",
                "view",
                Severity::Debug,
                "",
                i,
            )))
            .unwrap();
    }
    store
        .insert(&Arc::new(event_at(
            Some(other),
            "pattern",
            "view",
            Severity::Debug,
            "",
            0,
        )))
        .unwrap();
    let mine = EventQuery::new().user(user);
    let unread = || {
        store
            .query(&EventQuery::new().user(user).status(Status::Unread))
            .unwrap()
            .total
    };
    // Marked events leave the match: each page is the first again.
    let all_unread = EventQuery::new().user(user).status(Status::Unread);
    assert_eq!(
        store
            .set_status_matching(&all_unread, Status::Read)
            .unwrap(),
        2_500
    );
    assert_eq!(unread(), 0);
    // Marked events stay in the match: the pages move on.
    assert_eq!(
        store.set_status_matching(&mine, Status::Unread).unwrap(),
        2_500
    );
    assert_eq!(unread(), 2_500);
    assert_eq!(store.delete_matching(&mine).unwrap(), 2_500);
    assert_eq!(store.query(&mine).unwrap().total, 0);
    assert_eq!(
        store.query(&EventQuery::new().user(other)).unwrap().total,
        1
    );
}
