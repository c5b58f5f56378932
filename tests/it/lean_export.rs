//! `axiom export lean`: golden files for a tiny network (proved, disproved
//! and algebraic obligations) and for an ACAS Xu obligation, the structural
//! check, numbers read back exactly, exports from bundles, and refusals.
//!
//! Golden files live in tests/golden/; run with `AXIOM_BLESS=1` to rewrite
//! them after an intended change, and review the diff.

use crate::common;

use crate::common::{axiom, p, stderr, stdout};
use axiom_core::graph::{Graph, GraphBuilder, Op};
use axiom_core::spec::Rational;
use axiom_lean_export::{number, structure, LeanProject};
use ndarray::{arr1, arr2};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn axiom_in(dir: &Path, args: &[&str]) -> std::process::Output {
    common::axiom_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the axiom binary runs")
}

/// y = relu(W2 relu(W1 x + b1) + b2), all weights dyadic.
fn tiny_graph() -> Graph {
    let mut b = GraphBuilder::new("tiny", "x", vec![2]);
    let h = b.push(
        "fc1",
        Op::Gemm {
            weight: arr2(&[[1.0, -1.0], [0.5, 1.0]]),
            bias: Some(arr1(&[0.0, 0.25])),
        },
        b.input(),
    );
    let h = b.push("relu1", Op::Relu, h);
    let y = b.push(
        "fc2",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.5]]),
            bias: Some(arr1(&[-0.125])),
        },
        h,
    );
    let y = b.push("relu2", Op::Relu, y);
    b.finish(y).expect("a valid graph")
}

const TINY_SPEC: &str = r#"model tiny {
  from onnx "tiny.onnx"
  input  x: f32[2] in [-1, 1]
  output y: f32[1]

  // Algebraic: the output is a ReLU (the rewriter discharges it; Lean
  // proves it from the prelude's lemma).
  prove nonneg: forall x in domain => y[0] >= 0
  // Proved by the engine; open in Lean.
  prove bounded: forall x in domain => y[0] <= 4
  // Disproved: Lean proves the negation on the counterexample.
  prove small: forall x in box([0.5, -1], [1, -0.5]) => y[0] <= 0.5
}
"#;

fn tiny_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let onnx = axiom_core::onnx::to_bytes(&tiny_graph()).unwrap();
    std::fs::write(dir.path().join("tiny.onnx"), onnx).unwrap();
    std::fs::write(dir.path().join("tiny.axiom"), TINY_SPEC).unwrap();
    dir
}

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `files` with the golden folder `name` (or rewrites it when
/// AXIOM_BLESS is set).
fn golden(name: &str, files: &BTreeMap<String, String>) {
    let root = golden_root().join(name);
    if std::env::var_os("AXIOM_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&root);
        for (rel, text) in files {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        return;
    }
    let mut expected = BTreeMap::new();
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    walk(&root, &root, &mut expected);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "the exported file list differs from {} (AXIOM_BLESS=1 rewrites it)",
        root.display()
    );
    for (rel, text) in files {
        assert_eq!(
            &expected[rel],
            text,
            "{rel} differs from the golden copy in {} (AXIOM_BLESS=1 rewrites it)",
            root.display()
        );
    }
}

fn all_files(project: &LeanProject) -> BTreeMap<String, String> {
    let mut files = project.files.clone();
    files.insert("obligations.json".into(), project.manifest_json());
    files
}

fn entry<'a>(project: &'a LeanProject, name: &str) -> &'a axiom_lean_export::ManifestEntry {
    project
        .manifest
        .obligations
        .iter()
        .find(|e| e.obligation == name)
        .unwrap_or_else(|| panic!("{name} is in the manifest"))
}

