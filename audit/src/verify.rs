//! Checking the chain: [`verify`] and [`read_records`].
//!
//! Line by line, a record must: parse; be byte-for-byte its canonical line;
//! have `seq` one more than the previous record's (1 for the first) and
//! `prev` equal to the previous record's `hash` ([`GENESIS_PREV`] for the
//! first); carry the hash of its contents; and, when signed, carry a valid
//! signature whose `key_id` is its key's id and equals `actor.key_id`.
//!
//! Which keys may sign: with trusted keys (`--pubkey`), only those;
//! without, the first signing key, for good (a change of key is a break).
//!
//! An unsigned record is not tampering: its content and its place in the
//! chain are checked like any other's, but no one vouches for who wrote it.
//! Whether that is acceptable is a policy question ([`Policy`]): by default
//! unsigned records are listed in the report ([`VerifyReport::unsigned`],
//! and those after a signed record, which anyone who can write the file
//! could have appended, in [`VerifyReport::unsigned_after_signed`]); with
//! [`Policy::require_signed`] any unsigned record fails the log. A record
//! inserted *between* signed records still breaks the chain, since the next
//! signed record's signature covers its `prev` hash.
//!
//! # What a chain cannot show
//!
//! Records deleted from the **end** leave a shorter, valid chain. The
//! report's head (the last good record's hash) is what catches that:
//! auditors write it down elsewhere and compare it with a later report,
//! whose chain must still contain it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use axiom_certs::PublicKey;

use crate::file::{FileLock, LineReader};
use crate::record::{Record, GENESIS_PREV};
use crate::AuditError;

/// The last record of the intact chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its line (1-based).
    pub line: u64,
    /// Its sequence number.
    pub seq: u64,
    /// Its hash: write it down to detect later truncation.
    pub hash: String,
}

/// The first line where the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    /// The line (1-based).
    pub line: u64,
    /// Its record's `seq`, when the line parses as a record.
    pub seq: Option<u64>,
    /// Its record's `hash` field, when the line parses as a record.
    pub hash: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

/// A damaged last line: incomplete (no newline at the end) or not a record;
/// what a crash during a write leaves, and what
/// [`repair`](crate::repair()) cuts off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The line (1-based).
    pub line: u64,
    /// The byte offset where it starts: the log's length after a repair.
    pub offset: u64,
    /// What is wrong, in words.
    pub reason: String,
}

/// What [`verify`] found. A broken chain is a finding here, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The log.
    pub path: PathBuf,
    /// Lines in the file.
    pub lines: u64,
    /// Lines that parse as records (also after a break).
    pub records: u64,
    /// Records of the intact chain, from the first up to the first break.
    pub verified: u64,
    /// Signed records among `records`.
    pub signed: u64,
    /// The ids of every key that signed a record.
    pub key_ids: BTreeSet<String>,
    /// The ids of the trusted keys given (`--pubkey`); empty for key
    /// continuity.
    pub trusted_key_ids: Vec<String>,
    /// The last record of the intact chain; `None` when there is none.
    pub head: Option<Head>,
    /// The first break, if any (a torn tail alone is not one).
    pub first_break: Option<ChainBreak>,
    /// A damaged last line, if any.
    pub torn_tail: Option<TornTail>,
    /// The lines of the intact chain's unsigned records.
    pub unsigned: Vec<u64>,
    /// Those of them after a signed record (a signed log going back to
    /// unsigned records: someone ran axiom without the key, or appended
    /// records without it).
    pub unsigned_after_signed: Vec<u64>,
    /// Whether the policy required every record to be signed.
    pub signatures_required: bool,
}

/// What [`verify_with`] accepts.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// The keys that may sign (`--pubkey`); empty for key continuity (the
    /// first signing key, for good).
    pub trusted_keys: Vec<PublicKey>,
    /// Every record must be signed (`--require-signed`): an unsigned record
    /// fails the log.
    pub require_signed: bool,
}

