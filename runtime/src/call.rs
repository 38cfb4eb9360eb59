//! One call of an `#[emits_event]` function: what the generated code calls.
//!
//! The macro only glues these together; the work is here, in ordinary tested code:
//! [`Call::start`] before the body, [`Call::run`] / [`Call::run_async`] around it, and
//! [`Call::finish`] with the result.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::current::{self, Frame};
use crate::dispatch::{self, EmitterRef};
use crate::emitter::Emitter;
use crate::event::{
    Event, MAX_EVENT_BYTES, NewEvent, delivered_system, fit, put_doc, put_error, weight,
};
use crate::name::{Action, Category};
use crate::report::ErrorReport;
use crate::severity::Severity;

/// What the attribute says, fixed at compile time: one `static` per annotated function.
#[derive(Debug)]
pub struct Site {
    /// The category.
    pub category: Category,
    /// The action.
    pub action: Action,
    /// The severity of the event on `Ok`.
    pub success: Severity,
    /// The severity of the event on `Err`, unless the error value says otherwise.
    pub error: Severity,
    /// Which outcomes emit an event.
    pub emit_on: EmitOn,
    /// The attribute's `coalesce`: repeats within this window folded into one event.
    pub coalesce: Option<std::time::Duration>,
    /// Whether a call inside another annotated call emits (the attribute's `nested`).
    pub nested: Nested,
    /// The severity of the event of a panicking body; `None`: a panic emits nothing.
    pub panic: Option<Severity>,
    /// The keys of the attribute's `metadata(...)`, for the catalog.
    pub metadata_keys: &'static [&'static str],
    /// The description on `Ok`, unless rendered per call or set by the body.
    pub description: &'static str,
    /// The description on `Err`, unless rendered per call or set by the body.
    pub error_description: &'static str,
    /// A documentation link for the `doc` metadata entry.
    pub doc: Option<&'static str>,
    /// The description on `Ok` as the attribute wrote it (`{placeholders}` and all), for the
    /// catalog.
    pub template: &'static str,
    /// The description on `Err` as the attribute wrote it, for the catalog.
    pub error_template: &'static str,
}

/// A value of the attribute's `metadata(...)` as JSON, from `serde_json::to_value` (which the
/// generated code calls at the value's span, so that the error of a value that does not
/// serialize is there, and names `serde::Serialize`). A value that fails to serialize (a map
/// with non-string keys) is kept as its error message.
pub fn metadata_value(value: Result<Value, serde_json::Error>) -> Value {
    value.unwrap_or_else(|e| Value::String(format!("(not serializable: {e})")))
}

/// The declared return type of an `async fn`, carried into its body.
///
/// An async block's output is inferred from its own `return`s and tail, never from an expected
/// type, so `Ok(Box::new(e))` would not unsize to a declared `Box<dyn Error>`. The generated code
/// makes one of these outside the body (where the return type names what the signature names,
/// whatever the body declares) and writes `if false { return output.never(); }` first in the
/// async block: the block's output is then the declared type before the body is checked, and
/// every `return`, `?` and the tail are coercion sites, as in a closure with `-> T`. The branch
/// is compiled out; the marker is zero-sized and `Send` whatever `T` is.
pub struct Output<T>(PhantomData<fn() -> T>);

impl<T> Output<T> {
    /// The marker of the return type `T`.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Output(PhantomData)
    }

    /// Never called: the generated `return` that gives the async block its output type.
    #[inline]
    pub fn never(self) -> T {
        unreachable!("the typed return of #[emits_event] is behind `if false`")
    }
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Output<T> {}

impl<T> Default for Output<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
}

/// Which outcomes of a call emit an event (the attribute's `emit_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitOn {
    /// `Ok` and `Err` (the default).
    Both,
    /// Only `Ok`.
    Ok,
    /// Only `Err`.
    Err,
    /// Either outcome, only when it differs from the last event of the same user, category,
    /// action and `acted_upon` (`emit_on = "change"`, decided by the store:
    /// [`Repeat::OnChange`](crate::Repeat::OnChange)).
    Change,
}

impl Site {
    /// What a store does with the events of this site when they repeat.
    pub fn repeat(&self) -> crate::event::Repeat {
        match (self.emit_on, self.coalesce) {
            (EmitOn::Change, _) => crate::event::Repeat::OnChange,
            (_, Some(window)) => crate::event::Repeat::Coalesce(window),
            (_, None) => crate::event::Repeat::Keep,
        }
    }
}

