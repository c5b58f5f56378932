//! `axiom info` on every kind of file the tool takes, in both formats: the
//! bundled model, properties and specification, and a bundle certified in a
//! scratch folder with its certificates and weights; damaged files are
//! errors naming the file (exit 2), never panics.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{axiom, example, p, stderr, stdout};

/// `axiom info ARGS...`, which must succeed; its stdout.
fn info(args: &[&str]) -> String {
    let mut all = vec!["info"];
    all.extend_from_slice(args);
    let o = axiom(&all);
    assert_eq!(o.status.code(), Some(0), "{all:?}: {}", stderr(&o));
    stdout(&o)
}

/// `axiom info PATH --format json`, parsed.
fn info_json(path: &str) -> Value {
    let out = info(&[path, "--format", "json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {out}"))
}

/// Exit code 2, nothing on stdout, the message names every `want`, and
/// nothing panicked.
fn assert_refused(o: &Output, want: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(stdout(o).is_empty(), "stdout: {}", stdout(o));
    for w in want {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
}

/// The 1-based line of each `prove NAME:` in a spec, by name.
fn prove_lines(spec: &str) -> Vec<(String, usize)> {
    std::fs::read_to_string(spec)
        .unwrap()
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let rest = l.trim_start().strip_prefix("prove ")?;
            Some((rest.split(':').next()?.trim().to_string(), i + 1))
        })
        .collect()
}

/// The model digest `axiom info MODEL` prints.
fn printed_digest(model: &str) -> String {
    let out = info(&[model]);
    out.lines()
        .find_map(|l| l.strip_prefix("digest  sha256:"))
        .unwrap_or_else(|| panic!("no digest line: {out}"))
        .to_string()
}

fn shape(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a shape: {v}"))
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect()
}

