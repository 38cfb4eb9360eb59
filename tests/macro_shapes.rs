//! The pass matrix: every function shape that broke for users of similar attributes compiles
//! under `#[emits_event]`, behaves as it did without it, and emits the right event.

mod common;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;

use common::{PingError, assert_error, assert_success};
use tidings::emits_event;
use tidings::testing::capture;

// ---- early return and `?` with a `From` conversion ----

#[derive(Debug)]
enum AppError {
    Parse(ParseIntError),
    TooBig(u32),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Parse(_) => f.write_str("not a number"),
            AppError::TooBig(n) => write!(f, "{n} is too big"),
        }
    }
}

impl Error for AppError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            AppError::Parse(e) => Some(e),
            AppError::TooBig(_) => None,
        }
    }
}

impl From<ParseIntError> for AppError {
    fn from(e: ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

#[emits_event(category = "pattern", action = "import")]
fn parse_small(text: &str) -> Result<u32, AppError> {
    let n: u32 = text.parse()?;
    if n > 100 {
        return Err(AppError::TooBig(n));
    }
    Ok(n)
}

#[test]
fn early_return_and_question_mark_with_from() {
    let (results, events) = capture(|| [parse_small("7"), parse_small("x"), parse_small("500")]);
    assert_eq!(results[0].as_ref().unwrap(), &7);
    assert!(matches!(results[1], Err(AppError::Parse(_))));
    assert!(matches!(results[2], Err(AppError::TooBig(500))));
    assert_success(&events[0], "pattern", "import");
    assert_error(
        &events[1],
        "pattern",
        "import",
        "not a number",
        &["invalid digit found in string"],
    );
    assert_error(&events[2], "pattern", "import", "500 is too big", &[]);
}

// ---- inference in the tail, coercions ----

#[emits_event(category = "pattern", action = "view")]
fn collected(fail: bool) -> Result<Vec<u8>, PingError> {
    if fail {
        return Err(PingError::refused());
    }
    (1..4).map(Ok).collect()
}

#[emits_event(category = "pattern", action = "view")]
fn converted() -> Result<String, PingError> {
    Ok("converted".into())
}

#[emits_event(category = "pattern", action = "convert")]
fn boxed_error(fail: bool) -> Result<u8, Box<dyn Error + Send + Sync>> {
    if fail {
        return Err(Box::new(PingError::refused()));
    }
    Ok(1)
}

#[emits_event(category = "pattern", action = "convert")]
fn boxed_ok() -> Result<Box<dyn fmt::Debug>, PingError> {
    Ok(Box::new(5_u8))
}

#[emits_event(category = "pattern", action = "deploy")]
fn pinned_future() -> Result<Pin<Box<dyn Future<Output = u8> + Send>>, PingError> {
    Ok(Box::pin(async { 9 }))
}

#[test]
fn tail_inference_and_unsizing_coercions() {
    let (results, events) = capture(|| {
        (
            collected(false),
            collected(true),
            converted(),
            boxed_error(false),
            boxed_error(true),
            boxed_ok(),
            pinned_future(),
        )
    });
    assert_eq!(results.0.unwrap(), [1, 2, 3]);
    assert_eq!(results.2.unwrap(), "converted");
    assert_eq!(results.3.unwrap(), 1);
    assert_eq!(results.4.unwrap_err().to_string(), "could not ping");
    assert_eq!(format!("{:?}", results.5.unwrap()), "5");
    assert_eq!(futures::executor::block_on(results.6.unwrap()), 9);
    assert_eq!(events.len(), 7);
    assert_success(&events[0], "pattern", "view");
    assert_error(
        &events[1],
        "pattern",
        "view",
        "could not ping",
        &["connection refused"],
    );
    assert_success(&events[2], "pattern", "view");
    assert_success(&events[3], "pattern", "convert");
    assert_error(
        &events[4],
        "pattern",
        "convert",
        "could not ping",
        &["connection refused"],
    );
    assert_success(&events[5], "pattern", "convert");
    assert_success(&events[6], "pattern", "deploy");
}

// ---- impl Trait in Ok and in Err ----

#[emits_event(category = "pattern", action = "download")]
fn impl_in_ok(n: u8) -> Result<impl Iterator<Item = u8>, PingError> {
    Ok(0..n)
}

#[emits_event(category = "pattern", action = "download")]
fn impl_in_err(fail: bool) -> Result<u8, impl Error> {
    if fail {
        return Err(PingError::refused());
    }
    Ok(2)
}

#[test]
fn impl_trait_in_ok_and_err() {
    let (results, events) = capture(|| (impl_in_ok(3).map(Iterator::sum::<u8>), impl_in_err(true)));
    assert_eq!(results.0.unwrap(), 3);
    assert_eq!(results.1.unwrap_err().to_string(), "could not ping");
    assert_success(&events[0], "pattern", "download");
    assert_error(
        &events[1],
        "pattern",
        "download",
        "could not ping",
        &["connection refused"],
    );
}

// ---- Result under other names ----

type AppResult<T> = Result<T, AppError>;

#[emits_event(category = "pattern", action = "create")]
fn io_result(fail: bool) -> std::io::Result<u8> {
    if fail {
        return Err(std::io::Error::other("disk full"));
    }
    Ok(1)
}

#[emits_event(category = "pattern", action = "create")]
fn anyhow_result(fail: bool) -> anyhow::Result<u8> {
    if fail {
        let inner = std::io::Error::other("disk full");
        return Err(anyhow::Error::new(inner).context("could not save the design"));
    }
    Ok(1)
}

#[emits_event(category = "pattern", action = "create")]
fn alias_result(fail: bool) -> AppResult<u8> {
    if fail {
        return Err(AppError::TooBig(3));
    }
    Ok(1)
}

#[test]
fn io_anyhow_and_local_alias_results() {
    let (results, events) = capture(|| {
        (
            (io_result(false), io_result(true)),
            (anyhow_result(false), anyhow_result(true)),
            (alias_result(false), alias_result(true)),
        )
    });
    // The results are the functions' own, unchanged by the attribute.
    let ((io_ok, io_err), (anyhow_ok, anyhow_err), (alias_ok, alias_err)) = results;
    assert_eq!(io_ok.unwrap(), 1);
    let io_err = io_err.unwrap_err();
    assert_eq!(
        (io_err.kind(), io_err.to_string()),
        (std::io::ErrorKind::Other, "disk full".to_owned())
    );
    assert_eq!(anyhow_ok.unwrap(), 1);
    let anyhow_err = anyhow_err.unwrap_err();
    assert_eq!(
        format!("{anyhow_err:#}"),
        "could not save the design: disk full"
    );
    assert_eq!(alias_ok.unwrap(), 1);
    assert!(matches!(alias_err, Err(AppError::TooBig(3))));
    assert_eq!(events.len(), 6);
    assert_success(&events[0], "pattern", "create");
    assert_error(&events[1], "pattern", "create", "disk full", &[]);
    assert_success(&events[2], "pattern", "create");
    assert_error(
        &events[3],
        "pattern",
        "create",
        "could not save the design",
        &["disk full"],
    );
    assert_success(&events[4], "pattern", "create");
    assert_error(&events[5], "pattern", "create", "3 is too big", &[]);
}

// ---- receivers, borrows, associated functions ----

#[derive(Debug, Default)]
struct Registry {
    names: Vec<String>,
}

impl Registry {
    #[emits_event(category = "entity", action = "create")]
    fn new(fail: bool) -> Result<Self, PingError> {
        if fail {
            return Err(PingError::refused());
        }
        Ok(Registry::default())
    }

    #[emits_event(category = "entity", action = "update")]
    fn push(&mut self, name: &str) -> Result<&mut String, PingError> {
        self.names.push(name.to_owned());
        Ok(self.names.last_mut().expect("just pushed"))
    }

    #[emits_event(category = "entity", action = "get_summary")]
    fn count(&self) -> Result<usize, PingError> {
        Ok(self.names.len())
    }

    #[emits_event(category = "entity", action = "delete")]
    fn into_names(self) -> Result<Vec<String>, PingError> {
        Ok(self.names)
    }
}

#[emits_event(category = "entity", action = "update")]
fn first_mut(values: &mut [u8]) -> Result<&mut u8, PingError> {
    values.first_mut().ok_or_else(PingError::refused)
}

#[test]
fn receivers_borrows_and_associated_functions() {
    let (names, events) = capture(|| {
        assert!(Registry::new(true).is_err());
        let mut registry = Registry::new(false).unwrap();
        registry.push("a").unwrap().push('!');
        assert_eq!(registry.count().unwrap(), 1);
        let mut values = [1, 2];
        *first_mut(&mut values).unwrap() = 7;
        assert_eq!(values, [7, 2]);
        assert!(first_mut(&mut []).is_err());
        registry.into_names().unwrap()
    });
    assert_eq!(names, ["a!"]);
    let actions: Vec<&str> = events.iter().map(|e| e.action().as_str()).collect();
    assert_eq!(
        actions,
        [
            "create",
            "create",
            "update",
            "get_summary",
            "update",
            "update",
            "delete"
        ]
    );
    assert_error(
        &events[0],
        "entity",
        "create",
        "could not ping",
        &["connection refused"],
    );
    assert_success(&events[1], "entity", "create");
    assert_success(&events[2], "entity", "update");
    assert_error(
        &events[5],
        "entity",
        "update",
        "could not ping",
        &["connection refused"],
    );
}

// ---- generics ----

#[emits_event(category = "pattern", action = "verify")]
fn longest<'a, T, const N: usize>(items: &'a [T; N], min: usize) -> Result<&'a T, AppError>
where
    T: AsRef<str>,
{
    items
        .iter()
        .max_by_key(|s| s.as_ref().len())
        .filter(|s| s.as_ref().len() >= min)
        .ok_or(AppError::TooBig(u32::try_from(min).unwrap_or(u32::MAX)))
}

#[emits_event(category = "pattern", action = "verify")]
fn generic_error<E: Error + 'static>(error: Option<E>) -> Result<u8, E> {
    error.map_or(Ok(1), Err)
}

