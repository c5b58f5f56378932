//! CI's sample of certified ACAS Xu proofs: five `unsat` instances (one to
//! 162 proof leaves, five different properties) are proved with
//! `axiom verify --cert`, and each certificate is re-validated by
//! `axiom cert verify --recheck` against its model, and refused against
//! another network. The whole set is a benchmark:
//! `scripts/bench-certificates.sh`. Skips (with the reason) when the shared
//! benchmarks are absent.

use crate::common::{axiom, p, stderr, stdout};
use std::path::PathBuf;

const SAMPLE: [(&str, &str); 5] = [
    ("ACASXU_run2a_1_6_batch_2000.onnx", "prop_3.vnnlib"),
    ("ACASXU_run2a_2_3_batch_2000.onnx", "prop_4.vnnlib"),
    ("ACASXU_run2a_1_9_batch_2000.onnx", "prop_1.vnnlib"),
    ("ACASXU_run2a_4_5_batch_2000.onnx", "prop_10.vnnlib"),
    ("ACASXU_run2a_1_1_batch_2000.onnx", "prop_2.vnnlib"),
];

fn acasxu() -> Option<PathBuf> {
    let dir = axiom_ml::core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/benchmarks"
    ))?
    .join("acasxu");
    dir.is_dir().then_some(dir)
}

#[test]
fn five_acas_xu_proofs_are_certified_and_rechecked() {
    let Some(dir) = acasxu() else {
        eprintln!("skipping: no ACAS Xu benchmarks (set AXIOM_BENCHMARKS)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key");
    let o = axiom(&["keygen", "--out", p(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let public = tmp.path().join("key.pub");
    for (i, (onnx, vnnlib)) in SAMPLE.iter().enumerate() {
        let model = dir.join(onnx);
        let cert = tmp.path().join(format!("{i}.cert"));
        let o = axiom(&[
            "verify",
            p(&model),
            p(&dir.join(vnnlib)),
            "--timeout",
            "300",
            "--cert",
            p(&cert),
            "--key",
            p(&key),
        ]);
        assert_eq!(o.status.code(), Some(0), "{onnx} {vnnlib}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("unsat"));
        let o = axiom(&[
            "cert",
            "verify",
            p(&cert),
            "--model",
            p(&model),
            "--pubkey",
            p(&public),
            "--recheck",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{onnx} {vnnlib}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("proved  re-checked:"), "{}", stdout(&o));
        // The certificate is about this network only.
        let other = dir.join(SAMPLE[(i + 1) % SAMPLE.len()].0);
        let o = axiom(&[
            "cert",
            "verify",
            p(&cert),
            "--model",
            p(&other),
            "--pubkey",
            p(&public),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(
            stdout(&o).starts_with("FAILED: check 'model'"),
            "{}",
            stdout(&o)
        );
    }
}
