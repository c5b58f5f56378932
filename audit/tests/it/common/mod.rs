//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use axiom_audit::{append, Event, Inputs, Kind, Outcome, Record, VerdictEntry};
use axiom_certs::SecretKey;

/// The key that signs the test logs.
pub fn key_a() -> SecretKey {
    SecretKey::from_seed([0xa1; 32])
}

/// Another key.
pub fn key_b() -> SecretKey {
    SecretKey::from_seed([0xb2; 32])
}

/// The `i`-th event of a test log: kinds, models, verdicts and certificates
/// vary with `i`.
pub fn event(i: usize) -> Event {
    let kinds = [
        Kind::Check,
        Kind::Certify,
        Kind::CertVerify,
        Kind::Verify,
        Kind::Run,
    ];
    let kind = kinds[i % kinds.len()];
    let model = format!("{:02x}", i % 3).repeat(32);
    let cert = format!("c{:x}", i % 4).repeat(32);
    let verdict = ["proved", "unknown", "disproved", "violated"][i % 4];
    Event {
        inputs: Inputs {
            model: Some(model),
            spec: Some("5e".repeat(32)),
            certificate: (kind == Kind::CertVerify).then(|| cert.clone()),
            files: vec![axiom_audit::FileDigest::of_bytes(
                format!("spec{i}.axiom"),
                format!("spec {i}").as_bytes(),
            )],
        },
        outcome: Outcome {
            exit_code: (i % 3) as i32,
            verdicts: vec![VerdictEntry {
                model: format!("net{}", i % 2),
                digest: None,
                obligation: format!("ob{}", i % 3),
                verdict: verdict.into(),
                certificate: (kind == Kind::Certify).then_some(cert),
            }],
            detail: Some(format!("event {i}")),
        },
        ..Event::new(kind, ["axiom", kind.as_str(), "spec.axiom"])
    }
}

/// A log of `n` records signed by `key` (unsigned when `None`).
pub fn log(n: usize, key: Option<&SecretKey>) -> (tempfile::TempDir, PathBuf, Vec<Record>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let records = (0..n)
        .map(|i| append(&path, &event(i), key).unwrap())
        .collect();
    (dir, path, records)
}

/// The log's lines, each with its newline.
pub fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .split_inclusive('\n')
        .map(String::from)
        .collect()
}
