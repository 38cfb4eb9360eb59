//! The in-memory store.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use uuid::Uuid;

use super::{
    EventPage, EventQuery, EventStore, EventTypes, Filter, Order, PageCounts, SortField, StoreError,
};
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

/// Events in the order they were stored: `slots[i]` holds the event stored `first + i`-th, or
/// `None` once deleted; `seq_of` finds an event's place by id.
#[derive(Default)]
struct MemoryInner {
    first: u64,
    slots: VecDeque<Option<Arc<Event>>>,
    /// std's SipHash with random keys: an application may store events with ids from anywhere
    /// (`Event::from_parts`, deserialized JSON), so they are not trusted to be random.
    seq_of: HashMap<Uuid, u64>,
}

impl std::fmt::Debug for MemoryInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryInner")
            .field("events", &self.seq_of.len())
            .finish_non_exhaustive()
    }
}

impl MemoryInner {
    fn stored(&self) -> impl DoubleEndedIterator<Item = &Arc<Event>> {
        self.slots.iter().flatten()
    }

    fn slot(&mut self, id: &Uuid) -> Option<&mut Option<Arc<Event>>> {
        let seq = *self.seq_of.get(id)?;
        let index = usize::try_from(seq - self.first).ok()?;
        self.slots.get_mut(index)
    }

    /// Drops deleted slots at the front, so the deque holds no dead prefix.
    fn trim_front(&mut self) {
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
    }
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
        self.read().stored().map(|e| (**e).clone()).collect()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.read().seq_of.len()
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
        let seq = inner.first + inner.slots.len() as u64;
        if let Entry::Vacant(vacant) = inner.seq_of.entry(event.id()) {
            vacant.insert(seq);
        } else {
            return Err(StoreError::DuplicateId(event.id()));
        }
        inner.slots.push_back(Some(Arc::clone(event)));
        if let Some(capacity) = self.capacity {
            while inner.seq_of.len() > capacity {
                if let Some(Some(oldest)) = inner.slots.pop_front() {
                    inner.seq_of.remove(&oldest.id());
                }
                inner.first += 1;
            }
            inner.trim_front();
        }
        Ok(())
    }

    fn get(&self, id: Uuid) -> Result<Option<Event>, StoreError> {
        let inner = self.read();
        let Some(&seq) = inner.seq_of.get(&id) else {
            return Ok(None);
        };
        Ok(usize::try_from(seq - inner.first)
            .ok()
            .and_then(|index| inner.slots.get(index))
            .and_then(Option::as_ref)
            .map(|e| (**e).clone()))
    }

    fn query(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let inner = self.read();
        let filters: Vec<Filter<'_>> = query.filters().collect();
        let mut matching: Vec<&Arc<Event>> = inner
            .stored()
            .filter(|e| filters.iter().all(|filter| filter.matches(e)))
            .collect();
        let key = |e: &&Arc<Event>| match query.sort_field() {
            SortField::CreatedAt => e.created_at(),
            SortField::UpdatedAt => e.updated_at(),
        };
        matching.sort_by_key(key);
        if query.sort_order() == Order::Desc {
            matching.reverse();
        }
        let total = matching.len();
        let (size, offset) = query.window().unwrap_or((total, 0));
        let events = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|e| (***e).clone())
            .collect();
        let mut counts = PageCounts::default();
        let counted = query.counted_status();
        for event in inner.stored() {
            if query
                .user_id()
                .is_none_or(|user| event.user_id() == Some(user))
            {
                counts.add(
                    event.severity(),
                    usize::from(event.status() == counted),
                    usize::from(event.status() == Status::Read),
                );
            }
        }
        Ok(EventPage::assemble(query, events, total, counts))
    }

    fn set_status_many(&self, ids: &[Uuid], status: Status) -> Result<usize, StoreError> {
        let now = crate::event::now();
        let mut inner = self.write();
        let mut found = 0;
        for id in ids {
            if let Some(Some(event)) = inner.slot(id) {
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
            if let Some(slot) = inner.slot(id) {
                *slot = None;
                inner.seq_of.remove(id);
                found += 1;
            }
        }
        inner.trim_front();
        Ok(found)
    }

    fn stored_after(
        &self,
        user: Uuid,
        after: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let inner = self.read();
        let Some(&seq) = inner.seq_of.get(&after) else {
            return Ok(None);
        };
        let Ok(index) = usize::try_from(seq - inner.first) else {
            return Ok(None);
        };
        if inner.slots[index].as_ref().and_then(|e| e.user_id()) != Some(user) {
            return Ok(None);
        }
        Ok(Some(
            inner
                .slots
                .range(index + 1..)
                .flatten()
                .filter(|e| e.user_id() == Some(user))
                .take(limit)
                .map(|e| (**e).clone())
                .collect(),
        ))
    }

    fn types(&self, user: Option<Uuid>) -> Result<EventTypes, StoreError> {
        let inner = self.read();
        let mut categories = std::collections::BTreeSet::new();
        let mut actions = std::collections::BTreeSet::new();
        for event in inner
            .stored()
            .filter(|e| user.is_none() || e.user_id() == user)
        {
            categories.insert(event.category().clone());
            actions.insert(event.action().clone());
        }
        Ok(EventTypes {
            categories: categories.into_iter().collect(),
            actions: actions.into_iter().collect(),
        })
    }
}
