//! Certificates, manifests and key files cut short or damaged (issue 24):
//! every message is a sentence for a person, never a library's Debug output
//! (`Io(Error { kind: UnexpectedEof, .. })`, `Custom("..")`).

use axiom_certs::bundle::{Bundle, BundleModel, MANIFEST};
use axiom_certs::cert::{
    from_canonical_cbor, to_canonical_cbor, CertEvidence, Certificate, ModelInfo, NameVersion,
    ObligationInfo, Timings, VerdictKind, Version,
};
use axiom_certs::wire::{CounterexampleData, Exact, PropertyData};
use axiom_certs::{PublicKey, SecretKey, SignedCertificate};
use axiom_core::graph::{GraphBuilder, Op};
use ciborium::Value;

/// A network `y = x0 - x1`, and a signed counterexample certificate about it
/// (as the crate's documentation makes one).
fn signed() -> (BundleModel, SecretKey) {
    let mut b = GraphBuilder::new("diff", "x", vec![1, 2]);
    let y = b.push(
        "fc",
        Op::Gemm {
            weight: ndarray::arr2(&[[1.0, -1.0]]),
            bias: None,
        },
        0,
    );
    let graph = b.finish(y).unwrap();
    let property = axiom_core::vnnlib::parse(
        "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)
         (assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))
         (assert (>= Y_0 0.5))",
    )
    .unwrap();
    let onnx = axiom_core::onnx::to_bytes(&graph).unwrap();
    let data = PropertyData::from_property(&property);
    let certificate = Certificate {
        format: Version::CURRENT,
        tool: NameVersion {
            name: "axiom".into(),
            version: "0.1.0".into(),
        },
        model: ModelInfo {
            name: "diff".into(),
            digest: graph.digest().to_string(),
            files: axiom_certs::bundle::bundle_file_digests("diff", &onnx, &graph),
            sources: vec![],
        },
        obligation: ObligationInfo {
            name: "small".into(),
            text: "y[0] < 0.5".into(),
            source: None,
            line: None,
            digest: ObligationInfo::parsed_digest(Some(&data), None).unwrap(),
            property: Some(data),
            goal: None,
        },
        verdict: VerdictKind::Disproved,
        evidence: CertEvidence::Counterexample(CounterexampleData {
            case: 0,
            disjunct: 0,
            input: vec![Exact(1, 0), Exact(0, 0)],
            output: vec![Exact(1, 0)],
        }),
        solvers: vec![],
        options: Default::default(),
        timings: Timings {
            solve_us: 0,
            check_us: 0,
        },
        created: "2026-12-03T12:00:00Z".into(),
        signer: String::new(),
    };
    let key = SecretKey::from_seed([24; 32]);
    let signed = certificate.sign(&key).unwrap();
    let model = BundleModel {
        name: "diff".into(),
        graph,
        onnx,
        certificates: vec![signed],
    };
    (model, key)
}

/// Fails when `message` shows a Rust value's Debug form.
fn assert_sentence(message: &str, what: &str) {
    for debug in [
        "Error {",
        "kind:",
        "Io(",
        "Custom(",
        "Syntax(",
        "Semantic(",
        "Value(",
        "UnexpectedEof",
        "RecursionLimitExceeded",
        "\\\"",
    ] {
        assert!(
            !message.contains(debug),
            "{what}: the message shows {debug:?}: {message}"
        );
    }
    assert!(!message.trim().is_empty(), "{what}: an empty message");
}

#[test]
fn a_certificate_cut_short_says_where_it_ends() {
    let (model, _) = signed();
    let bytes = model.certificates[0].to_bytes().to_vec();
    let e = SignedCertificate::from_bytes(&[]).unwrap_err().to_string();
    assert_eq!(e, "not a certificate: the file is empty");
    for len in 1..bytes.len() {
        let e = SignedCertificate::from_bytes(&bytes[..len])
            .unwrap_err()
            .to_string();
        assert_sentence(&e, &format!("cut at {len}"));
        assert_eq!(
            e,
            format!(
                "not a certificate: the file ends early, after {len} bytes: it is truncated or damaged"
            )
        );
    }
    SignedCertificate::from_bytes(&bytes).unwrap();
}

#[test]
fn a_damaged_certificate_is_refused_in_sentences() {
    let (model, _) = signed();
    let bytes = model.certificates[0].to_bytes().to_vec();
    for at in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            let e = SignedCertificate::from_bytes(&damaged)
                .unwrap_err()
                .to_string();
            assert_sentence(&e, &format!("byte {at} ^ {mask:#x}"));
        }
    }
    // 0x1c is a reserved CBOR initial byte: the place is named.
    let mut damaged = bytes.clone();
    damaged[0] = 0x1c;
    let e = SignedCertificate::from_bytes(&damaged)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "not a certificate: byte 0 of the file is not valid CBOR: it is damaged"
    );
}