impl VerifyReport {
    /// Whether the whole log verifies: no break, no torn tail, and no
    /// unsigned record when signatures are required.
    pub fn is_ok(&self) -> bool {
        self.first_break.is_none()
            && self.torn_tail.is_none()
            && (self.unsigned.is_empty() || !self.signatures_required)
    }

    /// The line of the first problem, a break or the torn tail.
    pub fn first_bad_line(&self) -> Option<u64> {
        let broken = self.first_break.as_ref().map(|b| b.line);
        let torn = self.torn_tail.as_ref().map(|t| t.line);
        broken.into_iter().chain(torn).min()
    }

    /// The head hash, when there is a good record.
    pub fn head_hash(&self) -> Option<&str> {
        self.head.as_ref().map(|h| h.hash.as_str())
    }

    /// The report for a person, several lines ending with a newline.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let path = self.path.display();
        let _ = writeln!(out, "audit log: {path}");
        let keys = if self.key_ids.is_empty() {
            String::new()
        } else {
            let ids: Vec<&str> = self.key_ids.iter().map(String::as_str).collect();
            format!(" by key{} {}", plural(ids.len()), ids.join(", "))
        };
        let unsigned = self.records - self.signed;
        let _ = writeln!(
            out,
            "records: {} ({} signed{keys}, {unsigned} unsigned)",
            self.records, self.signed
        );
        if !self.trusted_key_ids.is_empty() {
            let _ = writeln!(out, "trusted keys: {}", self.trusted_key_ids.join(", "));
        }
        match &self.first_break {
            None => {
                let _ = writeln!(out, "chain: OK ({} records verified)", self.verified);
            }
            Some(b) => {
                let seq = b.seq.map(|s| format!(" (seq {s})")).unwrap_or_default();
                let _ = writeln!(out, "chain: BROKEN at line {}{seq}: {}", b.line, b.reason);
                let _ = writeln!(
                    out,
                    "  {} records verified before it; nothing after it can be trusted",
                    self.verified
                );
            }
        }
        if !self.unsigned.is_empty() {
            let n = self.unsigned.len();
            let lines = line_ranges(&self.unsigned);
            if self.signatures_required {
                let _ = writeln!(
                    out,
                    "signatures: REQUIRED, but {n} record{} unsigned (line{} {lines})",
                    if n == 1 { " is" } else { "s are" },
                    plural(n)
                );
            } else {
                let _ = writeln!(
                    out,
                    "unsigned: {n} record{} (line{} {lines}): chained and intact, but no \
                     signature says who wrote {}",
                    plural(n),
                    plural(n),
                    if n == 1 { "it" } else { "them" }
                );
            }
            if !self.unsigned_after_signed.is_empty() {
                let _ = writeln!(
                    out,
                    "  warning: line{} {} come{} after signed records: anyone who can write \
                     the log could have appended {}",
                    plural(self.unsigned_after_signed.len()),
                    line_ranges(&self.unsigned_after_signed),
                    if self.unsigned_after_signed.len() == 1 {
                        "s"
                    } else {
                        ""
                    },
                    if self.unsigned_after_signed.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                );
            }
            if !self.signatures_required {
                let _ = writeln!(
                    out,
                    "  hint: set AXIOM_AUDIT_KEY (or --audit-key) so that records are signed; \
                     `axiom audit verify --require-signed` fails on unsigned records"
                );
            }
        }
        if let Some(t) = &self.torn_tail {
            let _ = writeln!(out, "torn tail: line {}: {}", t.line, t.reason);
            if self.first_break.is_none() {
                let _ = writeln!(
                    out,
                    "  hint: a write was interrupted; run `axiom audit repair --log {path}` \
                     (it keeps a backup and cuts the damaged line off)"
                );
            }
        }
        if self.first_break.is_some() {
            let what = if self.records == 0 {
                "no line of this file is an audit record: it is not an axiom audit log, or it \
                 was overwritten"
            } else {
                "the log is broken before its last line, which `axiom audit repair` does not \
                 mend (it only cuts a line torn by a crash off the end)"
            };
            let _ = writeln!(
                out,
                "  hint: {what}; keep the file as evidence, and to go on recording move it \
                 aside (e.g. `mv {path} {path}.broken`): the next audited command starts a new \
                 log there"
            );
        }
        match &self.head {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "head: seq {} (line {}), hash {}",
                    h.seq, h.line, h.hash
                );
            }
            None => {
                let _ = writeln!(out, "head: none (no good record)");
            }
        }
        let _ = writeln!(
            out,
            "note: records deleted from the end leave a valid chain; write the head hash down \
             elsewhere and compare it later"
        );
        out
    }
}

