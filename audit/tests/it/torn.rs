//! Crash damage at the end of the log: found, refused, repaired.

use crate::common;

use std::path::{Path, PathBuf};

use axiom_audit::{append, repair, verify, AuditError};

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn a_record_cut_mid_line_is_torn_refused_then_repaired() {
    let key = common::key_a();
    let (_dir, path, records) = common::log(5, Some(&key));
    let full = std::fs::read(&path).unwrap();
    let cut = full.len() - 40;
    std::fs::write(&path, &full[..cut]).unwrap();
    let damaged = std::fs::read(&path).unwrap();

    // verify: a torn tail at line 5, not a break.
    let report = verify(&path, &[]).unwrap();
    assert!(!report.is_ok());
    assert!(report.first_break.is_none());
    let torn = report.torn_tail.clone().unwrap();
    assert_eq!(torn.line, 5);
    assert!(torn.reason.contains("newline"), "{}", torn.reason);
    assert_eq!(report.head.as_ref().map(|h| h.seq), Some(4));
    assert_eq!(report.head_hash(), Some(records[3].hash.as_str()));
    let text = report.render_human();
    assert!(text.contains("torn tail: line 5"), "{text}");
    assert!(
        text.contains(&format!("axiom audit repair --log {}", path.display())),
        "{text}"
    );

    // append: refused, with the line and the repair command; nothing written.
    let e = append(&path, &common::event(9), Some(&key)).unwrap_err();
    match &e {
        AuditError::Torn { line, hint, .. } => {
            assert_eq!(*line, 5);
            assert!(hint.contains("axiom audit repair --log"), "{hint}");
        }
        other => panic!("expected Torn, got {other}"),
    }
    let message = e.to_string();
    assert!(
        message.contains(":5:") && message.contains("axiom audit repair --log"),
        "{message}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), damaged);

    // repair: a byte-identical backup, the log cut to four whole records.
    let fixed = repair(&path).unwrap();
    let backup = with_suffix(&path, ".bak");
    assert_eq!(fixed.backup.as_deref(), Some(backup.as_path()));
    assert_eq!(std::fs::read(&backup).unwrap(), damaged);
    assert_eq!(fixed.kept_records, 4);
    assert_eq!(fixed.removed_line, Some(5));
    let kept: usize = common::lines(&path).len();
    assert_eq!(kept, 4);
    let four = common::lines(&backup)[..4].concat();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), four);
    assert_eq!(fixed.removed_bytes as usize, damaged.len() - four.len());
    assert!(fixed.repaired());
    assert!(fixed.render_human().contains("torn line 5"));

    // Appends after the repair verify, including the audit-repair record.
    let r = append(
        &path,
        &fixed.event(["axiom", "audit", "repair"]),
        Some(&key),
    )
    .unwrap();
    assert_eq!(r.seq, 5);
    assert_eq!(r.prev, records[3].hash);
    assert_eq!(r.inputs.files[0].sha256, axiom_audit::sha256_hex(&damaged));
    append(&path, &common::event(6), Some(&key)).unwrap();
    let report = verify(&path, &[key.public()]).unwrap();
    assert!(report.is_ok(), "{}", report.render_human());
    assert_eq!(report.records, 6);

    // A healthy log: nothing to repair, nothing written.
    let before = std::fs::read(&path).unwrap();
    let noop = repair(&path).unwrap();
    assert_eq!(
        (noop.backup.clone(), noop.removed_bytes, noop.removed_line),
        (None, 0, None)
    );
    assert_eq!(noop.kept_records, 6);
    assert!(noop.render_human().contains("nothing to repair"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!with_suffix(&path, ".bak.1").exists());

    // Torn again: the first backup is kept, the new one is .bak.1.
    std::fs::write(&path, [before.as_slice(), b"{\"seq\":7,\"ti"].concat()).unwrap();
    let again = repair(&path).unwrap();
    assert_eq!(again.backup, Some(with_suffix(&path, ".bak.1")));
    assert_eq!(std::fs::read(&backup).unwrap(), damaged);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn an_unparsable_or_zeroed_last_line_is_torn_too() {
    for tail in [
        &b"not json\n"[..],
        &b"\n"[..],
        &[0u8; 4096][..],
        &b"\xff\xfe\n"[..],
    ] {
        let (_dir, path, _) = common::log(3, None);
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, [good.as_slice(), tail].concat()).unwrap();
        let report = verify(&path, &[]).unwrap();
        assert!(report.first_break.is_none(), "{:?}", report.first_break);
        assert_eq!(report.torn_tail.as_ref().map(|t| t.line), Some(4));
        let e = append(&path, &common::event(3), None).unwrap_err();
        assert!(matches!(e, AuditError::Torn { line: 4, .. }), "{e}");
        let fixed = repair(&path).unwrap();
        assert_eq!(fixed.removed_bytes as usize, tail.len());
        assert_eq!(std::fs::read(&path).unwrap(), good);
        append(&path, &common::event(3), None).unwrap();
        assert!(verify(&path, &[]).unwrap().is_ok());
    }
}

#[test]
fn repair_refuses_tampering_in_the_middle() {
    let key = common::key_a();
    let (_dir, path, _) = common::log(5, Some(&key));
    let mut lines = common::lines(&path);
    lines[1] = lines[1].replace("event 1", "event X");
    // Torn at the end as well: still not repaired.
    let text = format!("{}{{\"seq\":6", lines.concat());
    std::fs::write(&path, &text).unwrap();
    let e = repair(&path).unwrap_err();
    match &e {
        AuditError::NotCrashDamage { line, reason, .. } => {
            assert_eq!(*line, 2);
            assert!(reason.contains("hash"), "{reason}");
        }
        other => panic!("expected NotCrashDamage, got {other}"),
    }
    let message = e.to_string();
    assert!(
        message.contains("not crash damage") && message.contains("investigated"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(!with_suffix(&path, ".bak").exists());

    // A missing log is an I/O error.
    let e = repair(&path.with_extension("missing")).unwrap_err();
    assert!(matches!(e, AuditError::Io { .. }), "{e}");
}

#[test]
fn repair_accepts_a_change_of_key_before_the_torn_tail() {
    // A key change is for verify (--pubkey) to judge, not crash damage.
    let (a, b) = (common::key_a(), common::key_b());
    let (_dir, path, _) = common::log(2, Some(&a));
    append(&path, &common::event(2), Some(&b)).unwrap();
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, [good.as_slice(), b"{\"se"].concat()).unwrap();
    let fixed = repair(&path).unwrap();
    assert_eq!(fixed.kept_records, 3);
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert!(verify(&path, &[a.public(), b.public()]).unwrap().is_ok());
}
