//! Building events step by step (a port of MeshKit's `EventBuilder`).

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::event::{
    DOC_KEY, ERR_KEY, Event, MAX_EVENT_BYTES, NewEvent, Repeat, put_doc, put_error, weight,
};
use crate::name::{Action, Category, InvalidName};
use crate::report::{ErrorDetails, ErrorReport, ToErrorReport};
use crate::severity::Severity;

impl Event {
    /// A new [`EventBuilder`].
    pub fn builder() -> EventBuilder {
        EventBuilder::new()
    }
}

/// Builds an [`Event`]; get one from [`Event::builder`].
///
/// Every step takes and returns the builder. [`build`](Self::build) checks the result and borrows
/// the builder, so one builder can make several events: each gets a fresh id, and none shares
/// metadata with another (MeshKit's builder hands out one pointer per build).
///
/// Defaults: severity `informational`, empty description and metadata, no user, system or
/// resource ids, and an operation of its own: the operation id is the event's own fresh id
/// unless [`operation_id`](Self::operation_id) groups several events.
///
/// ```
/// use tidings_runtime::{Event, Severity};
/// use serde_json::json;
///
/// let user = uuid::Uuid::new_v4();
/// let ping = Event::builder()
///     .from_user(user)
///     .category("connection")
///     .action("ping")
///     .acted_upon(uuid::Uuid::new_v4());
///
/// let ok = ping
///     .clone()
///     .severity(Severity::Success)
///     .description("Kubernetes context minikube pinged")
///     .metadata([("Context Name", json!("minikube"))])
///     .build()?;
///
/// let failure = std::io::Error::other("connection refused");
/// let failed = ping
///     .err(&failure)
///     .description("Could not ping Kubernetes context minikube")
///     .doc("https://docs.meshery.io/concepts/logical/connections")
///     .build()?;
/// assert_eq!(failed.severity(), Severity::Error);
/// assert_eq!(failed.metadata()["err"]["message"], "connection refused");
/// assert_ne!(ok.id(), failed.id());
/// # Ok::<(), tidings_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventBuilder {
    user_id: Option<Uuid>,
    system_id: Option<Uuid>,
    acted_upon: Option<Uuid>,
    operation_id: Option<Uuid>,
    category: Option<Cow<'static, str>>,
    action: Option<Cow<'static, str>>,
    severity: Option<Severity>,
    description: Cow<'static, str>,
    metadata: Map<String, Value>,
    /// `None`: [`MAX_EVENT_BYTES`].
    max_bytes: Option<usize>,
    repeat: Repeat,
}

impl EventBuilder {
    /// An empty builder; the same as [`Event::builder`].
    pub fn new() -> Self {
        EventBuilder::default()
    }

    /// The resource the event is about.
    pub fn acted_upon(mut self, id: Uuid) -> Self {
        self.acted_upon = Some(id);
        self
    }

    /// The user who made the request, and whose subscribers see the event.
    pub fn from_user(mut self, id: Uuid) -> Self {
        self.user_id = Some(id);
        self
    }

    /// The server instance; an [`Emitter`](crate::Emitter) fills in its own when this is not set.
    pub fn from_system(mut self, id: Uuid) -> Self {
        self.system_id = Some(id);
        self
    }

    /// Groups events of one operation under one id (by default each event is an operation of its
    /// own, and the operation id is the event's id).
    pub fn operation_id(mut self, id: Uuid) -> Self {
        self.operation_id = Some(id);
        self
    }

    /// The category, such as `"connection"`: snake_case, checked by [`build`](Self::build).
    pub fn category(mut self, category: impl Into<Cow<'static, str>>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// The action, such as `"ping"`: snake_case, checked by [`build`](Self::build).
    pub fn action(mut self, action: impl Into<Cow<'static, str>>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// The severity (default `informational`). `Severity::Error` needs an [`err`](Self::err).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// A sentence for people.
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds metadata entries. Entries added before stay; an entry whose key is already present
    /// replaces that one value, as a map insert does.
    pub fn metadata<K, V, I>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        for (key, value) in entries {
            self.metadata.insert(key.into(), value.into());
        }
        self
    }

    /// Adds one metadata entry (see [`metadata`](Self::metadata)).
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Makes this an error event: severity `error`, and the error's [`ErrorReport`] (message and
    /// chain of causes) under the metadata key `err`.
    ///
    /// Takes any `std::error::Error`, a `dyn Error`, anything that dereferences to one
    /// (`Box<dyn Error + Send + Sync>`, `anyhow::Error`), or an [`ErrorReport`]. For an
    /// [`ErrorDetails`] type use [`err_details`](Self::err_details); for a type that is only
    /// `Display + Debug`, pass `&error_report!(value)` (see [`error_report!`](crate::error_report)).
    pub fn err<M, E: ToErrorReport<M> + ?Sized>(self, error: &E) -> Self {
        self.err_report(error.to_error_report())
    }

    /// Like [`err`](Self::err), with the code, description, probable causes and remediations of
    /// an [`ErrorDetails`] type.
    pub fn err_details<E: ErrorDetails + ?Sized>(self, error: &E) -> Self {
        self.err_report(ErrorReport::from_details(error))
    }

    /// Like [`err`](Self::err), with a report made beforehand.
    pub fn err_report(mut self, report: ErrorReport) -> Self {
        self.severity = Some(Severity::Error);
        put_error(&mut self.metadata, report);
        self
    }

    /// A link to documentation, under the metadata key `doc`: an `http` or `https` URL, checked
    /// by [`build`](Self::build).
    pub fn doc(mut self, url: impl Into<String>) -> Self {
        put_doc(&mut self.metadata, url.into());
        self
    }

    /// The most the event may hold, in bytes of its description and metadata (default
    /// [`MAX_EVENT_BYTES`], which says how they are counted); [`build`](Self::build) refuses an
    /// event over it.
    pub fn max_bytes(mut self, limit: usize) -> Self {
        self.max_bytes = Some(limit);
        self
    }

    /// Repeats folded into one notification: a repeat of the newest stored event of the same
    /// user, category, action, resource and severity, unread and created within `window`
    /// before it, is not stored again; that event counts one more instead, and moves to the
    /// top (the attribute's `coalesce = "10m"`). See [`Repeat::Coalesce`].
    pub fn coalesce(mut self, window: std::time::Duration) -> Self {
        self.repeat = Repeat::Coalesce(window);
        self
    }

    /// State changes only: the event is stored only when its severity differs from the newest
    /// stored event of the same user, category, action and resource (the attribute's
    /// `emit_on = "change"`). See [`Repeat::OnChange`].
    pub fn on_change(mut self) -> Self {
        self.repeat = Repeat::OnChange;
        self
    }

    /// What a store does when the event repeats an earlier one ([`Repeat::Keep`] by default;
    /// [`coalesce`](Self::coalesce) and [`on_change`](Self::on_change) set the others).
    pub fn repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }

