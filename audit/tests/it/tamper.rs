//! Tampering is found, at the right line.

use crate::common;

use axiom_audit::{verify, Record, Signature};
use axiom_certs::SecretKey;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The line (1-based) that holds byte `pos`, a line's newline being its
/// last byte.
fn line_of(bytes: &[u8], pos: usize) -> u64 {
    bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Verifies `bytes` as a log (written to `path`), with and without trusted
/// keys, and returns the first bad line of each.
fn first_bad_lines(path: &std::path::Path, bytes: &[u8]) -> (Option<u64>, Option<u64>) {
    overwrite(path, bytes);
    let continuity = verify(path, &[]).unwrap();
    let trusted = verify(path, &[common::key_a().public()]).unwrap();
    (continuity.first_bad_line(), trusted.first_bad_line())
}

/// Writes `bytes` over the file in place. (Truncating and rewriting a file
/// makes some file systems flush it on close, which is slow thousands of
/// times over; the flipped logs all have the same length.)
fn overwrite(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.set_len(bytes.len() as u64).unwrap();
}

// A single flipped byte anywhere breaks the log at the line that holds it.
// A line's newline belongs to it: flipping the newline of line k < 10
// merges k with k + 1 into one bad line k; flipping the last newline
// leaves line 10 unterminated, a torn tail at line 10. A byte flipped into
// a newline splits its line, whose first part (line k) is bad.
#[test]
fn flipping_any_single_byte_is_detected_at_its_line() {
    let key = common::key_a();
    let (dir, path, _) = common::log(10, Some(&key));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 10);
    let clean = verify(&path, &[key.public()]).unwrap();
    assert!(clean.is_ok() && clean.signed == 10);
    let flipped = dir.path().join("flipped.log");

    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(0..bytes.len(), 1u8..=255), |(pos, x)| {
            let mut b = bytes.clone();
            b[pos] ^= x;
            let want = Some(line_of(&bytes, pos));
            let (continuity, trusted) = first_bad_lines(&flipped, &b);
            prop_assert_eq!(continuity, want, "byte {} ^ {:#04x}", pos, x);
            prop_assert_eq!(trusted, want, "byte {} ^ {:#04x}", pos, x);
            Ok(())
        })
        .unwrap();

    // And, on a shorter log, every position with the flips that keep a
    // byte most alike: the case of a letter (hex digits decode alike in
    // either case), and into a newline.
    let (dir, path, _) = common::log(3, Some(&key));
    let bytes = std::fs::read(&path).unwrap();
    let flipped = dir.path().join("flipped.log");
    for pos in 0..bytes.len() {
        for x in [0x20, bytes[pos] ^ b'\n'] {
            if x == 0 {
                continue;
            }
            let mut b = bytes.clone();
            b[pos] ^= x;
            overwrite(&flipped, &b);
            let got = verify(&flipped, &[]).unwrap().first_bad_line();
            assert_eq!(got, Some(line_of(&bytes, pos)), "byte {pos} ^ {x:#04x}");
        }
    }
}

#[test]
fn the_flipped_last_newline_is_a_torn_tail() {
    let (_dir, path, _) = common::log(10, Some(&common::key_a()));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(&path, &[]).unwrap();
    assert!(report.first_break.is_none());
    assert_eq!(report.torn_tail.map(|t| t.line), Some(10));
    assert_eq!(report.head.map(|h| h.seq), Some(9));
}

fn write_lines(path: &std::path::Path, lines: &[String]) {
    std::fs::write(path, lines.concat()).unwrap();
}

#[test]
fn a_deleted_middle_record_breaks_the_chain_at_its_place() {
    let (_dir, path, _) = common::log(10, Some(&common::key_a()));
    let mut lines = common::lines(&path);
    lines.remove(4); // seq 5
    write_lines(&path, &lines);
    let report = verify(&path, &[]).unwrap();
    let b = report.first_break.clone().unwrap();
    assert_eq!((b.line, b.seq), (5, Some(6)));
    assert!(
        b.reason.contains("seq is 6 but the previous record's is 4"),
        "{}",
        b.reason
    );
    assert_eq!((report.verified, report.records), (4, 9));
    assert_eq!(report.head.unwrap().seq, 4);

    // The first record deleted.
    let mut lines = common::lines(&path);
    lines.remove(0);
    write_lines(&path, &lines);
    let b = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!((b.line, b.seq), (1, Some(2)));
    assert!(b.reason.contains("not 1"), "{}", b.reason);
}

