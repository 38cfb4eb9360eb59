//! The store conformance suite on the in-memory store, and what is particular to it.

use std::sync::Arc;

use tidings::testing::{event_at, store_conformance};
use tidings::{EventQuery, EventStore, MemoryStore, PageSize, Severity, Uuid};

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