#[test]
fn generics_lifetimes_bounds_where_and_const_generics() {
    let (results, events) = capture(|| {
        let items = ["ab", "abcd", "a"];
        (
            longest(&items, 2).copied(),
            longest(&items, 9).is_err(),
            generic_error(Some(PingError::refused())).is_err(),
        )
    });
    assert_eq!(results.0.unwrap(), "abcd");
    assert!(results.1 && results.2);
    assert_success(&events[0], "pattern", "verify");
    assert_error(&events[1], "pattern", "verify", "9 is too big", &[]);
    assert_error(
        &events[2],
        "pattern",
        "verify",
        "could not ping",
        &["connection refused"],
    );
}

// ---- qualifiers ----

#[emits_event(category = "relationship", action = "evaluation")]
unsafe fn read_first(ptr: *const u8) -> Result<u8, PingError> {
    // SAFETY: the caller passes a pointer to a live byte.
    Ok(unsafe { *ptr })
}

#[allow(improper_ctypes_definitions)]
#[emits_event(category = "relationship", action = "evaluation")]
extern "C" fn from_c(fail: bool) -> Result<u8, PingError> {
    if fail {
        Err(PingError::refused())
    } else {
        Ok(4)
    }
}

#[test]
fn unsafe_and_extern_functions() {
    let byte = 42_u8;
    let (results, events) = capture(|| {
        // SAFETY: `byte` is alive.
        let first = unsafe { read_first(&byte) };
        (
            first.unwrap(),
            from_c(false).unwrap(),
            from_c(true).is_err(),
        )
    });
    assert_eq!(results, (42, 4, true));
    assert_success(&events[0], "relationship", "evaluation");
    assert_success(&events[1], "relationship", "evaluation");
    assert_error(
        &events[2],
        "relationship",
        "evaluation",
        "could not ping",
        &["connection refused"],
    );
}

