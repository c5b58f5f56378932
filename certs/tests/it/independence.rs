//! The checker is trusted because it is separate from the prover: this test
//! fails if `axiom-certs` ever depends on `axiom-prover`, directly or through
//! another crate of the workspace, in any dependency kind (normal, dev,
//! build). Crates from crates.io cannot depend on the prover.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

#[test]
fn certs_never_depends_on_the_prover() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Workspace package -> the names of everything it declares as a dependency.
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let names = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        deps.insert(p["name"].as_str().unwrap().to_string(), names);
    }
    assert!(deps.contains_key("axiom-prover") && deps.contains_key("axiom-certs"));
    let mut seen = BTreeSet::new();
    let mut stack = vec!["axiom-certs".to_string()];
    while let Some(name) = stack.pop() {
        assert_ne!(name, "axiom-prover", "axiom-certs depends on axiom-prover");
        if seen.insert(name.clone()) {
            stack.extend(deps.get(&name).cloned().unwrap_or_default());
        }
    }
    // The walk did happen: certs reaches core.
    assert!(seen.contains("axiom-core"));
}