#[test]
fn a_model_in_both_formats() {
    let model = example("models/xor.onnx");
    let human = info(&[&model]);
    let digest = printed_digest(&model);
    assert!(human.contains("params  8"), "{human}");
    let j = info_json(&model);
    assert_eq!(j["kind"], "model");
    assert_eq!(j["file"], model.as_str());
    assert_eq!(j["format"], "onnx");
    assert_eq!(j["digest"], digest.as_str());
    assert_eq!(j["params"], 8);
    assert_eq!(j["inputs"][0]["name"], "x");
    assert_eq!(shape(&j["inputs"][0]["shape"]), [2]);
    assert_eq!(shape(&j["outputs"][0]["shape"]), [1]);
    let layers = j["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0]["op"], "Gemm");
    assert_eq!(layers[0]["name"], "hidden");
    assert_eq!(shape(&layers[0]["input_shape"]), [2]);
    assert_eq!(shape(&layers[2]["output_shape"]), [1]);
    assert_eq!(layers[0]["params"], 6);
    assert_eq!(layers[1]["op"], "Relu");
    assert_eq!(j["metadata"]["onnx.opset"], "13");
    assert!(j["metadata"].get("source.format").is_none());
    // Keys in their declared order, `kind` first.
    let out = info(&[&model, "--format", "json"]);
    assert!(out.starts_with("{\n  \"kind\": \"model\",\n"), "{out}");
}

#[test]
fn properties_in_both_formats() {
    for name in ["xor_low", "xor_high"] {
        let path = example(&format!("properties/{name}.vnnlib"));
        let human = info(&[&path]);
        assert!(human.starts_with(&format!("property {path}\n")), "{human}");
        assert!(
            human.contains("2 inputs (X_0 .. X_1), 1 output (Y_0)"),
            "{human}"
        );
        let j = info_json(&path);
        assert_eq!(j["kind"], "property");
        assert_eq!(j["num_inputs"], 2);
        assert_eq!(j["num_outputs"], 1);
        let cases = j["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0]["inputs"][0]["var"], "X_0");
        assert_eq!(cases[0]["inputs"][1]["var"], "X_1");
        assert_eq!(cases[0]["unsafe_if"].as_array().unwrap().len(), 1);
    }
    let j = info_json(&example("properties/xor_low.vnnlib"));
    let case = &j["cases"][0];
    assert_eq!(case["inputs"][0]["lower"], "0");
    assert_eq!(case["inputs"][0]["upper"], "0.2");
    assert_eq!(case["unsafe_if"][0][0], "Y_0 >= 0.5");
}

#[test]
fn a_spec_in_both_formats() {
    let spec = example("specs/xor.axiom");
    let lines = prove_lines(&spec);
    assert_eq!(lines.len(), 4);
    let digest = printed_digest(&example("models/xor.onnx"));

    let human = info(&[&spec]);
    assert!(human.starts_with(&format!("spec    {spec}\n")), "{human}");
    assert!(
        human.contains(&format!("  digest   sha256:{digest}\n")),
        "{human}"
    );
    assert!(
        human.contains("  input    x: f32[2] in [0, 1]\n"),
        "{human}"
    );
    assert!(human.contains("  output   y: f32[1]\n"), "{human}");
    assert!(
        human.contains("    line 10   region near_origin = box([0, 0], [0.2, 0.2])\n"),
        "{human}"
    );
    assert!(
        human.contains("    line 8    ensure finite(y)\n"),
        "{human}"
    );
    for (name, line) in &lines {
        assert!(
            human
                .lines()
                .any(|l| l.starts_with(&format!("    line {line:<4} prove {name}:"))),
            "{name} at line {line}: {human}"
        );
    }
    let from = human
        .lines()
        .find_map(|l| l.strip_prefix("  from     onnx "))
        .unwrap_or_else(|| panic!("no from line: {human}"));
    assert!(Path::new(from).ends_with("models/xor.onnx"), "{from}");

    let j = info_json(&spec);
    assert_eq!(j["kind"], "spec");
    assert_eq!(j["file"], spec.as_str());
    let m = &j["models"][0];
    assert_eq!(j["models"].as_array().unwrap().len(), 1);
    assert_eq!(m["name"], "xor");
    assert_eq!(m["line"], 3);
    assert_eq!(m["source"], "onnx");
    assert_eq!(m["file"], from);
    assert_eq!(m["digest"], digest.as_str());
    assert_eq!(m["params"], 8);
    assert_eq!(m["inputs"][0]["name"], "x");
    assert_eq!(m["inputs"][0]["dtype"], "f32");
    assert_eq!(shape(&m["inputs"][0]["shape"]), [2]);
    assert_eq!(m["inputs"][0]["domain"], serde_json::json!(["0", "1"]));
    assert_eq!(m["outputs"][0]["name"], "y");
    assert!(m["outputs"][0]["domain"].is_null());
    assert_eq!(m["layers"].as_array().unwrap().len(), 3);
    assert_eq!(m["regions"][0]["name"], "near_origin");
    assert_eq!(m["regions"][0]["line"], 10);
    assert_eq!(m["regions"][0]["lower"], serde_json::json!(["0", "0"]));
    assert_eq!(m["regions"][0]["upper"], serde_json::json!(["0.2", "0.2"]));
    assert_eq!(m["ensures"][0]["line"], 8);
    assert_eq!(m["ensures"][0]["text"], "ensure finite(y)");
    let obs = m["obligations"].as_array().unwrap();
    assert_eq!(obs.len(), lines.len());
    for (ob, (name, line)) in obs.iter().zip(&lines) {
        assert_eq!(ob["name"], name.as_str());
        assert_eq!(ob["line"], *line);
        assert!(
            ob["text"]
                .as_str()
                .unwrap()
                .starts_with(&format!("prove {name}:")),
            "{ob}"
        );
        assert_eq!(ob["property_cases"], 1, "{ob}");
    }
    assert_eq!(obs[0]["form"], "forall");
    // The named region, intersected with the domain [0, 1].
    assert_eq!(obs[0]["region"]["upper"], serde_json::json!(["0.2", "0.2"]));
    assert_eq!(obs[0]["condition"], "(< (idx y 0) 0.5)");
    assert_eq!(obs[3]["form"], "vnnlib");
    assert!(obs[3]["region"].is_null() && obs[3]["condition"].is_null());

    // A model of inline layers says where its weights come from.
    let human = info(&[&example("specs/classifier.axiom")]);
    assert!(
        human.contains("  from     4 inline layers, weights from ")
            && human.contains("classifier.safetensors"),
        "{human}"
    );
    let j = info_json(&example("specs/classifier.axiom"));
    assert_eq!(j["models"][0]["source"], "layers");
    assert!(j["models"][0]["file"].is_null());
}

/// A key pair and a bundle of `examples/specs/xor.axiom` in `dir`; the key
/// id keygen printed.
fn certify_xor(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("signing.key");
    let log = dir.join("audit.log");
    let o = axiom(&["--audit-log", p(&log), "keygen", "--out", p(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let id = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("key id "))
        .expect("keygen prints the key id")
        .to_string();
    let bundle = dir.join("xor.bundle");
    let o = axiom(&[
        "--audit-log",
        p(&log),
        "certify",
        &example("specs/xor.axiom"),
        "--key",
        p(&key),
        "--out",
        p(&bundle),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (bundle, id)
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn a_bundle_its_certificates_and_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, id) = certify_xor(tmp.path());
    let lines = prove_lines(&example("specs/xor.axiom"));
    let digest = printed_digest(&example("models/xor.onnx"));

    // The bundle.
    let human = info(&[p(&bundle)]);
    assert!(
        human.contains(&format!(
            "signer  key {id} (named by manifest.sig; signer.pub holds the same key)"
        )),
        "{human}"
    );
    assert!(
        human.contains(&format!("  digest   sha256:{digest}\n")),
        "{human}"
    );
    for (name, line) in &lines {
        assert!(
            human.lines().any(|l| l.starts_with(&format!("    {name} "))
                && l.contains(" proved ")
                && l.contains(&format!("line {line} "))
                && l.ends_with(&format!("xor/{name}.cert"))),
            "{name}: {human}"
        );
    }
    assert!(
        human.contains("not verified: info reads the bundle"),
        "{human}"
    );
    assert!(
        human.contains(&format!(
            "axiom cert verify {} --pubkey KEY.pub --recheck",
            p(&bundle)
        )),
        "{human}"
    );
    let j = info_json(p(&bundle));
    assert_eq!(j["kind"], "bundle");
    assert_eq!(j["format"], "axiom-bundle");
    assert_eq!(j["signer"]["key_id"], id.as_str());
    assert_eq!(j["signer"]["signer_pub"], id.as_str());
    assert_eq!(j["spec"], "spec.axiom");
    assert_eq!(j["verified"], false);
    assert!(j["verify_with"].as_str().unwrap().contains("cert verify"));
    let m = &j["models"][0];
    assert_eq!(m["name"], "xor");
    assert_eq!(m["digest"], digest.as_str());
    assert_eq!(m["weights"], "xor/weights.safetensors");
    let certs = m["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), lines.len());
    for (c, (name, line)) in certs.iter().zip(&lines) {
        assert_eq!(c["obligation"], name.as_str());
        assert_eq!(c["line"], *line);
        assert_eq!(c["verdict"], "proved");
        assert_eq!(c["signer"], id.as_str());
        let file = bundle.join(c["path"].as_str().unwrap());
        assert_eq!(c["sha256"], sha256_of(&file).as_str());
    }

    // One certificate.
    let (name, line) = &lines[2];
    let cert = bundle.join(format!("xor/{name}.cert"));
    let human = info(&[p(&cert)]);
    assert!(
        human.contains(&format!("obligation   {name} (xor.axiom, line {line})\n")),
        "{human}"
    );
    assert!(
        human.contains(&format!("model        xor, digest sha256:{digest}\n")),
        "{human}"
    );
    assert!(human.contains("verdict      proved\n"), "{human}");
    assert!(human.contains("evidence     proof: 1 case, "), "{human}");
    assert!(
        human.contains(&format!("signer       key {id}\n")),
        "{human}"
    );
    assert!(
        human.contains("not verified: info decodes the certificate"),
        "{human}"
    );
    assert!(
        human.contains(&format!("axiom cert show {}", p(&cert))),
        "{human}"
    );
    let j = info_json(p(&cert));
    assert_eq!(j["kind"], "certificate");
    assert_eq!(j["sha256"], sha256_of(&cert).as_str());
    assert_eq!(j["bundle"], p(&bundle));
    assert_eq!(j["obligation"]["name"], name.as_str());
    assert_eq!(j["obligation"]["line"], *line);
    assert!(j["obligation"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&format!("prove {name}:")));
    assert_eq!(j["model"]["digest"], digest.as_str());
    assert_eq!(j["verdict"], "proved");
    assert_eq!(j["evidence"]["kind"], "proof");
    assert!(j["evidence"]["leaves"].as_u64().unwrap() >= 1);
    assert!(j["evidence"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(j["signer"], id.as_str());
    assert_eq!(j["verified"], false);

    // The weights.
    let weights = bundle.join("xor/weights.safetensors");
    let human = info(&[p(&weights)]);
    assert!(human.contains("tensors      3, 8 parameters\n"), "{human}");
    assert!(
        human.contains(&format!("  axiom.model_digest = {digest}\n")),
        "{human}"
    );
    assert!(
        human.contains("  axiom.certificates = 4 certificate digests\n"),
        "{human}"
    );
    let j = info_json(p(&weights));
    assert_eq!(j["kind"], "safetensors");
    assert_eq!(j["parameters"], 8);
    let tensors = j["tensors"].as_array().unwrap();
    let names: Vec<&str> = tensors
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hidden.bias", "hidden.weight", "out.weight"]);
    assert_eq!(shape(&tensors[1]["shape"]), [2, 2]);
    assert_eq!(tensors[1]["dtype"], "F32");
    assert_eq!(tensors[1]["elements"], 4);
    assert_eq!(shape(&tensors[2]["shape"]), [1, 2]);
    assert_eq!(j["metadata"]["axiom.model_digest"], digest.as_str());
    let listed = j["metadata"]["axiom.certificates"].as_str().unwrap();
    for c in certs {
        assert!(listed.contains(c["sha256"].as_str().unwrap()), "{listed}");
    }
    assert!(j["unreadable"].is_null());
    assert_eq!(j["tensors_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, _) = certify_xor(tmp.path());
    let cut = |from: &Path, to: &str| {
        let bytes = std::fs::read(from).unwrap();
        let path = tmp.path().join(to);
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        path
    };
    let cert = cut(&bundle.join("xor/bounded.cert"), "cut.cert");
    let weights = cut(&bundle.join("xor/weights.safetensors"), "cut.safetensors");
    let spec = tmp.path().join("typo.axiom");
    std::fs::write(
        &spec,
        "model m {\n  input x: f32[2]\n  output y: f32[2]\n  layer a = relux\n}\n",
    )
    .unwrap();
    for format in ["human", "json"] {
        assert_refused(
            &axiom(&["info", p(&cert), "--format", format]),
            &["cut.cert", "not a certificate"],
        );
        assert_refused(
            &axiom(&["info", p(&weights), "--format", format]),
            &["cut.safetensors", "truncated"],
        );
        // As `axiom check` reports it: file, line and column, the hint.
        assert_refused(
            &axiom(&["info", p(&spec), "--format", format]),
            &[
                "typo.axiom:4:13",
                "unknown layer `relux`",
                "did you mean `relu`?",
            ],
        );
    }
    // A certificate damaged inside a bundle.
    std::fs::copy(&cert, bundle.join("xor/bounded.cert")).unwrap();
    assert_refused(&axiom(&["info", p(&bundle)]), &["bounded.cert"]);
    // A manifest pointing outside the bundle (at an endless device, here)
    // is refused before anything is read.
    let manifest = bundle.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("xor/bounded.cert"));
    let hostile = text.replace("xor/bounded.cert", "../../../../../../../../dev/zero");
    std::fs::write(&manifest, hostile).unwrap();
    assert_refused(
        &axiom(&["info", p(&bundle)]),
        &["manifest.json", "not inside the bundle", "dev/zero"],
    );

    // Not a kind info takes: the hint lists them all.
    let every = [
        ".onnx",
        ".vnnlib",
        ".axiom",
        "axiom certify",
        ".cert",
        ".safetensors",
    ];
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "not a model").unwrap();
    let mut want = vec!["notes.txt", "unknown file format"];
    want.extend(every);
    assert_refused(&axiom(&["info", p(&notes)]), &want);
    assert_refused(
        &axiom(&["info", p(&tmp.path().join("missing"))]),
        &["missing", "cannot read"],
    );
    let folder = tmp.path().join("empty");
    std::fs::create_dir(&folder).unwrap();
    let mut want = vec!["empty", "manifest.json"];
    want.extend(every);
    assert_refused(&axiom(&["info", p(&folder)]), &want);
}

#[test]
fn backends_as_json() {
    let out = info(&["--backends", "--format", "json"]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["kind"], "backends");
    let cpu = &j["backends"][0];
    assert_eq!(cpu["name"], "cpu");
    assert_eq!(cpu["available"], true);
    assert_eq!(j["backends"][1]["name"], "cuda");
    // With a path too: one array of the two objects.
    let model = example("models/xor.onnx");
    let out = info(&["--backends", &model, "--format", "json"]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j[0]["kind"], "backends");
    assert_eq!(j[1]["kind"], "model");
    assert_eq!(j.as_array().unwrap().len(), 2);
}

#[test]
fn a_certificate_outside_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    let log = tmp.path().join("audit.log");
    let o = axiom(&["--audit-log", p(&log), "keygen", "--out", p(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cert = tmp.path().join("high.cert");
    let model = example("models/xor.onnx");
    let o = axiom(&[
        "--audit-log",
        p(&log),
        "verify",
        &model,
        &example("properties/xor_high.vnnlib"),
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(o.status.code(), Some(1), "sat: {}", stderr(&o));
    let human = info(&[p(&cert)]);
    assert!(
        human.contains("obligation   xor_high (xor_high.vnnlib)\n"),
        "{human}"
    );
    assert!(
        human.contains("statement    12 lines of xor_high.vnnlib"),
        "{human}"
    );
    assert!(human.contains("verdict      disproved\n"), "{human}");
    assert!(
        human.contains("evidence     counterexample: an input of 2 values"),
        "{human}"
    );
    assert!(
        human.contains(&format!(
            "axiom cert verify {} --model MODEL --pubkey KEY.pub --recheck",
            p(&cert)
        )),
        "{human}"
    );
    let j = info_json(p(&cert));
    assert!(j["bundle"].is_null());
    assert_eq!(j["model"]["digest"], printed_digest(&model).as_str());
    assert_eq!(j["verdict"], "disproved");
    assert_eq!(j["evidence"]["kind"], "counterexample");
    assert_eq!(j["evidence"]["inputs"], 2);
    assert!(j["obligation"]["line"].is_null());
}

/// Weights Axiom cannot compute with (an integer tensor) are still
/// described, with the reason.
#[test]
fn weights_of_other_dtypes_are_described() {
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;
    let half: Vec<u8> = [0x3c00u16, 0xc000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let ids: Vec<u8> = [7i64, 8, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = safetensors::serialize(
        [
            (
                "scale",
                TensorView::new(Dtype::F16, vec![2], &half).unwrap(),
            ),
            (
                "ids",
                TensorView::new(Dtype::I64, vec![1, 3], &ids).unwrap(),
            ),
        ],
        Some(std::collections::HashMap::from([(
            "note".to_string(),
            "mixed".to_string(),
        )])),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mixed.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let human = info(&[p(&path)]);
    assert!(human.contains("tensors      2, 5 parameters\n"), "{human}");
    assert!(human.contains("axiom cannot use these weights"), "{human}");
    assert!(human.contains("I64"), "{human}");
    let j = info_json(p(&path));
    let tensors = j["tensors"].as_array().unwrap();
    assert_eq!(tensors[0]["name"], "ids");
    assert_eq!(tensors[0]["dtype"], "I64");
    assert_eq!(shape(&tensors[0]["shape"]), [1, 3]);
    assert_eq!(tensors[1]["dtype"], "F16");
    assert_eq!(j["parameters"], 5);
    assert!(j["tensors_sha256"].is_null());
    assert!(j["unreadable"].as_str().unwrap().contains("I64"), "{j}");
    assert_eq!(j["metadata"]["note"], "mixed");
}
