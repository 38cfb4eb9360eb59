//! Functions of every shape, each with a one-expression body and with a multi-statement body,
//! compiled by `tests/lint_diff.rs` once as they are and once with `--features annotated`, which
//! puts `#[emits_event]` on every one of them. The two builds must report the same diagnostics.
//!
//! The bodies are kept as written (`#[rustfmt::skip]`): rustc's `unused_braces` only looks at
//! blocks written on one line, and `cargo fmt` would spread them over several.

#[rustfmt::skip]
pub mod shapes {
    use std::fmt;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::sync::Arc;

    /// The error every function returns.
    #[derive(Debug)]
    pub struct Failure;

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("failure") }
    }

    impl std::error::Error for Failure {}

    /// Sync, one expression.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "sync_one"))]
    pub fn sync_one() -> Result<u8, Failure> { Ok(1) }

    /// Sync, several statements, early `return` and `?`.
    ///
    /// # Errors
    /// When `n` is too large.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "sync_many"))]
    pub fn sync_many(n: u8) -> Result<u8, Failure> {
        let doubled = n.checked_mul(2).ok_or(Failure)?;
        if doubled > 100 {
            return Err(Failure);
        }
        tidings::current::meta("doubled", doubled);
        Ok(doubled)
    }

    /// Sync, a parameter in an id and a description.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "ids", acted_upon = id, description = "checked {id}"))]
    pub fn sync_ids(id: tidings::Uuid) -> Result<tidings::Uuid, Failure> { Ok(id) }

    /// Sync, with every key of the grammar: severities, a filter, metadata and panics.
    ///
    /// # Errors
    /// When `n` is zero.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "grammar", success = "informational", error = "critical", emit_on = "err", metadata("Number" = n, label), panic = "alert"))]
    pub fn sync_grammar(n: u8, label: &str) -> Result<u8, Failure> {
        if n == 0 {
            return Err(Failure);
        }
        tidings::current::set_severity(tidings::Severity::Warning);
        Ok(n.saturating_add(u8::try_from(label.len()).unwrap_or(0)))
    }

    /// Async, with metadata and a panic level.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_grammar", emit_on = "ok", metadata(n), panic = "critical"))]
    pub async fn async_grammar(n: u8) -> Result<u8, Failure> { Ok(async { n }.await) }

    /// Async, one expression.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_one"))]
    pub async fn async_one() -> Result<u8, Failure> { Ok(1) }

    /// Async, several statements.
    ///
    /// # Errors
    /// When `n` is zero.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_many"))]
    pub async fn async_many(n: u8) -> Result<u8, Failure> {
        let ready = async { n }.await;
        if ready == 0 {
            return Err(Failure);
        }
        Ok(ready)
    }

    /// `?` in a one-expression body.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "question"))]
    pub fn question(text: &str) -> Result<u8, std::num::ParseIntError> { Ok(text.parse::<u8>()?.saturating_add(1)) }

    /// Generics, a `where` clause and a const generic.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "generic_one"))]
    pub fn generic_one<T, const N: usize>(items: [T; N]) -> Result<String, Failure> where T: fmt::Display { items.first().map(ToString::to_string).ok_or(Failure) }

    /// Generics, several statements.
    ///
    /// # Errors
    /// When `items` is empty.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "generic_many"))]
    pub fn generic_many<T>(items: &[T]) -> Result<&T, Failure>
    where
        T: fmt::Debug,
    {
        let first = items.first();
        let first = first.ok_or(Failure)?;
        Ok(first)
    }

    /// Lifetimes, one expression.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "lifetime_one"))]
    pub fn lifetime_one<'a>(text: &'a str, _other: &str) -> Result<&'a str, Failure> { text.split(',').next().ok_or(Failure) }

    /// Lifetimes, several statements.
    ///
    /// # Errors
    /// When `text` is empty.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "lifetime_many"))]
    pub fn lifetime_many<'a, 'b: 'a>(text: &'b str) -> Result<&'a str, Failure> {
        if text.is_empty() {
            return Err(Failure);
        }
        let trimmed = text.trim();
        Ok(trimmed)
    }

    /// `impl Trait` in the return type and in an argument.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "impl_one"))]
    pub fn impl_one(n: impl Into<u8>) -> Result<impl Iterator<Item = u8>, Failure> { Ok(0..n.into()) }

    /// `impl Trait` in `Err`, several statements.
    ///
    /// # Errors
    /// When `fail` is set.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "impl_many"))]
    pub fn impl_many(fail: bool) -> Result<u8, impl std::error::Error> {
        if fail {
            return Err(Failure);
        }
        let value = 2;
        Ok(value)
    }

    /// An `unsafe fn`, one expression.
    ///
    /// # Safety
    /// `ptr` points to a live byte.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "unsafe_one"))]
    pub unsafe fn unsafe_one(ptr: *const u8) -> Result<u8, Failure> { Ok(unsafe { *ptr }) }

    /// An `unsafe fn`, several statements.
    ///
    /// # Safety
    /// `ptr` points to a live byte.
    ///
    /// # Errors
    /// When the byte is zero.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "unsafe_many"))]
    pub unsafe fn unsafe_many(ptr: *const u8) -> Result<u8, Failure> {
        // SAFETY: the caller promises a live byte.
        let byte = unsafe { *ptr };
        if byte == 0 {
            return Err(Failure);
        }
        Ok(byte)
    }

    /// An `extern "C" fn`, one expression.
    #[allow(improper_ctypes_definitions)]
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "extern_one"))]
    pub extern "C" fn extern_one(n: u8) -> Result<u8, Failure> { Ok(n) }

    /// An `extern "C" fn`, several statements.
    ///
    /// # Errors
    /// When `n` is zero.
    #[allow(improper_ctypes_definitions)]
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "extern_many"))]
    pub extern "C" fn extern_many(n: u8) -> Result<u8, Failure> {
        if n == 0 {
            return Err(Failure);
        }
        Ok(n)
    }

    /// Inner attributes, one expression.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "inner_one"))]
    pub fn inner_one(n: u32) -> Result<u32, Failure> { #![allow(clippy::absurd_extreme_comparisons)] Ok(n) }

    /// Inner attributes, several statements.
    ///
    /// # Errors
    /// Never.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "inner_many"))]
    pub fn inner_many(n: u32) -> Result<u32, Failure> {
        #![allow(unused_comparisons, clippy::absurd_extreme_comparisons)]
        if n < 0 {
            return Err(Failure);
        }
        Ok(n)
    }

    /// A `#[cfg]` parameter, one expression.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "cfg_one"))]
    pub fn cfg_one(#[cfg(any())] never: u8, #[cfg(not(any()))] always: u8) -> Result<u8, Failure> { Ok(always) }

    /// A `#[cfg]` parameter, several statements.
    ///
    /// # Errors
    /// When `always` is zero.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "cfg_many"))]
    pub fn cfg_many(#[cfg(any())] never: u8, #[cfg(not(any()))] always: u8) -> Result<u8, Failure> {
        if always == 0 {
            return Err(Failure);
        }
        Ok(always)
    }

    /// A diagnostic of the user's own (`unused_results`, denied by the test), which must still
    /// fire with the attribute.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "own_warning"))]
    pub fn own_warning(names: &mut Vec<u8>) -> Result<usize, Failure> { names.pop(); Ok(names.len()) }

    /// A service with methods of every receiver.
    #[derive(Debug, Default)]
    pub struct Service {
        /// Names seen.
        pub names: Vec<String>,
    }

    impl Service {
        /// An associated function returning `Self`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "new_one"))]
        pub fn new_one() -> Result<Self, Failure> { Ok(Self::default()) }

        /// An associated function returning `Self`, several statements.
        ///
        /// # Errors
        /// When `name` is empty.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "new_many"))]
        pub fn new_many(name: &str) -> Result<Self, Failure> {
            if name.is_empty() {
                return Err(Failure);
            }
            let names = vec![name.to_owned()];
            Ok(Self { names })
        }

        /// `&self`, one expression.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_ref_one"))]
        pub fn by_ref_one(&self) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// `&self`, one expression that is not `Ok(..)`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "lookup"))]
        pub fn lookup(&self, index: usize) -> Result<&String, Failure> { self.names.get(index).ok_or(Failure) }

        /// `&self`, several statements.
        ///
        /// # Errors
        /// When there are no names.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_ref_many"))]
        pub fn by_ref_many(&self) -> Result<usize, Failure> {
            let count = self.names.len();
            if count == 0 {
                return Err(Failure);
            }
            Ok(count)
        }

        /// `&mut self`, one expression.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_mut_one"))]
        pub fn by_mut_one(&mut self) -> Result<&mut Vec<String>, Failure> { Ok(&mut self.names) }

        /// `&mut self`, several statements.
        ///
        /// # Errors
        /// Never.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_mut_many"))]
        pub fn by_mut_many(&mut self, name: &str) -> Result<&mut String, Failure> {
            self.names.push(name.to_owned());
            let last = self.names.last_mut().ok_or(Failure)?;
            Ok(last)
        }

        /// `self`, one expression.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_value_one"))]
        pub fn by_value_one(self) -> Result<Vec<String>, Failure> { Ok(self.names) }

        /// `mut self`, several statements.
        ///
        /// # Errors
        /// Never.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "by_value_many"))]
        pub fn by_value_many(mut self) -> Result<Vec<String>, Failure> {
            self.names.sort();
            let names = self.names;
            Ok(names)
        }

        /// `Box<Self>`.
        #[allow(clippy::boxed_local)]
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "boxed"))]
        pub fn boxed(self: Box<Self>) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// `Rc<Self>`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "counted"))]
        pub fn counted(self: Rc<Self>) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// `Arc<Self>`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "shared"))]
        pub fn shared(self: Arc<Self>) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// `Pin<&mut Self>`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "pinned"))]
        pub fn pinned(self: Pin<&mut Self>) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// An async method, one expression.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_method_one"))]
        pub async fn async_method_one(&self) -> Result<usize, Failure> { Ok(self.names.len()) }

        /// An async method, several statements.
        ///
        /// # Errors
        /// When there are no names.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_method_many"))]
        pub async fn async_method_many(&self, user: tidings::Uuid) -> Result<usize, Failure> {
            let count = async { self.names.len() }.await;
            if count == 0 {
                return Err(Failure);
            }
            tidings::current::meta("user", user.to_string());
            Ok(count)
        }
    }

    /// A trait with native `async fn`.
    pub trait Ping {
        /// Pings, one expression in the impl.
        fn ping_one(&self) -> impl Future<Output = Result<u8, Failure>> + Send;
        /// Pings, several statements in the impl.
        fn ping_many(&self, n: u8) -> impl Future<Output = Result<u8, Failure>> + Send;
    }

    impl Ping for Service {
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "trait_one"))]
        async fn ping_one(&self) -> Result<u8, Failure> { Ok(1) }

        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "trait_many"))]
        async fn ping_many(&self, n: u8) -> Result<u8, Failure> {
            if n == 0 {
                return Err(Failure);
            }
            let answer = async { n }.await;
            Ok(answer)
        }
    }

    /// A trait implemented with `#[async_trait]`.
    #[async_trait::async_trait]
    pub trait Deploy {
        /// Deploys, one expression in the impl.
        async fn deploy_one(&self) -> Result<u8, Failure>;
        /// Deploys, several statements in the impl.
        async fn deploy_many(&self, n: u8) -> Result<u8, Failure>;
    }

    #[async_trait::async_trait]
    impl Deploy for Service {
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_trait_one", error = "alert", panic = "critical"))]
        async fn deploy_one(&self) -> Result<u8, Failure> { Ok(1) }

        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_trait_many"))]
        async fn deploy_many(&self, n: u8) -> Result<u8, Failure> {
            if n == 0 {
                return Err(Failure);
            }
            let answer = async { n }.await;
            Ok(answer)
        }
    }
}

