//! `../shared/fixtures` beside the checkout, found at run time.
//!
//! The path is resolved when the test runs, not when it is compiled: with a
//! target directory shared between clones, a binary built in one clone must
//! read the files beside the clone it runs in. `cargo test` sets
//! `CARGO_MANIFEST_DIR` for test binaries and runs them from the package root,
//! so either gives the crate directory.
//!
//! When the files are absent a local run prints a loud "SKIPPED" line and the
//! test returns; under CI (`CI=true`) it panics instead.

use std::io::Write;
use std::path::PathBuf;

/// `<repo>/../shared/fixtures`, from the crate directory `rust/core`.
pub fn shared_fixtures_dir() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().expect("current directory"));
    crate_dir.join("../../../shared/fixtures")
}

/// Reads `rel` under the shared fixtures; `None` (after saying so) when it is
/// missing on a local run; a panic when it is missing under CI.
pub fn read_shared(rel: &str) -> Option<String> {
    let path = shared_fixtures_dir().join(rel);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            let msg = format!(
                "shared fixture {} cannot be read ({e}); CI places shared/ beside the checkout",
                path.display()
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and {msg}");
            }
            // Straight to stderr, past the test harness's output capture, so a
            // local run shows it even for a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (the test passes without checking anything): {msg}"
            );
            None
        }
    }
}
