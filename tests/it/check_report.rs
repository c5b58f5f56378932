//! The reports of `axiom check` on a hand-made summary with every status, a
//! cached result and a specification that failed to load.

use axiom_ml::check_report::{CheckSummary, Counts, FileError, Format, ObligationResult, Status};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use serde_sarif::sarif::{ResultLevel, Sarif};

fn result(
    file: &str,
    line: usize,
    model: &str,
    obligation: &str,
    status: Status,
    detail: &str,
    seconds: f64,
) -> ObligationResult {
    ObligationResult {
        file: file.into(),
        line,
        col: 1,
        model: model.into(),
        obligation: obligation.into(),
        status,
        detail: detail.into(),
        counterexample: None,
        method: "branch-and-bound".into(),
        seconds,
        cached: false,
    }
}

/// acas: proved, disproved; xor: unknown, error, proved from the cache;
/// broken: did not load.
fn summary() -> CheckSummary {
    let mut disproved = result(
        "specs/acas.axiom",
        7,
        "acas",
        "clear_of_conflict",
        Status::Disproved,
        "counterexample x=[0.1, 0.2] y=[1.5, -0.5]",
        0.5,
    );
    disproved.counterexample = Some((vec![0.1, 0.2], vec![1.5, -0.5]));
    disproved.col = 3;
    let mut cached = result(
        "specs/xor.axiom",
        12,
        "xor",
        "nonneg",
        Status::Proved,
        "evidence re-checked: 3 leaves",
        0.001,
    );
    cached.cached = true;
    cached.method = "cache".into();
    CheckSummary {
        results: vec![
            result(
                "specs/acas.axiom",
                3,
                "acas",
                "safe_region",
                Status::Proved,
                "evidence re-checked: 12 leaves",
                1.25,
            ),
            disproved,
            result(
                "specs/xor.axiom",
                4,
                "xor",
                "low",
                Status::Unknown,
                "timeout after 60 s",
                60.0,
            ),
            result(
                "specs/xor.axiom",
                9,
                "xor",
                "high",
                Status::Error,
                "model file not found: xor.onnx",
                0.0,
            ),
            cached,
        ],
        errors: vec![FileError {
            file: "specs/broken.axiom".into(),
            line: 2,
            col: 5,
            message: "expected `prove` or `model`".into(),
        }],
        seconds: 62.0,
    }
}

fn only(statuses: &[Status]) -> CheckSummary {
    let mut s = summary();
    s.results.retain(|r| statuses.contains(&r.status));
    s.errors.clear();
    s
}

#[test]
fn counts_every_status_and_the_cache() {
    assert_eq!(
        summary().counts(),
        Counts {
            proved: 2,
            disproved: 1,
            unknown: 1,
            error: 2,
            cached: 1
        }
    );
    assert_eq!(summary().counts().total(), 6);
}

#[test]
fn exit_codes_follow_the_cli_contract() {
    use Status::*;
    assert_eq!(summary().exit_code(false), 2);
    assert_eq!(summary().exit_code(true), 2);
    // A spec that failed to load is an error on its own.
    let mut load_only = only(&[Proved]);
    load_only.errors = summary().errors;
    assert_eq!(load_only.exit_code(true), 2);
    assert_eq!(only(&[Proved, Disproved, Unknown]).exit_code(false), 1);
    assert_eq!(only(&[Proved, Disproved, Unknown]).exit_code(true), 1);
    assert_eq!(only(&[Proved, Unknown]).exit_code(false), 3);
    assert_eq!(only(&[Proved, Unknown]).exit_code(true), 0);
    assert_eq!(only(&[Proved]).exit_code(false), 0);
    assert_eq!(only(&[]).exit_code(false), 0);
}

