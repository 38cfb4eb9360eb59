//! Compile-time mistakes: each `tests/ui/<mistake>.rs` must fail with its checked-in `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
