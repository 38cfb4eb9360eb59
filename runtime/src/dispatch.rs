//! The default emitter: one for the process, and a scoped one for the current thread.
//!
//! As with `tracing`'s dispatchers, a thread-scoped default ([`with_default`], [`set_default`])
//! wins over the process-wide one ([`set_global_default`]). When neither is set, [`emit`] drops
//! the event and returns [`EmitError::NoEmitter`]: nothing is stored or published, nothing
//! panics, and the check costs a thread-local read and an atomic load. `#[emits_event]` makes
//! that check before it builds anything.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use crate::delivery::DeliveryFailure;
use crate::emitter::Emitter;
use crate::event::Event;

static GLOBAL: OnceLock<Emitter> = OnceLock::new();

thread_local! {
    static SCOPED: RefCell<Option<Emitter>> = const { RefCell::new(None) };
}

/// Sets the process-wide default emitter. It can be set once.
///
/// # Errors
/// [`SetGlobalDefaultError`] when a global default is set already; the new one is dropped.
pub fn set_global_default(emitter: Emitter) -> Result<(), SetGlobalDefaultError> {
    GLOBAL.set(emitter).map_err(|_| SetGlobalDefaultError(()))
}

/// The process-wide default emitter was set already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetGlobalDefaultError(());

impl fmt::Display for SetGlobalDefaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a global default emitter has already been set")
    }
}

impl std::error::Error for SetGlobalDefaultError {}

/// Runs `f` with `emitter` as the default of the current thread, then restores the previous
/// default (also when `f` panics).
pub fn with_default<R>(emitter: &Emitter, f: impl FnOnce() -> R) -> R {
    let _guard = set_default(emitter);
    f()
}

/// [`with_default`] for async code: `future` with `emitter` as the default of whichever thread
/// polls it, at every poll (a task of a multi-threaded runtime may move between threads at each
/// `.await`), and the previous default restored after each poll.
///
/// Annotated functions called while it is polled (in it, and in what it awaits) emit through
/// `emitter`; work it spawns onto other tasks is outside it.
///
/// ```
/// use tidings_runtime::{Emitter, Event, with_default_async};
///
/// let emitter = Emitter::new();
/// let tab = emitter.subscribe(uuid::Uuid::nil());
/// futures::executor::block_on(with_default_async(&emitter, async {
///     let event = Event::builder().category("connection").action("ping").build().unwrap();
///     tidings_runtime::emit(event).unwrap();
/// }));
/// # drop(tab);
/// ```
pub fn with_default_async<F: Future>(emitter: &Emitter, future: F) -> WithDefault<F> {
    WithDefault {
        emitter: emitter.clone(),
        future,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`with_default_async`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct WithDefault<F> {
        emitter: Emitter,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithDefault<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _default = set_default(this.emitter);
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for WithDefault<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithDefault").finish_non_exhaustive()
    }
}

/// Makes `emitter` the default of the current thread until the guard is dropped.
pub fn set_default(emitter: &Emitter) -> DefaultGuard {
    let previous = SCOPED.with(|scoped| scoped.replace(Some(emitter.clone())));
    DefaultGuard {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous thread default when dropped; see [`set_default`].
#[must_use = "the default is restored as soon as the guard is dropped"]
pub struct DefaultGuard {
    previous: Option<Emitter>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // Ignore the access error during thread teardown: there is nothing left to restore.
        let _ = SCOPED.try_with(|scoped| *scoped.borrow_mut() = previous);
    }
}

impl fmt::Debug for DefaultGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultGuard").finish_non_exhaustive()
    }
}

/// The current default emitter: the thread's scoped one, else the global one.
pub fn get_default() -> Option<Emitter> {
    SCOPED
        .try_with(|scoped| scoped.borrow().clone())
        .ok()
        .flatten()
        .or_else(|| GLOBAL.get().cloned())
}

/// The emitter a call resolved: the global one is borrowed for good, a scoped one is shared.
#[derive(Debug, Clone)]
pub(crate) enum EmitterRef {
    Global(&'static Emitter),
    Owned(Emitter),
}

impl EmitterRef {
    pub(crate) fn get(&self) -> &Emitter {
        match self {
            EmitterRef::Global(emitter) => emitter,
            EmitterRef::Owned(emitter) => emitter,
        }
    }
}

/// The current default emitter, without touching the global one's reference count.
pub(crate) fn current() -> Option<EmitterRef> {
    SCOPED
        .try_with(|scoped| scoped.borrow().clone())
        .ok()
        .flatten()
        .map(EmitterRef::Owned)
        .or_else(|| GLOBAL.get().map(EmitterRef::Global))
}

/// Whether a default emitter is set for the current thread (scoped or global).
pub fn has_default() -> bool {
    SCOPED
        .try_with(|scoped| scoped.borrow().is_some())
        .unwrap_or(false)
        || GLOBAL.get().is_some()
}

/// Why [`emit`] delivered nothing.
#[derive(Debug)]
pub enum EmitError {
    /// No default emitter is set; the event was dropped.
    NoEmitter,
    /// The default emitter's store refused the event (see [`Emitter::emit`]).
    Delivery(DeliveryFailure),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::NoEmitter => f.write_str("no default emitter is set; the event was dropped"),
            EmitError::Delivery(failure) => fmt::Display::fmt(failure, f),
        }
    }
}

impl std::error::Error for EmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EmitError::NoEmitter => None,
            EmitError::Delivery(failure) => Some(failure),
        }
    }
}

/// Emits `event` through the default emitter (see [`Emitter::emit`]).
///
/// # Errors
/// [`EmitError::NoEmitter`] when no default is set (the event is dropped), or the delivery
/// failure of the default emitter.
pub fn emit(event: Event) -> Result<Arc<Event>, EmitError> {
    match get_default() {
        Some(emitter) => emitter.emit(event).map_err(EmitError::Delivery),
        None => Err(EmitError::NoEmitter),
    }
}
