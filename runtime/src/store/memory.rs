//! The in-memory store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use uuid::Uuid;

use super::{
    EventPage, EventQuery, EventStore, EventTypes, Filter, Inserted, Order, PageCounts, SortField,
    StoreError,
};
use crate::event::{Event, Repeat, RepeatOutcome, weight};
use crate::severity::Status;

/// The in-memory store: the embedded default.
///
/// It keeps at most `capacity` events (by default [`MemoryStore::DEFAULT_CAPACITY`]) and at most
/// [`MemoryStore::DEFAULT_MAX_BYTES`] of them (their description and metadata, counted as
/// [`MAX_EVENT_BYTES`](crate::MAX_EVENT_BYTES) counts them, plus 256 bytes each). When one more
/// does not fit, an event goes, fairly between users: the inserting user's oldest when that user
/// holds more than an even share (the store's room over the users it holds events of), else the
/// oldest of a user known to hold more than that share, else the oldest of all. One user's flood
/// so evicts that user's own events, never another user's history. [`MemoryStore::unbounded`]
/// keeps everything.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: Option<usize>,
    max_bytes: Option<usize>,
    inner: RwLock<MemoryInner>,
}

/// What each stored event counts for, on top of its text: its fields, ids and times.
const EVENT_OVERHEAD: usize = 256;

/// A stored event, what it counts for in bytes, and its user's share.
struct Slot {
    event: Arc<Event>,
    bytes: usize,
    share: usize,
}

/// What one user (or the events of no user) holds.
#[derive(Default)]
struct Share {
    user: Option<Uuid>,
    events: usize,
    bytes: usize,
    /// The places of the user's events, oldest first; places of events deleted or evicted since
    /// are skipped when met.
    seqs: VecDeque<u64>,
}

/// Events in the order they were stored: `slots[i]` holds the event stored `first + i`-th, or
/// `None` once deleted; `seq_of` finds an event's place by id.
#[derive(Default)]
struct MemoryInner {
    first: u64,
    slots: VecDeque<Option<Slot>>,
    /// Places emptied after the front (evicted from a user's middle, or deleted).
    holes: usize,
    /// std's SipHash with random keys: an application may store events with ids from anywhere
    /// (`Event::from_parts`, deserialized JSON), so they are not trusted to be random.
    seq_of: HashMap<Uuid, u64>,
    /// What each user holds, found by the user (std's SipHash, like `seq_of`: user ids come
    /// from requests) or by a slot's `share`; empty places are reused.
    shares: Vec<Share>,
    share_of: HashMap<Option<Uuid>, usize>,
    free_shares: Vec<usize>,
    bytes: usize,
    /// A user's share seen holding more than an even share, the first to give events up.
    heavy: Option<usize>,
    /// The share of the user who stored last: a burst of one user's events skips the lookup.
    last: Option<(Option<Uuid>, usize)>,
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
        self.slots.iter().flatten().map(|slot| &slot.event)
    }

    fn index(&self, seq: u64) -> Option<usize> {
        usize::try_from(seq.checked_sub(self.first)?).ok()
    }

    fn slot(&mut self, id: &Uuid) -> Option<&mut Option<Slot>> {
        let seq = *self.seq_of.get(id)?;
        let index = self.index(seq)?;
        self.slots.get_mut(index)
    }

    /// The share of `user`, made if it has none.
    fn share_of(&mut self, user: Option<Uuid>) -> usize {
        if let Some((last, share)) = self.last
            && last == user
        {
            return share;
        }
        if let Some(&share) = self.share_of.get(&user) {
            self.last = Some((user, share));
            return share;
        }
        let share = Share {
            user,
            ..Share::default()
        };
        let index = match self.free_shares.pop() {
            Some(index) => {
                self.shares[index] = share;
                index
            }
            None => {
                self.shares.push(share);
                self.shares.len() - 1
            }
        };
        self.share_of.insert(user, index);
        self.last = Some((user, index));
        index
    }

    /// How many users hold events.
    fn users(&self) -> usize {
        self.share_of.len()
    }

    /// Empties the place `seq` (a deleted or evicted event); `false` when it held none.
    fn remove(&mut self, seq: u64) -> bool {
        let Some(index) = self.index(seq) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(index).and_then(Option::take) else {
            return false;
        };
        self.seq_of.remove(&slot.event.id());
        self.bytes -= slot.bytes;
        self.holes += 1;
        let share = &mut self.shares[slot.share];
        share.events -= 1;
        share.bytes -= slot.bytes;
        if share.events == 0 {
            let user = share.user;
            share.seqs = VecDeque::new();
            self.share_of.remove(&user);
            self.free_shares.push(slot.share);
            if self.heavy == Some(slot.share) {
                self.heavy = None;
            }
            if self.last.is_some_and(|(_, last)| last == slot.share) {
                self.last = None;
            }
        }
        true
    }

    /// Evicts the oldest event of the user of `share`, unless it is the event at `keep` (the
    /// one being stored); `false` when nothing was evicted.
    fn evict_oldest_of(&mut self, share: usize, keep: u64) -> bool {
        loop {
            let Some(&seq) = self.shares[share].seqs.front() else {
                return false;
            };
            if seq == keep {
                return false;
            }
            self.shares[share].seqs.pop_front();
            // A place emptied by a delete since is skipped.
            if self.remove(seq) {
                return true;
            }
        }
    }

    /// Evicts the oldest event of all, unless it is the event at `keep`.
    fn evict_oldest(&mut self, keep: u64) -> bool {
        let Some(index) = (0..self.slots.len()).find(|&i| self.slots[i].is_some()) else {
            return false;
        };
        let seq = self.first + index as u64;
        if seq == keep {
            return false;
        }
        let share = self.slots[index].as_ref().map_or(0, |slot| slot.share);
        // It is its user's oldest too: taken from the front of the user's places.
        let seqs = &mut self.shares[share].seqs;
        while seqs.front().is_some_and(|&front| front <= seq) {
            seqs.pop_front();
        }
        self.remove(seq)
    }

    /// Drops empty places at the front, and rebuilds the deque when more than half of it is
    /// places emptied in its middle (a flood evicting its own events leaves them there).
    fn tidy(&mut self) {
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
            self.holes = self.holes.saturating_sub(1);
        }
        if self.holes > 64 && self.holes > self.seq_of.len() {
            self.compact();
        }
    }

    /// Renumbers the stored events without the empty places between them.
    fn compact(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        self.seq_of.clear();
        for share in &mut self.shares {
            share.seqs.clear();
        }
        for slot in slots.into_iter().flatten() {
            let seq = self.first + self.slots.len() as u64;
            self.seq_of.insert(slot.event.id(), seq);
            self.shares[slot.share].seqs.push_back(seq);
            self.slots.push_back(Some(slot));
        }
        self.holes = 0;
    }
}

