//! The attribute adds no diagnostic to any function: `tests/lint-diff` is one crate of functions
//! of every shape, compiled twice, as written and with `#[emits_event]` on every function
//! (`--features annotated`), under the lint levels teams use. Both builds must report the same
//! diagnostics, compared in cargo's JSON form. The rustc half runs under `cargo test`; the clippy
//! half needs `--features lint-diff-clippy` (`.ci/run` turns it on).
//!
//! The same fixture is the differential type check: every shape compiles with the attribute
//! exactly when it compiles without it (both builds must succeed, coercions to the declared
//! return type included), and the shapes that do not type-check (`--cfg tidings_type_errors`) fail
//! with the same errors at the same places.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// rustc's allow-by-default lints that teams commonly deny, on top of its warn-by-default ones.
const RUSTC_LINTS: &[&str] = &[
    "warnings",
    "unused_qualifications",
    "unreachable_pub",
    "missing_docs",
    "unused_results",
    "elided_lifetimes_in_paths",
    "let_underscore_drop",
    "single_use_lifetimes",
    "unsafe_op_in_unsafe_fn",
    "trivial_casts",
];

/// clippy's groups and restriction lints that teams commonly deny.
#[cfg(feature = "lint-diff-clippy")]
const CLIPPY_LINTS: &[&str] = &[
    "clippy::pedantic",
    "clippy::nursery",
    "clippy::implicit_return",
    "clippy::unwrap_used",
    "clippy::expect_used",
    "clippy::panic",
    "clippy::shadow_unrelated",
    "clippy::let_underscore_must_use",
];

/// Lints that fire on a plain function but cannot see through the attribute's wrapper. The
/// attribute may hide these (README, "Lints"); it may never add a diagnostic.
#[cfg(feature = "lint-diff-clippy")]
const HIDDEN_BY_THE_WRAPPER: &[&str] = &[
    // The wrapper calls the runtime, so the function can no longer be `const`.
    "clippy::missing_const_for_fn",
    // The `.await` of the wrapper counts as an await.
    "clippy::unused_async",
    // The body runs in a `move` closure, which consumes the parameters it uses.
    "clippy::needless_pass_by_value",
];

/// One diagnostic: level, lint, message and primary span (`file:line:column-line:column`).
type Diagnostic = (String, String, String, String);

/// Runs `cargo <subcommand>` on the fixture, with or without the attribute, and collects the
/// fixture's own diagnostics with how often each was reported.
fn diagnostics(
    subcommand: &[&str],
    annotated: bool,
    catalog: bool,
    lints: &[&str],
) -> BTreeMap<Diagnostic, usize> {
    let (found, success) = build(subcommand, annotated, catalog, lints);
    assert!(
        success,
        "{subcommand:?} on the fixture (annotated: {annotated}) failed:\n{found:#?}"
    );
    found
}

