//! goro's `hyper` and `tokio-io` features, and every example and test in
//! this package, build tokio without its runtime: the dependency graph
//! Cargo resolves for them has no tokio `rt`, `rt-multi-thread` or `time`
//! feature, so no tokio runtime can exist in these processes.
//!
//! Checked with `cargo tree` (offline, from the lock file) on the graphs of
//! goro with both features and of this package on its own. A workspace-wide
//! build (`cargo test --workspace`) may unify in tokio features that another
//! member (the benchmarks) asks for; that changes what is compiled, not what
//! these crates need or run.

use std::process::Command;

/// The tokio features enabled in `package`'s graph with `features`.
fn tokio_features(package: &str, features: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "-p", package, "-e", "features,normal"])
        .args(["-i", "tokio", "--prefix", "none", "--no-dedupe"]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd.output().expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("tokio feature \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn assert_no_runtime(package: &str, features: &[&str]) {
    let found = tokio_features(package, features);
    // The query really lists tokio's features (it is in the graph)...
    assert!(found.iter().any(|f| f == "default"), "{package}: {found:?}");
    // ...and none of them is, or needs, a runtime.
    for runtime in ["rt", "rt-multi-thread", "time", "full", "macros"] {
        assert!(
            !found.iter().any(|f| f == runtime),
            "{package} enables tokio feature {runtime:?}: {found:?}"
        );
    }
}

#[test]
fn goro_features_build_tokio_without_its_runtime() {
    assert_no_runtime("goro", &["hyper", "tokio-io"]);
}

#[test]
fn ecosystem_examples_build_tokio_without_its_runtime() {
    assert_no_runtime("goro-ecosystem", &[]);
}