#[test]
fn two_swapped_records_break_the_chain_at_the_first() {
    let (_dir, path, _) = common::log(10, Some(&common::key_a()));
    let mut lines = common::lines(&path);
    lines.swap(3, 4);
    write_lines(&path, &lines);
    let b = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!((b.line, b.seq), (4, Some(5)));
}

#[test]
fn a_record_with_a_renumbered_seq_and_fixed_hash_still_breaks_at_prev() {
    // Deleting record 5 and renumbering 6.. with fresh (unsigned) hashes:
    // the record after the gap has the wrong prev.
    let (_dir, path, records) = common::log(10, None);
    let mut lines = common::lines(&path);
    lines.remove(4);
    let mut r: Record = records[5].clone();
    r.seq = 5;
    r.hash = r.compute_hash();
    lines[4] = format!("{}\n", r.to_line());
    write_lines(&path, &lines);
    let b = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!(b.line, 5);
    assert!(b.reason.contains("prev"), "{}", b.reason);
}

fn sign_as(record: &mut Record, key: &SecretKey) {
    let digest = hex::decode(&record.hash).unwrap();
    let public = key.public();
    record.signature = Some(Signature {
        key_id: public.id(),
        public_key: hex::encode(public.to_bytes()),
        value: hex::encode(key.sign(&digest)),
    });
}

#[test]
fn a_signature_replaced_by_another_keys_is_detected() {
    // Only the signature object of record 6 replaced by key B's valid
    // signature over the same hash (actor.key_id still names key A).
    let (a, b) = (common::key_a(), common::key_b());
    let (_dir, path, records) = common::log(10, Some(&a));
    let mut lines = common::lines(&path);
    let mut r = records[5].clone();
    sign_as(&mut r, &b);
    assert_eq!(
        r.compute_hash(),
        r.hash,
        "the hash does not cover the signature"
    );
    lines[5] = format!("{}\n", r.to_line());
    write_lines(&path, &lines);
    let (a_id, b_id) = (a.public().id(), b.public().id());

    // Key continuity.
    let brk = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!((brk.line, brk.seq), (6, Some(6)));
    assert_eq!(
        brk.reason,
        format!(
            "signed by key {b_id} but earlier records by key {a_id}; pass --pubkey for every trusted key to accept a key change"
        )
    );
    // Trusted keys.
    let brk = verify(&path, &[a.public()]).unwrap().first_break.unwrap();
    assert_eq!(brk.line, 6);
    assert_eq!(
        brk.reason,
        format!("signed by key {b_id}, which is not among the --pubkey keys")
    );
    // Both keys trusted: the actor still names key A.
    let brk = verify(&path, &[a.public(), b.public()])
        .unwrap()
        .first_break
        .unwrap();
    assert_eq!(brk.line, 6);
    assert!(brk.reason.contains("actor.key_id"), "{}", brk.reason);
}

#[test]
fn a_record_re_signed_by_another_key_is_detected() {
    // Record 6 rewritten by key B (actor.key_id, hash, signature), and, to
    // hide it, every later record re-chained and re-signed by key B.
    let (a, b) = (common::key_a(), common::key_b());
    let (_dir, path, records) = common::log(10, Some(&a));
    let mut lines = common::lines(&path);
    let mut prev = records[4].hash.clone();
    for (i, record) in records.iter().enumerate().skip(5) {
        let mut r = record.clone();
        r.actor.key_id = Some(b.public().id());
        r.prev = prev;
        r.hash = r.compute_hash();
        sign_as(&mut r, &b);
        prev = r.hash.clone();
        lines[i] = format!("{}\n", r.to_line());
        if i == 5 {
            // Record 6 alone re-signed: record 7's prev no longer matches.
            let mut only = common::lines(&path);
            only[5] = lines[5].clone();
            write_lines(&path, &only);
            let brk = verify(&path, &[a.public(), b.public()])
                .unwrap()
                .first_break
                .unwrap();
            assert_eq!(brk.line, 7);
            assert!(brk.reason.contains("prev"), "{}", brk.reason);
            let brk = verify(&path, &[]).unwrap().first_break.unwrap();
            assert_eq!(brk.line, 6);
        }
    }
    write_lines(&path, &lines);
    let brk = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!(brk.line, 6);
    assert!(
        brk.reason.contains("earlier records by key"),
        "{}",
        brk.reason
    );
    let brk = verify(&path, &[a.public()]).unwrap().first_break.unwrap();
    assert_eq!(brk.line, 6);
    assert!(
        brk.reason.contains("not among the --pubkey keys"),
        "{}",
        brk.reason
    );
    // Trusting both keys accepts the change of key.
    let report = verify(&path, &[a.public(), b.public()]).unwrap();
    assert!(report.is_ok(), "{}", report.render_human());
    assert_eq!(report.key_ids.len(), 2);
}

