//! The CLI's audit trail: which log a command's record goes to, signed by
//! which key ([`Sink`]), and what the command notes for it while it runs
//! ([`Trail`]). `main` appends one record when an audited command ends,
//! whatever its exit code; see `axiom-audit` for the log itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axiom_audit::{Event, FileDigest, Kind, VerdictEntry};
use axiom_certs::SecretKey;

use crate::commands::CliError;

/// Set (to anything but empty or `0`) in an audited environment: then
/// `--no-audit` is refused, so no command can run unrecorded.
pub const REQUIRED_ENV: &str = "AXIOM_AUDIT_REQUIRED";

/// What one command notes for its audit record.
#[derive(Debug, Default)]
pub struct Trail {
    kind: Option<Kind>,
    /// Whether the record is written: always for most commands; for
    /// `axiom run` only once an `ensure` is violated.
    wanted: bool,
    files: Vec<FileDigest>,
    spec: Option<String>,
    specs: usize,
    models: BTreeSet<String>,
    certificate: Option<String>,
    verdicts: Vec<VerdictEntry>,
    detail: Option<String>,
}

impl Trail {
    /// A trail that writes a record of `kind` when the command ends.
    pub fn new(kind: Kind) -> Trail {
        Trail {
            kind: Some(kind),
            wanted: true,
            ..Trail::default()
        }
    }

    /// A trail that writes a record of `kind` only if the command calls
    /// [`Trail::want`].
    pub fn on_demand(kind: Kind) -> Trail {
        Trail {
            kind: Some(kind),
            ..Trail::default()
        }
    }

    /// A trail that never writes (commands outside the audited list).
    pub fn none() -> Trail {
        Trail::default()
    }

    /// Asks for the record of an [`on_demand`](Trail::on_demand) trail.
    pub fn want(&mut self) {
        self.wanted = self.kind.is_some();
    }

    /// Whether this command may write a record (it is in the audited
    /// list), so its log must be ready before it starts.
    pub fn is_audited(&self) -> bool {
        self.kind.is_some()
    }

    /// A file the command read, with its content's digest. An unreadable
    /// file is not noted (the command itself reports it).
    pub fn file(&mut self, path: &Path) {
        if let Ok(bytes) = axiom_core::read_raw_file(path) {
            self.file_bytes(path, &bytes);
        }
    }

    /// A file the command read, with the bytes it read.
    pub fn file_bytes(&mut self, path: &Path, bytes: &[u8]) {
        self.file_digest(FileDigest::of_bytes(path.display().to_string(), bytes));
    }

    /// A file and its digest, computed by the caller.
    pub fn file_digest(&mut self, entry: FileDigest) {
        if !self.files.contains(&entry) {
            self.files.push(entry);
        }
    }

    /// A `.axiom` specification the command read: its digest is the
    /// record's `inputs.spec` when it is the only one.
    pub fn spec(&mut self, path: &Path) {
        if let Ok(bytes) = axiom_core::read_raw_file(path) {
            self.file_bytes(path, &bytes);
            self.specs += 1;
            self.spec = Some(axiom_audit::sha256_hex(&bytes));
        }
    }

    /// The digest of a model the command is about: the record's
    /// `inputs.model` when it is the only one.
    pub fn model(&mut self, digest: impl ToString) {
        self.models.insert(digest.to_string());
    }

    /// The certificate the command read (`axiom cert verify` of one file).
    pub fn certificate(&mut self, digest: impl Into<String>) {
        self.certificate = Some(digest.into());
    }

    /// One verdict about an obligation of a model.
    pub fn verdict(
        &mut self,
        model: impl Into<String>,
        digest: Option<String>,
        obligation: impl Into<String>,
        verdict: impl Into<String>,
        certificate: Option<String>,
    ) {
        if let Some(d) = &digest {
            self.models.insert(d.clone());
        }
        self.verdicts.push(VerdictEntry {
            model: model.into(),
            digest,
            obligation: obligation.into(),
            verdict: verdict.into(),
            certificate,
        });
    }

    /// One line on what the command did (the last call wins).
    pub fn detail(&mut self, text: impl Into<String>) {
        self.detail = Some(text.into());
    }

    /// The event to append, or `None` when no record is wanted. `error` is
    /// the message of a command that failed with a [`CliError`]; it becomes
    /// the detail.
    pub fn into_event(
        self,
        argv: Vec<String>,
        exit_code: u8,
        error: Option<String>,
    ) -> Option<Event> {
        let kind = self.kind.filter(|_| self.wanted)?;
        let mut event = Event::new(kind, argv);
        event.inputs.model = (self.models.len() == 1)
            .then(|| self.models.into_iter().next())
            .flatten();
        event.inputs.spec = self.spec.filter(|_| self.specs == 1);
        event.inputs.certificate = self.certificate;
        event.inputs.files = self.files;
        event.outcome.exit_code = i32::from(exit_code);
        event.outcome.verdicts = self.verdicts;
        event.outcome.detail = error.map(|e| format!("error: {e}")).or(self.detail);
        Some(event)
    }
}

