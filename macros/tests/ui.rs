//! Compile-time behaviour of `#[goro::main]` and `#[goro::test]`: valid
//! uses build and run (`tests/ui/pass_*.rs`); misuse fails with the error
//! recorded in the `.stderr` file beside each `tests/ui/fail_*.rs`
//! (regenerate with `TRYBUILD=overwrite cargo test -p goro-macros`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