impl MemoryStore {
    /// How many events [`MemoryStore::new`] keeps.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// How many bytes of events [`MemoryStore::new`] and [`with_capacity`](Self::with_capacity)
    /// keep: 32 MiB (10,000 events of a few KiB each fit well within it).
    pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

    /// A store that keeps the last [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) events.
    pub fn new() -> Self {
        MemoryStore::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store that keeps the last `capacity` events (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            capacity: Some(capacity.max(1)),
            max_bytes: Some(Self::DEFAULT_MAX_BYTES),
            inner: RwLock::default(),
        }
    }

    /// This store, keeping at most `bytes` of events (counted as the type's documentation says).
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// A store that keeps every event.
    pub fn unbounded() -> Self {
        MemoryStore {
            capacity: None,
            max_bytes: None,
            inner: RwLock::default(),
        }
    }

    /// How many bytes the stored events count for (their text, plus 256 bytes each).
    pub fn bytes(&self) -> usize {
        self.read().bytes
    }

    /// Whether `inner` holds more than the store keeps.
    fn over(&self, inner: &MemoryInner) -> bool {
        self.capacity.is_some_and(|c| inner.seq_of.len() > c)
            || self.max_bytes.is_some_and(|b| inner.bytes > b)
    }

    /// Whether a user holding `events` and `bytes` holds more than an even share of the store
    /// among `users`.
    fn over_share(&self, (events, bytes): (usize, usize), users: usize) -> bool {
        let users = users.max(1);
        self.capacity.is_some_and(|c| events > (c / users).max(1))
            || self.max_bytes.is_some_and(|b| bytes > b / users)
    }

