//! The snake_case rule on categories and actions.

use proptest::prelude::*;
use tidings::{Action, Category};

const GOOD: &[&str] = &[
    "signup_request",
    "github_artifacts",
    "remove_from_organization",
    "add_to_organization",
    "ping",
    "get_summary",
    "academy_quiz_evaluation",
    "v2",
];
const BAD: &[&str] = &[
    "Connection",
    "signup-request",
    "signup request",
    "_x",
    "x_",
    "x__y",
    "1abc",
    "",
    "ping!",
    "naïve",
];

#[test]
fn good_names_pass() {
    for name in GOOD {
        assert!(Category::new(*name).is_ok(), "{name}");
        assert!(Action::new(*name).is_ok(), "{name}");
    }
}

#[test]
fn bad_names_fail_with_the_value_and_the_rule() {
    for name in BAD {
        let err = Category::new(*name).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("{name:?}")), "{msg}");
        assert!(msg.contains("snake_case"), "{msg}");
        assert!(Action::new(*name).is_err(), "{name}");
    }
}

#[test]
fn length_is_bounded() {
    let longest = "a".repeat(tidings::MAX_NAME_LEN);
    assert!(Category::new(longest.clone()).is_ok());
    let err = Category::new(format!("{longest}a")).unwrap_err();
    assert!(err.to_string().contains("65 bytes long"), "{err}");
}

#[test]
fn suggestions() {
    for (input, want) in [
        ("SignupRequest", Some("signup_request")),
        ("signup-request", Some("signup_request")),
        ("signup request", Some("signup_request")),
        ("Connection", Some("connection")),
        ("x__y", Some("x_y")),
        ("1abc", None),
        ("", None),
    ] {
        let err = Action::new(input).unwrap_err();
        assert_eq!(err.suggestion(), want, "{input:?}");
        if let Some(want) = want {
            assert!(
                err.to_string()
                    .ends_with(&format!("did you mean {want:?}?"))
            );
            assert!(Action::new(want).is_ok());
        }
    }
}

#[test]
fn const_constructor_accepts_literals() {
    const PING: Action = Action::new_const("ping");
    const CONNECTION: Category = Category::new_const("connection");
    assert_eq!(PING, "ping");
    assert_eq!(CONNECTION.as_str(), "connection");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn validator_accepts_exactly_what_the_regex_accepts(name in "[a-z0-9_A-Z -]{0,12}") {
        let regex = regex::Regex::new("^[a-z][a-z0-9]*(_[a-z0-9]+)*$").unwrap();
        prop_assert_eq!(Category::new(name.clone()).is_ok(), regex.is_match(&name));
    }

    #[test]
    fn validator_agrees_on_near_miss_names(name in "[a-z_][a-z0-9_]{0,10}") {
        let regex = regex::Regex::new("^[a-z][a-z0-9]*(_[a-z0-9]+)*$").unwrap();
        prop_assert_eq!(Action::new(name.clone()).is_ok(), regex.is_match(&name));
    }

    #[test]
    fn every_suggestion_is_valid(name in "\\PC{0,16}") {
        if let Err(err) = Category::new(name.clone())
            && let Some(s) = err.suggestion()
        {
            prop_assert!(Category::new(s.to_owned()).is_ok());
        }
    }
}
