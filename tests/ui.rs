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

/// No compile error a user can see names the generated code's private path: every trait an
/// error can name (`IdSource`, `AsEmitter`, `IsResult`) is public, and every bound is checked
/// at the user's expression or return type, not in a private function.
#[test]
fn no_compile_error_names_a_private_path() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/ui").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("__private"),
                "{} names a private path:\n{text}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} snapshots found");
}