/// `1-3, 7, 9-10` for lines 1, 2, 3, 7, 9, 10 (sorted).
fn line_ranges(lines: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            lines[i].to_string()
        } else {
            format!("{}-{}", lines[i], lines[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Which keys may sign.
#[derive(Clone, Copy)]
pub(crate) enum KeyPolicy<'a> {
    /// Only these.
    Trusted(&'a [PublicKey]),
    /// The first signing key for good.
    Continuity,
    /// Signatures must be valid, but any key may sign (for repair: a change
    /// of key is not crash damage).
    Any,
}

/// Verifies the log at `path`: see the [module documentation](self) for
/// the checks. With `trusted_keys` empty, key continuity applies; otherwise
/// every signed record must be signed by one of them.
///
/// Errors only when the file cannot be read; every finding is in the
/// report. Waits for a shared lock, so a concurrent append is never seen
/// half-written.
pub fn verify(path: &Path, trusted_keys: &[PublicKey]) -> Result<VerifyReport, AuditError> {
    verify_with(
        path,
        &Policy {
            trusted_keys: trusted_keys.to_vec(),
            require_signed: false,
        },
    )
}

/// [`verify`] under a [`Policy`]: which keys may sign, and whether every
/// record must be signed.
pub fn verify_with(path: &Path, policy: &Policy) -> Result<VerifyReport, AuditError> {
    let keys = if policy.trusted_keys.is_empty() {
        KeyPolicy::Continuity
    } else {
        KeyPolicy::Trusted(&policy.trusted_keys)
    };
    let file = File::open(path).map_err(AuditError::io(path, "open"))?;
    let _lock = FileLock::shared(&file, path)?;
    let mut report = scan(&file, path, keys, false)?.0;
    report.signatures_required = policy.require_signed;
    Ok(report)
}

/// Every line of the log that parses as a record, in order (also those
/// after a break), and the [`verify`] report with key continuity.
pub fn read_records(path: &Path) -> Result<(Vec<Record>, VerifyReport), AuditError> {
    let file = File::open(path).map_err(AuditError::io(path, "open"))?;
    let _lock = FileLock::shared(&file, path)?;
    let (report, records) = scan(&file, path, KeyPolicy::Continuity, true)?;
    Ok((records, report))
}

/// Reads the whole log from the start of `file`, checking the chain.
pub(crate) fn scan(
    mut file: &File,
    path: &Path,
    policy: KeyPolicy<'_>,
    keep: bool,
) -> Result<(VerifyReport, Vec<Record>), AuditError> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))
        .map_err(AuditError::io(path, "read"))?;
    let mut reader = LineReader::new(file);
    let mut report = VerifyReport {
        path: path.to_path_buf(),
        lines: 0,
        records: 0,
        verified: 0,
        signed: 0,
        key_ids: BTreeSet::new(),
        trusted_key_ids: match policy {
            KeyPolicy::Trusted(keys) => keys.iter().map(PublicKey::id).collect(),
            _ => vec![],
        },
        head: None,
        first_break: None,
        torn_tail: None,
        unsigned: Vec::new(),
        unsigned_after_signed: Vec::new(),
        signatures_required: false,
    };
    let mut records = Vec::new();
    let mut chain = Chain::default();
    while let Some(line) = reader.next_line().map_err(AuditError::io(path, "read"))? {
        report.lines = line.number;
        let torn = |reason: String| TornTail {
            line: line.number,
            offset: line.offset,
            reason,
        };
        if !line.newline {
            report.torn_tail = Some(torn(
                "the last line does not end with a newline (an interrupted write)".into(),
            ));
            break;
        }
        let parsed = match &line.content {
            Err(n) => Err(format!(
                "the line is {n} bytes, longer than any record ({} bytes at most)",
                crate::MAX_LINE_BYTES
            )),
            Ok(bytes) => parse(bytes),
        };
        let record = match parsed {
            Ok(record) => record,
            Err(reason) => {
                if line.last {
                    report.torn_tail = Some(torn(reason));
                } else if report.first_break.is_none() {
                    report.first_break = Some(ChainBreak {
                        line: line.number,
                        seq: None,
                        hash: None,
                        reason,
                    });
                }
                continue;
            }
        };
        report.records += 1;
        if let Some(sig) = &record.signature {
            report.signed += 1;
            report.key_ids.insert(sig.key_id.clone());
        }
        if report.first_break.is_none() {
            let bytes = line.content.as_deref().unwrap_or_default();
            match chain.check(&record, bytes, policy) {
                Ok(()) => {
                    report.verified += 1;
                    if record.signature.is_none() {
                        report.unsigned.push(line.number);
                        if chain.signer.is_some() {
                            report.unsigned_after_signed.push(line.number);
                        }
                    }
                    report.head = Some(Head {
                        line: line.number,
                        seq: record.seq,
                        hash: record.hash.clone(),
                    });
                }
                Err(reason) => {
                    report.first_break = Some(ChainBreak {
                        line: line.number,
                        seq: Some(record.seq),
                        hash: Some(record.hash.clone()),
                        reason,
                    })
                }
            }
        }
        if keep {
            records.push(record);
        }
    }
    Ok((report, records))
}

