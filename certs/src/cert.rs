//! The certificate: what was proved about which weights, by which tool,
//! with the evidence, signed.
//!
//! # Encoding
//!
//! A certificate file is one CBOR map, the *envelope*:
//!
//! | key | value |
//! |---|---|
//! | `format` | the text `axiom-certificate` |
//! | `version` | `{major, minor}` of the format (this reader: 1.x) |
//! | `body` | a byte string: the [`Certificate`] in canonical CBOR |
//! | `signature` | `{algorithm: "ed25519", key_id, public_key, value}` |
//!
//! The signature is ed25519 over `sha256(body)`. Canonical CBOR here is
//! RFC 8949's deterministic encoding: shortest integer and length forms,
//! definite lengths, map keys sorted by their encoded bytes, no duplicate
//! keys, and no floats or tags anywhere (exact values are integers or
//! strings, see [`crate::wire`]). A reader re-encodes what it decoded and
//! refuses bytes that differ, so one certificate has exactly one encoding.
//! A reader refuses an unknown major version before reading anything else.
//!
//! The certificate's digest (what weights files and Lean exports name) is
//! the sha256 of the whole file.

use std::collections::BTreeMap;

use ciborium::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use crate::keys::{PublicKey, SecretKey};
use crate::wire::{CaseProofData, CounterexampleData, PropertyData};

/// The format this code writes.
pub const FORMAT_MAJOR: u32 = 1;
pub const FORMAT_MINOR: u32 = 0;
/// The envelope's `format` text.
pub const CERTIFICATE_FORMAT: &str = "axiom-certificate";
/// The most bytes a certificate file may have (a hostile file cannot make
/// the reader allocate without bound).
pub const MAX_CERTIFICATE_BYTES: usize = 1 << 30;

/// Why a certificate cannot be read or does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CertError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, CertError> {
    Err(CertError(msg.into()))
}

// ciborium's errors display as their Debug form (`Io(Error { kind:
// UnexpectedEof, .. })`, `Custom("missing field ..")`); these say the same
// for a person.

/// Why `subject` ("the file", "the certificate body"), `len` bytes long,
/// is not CBOR, as a sentence.
fn cbor_read_error(e: &ciborium::de::Error<std::io::Error>, subject: &str, len: usize) -> String {
    use ciborium::de::Error as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("{subject} ends early, after {len} bytes: it is truncated or damaged")
        }
        E::Io(io) => format!("{subject} cannot be read: {io}"),
        E::Syntax(at) => format!("byte {at} of {subject} is not valid CBOR: it is damaged"),
        E::Semantic(Some(at), msg) => {
            format!("the value at byte {at} of {subject} is not valid ({msg}): it is damaged")
        }
        E::Semantic(None, msg) => {
            format!("a value in {subject} is not valid ({msg}): it is damaged")
        }
        E::RecursionLimitExceeded => {
            format!("{subject} nests values deeper than any certificate does: it is damaged")
        }
    }
}

/// What serde said about a CBOR value of the wrong shape ("missing field
/// `body`", "invalid type: ...").
fn value_error(e: ciborium::value::Error) -> String {
    match e {
        ciborium::value::Error::Custom(msg) => msg,
    }
}

/// Why a value could not be encoded (into memory, so never for lack of
/// space).
fn encode_error<T: std::fmt::Display>(e: ciborium::ser::Error<T>) -> CertError {
    CertError(match e {
        ciborium::ser::Error::Io(io) => format!("cannot encode: {io}"),
        ciborium::ser::Error::Value(msg) => format!("cannot encode: {msg}"),
    })
}

/// A format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const CURRENT: Version = Version {
        major: FORMAT_MAJOR,
        minor: FORMAT_MINOR,
    };
}

/// A name and a version (the tool, a solver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVersion {
    pub name: String,
    pub version: String,
}

/// How a file's digest is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestKind {
    /// sha256 of the file's bytes.
    Bytes,
    /// sha256 of a safetensors file's tensors (names, shapes, values; see
    /// [`crate::bundle::tensors_digest`]), not of its bytes, so that the
    /// certificate digests its metadata names do not change it.
    Tensors,
}

/// A file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: String,
    pub kind: DigestKind,
    pub sha256: String,
}

