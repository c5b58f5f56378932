//! Helpers shared by the end-to-end tests of the `axiom` binary.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `axiom ARGS...` and collects its output.
pub fn axiom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_axiom"))
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
