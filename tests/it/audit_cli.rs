//! The audit trail end to end: every audited command appends one record to
//! the log (`--audit-log`, `AXIOM_AUDIT_LOG`, or `.axiom/audit.log` in the
//! current folder), signed with `--audit-key`;
//! `--no-audit` and `AXIOM_AUDIT_REQUIRED`; `axiom audit verify|show|
//! report|repair` on real logs, tampered and torn ones included.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{axiom_command, p, stderr, stdout};
use axiom_audit::{read_records, Kind, Record};

/// A folder with the XOR network and a spec whose `ensure` fails on
/// inputs near (1, 0), one obligation that holds and one that does not.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/xor.onnx"),
        dir.path().join("xor.onnx"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/properties/xor_low.vnnlib"),
        dir.path().join("xor_low.vnnlib"),
    )
    .unwrap();
    let spec = dir.path().join("xor.axiom");
    std::fs::write(
        &spec,
        "model xor {\n  from onnx \"xor.onnx\"\n  input  x: f32[2] in [0, 1]\n  output y: f32[1]\n\n  \
         ensure y[0] <= 0.5\n\n  \
         prove low: forall x in box([0, 0], [0.2, 0.2]) => y[0] < 0.5\n  \
         prove not_high: forall x in box([0, 0], [0.2, 0.2]) => y[0] >= 0.5\n}\n",
    )
    .unwrap();
    (dir, spec)
}

/// `axiom ARGS...` in `dir`, logging to `log`.
fn run_in(dir: &Path, log: &Path, args: &[&str]) -> Output {
    axiom_command()
        .current_dir(dir)
        .env("AXIOM_AUDIT_LOG", log)
        .args(args)
        .output()
        .unwrap()
}