/// Which model the certificate is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// The canonical model digest of `axiom-core` (the network's function:
    /// structure and every float32 weight).
    pub digest: String,
    /// The files of the bundle that hold the model (paths relative to the
    /// bundle), or of the model file for a certificate made outside one.
    pub files: Vec<FileDigest>,
    /// The files the model was read from when it was proved (for
    /// provenance), with their byte digests.
    pub sources: Vec<FileDigest>,
}

/// What was to be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationInfo {
    /// The obligation's name (or the property file's name).
    pub name: String,
    /// Its source text, as written.
    pub text: String,
    /// The spec (or property) file it came from, and its line.
    pub source: Option<String>,
    pub line: Option<u32>,
    /// The property: its unsafe set, exactly. Present exactly when the
    /// evidence is a proof tree or a counterexample (or, for `unknown`,
    /// when the obligation has this form).
    pub property: Option<PropertyData>,
    /// The rewriter's goal s-expression, a statement about every input.
    /// Present exactly when the evidence is a rewrite chain (or, for
    /// `unknown`, when the obligation has this form).
    pub goal: Option<String>,
    /// sha256 of the canonical CBOR of `[property, goal]`: the parsed form.
    pub digest: String,
}

impl ObligationInfo {
    /// The digest of the parsed form.
    pub fn parsed_digest(
        property: Option<&PropertyData>,
        goal: Option<&str>,
    ) -> Result<String, CertError> {
        Ok(hex::encode(Sha256::digest(to_canonical_cbor(&(
            property, goal,
        ))?)))
    }
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Proved,
    Disproved,
    Unknown,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Proved => "proved",
            VerdictKind::Disproved => "disproved",
            VerdictKind::Unknown => "unknown",
        }
    }
}

/// Why the verdict holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertEvidence {
    /// Nothing was shown (verdict `unknown`), and why.
    None { reason: String },
    /// The rewriter's chain from `obligation.goal` to `true` (egg's flat
    /// explanation, one term a line).
    Rewrite {
        chain: Vec<String>,
        rules: Vec<String>,
    },
    /// A branch-and-bound proof, one tree per case of the property.
    Proof { cases: Vec<CaseProofData> },
    /// An input that violates the property.
    Counterexample(CounterexampleData),
}

/// Wall-clock times, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    pub solve_us: u64,
    pub check_us: u64,
}

/// A certificate's content (the signed body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub format: Version,
    pub tool: NameVersion,
    pub model: ModelInfo,
    pub obligation: ObligationInfo,
    pub verdict: VerdictKind,
    pub evidence: CertEvidence,
    pub solvers: Vec<NameVersion>,
    /// Engine options (`timeout`, `seed`, `split`, ...), by name.
    pub options: BTreeMap<String, String>,
    pub timings: Timings,
    /// UTC, RFC 3339 (`2026-11-23T12:00:00Z`).
    pub created: String,
    /// The signing key's id.
    pub signer: String,
}

impl Certificate {
    /// Checks that the parts agree with each other: the format version, the
    /// verdict with its kind of evidence, the obligation digest.
    pub fn check_consistency(&self) -> Result<(), CertError> {
        if self.format.major != FORMAT_MAJOR {
            return err(format!(
                "the body's format version {}.{} is not supported",
                self.format.major, self.format.minor
            ));
        }
        let fits = matches!(
            (self.verdict, &self.evidence),
            (
                VerdictKind::Proved,
                CertEvidence::Rewrite { .. } | CertEvidence::Proof { .. }
            ) | (VerdictKind::Disproved, CertEvidence::Counterexample(_))
                | (VerdictKind::Unknown, CertEvidence::None { .. })
        );
        if !fits {
            return err(format!(
                "a '{}' verdict cannot rest on this kind of evidence",
                self.verdict.as_str()
            ));
        }
        // The parsed form a verdict is about is exactly one thing, so that
        // evidence for one statement cannot vouch for another: a rewrite
        // chain proves the goal (for every input), a proof or a
        // counterexample is about the property.
        let ob = &self.obligation;
        match &self.evidence {
            CertEvidence::Rewrite { .. } if ob.goal.is_none() || ob.property.is_some() => {
                return err(
                    "a rewrite chain proves a goal: the obligation must state the goal and no property",
                );
            }
            CertEvidence::Proof { .. } | CertEvidence::Counterexample(_)
                if ob.property.is_none() || ob.goal.is_some() =>
            {
                return err(
                    "a proof or counterexample is about a property: the obligation must state the property and no goal",
                );
            }
            _ => {}
        }
        let digest = ObligationInfo::parsed_digest(
            self.obligation.property.as_ref(),
            self.obligation.goal.as_deref(),
        )?;
        if digest != self.obligation.digest {
            return err("the obligation's digest does not match its parsed form");
        }
        Ok(())
    }

