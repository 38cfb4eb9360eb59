//! The runtime of [tidings](https://docs.rs/tidings): the event model, the builder, the
//! snake_case names, and delivery to a store and to live subscribers.
//!
//! Applications depend on the `tidings` crate, which re-exports everything here together with
//! the `#[emits_event]` attribute.
//!
//! - [`Event`], made with [`Event::builder`]: MeshKit's event, with ids, [`Severity`],
//!   [`Status`], snake_case [`Category`] and [`Action`], metadata and UTC timestamps.
//! - [`ErrorReport`]: what an error event carries under the metadata key `err`.
//! - [`Emitter`]: stores an event in an [`EventStore`], then publishes it with a
//!   [`Broadcaster`] to the user's [`Subscription`]s.
//! - [`set_global_default`], [`with_default`] and [`emit`]: the default emitter.
//! - [`current`]: enrich the event of the running `#[emits_event]` function.
//! - [`testing::capture`]: the events a closure emitted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// On docs.rs (`--cfg docsrs`), each item behind a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod broadcast;
mod builder;
mod call;
#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub mod catalog;
pub mod current;
mod delivery;
mod dispatch;
mod emitter;
mod event;
mod health;
mod name;
mod report;
mod severity;
mod store;
pub mod testing;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod trace;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod web;
mod writer;

pub use broadcast::{
    Broadcaster, DEFAULT_SUBSCRIPTION_BUFFER, Lagged, RecvError, RecvTimeoutError, Subscription,
    TryRecvError,
};
pub use builder::{BuildError, BuildProblem, EventBuilder};
pub use call::{AsEmitter, EmitOn, IdSource, IdValue, IsResult, Nested};
pub use delivery::DeliveryFailure;
pub use dispatch::{
    DefaultGuard, EmitError, SetGlobalDefaultError, WithDefault, emit, get_default, has_default,
    set_default, set_global_default, with_default, with_default_async,
};
pub use emitter::{DEFAULT_QUEUE, EmitAsync, Emitter, EmitterBuilder, StartError, WeakEmitter};
pub use event::{
    DOC_KEY, ERR_KEY, Event, EventParts, MAX_EVENT_BYTES, Repeat, RepeatOutcome, TRUNCATED_KEY,
};
pub use health::{FeedHealth, Health, WriterHealth};
pub use name::{Action, Category, InvalidName, MAX_LEN as MAX_NAME_LEN};
pub use report::{AsDynError, ErrorDetails, ErrorReport, ToErrorReport, marker};
pub use severity::{Severity, Status, UnknownLevel};
#[cfg(feature = "postgres")]
pub use store::PgStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    EventPage, EventQuery, EventStore, EventTypes, Feed, Filter, Inserted, MemoryStore,
    NonBlockingStore, Order, PageSize, Retention, SortField, StoreError, StoreFuture,
};
pub use writer::WriterError;

pub use serde_json::{Map, Value};

/// Without the `catalog` feature, an annotated function registers nothing. Not a public API.
#[cfg(not(feature = "catalog"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tidings_register_site {
    ($($anything:tt)*) => {};
}
/// The JSON crate of [`Value`] and [`Map`] (an event's metadata), for the generated code of
/// `metadata(...)` and for applications that build metadata without a dependency of their own.
pub use serde_json;
pub use time::OffsetDateTime;
pub use uuid::Uuid;

/// Items used by generated code and by `tidings`' own macros. Not a public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__tidings_register_site as register_site;
    pub use crate::call::{
        AsEmitter, Call, EmitOn, Finish, IdSource, IdValue, InCall, IsResult, Nested, Output, Site,
        metadata_value,
    };
    #[cfg(feature = "catalog")]
    pub use crate::catalog::__SITES as SITES;
    pub use crate::error_report;
    pub use crate::name::{Action, Category};
    pub use crate::report::specialize;
    pub use crate::severity::Severity;
    #[cfg(feature = "catalog")]
    pub use linkme;
}
