//! Mending crash damage: [`repair`] cuts a torn last line off, after a
//! backup.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::file::FileLock;
use crate::record::{Event, FileDigest, Kind};
use crate::verify::{scan, KeyPolicy};
use crate::AuditError;

/// What [`repair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// The log.
    pub path: PathBuf,
    /// The copy of the damaged log, byte for byte; `None` when there was
    /// nothing to repair (then nothing was written).
    pub backup: Option<PathBuf>,
    /// The records left in the log.
    pub kept_records: u64,
    /// The bytes cut off the end (0 when there was nothing to repair).
    pub removed_bytes: u64,
    /// The line that was cut off, when one was.
    pub removed_line: Option<u64>,
}

impl RepairReport {
    /// Whether anything was changed.
    pub fn repaired(&self) -> bool {
        self.removed_bytes > 0
    }

    /// What happened, for a person (one or two lines).
    pub fn render_human(&self) -> String {
        match (&self.backup, self.removed_line) {
            (Some(backup), Some(line)) => format!(
                "{}: cut off the torn line {line} ({} bytes); {} records kept\n  backup of the damaged log: {}\n",
                self.path.display(),
                self.removed_bytes,
                self.kept_records,
                backup.display()
            ),
            _ => format!(
                "{}: nothing to repair: the log ends with a complete record ({} records)\n",
                self.path.display(),
                self.kept_records
            ),
        }
    }

    /// An `audit-repair` event that records this repair (the command line
    /// given, the backup's path and digest in `inputs.files`, what was cut
    /// in `outcome.detail`). [`repair`] writes no record itself: append
    /// this one, signed with the log's key if the log is signed (an
    /// unsigned record after signed ones breaks key continuity).
    pub fn event<S: Into<String>>(&self, command: impl IntoIterator<Item = S>) -> Event {
        let mut event = Event::new(Kind::AuditRepair, command);
        if let Some(backup) = &self.backup {
            if let Ok(bytes) = std::fs::read(backup) {
                event
                    .inputs
                    .files
                    .push(FileDigest::of_bytes(backup.display().to_string(), &bytes));
            }
        }
        event.outcome.detail = Some(match self.removed_line {
            Some(line) => format!(
                "cut off the torn line {line} ({} bytes); {} records kept",
                self.removed_bytes, self.kept_records
            ),
            None => "nothing to repair".into(),
        });
        event
    }
}

/// Repairs crash damage at the end of the log at `path`: a last line that
/// is incomplete or not a record (a torn tail).
///
/// Under the exclusive lock: checks the log (hashes, chain and signatures,
/// but any signing key: a change of key is not crash damage). If there is
/// a break before the tail, refuses with [`AuditError::NotCrashDamage`] and
/// changes nothing: damage in the middle is tampering or corruption, to be
/// investigated. If the log is fine, changes nothing and writes no backup
/// (`backup: None`, `removed_bytes: 0`). Otherwise copies the whole file to
/// `<log>.bak` (or `.bak.1`, `.bak.2`, ...: an existing file is never
/// overwritten), syncs the copy, then truncates the log to the end of the
/// last good line and syncs it. Appends after a repair verify.
pub fn repair(path: &Path) -> Result<RepairReport, AuditError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(AuditError::io(path, "open"))?;
    let _lock = FileLock::exclusive(&file, path)?;
    let (report, _) = scan(&file, path, KeyPolicy::Any, false)?;
    if let Some(b) = report.first_break {
        return Err(AuditError::NotCrashDamage {
            path: path.to_path_buf(),
            line: b.line,
            reason: b.reason,
        });
    }
    let Some(torn) = report.torn_tail else {
        return Ok(RepairReport {
            path: path.to_path_buf(),
            backup: None,
            kept_records: report.records,
            removed_bytes: 0,
            removed_line: None,
        });
    };
    let len = file
        .metadata()
        .map_err(AuditError::io(path, "read the size of"))?
        .len();
    let backup = write_backup(&file, path, len)?;
    file.set_len(torn.offset)
        .map_err(AuditError::io(path, "truncate"))?;
    file.sync_all().map_err(AuditError::io(path, "sync"))?;
    Ok(RepairReport {
        path: path.to_path_buf(),
        backup: Some(backup),
        kept_records: report.records,
        removed_bytes: len.saturating_sub(torn.offset),
        removed_line: Some(torn.line),
    })
}

/// Copies the log to the first free name of `<log>.bak`, `<log>.bak.1`, ...
/// (created exclusively, so never over an existing file) and syncs it.
fn write_backup(mut log: &File, path: &Path, len: u64) -> Result<PathBuf, AuditError> {
    let mut n = 0u32;
    let (backup_path, mut backup) = loop {
        let mut name = path.as_os_str().to_owned();
        name.push(".bak");
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let candidate = PathBuf::from(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(e) => return Err(AuditError::io(&candidate, "create the backup")(e)),
        }
    };
    log.seek(SeekFrom::Start(0))
        .map_err(AuditError::io(path, "read"))?;
    let copied = io::copy(&mut log.take(len), &mut backup)
        .map_err(AuditError::io(&backup_path, "write the backup"))?;
    if copied != len {
        return Err(AuditError::io(&backup_path, "write the backup")(
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("copied {copied} of {len} bytes"),
            ),
        ));
    }
    backup
        .sync_all()
        .map_err(AuditError::io(&backup_path, "sync the backup"))?;
    sync_folder(path);
    Ok(backup_path)
}

/// Syncs the folder holding `path`, so that a new file's name is durable
/// (best effort: not every platform can open a folder).
fn sync_folder(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