/// Coercions to the declared return type: an `Ok` tail, a `return` and a `?` whose values unsize
/// (`Box<T>` to `Box<dyn Error>`, `&[u8; 3]` to `&[u8]`, a boxed async block to a boxed `dyn
/// Future`), in async and sync bodies, as free functions, methods, native `async fn` in a trait
/// impl and `#[async_trait]` methods. They compile without the attribute, so they must with it.
#[rustfmt::skip]
pub mod coercions {
    use std::error::Error;
    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;

    use crate::shapes::Failure;

    /// A boxed error.
    pub type DynError = Box<dyn Error + Send + Sync>;
    /// A boxed future.
    pub type BoxedFuture = Pin<Box<dyn Future<Output = u8> + Send>>;

    /// Async, one expression: `Box<Failure>` to `Box<dyn Error>`.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "dyn_error_one"))]
    pub async fn dyn_error_one() -> Result<DynError, Failure> { Ok(Box::new(Failure)) }

    /// Async, `?` then a slice.
    ///
    /// # Errors
    /// When `fail`.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "slice_many"))]
    pub async fn slice_many(fail: bool) -> Result<&'static [u8], Failure> {
        if fail { Err(Failure)?; }
        Ok(&[1, 2, 3])
    }

    /// Async, a `return` and a tail of two types, each to `Box<dyn Debug>`.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "dyn_debug_many"))]
    pub async fn dyn_debug_many(number: bool) -> Result<Box<dyn fmt::Debug + Send>, Failure> {
        if number {
            return Ok(Box::new(1_u8));
        }
        Ok(Box::new("s"))
    }

    /// Async, a boxed future.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "boxed_future_one"))]
    pub async fn boxed_future_one() -> Result<BoxedFuture, Failure> { Ok(Box::pin(async { 7 })) }

    /// Async, an item first in the body that shadows the name the return type uses.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "item_first"))]
    pub async fn item_first() -> Result<DynError, Failure> {
        use std::fmt::Result;
        let written: Result = Ok(());
        Ok(Box::new(written.err().unwrap_or(fmt::Error)))
    }

    /// Sync, the same coercions.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "sync_coercions"))]
    pub fn sync_coercions(number: bool) -> Result<Box<dyn fmt::Debug + Send>, Failure> {
        if number {
            return Ok(Box::new(1_u8));
        }
        Ok(Box::new("s"))
    }

    /// Methods.
    #[derive(Debug, Default)]
    pub struct Coercer;

    impl Coercer {
        /// A method, `Box<Failure>` to `Box<dyn Error>`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "method_one"))]
        pub async fn method_one(&self) -> Result<DynError, Failure> { Ok(Box::new(Failure)) }

        /// A method, a slice after a `return`.
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "method_many"))]
        pub async fn method_many(&self, empty: bool) -> Result<&'static [u8], Failure> {
            if empty {
                return Ok(&[]);
            }
            Ok(&[1, 2, 3])
        }
    }

    /// A trait with native `async fn`.
    pub trait Coerce {
        /// A boxed future.
        fn boxed(&self) -> impl Future<Output = Result<BoxedFuture, Failure>> + Send;
        /// A boxed error.
        fn error(&self, fail: bool) -> impl Future<Output = Result<DynError, Failure>> + Send;
    }

    impl Coerce for Coercer {
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "native_one"))]
        async fn boxed(&self) -> Result<BoxedFuture, Failure> { Ok(Box::pin(async { 7 })) }

        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "native_many"))]
        async fn error(&self, fail: bool) -> Result<DynError, Failure> {
            if fail { Err(Failure)?; }
            Ok(Box::new(Failure))
        }
    }

    /// A trait implemented with `#[async_trait]`.
    #[async_trait::async_trait]
    pub trait CoerceBoxed {
        /// A slice.
        async fn slice(&self) -> Result<&'static [u8], Failure>;
        /// A boxed error after a `return`.
        async fn error(&self, fail: bool) -> Result<DynError, Failure>;
    }

    #[async_trait::async_trait]
    impl CoerceBoxed for Coercer {
        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_trait_slice"))]
        async fn slice(&self) -> Result<&'static [u8], Failure> { Ok(&[1, 2, 3]) }

        #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "async_trait_error"))]
        async fn error(&self, fail: bool) -> Result<DynError, Failure> {
            if fail {
                return Err(Failure);
            }
            Ok(Box::new(Failure))
        }
    }
}