    /// Signs the certificate (setting `signer` to the key's id).
    pub fn sign(mut self, key: &SecretKey) -> Result<SignedCertificate, CertError> {
        let public = key.public();
        self.signer = public.id();
        self.check_consistency()?;
        let body = to_canonical_cbor(&self)?;
        let signature = key.sign(&Sha256::digest(&body));
        let envelope = Envelope {
            format: CERTIFICATE_FORMAT.into(),
            version: self.format,
            body: ByteBuf::from(body),
            signature: SignatureData {
                algorithm: "ed25519".into(),
                key_id: public.id(),
                public_key: ByteBuf::from(public.to_bytes().to_vec()),
                value: ByteBuf::from(signature.to_vec()),
            },
        };
        let bytes = to_canonical_cbor(&envelope)?;
        Ok(SignedCertificate {
            certificate: self,
            signer: public,
            bytes,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: Version,
    body: ByteBuf,
    signature: SignatureData,
}

#[derive(Serialize, Deserialize)]
struct SignatureData {
    algorithm: String,
    key_id: String,
    public_key: ByteBuf,
    value: ByteBuf,
}

/// A certificate with a valid signature, and its file bytes.
#[derive(Debug, Clone)]
pub struct SignedCertificate {
    pub certificate: Certificate,
    /// The key that signed it (whether it is the expected one is the
    /// reader's question: see [`SignedCertificate::check_signer`]).
    pub signer: PublicKey,
    bytes: Vec<u8>,
}

impl SignedCertificate {
    /// The file's bytes.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// sha256 of the file, in hex: the certificate's digest.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// Reads a certificate file: its envelope and version, the canonical
    /// encoding, the signature (against the key it names), and the body's
    /// consistency. Whether the signer is the expected key is checked by
    /// [`SignedCertificate::check_signer`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedCertificate, CertError> {
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return err("the file is larger than any certificate may be");
        }
        if bytes.is_empty() {
            return err("not a certificate: the file is empty");
        }
        let value: Value = ciborium::from_reader(bytes).map_err(|e| {
            CertError(format!(
                "not a certificate: {}",
                cbor_read_error(&e, "the file", bytes.len())
            ))
        })?;
        // The version first, so that a future format gets a clear message.
        let Value::Map(entries) = &value else {
            return err("not a certificate: the file is not a CBOR map");
        };
        let field = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v)
        };
        if field("format").and_then(Value::as_text) != Some(CERTIFICATE_FORMAT) {
            return err("not an Axiom certificate: its 'format' is not 'axiom-certificate'");
        }
        let version: Version = field("version")
            .ok_or_else(|| CertError("the certificate has no format version".into()))?
            .deserialized()
            .map_err(|e| {
                CertError(format!(
                    "the format version is malformed: {}",
                    value_error(e)
                ))
            })?;
        if version.major != FORMAT_MAJOR {
            return err(format!(
                "certificate format version {}.{} is not supported: this axiom reads version {FORMAT_MAJOR}.x; use an axiom release that reads version {}",
                version.major, version.minor, version.major
            ));
        }
        check_canonical(&value, bytes)?;
        let envelope: Envelope = value.deserialized().map_err(|e| {
            CertError(format!(
                "the certificate's envelope is malformed: {}",
                value_error(e)
            ))
        })?;
        let sig = &envelope.signature;
        if sig.algorithm != "ed25519" {
            return err(format!(
                "unsupported signature algorithm '{}'",
                sig.algorithm
            ));
        }
        let signer = PublicKey::from_bytes(&sig.public_key).ok_or_else(|| {
            CertError("the signer's public key is not a valid ed25519 key".into())
        })?;
        if signer.id() != sig.key_id {
            return err("the signature's key id does not match its public key");
        }
        if !signer.verifies(&Sha256::digest(&envelope.body), &sig.value) {
            return err(format!(
                "the signature does not verify: the certificate was altered after key {} signed it",
                sig.key_id
            ));
        }
        let certificate: Certificate = from_canonical_cbor(&envelope.body)?;
        if certificate.format != version {
            return err("the body's format version differs from the envelope's");
        }
        if certificate.signer != sig.key_id {
            return err("the body names another signer than the signature's key");
        }
        certificate.check_consistency()?;
        Ok(SignedCertificate {
            certificate,
            signer,
            bytes: bytes.to_vec(),
        })
    }

    /// Fails unless `key` signed the certificate.
    pub fn check_signer(&self, key: &PublicKey) -> Result<(), CertError> {
        if &self.signer == key {
            Ok(())
        } else {
            err(format!(
                "signed by key {}, not by the expected key {}",
                self.signer.id(),
                key.id()
            ))
        }
    }

    /// A JSON view for reviewers: the envelope with the body decoded. Exact
    /// numbers stay in their exact forms (`[m, e]` is `m · 2^e`).
    pub fn to_json(&self) -> String {
        let view = serde_json::json!({
            "format": CERTIFICATE_FORMAT,
            "version": self.certificate.format,
            "digest": self.digest(),
            "signature": {
                "algorithm": "ed25519",
                "key_id": self.signer.id(),
                "public_key": hex::encode(self.signer.to_bytes()),
            },
            "body": self.certificate,
        });
        serde_json::to_string_pretty(&view).unwrap_or_default()
    }
}