// ---- the body: inner attributes, shadowing `use`, cfg-gated parameters ----

#[emits_event(category = "academy", action = "academy_quiz_evaluation")]
fn with_inner_attributes(score: u32) -> Result<u32, AppError> {
    #![allow(clippy::absurd_extreme_comparisons, unused_comparisons)]
    if score < 0 {
        return Err(AppError::TooBig(score));
    }
    Ok(score)
}

#[emits_event(category = "academy", action = "academy_quiz_evaluation")]
fn with_shadowing_use(fail: bool) -> Result<u8, AppError> {
    // Shadows `Result` and `Option` for the body only; the generated code is not affected.
    #[allow(unused_imports)]
    use std::fmt::Result;
    #[allow(dead_code)]
    type Option = u8;
    if fail {
        return Err(AppError::TooBig(1));
    }
    // `Result` here is `std::fmt::Result`: formatting into a `String` cannot fail.
    let mut text = String::new();
    let written: Result = std::fmt::Write::write_str(&mut text, "8");
    written.expect("writing to a String");
    Ok(text.parse().expect("a digit"))
}

/// A regression: the body's items once shadowed the return type that the generated code names.
#[emits_event(category = "academy", action = "academy_quiz_evaluation")]
async fn with_shadowing_use_async(fail: bool) -> Result<u8, AppError> {
    use std::fmt::Result;
    if fail {
        return Err(AppError::TooBig(2));
    }
    let formatted: Result = Ok(());
    formatted.map_err(|_| AppError::TooBig(0))?;
    Ok(9)
}

