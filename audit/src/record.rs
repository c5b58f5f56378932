//! The data model: one [`Record`] per event, its canonical JSON line, its
//! hash and its signature; and the [`Event`] a caller hands to
//! [`append`](crate::append).
//!
//! # Canonical form
//!
//! A record's line is `serde_json::to_string(&record)`: the fields in the
//! order of the struct, no whitespace, no floats, no maps, so the same
//! record has exactly one line. [`verify`](crate::verify()) compares every
//! line with the canonical line of what it parses, so a re-formatted or
//! hand-edited line is caught even where the values are unchanged.
//!
//! The `hash` is the sha256 (lowercase hex) of the canonical JSON of the
//! record without its last two fields, `hash` and `signature`: that JSON is
//! the record's line up to just before `,"hash":`, closed with `}`. The
//! signature is ed25519 over the 32 raw bytes of the hash.

use std::fmt;
use std::str::FromStr;

use axiom_certs::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuditError;

/// The `prev` of the first record: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened: the CLI command that the record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `axiom verify`.
    Verify,
    /// `axiom check`.
    Check,
    /// `axiom certify`.
    Certify,
    /// `axiom cert verify`.
    CertVerify,
    /// `axiom export`.
    Export,
    /// `axiom keygen`.
    Keygen,
    /// `axiom run` (recorded when an `ensure` is violated).
    Run,
    /// `axiom audit repair`: a torn tail was cut off the log.
    AuditRepair,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 8] = [
        Kind::Verify,
        Kind::Check,
        Kind::Certify,
        Kind::CertVerify,
        Kind::Export,
        Kind::Keygen,
        Kind::Run,
        Kind::AuditRepair,
    ];

    /// The name as the log writes it (`"cert-verify"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Verify => "verify",
            Kind::Check => "check",
            Kind::Certify => "certify",
            Kind::CertVerify => "cert-verify",
            Kind::Export => "export",
            Kind::Keygen => "keygen",
            Kind::Run => "run",
            Kind::AuditRepair => "audit-repair",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = AuditError;

    /// Parses the name as the log writes it.
    ///
    /// ```
    /// use axiom_audit::Kind;
    /// assert_eq!("cert-verify".parse::<Kind>().unwrap(), Kind::CertVerify);
    /// assert!("prove".parse::<Kind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Kind, AuditError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AuditError::UnknownKind { given: s.into() })
    }
}

/// Who acted, where, and with which signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// `$USER`, else `$LOGNAME`, else `"unknown"`.
    pub user: String,
    /// The host name, else `"unknown"`.
    pub host: String,
    /// The id of the key that signed the record; `None` when unsigned.
    pub key_id: Option<String>,
}

/// The tool that wrote the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Always `"axiom"` for records that Axiom writes.
    pub name: String,
    /// The tool's version.
    pub version: String,
}

impl Tool {
    /// `axiom` at this crate's version.
    pub fn axiom() -> Tool {
        Tool {
            name: "axiom".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// A file the command read, by path and content digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// The path as the user gave it.
    pub path: String,
    /// sha256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

impl FileDigest {
    /// The digest of `bytes`, named `path`.
    ///
    /// ```
    /// let f = axiom_audit::FileDigest::of_bytes("a.txt", b"abc");
    /// assert!(f.sha256.starts_with("ba7816bf"));
    /// ```
    pub fn of_bytes(path: impl Into<String>, bytes: &[u8]) -> FileDigest {
        FileDigest {
            path: path.into(),
            sha256: sha256_hex(bytes),
        }
    }
}

/// What the command read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The model's digest (`ModelDigest`'s hex form), when there is one model.
    pub model: Option<String>,
    /// sha256 of the spec file's bytes.
    pub spec: Option<String>,
    /// The digest of the certificate read (`cert verify`).
    pub certificate: Option<String>,
    /// Every file read, with its digest.
    pub files: Vec<FileDigest>,
}

/// One verdict of one obligation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictEntry {
    /// The model's name in the spec (or its file, for `axiom verify`).
    pub model: String,
    /// The model's digest (`ModelDigest`'s hex form), when known; lets one
    /// record carry verdicts about several models.
    pub digest: Option<String>,
    /// The obligation's name.
    pub obligation: String,
    /// `"proved"`, `"disproved"`, `"unknown"`, `"unsat"`, `"sat"`,
    /// `"timeout"`, `"error"`, `"violated"`, ...
    pub verdict: String,
    /// The digest of the certificate issued for it, if any.
    pub certificate: Option<String>,
}

/// How the command ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The process exit code.
    pub exit_code: i32,
    /// The verdicts, in the order the command reported them.
    pub verdicts: Vec<VerdictEntry>,
    /// A free-form line (an error message, what was exported, ...).
    pub detail: Option<String>,
}

