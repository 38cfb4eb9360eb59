//! The snake_case rule and its suggestion: the `const` check and the predicate agree, a valid
//! name gets no suggestion, a suggestion is always valid and differs from the name, and the
//! runtime's `Category` applies the same rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_rules::{check, is_snake_case, suggest};

fuzz_target!(|name: &str| {
    let valid = check(name).is_ok();
    assert_eq!(valid, is_snake_case(name), "{name:?}");
    assert_eq!(
        valid,
        tidings_runtime::Category::new(name.to_owned()).is_ok(),
        "{name:?}"
    );
    if let Some(suggestion) = suggest(name) {
        assert!(
            !valid,
            "{name:?} is valid, yet {suggestion:?} was suggested"
        );
        assert!(
            check(&suggestion).is_ok(),
            "{name:?}: the suggestion {suggestion:?} breaks the rule"
        );
        assert_ne!(suggestion, name);
    }
});