#[emits_event(category = "academy", action = "academy_quiz_evaluation")]
fn with_cfg_parameter(
    #[cfg(not(test))] never: u8,
    #[cfg(test)] always: u8,
) -> Result<u8, AppError> {
    Ok(always)
}

#[test]
fn inner_attributes_shadowing_use_and_cfg_parameters() {
    let (results, events) = capture(|| {
        (
            with_inner_attributes(3).unwrap(),
            with_shadowing_use(false).unwrap(),
            with_shadowing_use(true).is_err(),
            with_cfg_parameter(5).unwrap(),
            futures::executor::block_on(with_shadowing_use_async(false)).unwrap(),
            matches!(
                futures::executor::block_on(with_shadowing_use_async(true)),
                Err(AppError::TooBig(2))
            ),
        )
    });
    assert_eq!(results, (3, 8, true, 5, 9, true));
    assert_eq!(events.len(), 6);
    assert_success(&events[0], "academy", "academy_quiz_evaluation");
    assert_success(&events[1], "academy", "academy_quiz_evaluation");
    assert_error(
        &events[2],
        "academy",
        "academy_quiz_evaluation",
        "1 is too big",
        &[],
    );
    assert_success(&events[3], "academy", "academy_quiz_evaluation");
    assert_success(&events[4], "academy", "academy_quiz_evaluation");
    assert_error(
        &events[5],
        "academy",
        "academy_quiz_evaluation",
        "2 is too big",
        &[],
    );
}

// ---- a panic inside the body emits nothing and leaves no event in progress behind ----

#[emits_event(category = "pattern", action = "deploy")]
fn panics() -> Result<u8, PingError> {
    tidings::current::meta("leaked", true);
    panic!("boom")
}

#[emits_event(category = "pattern", action = "undeploy")]
fn after_panic() -> Result<u8, PingError> {
    Ok(1)
}

#[test]
fn a_panicking_body_emits_nothing_and_leaks_nothing() {
    let (_, events) = capture(|| {
        assert!(std::panic::catch_unwind(panics).is_err());
        after_panic().unwrap();
    });
    assert_eq!(events.len(), 1);
    assert_success(&events[0], "pattern", "undeploy");
    assert!(events[0].metadata().is_empty());
    assert!(!tidings::current::in_progress());
}

// ---- coercions to the declared return type, async bodies and their sync controls ----
//
// An `async fn`'s body gets its declared return type as the expected type of every `return` and
// of its tail, so `Ok(Box::new(e))` unsizes to `Box<dyn Error>`, `Ok(&[1, 2, 3])` to a slice and
// `Ok(Box::pin(async { .. }))` to a boxed `dyn Future`. Each shape is written once as a free
// `async fn`, a method, a native `async fn` in a trait impl and an `#[async_trait]` method, with
// an `Ok` tail, a `return` and a `?`; the sync forms are the controls.

