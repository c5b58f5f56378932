//! Signed certificates and bundles, end to end: `axiom certify` then
//! `axiom cert verify`; every tampering of a bundle is refused, naming the
//! check; forged evidence that is properly signed passes the signature and
//! digest checks but not the re-check; certifying twice gives the same
//! certificates; `axiom verify --cert` and `axiom cert show`.
//!
//! The bundles are certified once per test process (see [`fixture`]) and
//! kept in memory; every test writes the copies it needs to its own folder.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axiom_certs::bundle::{self, Manifest, ManifestSignature, MANIFEST, MANIFEST_SIG};
use axiom_certs::cert::{to_canonical_cbor, CertEvidence, Certificate, Timings, VerdictKind};
use axiom_certs::verify::BundleReport;
use axiom_certs::wire::{Exact, NodeData, PropertyData, RefutationData};
use axiom_certs::SignedCertificate;
use axiom_certs::{check, keys, Bundle, BundleModel, PublicKey, Recheck, SecretKey};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::common::{axiom, example, p, stderr, stdout};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The seeds of the two signing keys of these tests: A signs the bundles
/// under test, B plays another signer.
const SEED_A: [u8; 32] = [0xA1; 32];
const SEED_B: [u8; 32] = [0xB2; 32];

fn key_a() -> SecretKey {
    SecretKey::from_seed(SEED_A)
}

fn key_b() -> SecretKey {
    SecretKey::from_seed(SEED_B)
}

/// Writes the key pair of `seed` to `dir/name` and `dir/name.pub`.
fn write_key(dir: &Path, name: &str, seed: [u8; 32]) -> (PathBuf, PathBuf) {
    let secret = dir.join(name);
    let public = keys::write_keypair(&SecretKey::from_seed(seed), &secret, false).unwrap();
    (secret, public)
}

/// A bundle's files, by path relative to its folder.
type Files = BTreeMap<String, Vec<u8>>;