/// A record's ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signer's key id ([`PublicKey::id`]).
    pub key_id: String,
    /// The signer's public key, 32 bytes in lowercase hex.
    pub public_key: String,
    /// The signature over the 32 raw bytes of the record's hash, 64 bytes in
    /// lowercase hex.
    pub value: String,
}

/// One line of the log. Field order is the canonical order (see the module
/// documentation); every field but `hash` and `signature` is hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// 1 for the first record, then one more per record.
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds: `2026-11-23T18:40:01.123Z`.
    pub time: String,
    /// The command.
    pub kind: Kind,
    /// Who ran it.
    pub actor: Actor,
    /// What wrote the record.
    pub tool: Tool,
    /// The command line, `argv` as given.
    pub command: Vec<String>,
    /// What it read.
    pub inputs: Inputs,
    /// How it ended.
    pub outcome: Outcome,
    /// The previous record's `hash`, or [`GENESIS_PREV`] for the first.
    pub prev: String,
    /// sha256 of the canonical JSON of the fields above, lowercase hex.
    pub hash: String,
    /// The ed25519 signature of `hash`, when the record is signed.
    pub signature: Option<Signature>,
}

/// The hashed part of a [`Record`]: its fields up to `prev`, borrowed, in the
/// same order (a unit test checks that its JSON is the prefix of the line).
#[derive(Serialize)]
struct HashedPart<'a> {
    seq: u64,
    time: &'a str,
    kind: Kind,
    actor: &'a Actor,
    tool: &'a Tool,
    command: &'a [String],
    inputs: &'a Inputs,
    outcome: &'a Outcome,
    prev: &'a str,
}

impl Record {
    fn hashed_part(&self) -> HashedPart<'_> {
        HashedPart {
            seq: self.seq,
            time: &self.time,
            kind: self.kind,
            actor: &self.actor,
            tool: &self.tool,
            command: &self.command,
            inputs: &self.inputs,
            outcome: &self.outcome,
            prev: &self.prev,
        }
    }

    /// The hash the record should carry: sha256 of the canonical JSON of
    /// every field but `hash` and `signature`.
    pub fn compute_hash(&self) -> String {
        sha256_hex(canonical_json(&self.hashed_part()).as_bytes())
    }

    /// The record's line in the log, without the newline.
    pub fn to_line(&self) -> String {
        canonical_json(self)
    }

    /// Fills `hash` (and `signature` and `actor.key_id` when `key` is given)
    /// from the other fields.
    pub(crate) fn seal(mut self, key: Option<&SecretKey>) -> Record {
        match key {
            Some(key) => {
                let public = key.public();
                self.actor.key_id = Some(public.id());
                self.hash = self.compute_hash();
                // `compute_hash` writes 64 hex digits, so this decodes.
                let digest = hex::decode(&self.hash).unwrap_or_default();
                self.signature = Some(Signature {
                    key_id: public.id(),
                    public_key: hex::encode(public.to_bytes()),
                    value: hex::encode(key.sign(&digest)),
                });
            }
            None => {
                self.actor.key_id = None;
                self.hash = self.compute_hash();
                self.signature = None;
            }
        }
        self
    }
}

