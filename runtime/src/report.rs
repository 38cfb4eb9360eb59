//! Errors as events carry them: under the metadata key `err`, a structured report, never `{}`.

use std::error::Error;
use std::fmt::{Debug, Display};
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::severity::Severity;

/// What an error event carries under the metadata key `err`.
///
/// It holds the error's message and the messages of its chain of causes (`source()`), and the
/// MeshKit fields an error type adds by implementing [`ErrorDetails`]. As JSON:
///
/// ```json
/// {"message": "could not reach the cluster", "causes": ["connection refused"],
///  "code": "meshery-server-1234", "probableCauses": ["..."], "suggestedRemediations": ["..."]}
/// ```
///
/// `causes` is always present (possibly empty); the other added fields are present when set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    /// The error's own message (`Display`).
    pub message: String,
    /// The messages of the chain of causes, outermost first.
    #[serde(default)]
    pub causes: Vec<String>,
    /// A stable error code, such as MeshKit's `meshery-server-1033`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A longer explanation for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_description: Option<String>,
    /// What probably caused the error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probable_causes: Vec<String>,
    /// What the user can do about it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested_remediations: Vec<String>,
    /// The severity the error asks for ([`ErrorDetails::severity`]); not serialized: it becomes
    /// the event's severity.
    #[serde(skip)]
    pub severity: Option<Severity>,
}

impl ErrorReport {
    /// A report with only a message.
    pub fn from_message(message: impl Into<String>) -> Self {
        ErrorReport {
            message: message.into(),
            causes: Vec::new(),
            code: None,
            long_description: None,
            probable_causes: Vec::new(),
            suggested_remediations: Vec::new(),
            severity: None,
        }
    }

    /// The message of `error` and of its chain of causes.
    pub fn from_error(error: &(dyn Error + 'static)) -> Self {
        let mut report = ErrorReport::from_message(error.to_string());
        let mut next = error.source();
        while let Some(cause) = next {
            report.causes.push(cause.to_string());
            next = cause.source();
        }
        report
    }

    /// Like [`from_error`](Self::from_error), plus the code, description, probable causes and
    /// remediations of an error type that implements [`ErrorDetails`].
    pub fn from_details<E: ErrorDetails + ?Sized>(error: &E) -> Self {
        let mut report = ErrorReport::from_message(error.to_string());
        let mut next = error.source();
        while let Some(cause) = next {
            report.causes.push(cause.to_string());
            next = cause.source();
        }
        report.code = error.code().map(str::to_owned);
        report.long_description = error.long_description();
        report.probable_causes = error.probable_causes();
        report.suggested_remediations = error.suggested_remediations();
        report.severity = error.severity();
        report
    }

    /// A report for a type that is only `Display + Debug` (it has no chain of causes to walk).
    pub fn from_display<E: Display + ?Sized>(error: &E) -> Self {
        ErrorReport::from_message(error.to_string())
    }
}

/// MeshKit's error fields, for error types that want them in their events.
///
/// Implement it next to `std::error::Error`; every method has a default. `#[emits_event]`
/// picks it up on its own; with the builder, use
/// [`EventBuilder::err_details`](crate::EventBuilder::err_details).
///
/// ```
/// use tidings_runtime::{ErrorDetails, ErrorReport};
///
/// #[derive(Debug)]
/// struct PingError;
/// impl std::fmt::Display for PingError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("could not ping the cluster")
///     }
/// }
/// impl std::error::Error for PingError {}
/// impl ErrorDetails for PingError {
///     fn code(&self) -> Option<&str> {
///         Some("tidings-example-1001")
///     }
///     fn suggested_remediations(&self) -> Vec<String> {
///         vec!["Check that the cluster's API server is reachable".into()]
///     }
/// }
///
/// let report = ErrorReport::from_details(&PingError);
/// assert_eq!(report.code.as_deref(), Some("tidings-example-1001"));
/// ```
pub trait ErrorDetails: Error {
    /// A stable code for the error.
    fn code(&self) -> Option<&str> {
        None
    }
    /// A longer explanation for people.
    fn long_description(&self) -> Option<String> {
        None
    }
    /// What probably caused it.
    fn probable_causes(&self) -> Vec<String> {
        Vec::new()
    }
    /// What the user can do about it.
    fn suggested_remediations(&self) -> Vec<String> {
        Vec::new()
    }
    /// The severity of an event about this error value, when it is not the attribute's
    /// (`error = "..."`, `error` by default): `warning` for a failure that is retried,
    /// `critical` for a lost cluster. The default, `None`, keeps the attribute's level.
    /// `current::set_severity` in the body wins over it.
    fn severity(&self) -> Option<Severity> {
        None
    }
}

/// Keeps the report traits closed: only the impls here exist.
mod sealed {
    pub trait Sealed<M> {}
    pub trait SealedDyn {}
}

/// The three `dyn Error` trait objects, so that smart pointers to them can be reported. Sealed;
/// a detail of [`EventBuilder::err`](crate::EventBuilder::err).
#[doc(hidden)]
pub trait AsDynError: sealed::SealedDyn {
    /// The trait object.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);
}

impl sealed::SealedDyn for dyn Error + 'static {}
impl sealed::SealedDyn for dyn Error + Send + 'static {}
impl sealed::SealedDyn for dyn Error + Send + Sync + 'static {}

impl AsDynError for dyn Error + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl AsDynError for dyn Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

/// Values [`EventBuilder::err`](crate::EventBuilder::err) accepts. `M` is a marker that the
/// compiler infers; you never name it. Sealed.
///
/// Implemented for every `std::error::Error` type, for `dyn Error` (with or without `Send` and
/// `Sync`), for anything that dereferences to one (`Box<dyn Error + Send + Sync>`,
/// `anyhow::Error`, `eyre::Report`, `Arc<dyn Error>`), and for [`ErrorReport`] itself.
#[doc(hidden)]
pub trait ToErrorReport<M>: sealed::Sealed<M> {
    /// The report of `self`.
    fn to_error_report(&self) -> ErrorReport;
}

/// Markers that keep the [`ToErrorReport`] impls apart.
#[doc(hidden)]
pub mod marker {
    /// A sized `std::error::Error` type.
    #[derive(Debug)]
    pub struct StdError;
    /// A `dyn Error` trait object.
    #[derive(Debug)]
    pub struct DynError;
    /// A pointer to a `dyn Error` trait object (`Box`, `Arc`, `anyhow::Error`).
    #[derive(Debug)]
    pub struct DerefDynError;
    /// An [`ErrorReport`](super::ErrorReport).
    #[derive(Debug)]
    pub struct Report;
}

impl<E: Error + 'static> sealed::Sealed<marker::StdError> for E {}
impl<E: AsDynError + ?Sized> sealed::Sealed<marker::DynError> for E {}
impl<P> sealed::Sealed<marker::DerefDynError> for P
where
    P: Deref,
    P::Target: AsDynError,
{
}
impl sealed::Sealed<marker::Report> for ErrorReport {}

impl<E: Error + 'static> ToErrorReport<marker::StdError> for E {
    fn to_error_report(&self) -> ErrorReport {
        ErrorReport::from_error(self)
    }
}