#[test]
fn an_unsigned_record_after_signed_ones_is_reported_and_fails_when_signatures_are_required() {
    let a = common::key_a();
    let (_dir, path, records) = common::log(4, Some(&a));
    let mut lines = common::lines(&path);
    let mut r = records[3].clone();
    r.actor.key_id = None;
    r.signature = None;
    r.hash = r.compute_hash();
    lines[3] = format!("{}\n", r.to_line());
    write_lines(&path, &lines);
    for keys in [vec![], vec![a.public()]] {
        // Not tampering with what was signed, but reported ...
        let report = verify(&path, &keys).unwrap();
        assert_eq!(report.unsigned_after_signed, [4]);
        assert!(report
            .render_human()
            .contains("line 4 comes after signed records"));
        // ... and a failure when signatures are required.
        let policy = axiom_audit::Policy {
            trusted_keys: keys,
            require_signed: true,
        };
        let report = axiom_audit::verify_with(&path, &policy).unwrap();
        assert!(!report.is_ok(), "{}", report.render_human());
    }
    // An unsigned record put between signed ones breaks the chain: the
    // next signed record's signature covers the hash it follows.
    let (_dir, path, records) = common::log(4, Some(&a));
    let mut lines = common::lines(&path);
    let mut r = records[1].clone();
    r.actor.key_id = None;
    r.signature = None;
    r.hash = r.compute_hash();
    lines[1] = format!("{}\n", r.to_line());
    write_lines(&path, &lines);
    let brk = verify(&path, &[]).unwrap().first_break.unwrap();
    assert_eq!(brk.line, 3);
}

#[test]
fn appended_garbage_and_huge_lines_are_reported_not_panicked_on() {
    let (_dir, path, _) = common::log(3, None);
    let mut bytes = std::fs::read(&path).unwrap();
    let good = bytes.clone();
    bytes.extend(std::iter::repeat_n(b'x', axiom_audit::MAX_LINE_BYTES + 10));
    bytes.extend_from_slice(b"\n\x00\xff\n");
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(&path, &[]).unwrap();
    let brk = report.first_break.unwrap();
    assert_eq!((brk.line, brk.seq), (4, None));
    assert!(
        brk.reason.contains("longer than any record"),
        "{}",
        brk.reason
    );
    assert_eq!(report.torn_tail.map(|t| t.line), Some(5));

    let mut bytes = good;
    bytes.extend_from_slice(b"{\"seq\":4}\n{}\n");
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(&path, &[]).unwrap();
    let brk = report.first_break.unwrap();
    assert_eq!(brk.line, 4);
    assert!(brk.reason.contains("not a record"), "{}", brk.reason);
}

proptest! {
    #![proptest_config(Config { cases: 200, failure_persistence: None, ..Config::default() })]

    // Any bytes: verify reports and append refuses or appends, and neither
    // panics nor changes a byte already there.
    #[test]
    fn arbitrary_bytes_are_reported_not_panicked_on(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        newlines in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let mut bytes = bytes;
        for i in &newlines {
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                bytes[at] = b'\n';
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, &bytes).unwrap();
        let report = verify(&path, &[]).unwrap();
        prop_assert_eq!(report.is_ok(), bytes.is_empty());
        let _ = report.render_human();
        let appended = axiom_audit::append(&path, &common::event(0), None);
        prop_assert_eq!(appended.is_ok(), bytes.is_empty());
        let after = std::fs::read(&path).unwrap();
        prop_assert!(after.starts_with(&bytes));
    }
}
