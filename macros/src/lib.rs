//! The `#[emits_event]` attribute of [tidings](https://docs.rs/tidings). Use it through the
//! `tidings` crate, which documents it; this crate is an implementation detail.
//!
//! The stages: `args` parses the attribute into typed, checked arguments (one function per key),
//! `function` splits the annotated item into its signature and body without parsing the body and
//! checks that it can be wrapped, `template` checks description placeholders, and `expand` writes
//! the wrapper, or on any mistake the original function followed by every error (`errors`).
//! `depth` refuses input nested deeper than the parser can recurse.

#![forbid(unsafe_code)]

mod args;
mod depth;
mod errors;
mod expand;
mod function;
mod template;

#[cfg(test)]
mod readme;

use proc_macro::TokenStream;

/// Emits a `success` event when the function returns `Ok` and an `error` event when it returns
/// `Err`. See the `tidings` crate for the arguments and examples.
#[proc_macro_attribute]
pub fn emits_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::emits_event(args.into(), item.into()).into()
}