/// What a call made inside another annotated call's body does (the attribute's `nested`).
///
/// Either way, the events of one outer call share the outermost call's `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nested {
    /// It emits its event, which joins the outer call's operation (the default).
    Join,
    /// It emits only when called on its own: inside another annotated call, the outer call's
    /// event tells the story (one failed request, one notification).
    Skip,
}

/// The metadata key under which ids that did not parse are kept (from `tidings-rules`).
pub const INVALID_IDS_KEY: &str = tidings_rules::INVALID_IDS_KEY;

/// One call in progress.
#[derive(Debug)]
pub struct Call {
    site: &'static Site,
    emitter: Option<EmitterRef>,
    user: Option<Uuid>,
    system: Option<Uuid>,
    acted_upon: Option<Uuid>,
    description: Option<String>,
    error_description: Option<String>,
    frame: Frame,
}

impl Call {
    /// Starts a call that emits through the default emitter.
    #[inline]
    pub fn start(site: &'static Site) -> Call {
        Call::with_emitter(site, dispatch::current())
    }

    /// Starts a call that emits through `emitter` (the attribute's `emitter = ...`, read with
    /// [`AsEmitter::as_emitter`] at the expression's span; `None` emits nothing).
    #[inline]
    pub fn start_with(site: &'static Site, emitter: Option<&Emitter>) -> Call {
        Call::with_emitter(site, emitter.cloned().map(EmitterRef::Owned))
    }

    #[inline]
    fn with_emitter(site: &'static Site, emitter: Option<EmitterRef>) -> Call {
        // Inside another annotated call, a `nested = "skip"` function emits nothing.
        let emitter = if site.nested == Nested::Skip && current::depth() > 0 {
            None
        } else {
            emitter
        };
        Call {
            site,
            frame: Frame {
                active: emitter.is_some(),
                ..Frame::default()
            },
            emitter,
            user: None,
            system: None,
            acted_upon: None,
            description: None,
            error_description: None,
        }
    }