fn read_tree(root: &Path) -> Files {
    fn walk(root: &Path, dir: &Path, out: &mut Files) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.insert(rel.replace('\\', "/"), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = Files::new();
    walk(root, root, &mut out);
    out
}

fn write_tree(root: &Path, files: &Files) {
    for (rel, bytes) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Runs `axiom certify SPEC --key KEY(seed) --out DIR` in a scratch folder
/// and returns the bundle's files.
fn certify_files(spec: &str, seed: [u8; 32]) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = write_key(dir.path(), "key", seed);
    let out = dir.path().join("bundle");
    let o = axiom(&[
        "certify",
        &example(spec),
        "--key",
        p(&key),
        "--out",
        p(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    read_tree(&out)
}

/// The bundles every test starts from, certified once per process.
struct Fixture {
    /// examples/specs/xor.axiom (4 branch-and-bound proofs), key A.
    xor: Files,
    /// The same spec, signed by key B.
    xor_b: Files,
    /// examples/specs/classifier.axiom (3 rewrite chains), key A.
    classifier: Files,
    /// examples/specs/mini_acas.axiom, key A.
    acas: Files,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        xor: certify_files("specs/xor.axiom", SEED_A),
        xor_b: certify_files("specs/xor.axiom", SEED_B),
        classifier: certify_files("specs/classifier.axiom", SEED_A),
        acas: certify_files("specs/mini_acas.axiom", SEED_A),
    })
}

/// A fresh copy of `files` at `dir/bundle`.
fn place(dir: &Path, files: &Files) -> PathBuf {
    let root = dir.join("bundle");
    write_tree(&root, files);
    root
}

/// Opens and checks a bundle with the library: `Err((check, reason))`, the
/// check being `open` when the bundle does not even open.
fn lib_check(
    root: &Path,
    key: &PublicKey,
    recheck: Recheck,
) -> Result<BundleReport, (String, String)> {
    let bundle = Bundle::open(root).map_err(|e| ("open".to_string(), e.to_string()))?;
    check(&bundle, key, recheck).map_err(|f| (f.check, f.reason))
}

/// [`lib_check`] that must fail: the failing check and its reason (never
/// empty), and never a panic.
fn rejected(root: &Path, key: &PublicKey, recheck: Recheck) -> (String, String) {
    let outcome = catch_unwind(AssertUnwindSafe(|| lib_check(root, key, recheck)))
        .unwrap_or_else(|_| panic!("the check of {} panicked", root.display()));
    let (check, reason) = match outcome {
        Ok(report) => panic!("{} was accepted: {report:?}", root.display()),
        Err(e) => e,
    };
    assert!(
        !reason.trim().is_empty(),
        "check '{check}' failed without a reason"
    );
    (check, reason)
}

/// Recomputes the manifest's file digests from the files on disk, applies
/// `edit`, and signs the manifest again with `key`: what someone holding
/// the key can do, so that only the deeper checks are left to catch a
/// change.
fn resign_manifest(root: &Path, key: &SecretKey, edit: impl FnOnce(&mut Manifest)) {
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(root.join(MANIFEST)).unwrap()).unwrap();
    for f in &mut m.files {
        let bytes = std::fs::read(root.join(&f.path)).unwrap();
        f.sha256 = hex::encode(Sha256::digest(&bytes));
        f.bytes = bytes.len() as u64;
    }
    edit(&mut m);
    let mut text = serde_json::to_vec_pretty(&m).unwrap();
    text.push(b'\n');
    let sig = ManifestSignature {
        key_id: key.public().id(),
        value: key.sign(&Sha256::digest(&text)).to_vec(),
    };
    std::fs::write(root.join(MANIFEST), text).unwrap();
    std::fs::write(root.join(MANIFEST_SIG), sig.to_text()).unwrap();
}

fn decode(bytes: &[u8]) -> SignedCertificate {
    SignedCertificate::from_bytes(bytes).expect("the certificate decodes")
}

/// Rewrites one certificate of the (one-model) bundle `files` with `edit`,
/// signs it again with key A, and writes the whole bundle anew with
/// [`Bundle::write`] at `dir/forged`: a bundle as intact and properly
/// signed as any `axiom certify` writes.
fn forge(dir: &Path, files: &Files, cert: &str, edit: impl FnOnce(&mut Certificate)) -> PathBuf {
    let manifest: Manifest = serde_json::from_slice(&files[MANIFEST]).unwrap();
    let [model] = &manifest.models[..] else {
        panic!("one model per bundle here")
    };
    let onnx = files[&model.onnx].clone();
    let graph = axiom_core::onnx::parse(&onnx, &model.onnx).unwrap();
    let mut edit = Some(edit);
    let mut certificates = Vec::new();
    for path in &model.certificates {
        let signed = decode(&files[path]);
        if path != cert {
            certificates.push(signed);
            continue;
        }
        let mut c = signed.certificate;
        let before = c.clone();
        (edit.take().unwrap())(&mut c);
        assert_ne!(c, before, "the forgery changes nothing");
        certificates.push(c.sign(&key_a()).expect("the forged certificate is signed"));
    }
    let found = edit.is_none();
    assert!(found, "{cert} is not in the bundle");
    let spec = String::from_utf8(files[bundle::SPEC].clone()).unwrap();
    let out = dir.join("forged");
    let model = BundleModel {
        name: model.name.clone(),
        graph,
        onnx,
        certificates,
    };
    Bundle::write(&out, Some(&spec), &[model], &key_a()).unwrap();
    out
}

/// The proof trees of a branch-and-bound certificate.
fn proof_cases(c: &mut Certificate) -> &mut Vec<axiom_certs::wire::CaseProofData> {
    match &mut c.evidence {
        CertEvidence::Proof { cases } => cases,
        other => panic!("not a proof: {other:?}"),
    }
}

/// The multipliers of the first bound refutation of node `node` of case 0.
fn multipliers(c: &mut Certificate, node: usize) -> &mut Vec<Exact> {
    let refutations = match &mut proof_cases(c)[0].nodes[node] {
        NodeData::Split { refutations, .. }
        | NodeData::ReluSplit { refutations, .. }
        | NodeData::Leaf { refutations } => refutations,
    };
    match refutations.first_mut() {
        Some(RefutationData::Bound { multipliers, .. }) => multipliers,
        other => panic!("not a bound refutation: {other:?}"),
    }
}

fn chain(c: &mut Certificate) -> &mut Vec<String> {
    match &mut c.evidence {
        CertEvidence::Rewrite { chain, .. } => chain,
        other => panic!("not a rewrite chain: {other:?}"),
    }
}

/// Asserts that the forged bundle at `root` passes every signature and
/// digest check but fails the re-check of `cert`, with a reason containing
/// every one of `why`.
fn only_the_recheck_catches(root: &Path, cert: &str, why: &[&str]) {
    let key = key_a().public();
    let report = lib_check(root, &key, Recheck::None)
        .unwrap_or_else(|e| panic!("the forged bundle is properly signed, yet: {e:?}"));
    assert!(report
        .certificates
        .iter()
        .any(|c| cert.ends_with(&format!("/{}.cert", c.obligation))));
    let (check, reason) = rejected(root, &key, Recheck::Full);
    assert_eq!(check, format!("certificate {cert}"), "{reason}");
    for w in why {
        assert!(reason.contains(w), "the reason lacks {w:?}: {reason}");
    }
}

/// `cert` with its envelope's `version` set to `major.0` by editing its
/// canonical CBOR in place (`"version": {"major": 1, "minor": 0}`; the body
/// names its version under `format`, so the pattern is the envelope's).
fn with_envelope_major(cert: &[u8], major: u8) -> Vec<u8> {
    let pattern = b"\x67version\xa2\x65major\x01";
    let at: Vec<usize> = cert
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, w)| w == pattern)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "the envelope's version map is not where expected"
    );
    assert!(major <= 23, "a one-byte CBOR integer");
    let mut out = cert.to_vec();
    out[at[0] + pattern.len() - 1] = major;
    out
}

const XOR_CERT: &str = "xor/low_near_origin.cert";

// ---------------------------------------------------------------------------
// 1. certify, then verify
// ---------------------------------------------------------------------------