#[test]
fn human_report_lists_every_obligation_then_the_summary_line() {
    let text = summary().render(Format::Human, false).unwrap();
    assert!(!text.contains('\x1b'), "{text}");
    for (model, obligation, location) in [
        ("acas", "safe_region", "specs/acas.axiom:3"),
        ("acas", "clear_of_conflict", "specs/acas.axiom:7"),
        ("xor", "low", "specs/xor.axiom:4"),
        ("xor", "high", "specs/xor.axiom:9"),
        ("xor", "nonneg", "specs/xor.axiom:12"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(obligation) && l.contains(model) && l.contains(location))
            .unwrap_or_else(|| panic!("no line for {model}::{obligation} in\n{text}"));
        assert!(!line.ends_with(' '));
    }
    assert!(text.contains("specs/broken.axiom:2"), "{text}");
    assert!(text.contains("expected `prove` or `model`"), "{text}");
    assert!(text.contains("(cached)"), "{text}");
    assert!(text.contains("timeout after 60 s"), "{text}");
    assert_eq!(
        text.lines().last().unwrap(),
        "6 obligations: 2 proved, 1 disproved, 1 unknown, 2 errors (1 from cache) in 62.0 s"
    );
    assert!(text.ends_with('\n'));
}

#[test]
fn human_columns_are_aligned() {
    let text = summary().render(Format::Human, false).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    assert!(header.starts_with("STATUS"), "{text}");
    let columns: Vec<usize> = ["MODEL", "OBLIGATION", "LOCATION", "TIME", "DETAIL"]
        .iter()
        .map(|h| header.find(h).unwrap())
        .collect();
    // The table's rows: one per result and per file error.
    for row in &lines[1..7] {
        for &c in &columns {
            assert_eq!(&row[c - 2..c], "  ", "column at {c} in\n{text}");
            assert_ne!(&row[c..c + 1], " ", "column at {c} in\n{text}");
        }
    }
}

#[test]
fn colour_only_adds_escapes_around_statuses() {
    let plain = summary().render(Format::Human, false).unwrap();
    let coloured = summary().render(Format::Human, true).unwrap();
    assert!(coloured.contains("\x1b[32mproved\x1b[0m"));
    assert!(coloured.contains("\x1b[31mdisproved\x1b[0m"));
    assert!(coloured.contains("\x1b[33munknown\x1b[0m"));
    assert!(coloured.contains("\x1b[31merror\x1b[0m"));
    let stripped = coloured
        .replace("\x1b[32m", "")
        .replace("\x1b[31m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn json_report_round_trips_and_carries_counts_and_version() {
    let s = summary();
    let text = s.render(Format::Json, false).unwrap();
    let back: CheckSummary = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["counts"]["proved"], 2);
    assert_eq!(value["counts"]["error"], 2);
    assert_eq!(value["counts"]["cached"], 1);
    assert_eq!(value["results"][1]["status"], "disproved");
    assert_eq!(
        value["results"][1]["counterexample"],
        serde_json::json!([[0.1, 0.2], [1.5, -0.5]])
    );
    assert_eq!(value["errors"][0]["file"], "specs/broken.axiom");
}

