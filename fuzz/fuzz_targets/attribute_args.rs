//! The arguments of `#[emits_event(...)]`, parsed by the macro crate's own parser (its source
//! files, compiled here): any tokens give arguments or errors at the user's span, never a panic,
//! and a refusal always says why.
#![no_main]
#![allow(dead_code)]

#[path = "../../macros/src/args.rs"]
mod args;
#[path = "../../macros/src/depth.rs"]
mod depth;
#[path = "../../macros/src/errors.rs"]
mod errors;
#[path = "../../macros/src/template.rs"]
mod template;

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let Ok(tokens) = proc_macro2::TokenStream::from_str(source) else {
        return;
    };
    let params = ["user", "connection_id", "name", "self"].map(String::from);
    let mut errors = errors::Errors::default();
    let parsed = args::parse(tokens, &params, &mut errors);
    if parsed.is_none() {
        assert!(
            errors.into_result().is_err(),
            "{source:?} was refused with no error to show"
        );
    }
});