type DynError = Box<dyn Error + Send + Sync>;
type BoxedFuture = Pin<Box<dyn Future<Output = u8> + Send>>;

fn checked(fail: bool) -> Result<(), PingError> {
    if fail {
        Err(PingError::refused())
    } else {
        Ok(())
    }
}

#[emits_event(category = "coercion", action = "dyn_error")]
async fn async_dyn_error(fail: bool) -> Result<DynError, PingError> {
    checked(fail)?;
    Ok(Box::new(PingError::refused()))
}

#[emits_event(category = "coercion", action = "slice")]
async fn async_slice(fail: bool) -> Result<&'static [u8], PingError> {
    checked(fail)?;
    Ok(&[1, 2, 3])
}

#[emits_event(category = "coercion", action = "dyn_debug")]
async fn async_dyn_debug(number: bool) -> Result<Box<dyn fmt::Debug + Send>, PingError> {
    if number {
        return Ok(Box::new(1_u8));
    }
    Ok(Box::new("s"))
}

#[emits_event(category = "coercion", action = "boxed_future")]
async fn async_boxed_future(fail: bool) -> Result<BoxedFuture, PingError> {
    checked(fail)?;
    Ok(Box::pin(async { 7 }))
}

#[emits_event(category = "coercion", action = "dyn_error")]
fn sync_dyn_error(fail: bool) -> Result<DynError, PingError> {
    checked(fail)?;
    Ok(Box::new(PingError::refused()))
}

#[emits_event(category = "coercion", action = "slice")]
fn sync_slice(fail: bool) -> Result<&'static [u8], PingError> {
    checked(fail)?;
    Ok(&[1, 2, 3])
}

#[emits_event(category = "coercion", action = "dyn_debug")]
fn sync_dyn_debug(number: bool) -> Result<Box<dyn fmt::Debug + Send>, PingError> {
    if number {
        return Ok(Box::new(1_u8));
    }
    Ok(Box::new("s"))
}

#[emits_event(category = "coercion", action = "boxed_future")]
fn sync_boxed_future(fail: bool) -> Result<BoxedFuture, PingError> {
    checked(fail)?;
    Ok(Box::pin(async { 7 }))
}

struct Coercer;

impl Coercer {
    #[emits_event(category = "coercion", action = "slice")]
    async fn slice(&self, fail: bool) -> Result<&'static [u8], PingError> {
        if fail {
            return Err(PingError::refused());
        }
        Ok(&[1, 2, 3])
    }

    #[emits_event(category = "coercion", action = "dyn_debug")]
    async fn dyn_debug(&self, number: bool) -> Result<Box<dyn fmt::Debug + Send>, PingError> {
        if number {
            return Ok(Box::new(1_u8));
        }
        Ok(Box::new("s"))
    }

    #[emits_event(category = "coercion", action = "boxed_future")]
    async fn boxed_future(&self, fail: bool) -> Result<BoxedFuture, PingError> {
        checked(fail)?;
        Ok(Box::pin(async { 7 }))
    }
}

trait NativeCoercions {
    fn dyn_error(&self, fail: bool) -> impl Future<Output = Result<DynError, PingError>> + Send;
    fn dyn_debug(
        &self,
        number: bool,
    ) -> impl Future<Output = Result<Box<dyn fmt::Debug + Send>, PingError>> + Send;
}

impl NativeCoercions for Coercer {
    #[emits_event(category = "coercion", action = "dyn_error")]
    async fn dyn_error(&self, fail: bool) -> Result<DynError, PingError> {
        checked(fail)?;
        Ok(Box::new(PingError::refused()))
    }

    #[emits_event(category = "coercion", action = "dyn_debug")]
    async fn dyn_debug(&self, number: bool) -> Result<Box<dyn fmt::Debug + Send>, PingError> {
        if number {
            return Ok(Box::new(1_u8));
        }
        Ok(Box::new("s"))
    }
}

#[async_trait::async_trait]
trait AsyncTraitCoercions {
    async fn slice(&self, fail: bool) -> Result<&'static [u8], PingError>;
    async fn boxed_future(&self, fail: bool) -> Result<BoxedFuture, PingError>;
}