    /// Whether an event will be emitted; the generated code skips the per-call work otherwise.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.emitter.is_some()
    }

    /// The user the event is for, as [`IdSource::event_id`] read it from the attribute's
    /// expression (the generated code calls it at the expression's span, so that a value that
    /// is no id is an error there).
    #[inline]
    pub fn user(&mut self, id: IdValue) {
        self.user = self.id(id, "user");
    }

    /// The system id, overriding the emitter's.
    #[inline]
    pub fn system(&mut self, id: IdValue) {
        self.system = self.id(id, "system");
    }

    /// The resource the event is about.
    #[inline]
    pub fn acted_upon(&mut self, id: IdValue) {
        self.acted_upon = self.id(id, "acted_upon");
    }

    #[inline]
    fn id(&mut self, id: IdValue, key: &str) -> Option<Uuid> {
        match id {
            IdValue::Id(id) => Some(id),
            IdValue::Absent => None,
            IdValue::Invalid(text) => {
                self.keep_invalid(key, text);
                None
            }
        }
    }

    /// Keeps a string that is not a UUID under `invalid_ids`.
    #[cold]
    fn keep_invalid(&mut self, key: &str, text: String) {
        let invalid = self
            .frame
            .metadata
            .entry(INVALID_IDS_KEY)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = invalid {
            map.insert(key.to_owned(), Value::String(text));
        }
    }

    /// A metadata entry from the attribute's `metadata(...)` ([`metadata_value`]), evaluated
    /// before the body.
    pub fn meta(&mut self, key: &'static str, value: Value) {
        self.frame.metadata.insert(key.to_owned(), value);
    }

    /// The description on `Ok`, rendered from the function's arguments.
    pub fn description(&mut self, description: String) {
        self.description = Some(description);
    }

    /// The description on `Err`, rendered from the function's arguments.
    pub fn error_description(&mut self, description: String) {
        self.error_description = Some(description);
    }

    /// Runs the body of a sync function with this call's event in progress.
    #[inline]
    pub fn run<R>(&mut self, body: impl FnOnce() -> R) -> R {
        let _installed = Installed::new(self);
        body()
    }

    /// [`run`](Self::run) for the attribute's `panic = "..."`: a panicking body emits its event
    /// (the panic's message under `err`), then the panic goes on unwinding.
    pub fn run_catching<R>(&mut self, body: impl FnOnce() -> R) -> R {
        let outcome = {
            let _installed = Installed::new(self);
            catch_unwind(AssertUnwindSafe(body))
        };
        match outcome {
            Ok(value) => value,
            Err(panic) => {
                self.emit_panic(&*panic);
                resume_unwind(panic)
            }
        }
    }

    /// Wraps the body of an async function: every poll has this call's event in progress.
    ///
    /// The body's output type is fixed by an [`Output`] marker's `return` inside it.
    pub fn run_async<F: Future>(&mut self, body: F) -> InCall<'_, F> {
        InCall {
            call: self,
            catching: false,
            body,
        }
    }

    /// [`run_async`](Self::run_async) for the attribute's `panic = "..."`: a poll that panics
    /// emits the event, then the panic goes on unwinding.
    pub fn run_async_catching<F: Future>(&mut self, body: F) -> InCall<'_, F> {
        InCall {
            call: self,
            catching: true,
            body,
        }
    }

    /// Emits the event of a panicking body, once.
    fn emit_panic(&mut self, panic: &(dyn std::any::Any + Send)) {
        let Some(level) = self.site.panic else {
            return;
        };
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the function panicked".to_owned());
        // The panic goes on unwinding: this call is not used again.
        let call = std::mem::replace(self, Call::with_emitter(self.site, None));
        let report = ErrorReport::from_message(format!("panicked: {message}"));
        if let Some((emitter, event)) = call.assemble(Outcome::Failed { report, level }) {
            let emitter = emitter.get();
            let _ = emitter.emit_prepared(emitter.recorded(event));
        }
    }

    /// Builds the event from the function's result and hands it to the emitter.
    ///
    /// `report` turns the error into the `err` entry; the generated code picks the richest
    /// report the error type allows.
    pub fn finish<T: ?Sized, E: ?Sized>(
        self,
        result: Result<&T, &E>,
        report: impl FnOnce(&E) -> ErrorReport,
    ) {
        if let Some((emitter, event)) = self.into_event(result, report) {
            // A store failure is counted and reported by the emitter's failure hook; the
            // function's own result is not changed by it.
            let emitter = emitter.get();
            let _ = emitter.emit_prepared(emitter.recorded(event));
        }
    }

    /// [`finish`](Self::finish) for an async function: builds the event now; the returned
    /// future hands it to the emitter, and waits for room in a full background-writer queue
    /// without blocking the executor's thread.
    pub fn finish_async<T: ?Sized, E: ?Sized>(
        self,
        result: Result<&T, &E>,
        report: impl FnOnce(&E) -> ErrorReport,
    ) -> Finish {
        match self.into_event(result, report) {
            Some((emitter, event)) => {
                let event = emitter.get().recorded(event);
                Finish {
                    emitter: Some(emitter),
                    event: Some(event),
                }
            }
            None => Finish {
                emitter: None,
                event: None,
            },
        }
    }

    /// The event of this call, with the emitter it goes to; `None` with no emitter.
    fn into_event<T: ?Sized, E: ?Sized>(
        self,
        result: Result<&T, &E>,
        report: impl FnOnce(&E) -> ErrorReport,
    ) -> Option<(EmitterRef, Arc<Event>)> {
        // The filter is on the outcome; a call whose outcome emits nothing builds nothing.
        let emits = match self.site.emit_on {
            EmitOn::Both | EmitOn::Change => true,
            EmitOn::Ok => result.is_ok(),
            EmitOn::Err => result.is_err(),
        };
        if !emits || self.emitter.is_none() {
            return None;
        }
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(error) => {
                let report = report(error);
                let level = report.severity.unwrap_or(self.site.error);
                Outcome::Failed { report, level }
            }
        };
        self.assemble(outcome)
    }

    /// The one place a call's event is made from its outcome, with the emitter it goes to.
    /// The event is built straight into its `Arc`, with the emitter's system id when the call
    /// names none: it is not moved again on its way to the store.
    fn assemble(self, outcome: Outcome) -> Option<(EmitterRef, Arc<Event>)> {
        let emitter = self.emitter?;
        let site = self.site;
        let mut metadata = self.frame.metadata;
        let (severity, description) = match outcome {
            Outcome::Ok => (
                site.success,
                self.description
                    .map_or(Cow::Borrowed(site.description), Cow::Owned),
            ),
            Outcome::Failed { report, level } => {
                put_error(&mut metadata, report);
                (
                    level,
                    self.error_description
                        .map_or(Cow::Borrowed(site.error_description), Cow::Owned),
                )
            }
        };
        // Highest first: the body's `set_severity`, then the outcome's level (the error
        // value's own, or the attribute's).
        let severity = self.frame.severity.unwrap_or(severity);
        if let Some(doc) = site.doc {
            put_doc(&mut metadata, doc.to_owned());
        }
        let system_id = Some(delivered_system(self.system, emitter.get().system_id()));
        let mut description = self.frame.description.map_or(description, Cow::Owned);
        // The call must not fail for its event: one over the limit is cut to fit, and says so.
        if weight(&description, &metadata) > MAX_EVENT_BYTES {
            fit(&mut description, &mut metadata, MAX_EVENT_BYTES);
        }
        let event = Arc::new(Event::assemble(NewEvent {
            user_id: self.user,
            system_id,
            acted_upon: self.frame.acted_upon.or(self.acted_upon),
            operation_id: self.frame.operation,
            category: site.category.clone(),
            action: site.action.clone(),
            severity,
            description,
            metadata,
            repeat: site.repeat(),
        }));
        Some((emitter, event))
    }
}