    /// Checks the steps and makes the event, with a fresh id and the current UTC time.
    ///
    /// # Errors
    /// A [`BuildError`] listing every problem: a missing category or action, a name that is not
    /// snake_case, severity `error` without `err` metadata, a `doc` entry that is not an
    /// `http`/`https` URL, an event over [`max_bytes`](Self::max_bytes).
    pub fn build(&self) -> Result<Event, BuildError> {
        let mut problems = Vec::new();
        let limit = self.max_bytes.unwrap_or(MAX_EVENT_BYTES);
        let size = weight(&self.description, &self.metadata);
        if size > limit {
            let field = if self.description.len() * 2 >= size {
                "description"
            } else {
                "metadata"
            };
            problems.push(BuildProblem::TooLarge { field, size, limit });
        }
        let category = match &self.category {
            None => {
                problems.push(BuildProblem::MissingCategory);
                None
            }
            Some(name) => Category::new(name.clone())
                .map_err(|e| problems.push(BuildProblem::InvalidName(e)))
                .ok(),
        };
        let action = match &self.action {
            None => {
                problems.push(BuildProblem::MissingAction);
                None
            }
            Some(name) => Action::new(name.clone())
                .map_err(|e| problems.push(BuildProblem::InvalidName(e)))
                .ok(),
        };
        let severity = self.severity.unwrap_or(Severity::Informational);
        if severity == Severity::Error && !self.metadata.contains_key(ERR_KEY) {
            problems.push(BuildProblem::ErrorWithoutErr);
        }
        if let Some(doc) = self.metadata.get(DOC_KEY) {
            let checked = match doc {
                Value::String(url) => tidings_rules::check_doc_url(url).map_err(|e| e.to_string()),
                _ => Err("a documentation link must be a string".to_owned()),
            };
            if let Err(reason) = checked {
                problems.push(BuildProblem::InvalidDoc {
                    value: doc.to_string(),
                    reason,
                });
            }
        }
        match (category, action) {
            (Some(category), Some(action)) if problems.is_empty() => {
                Ok(Event::assemble(NewEvent {
                    user_id: self.user_id,
                    system_id: self.system_id,
                    acted_upon: self.acted_upon,
                    operation_id: self.operation_id,
                    category,
                    action,
                    severity,
                    description: self.description.clone(),
                    metadata: self.metadata.clone(),
                    repeat: self.repeat,
                }))
            }
            _ => Err(BuildError { problems }),
        }
    }
}

/// Why [`EventBuilder::build`] refused to make an event: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<BuildProblem>,
}

impl BuildError {
    /// The problems, in the order the builder checks them.
    pub fn problems(&self) -> &[BuildProblem] {
        &self.problems
    }
}

/// One problem found by [`EventBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildProblem {
    /// No category was given.
    MissingCategory,
    /// No action was given.
    MissingAction,
    /// The category or the action is not snake_case.
    InvalidName(InvalidName),
    /// Severity `error` without the error under the metadata key `err`.
    ErrorWithoutErr,
    /// The `doc` metadata entry is not an `http`/`https` URL.
    InvalidDoc {
        /// The entry, as JSON.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The event holds more than its limit ([`MAX_EVENT_BYTES`] unless
    /// [`EventBuilder::max_bytes`] says otherwise).
    TooLarge {
        /// What holds most of it: `description` or `metadata`.
        field: &'static str,
        /// Its size, in the measure of [`MAX_EVENT_BYTES`].
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for BuildProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildProblem::MissingCategory => f.write_str("missing category"),
            BuildProblem::MissingAction => f.write_str("missing action"),
            BuildProblem::InvalidName(e) => fmt::Display::fmt(e, f),
            BuildProblem::ErrorWithoutErr => f.write_str(
                "severity `error` needs the error under the metadata key `err` (use `err(&error)`)",
            ),
            BuildProblem::InvalidDoc { value, reason } => {
                write!(f, "invalid doc link {value}: {reason}")
            }
            BuildProblem::TooLarge { field, size, limit } => write!(
                f,
                "the event holds {size} bytes (most of them in its {field}); an event holds at \
                 most {limit}"
            ),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot build event: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(problem, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}