/// Where an audited command's record goes, and the key that signs it.
pub struct Sink {
    /// The log.
    pub log: PathBuf,
    /// The signing key (`--audit-key`), if any.
    pub key: Option<SecretKey>,
}

/// The global audit options, as given.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// `--audit-log` or `$AXIOM_AUDIT_LOG`.
    pub log: Option<PathBuf>,
    /// `--audit-key` or `$AXIOM_AUDIT_KEY`.
    pub key: Option<PathBuf>,
    /// `--no-audit`.
    pub off: bool,
}

impl AuditOptions {
    /// The log every command reads and writes: `--audit-log`, else
    /// `$AXIOM_AUDIT_LOG`, else `.axiom/audit.log` in the current folder
    /// (whatever file the command is about: one place per project).
    pub fn log(&self) -> PathBuf {
        self.log
            .clone()
            .unwrap_or_else(|| PathBuf::from(axiom_audit::DEFAULT_LOG))
    }

    /// Opens the sink of an audited command before it starts: refuses
    /// `--no-audit` when [`REQUIRED_ENV`] is set, loads the key, and checks
    /// that the log can take a record (a torn or broken last line stops
    /// the command here, before its work). `None` with `--no-audit`.
    pub fn open(&self) -> Result<Option<Sink>, CliError> {
        self.open_at(self.log(), true)
    }

    /// [`open`](AuditOptions::open) with the log given; `check_tail: false`
    /// skips the check of the last line (for `axiom audit repair`, which
    /// mends it first).
    pub fn open_at(&self, log: PathBuf, check_tail: bool) -> Result<Option<Sink>, CliError> {
        if self.off {
            if audit_required() {
                return Err(CliError::Usage(format!(
                    "--no-audit is refused: {REQUIRED_ENV} is set, so every command must be recorded in the audit log\n  hint: drop --no-audit"
                )));
            }
            return Ok(None);
        }
        let key = self
            .key
            .as_deref()
            .map(|p| {
                SecretKey::load(p).map_err(|e| {
                    CliError::Usage(format!(
                        "--audit-key {}: {e}\n  hint: make a key with `axiom keygen --out KEY`",
                        p.display()
                    ))
                })
            })
            .transpose()?;
        if check_tail {
            axiom_audit::check_appendable(&log)
                .map_err(|e| CliError::Usage(format!("audit log: {e}")))?;
        }
        Ok(Some(Sink { log, key }))
    }
}

fn audit_required() -> bool {
    std::env::var(REQUIRED_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_model_and_one_spec_are_named_several_are_not() {
        let mut t = Trail::new(Kind::Check);
        t.verdict("a", Some("d1".into()), "p", "proved", None);
        t.verdict("a", Some("d1".into()), "q", "unknown", None);
        let e = t.into_event(vec!["axiom".into()], 3, None).unwrap();
        assert_eq!(e.inputs.model.as_deref(), Some("d1"));
        assert_eq!(e.outcome.exit_code, 3);
        assert_eq!(e.outcome.verdicts.len(), 2);

        let mut t = Trail::new(Kind::Check);
        t.verdict("a", Some("d1".into()), "p", "proved", None);
        t.verdict("b", Some("d2".into()), "p", "proved", None);
        let e = t.into_event(vec![], 0, None).unwrap();
        assert_eq!(e.inputs.model, None);
    }

    #[test]
    fn on_demand_trails_write_only_when_wanted_and_errors_become_the_detail() {
        let t = Trail::on_demand(Kind::Run);
        assert!(t.into_event(vec![], 0, None).is_none());
        let mut t = Trail::on_demand(Kind::Run);
        t.detail("ensure violated");
        t.want();
        let e = t.into_event(vec![], 1, None).unwrap();
        assert_eq!(e.outcome.detail.as_deref(), Some("ensure violated"));
        let mut t = Trail::new(Kind::Verify);
        t.detail("ignored");
        let e = t.into_event(vec![], 2, Some("bad model".into())).unwrap();
        assert_eq!(e.outcome.detail.as_deref(), Some("error: bad model"));
        let mut t = Trail::none();
        t.want();
        assert!(t.into_event(vec![], 0, None).is_none());
    }

    #[test]
    fn files_are_digested_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("spec.axiom");
        std::fs::write(&f, "abc").unwrap();
        let mut t = Trail::new(Kind::Certify);
        t.spec(&f);
        t.file(&f);
        t.file(&dir.path().join("missing"));
        let e = t.into_event(vec![], 0, None).unwrap();
        assert_eq!(e.inputs.files.len(), 1);
        assert_eq!(
            e.inputs.spec.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }
}