fn records(log: &Path) -> Vec<Record> {
    let (records, report) = read_records(log).unwrap();
    assert!(report.is_ok(), "{}", report.render_human());
    records
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[test]
fn every_audited_command_appends_one_signed_record() {
    let (dir, spec) = workspace();
    let d = dir.path();
    let log = d.join("logs/audit.log");
    let ok = |o: &Output, want: i32| {
        assert_eq!(code(o), want, "{}\n{}", stdout(o), stderr(o));
    };

    // keygen (its record is unsigned: no audit key yet).
    ok(&run_in(d, &log, &["keygen", "--out", "signing.key"]), 0);
    let signed = |args: &[&str]| {
        let mut all = vec!["--audit-key", "signing.key"];
        all.extend_from_slice(args);
        run_in(d, &log, &all)
    };
    let o = signed(&["verify", "xor.onnx", "xor_low.vnnlib", "--timeout", "60"]);
    ok(&o, 0);
    assert!(stderr(&o).contains("audit: record 2 in"), "{}", stderr(&o));
    ok(&signed(&["check", p(&spec), "--timeout", "60"]), 1);
    ok(
        &signed(&["certify", p(&spec), "--key", "signing.key", "--out", "b"]),
        1,
    );
    ok(
        &signed(&["cert", "verify", "b", "--pubkey", "signing.key.pub"]),
        0,
    );
    ok(&signed(&["export", "lean", "b", "--out", "lean"]), 0);
    // A run that meets its ensures is not recorded; a violation is.
    ok(&signed(&["run", p(&spec), "--input", "[0, 0]"]), 0);
    ok(&signed(&["run", p(&spec), "--input", "[1, 0]"]), 1);
    // Commands outside the list are not recorded.
    ok(&signed(&["info", "xor.onnx"]), 0);
    ok(&signed(&["cert", "show", "b/xor/low.cert"]), 0);

    let rs = records(&log);
    let kinds: Vec<Kind> = rs.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Keygen,
            Kind::Verify,
            Kind::Check,
            Kind::Certify,
            Kind::CertVerify,
            Kind::Export,
            Kind::Run
        ]
    );
    let exit_codes: Vec<i32> = rs.iter().map(|r| r.outcome.exit_code).collect();
    assert_eq!(exit_codes, [0, 0, 1, 1, 0, 0, 1]);

    // Signed by the audit key from the second record on, and the CLI's
    // own check agrees, pinned to that key.
    let key_id = axiom_certs::PublicKey::load(&d.join("signing.key.pub"))
        .unwrap()
        .id();
    assert!(rs[0].signature.is_none());
    assert!(rs[1..]
        .iter()
        .all(|r| r.actor.key_id.as_deref() == Some(key_id.as_str())));
    // The first record is unsigned: reported as such, not as tampering,
    // both with the key pinned and with key continuity ...
    for args in [
        &["audit", "verify", "--pubkey", "signing.key.pub"][..],
        &["audit", "verify"],
    ] {
        let o = run_in(d, &log, args);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        let out = stdout(&o);
        assert!(out.contains("records: 7 (6 signed by key"), "{out}");
        assert!(out.contains("unsigned: 1 record (line 1)"), "{out}");
        assert!(!out.contains("BROKEN"), "{out}");
    }
    // ... and a failure where signatures are required.
    let o = run_in(
        d,
        &log,
        &[
            "audit",
            "verify",
            "--pubkey",
            "signing.key.pub",
            "--require-signed",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("signatures: REQUIRED, but 1 record is unsigned (line 1)"),
        "{}",
        stdout(&o)
    );

    let model = axiom_core::load_model(&d.join("xor.onnx"))
        .unwrap()
        .digest()
        .to_string();
    let sha = |path: &Path| axiom_audit::sha256_hex(&std::fs::read(path).unwrap());
    // keygen: the public key's digest, never the secret key's.
    assert_eq!(rs[0].inputs.files.len(), 1);
    assert_eq!(
        rs[0].inputs.files[0].sha256,
        sha(&d.join("signing.key.pub"))
    );
    // verify: the model, both files, the verdict.
    let v = &rs[1];
    assert_eq!(v.inputs.model.as_deref(), Some(model.as_str()));
    assert_eq!(
        v.inputs.files.iter().map(|f| &f.sha256).collect::<Vec<_>>(),
        [&sha(&d.join("xor.onnx")), &sha(&d.join("xor_low.vnnlib"))]
    );
    assert_eq!(v.outcome.verdicts[0].verdict, "unsat");
    // check: the spec's digest and one verdict per obligation.
    let c = &rs[2];
    assert_eq!(c.inputs.spec, Some(sha(&spec)));
    assert_eq!(c.inputs.model.as_deref(), Some(model.as_str()));
    let verdicts = |r: &Record| {
        r.outcome
            .verdicts
            .iter()
            .map(|v| (v.obligation.clone(), v.verdict.clone()))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("low".to_string(), "proved".to_string()),
        ("not_high".to_string(), "disproved".to_string()),
    ];
    assert_eq!(verdicts(c), expected);
    // certify: each verdict names the digest of the certificate written.
    let certify = &rs[3];
    assert_eq!(verdicts(certify), expected);
    for v in &certify.outcome.verdicts {
        let file = d.join("b/xor").join(format!("{}.cert", v.obligation));
        assert_eq!(v.certificate, Some(sha(&file)), "{}", v.obligation);
        assert_eq!(v.digest.as_deref(), Some(model.as_str()));
    }
    // cert verify and export: the same certificates.
    for r in [&rs[4], &rs[5]] {
        assert_eq!(
            r.outcome
                .verdicts
                .iter()
                .map(|v| v.certificate.clone())
                .collect::<Vec<_>>(),
            certify
                .outcome
                .verdicts
                .iter()
                .map(|v| v.certificate.clone())
                .collect::<Vec<_>>(),
            "{:?}",
            r.kind
        );
    }
    // run: the ensure that was violated.
    let run = &rs[6];
    assert_eq!(run.outcome.verdicts[0].obligation, "ensure y[0] <= 0.5");
    assert_eq!(run.outcome.verdicts[0].verdict, "violated");
    assert!(run
        .outcome
        .detail
        .as_deref()
        .unwrap()
        .contains("ensure violated"));

    // The show filters, on the same log.
    let show = |args: &[&str]| {
        let mut all = vec!["audit", "show"];
        all.extend_from_slice(args);
        let o = run_in(d, &log, &all);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(show(&[]).lines().count(), 7);
    assert_eq!(show(&["--kind", "certify"]).lines().count(), 1);
    assert_eq!(show(&["--model", &model[..12]]).lines().count(), 6);
    assert_eq!(show(&["--since", "2999-01-01"]).lines().count(), 0);
    let json: serde_json::Value =
        serde_json::from_str(&show(&["--kind", "run", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["kind"], "run");
    for bad in [["--kind", "prove"], ["--since", "yesterday"]] {
        let mut all = vec!["audit", "show"];
        all.extend_from_slice(&bad);
        let o = run_in(d, &log, &all);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }

    // The report names the model and its obligations; it is not replaced
    // without --force.
    let o = run_in(d, &log, &["audit", "report", "--out", "audit.html"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = std::fs::read_to_string(d.join("audit.html")).unwrap();
    for needle in [model.as_str(), "not_high", "low", "disproved", &key_id] {
        assert!(page.contains(needle), "the report lacks {needle}");
    }
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    let o = run_in(d, &log, &["audit", "report", "--out", "audit.html"]);
    assert_eq!(code(&o), 2);
    assert_eq!(std::fs::read_to_string(d.join("audit.html")).unwrap(), page);
}

#[test]
fn the_default_log_is_in_the_current_folder_whatever_the_command_is_about() {
    let (dir, spec) = workspace();
    let d = dir.path();
    let work = d.join("work");
    std::fs::create_dir(&work).unwrap();
    let bare = |args: &[&str]| {
        axiom_command()
            .current_dir(&work)
            .env_remove("AXIOM_AUDIT_LOG")
            .args(args)
            .output()
            .unwrap()
    };
    // A spec in another folder, a certify of it, a violated ensure of it,
    // a verify and a keygen: one log, in the folder they run in.
    let o = bare(&["check", p(&spec)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = bare(&["certify", p(&spec), "--key", "k0.key", "--out", "b"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = bare(&["run", p(&spec), "--input", "[1, 0]"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = bare(&[
        "verify",
        p(&d.join("xor.onnx")),
        p(&d.join("xor_low.vnnlib")),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let kinds: Vec<Kind> = records(&work.join(".axiom/audit.log"))
        .iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, [Kind::Check, Kind::Certify, Kind::Run, Kind::Verify]);
    assert!(!d.join(".axiom").exists());
    assert!(stderr(&o).contains("audit: record 4 in .axiom/audit.log"));
    // --audit-log wins over the environment.
    let other = d.join("other.log");
    let o = axiom_command()
        .current_dir(&work)
        .env("AXIOM_AUDIT_LOG", d.join("env.log"))
        .args(["--audit-log", p(&other), "keygen", "--out", "k.key"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(records(&other).len(), 1);
    assert!(!d.join("env.log").exists());
}

#[test]
fn no_audit_leaves_no_trace_and_can_be_refused() {
    let (dir, _) = workspace();
    let d = dir.path();
    let log = d.join("audit.log");
    let o = run_in(d, &log, &["--no-audit", "keygen", "--out", "k.key"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!log.exists());
    assert!(!d.join(".axiom").exists());
    let o = axiom_command()
        .current_dir(d)
        .env("AXIOM_AUDIT_LOG", &log)
        .env("AXIOM_AUDIT_REQUIRED", "1")
        .args(["keygen", "--out", "k2.key", "--no-audit"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("AXIOM_AUDIT_REQUIRED"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("k2.key").exists(), "refused before any work");
    assert!(!log.exists());
}

#[test]
fn a_bad_audit_key_stops_the_command_before_it_starts() {
    let (dir, _) = workspace();
    let d = dir.path();
    std::fs::write(d.join("bad.key"), "not a key\n").unwrap();
    let log = d.join("audit.log");
    let o = run_in(
        d,
        &log,
        &["--audit-key", "bad.key", "keygen", "--out", "k.key"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--audit-key bad.key"), "{}", stderr(&o));
    assert!(!d.join("k.key").exists());
    assert!(!log.exists());
}

#[test]
fn a_torn_log_stops_commands_and_repair_mends_it() {
    let (dir, _) = workspace();
    let d = dir.path();
    let log = d.join("audit.log");
    for _ in 0..3 {
        let o = run_in(d, &log, &["verify", "xor.onnx", "xor_low.vnnlib"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    // A crash in the middle of the fourth record.
    let good = std::fs::read(&log).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(&good[..good.len() / 5]);
    std::fs::write(&log, &torn).unwrap();

    let o = run_in(
        d,
        &log,
        &["verify", "xor.onnx", "xor_low.vnnlib", "--result", "r.txt"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("audit repair"), "{}", stderr(&o));
    assert!(!d.join("r.txt").exists(), "stopped before the work");
    assert_eq!(std::fs::read(&log).unwrap(), torn, "the log is untouched");

    let o = run_in(d, &log, &["audit", "verify"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("line 4"), "{}", stdout(&o));
    assert!(stdout(&o).contains("axiom audit repair"), "{}", stdout(&o));

    let o = run_in(d, &log, &["audit", "repair", "--log", p(&log)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let backup = PathBuf::from(format!("{}.bak", log.display()));
    assert_eq!(std::fs::read(&backup).unwrap(), torn, "backup kept");
    let rs = records(&log);
    assert_eq!(rs.len(), 4);
    assert_eq!(rs[3].kind, Kind::AuditRepair);
    assert!(rs[3].outcome.detail.as_deref().unwrap().contains("line 4"));
    assert_eq!(rs[3].inputs.files[0].sha256, axiom_audit::sha256_hex(&torn));

    let o = run_in(d, &log, &["verify", "xor.onnx", "xor_low.vnnlib"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(records(&log).len(), 5);
    let o = run_in(d, &log, &["audit", "verify"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn tampering_is_named_by_line_and_not_repaired() {
    let (dir, _) = workspace();
    let d = dir.path();
    let log = d.join("audit.log");
    for _ in 0..3 {
        let o = run_in(d, &log, &["verify", "xor.onnx", "xor_low.vnnlib"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let forged = lines[1].replacen("\"exit_code\":0", "\"exit_code\":3", 1);
    assert_ne!(forged, lines[1]);
    let tampered = format!("{}\n{forged}\n{}\n", lines[0], lines[2]);
    std::fs::write(&log, &tampered).unwrap();

    let o = run_in(d, &log, &["audit", "verify"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("BROKEN at line 2"), "{}", stdout(&o));
    let o = run_in(d, &log, &["audit", "repair"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("not crash damage"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), tampered);
    // `show` still lists the records, with a warning.
    let o = run_in(d, &log, &["audit", "show"]);
    assert_eq!(code(&o), 0);
    assert!(
        stderr(&o).contains("does not verify from line 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_garbage_log_gets_advice_that_works() {
    let (dir, _) = workspace();
    let d = dir.path();
    let log = d.join("audit.log");
    std::fs::write(&log, "garbage line one\ngarbage two\n").unwrap();
    // verify, and a command that would append, advise moving it aside,
    // not `audit repair` (which refuses a log broken before its last line).
    let o = run_in(d, &log, &["audit", "verify"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("not an axiom audit log"), "{out}");
    assert!(out.contains("move it aside"), "{out}");
    assert!(!out.contains("run `axiom audit repair"), "{out}");
    let o = run_in(d, &log, &["verify", "xor.onnx", "xor_low.vnnlib"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("move it aside"), "{err}");
    assert!(!err.contains("run `axiom audit repair"), "{err}");
    let o = run_in(d, &log, &["audit", "repair"]);
    assert_eq!(code(&o), 1, "repair still refuses: {}", stderr(&o));
    assert!(stderr(&o).contains("move it aside"), "{}", stderr(&o));
    // The advice works: moved aside, the next command starts a new log.
    std::fs::rename(&log, d.join("audit.log.broken")).unwrap();
    let o = run_in(d, &log, &["verify", "xor.onnx", "xor_low.vnnlib"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(records(&log).len(), 1);
}

#[test]
fn four_cli_processes_appending_at_once_lose_nothing() {
    let (dir, spec) = workspace();
    let d = dir.path().to_path_buf();
    let log = d.join("audit.log");
    const PROCS: usize = 4;
    const EACH: usize = 25;
    let threads: Vec<_> = (0..PROCS)
        .map(|t| {
            let (d, log, spec) = (d.clone(), log.clone(), spec.clone());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    // A violated ensure: one record per run.
                    let input = format!("[1, {}]", (t * EACH + i) as f64 / 1000.0);
                    let o = run_in(&d, &log, &["run", p(&spec), "--input", &input]);
                    assert_eq!(code(&o), 1, "{}", stderr(&o));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let rs = records(&log);
    assert_eq!(rs.len(), PROCS * EACH);
    let mut inputs: Vec<String> = rs
        .iter()
        .map(|r| r.command.last().unwrap().clone())
        .collect();
    inputs.sort();
    inputs.dedup();
    assert_eq!(inputs.len(), PROCS * EACH, "every run recorded once");
}
