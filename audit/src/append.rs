//! Writing: [`append`] one record at the end of the log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use axiom_certs::SecretKey;

use crate::file::{last_line, line_number_at, FileLock, MAX_LINE_BYTES};
use crate::record::{current_host, current_user, Actor, Event, Record, Tool, GENESIS_PREV};
use crate::verify::{check_alone, scan, KeyPolicy};
use crate::AuditError;

/// Appends `event` to the log at `path` as the next record, signed with
/// `key` when one is given, and returns the record written.
///
/// Creates the log and its folder when missing. Under an exclusive lock on
/// the file, it reads the last record (only the tail of the file), writes
/// the new line with one `write_all`, and syncs it to disk before the lock
/// is released, so concurrent writers (processes or threads) never
/// interleave or lose records, and `seq` and `prev` always follow the last
/// record.
///
/// Never changes a byte already written. Refuses, with
/// [`AuditError::Torn`], when the last line is incomplete or not a record
/// (a crash while writing; `axiom audit repair` mends it), and with
/// [`AuditError::Broken`] when the last record's hash or form is wrong.
///
/// The actor is `$USER` (else `$LOGNAME`) at this host; the tool is
/// `event.tool`, else [`Tool::axiom`].
pub fn append(path: &Path, event: &Event, key: Option<&SecretKey>) -> Result<Record, AuditError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(AuditError::io(dir, "create the folder"))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(AuditError::io(path, "open"))?;
    let lock = FileLock::exclusive(&file, path)?;
    let (seq, prev) = match last_record(&file, path)? {
        None => (1, GENESIS_PREV.to_string()),
        Some(last) => (last.seq.saturating_add(1), last.hash),
    };
    let record = Record {
        seq,
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        kind: event.kind,
        actor: Actor {
            user: current_user(),
            host: current_host(),
            key_id: None,
        },
        tool: event.tool.clone().unwrap_or_else(Tool::axiom),
        command: event.command.clone(),
        inputs: event.inputs.clone(),
        outcome: event.outcome.clone(),
        prev,
        hash: String::new(),
        signature: None,
    }
    .seal(key);
    let mut line = record.to_line();
    if line.len() > MAX_LINE_BYTES {
        return Err(AuditError::RecordTooLarge {
            path: path.to_path_buf(),
            len: line.len(),
            limit: MAX_LINE_BYTES,
        });
    }
    line.push('\n');
    (&file)
        .write_all(line.as_bytes())
        .map_err(AuditError::io(path, "write"))?;
    file.sync_all().map_err(AuditError::io(path, "sync"))?;
    drop(lock);
    Ok(record)
}

/// Checks, without writing, that [`append`] would accept the log at `path`
/// now: `Ok` when it does not exist yet or is empty or ends with a valid
/// record; else the error `append` would give ([`AuditError::Torn`],
/// [`AuditError::Broken`]). The CLI calls it before a command starts, so a
/// damaged log stops the command before its work rather than after.
pub fn check_appendable(path: &Path) -> Result<(), AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AuditError::io(path, "open")(e)),
    };
    let _lock = FileLock::shared(&file, path)?;
    match last_record(&file, path) {
        Err(AuditError::Torn {
            path,
            line,
            reason,
            hint,
        }) => Err(AuditError::Torn {
            hint: broken_before(&file, &path, line).unwrap_or(hint),
            path,
            line,
            reason,
        }),
        other => other.map(|_| ()),
    }
}

/// When the log is also broken before its torn last line `torn`, what to do
/// instead of `axiom audit repair`, which mends only a torn last line.
fn broken_before(file: &File, path: &Path, torn: u64) -> Option<String> {
    let (report, _) = scan(file, path, KeyPolicy::Any, false).ok()?;
    let line = report.first_break.filter(|b| b.line < torn)?.line;
    let what = if report.records == 0 {
        "no line of it is an audit record (it is not an axiom audit log, or it was overwritten)"
            .to_string()
    } else {
        format!(
            "it is also broken at line {line}, before its last line, which `axiom audit repair` \
             does not mend"
        )
    };
    Some(format!(
        "{what}; `axiom audit verify --log {p}` shows the details; keep the file as evidence and \
         move it aside (e.g. `mv {p} {p}.broken`): the next audited command starts a new log",
        p = path.display()
    ))
}

