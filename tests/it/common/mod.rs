//! Helpers shared by the end-to-end tests of the `axiom` binary.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// The audit log the tests' commands append to (unless a test names
/// another): under cargo's scratch folder, so that running the tests
/// writes no `.axiom/` folders into the source tree.
pub fn test_audit_log() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("axiom-tests-audit.log")
}

/// `axiom` with its audit log set to [`test_audit_log`].
pub fn axiom_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_axiom"));
    command.env("AXIOM_AUDIT_LOG", test_audit_log());
    command.env_remove("AXIOM_AUDIT_KEY");
    command.env_remove("AXIOM_AUDIT_REQUIRED");
    command
}

/// Runs `axiom ARGS...` and collects its output.
pub fn axiom(args: &[&str]) -> Output {
    axiom_command()
        .args(args)
        .output()
        .expect("the axiom binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path under the project's `examples/`.
pub fn example(rel: &str) -> String {
    format!("{}/examples/{rel}", env!("CARGO_MANIFEST_DIR"))
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}