/// How a call ended, as its event tells it.
enum Outcome {
    Ok,
    /// `Err`, or a panic: the report goes under `err`, at this level.
    Failed {
        report: ErrorReport,
        level: Severity,
    },
}

/// The future of [`Call::finish_async`]: delivers the call's event, if any.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Finish {
    emitter: Option<EmitterRef>,
    event: Option<Arc<Event>>,
}

impl Future for Finish {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(emitter) = &this.emitter else {
            return Poll::Ready(());
        };
        match emitter.get().poll_emit(&mut this.event, cx) {
            Poll::Pending => Poll::Pending,
            // A store failure is counted and reported by the emitter's failure hook; the
            // function's own result is not changed by it.
            Poll::Ready(_) => {
                this.emitter = None;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Finish {
    /// Dropped before the event was delivered (the call's future was cancelled while it waited
    /// for room in a full queue): the event is delivered all the same, or reported.
    fn drop(&mut self) {
        if let (Some(emitter), Some(event)) = (self.emitter.take(), self.event.take()) {
            emitter.get().deliver_abandoned(event);
        }
    }
}

/// Keeps the call's event in progress on this thread while alive; puts it back when dropped,
/// also on panic.
///
/// A call that will emit nothing installs nothing when no event is in progress on this thread
/// (the common case with no emitter set): enrichment then finds no event, as it should. Inside
/// another call's event it installs an inactive frame, so that the outer event does not receive
/// what belongs to this call.
struct Installed<'a> {
    call: &'a mut Call,
    installed: bool,
}

impl<'a> Installed<'a> {
    fn new(call: &'a mut Call) -> Self {
        let installed = call.frame.active || current::depth() > 0;
        if installed {
            current::push(std::mem::take(&mut call.frame));
        }
        Installed { call, installed }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        if self.installed {
            // What `new` left in its place is an empty default frame, which owns no memory:
            // forgetting it instead of dropping it saves walking an empty `BTreeMap`'s drop
            // (measured in BENCHMARKS.md, "Per call").
            let left = std::mem::replace(&mut self.call.frame, current::pop());
            debug_assert!(left.metadata.is_empty() && left.description.is_none());
            std::mem::forget(left);
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an async body with its call's event in progress on every poll.
    #[must_use = "futures do nothing unless awaited"]
    pub struct InCall<'a, F> {
        call: &'a mut Call,
        catching: bool,
        #[pin]
        body: F,
    }
}

impl<F: Future> Future for InCall<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.catching {
            let _installed = Installed::new(this.call);
            return this.body.poll(cx);
        }
        let outcome = {
            let _installed = Installed::new(this.call);
            let body = this.body;
            catch_unwind(AssertUnwindSafe(|| body.poll(cx)))
        };
        match outcome {
            Ok(poll) => poll,
            Err(panic) => {
                this.call.emit_panic(&*panic);
                resume_unwind(panic)
            }
        }
    }
}

/// What `user`, `system` and `acted_upon` accept: a `Uuid`, a reference to one, an
/// `Option<Uuid>`, or a string holding a UUID (such as an id from a query string).
///
/// A string that is not a UUID gives no id; the event keeps the string under the metadata key
/// `invalid_ids` (for example `{"acted_upon": "not-a-uuid"}`), and the call itself is not
/// affected.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an id: `#[emits_event]` cannot read an event's id from it",
    label = "expected a `Uuid`, an `Option<Uuid>` or a string holding a UUID, found `{Self}`",
    note = "`user =`, `acted_upon =` and `system =` each take a `Uuid`, a reference to one, an `Option<Uuid>`, or a `String`, `&str` or `Cow<str>` holding a UUID",
    note = "for a struct that holds the id, name its field: `user = user.id`"
)]
pub trait IdSource {
    /// The id.
    fn event_id(&self) -> IdValue;
}