/// Shapes that do not type-check without the attribute (`--cfg tidings_type_errors`): with it
/// they must fail with the same errors, at the same places.
#[cfg(tidings_type_errors)]
#[rustfmt::skip]
pub mod type_errors {
    use std::error::Error;
    use std::fmt;

    use crate::shapes::Failure;

    /// Not an error: cannot become a `Box<dyn Error>`.
    #[derive(Debug)]
    pub struct NotAnError;

    /// No `From<Failure>` for `fmt::Error`: the `?` fails.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "no_from"))]
    pub async fn no_from(fail: bool) -> Result<u8, fmt::Error> {
        if fail { Err(Failure)?; }
        Ok(1)
    }

    /// A value that does not unsize to the declared trait object.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "not_unsized"))]
    pub async fn not_unsized() -> Result<Box<dyn Error + Send + Sync>, Failure> { Ok(Box::new(NotAnError)) }

    /// A `return` of the wrong `Ok` type.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "wrong_return"))]
    pub async fn wrong_return(early: bool) -> Result<u8, Failure> {
        if early {
            return Ok("one");
        }
        Ok(1)
    }

    /// A tail of the wrong `Ok` type, sync.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "wrong_tail"))]
    pub fn wrong_tail() -> Result<u8, Failure> { Ok(1_u16) }

    /// A tail of the wrong `Ok` type, async.
    #[cfg_attr(feature = "annotated", tidings::emits_event(category = "lint", action = "wrong_tail_async"))]
    pub async fn wrong_tail_async() -> Result<&'static str, Failure> { Ok(String::new()) }
}