#[test]
fn certify_then_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let o = axiom(&["keygen", "--out", p(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let public = dir.path().join("signing.key.pub");
    assert!(public.is_file());

    let out = dir.path().join("xor.bundle");
    let o = axiom(&[
        "certify",
        &example("specs/xor.axiom"),
        "--key",
        p(&key),
        "--out",
        p(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("4 certificates signed by key"),
        "{}",
        stdout(&o)
    );
    let obligations = ["low_near_origin", "high_near_10", "bounded", "from_vnnlib"];
    for ob in obligations {
        assert!(out.join(format!("xor/{ob}.cert")).is_file(), "{ob}");
    }

    let o = axiom(&[
        "cert",
        "verify",
        p(&out),
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    for ob in obligations {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("xor::{ob} ")))
            .unwrap_or_else(|| panic!("{ob} is not reported:\n{text}"));
        assert!(
            line.contains("proved") && line.contains("re-checked"),
            "{line}"
        );
    }
    assert!(
        text.contains("verified: 4 certificates, evidence re-checked"),
        "{text}"
    );
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));

    // Unpinned: the bundle's own signer.pub, with a warning.
    let o = axiom(&["cert", "verify", p(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("warning: no --pubkey given"),
        "{}",
        stderr(&o)
    );

    // One certificate of the bundle is checked with its bundle.
    let one = out.join("xor/bounded.cert");
    let o = axiom(&["cert", "verify", p(&one), "--pubkey", p(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // A used --out is refused before any work, and left as it was.
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("keep.txt"), "mine").unwrap();
    let o = axiom(&[
        "certify",
        &example("specs/xor.axiom"),
        "--key",
        p(&key),
        "--out",
        p(&used),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("not an empty folder"), "{}", stderr(&o));
    assert_eq!(
        read_tree(&used),
        Files::from([("keep.txt".into(), b"mine".to_vec())])
    );
    // An empty one is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = axiom(&[
        "certify",
        &example("specs/xor.axiom"),
        "--key",
        p(&key),
        "--out",
        p(&empty),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // No folder is left behind beside them.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "empty",
            "signing.key",
            "signing.key.pub",
            "used",
            "xor.bundle"
        ]
    );
}

#[test]
fn the_library_accepts_every_fixture_bundle() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for (name, files, key, n) in [
        ("xor", &f.xor, key_a(), 4),
        ("xor_b", &f.xor_b, key_b(), 4),
        ("classifier", &f.classifier, key_a(), 3),
        ("acas", &f.acas, key_a(), 3),
    ] {
        let root = dir.path().join(name);
        write_tree(&root, files);
        let report = lib_check(&root, &key.public(), Recheck::Full)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(report.certificates.len(), n, "{name}");
        assert!(
            report
                .certificates
                .iter()
                .all(|c| c.verdict == VerdictKind::Proved),
            "{name}: {report:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. One flipped byte anywhere is refused
// ---------------------------------------------------------------------------

/// The files a byte flip goes to, and the check that must catch it.
const FLIP_TARGETS: [(&str, &str); 4] = [
    (XOR_CERT, "files"),
    ("xor/weights.safetensors", "files"),
    ("xor/model.onnx", "files"),
    (MANIFEST, "manifest signature"),
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_flipped_byte_anywhere_is_refused(
        flips in prop::array::uniform4((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let files = &fixture().xor;
        let dir = tempfile::tempdir().unwrap();
        let root = place(dir.path(), files);
        let key = key_a().public();
        for ((target, expected), (at, mask)) in FLIP_TARGETS.iter().zip(flips) {
            let original = &files[*target];
            let mut bytes = original.clone();
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
            std::fs::write(root.join(target), &bytes).unwrap();
            let (check, reason) = rejected(&root, &key, Recheck::Full);
            if *target == MANIFEST {
                // A manifest that no longer parses does not open.
                prop_assert!(
                    check == "open" || check == *expected,
                    "{target} byte {i} ^ {mask:#04x}: check '{check}': {reason}"
                );
            } else {
                prop_assert_eq!(&check, expected, "{} byte {} ^ {:#04x}: {}", target, i, mask, reason);
                prop_assert!(reason.contains(target), "{}", reason);
            }
            std::fs::write(root.join(target), original).unwrap();
        }
        // The bundle is whole again.
        prop_assert!(lib_check(&root, &key, Recheck::None).is_ok());
    }

    /// Someone with the key signs the manifest again after the flip: the
    /// deeper checks (the model, the weights, the certificate) catch it.
    #[test]
    fn a_flipped_byte_under_a_resigned_manifest_is_refused(
        flips in prop::array::uniform3((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let files = &fixture().xor;
        let key = key_a();
        let original_weights = axiom_core::safetensors_io::parse(&files["xor/weights.safetensors"]).unwrap();
        for ((target, (at, mask)), expected) in
            FLIP_TARGETS[..3].iter().map(|t| t.0).zip(flips).zip(["certificate ", "model xor", "model xor"])
        {
            let dir = tempfile::tempdir().unwrap();
            let root = place(dir.path(), files);
            let mut bytes = files[target].clone();
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
            std::fs::write(root.join(target), &bytes).unwrap();
            resign_manifest(&root, &key, |_| {});
            let outcome = catch_unwind(AssertUnwindSafe(|| lib_check(&root, &key.public(), Recheck::Full)));
            prop_assert!(outcome.is_ok(), "{} byte {} ^ {:#04x}: the check panicked", target, i, mask);
            match outcome.unwrap() {
                Err((check, reason)) => {
                    prop_assert!(!reason.is_empty());
                    prop_assert!(
                        check.starts_with(expected) || check.starts_with("certificate xor/"),
                        "{target} byte {i} ^ {mask:#04x}: check '{check}': {reason}"
                    );
                }
                Ok(_) => {
                    // Only a change that leaves the weights' tensors and
                    // metadata as they were may pass (say, JSON whitespace
                    // in the safetensors header): certificates digest the
                    // tensors, not the bytes.
                    let same = target == "xor/weights.safetensors"
                        && axiom_core::safetensors_io::parse(&bytes).is_ok_and(|w| w == original_weights);
                    prop_assert!(same, "{target} byte {i} ^ {mask:#04x} was accepted");
                }
            }
        }
    }

    #[test]
    fn random_bytes_are_not_a_certificate(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let outcome = catch_unwind(|| SignedCertificate::from_bytes(&bytes).map(|_| ()));
        prop_assert!(outcome.is_ok(), "from_bytes panicked");
        let e = outcome.unwrap().unwrap_err();
        prop_assert!(!e.to_string().is_empty());
    }
}

/// The byte range of the signed body inside a certificate file (the
/// envelope's first entry, `"body"`, in canonical order).
fn body_range(cert: &[u8]) -> std::ops::Range<usize> {
    let key = b"\x64body";
    let at = cert
        .windows(key.len())
        .position(|w| w == key)
        .expect("the envelope has a body")
        + key.len();
    let (start, len) = match cert[at] {
        h @ 0x40..=0x57 => (at + 1, usize::from(h - 0x40)),
        0x58 => (at + 2, usize::from(cert[at + 1])),
        0x59 => (
            at + 3,
            usize::from(u16::from_be_bytes([cert[at + 1], cert[at + 2]])),
        ),
        0x5a => (
            at + 5,
            u32::from_be_bytes(cert[at + 1..at + 5].try_into().unwrap()) as usize,
        ),
        h => panic!("the body is not a byte string (header {h:#04x})"),
    };
    start..start + len
}

/// The single-byte changes of `cert` that [`SignedCertificate::from_bytes`]
/// accepts: every mask on every byte of the envelope outside the body, and
/// a few masks on every byte of the body (whose signature covers it).
fn accepted_byte_changes(cert: &[u8]) -> Vec<String> {
    let body = body_range(cert);
    let mut accepted = Vec::new();
    for i in 0..cert.len() {
        let masks: Vec<u8> = if body.contains(&i) {
            vec![0x01, 0x20, 0x80]
        } else {
            (1..=255).collect()
        };
        for mask in masks {
            let mut bytes = cert.to_vec();
            bytes[i] ^= mask;
            match catch_unwind(|| SignedCertificate::from_bytes(&bytes).map(|c| c.digest())) {
                Err(_) => panic!("from_bytes panicked on byte {i} ^ {mask:#04x}"),
                Ok(Ok(digest)) => accepted.push(format!(
                    "byte {i} ({:#04x}) ^ {mask:#04x}: digest {digest}",
                    cert[i]
                )),
                Ok(Err(_)) => {}
            }
        }
    }
    accepted
}

/// One changed byte of a certificate read on its own (no bundle, no
/// manifest): whatever it hits - the envelope's keys, the text/bytes major
/// types, the version, the key id, the signature - the file is refused, so
/// no one without the key makes another accepted encoding (another digest).
#[test]
fn every_single_byte_change_of_a_certificate_file_is_refused() {
    let accepted = accepted_byte_changes(&fixture().xor[XOR_CERT]);
    assert!(
        accepted.is_empty(),
        "accepted altered files:\n{}",
        accepted.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 3. Whole-file attacks
// ---------------------------------------------------------------------------

#[test]
fn another_models_weights_are_refused_at_every_depth() {
    let f = fixture();
    let key = key_a();
    let pubkey = key.public();
    let acas_graph = axiom_core::onnx::parse(&f.acas["mini_acas/model.onnx"], "acas").unwrap();
    let acas_digest = acas_graph.digest().to_string();

    // Swapped in as they are: the manifest lists other digests.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(
        root.join("xor/weights.safetensors"),
        &f.acas["mini_acas/weights.safetensors"],
    )
    .unwrap();
    std::fs::write(root.join("xor/model.onnx"), &f.acas["mini_acas/model.onnx"]).unwrap();
    let (check, reason) = rejected(&root, &pubkey, Recheck::None);
    assert_eq!(check, "files", "{reason}");
    assert!(reason.contains("differs from the manifest"), "{reason}");

    // The manifest's file digests rewritten and signed again: the model's
    // digest is not the one listed.
    resign_manifest(&root, &key, |_| {});
    let (check, reason) = rejected(&root, &pubkey, Recheck::None);
    assert_eq!(check, "model xor", "{reason}");
    assert!(
        reason.contains("digest is not the one the manifest lists"),
        "{reason}"
    );

    // ... and its model digest too: the certificates are about other files.
    resign_manifest(&root, &key, |m| m.models[0].digest = acas_digest.clone());
    let (check, reason) = rejected(&root, &pubkey, Recheck::None);
    // (the first certificate the manifest lists)
    assert_eq!(check, format!("certificate {XOR_CERT}"), "{reason}");
    assert!(
        reason.contains("xor/model.onnx is not the file the certificate was made for"),
        "{reason}"
    );

    // Only the weights swapped (the ONNX file kept): they are not its weights.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(
        root.join("xor/weights.safetensors"),
        &f.acas["mini_acas/weights.safetensors"],
    )
    .unwrap();
    resign_manifest(&root, &key, |_| {});
    let (check, reason) = rejected(&root, &pubkey, Recheck::None);
    assert_eq!(check, "model xor", "{reason}");
    assert!(
        reason.contains("does not hold exactly the weights of xor/model.onnx"),
        "{reason}"
    );

    // The same tensors from another certification (key B's bundle): their
    // metadata names other certificates.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(
        root.join("xor/weights.safetensors"),
        &f.xor_b["xor/weights.safetensors"],
    )
    .unwrap();
    resign_manifest(&root, &key, |_| {});
    let (check, reason) = rejected(&root, &pubkey, Recheck::None);
    assert_eq!(check, "model xor", "{reason}");
    assert!(
        reason.contains("does not name exactly the model's certificates"),
        "{reason}"
    );
}

#[test]
fn a_certificate_signed_by_another_key_is_refused() {
    let f = fixture();
    let (a, b) = (key_a(), key_b());
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(root.join(XOR_CERT), &f.xor_b[XOR_CERT]).unwrap();
    let (check, reason) = rejected(&root, &a.public(), Recheck::None);
    assert_eq!(check, "files", "{reason}");
    assert!(reason.contains(XOR_CERT), "{reason}");
    // With the manifest signed again by A, the certificate's signer is
    // what gives it away.
    resign_manifest(&root, &a, |_| {});
    let (check, reason) = rejected(&root, &a.public(), Recheck::None);
    assert_eq!(check, format!("certificate {XOR_CERT}"), "{reason}");
    assert!(
        reason.contains(&format!(
            "signed by key {}, not by the expected key {}",
            b.public().id(),
            a.public().id()
        )),
        "{reason}"
    );

    // B's whole bundle checked against A's key, by the CLI.
    let (_, a_pub) = write_key(dir.path(), "a.key", SEED_A);
    let b_root = dir.path().join("b");
    write_tree(&b_root, &f.xor_b);
    let o = axiom(&["cert", "verify", p(&b_root), "--pubkey", p(&a_pub)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("FAILED: check 'manifest signature' failed: "),
        "{}",
        stdout(&o)
    );
    // A certificate of B's bundle, on its own, against A's key.
    let lone = dir.path().join("lone.cert");
    std::fs::write(&lone, &f.xor_b[XOR_CERT]).unwrap();
    let o = axiom(&["cert", "verify", p(&lone), "--pubkey", p(&a_pub)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("FAILED: check 'signature' failed: signed by key"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn truncated_files_are_refused() {
    let f = fixture();
    let key = key_a();
    let original = &f.xor[XOR_CERT];
    for len in [0, 1, original.len() / 2, original.len() - 1] {
        let e = SignedCertificate::from_bytes(&original[..len])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a certificate") || e.contains("truncated"),
            "{len}: {e}"
        );
    }
    let e = SignedCertificate::from_bytes(&original[..original.len() / 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(root.join(XOR_CERT), &original[..original.len() / 2]).unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "files", "{reason}");
    resign_manifest(&root, &key, |_| {});
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, format!("certificate {XOR_CERT}"), "{reason}");
    assert!(reason.contains("truncated"), "{reason}");

    // A truncated manifest does not open; the CLI says so and exits 1.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    let manifest = &f.xor[MANIFEST];
    std::fs::write(root.join(MANIFEST), &manifest[..manifest.len() / 2]).unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "open");
    assert!(reason.contains("not a valid manifest"), "{reason}");
    let (_, public) = write_key(dir.path(), "a.key", SEED_A);
    let o = axiom(&["cert", "verify", p(&root), "--pubkey", p(&public)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("FAILED: check 'manifest' failed: "),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("not a valid manifest"),
        "{}",
        stdout(&o)
    );

    // A missing file, an extra file, a missing signature.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::remove_file(root.join("xor/weights.safetensors")).unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "files", "{reason}");
    assert!(reason.contains("xor/weights.safetensors"), "{reason}");
    let root = dir.path().join("extra");
    write_tree(&root, &f.xor);
    std::fs::write(root.join("xor/extra.cert"), original).unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "files", "{reason}");
    assert!(
        reason.contains("xor/extra.cert is in the bundle but not in its manifest"),
        "{reason}"
    );
    std::fs::remove_file(root.join(MANIFEST_SIG)).unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "open", "{reason}");
}

#[test]
fn a_future_format_version_is_refused_by_name() {
    let f = fixture();
    let key = key_a();
    let v2 = with_envelope_major(&f.xor[XOR_CERT], 2);
    let e = SignedCertificate::from_bytes(&v2).unwrap_err().to_string();
    assert!(
        e.contains("certificate format version 2.0 is not supported"),
        "{e}"
    );
    // Version 1 through the same edit is the file itself.
    assert_eq!(with_envelope_major(&f.xor[XOR_CERT], 1), f.xor[XOR_CERT]);

    // In a bundle (the manifest signed again), the certificate check says so.
    let dir = tempfile::tempdir().unwrap();
    let root = place(dir.path(), &f.xor);
    std::fs::write(root.join(XOR_CERT), &v2).unwrap();
    resign_manifest(&root, &key, |_| {});
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, format!("certificate {XOR_CERT}"), "{reason}");
    assert!(reason.contains("version 2.0 is not supported"), "{reason}");

    // `axiom cert show` and `cert verify` of the file on its own.
    let lone = dir.path().join("v2.cert");
    std::fs::write(&lone, &v2).unwrap();
    for args in [
        vec!["cert", "show", p(&lone)],
        vec!["cert", "verify", p(&lone)],
    ] {
        let o = axiom(&args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(
            stdout(&o).contains("version 2.0 is not supported"),
            "{}",
            stdout(&o)
        );
    }

    // A manifest of bundle format 2.
    let text = String::from_utf8(f.xor[MANIFEST].clone()).unwrap();
    let pattern = "\"version\": {\n    \"major\": 1,";
    assert_eq!(text.matches(pattern).count(), 1, "{text}");
    std::fs::write(
        root.join(MANIFEST),
        text.replace(pattern, "\"version\": {\n    \"major\": 2,"),
    )
    .unwrap();
    let (check, reason) = rejected(&root, &key.public(), Recheck::None);
    assert_eq!(check, "open", "{reason}");
    assert!(
        reason.contains("bundle format version 2.0 is not supported"),
        "{reason}"
    );
}

#[test]
fn what_is_not_a_certificate_is_refused_without_panicking() {
    let f = fixture();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let json = f.xor[&format!("{XOR_CERT}.json")].clone();
    let cases: [(&str, &[u8], &str); 6] = [
        ("empty", b"", "not a certificate"),
        ("random", &random, "not"),
        ("JSON view", &json, "not"),
        ("a manifest", &f.xor[MANIFEST], "not"),
        ("an ONNX file", &f.xor["xor/model.onnx"], "not"),
        ("CBOR but not a map", b"\x83\x01\x02\x03", "not a CBOR map"),
    ];
    for (what, bytes, want) in cases {
        let outcome = catch_unwind(|| SignedCertificate::from_bytes(bytes).map(|_| ()));
        let e = outcome
            .unwrap_or_else(|_| panic!("{what}: from_bytes panicked"))
            .expect_err(what)
            .to_string();
        assert!(e.contains(want), "{what}: {e}");
    }
    // `axiom cert show` of the JSON view: exit 1, named.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("view.json");
    std::fs::write(&path, &json).unwrap();
    let o = axiom(&["cert", "show", p(&path)]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("FAILED: check 'certificate' failed: "),
        "{}",
        stdout(&o)
    );
}

// ---------------------------------------------------------------------------
// 4. Forged evidence, properly signed: only the re-check catches it
// ---------------------------------------------------------------------------

#[test]
fn proof_trees_that_do_not_cover_the_region_fail_the_recheck() {
    let xor = &fixture().xor;
    let dir = tempfile::tempdir().unwrap();

    // The root box shrunk: it no longer contains the case's box.
    let root = forge(&dir.path().join("a"), xor, XOR_CERT, |c| {
        proof_cases(c)[0].lower[0] = Exact(1, -3);
    });
    only_the_recheck_catches(
        &root,
        XOR_CERT,
        &[
            "the proof does not hold",
            "root box does not contain the case's box in X_0",
        ],
    );

    // `bounded` splits once; its second leaf loses its refutation.
    let bounded = "xor/bounded.cert";
    let root = forge(&dir.path().join("b"), xor, bounded, |c| {
        let nodes = &mut proof_cases(c)[0].nodes;
        assert!(matches!(nodes[0], NodeData::Split { .. }), "{nodes:?}");
        let Some(NodeData::Leaf { refutations }) = nodes.last_mut() else {
            panic!("{nodes:?}")
        };
        refutations.clear();
    });
    only_the_recheck_catches(
        &root,
        bounded,
        &["the proof does not hold", "not refuted on this leaf"],
    );

    // The split and its subtrees replaced by one leaf with the split's
    // refutation only: the other disjunct is left unrefuted.
    let root = forge(&dir.path().join("c"), xor, bounded, |c| {
        let nodes = &mut proof_cases(c)[0].nodes;
        let NodeData::Split { refutations, .. } = nodes[0].clone() else {
            panic!("{nodes:?}")
        };
        *nodes = vec![NodeData::Leaf { refutations }];
    });
    only_the_recheck_catches(
        &root,
        bounded,
        &["disjunct 1 of the output condition is not refuted"],
    );

    // The case dropped.
    let root = forge(&dir.path().join("d"), xor, XOR_CERT, |c| {
        proof_cases(c).clear()
    });
    only_the_recheck_catches(&root, XOR_CERT, &["no proof for this case"]);

    // A tree that does not close.
    let root = forge(&dir.path().join("e"), xor, bounded, |c| {
        proof_cases(c)[0].nodes.pop();
    });
    only_the_recheck_catches(&root, bounded, &["ends early"]);
}

#[test]
fn perturbed_bound_data_fails_the_recheck() {
    let xor = &fixture().xor;
    let dir = tempfile::tempdir().unwrap();
    for (name, m) in [("zero", Exact(0, 0)), ("negated", Exact(-1, 0))] {
        let root = forge(&dir.path().join(name), xor, XOR_CERT, |c| {
            let ms = multipliers(c, 0);
            assert_eq!(ms[..], [Exact(1, 0)]);
            ms[0] = m;
        });
        only_the_recheck_catches(&root, XOR_CERT, &["non-negative numbers, not all zero"]);
    }
    // The root box grown to the whole domain (it still contains the case's
    // box): the leaf's bound no longer implies the condition there.
    let root = forge(&dir.path().join("grown"), xor, XOR_CERT, |c| {
        proof_cases(c)[0].upper = vec![Exact(1, 0), Exact(1, 0)];
    });
    only_the_recheck_catches(&root, XOR_CERT, &["the proof does not hold", "not above 0"]);
    // A multiplier that is not exactly a float.
    let root = forge(&dir.path().join("inexact"), xor, XOR_CERT, |c| {
        multipliers(c, 0)[0] = Exact(2, 0)
    });
    only_the_recheck_catches(&root, XOR_CERT, &["not canonical"]);
}

#[test]
fn an_altered_rewrite_chain_fails_the_recheck() {
    let classifier = &fixture().classifier;
    let dir = tempfile::tempdir().unwrap();
    let cert = "classifier/sums_to_one.cert";
    let root = forge(&dir.path().join("a"), classifier, cert, |c| {
        let line = &mut chain(c)[2];
        let forged = line.replace("softmax-sum 1", "softmax-sum 2");
        assert_ne!(*line, forged, "{line}");
        *line = forged;
    });
    only_the_recheck_catches(&root, cert, &["the rewrite chain does not replay"]);

    // An index changed in one line of another chain.
    let cert = "classifier/nonnegative.cert";
    let root = forge(&dir.path().join("b"), classifier, cert, |c| {
        let line = &mut chain(c)[2];
        let forged = line.replace("(softmax z)) 2)", "(softmax z)) 1)");
        assert_ne!(*line, forged, "{line}");
        *line = forged;
    });
    only_the_recheck_catches(&root, cert, &["the rewrite chain does not replay"]);

    // A step skipped.
    let root = forge(&dir.path().join("c"), classifier, cert, |c| {
        chain(c).remove(1);
    });
    only_the_recheck_catches(&root, cert, &["the rewrite chain does not replay"]);

    // The CLI: exit 0 without --recheck, 1 with it, naming the check.
    let (_, public) = write_key(dir.path(), "a.key", SEED_A);
    let o = axiom(&["cert", "verify", p(&root), "--pubkey", p(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = axiom(&[
        "cert",
        "verify",
        p(&root),
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!(
            "FAILED: check 'certificate {cert}' failed: the rewrite chain does not replay"
        )),
        "{}",
        stdout(&o)
    );
}

/// Regression: a rewrite chain proves its goal; a certificate must not also
/// state a (possibly false) property that the chain would then seem to
/// vouch for. Such a certificate cannot be signed, and a proof certificate
/// cannot carry a goal either.
#[test]
fn a_certificate_states_only_what_its_evidence_is_about() {
    let classifier = &fixture().classifier;
    let mut c = decode(&classifier["classifier/nonnegative.cert"]).certificate;
    assert!(c.obligation.property.is_none() && c.obligation.goal.is_some());
    // Claimed: no input of the domain gives y[2] >= 0 (i.e. y[2] < 0
    // everywhere), false for a softmax; the chain proves y[2] >= 0.
    let property = axiom_core::vnnlib::parse(
        "(declare-const X_0 Real)(declare-const X_1 Real)\
         (declare-const Y_0 Real)(declare-const Y_1 Real)(declare-const Y_2 Real)\
         (assert (>= X_0 -1))(assert (<= X_0 1))(assert (>= X_1 -1))(assert (<= X_1 1))\
         (assert (>= Y_2 0))",
    )
    .unwrap();
    let data = PropertyData::from_property(&property);
    c.obligation.text = "prove nonnegative: forall x in domain => y[2] < 0".into();
    c.obligation.digest =
        axiom_certs::cert::ObligationInfo::parsed_digest(Some(&data), c.obligation.goal.as_deref())
            .unwrap();
    c.obligation.property = Some(data);
    let e = c.sign(&key_a()).unwrap_err().to_string();
    assert!(e.contains("no property"), "{e}");

    let xor = &fixture().xor;
    let mut c = decode(&xor["xor/bounded.cert"]).certificate;
    assert!(c.obligation.property.is_some() && c.obligation.goal.is_none());
    c.obligation.goal = Some("(<= (idx y 0) 1000)".into());
    c.obligation.digest = axiom_certs::cert::ObligationInfo::parsed_digest(
        c.obligation.property.as_ref(),
        c.obligation.goal.as_deref(),
    )
    .unwrap();
    let e = c.sign(&key_a()).unwrap_err().to_string();
    assert!(e.contains("no goal"), "{e}");
}

#[test]
fn a_forged_counterexample_fails_the_recheck_of_a_lone_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = write_key(dir.path(), "a.key", SEED_A);
    let cert = dir.path().join("high.cert");
    let o = axiom(&[
        "verify",
        &example("models/xor.onnx"),
        &example("properties/xor_high.vnnlib"),
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "sat: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let signed = decode(&std::fs::read(&cert).unwrap());
    assert_eq!(signed.certificate.verdict, VerdictKind::Disproved);
    let model = example("models/xor.onnx");
    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        &model,
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("disproved") && stdout(&o).contains("counterexample meets"),
        "{}",
        stdout(&o)
    );

    // The input moved to the origin, where XOR is low; signed again.
    let mut c = signed.certificate;
    let CertEvidence::Counterexample(data) = &mut c.evidence else {
        panic!("{:?}", c.evidence)
    };
    data.input = vec![Exact(0, 0), Exact(0, 0)];
    std::fs::write(&cert, c.sign(&key_a()).unwrap().to_bytes()).unwrap();
    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        &model,
        "--pubkey",
        p(&public),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        &model,
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("the counterexample does not hold"),
        "{}",
        stdout(&o)
    );
}

// ---------------------------------------------------------------------------
// 5. Determinism
// ---------------------------------------------------------------------------

/// A certificate with what may differ between runs (the time) fixed.
fn normalized(bytes: &[u8]) -> Vec<u8> {
    let mut c = decode(bytes).certificate;
    c.created = "2026-01-01T00:00:00Z".into();
    c.timings = Timings {
        solve_us: 0,
        check_us: 0,
    };
    to_canonical_cbor(&c).unwrap()
}

#[test]
fn certifying_twice_gives_the_same_certificates() {
    for (spec, first) in [
        ("specs/xor.axiom", &fixture().xor),
        ("specs/classifier.axiom", &fixture().classifier),
    ] {
        let second = certify_files(spec, SEED_A);
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            second.keys().collect::<Vec<_>>(),
            "{spec}: the same files"
        );
        let m1: Manifest = serde_json::from_slice(&first[MANIFEST]).unwrap();
        let m2: Manifest = serde_json::from_slice(&second[MANIFEST]).unwrap();
        assert_eq!(m1.models.len(), 1);
        assert_eq!(
            m1.models[0].certificates, m2.models[0].certificates,
            "{spec}"
        );
        for path in &m1.models[0].certificates {
            let (a, b) = (normalized(&first[path]), normalized(&second[path]));
            if a != b {
                assert_eq!(
                    decode(&first[path]).to_json(),
                    decode(&second[path]).to_json(),
                    "{spec}: {path}"
                );
            }
            assert_eq!(a, b, "{spec}: {path}");
        }
        let model = &m1.models[0];
        for path in [
            &model.onnx,
            &bundle::SPEC.to_string(),
            &bundle::SIGNER_PUB.to_string(),
        ] {
            assert!(first[path] == second[path], "{spec}: {path} differs");
        }
        // The weights' metadata names the certificates (whose digests cover
        // the time): the tensors and the model digest are the same.
        let w1 = axiom_core::safetensors_io::parse(&first[&model.weights]).unwrap();
        let w2 = axiom_core::safetensors_io::parse(&second[&model.weights]).unwrap();
        assert_eq!(
            bundle::tensors_digest(w1.tensors()),
            bundle::tensors_digest(w2.tensors()),
            "{spec}"
        );
        assert_eq!(
            w1.metadata()[bundle::META_MODEL_DIGEST],
            w2.metadata()[bundle::META_MODEL_DIGEST]
        );
        assert_eq!(w1.metadata()[bundle::META_MODEL_DIGEST], model.digest);
    }
}

// ---------------------------------------------------------------------------
// 6. `axiom verify --cert` and 7. `axiom cert show`
// ---------------------------------------------------------------------------

#[test]
fn verify_writes_a_certificate_that_cert_verify_checks_against_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = write_key(dir.path(), "a.key", SEED_A);
    let cert = dir.path().join("low.cert");
    let model = example("models/xor.onnx");
    let property = example("properties/xor_low.vnnlib");
    let o = axiom(&[
        "verify",
        &model,
        &property,
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).trim(), "unsat");
    assert!(stderr(&o).contains("certificate "), "{}", stderr(&o));
    let signed = decode(&std::fs::read(&cert).unwrap());
    assert_eq!(signed.certificate.verdict, VerdictKind::Proved);
    assert_eq!(signed.certificate.obligation.name, "xor_low");

    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        &model,
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("proved") && stdout(&o).contains("re-checked"),
        "{}",
        stdout(&o)
    );

    // Another model file.
    let acas = example("models/mini_acas.onnx");
    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        &acas,
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).starts_with("FAILED: check 'model' failed: ")
            && stdout(&o).contains("mini_acas.onnx is not the model file"),
        "{}",
        stdout(&o)
    );

    // --recheck needs --model; without --recheck the signature alone.
    let o = axiom(&[
        "cert",
        "verify",
        p(&cert),
        "--pubkey",
        p(&public),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("--model"), "{}", stderr(&o));
    let o = axiom(&["cert", "verify", p(&cert), "--pubkey", p(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("model not checked"), "{}", stdout(&o));

    // A used --cert is refused before anything is read or solved (here the
    // model does not even exist), and left as it was.
    let before = std::fs::read(&cert).unwrap();
    let missing = dir.path().join("missing.onnx");
    let o = axiom(&[
        "verify",
        p(&missing),
        &property,
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("--cert") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("missing.onnx"), "{}", stderr(&o));
    let o = axiom(&[
        "verify",
        &model,
        &property,
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(std::fs::read(&cert).unwrap(), before);
    // With --force it is replaced (by an equally valid certificate).
    let o = axiom(&[
        "verify",
        &model,
        &property,
        "--cert",
        p(&cert),
        "--key",
        p(&key),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        decode(&std::fs::read(&cert).unwrap()).certificate.verdict,
        VerdictKind::Proved
    );
}

#[test]
fn cert_show_prints_the_certificate_as_json() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("low.cert");
    std::fs::write(&path, &f.xor[XOR_CERT]).unwrap();
    let o = axiom(&["cert", "show", p(&path)]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("\"verdict\""), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["body"]["verdict"], "proved", "{v}");
    assert_eq!(v["body"]["obligation"]["name"], "low_near_origin", "{v}");
    assert_eq!(v["format"], "axiom-certificate");
    assert_eq!(v["digest"], hex::encode(Sha256::digest(&f.xor[XOR_CERT])));
    assert_eq!(v["signature"]["key_id"], key_a().public().id());
    // The bundle's JSON view is the same text.
    assert_eq!(
        text.trim_end(),
        String::from_utf8_lossy(&f.xor[&format!("{XOR_CERT}.json")]).trim_end()
    );
}