/// An id read by [`IdSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdValue {
    /// A valid id.
    Id(Uuid),
    /// No id (`None`).
    Absent,
    /// A string that is not a UUID.
    Invalid(String),
}

impl IdSource for Uuid {
    #[inline]
    fn event_id(&self) -> IdValue {
        IdValue::Id(*self)
    }
}

impl IdSource for str {
    fn event_id(&self) -> IdValue {
        match Uuid::try_parse(self.trim()) {
            Ok(id) => IdValue::Id(id),
            Err(_) => IdValue::Invalid(self.to_owned()),
        }
    }
}

impl IdSource for String {
    fn event_id(&self) -> IdValue {
        self.as_str().event_id()
    }
}

impl IdSource for Cow<'_, str> {
    fn event_id(&self) -> IdValue {
        (**self).event_id()
    }
}

impl<T: IdSource> IdSource for Option<T> {
    #[inline]
    fn event_id(&self) -> IdValue {
        self.as_ref().map_or(IdValue::Absent, IdSource::event_id)
    }
}

impl<T: IdSource + ?Sized> IdSource for &T {
    #[inline]
    fn event_id(&self) -> IdValue {
        (**self).event_id()
    }
}

impl<T: IdSource + ?Sized> IdSource for &mut T {
    #[inline]
    fn event_id(&self) -> IdValue {
        (**self).event_id()
    }
}

impl<T: IdSource + ?Sized> IdSource for Box<T> {
    #[inline]
    fn event_id(&self) -> IdValue {
        (**self).event_id()
    }
}

impl<T: IdSource + ?Sized> IdSource for Arc<T> {
    #[inline]
    fn event_id(&self) -> IdValue {
        (**self).event_id()
    }
}

/// What the attribute's `emitter = ...` accepts: an [`Emitter`], a reference to one, an
/// `Arc<Emitter>` or an `Option<Emitter>` (`None` emits nothing).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an emitter: `emitter = ...` of `#[emits_event]` needs one",
    label = "expected an `Emitter`, found `{Self}`",
    note = "`emitter =` takes a `tidings::Emitter`, a reference to one, an `Arc<Emitter>` or an `Option<Emitter>` (`None` emits nothing)"
)]
pub trait AsEmitter {
    /// The emitter, if there is one.
    fn as_emitter(&self) -> Option<&Emitter>;
}

impl AsEmitter for Emitter {
    fn as_emitter(&self) -> Option<&Emitter> {
        Some(self)
    }
}

impl<T: AsEmitter> AsEmitter for Option<T> {
    fn as_emitter(&self) -> Option<&Emitter> {
        self.as_ref().and_then(AsEmitter::as_emitter)
    }
}

impl<T: AsEmitter + ?Sized> AsEmitter for &T {
    fn as_emitter(&self) -> Option<&Emitter> {
        (**self).as_emitter()
    }
}

impl<T: AsEmitter + ?Sized> AsEmitter for Arc<T> {
    fn as_emitter(&self) -> Option<&Emitter> {
        (**self).as_emitter()
    }
}

/// The return types `#[emits_event]` accepts: `Result<T, E>` under any name (`io::Result<T>`,
/// `anyhow::Result<T>`, local aliases).
#[diagnostic::on_unimplemented(
    message = "`#[emits_event]` needs a function that returns a `Result`, but it returns `{Self}`",
    label = "not a `Result`",
    note = "the event is `success` when the function returns `Ok` and `error` when it returns `Err`"
)]
pub trait IsResult {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// The result as references.
    fn as_result(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn as_result(&self) -> Result<&T, &E> {
        self.as_ref()
    }
}