/// Canonical CBOR bytes of a value (see the module docs).
pub fn to_canonical_cbor<T: Serialize>(v: &T) -> Result<Vec<u8>, CertError> {
    let value = Value::serialized(v)
        .map_err(|e| CertError(format!("cannot encode: {}", value_error(e))))?;
    let value = canonical(value)?;
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).map_err(encode_error)?;
    Ok(out)
}

/// Reads canonical CBOR; bytes in any other encoding are refused.
pub fn from_canonical_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CertError> {
    let value: Value = ciborium::from_reader(bytes)
        .map_err(|e| CertError(cbor_read_error(&e, "the certificate body", bytes.len())))?;
    check_canonical(&value, bytes)?;
    value.deserialized().map_err(|e| {
        CertError(format!(
            "the certificate body is malformed: {}",
            value_error(e)
        ))
    })
}

fn check_canonical(value: &Value, bytes: &[u8]) -> Result<(), CertError> {
    let canon = canonical(value.clone())?;
    let mut again = Vec::new();
    ciborium::into_writer(&canon, &mut again).map_err(encode_error)?;
    if again != bytes {
        return err(
            "the encoding is not canonical CBOR (trailing bytes, unsorted keys, or long forms): it was not written by axiom, or it was altered",
        );
    }
    Ok(())
}

