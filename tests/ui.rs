//! Compile-time mistakes: each `tests/ui/<mistake>.rs` must fail with its checked-in `.stderr`.

/// The `.stderr` files hold the compiler's exact wording, which changes between releases: they
/// are checked on the toolchain they were written with (Rust 1.95, this project's CI), as the
/// crates we model ourselves on do; other toolchains still build everything else.
#[test]
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr files hold Rust 1.95's wording"
)]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