#[async_trait::async_trait]
impl AsyncTraitCoercions for Coercer {
    #[emits_event(category = "coercion", action = "slice")]
    async fn slice(&self, fail: bool) -> Result<&'static [u8], PingError> {
        checked(fail)?;
        Ok(&[1, 2, 3])
    }

    #[emits_event(category = "coercion", action = "boxed_future")]
    async fn boxed_future(&self, fail: bool) -> Result<BoxedFuture, PingError> {
        if fail {
            return Err(PingError::refused());
        }
        Ok(Box::pin(async { 7 }))
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[test]
fn coercions_to_the_declared_return_type_in_async_and_sync_bodies() {
    use futures::executor::block_on;
    let coercer = Coercer;
    let (outcomes, events) = capture(|| {
        block_on(async {
            let debug = |result: Result<Box<dyn fmt::Debug + Send>, PingError>| {
                format!("{:?}", result.unwrap())
            };
            let slice = |result: Result<&'static [u8], PingError>| result.map(<[u8]>::to_vec);
            let error = |result: Result<DynError, PingError>| result.map(|e| e.to_string());
            let future = |result: Result<BoxedFuture, PingError>| {
                result.map(|f| futures::FutureExt::now_or_never(f).expect("ready"))
            };
            vec![
                // Free functions: async, then the sync control.
                format!("{:?}", error(assert_send(async_dyn_error(false)).await)),
                format!("{:?}", error(async_dyn_error(true).await).is_err()),
                format!("{:?}", slice(assert_send(async_slice(false)).await)),
                format!("{:?}", slice(async_slice(true).await).is_err()),
                debug(assert_send(async_dyn_debug(true)).await),
                debug(async_dyn_debug(false).await),
                format!("{:?}", future(assert_send(async_boxed_future(false)).await)),
                format!("{:?}", future(async_boxed_future(true).await).is_err()),
                format!("{:?}", error(sync_dyn_error(false))),
                format!("{:?}", slice(sync_slice(false))),
                debug(sync_dyn_debug(true)),
                debug(sync_dyn_debug(false)),
                format!("{:?}", future(sync_boxed_future(false))),
                // A method.
                format!("{:?}", slice(assert_send(coercer.slice(false)).await)),
                format!("{:?}", slice(coercer.slice(true).await).is_err()),
                debug(assert_send(coercer.dyn_debug(true)).await),
                format!(
                    "{:?}",
                    future(assert_send(coercer.boxed_future(false)).await)
                ),
                // Native `async fn` in a trait impl.
                format!(
                    "{:?}",
                    error(assert_send(NativeCoercions::dyn_error(&coercer, false)).await)
                ),
                debug(assert_send(NativeCoercions::dyn_debug(&coercer, false)).await),
                // `#[async_trait]`.
                format!(
                    "{:?}",
                    slice(AsyncTraitCoercions::slice(&coercer, false).await)
                ),
                format!(
                    "{:?}",
                    future(AsyncTraitCoercions::boxed_future(&coercer, false).await)
                ),
                format!(
                    "{:?}",
                    future(AsyncTraitCoercions::boxed_future(&coercer, true).await).is_err()
                ),
            ]
        })
    });
    assert_eq!(
        outcomes,
        [
            "Ok(\"could not ping\")",
            "true",
            "Ok([1, 2, 3])",
            "true",
            "1",
            "\"s\"",
            "Ok(7)",
            "true",
            "Ok(\"could not ping\")",
            "Ok([1, 2, 3])",
            "1",
            "\"s\"",
            "Ok(7)",
            "Ok([1, 2, 3])",
            "true",
            "1",
            "Ok(7)",
            "Ok(\"could not ping\")",
            "\"s\"",
            "Ok([1, 2, 3])",
            "Ok(7)",
            "true",
        ]
    );
    let failed = [1, 3, 7, 14, 21];
    assert_eq!(events.len(), outcomes.len());
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.category().as_str(), "coercion");
        if failed.contains(&i) {
            assert_error(
                event,
                "coercion",
                event.action().as_str(),
                "could not ping",
                &["connection refused"],
            );
        } else {
            assert_success(event, "coercion", event.action().as_str());
        }
    }
}