/// The last record of the log, checked on its own (form and hash); `None`
/// for an empty log.
fn last_record(file: &File, path: &Path) -> Result<Option<Record>, AuditError> {
    let len = file
        .metadata()
        .map_err(AuditError::io(path, "read the size of"))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    let last = last_line(file, len).map_err(AuditError::io(path, "read"))?;
    let line_number = || line_number_at(file, last.offset).map_err(AuditError::io(path, "read"));
    let repair_hint = format!(
        "run `axiom audit repair --log {}`: it keeps a backup and cuts the damaged line off",
        path.display()
    );
    if !last.newline {
        return Err(AuditError::Torn {
            path: path.to_path_buf(),
            line: line_number()?,
            reason: "the last line does not end with a newline (an interrupted write)".into(),
            hint: repair_hint,
        });
    }
    let parsed = match &last.content {
        Err(n) => Err(format!(
            "the last line is {n} bytes, longer than any record"
        )),
        Ok(bytes) => serde_json::from_slice::<Record>(bytes)
            .map_err(|e| format!("the last line is not a record: {e}")),
    };
    let record = match parsed {
        Ok(record) => record,
        Err(reason) => {
            return Err(AuditError::Torn {
                path: path.to_path_buf(),
                line: line_number()?,
                reason,
                hint: repair_hint,
            })
        }
    };
    let bytes = last.content.as_deref().unwrap_or_default();
    if let Err(reason) = check_alone(&record, bytes) {
        return Err(AuditError::Broken {
            path: path.to_path_buf(),
            line: line_number()?,
            reason,
            hint: format!(
                "run `axiom audit verify --log {}` and investigate; the log was not changed",
                path.display()
            ),
        });
    }
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{verify, Kind};

    #[test]
    fn appends_chain_and_create_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/audit.log");
        let key = SecretKey::from_seed([5; 32]);
        let first = append(&path, &Event::new(Kind::Keygen, ["axiom", "keygen"]), None).unwrap();
        assert_eq!(first.seq, 1);
        assert_eq!(first.prev, GENESIS_PREV);
        assert!(first.signature.is_none() && first.actor.key_id.is_none());
        let mut event = Event::new(Kind::Verify, ["axiom", "verify"]);
        event.tool = Some(Tool {
            name: "axiom".into(),
            version: "9.9.9".into(),
        });
        let second = append(&path, &event, Some(&key)).unwrap();
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev, first.hash);
        assert_eq!(second.tool.version, "9.9.9");
        assert_eq!(second.actor.key_id, Some(key.public().id()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n{}\n", first.to_line(), second.to_line()));
        let report = verify(&path, &[]).unwrap();
        assert!(report.is_ok(), "{}", report.render_human());
        // The time is UTC with milliseconds.
        assert_eq!(second.time.len(), "2026-11-23T18:40:01.123Z".len());
        assert!(second.time.ends_with('Z'));
        assert!(humantime::parse_rfc3339(&second.time).is_ok());
    }

    #[test]
    fn check_appendable_says_what_append_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        check_appendable(&path).unwrap();
        assert!(!path.exists(), "checking creates nothing");
        append(&path, &Event::new(Kind::Check, ["axiom", "check"]), None).unwrap();
        check_appendable(&path).unwrap();
        let mut text = std::fs::read(&path).unwrap();
        text.extend_from_slice(b"{\"seq\":2,\"ti");
        std::fs::write(&path, &text).unwrap();
        let e = check_appendable(&path).unwrap_err();
        assert!(matches!(e, AuditError::Torn { line: 2, .. }), "{e}");
    }

    #[test]
    fn a_broken_last_record_is_not_chained_onto() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let event = Event::new(Kind::Check, ["axiom", "check"]);
        append(&path, &event, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"exit_code\":0", "\"exit_code\":1")).unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = append(&path, &event, None).unwrap_err();
        assert!(matches!(e, AuditError::Broken { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("hash"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
