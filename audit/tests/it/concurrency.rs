//! Many writers at once: no record is lost, duplicated or interleaved.
//!
//! The processes are this test binary itself, re-run with a filter that
//! selects only `concurrency::child_append_worker` and an environment variable that
//! tells it what to append (it returns at once without one).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axiom_audit::{append, read_records, verify, Event, Kind};

const CHILD_LOG: &str = "AXIOM_AUDIT_TEST_CHILD_LOG";
const CHILD_ID: &str = "AXIOM_AUDIT_TEST_CHILD_ID";
const CHILD_N: &str = "AXIOM_AUDIT_TEST_CHILD_N";
const CHILD_START: &str = "AXIOM_AUDIT_TEST_CHILD_START";

fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < until, "the start signal never came");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Not a test on its own: the body of each child process of
/// `four_processes_append_1000_records`.
#[test]
fn child_append_worker() {
    let Ok(log) = std::env::var(CHILD_LOG) else {
        return;
    };
    let id: usize = std::env::var(CHILD_ID).unwrap().parse().unwrap();
    let n: usize = std::env::var(CHILD_N).unwrap().parse().unwrap();
    wait_for(Path::new(&std::env::var(CHILD_START).unwrap()));
    let key = common::key_a();
    for i in 0..n {
        let mut event = Event::new(Kind::Run, ["axiom", "run", "child"]);
        event.outcome.detail = Some(format!("child {id} record {i}"));
        append(Path::new(&log), &event, Some(&key)).unwrap();
    }
}

/// Checks that `records` hold `writers` x `n` records, seq 1.., each
/// "child C record I" exactly once and each writer's in its own order.
fn assert_all_there(records: &[axiom_audit::Record], writers: usize, n: usize) {
    assert_eq!(records.len(), writers * n);
    let mut next: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        let detail = r.outcome.detail.as_deref().unwrap();
        let words: Vec<&str> = detail.split(' ').collect();
        let (child, k): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
        let expected = next.entry(child).or_default();
        assert_eq!(
            k, *expected,
            "child {child}'s records out of order at seq {}",
            r.seq
        );
        *expected += 1;
    }
    assert_eq!(next.len(), writers);
    assert!(next.values().all(|&k| k == n), "{next:?}");
}

#[test]
fn four_processes_append_1000_records() {
    const WRITERS: usize = 4;
    const N: usize = 250;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nested").join("audit.log");
    let start = dir.path().join("start");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|id| {
            Command::new(&exe)
                .args([
                    "concurrency::child_append_worker",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_LOG, &log)
                .env(CHILD_ID, id.to_string())
                .env(CHILD_N, N.to_string())
                .env(CHILD_START, &start)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // All four wait for this file, so they append at the same time.
    std::fs::write(&start, "go").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = verify(&log, &[common::key_a().public()]).unwrap();
    assert!(report.is_ok(), "{}", report.render_human());
    assert_eq!(
        (report.records, report.verified, report.signed),
        (1000, 1000, 1000)
    );
    let (records, _) = read_records(&log).unwrap();
    assert_all_there(&records, WRITERS, N);
    // Every line is whole: exactly one newline per record, at the end of each.
    let bytes = std::fs::read(&log).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1000);
    let switches = records
        .windows(2)
        .filter(|w| {
            w[0].outcome.detail.as_deref().map(|d| &d[..7])
                != w[1].outcome.detail.as_deref().map(|d| &d[..7])
        })
        .count();
    println!("writers took turns {switches} times");
}

#[test]
fn threads_with_their_own_handles_append_without_loss() {
    const WRITERS: usize = 4;
    const N: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    std::thread::scope(|s| {
        for id in 0..WRITERS {
            let log = &log;
            s.spawn(move || {
                for i in 0..N {
                    let mut event = Event::new(Kind::Check, ["axiom", "check"]);
                    event.outcome.detail = Some(format!("child {id} record {i}"));
                    append(log, &event, None).unwrap();
                }
            });
        }
    });
    let (records, report) = read_records(&log).unwrap();
    assert!(report.is_ok(), "{}", report.render_human());
    assert_all_there(&records, WRITERS, N);
}