/// Sorts every map by its keys' encoded bytes; refuses floats, tags and
/// duplicate keys.
fn canonical(v: Value) -> Result<Value, CertError> {
    // Iterative over an explicit stack would be longer; the nesting depth is
    // bounded by the reader's recursion limit and by the writer's types.
    Ok(match v {
        Value::Float(_) => return err("a float appears where only exact values are allowed"),
        Value::Tag(..) => return err("a CBOR tag appears; certificates use none"),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(canonical).collect::<Result<_, _>>()?)
        }
        Value::Map(entries) => {
            let mut keyed = Vec::with_capacity(entries.len());
            for (k, val) in entries {
                let k = canonical(k)?;
                let mut kb = Vec::new();
                ciborium::into_writer(&k, &mut kb).map_err(encode_error)?;
                keyed.push((kb, k, canonical(val)?));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
                return err("a map has the same key twice");
            }
            Value::Map(keyed.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        other => other,
    })
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Exact;

    fn sample_property() -> PropertyData {
        PropertyData::from_property(
            &axiom_core::vnnlib::parse(
                "(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 0))(assert (<= X_0 1))(assert (<= Y_0 0))",
            )
            .unwrap(),
        )
    }

    pub(crate) fn sample() -> Certificate {
        Certificate {
            format: Version::CURRENT,
            tool: NameVersion {
                name: "axiom".into(),
                version: "0.1.0".into(),
            },
            model: ModelInfo {
                name: "net".into(),
                digest: "00".repeat(32),
                files: vec![],
                sources: vec![],
            },
            obligation: ObligationInfo {
                name: "o".into(),
                text: "y[0] >= 0".into(),
                source: None,
                line: Some(3),
                property: Some(sample_property()),
                goal: None,
                digest: ObligationInfo::parsed_digest(Some(&sample_property()), None).unwrap(),
            },
            verdict: VerdictKind::Disproved,
            evidence: CertEvidence::Counterexample(CounterexampleData {
                case: 0,
                disjunct: 0,
                input: vec![Exact(1, -1)],
                output: vec![Exact(-3, 0)],
            }),
            solvers: vec![],
            options: BTreeMap::from([("seed".into(), "0".into())]),
            timings: Timings {
                solve_us: 5,
                check_us: 7,
            },
            created: "2026-11-23T12:00:00Z".into(),
            signer: String::new(),
        }
    }

    #[test]
    fn signed_certificates_round_trip_and_are_canonical() {
        let key = SecretKey::from_seed([1; 32]);
        let signed = sample().sign(&key).unwrap();
        let read = SignedCertificate::from_bytes(signed.to_bytes()).unwrap();
        assert_eq!(read.certificate, signed.certificate);
        assert_eq!(read.certificate.signer, key.public().id());
        read.check_signer(&key.public()).unwrap();
        assert!(read
            .check_signer(&SecretKey::from_seed([2; 32]).public())
            .is_err());
        // Signing is deterministic (ed25519), so the same content gives the
        // same bytes.
        assert_eq!(sample().sign(&key).unwrap().to_bytes(), signed.to_bytes());
        assert!(signed.to_json().contains("\"verdict\": \"disproved\""));
    }

    #[test]
    fn maps_are_sorted_and_floats_refused() {
        let bytes = to_canonical_cbor(&BTreeMap::from([("bb", 1), ("a", 2), ("c", 3)])).unwrap();
        // Shorter keys first, then bytewise: a, c, bb.
        let v: Value = ciborium::from_reader(&bytes[..]).unwrap();
        let keys: Vec<_> = v
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["a", "c", "bb"]);
        assert!(to_canonical_cbor(&1.5f64).is_err());
        // A non-canonical encoding of the same map is refused on reading.
        let mut long = Vec::new();
        ciborium::into_writer(
            &Value::Map(vec![
                (Value::Text("c".into()), Value::Integer(3.into())),
                (Value::Text("a".into()), Value::Integer(2.into())),
            ]),
            &mut long,
        )
        .unwrap();
        assert!(from_canonical_cbor::<BTreeMap<String, i32>>(&long).is_err());
    }

    #[test]
    fn unknown_major_versions_are_refused_by_name() {
        let key = SecretKey::from_seed([1; 32]);
        let signed = sample().sign(&key).unwrap();
        let mut v: Value = ciborium::from_reader(signed.to_bytes()).unwrap();
        for (k, val) in v.as_map_mut().unwrap() {
            if k.as_text() == Some("version") {
                *val = Value::serialized(&Version { major: 2, minor: 0 }).unwrap();
            }
        }
        let bytes = to_canonical_cbor(&v).unwrap();
        let e = SignedCertificate::from_bytes(&bytes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2.0 is not supported"), "{e}");
    }

    #[test]
    fn inconsistent_bodies_are_refused_even_when_signed() {
        let key = SecretKey::from_seed([1; 32]);
        let mut c = sample();
        c.verdict = VerdictKind::Proved; // with a counterexample
        assert!(c.sign(&key).is_err());
        let mut c = sample();
        c.obligation.text = "changed".into();
        c.sign(&key).unwrap(); // the text is not the parsed form
        let mut c = sample();
        c.obligation.property = None; // digest now stale, and no property
        assert!(c.sign(&key).is_err());
        // A counterexample vouches for a property, never for a goal too.
        let mut c = sample();
        c.obligation.goal = Some("(>= (idx y 0) 1)".into());
        c.obligation.digest = ObligationInfo::parsed_digest(
            c.obligation.property.as_ref(),
            c.obligation.goal.as_deref(),
        )
        .unwrap();
        let e = c.sign(&key).unwrap_err().to_string();
        assert!(e.contains("no goal"), "{e}");
    }
}