#[test]
fn a_well_formed_envelope_of_the_wrong_shape_says_which_field() {
    let text = |s: &str| Value::Text(s.into());
    let version = Value::Map(vec![
        (text("major"), Value::Integer(1.into())),
        (text("minor"), Value::Integer(0.into())),
    ]);
    let no_body = Value::Map(vec![
        (text("format"), text("axiom-certificate")),
        (text("version"), version),
    ]);
    let e = SignedCertificate::from_bytes(&to_canonical_cbor(&no_body).unwrap())
        .unwrap_err()
        .to_string();
    assert_sentence(&e, "no body");
    assert!(
        e.starts_with("the certificate's envelope is malformed: missing field"),
        "{e}"
    );
    let bad_version = Value::Map(vec![
        (text("format"), text("axiom-certificate")),
        (text("version"), text("one")),
    ]);
    let e = SignedCertificate::from_bytes(&to_canonical_cbor(&bad_version).unwrap())
        .unwrap_err()
        .to_string();
    assert_sentence(&e, "a text version");
    assert!(
        e.starts_with("the format version is malformed: invalid type: string \"one\""),
        "{e}"
    );
}

#[test]
fn a_certificate_body_cut_or_of_the_wrong_shape_is_named() {
    let (model, _) = signed();
    let body = to_canonical_cbor(&model.certificates[0].certificate).unwrap();
    let cut = body.len() / 2;
    let e = from_canonical_cbor::<Certificate>(&body[..cut])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("the certificate body ends early, after {cut} bytes: it is truncated or damaged")
    );
    let e = from_canonical_cbor::<Certificate>(&to_canonical_cbor(&7u8).unwrap())
        .unwrap_err()
        .to_string();
    assert_sentence(&e, "a number as body");
    assert!(
        e.starts_with("the certificate body is malformed: invalid type: integer `7`"),
        "{e}"
    );
}

#[test]
fn a_manifest_cut_short_or_damaged_is_named() {
    let (model, key) = signed();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bundle");
    Bundle::write(&root, None, &[model], &key).unwrap();
    let manifest = std::fs::read(root.join(MANIFEST)).unwrap();
    Bundle::open(&root).unwrap();

    std::fs::write(root.join(MANIFEST), &manifest[..manifest.len() / 2]).unwrap();
    let e = Bundle::open(&root).unwrap_err().to_string();
    assert_sentence(&e, "cut manifest");
    assert!(
        e.contains("not a valid manifest: it ends early, at line "),
        "{e}"
    );
    assert!(e.ends_with(": it is truncated"), "{e}");

    let mut damaged = manifest.clone();
    damaged[0] = b'#';
    std::fs::write(root.join(MANIFEST), &damaged).unwrap();
    let e = Bundle::open(&root).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "not a valid manifest: line 1, column 1 is not valid JSON: the file is damaged"
        ),
        "{e}"
    );

    std::fs::write(root.join(MANIFEST), b"{\"format\": \"axiom-bundle\"}").unwrap();
    let e = Bundle::open(&root).unwrap_err().to_string();
    assert_sentence(&e, "a manifest without fields");
    assert!(
        e.contains("not a valid manifest: missing field `version`"),
        "{e}"
    );
}

#[test]
fn key_files_cut_short_say_how_many_digits_they_have() {
    let key = SecretKey::from_seed([24; 32]);
    let public = key.public().to_file_text();
    let secret = key.to_file_text();
    // One digit off: odd; two digits off: a byte short.
    let cut = |text: &str, by: usize| {
        let end = text.trim_end().len() - by;
        text[..end].to_string()
    };
    let e = PublicKey::from_file_text(&cut(&public, 1), "k.pub")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("k.pub:3: 'public' is not hex: it has an odd number of digits\n"),
        "{e}"
    );
    let e = PublicKey::from_file_text(&cut(&public, 2), "k.pub")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "k.pub:3: the public key has 31 bytes (62 hex digits); it must have 32 (64 hex digits)\n"
        ),
        "{e}"
    );
    let e = SecretKey::from_file_text(&cut(&secret, 2), "k")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "k:4: the secret has 31 bytes (62 hex digits); it must have 32 (64 hex digits)\n"
        ),
        "{e}"
    );
    let e = SecretKey::from_file_text(&secret.replace("secret: ", "secret: zz"), "k")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("k:4: 'secret' is not hex: character 1 ('z') is not a hex digit\n"),
        "{e}"
    );
}