impl Signature {
    /// The public key, when `public_key` is a valid key in canonical
    /// (lowercase) hex.
    pub fn public(&self) -> Option<PublicKey> {
        PublicKey::from_bytes(&canonical_hex(&self.public_key, 32)?)
    }

    /// The signature bytes, when `value` is 64 bytes in canonical hex.
    pub(crate) fn value_bytes(&self) -> Option<Vec<u8>> {
        canonical_hex(&self.value, 64)
    }
}

/// Decodes lowercase hex of exactly `len` bytes; `None` for anything else
/// (so `AB` and `ab`, which decode alike, cannot both be accepted).
pub(crate) fn canonical_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    let bytes = hex::decode(text).ok()?;
    (bytes.len() == len && hex::encode(&bytes) == text).then_some(bytes)
}

/// sha256 of `bytes`, lowercase hex.
///
/// ```
/// assert_eq!(
///     axiom_audit::sha256_hex(b""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The canonical JSON of a value of this module. These types hold only
/// strings, integers, options and lists, so serialisation cannot fail; were
/// it to, the result is not JSON and every check against it fails (rather
/// than panicking).
fn canonical_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("\u{0}unserialisable: {e}"))
}

/// An event to record: what the CLI knows after a command. [`append`]
/// fills in the rest (sequence number, time, actor, chain, signature).
///
/// [`append`]: crate::append
///
/// ```
/// use axiom_audit::{Event, Inputs, Kind, Outcome, VerdictEntry};
///
/// let event = Event {
///     inputs: Inputs { model: Some("ab12".repeat(16)), ..Inputs::default() },
///     outcome: Outcome {
///         exit_code: 0,
///         verdicts: vec![VerdictEntry {
///             model: "net".into(),
///             digest: None,
///             obligation: "robust".into(),
///             verdict: "proved".into(),
///             certificate: None,
///         }],
///         detail: None,
///     },
///     ..Event::new(Kind::Check, ["axiom", "check", "spec.axiom"])
/// };
/// assert_eq!(event.command.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The command.
    pub kind: Kind,
    /// `argv`, as given.
    pub command: Vec<String>,
    /// What it read.
    pub inputs: Inputs,
    /// How it ended.
    pub outcome: Outcome,
    /// The tool; `None` means [`Tool::axiom`].
    pub tool: Option<Tool>,
}

impl Event {
    /// An event with empty inputs and outcome (exit code 0).
    pub fn new<S: Into<String>>(kind: Kind, command: impl IntoIterator<Item = S>) -> Event {
        Event {
            kind,
            command: command.into_iter().map(Into::into).collect(),
            inputs: Inputs::default(),
            outcome: Outcome::default(),
            tool: None,
        }
    }
}

/// The user running this process: `$USER`, else `$LOGNAME`, else (on
/// Linux) the name `/etc/passwd` gives the process's real uid, else
/// `uid N`, else `"unknown"`.
pub(crate) fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown".into())
}

/// The real uid's name from /etc/passwd, else `uid N`; `None` where
/// /proc/self/status does not say (not Linux).
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let named = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid && !name.is_empty()).then(|| name.to_string())
            })
        });
    Some(named.unwrap_or_else(|| format!("uid {uid}")))
}