/// Runs `cargo <subcommand>` on the fixture, and collects the fixture's own diagnostics with how
/// often each was reported, and whether the build succeeded. `lints` are the compiler's flags
/// (`-W lint`, `--cfg name`).
fn build(
    subcommand: &[&str],
    annotated: bool,
    catalog: bool,
    lints: &[&str],
) -> (BTreeMap<Diagnostic, usize>, bool) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lint-diff");
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(subcommand)
        .args([
            "-p",
            "tidings-lint-fixture",
            "--lib",
            "--message-format=json",
        ])
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    let features: Vec<&str> = [("annotated", annotated), ("catalog", catalog)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    command.arg("--");
    for lint in lints {
        if lint.starts_with("--") {
            command.args(lint.split(' '));
        } else {
            command.args(["-W", lint]);
        }
    }
    let output = command.output().expect("cargo runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let mut found = BTreeMap::new();
    for line in stdout.lines() {
        let message: Value = serde_json::from_str(line).expect("cargo's JSON");
        if message["reason"] != "compiler-message"
            || message["target"]["name"] != "tidings_lint_fixture"
        {
            continue;
        }
        let diagnostic = &message["message"];
        let Some(span) = diagnostic["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find(|s| s["is_primary"] == true))
        else {
            // The closing "N warnings emitted" summary has no span.
            continue;
        };
        let key = (
            diagnostic["level"].as_str().unwrap_or_default().to_owned(),
            diagnostic["code"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            diagnostic["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            format!(
                "{}:{}:{}-{}:{}",
                span["file_name"].as_str().unwrap_or_default(),
                span["line_start"],
                span["column_start"],
                span["line_end"],
                span["column_end"]
            ),
        );
        *found.entry(key).or_insert(0) += 1;
    }
    (found, output.status.success())
}

/// What the annotated build reports that the plain one does not, and the reverse.
fn compare(
    plain: &BTreeMap<Diagnostic, usize>,
    annotated: &BTreeMap<Diagnostic, usize>,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let missing_from = |a: &BTreeMap<Diagnostic, usize>, b: &BTreeMap<Diagnostic, usize>| {
        a.iter()
            .filter(|(key, count)| b.get(*key).copied().unwrap_or(0) < **count)
            .map(|(key, _)| key.clone())
            .collect::<Vec<_>>()
    };
    (
        missing_from(annotated, plain),
        missing_from(plain, annotated),
    )
}

fn show(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|(level, lint, message, span)| format!("  {span}: {level}[{lint}] {message}\n"))
        .collect()
}

/// The fixture's own `unused_results` must be reported by both builds: proof that the lint levels
/// took effect and that the user's diagnostics still reach them through the attribute.
fn assert_sees_the_users_own_diagnostic(found: &BTreeMap<Diagnostic, usize>, build: &str) {
    assert!(
        found.keys().any(|(_, lint, _, _)| lint == "unused_results"),
        "the {build} build did not report the fixture's own `unused_results`: {found:#?}"
    );
}

#[test]
fn the_attribute_adds_no_rustc_diagnostic_to_any_function() {
    // Without and with the catalog, whose entry the attribute then adds to each function.
    for catalog in [false, true] {
        let check = ["rustc", "--profile", "check"];
        let plain = diagnostics(&check, false, catalog, RUSTC_LINTS);
        let annotated = diagnostics(&check, true, catalog, RUSTC_LINTS);
        assert_sees_the_users_own_diagnostic(&plain, "plain");
        assert_sees_the_users_own_diagnostic(&annotated, "annotated");
        let (added, hidden) = compare(&plain, &annotated);
        assert!(
            added.is_empty() && hidden.is_empty(),
            "#[emits_event] (catalog: {catalog}) changed rustc's diagnostics.\nadded by the \
             attribute:\n{}hidden by the attribute:\n{}",
            show(&added),
            show(&hidden)
        );
    }
}

#[test]
fn a_shape_that_does_not_type_check_fails_with_the_same_errors_under_the_attribute() {
    let check = ["rustc", "--profile", "check"];
    let errors = |annotated| {
        let (found, success) = build(&check, annotated, false, &["--cfg tidings_type_errors"]);
        assert!(
            !success,
            "the type-errors shapes compiled (annotated: {annotated})"
        );
        found
            .into_iter()
            .filter(|((level, ..), _)| level == "error")
            .collect::<BTreeMap<_, _>>()
    };
    let plain = errors(false);
    let annotated = errors(true);
    // One error per shape of the `type_errors` module, each at the user's code.
    assert_eq!(plain.len(), 5, "the plain build's errors: {plain:#?}");
    let (added, hidden) = compare(&plain, &annotated);
    assert!(
        added.is_empty() && hidden.is_empty(),
        "#[emits_event] changed the type errors.\nadded by the attribute:\n{}hidden by the \
         attribute:\n{}",
        show(&added),
        show(&hidden)
    );
}

#[cfg(feature = "lint-diff-clippy")]
#[test]
fn the_attribute_adds_no_clippy_diagnostic_to_any_function() {
    let lints: Vec<&str> = RUSTC_LINTS.iter().chain(CLIPPY_LINTS).copied().collect();
    for catalog in [false, true] {
        let plain = diagnostics(&["clippy"], false, catalog, &lints);
        let annotated = diagnostics(&["clippy"], true, catalog, &lints);
        assert_sees_the_users_own_diagnostic(&plain, "plain");
        assert_sees_the_users_own_diagnostic(&annotated, "annotated");
        let (added, hidden) = compare(&plain, &annotated);
        let unexpected: Vec<Diagnostic> = hidden
            .into_iter()
            .filter(|(_, lint, _, _)| !HIDDEN_BY_THE_WRAPPER.contains(&lint.as_str()))
            .collect();
        assert!(
            added.is_empty() && unexpected.is_empty(),
            "#[emits_event] (catalog: {catalog}) changed clippy's diagnostics.\nadded by the \
             attribute:\n{}hidden by the attribute (not listed in HIDDEN_BY_THE_WRAPPER):\n{}",
            show(&added),
            show(&unexpected)
        );
    }
}
