//! The in-memory store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use time::OffsetDateTime;
use uuid::Uuid;

use super::{EventPage, EventQuery, EventStore, Order, PageSize, SortField, StoreError};
use crate::event::Event;
use crate::severity::Status;

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