fn parse(bytes: &[u8]) -> Result<Record, String> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!(
            "the line is not UTF-8 text (a bad byte at column {})",
            e.valid_up_to() + 1
        ));
    }
    if bytes.is_empty() {
        return Err("the line is empty".into());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("the line is not a record: {e}"))
}

/// What a record is checked against: the record before it.
#[derive(Default)]
struct Chain {
    /// `seq` and `hash` of the previous record.
    prev: Option<(u64, String)>,
    /// The id and key of the last signed record.
    signer: Option<(String, PublicKey)>,
}

impl Chain {
    fn check(&mut self, record: &Record, line: &[u8], policy: KeyPolicy<'_>) -> Result<(), String> {
        check_form(record, line)?;
        match &self.prev {
            None if record.seq != 1 => {
                return Err(format!(
                    "the first record has seq {}, not 1: records at the start were removed",
                    record.seq
                ))
            }
            Some((seq, _)) if Some(record.seq) != seq.checked_add(1) => {
                return Err(format!(
                    "seq is {} but the previous record's is {seq}: records were removed, inserted or reordered",
                    record.seq
                ))
            }
            _ => {}
        }
        let prev = self.prev.as_ref().map_or(GENESIS_PREV, |(_, h)| h.as_str());
        if record.prev != prev {
            return Err(if self.prev.is_none() {
                "prev of the first record is not 64 zeros: records at the start were removed".into()
            } else {
                "prev is not the previous record's hash: records were removed, inserted or reordered".into()
            });
        }
        check_hash(record)?;
        let key = check_signature(record)?;
        match (&key, policy) {
            (_, KeyPolicy::Any) => {}
            (Some(key), KeyPolicy::Trusted(trusted)) if !trusted.contains(key) => {
                return Err(format!(
                    "signed by key {}, which is not among the --pubkey keys",
                    key.id()
                ))
            }
            (Some(key), KeyPolicy::Continuity) => {
                if let Some((id, earlier)) = &self.signer {
                    if earlier != key {
                        return Err(format!(
                            "signed by key {} but earlier records by key {id}; pass --pubkey for every \
                             trusted key to accept a key change",
                            key.id()
                        ));
                    }
                }
            }
            // Unsigned records are a policy question, not a break: the
            // report lists them.
            _ => {}
        }
        check_actor(record)?;
        self.prev = Some((record.seq, record.hash.clone()));
        if let Some(key) = key {
            self.signer = Some((key.id(), key));
        }
        Ok(())
    }
}

