//! # axiom-audit
//!
//! Axiom's audit log: every CLI event (`verify`, `check`, `certify`,
//! `cert verify`, `export`, `keygen`, `run` with violated `ensure`s, and
//! repairs of the log itself) as one line of JSON, appended and never
//! rewritten, each line chained to the one before by its hash and
//! optionally signed with ed25519.
//!
//! - [`record`]: the [`Record`] (one line; canonical JSON, hash,
//!   signature) and the [`Event`] a caller records;
//! - [`append`]: writing, under an exclusive file lock, synced to disk;
//! - [`verify`](mod@verify): checking the chain, the hashes and the
//!   signatures, naming the first broken line ([`VerifyReport`]);
//! - [`show`]: [`Filter`], [`format_human`], [`format_json`];
//! - [`report_html`]: one self-contained HTML page for reviewers;
//! - [`repair`](mod@repair): cutting off a line torn by a crash, after a backup.
//!
//! The API mirrors the CLI: every command calls [`append`]; `axiom audit
//! verify` is [`verify()`]; `axiom audit show` is [`read_records`],
//! [`Filter`] and the formatters; `axiom audit report` is [`report_html`];
//! `axiom audit repair` is [`repair()`]. The log is `--audit-log`, else
//! `$AXIOM_AUDIT_LOG`, else [`default_log_path`].
//!
//! # What the chain shows, and what it does not
//!
//! A changed, inserted, removed or reordered record breaks the chain at its
//! line; with signatures, so does a record written by another key. Records
//! deleted from the **end** leave a valid, shorter chain: record the
//! report's head hash somewhere else and compare (see [`mod@verify`]).
//!
//! # Example
//!
//! ```
//! use axiom_audit::{append, verify, Event, Kind, Outcome, VerdictEntry};
//! use axiom_certs::SecretKey;
//!
//! let dir = tempfile::tempdir()?;
//! let log = axiom_audit::default_log_path(dir.path()); // <dir>/.axiom/audit.log
//! let key = SecretKey::from_seed([7; 32]);
//!
//! let mut event = Event::new(Kind::Check, ["axiom", "check", "spec.axiom"]);
//! event.outcome = Outcome {
//!     exit_code: 0,
//!     verdicts: vec![VerdictEntry {
//!         model: "net".into(),
//!         digest: None,
//!         obligation: "robust".into(),
//!         verdict: "proved".into(),
//!         certificate: None,
//!     }],
//!     detail: None,
//! };
//! let first = append(&log, &event, Some(&key))?;
//! let second = append(&log, &Event::new(Kind::Keygen, ["axiom", "keygen"]), Some(&key))?;
//! assert_eq!((first.seq, second.seq), (1, 2));
//! assert_eq!(second.prev, first.hash);
//!
//! let report = verify(&log, &[key.public()])?;
//! assert!(report.is_ok(), "{}", report.render_human());
//! assert_eq!(report.records, 2);
//! assert_eq!(report.head_hash(), Some(second.hash.as_str()));
//!
//! // Editing a byte of the first record breaks the chain at line 1.
//! let text = std::fs::read_to_string(&log)?;
//! std::fs::write(&log, text.replacen("proved", "proveD", 1))?;
//! let report = verify(&log, &[])?;
//! assert_eq!(report.first_break.map(|b| b.line), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

mod append;
mod error;
mod file;
pub mod record;
pub mod repair;
mod report;
pub mod show;
pub mod verify;

pub use append::{append, check_appendable};
pub use error::AuditError;
pub use file::MAX_LINE_BYTES;
pub use record::{
    sha256_hex, Actor, Event, FileDigest, Inputs, Kind, Outcome, Record, Signature, Tool,
    VerdictEntry, GENESIS_PREV,
};
pub use repair::{repair, RepairReport};
pub use report::{escape_html, report_html};
pub use show::{format_human, format_json, parse_since, Filter};
pub use verify::{
    read_records, verify, verify_with, ChainBreak, Head, Policy, TornTail, VerifyReport,
};

/// The environment variable that names the log when `--audit-log` is not
/// given.
pub const LOG_ENV: &str = "AXIOM_AUDIT_LOG";

/// The default log, relative to the folder a command runs in: every
/// audited command writes there unless `--audit-log` or `$AXIOM_AUDIT_LOG`
/// names another, whatever file it is about, so that one project's records
/// are in one place.
pub const DEFAULT_LOG: &str = ".axiom/audit.log";

/// The default log of a working folder: `<dir>/.axiom/audit.log`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert_eq!(axiom_audit::default_log_path(dir.path()), dir.path().join(".axiom/audit.log"));
/// ```
pub fn default_log_path(dir: &Path) -> PathBuf {
    dir.join(DEFAULT_LOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_log_is_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let want = dir.path().join(".axiom").join("audit.log");
        assert_eq!(default_log_path(dir.path()), want);
        assert_eq!(
            default_log_path(Path::new("")),
            Path::new(".axiom/audit.log")
        );
    }
}
