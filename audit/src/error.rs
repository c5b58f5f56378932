//! The crate's error: I/O, and logs that cannot be appended to or repaired.
//!
//! A broken chain is not an error of [`verify`](crate::verify()): it is a
//! finding, in the [`VerifyReport`](crate::VerifyReport).

use std::io;
use std::path::PathBuf;

/// An error of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading, writing, locking or syncing a file failed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("open", "lock", ...).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The log's last line is incomplete or not a record (a write was
    /// interrupted): nothing may be appended after it.
    #[error("{}:{line}: {reason}; refusing to append after a damaged last line\n  hint: {hint}", path.display())]
    Torn {
        /// The log.
        path: PathBuf,
        /// The damaged line (1-based).
        line: u64,
        /// What is wrong with it.
        reason: String,
        /// What to do: run `axiom audit repair --log FILE`.
        hint: String,
    },
    /// The log's last record is a record, but not a valid one (its hash or
    /// form is wrong): nothing may be chained onto it.
    #[error("{}:{line}: the last record is not valid: {reason}; refusing to chain onto it\n  hint: {hint}", path.display())]
    Broken {
        /// The log.
        path: PathBuf,
        /// The line of the last record (1-based).
        line: u64,
        /// What is wrong with it.
        reason: String,
        /// What to do: run `axiom audit verify --log FILE`.
        hint: String,
    },
    /// [`repair`](crate::repair()) found a break that is not a torn tail.
    #[error(
        "{}:{line}: {reason}\n  this is not crash damage at the end of the log but a break before it \
         (tampering or corruption): it must be investigated, not repaired; the log was left as it is\n  \
         hint: keep the file as evidence (`axiom audit verify --log {}` shows the details) and, \
         to go on recording, move it aside (e.g. `mv {} {}.broken`): the next audited command \
         starts a new log",
        path.display(),
        path.display(),
        path.display(),
        path.display()
    )]
    NotCrashDamage {
        /// The log.
        path: PathBuf,
        /// The first broken line (1-based).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A record to append is larger than a line of the log may be.
    #[error("{}: the record is {len} bytes, more than the {limit} bytes a log line may hold\n  hint: shorten the event's detail or command", path.display())]
    RecordTooLarge {
        /// The log.
        path: PathBuf,
        /// The line's length.
        len: usize,
        /// [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES).
        limit: usize,
    },
    /// A time given to [`parse_since`](crate::parse_since) is not one.
    #[error("invalid time '{input}': {message}\n  hint: give an RFC 3339 time such as 2026-11-23T18:40:01Z or 2026-11-23T19:40:01+01:00, or a date such as 2026-11-23 (midnight UTC)")]
    Time {
        /// What was given.
        input: String,
        /// What is wrong with it.
        message: String,
    },
    /// An event kind that does not exist.
    #[error("unknown event kind '{given}' (expected one of: verify, check, certify, cert-verify, export, keygen, run, audit-repair)")]
    UnknownKind {
        /// What was given.
        given: String,
    },
}

impl AuditError {
    pub(crate) fn io(
        path: &std::path::Path,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> AuditError {
        let path = path.to_path_buf();
        move |source| AuditError::Io {
            path,
            action,
            source,
        }
    }
}