/// The checks that need no other record: form, hash, signature, actor.
/// (What [`append`](crate::append) asks of the record it chains onto.)
pub(crate) fn check_alone(record: &Record, line: &[u8]) -> Result<(), String> {
    check_form(record, line)?;
    check_hash(record)?;
    check_signature(record)?;
    check_actor(record)
}

fn check_form(record: &Record, line: &[u8]) -> Result<(), String> {
    if record.to_line().as_bytes() != line {
        return Err(
            "the line is not in canonical form (its bytes differ from the record's canonical JSON): \
             it was edited or re-formatted"
                .into(),
        );
    }
    Ok(())
}

fn check_hash(record: &Record) -> Result<(), String> {
    if record.compute_hash() != record.hash {
        return Err(
            "the hash does not match the record's contents: the record was changed after it was written"
                .into(),
        );
    }
    Ok(())
}

/// The signing key when the record is signed and the signature is good.
fn check_signature(record: &Record) -> Result<Option<PublicKey>, String> {
    let Some(sig) = &record.signature else {
        return Ok(None);
    };
    let key = sig.public().ok_or_else(|| {
        "signature.public_key is not an ed25519 public key (32 bytes in lowercase hex)".to_string()
    })?;
    if sig.key_id != key.id() {
        return Err(format!(
            "signature.key_id {} is not the id of signature.public_key (which is {})",
            sig.key_id,
            key.id()
        ));
    }
    let value = sig
        .value_bytes()
        .ok_or_else(|| "signature.value is not 64 bytes in lowercase hex".to_string())?;
    // check_hash passed, so `hash` is 64 hex digits; a non-hex one fails here.
    let digest = hex::decode(&record.hash).unwrap_or_default();
    if !key.verifies(&digest, &value) {
        return Err(format!(
            "the signature does not verify under key {}",
            key.id()
        ));
    }
    Ok(Some(key))
}

