//! Fault injection for tidings' own tests of the store (feature `test-doors`, never on the
//! production path): a batch transaction held open before its statement, in the middle of its
//! `COPY` or before its commit, the listener held down, and a commit whose reply is lost. Not a
//! public API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::PgStore;

/// A place where the next one to pass waits, once armed, until released.
#[derive(Default)]
struct Slot(Mutex<Option<Arc<Hold>>>);

impl Slot {
    /// Arms the slot: the next to pass waits until the returned hold is released.
    fn arm(&self) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&hold));
        hold
    }

    /// Waits here if the slot is armed (once).
    fn pass(&self) {
        let hold = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(hold) = hold {
            hold.hold();
        }
    }
}

/// The faults the next batch transaction meets.
#[derive(Default)]
pub(super) struct TestHooks {
    hold: Slot,
    send_hold: Slot,
    copy_hold: Slot,
    listener_hold: Slot,
    /// Queries moved to a thread of their own.
    pub(super) spawned: std::sync::atomic::AtomicU64,
    lose_reply: AtomicBool,
}

impl TestHooks {
    /// Before the `NOTIFY` and `COMMIT` of a batch: waits while a hold is set and not released.
    pub(super) fn before_commit(&self) {
        self.hold.pass();
    }

    /// In a batch's transaction, before its statement is sent (the server waiting for it):
    /// waits while a hold is set and not released.
    pub(super) fn before_send(&self) {
        self.send_hold.pass();
    }

    /// In the middle of a large batch's `COPY` into the staging table (the server waiting for
    /// the rest of the data): waits while a hold is set and not released.
    pub(super) fn during_copy(&self) {
        self.copy_hold.pass();
    }

    /// Before the listener connects: waits while a hold is set and not released.
    pub(super) fn before_listen(&self) {
        self.listener_hold.pass();
    }

    /// After a commit: whether to report it as a connection that broke before the reply.
    pub(super) fn lose_reply(&self) -> bool {
        self.lose_reply.swap(false, Ordering::SeqCst)
    }
}

impl PgStore {
    /// Makes the next batch transaction stop after its insert, before its `NOTIFY` and
    /// `COMMIT`, until the returned hold is released: for the ordering tests. Not a public API.
    #[doc(hidden)]
    pub fn __hold_next_commit(&self) -> Arc<Hold> {
        self.shared.hooks.hold.arm()
    }

    /// Makes the next batch stop in its transaction before its statement is sent (the server
    /// waiting for it, as it does for a writer paused while sending it) until the returned hold
    /// is released. Not a public API.
    #[doc(hidden)]
    pub fn __hold_next_send(&self) -> Arc<Hold> {
        self.shared.hooks.send_hold.arm()
    }

    /// Makes the next large batch stop in the middle of its `COPY` into the staging table (the
    /// server waiting for the rest of the data, as it does for a writer paused while sending
    /// it) until the returned hold is released. Not a public API.
    #[doc(hidden)]
    pub fn __hold_next_copy(&self) -> Arc<Hold> {
        self.shared.hooks.copy_hold.arm()
    }

    /// How many of this store's queries were moved to a thread of their own because they were
    /// made inside an async runtime. Not a public API.
    #[doc(hidden)]
    pub fn __threads_spawned(&self) -> u64 {
        self.shared.hooks.spawned.load(Ordering::SeqCst)
    }

    /// Runs `sql` on a connection of the queries' pool, as a slow request query would. Not a
    /// public API.
    #[doc(hidden)]
    pub fn __run_on_pool(&self, sql: &str) -> Result<(), crate::StoreError> {
        use super::connection::Context as _;
        let shared = &self.shared;
        shared.queries()?.block_on(async {
            shared
                .queries()?
                .connection("the test's query")
                .await?
                .batch_execute(sql)
                .await
                .context("the test's query")
        })
    }

    /// Makes the listener's next connection wait until the returned hold is released: with its
    /// connection killed, the listener stays down meanwhile. Not a public API.
    #[doc(hidden)]
    pub fn __hold_listener_reconnect(&self) -> Arc<Hold> {
        self.shared.hooks.listener_hold.arm()
    }

    /// Makes the next batch transaction commit and then fail as if the connection broke before
    /// the reply came: the outcome the writer must look up. Not a public API.
    #[doc(hidden)]
    pub fn __lose_next_commit_reply(&self) {
        self.shared.hooks.lose_reply.store(true, Ordering::SeqCst);
    }
}

/// Where a held transaction is.
#[derive(Default, Debug)]
struct HoldState {
    held: bool,
    released: bool,
}

/// A batch transaction held open by [`PgStore::__hold_next_commit`]. Not a public API.
#[doc(hidden)]
#[derive(Default, Debug)]
pub struct Hold {
    state: Mutex<HoldState>,
    changed: Condvar,
}

impl Hold {
    /// Waits until a batch transaction is held; `false` at the timeout.
    pub fn wait_held(&self, timeout: Duration) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |state| !state.held)
            .unwrap_or_else(PoisonError::into_inner);
        state.held
    }

    /// Lets the held transaction go on.
    pub fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.released = true;
        self.changed.notify_all();
    }

    /// Holds the calling transaction until released.
    fn hold(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.held = true;
        self.changed.notify_all();
        let _released = self
            .changed
            .wait_while(state, |state| !state.released)
            .unwrap_or_else(PoisonError::into_inner);
    }
}