#[test]
fn junit_report_has_a_suite_per_file_and_a_case_per_obligation() {
    let text = summary().render(Format::Junit, false).unwrap();
    let report = Report::deserialize_from_str(&text).unwrap();
    assert_eq!(report.tests, 6);
    assert_eq!(report.failures, 1);
    assert_eq!(report.errors, 2);
    assert_eq!(report.skipped, 1);

    let names: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["specs/acas.axiom", "specs/xor.axiom", "specs/broken.axiom"]
    );
    let acas = &report.test_suites[0];
    assert_eq!((acas.tests, acas.failures, acas.errors), (2, 1, 0));
    let xor = &report.test_suites[1];
    assert_eq!((xor.tests, xor.errors, xor.skipped), (3, 1, 1));

    let proved = &acas.test_cases[0];
    assert_eq!(proved.name.as_str(), "acas::safe_region");
    assert_eq!(proved.classname.as_deref(), Some("specs/acas.axiom"));
    assert_eq!(proved.time.unwrap().as_secs_f64(), 1.25);
    assert!(matches!(proved.status, TestCaseStatus::Success { .. }));

    let disproved = &acas.test_cases[1];
    assert_eq!(disproved.name.as_str(), "acas::clear_of_conflict");
    match &disproved.status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            description,
            ..
        } => {
            assert_eq!(
                message.as_deref(),
                Some("counterexample x=[0.1, 0.2] y=[1.5, -0.5]")
            );
            let text = description.as_deref().unwrap();
            assert!(text.contains("input:  [0.1, 0.2]"), "{text}");
            assert!(text.contains("output: [1.5, -0.5]"), "{text}");
        }
        other => panic!("disproved is {other:?}"),
    }

    let unknown = &xor.test_cases[0];
    assert_eq!(unknown.name.as_str(), "xor::low");
    assert_eq!(unknown.time.unwrap().as_secs_f64(), 60.0);
    match &unknown.status {
        TestCaseStatus::Skipped { message, .. } => {
            assert_eq!(message.as_deref(), Some("timeout after 60 s"))
        }
        other => panic!("unknown is {other:?}"),
    }
    assert!(matches!(
        xor.test_cases[1].status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            ..
        }
    ));

    let broken = &report.test_suites[2];
    assert_eq!(broken.test_cases.len(), 1);
    match &broken.test_cases[0].status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            message,
            ..
        } => assert_eq!(message.as_deref(), Some("expected `prove` or `model`")),
        other => panic!("a failed load is {other:?}"),
    }
}

#[test]
fn sarif_report_reads_back_and_points_at_the_prove_line() {
    let text = summary().render(Format::Sarif, false).unwrap();
    let log: Sarif = serde_json::from_str(&text).unwrap();
    assert_eq!(log.version, "2.1.0");
    assert_eq!(
        log.schema.as_deref(),
        Some("https://json.schemastore.org/sarif-2.1.0.json")
    );
    assert_eq!(log.runs.len(), 1);
    let run = &log.runs[0];
    let driver = &run.tool.driver;
    assert_eq!(driver.name, "axiom");
    assert_eq!(driver.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let rules: Vec<&str> = driver
        .rules
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(rules, ["disproved", "unknown", "error"]);
    assert!(driver.rules.as_ref().unwrap()[0]
        .short_description
        .is_some());

    // Disproved, unknown, error and the failed load; nothing for proved.
    let results = run.results.as_ref().unwrap();
    assert_eq!(results.len(), 4);
    let levels: Vec<(Option<&str>, Option<ResultLevel>)> = results
        .iter()
        .map(|r| (r.rule_id.as_deref(), r.level))
        .collect();
    assert_eq!(
        levels,
        [
            (Some("disproved"), Some(ResultLevel::Error)),
            (Some("unknown"), Some(ResultLevel::Warning)),
            (Some("error"), Some(ResultLevel::Error)),
            (Some("error"), Some(ResultLevel::Error)),
        ]
    );

    let disproved = &results[0];
    assert_eq!(
        disproved.message.text.as_deref(),
        Some("counterexample x=[0.1, 0.2] y=[1.5, -0.5]")
    );
    let physical = disproved.locations.as_ref().unwrap()[0]
        .physical_location
        .as_ref()
        .unwrap();
    assert_eq!(
        physical.artifact_location.as_ref().unwrap().uri.as_deref(),
        Some("specs/acas.axiom")
    );
    let region = physical.region.as_ref().unwrap();
    assert_eq!(region.start_line, Some(7));
    assert_eq!(region.start_column, Some(3));

    let load = results[3].locations.as_ref().unwrap()[0]
        .physical_location
        .as_ref()
        .unwrap();
    assert_eq!(
        load.artifact_location.as_ref().unwrap().uri.as_deref(),
        Some("specs/broken.axiom")
    );
    assert_eq!(load.region.as_ref().unwrap().start_line, Some(2));
}

#[test]
fn every_format_ends_with_a_newline() {
    for format in Format::ALL {
        let text = summary().render(format, false).unwrap();
        assert!(text.ends_with('\n'), "{format}");
    }
}