impl<E: AsDynError + ?Sized> ToErrorReport<marker::DynError> for E {
    fn to_error_report(&self) -> ErrorReport {
        ErrorReport::from_error(self.as_dyn_error())
    }
}

impl<P> ToErrorReport<marker::DerefDynError> for P
where
    P: Deref,
    P::Target: AsDynError,
{
    fn to_error_report(&self) -> ErrorReport {
        ErrorReport::from_error(self.deref().as_dyn_error())
    }
}

impl ToErrorReport<marker::Report> for ErrorReport {
    fn to_error_report(&self) -> ErrorReport {
        self.clone()
    }
}

/// Autoref specialization for generated code: picks the richest report a type allows.
///
/// Call as `(&&&&&&Reporter(&error)).tidings_report()` (one `&` more than the richest
/// level, as each method takes `&self`) with the six `Report*` traits in scope:
/// an [`ErrorDetails`] type gives details and chain, a `std::error::Error` its chain, a pointer
/// to `dyn Error` (`anyhow::Error`) its chain, a `Display` type its message, a `Debug` type its
/// `Debug` text, and any other type its type's name: every error type can be reported.
#[doc(hidden)]
pub mod specialize {
    use super::{AsDynError, Debug, Deref, Display, Error, ErrorDetails, ErrorReport};

    pub struct Reporter<'a, T: ?Sized>(pub &'a T);

    pub trait ReportDetails {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T: ErrorDetails + ?Sized> ReportDetails for &&&&&Reporter<'_, T> {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_details(self.0)
        }
    }

    pub trait ReportError {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T: Error + 'static> ReportError for &&&&Reporter<'_, T> {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_error(self.0)
        }
    }

    pub trait ReportDerefError {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T> ReportDerefError for &&&Reporter<'_, T>
    where
        T: Deref + ?Sized,
        T::Target: AsDynError,
    {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_error(self.0.deref().as_dyn_error())
        }
    }

    pub trait ReportDisplay {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T: Display + ?Sized> ReportDisplay for &&Reporter<'_, T> {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_display(self.0)
        }
    }

    pub trait ReportDebug {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T: Debug + ?Sized> ReportDebug for &Reporter<'_, T> {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_message(format!("{:?}", self.0))
        }
    }

    pub trait ReportAny {
        fn tidings_report(&self) -> ErrorReport;
    }
    impl<T: ?Sized> ReportAny for Reporter<'_, T> {
        fn tidings_report(&self) -> ErrorReport {
            ErrorReport::from_message(format!("an error of type `{}`", std::any::type_name::<T>()))
        }
    }
}

/// The richest [`ErrorReport`] of any error value, chosen at compile time.
///
/// Works on [`ErrorDetails`] types (details and chain), `std::error::Error` types (chain),
/// pointers to `dyn Error` such as `anyhow::Error` or `Box<dyn Error + Send + Sync>` (chain),
/// anything else that is `Display` (message) or `Debug` (its `Debug` text), and any other type
/// (its type's name). The value is borrowed.
///
/// ```
/// let err = std::io::Error::other("disk full");
/// let report = tidings_runtime::error_report!(err);
/// assert_eq!(report.message, "disk full");
///
/// #[derive(Debug)]
/// struct Refused { port: u16 }
/// assert_eq!(tidings_runtime::error_report!(Refused { port: 6443 }).message, "Refused { port: 6443 }");
/// ```
#[macro_export]
macro_rules! error_report {
    ($error:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::specialize::{
            ReportAny as _, ReportDebug as _, ReportDerefError as _, ReportDetails as _,
            ReportDisplay as _, ReportError as _,
        };
        (&&&&&&$crate::__private::specialize::Reporter(&$error)).tidings_report()
    }};
}