    /// What the user of `share` holds.
    fn held(inner: &MemoryInner, share: usize) -> (usize, usize) {
        let share = &inner.shares[share];
        (share.events, share.bytes)
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

impl MemoryStore {
    /// Stores `event` at the next place, then evicts what no longer fits; its id is not stored
    /// yet.
    fn push(&self, inner: &mut MemoryInner, event: Arc<Event>) {
        let seq = inner.first + inner.slots.len() as u64;
        inner.seq_of.insert(event.id(), seq);
        let bytes = weight(event.description(), event.metadata()) + EVENT_OVERHEAD;
        let user = event.user_id();
        let share = inner.share_of(user);
        let held = &mut inner.shares[share];
        held.events += 1;
        held.bytes += bytes;
        held.seqs.push_back(seq);
        inner.bytes += bytes;
        inner.slots.push_back(Some(Slot {
            event,
            bytes,
            share,
        }));
        if self.over_share(Self::held(inner, share), inner.users()) {
            inner.heavy = Some(share);
        }
        while self.over(inner) {
            let users = inner.users();
            if self.over_share(Self::held(inner, share), users) && inner.evict_oldest_of(share, seq)
            {
                continue;
            }
            if let Some(heavy) = inner
                .heavy
                .filter(|&heavy| heavy != share)
                .filter(|&heavy| self.over_share(Self::held(inner, heavy), users))
                && inner.evict_oldest_of(heavy, seq)
            {
                continue;
            }
            inner.heavy = None;
            if !inner.evict_oldest(seq) {
                break;
            }
        }
        inner.tidy();
    }
}

impl MemoryInner {
    /// The newest stored event that `event`'s repeat rule compares it with, and its place:
    /// the user's events are looked at newest first.
    fn newest_of_kind(&self, event: &Event) -> Option<(u64, Arc<Event>)> {
        let share = *self.share_of.get(&event.user_id())?;
        self.shares[share].seqs.iter().rev().find_map(|&seq| {
            let slot = self.slots.get(self.index(seq)?)?.as_ref()?;
            event
                .repeats_kind_of(&slot.event)
                .then(|| (seq, Arc::clone(&slot.event)))
        })
    }
}

impl EventStore for MemoryStore {
    fn insert(&self, event: &Arc<Event>) -> Result<Inserted, StoreError> {
        let mut inner = self.write();
        if inner.seq_of.contains_key(&event.id()) {
            return Err(StoreError::DuplicateId(event.id()));
        }
        let newest = match event.repeat() {
            Repeat::Keep => None,
            _ => inner.newest_of_kind(event),
        };
        match event.repeat_outcome(newest.as_ref().map(|(_, stored)| &**stored)) {
            RepeatOutcome::Store => {
                self.push(&mut inner, Arc::clone(event));
                Ok(Inserted::New)
            }
            RepeatOutcome::Skip => Ok(Inserted::Unchanged),
            RepeatOutcome::FoldInto => {
                let Some((seq, stored)) = newest else {
                    unreachable!("an event folds only into one that is stored")
                };
                // The folded event takes the newest place: a resume after any event before it
                // gets it again.
                let folded = event.folded_into(&stored);
                inner.remove(seq);
                self.push(&mut inner, Arc::new(folded.clone()));
                Ok(Inserted::Folded(folded))
            }
        }
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
            .map(|s| (*s.event).clone()))
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
            if let Some(Some(slot)) = inner.slot(id) {
                if slot.event.status() != status {
                    slot.event = Arc::new(slot.event.with_status(status, now));
                }
                found += 1;
            }
        }
        Ok(found)
    }

    fn set_status_matching(&self, query: &EventQuery, status: Status) -> Result<usize, StoreError> {
        let now = crate::event::now();
        let mut inner = self.write();
        let mut found = 0;
        for slot in inner.slots.iter_mut().flatten() {
            if query.matches(&slot.event) {
                if slot.event.status() != status {
                    slot.event = Arc::new(slot.event.with_status(status, now));
                }
                found += 1;
            }
        }
        Ok(found)
    }

    fn delete_matching(&self, query: &EventQuery) -> Result<usize, StoreError> {
        let mut inner = self.write();
        let first = inner.first;
        let matching: Vec<u64> = inner
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.as_ref().is_some_and(|s| query.matches(&s.event)))
            .map(|(index, _)| first + index as u64)
            .collect();
        let found = matching.iter().filter(|&&seq| inner.remove(seq)).count();
        inner.tidy();
        Ok(found)
    }

    fn delete_many(&self, ids: &[Uuid]) -> Result<usize, StoreError> {
        let mut inner = self.write();
        let mut found = 0;
        for id in ids {
            if let Some(&seq) = inner.seq_of.get(id)
                && inner.remove(seq)
            {
                found += 1;
            }
        }
        inner.tidy();
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
        if inner.slots[index].as_ref().and_then(|s| s.event.user_id()) != Some(user) {
            return Ok(None);
        }
        Ok(Some(
            inner
                .slots
                .range(index + 1..)
                .flatten()
                .filter(|s| s.event.user_id() == Some(user))
                .take(limit)
                .map(|s| (*s.event).clone())
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