/// This machine's name: `/proc/sys/kernel/hostname`, else `/etc/hostname`,
/// else `$HOSTNAME`, else `"unknown"`.
pub(crate) fn current_host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(seq: u64, prev: &str, key: Option<&SecretKey>) -> Record {
        Record {
            seq,
            time: "2026-11-23T18:40:01.123Z".into(),
            kind: Kind::Certify,
            actor: Actor {
                user: "alice".into(),
                host: "lab".into(),
                key_id: None,
            },
            tool: Tool::axiom(),
            command: vec!["axiom".into(), "certify".into()],
            inputs: Inputs {
                model: Some("ab".repeat(32)),
                spec: Some("cd".repeat(32)),
                certificate: None,
                files: vec![FileDigest::of_bytes("spec.axiom", b"spec")],
            },
            outcome: Outcome {
                exit_code: 0,
                verdicts: vec![VerdictEntry {
                    model: "net".into(),
                    digest: None,
                    obligation: "robust".into(),
                    verdict: "proved".into(),
                    certificate: Some("ef".repeat(32)),
                }],
                detail: None,
            },
            prev: prev.into(),
            hash: String::new(),
            signature: None,
        }
        .seal(key)
    }

    fn keys_in_order(json: &str) -> Vec<String> {
        // The top-level keys of a one-line JSON object, in order.
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut keys: Vec<(usize, String)> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (json.find(&format!("\"{k}\":")).unwrap(), k.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn the_line_has_the_canonical_field_order() {
        let key = SecretKey::from_seed([1; 32]);
        let line = sample(1, GENESIS_PREV, Some(&key)).to_line();
        assert!(!line.contains(' '), "no whitespace: {line}");
        assert!(!line.contains('\n'));
        assert_eq!(
            keys_in_order(&line),
            [
                "seq",
                "time",
                "kind",
                "actor",
                "tool",
                "command",
                "inputs",
                "outcome",
                "prev",
                "hash",
                "signature"
            ]
        );
        assert!(line.starts_with(r#"{"seq":1,"time":"2026-11-23T18:40:01.123Z","kind":"certify","actor":{"user":"alice","host":"lab","key_id":""#));
        assert!(line.contains(r#""inputs":{"model":"abab"#));
        assert!(line.contains(r#","files":[{"path":"spec.axiom","sha256":""#));
        assert!(line.contains(r#""outcome":{"exit_code":0,"verdicts":[{"model":"net","digest":null,"obligation":"robust","verdict":"proved","certificate":"efef"#));
        assert!(line.contains(r#"],"detail":null},"prev":"0000"#));
        assert!(line.contains(r#","signature":{"key_id":""#));
        assert!(line.contains(r#"","public_key":""#));
        let unsigned = sample(1, GENESIS_PREV, None).to_line();
        assert!(unsigned.ends_with(r#","signature":null}"#), "{unsigned}");
        assert!(unsigned.contains(r#""key_id":null}"#));
    }

    #[test]
    fn the_hash_covers_the_line_up_to_the_hash_field() {
        let key = SecretKey::from_seed([1; 32]);
        for record in [
            sample(7, &"12".repeat(32), Some(&key)),
            sample(1, GENESIS_PREV, None),
        ] {
            let line = record.to_line();
            let cut = line.find(",\"hash\":").unwrap();
            let hashed = format!("{}}}", &line[..cut]);
            assert_eq!(sha256_hex(hashed.as_bytes()), record.hash);
            assert_eq!(record.compute_hash(), record.hash);
            let back: Record = serde_json::from_str(&line).unwrap();
            assert_eq!(back, record);
        }
    }

    #[test]
    fn signatures_name_their_key_and_verify() {
        let key = SecretKey::from_seed([3; 32]);
        let record = sample(1, GENESIS_PREV, Some(&key));
        let sig = record.signature.as_ref().unwrap();
        let public = sig.public().unwrap();
        assert_eq!(public, key.public());
        assert_eq!(sig.key_id, public.id());
        assert_eq!(record.actor.key_id.as_deref(), Some(sig.key_id.as_str()));
        let digest = hex::decode(&record.hash).unwrap();
        assert!(public.verifies(&digest, &sig.value_bytes().unwrap()));
        // Upper-case hex decodes to the same bytes but is not canonical.
        let upper = Signature {
            public_key: sig.public_key.to_uppercase(),
            ..sig.clone()
        };
        assert!(upper.public().is_none());
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        let e = "cert_verify".parse::<Kind>().unwrap_err().to_string();
        assert!(e.contains("cert-verify"), "{e}");
    }
}