fn check_actor(record: &Record) -> Result<(), String> {
    match (&record.signature, &record.actor.key_id) {
        (Some(sig), Some(id)) if *id == sig.key_id => Ok(()),
        (Some(sig), Some(id)) => Err(format!(
            "actor.key_id {id} is not the signing key {}",
            sig.key_id
        )),
        (Some(sig), None) => Err(format!(
            "actor.key_id is null but the record is signed by key {}",
            sig.key_id
        )),
        (None, Some(id)) => Err(format!(
            "actor.key_id is {id} but the record has no signature"
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample;
    use axiom_certs::SecretKey;

    fn write(lines: &[String]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn an_empty_log_verifies_and_a_missing_one_is_an_error() {
        let (_dir, path) = write(&[]);
        let report = verify(&path, &[]).unwrap();
        assert!(report.is_ok());
        assert_eq!((report.records, report.head.clone()), (0, None));
        let e = verify(&path.with_extension("nope"), &[]).unwrap_err();
        assert!(matches!(e, AuditError::Io { action: "open", .. }), "{e}");
    }

    #[test]
    fn unsigned_records_are_listed_and_fail_only_when_signatures_are_required() {
        let key = SecretKey::from_seed([1; 32]);
        let a = sample(1, GENESIS_PREV, None);
        let b = sample(2, &a.hash, Some(&key));
        let c = sample(3, &b.hash, None);
        let (_dir, path) = write(&[a.to_line(), b.to_line(), c.to_line()]);
        for keys in [vec![], vec![key.public()]] {
            let report = verify(&path, &keys).unwrap();
            assert!(report.is_ok(), "{}", report.render_human());
            assert_eq!(report.unsigned, [1, 3]);
            assert_eq!(report.unsigned_after_signed, [3]);
            let text = report.render_human();
            assert!(text.contains("unsigned: 2 records (lines 1, 3)"), "{text}");
            assert!(text.contains("line 3 comes after signed records"), "{text}");
            assert!(!text.contains("BROKEN"), "{text}");
        }
        let policy = Policy {
            trusted_keys: vec![key.public()],
            require_signed: true,
        };
        let report = verify_with(&path, &policy).unwrap();
        assert!(!report.is_ok());
        assert_eq!(report.first_break, None);
        let text = report.render_human();
        assert!(
            text.contains("signatures: REQUIRED, but 2 records are unsigned (lines 1, 3)"),
            "{text}"
        );
        // A fully signed log passes the same policy.
        let (_dir, path) = write(&[sample(1, GENESIS_PREV, Some(&key)).to_line()]);
        assert!(verify_with(&path, &policy).unwrap().is_ok());
    }

    #[test]
    fn a_mismatched_actor_is_a_break() {
        let key = SecretKey::from_seed([1; 32]);
        let mut c = sample(1, GENESIS_PREV, None);
        c.actor.key_id = Some(key.public().id());
        c.hash = c.compute_hash();
        let (_dir, path) = write(&[c.to_line()]);
        let br = verify(&path, &[]).unwrap().first_break.unwrap();
        assert!(br.reason.contains("no signature"), "{}", br.reason);
    }

    #[test]
    fn line_ranges_fold_runs() {
        assert_eq!(line_ranges(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
        assert_eq!(line_ranges(&[4]), "4");
        assert_eq!(line_ranges(&[]), "");
    }

    #[test]
    fn reformatted_and_non_utf8_lines_are_named() {
        let a = sample(1, GENESIS_PREV, None);
        let pretty = serde_json::to_string_pretty(&a).unwrap().replace('\n', " ");
        let (_dir, path) = write(&[pretty, a.to_line()]);
        let report = verify(&path, &[]).unwrap();
        let br = report.first_break.clone().unwrap();
        assert_eq!((br.line, br.seq), (1, Some(1)));
        assert!(br.reason.contains("canonical"), "{}", br.reason);
        assert_eq!(report.records, 2);
        assert_eq!(report.verified, 0);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut bytes = format!("{}\n", a.to_line()).into_bytes();
        bytes.extend_from_slice(b"\xff\xfe{}\n");
        bytes.extend_from_slice(format!("{}\n", a.to_line()).as_bytes());
        std::fs::write(&path, bytes).unwrap();
        let report = verify(&path, &[]).unwrap();
        let br = report.first_break.unwrap();
        assert_eq!((br.line, br.seq), (2, None));
        assert!(br.reason.contains("UTF-8"), "{}", br.reason);
        assert!(report.torn_tail.is_none());
        assert_eq!(report.head.unwrap().line, 1);
    }

    #[test]
    fn the_report_renders_the_break_and_the_head() {
        let a = sample(1, GENESIS_PREV, None);
        let b = sample(3, &a.hash, None);
        let (_dir, path) = write(&[a.to_line(), b.to_line()]);
        let report = verify(&path, &[]).unwrap();
        assert!(!report.is_ok());
        assert_eq!(report.first_bad_line(), Some(2));
        let text = report.render_human();
        assert!(text.contains("BROKEN at line 2 (seq 3)"), "{text}");
        assert!(text.contains(&a.hash), "{text}");
        assert!(text.contains("deleted from the end"), "{text}");
    }
}