/// The Lean text of theorem `name` (to the next declaration).
fn theorem_text<'a>(file: &'a str, name: &str) -> &'a str {
    let start = file
        .find(&format!("theorem {name} :"))
        .unwrap_or_else(|| panic!("theorem {name} is in the file"));
    let rest = &file[start..];
    let end = rest[1..].find("\n/--").map(|e| e + 1).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn a_tiny_network_exports_with_proofs_where_they_exist() {
    let dir = tiny_dir();
    let out = axiom_in(
        dir.path(),
        &[
            "export",
            "lean",
            "tiny.axiom",
            "--out",
            "lean",
            "--timeout",
            "30",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let project = LeanProject::read(&dir.path().join("lean")).unwrap();
    let problems = structure::check(&project);
    assert!(problems.is_empty(), "{problems:#?}");

    let nonneg = entry(&project, "nonneg");
    assert_eq!(nonneg.verdict, "proved");
    assert_eq!(nonneg.lean_proof, "complete");
    let bounded = entry(&project, "bounded");
    assert_eq!(bounded.verdict, "proved");
    assert_eq!(bounded.lean_proof, "open");
    let small = entry(&project, "small");
    assert_eq!(small.verdict, "disproved");
    assert_eq!(small.lean_proof, "complete");
    assert_eq!(small.statement.as_deref(), Some("negation"));
    for e in &project.manifest.obligations {
        assert_eq!(e.certificate, None, "a specification has no certificates");
        assert_eq!(e.model_digest, tiny_graph().digest().to_string());
    }

    let obligations = &project.files["AxiomExport/tiny/Obligations.lean"];
    assert!(!theorem_text(obligations, "nonneg").contains("sorry"));
    assert!(theorem_text(obligations, "bounded").contains("sorry"));
    let small_text = theorem_text(obligations, "small");
    assert!(small_text.contains("¬ (∀ x : List Q"), "{small_text}");
    assert!(small_text.contains("small.witness"));
    assert!(!small_text.contains("sorry"));
    // The witness is a real counterexample: x0 - x1 >= 1 drives y over 0.5.
    assert!(obligations.contains("def small.witness : List Q"));
    let axioms = &project.files["AxiomExport/Axioms.lean"];
    assert!(axioms.contains("#print axioms AxiomExport.tiny.nonneg"));
    assert!(axioms.contains("#print axioms AxiomExport.tiny.small"));
    assert!(!axioms.contains("AxiomExport.tiny.bounded"));

    golden("lean-tiny", &all_files(&project));
}

#[test]
fn a_bundle_exports_with_its_certificate_digests() {
    let dir = tiny_dir();
    let key = dir.path().join("k");
    assert_eq!(axiom(&["keygen", "--out", p(&key)]).status.code(), Some(0));
    let bundle = dir.path().join("bundle");
    let out = axiom(&[
        "certify",
        p(&dir.path().join("tiny.axiom")),
        "--key",
        p(&key),
        "--out",
        p(&bundle),
        "--timeout",
        "30",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "small is disproved: {}",
        stderr(&out)
    );
    let lean = dir.path().join("lean");
    let pubkey = format!("{}.pub", p(&key));
    let out = axiom(&[
        "export",
        "lean",
        p(&bundle),
        "--pubkey",
        &pubkey,
        "--out",
        p(&lean),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let project = LeanProject::read(&lean).unwrap();
    assert!(structure::check(&project).is_empty());
    let opened = axiom_certs::Bundle::open(&bundle).unwrap();
    let mut digests = Vec::new();
    for m in &opened.manifest.models {
        for c in &m.certificates {
            let cert =
                axiom_certs::SignedCertificate::from_bytes(&std::fs::read(bundle.join(c)).unwrap())
                    .unwrap();
            digests.push((cert.certificate.obligation.name.clone(), cert.digest()));
        }
    }
    assert_eq!(digests.len(), 3);
    let obligations = &project.files["AxiomExport/tiny/Obligations.lean"];
    for (name, digest) in &digests {
        let e = entry(&project, name);
        assert_eq!(e.certificate.as_ref(), Some(digest), "{name}");
        assert!(
            obligations.contains(&format!("certificate `sha256:{digest}`")),
            "{name}"
        );
    }
    // The rewriter's certificate states its goal; the others VNN-LIB's
    // unsafe set; the disproved one its negation, proved.
    assert_eq!(entry(&project, "nonneg").statement.as_deref(), Some("goal"));
    assert_eq!(entry(&project, "nonneg").lean_proof, "complete");
    assert_eq!(entry(&project, "bounded").lean_proof, "open");
    assert!(obligations.contains("abbrev bounded.unsafe_set (x y : List Q) : Prop"));
    assert_eq!(entry(&project, "small").lean_proof, "complete");
    assert_eq!(
        entry(&project, "small").statement.as_deref(),
        Some("negation")
    );

    // One certificate alone: just its obligation.
    let one = dir.path().join("one");
    let cert = bundle.join("tiny/small.cert");
    let out = axiom(&[
        "export",
        "lean",
        p(&cert),
        "--pubkey",
        &pubkey,
        "--out",
        p(&one),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let project = LeanProject::read(&one).unwrap();
    assert_eq!(project.manifest.obligations.len(), 1);
    assert_eq!(project.manifest.obligations[0].obligation, "small");

    // A tampered bundle is not exported.
    let w = bundle.join("tiny/weights.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&w, bytes).unwrap();
    let bad = dir.path().join("bad");
    let out = axiom(&[
        "export",
        "lean",
        p(&bundle),
        "--pubkey",
        &pubkey,
        "--out",
        p(&bad),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not check"), "{}", stderr(&out));
    assert!(!bad.exists());
}

#[test]
fn refusals_are_clear_and_write_nothing() {
    let dir = tiny_dir();
    // A used --out is never touched.
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("mine.txt"), "keep me").unwrap();
    let out = axiom_in(
        dir.path(),
        &["export", "lean", "tiny.axiom", "--out", "used"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refusing to overwrite"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(used.join("mine.txt")).unwrap(),
        "keep me"
    );
    // A softmax model has no exact Lean form: nothing to export.
    let out = axiom(&[
        "export",
        "lean",
        &common::example("specs/classifier.axiom"),
        "--out",
        p(&dir.path().join("c")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("Softmax"), "{}", stderr(&out));
    assert!(!dir.path().join("c").exists());
    // A certificate outside a bundle.
    std::fs::write(dir.path().join("lone.cert"), b"x").unwrap();
    let out = axiom_in(dir.path(), &["export", "lean", "lone.cert", "--out", "l"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bundle folder"), "{}", stderr(&out));
    // Not a spec at all.
    let out = axiom_in(dir.path(), &["export", "lean", "tiny.onnx", "--out", "l"]);
    assert_eq!(out.status.code(), Some(2));
}

fn benchmarks() -> Option<PathBuf> {
    let dir = std::env::var_os("AXIOM_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/benchmarks"));
    let acas = dir.join("acasxu");
    if acas.join("ACASXU_run2a_1_1_batch_2000.onnx").is_file() {
        Some(acas)
    } else {
        println!(
            "skipped: no ACAS Xu benchmarks at {} (set AXIOM_BENCHMARKS)",
            acas.display()
        );
        None
    }
}

/// Every number of `def NAME ... :=` up to the next definition, in order.
fn numbers_of(file: &str, name: &str) -> Vec<Rational> {
    let start = file
        .find(&format!("def {name} :"))
        .unwrap_or_else(|| panic!("{name} is defined"));
    let body = &file[start..];
    let body = &body[body.find(":=").unwrap() + 2..];
    let body = &body[..body.find("\n/--").unwrap_or(body.len())];
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("(Q.").or_else(|| rest.find("(0 : Q)")) {
        let j = rest[i..].find("(Q.").map_or(usize::MAX, |k| k + i);
        let z = rest[i..].find("(0 : Q)").map_or(usize::MAX, |k| k + i);
        let at = j.min(z);
        // The literal runs to its matching ')'.
        let mut depth = 0;
        let mut end = at;
        for (k, ch) in rest[at..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(number::parse_literal(&rest[at..end]).expect("a literal reads back"));
        rest = &rest[end..];
    }
    out
}

#[test]
fn an_acas_xu_obligation_exports_with_its_weights_exactly() {
    let Some(acas) = benchmarks() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Copies beside the spec, so that paths in the export are the same on
    // every machine.
    let onnx = dir.path().join("net.onnx");
    std::fs::copy(acas.join("ACASXU_run2a_1_1_batch_2000.onnx"), &onnx).unwrap();
    std::fs::copy(acas.join("prop_3.vnnlib"), dir.path().join("prop_3.vnnlib")).unwrap();
    let spec = "model acas_1_1 {\n  from onnx \"net.onnx\"\n  input  x: f32[5]\n  output y: f32[5]\n  prove prop_3: vnnlib \"prop_3.vnnlib\"\n}\n";
    std::fs::write(dir.path().join("acas.axiom"), spec).unwrap();
    let out = axiom_in(
        dir.path(),
        &[
            "export",
            "lean",
            "acas.axiom",
            "--out",
            "lean",
            "--timeout",
            "120",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let project = LeanProject::read(&dir.path().join("lean")).unwrap();
    let problems = structure::check(&project);
    assert!(problems.is_empty(), "{problems:#?}");
    let e = entry(&project, "prop_3");
    assert_eq!(e.verdict, "proved");
    assert_eq!(e.lean_proof, "open");
    assert_eq!(e.statement.as_deref(), Some("obligation"));

    // Every weight, read back, is the float32 weight exactly.
    let graph = axiom_core::onnx::parse(&std::fs::read(&onnx).unwrap(), "acas").unwrap();
    let weights = &project.files["AxiomExport/acas_1_1/Weights.lean"];
    let mut checked = 0;
    let shapes = graph.infer_shapes().unwrap();
    for (i, node) in graph.nodes.iter().enumerate() {
        let shape = ndarray::IxDyn(&shapes[node.inputs[0]]);
        let flat = |c: &ndarray::ArrayD<f32>| -> Vec<f32> {
            c.broadcast(shape.clone())
                .unwrap()
                .iter()
                .copied()
                .collect()
        };
        let expect = |vals: Vec<f32>, suffix: &str| {
            let got = numbers_of(weights, &format!("layer{i}_{suffix}"));
            let want: Vec<Rational> = vals
                .iter()
                .map(|&v| Rational::from_float(v).unwrap())
                .collect();
            assert_eq!(got, want, "layer {i} {suffix}");
            got.len()
        };
        match &node.op {
            Op::Gemm { weight, bias } => {
                checked += expect(weight.iter().copied().collect(), "w");
                if let Some(b) = bias {
                    checked += expect(b.to_vec(), "b");
                }
            }
            Op::Sub { c } => checked += expect(flat(c), "sub"),
            Op::Add { c } => checked += expect(flat(c), "add"),
            Op::Mul { c } => checked += expect(flat(c), "mul"),
            Op::Div { c } => {
                let got = numbers_of(weights, &format!("layer{i}_recip"));
                let want: Vec<Rational> = flat(c)
                    .into_iter()
                    .map(|v| Rational::from_integer(1.into()) / Rational::from_float(v).unwrap())
                    .collect();
                assert_eq!(got, want, "layer {i} recip");
                checked += got.len();
            }
            Op::Relu | Op::Flatten { .. } | Op::Reshape { .. } | Op::Identity => {}
            other => panic!("unexpected op {}", other.kind()),
        }
    }
    assert!(checked > 13_000, "{checked} numbers checked");

    // The statement and network (not the weights, which are the
    // benchmark's) against golden copies.
    let mut files = all_files(&project);
    files.retain(|k, _| !k.ends_with("Weights.lean"));
    golden("lean-acas", &files);
}
