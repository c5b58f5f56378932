//! Readers of what the suites' commands write: `axiom vnncomp`'s results
//! file, `axiom verify`'s summary line, the forward bench's JSON, and the
//! libtest output of the long tests.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One row of `axiom vnncomp --out`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstanceResult {
    pub onnx: String,
    pub vnnlib: String,
    pub result: String,
    pub seconds: f64,
    #[serde(default)]
    pub expected: String,
    #[serde(default)]
    pub agrees: String,
    /// Why an instance is an error or unknown (absent in older files).
    #[serde(default)]
    pub detail: String,
}

impl InstanceResult {
    /// The row as kept in a suite's details.
    pub fn row(&self) -> BTreeMap<String, String> {
        let stem = |p: &str| {
            let name = p.rsplit(['/', '\\']).next().unwrap_or(p);
            name.split('.').next().unwrap_or(name).to_string()
        };
        let mut row = BTreeMap::from([
            (
                "instance".to_string(),
                format!("{} {}", stem(&self.onnx), stem(&self.vnnlib)),
            ),
            ("result".to_string(), self.result.clone()),
            ("seconds".to_string(), format!("{:.3}", self.seconds)),
        ]);
        for (k, v) in [
            ("expected", &self.expected),
            ("agrees", &self.agrees),
            ("detail", &self.detail),
        ] {
            if !v.is_empty() {
                row.insert(k.to_string(), v.clone());
            }
        }
        row
    }
}

/// Reads an `axiom vnncomp --out` results file.
pub fn vnncomp_results(text: &str) -> Result<Vec<InstanceResult>, String> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<InstanceResult>, _>>()
        .map_err(|e| format!("not an axiom vnncomp results file: {e}"))
}

/// The rows of an instances file (`onnx,vnnlib,timeout_s[,expected]`),
/// header and blank lines left out, fields trimmed.
pub fn instance_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| {
            l.split(',')
                .map(|f| f.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|f| f.len() >= 3 && !f[0].is_empty())
        // A header names its columns (`onnx`), a row names files (`a.onnx`).
        .filter(|f| f[0].contains('.') || !f[0].to_ascii_lowercase().contains("onnx"))
        .collect()
}

/// `n` indices spread evenly over `0..len` (all of them when `n` is 0 or at
/// least `len`), the same every time.
pub fn spread_sample(len: usize, n: usize) -> Vec<usize> {
    if n == 0 || n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// When no instance was solved and every one was refused (an error, or
/// unknown because something is unsupported), the most common reason, with
/// the count; else `None`.
pub fn unsupported_reason(rows: &[BTreeMap<String, String>]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let refused = |r: &BTreeMap<String, String>| {
        let result = r.get("result").map_or("", String::as_str);
        let detail = r.get("detail").map_or("", String::as_str);
        result == "error" || (result == "unknown" && detail.starts_with("unsupported"))
    };
    if !rows.iter().all(refused) {
        return None;
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        let detail = r.get("detail").map_or("", String::as_str);
        let first = without_path(detail.lines().next().unwrap_or("").trim());
        let first = if first.is_empty() {
            "no reason given"
        } else {
            first
        };
        *counts.entry(first.chars().take(200).collect()).or_default() += 1;
    }
    let (reason, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    Some(format!("{reason} ({n} of {} instances)", rows.len()))
}

/// A message without the file it names first (`/a/b.onnx.gz: unknown
/// model format` -> `unknown model format`), so that one reason given for
/// many files counts once.
fn without_path(message: &str) -> &str {
    match message.split_once(": ") {
        Some((head, rest)) if !head.contains(' ') && (head.contains('/') || head.contains('.')) => {
            rest
        }
        _ => message,
    }
}

/// The median of some numbers (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The word after `marker` in `text`, as a number.
fn number_after(text: &str, marker: &str) -> Option<f64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The engine's seconds in `axiom verify`'s summary of a proof
/// (`unsat: the property holds; proved in 9.87 s with ...`).
pub fn proved_seconds(stderr: &str) -> Option<f64> {
    number_after(stderr, "; proved in ")
}

/// The proof's leaves in `axiom verify`'s summary (`... with 186 proof
/// leaves ...`).
pub fn rechecked_leaves(stderr: &str) -> Option<u64> {
    number_after(stderr, " s with ").map(|n| n as u64)
}

/// One row of the forward bench's JSON (`AXIOM_BENCH_JSON`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ForwardResult {
    pub model: String,
    pub batch: usize,
    pub dtype: String,
    pub median_us: f64,
}

/// Reads the forward bench's JSON.
pub fn forward_results(text: &str) -> Result<Vec<ForwardResult>, String> {
    let rows: Vec<ForwardResult> =
        serde_json::from_str(text).map_err(|e| format!("not the forward bench's JSON: {e}"))?;
    if rows.is_empty() {
        return Err("the forward bench measured nothing".into());
    }
    Ok(rows)
}

/// The sums over a cargo test run's `test result:` lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResults {
    pub passed: u64,
    pub failed: u64,
    /// libtest's own `finished in` seconds (compilation not included).
    pub seconds: f64,
}

/// Sums the `test result: ... N passed; M failed; ... finished in Xs` lines;
/// `None` when there is none (the build failed).
pub fn test_results(log: &str) -> Option<TestResults> {
    let mut sum: Option<TestResults> = None;
    for line in log.lines().filter(|l| l.starts_with("test result:")) {
        let count = |word: &str| {
            line.split(';')
                .find_map(|part| {
                    let part = part.trim().trim_start_matches("test result:").trim();
                    let part = part
                        .trim_start_matches("ok.")
                        .trim_start_matches("FAILED.")
                        .trim();
                    part.strip_suffix(word)?.trim().parse::<u64>().ok()
                })
                .unwrap_or(0)
        };
        let seconds = line
            .rsplit("finished in ")
            .next()
            .and_then(|s| s.trim().trim_end_matches('s').parse::<f64>().ok())
            .unwrap_or(0.0);
        let s = sum.get_or_insert(TestResults {
            passed: 0,
            failed: 0,
            seconds: 0.0,
        });
        s.passed += count("passed");
        s.failed += count("failed");
        s.seconds += seconds;
    }
    sum
}

/// `(test name, outcome)` for every `test NAME ... OUTCOME` line.
pub fn test_outcomes(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("test ")?;
            let (name, outcome) = rest.split_once(" ... ")?;
            Some((name.to_string(), outcome.trim().to_string()))
        })
        .collect()
}

/// The differential test's summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DifferentialSummary {
    pub networks: u64,
    pub proved: u64,
    pub rechecked: u64,
    pub disproved: u64,
    pub unknown: u64,
}

/// Reads `N networks (ReLU ones twice): P proved (C exactly re-checked, R
/// by ReLU splitting), D disproved, U unknown; ...`.
pub fn differential_summary(log: &str) -> Option<DifferentialSummary> {
    let line = log
        .lines()
        .find(|l| l.contains(" networks (ReLU ones twice): "))?;
    let before = |marker: &str| -> Option<u64> {
        let end = line.find(marker)?;
        line[..end]
            .split_whitespace()
            .last()?
            .trim_start_matches('(')
            .parse()
            .ok()
    };
    Some(DifferentialSummary {
        networks: before(" networks")?,
        proved: before(" proved")?,
        rechecked: before(" exactly re-checked")?,
        disproved: before(" disproved")?,
        unknown: before(" unknown")?,
    })
}

/// Why a cargo run failed, from its log: the first panic message (with the
/// line after it), else the first error, else the log's last line.
pub fn failure_reason(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let mut reason = lines[i].trim().to_string();
        if let Some(next) = lines.get(i + 1) {
            reason.push(' ');
            reason.push_str(next.trim());
        }
        return reason;
    }
    if let Some(l) = lines.iter().find(|l| l.starts_with("error")) {
        return l.trim().to_string();
    }
    lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or("no output".to_string(), |l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnncomp_results_with_and_without_detail() {
        let old = "onnx,vnnlib,result,seconds,expected,agrees\n\
                   a.onnx,p.vnnlib,unsat,0.250,unsat,yes\n\
                   b.onnx,q.vnnlib,sat,1.000,unsat,no\n";
        let rows = vnncomp_results(old).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].agrees, "no");
        assert_eq!(rows[0].detail, "");
        let new = "onnx,vnnlib,result,seconds,expected,agrees,detail\n\
                   onnx/m.onnx.gz,vnnlib/p.vnnlib.gz,error,0.001,,,\"m.onnx.gz: unknown model format\"\n";
        let rows = vnncomp_results(new).unwrap();
        assert_eq!(rows[0].detail, "m.onnx.gz: unknown model format");
        let row = rows[0].row();
        assert_eq!(row["instance"], "m p");
        assert!(!row.contains_key("expected"));
        assert!(vnncomp_results("onnx,vnnlib\nx,y\n").is_err());
    }

    #[test]
    fn instance_lines_skip_the_header_and_blanks() {
        let text = "onnx,vnnlib,timeout_s,expected\n\na.onnx,p.vnnlib,30,sat\nb.onnx.gz,q.vnnlib.gz,300.0,\n";
        let rows = instance_lines(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], vec!["b.onnx.gz", "q.vnnlib.gz", "300.0", ""]);
    }

    #[test]
    fn samples_are_spread_and_stable() {
        assert_eq!(spread_sample(10, 0), (0..10).collect::<Vec<_>>());
        assert_eq!(spread_sample(3, 5), vec![0, 1, 2]);
        assert_eq!(spread_sample(90, 3), vec![0, 30, 60]);
        let s = spread_sample(296, 20);
        assert_eq!(s.len(), 20);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && *s.last().unwrap() < 296);
    }

    #[test]
    fn a_category_is_unsupported_only_when_every_instance_is_refused() {
        let row = |result: &str, detail: &str| {
            BTreeMap::from([
                ("result".to_string(), result.to_string()),
                ("detail".to_string(), detail.to_string()),
            ])
        };
        let refused = vec![
            row("error", "a.onnx.gz: unknown model format\n  hint: ..."),
            row("error", "b.onnx.gz: unknown model format"),
            row("unknown", "unsupported: MaxPool"),
        ];
        assert_eq!(
            unsupported_reason(&refused).unwrap(),
            "unknown model format (2 of 3 instances)"
        );
        let mut some_ran = refused.clone();
        some_ran.push(row("timeout", ""));
        assert_eq!(unsupported_reason(&some_ran), None);
        let mut incomplete = refused;
        incomplete.push(row("unknown", "incomplete: budget"));
        assert_eq!(unsupported_reason(&incomplete), None);
        assert_eq!(unsupported_reason(&[]), None);
    }

    #[test]
    fn verify_summaries() {
        let stderr = "re-check: 186 leaves, 190 bound refutations re-derived exactly, 0 trusted to SMT in 1.20 s\n\
            certificate c.cert (sha256 ab)\n\
            unsat: the property holds; proved in 9.87 s with 186 proof leaves over 1 case (400 boxes bounded, ...)\n";
        assert_eq!(proved_seconds(stderr), Some(9.87));
        assert_eq!(rechecked_leaves(stderr), Some(186));
        assert_eq!(proved_seconds("timeout after 116.00 s: timeout"), None);
    }

    #[test]
    fn test_logs() {
        let log = "running 2 tests\n\
            test differential::engine_never_proves_a_violated_property ... ok\n\
            2000 networks (ReLU ones twice): 1349 proved (1000 exactly re-checked, 500 by ReLU splitting), 1866 disproved, 2 unknown; reference undecided on 12; 746 verdicts on networks with BatchNorm\n\
            test relu_split::bench_x ... FAILED\n\
            test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 33 filtered out; finished in 96.63s\n\
            test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.37s\n";
        let t = test_results(log).unwrap();
        assert_eq!((t.passed, t.failed), (4, 1));
        assert!((t.seconds - 97.0).abs() < 1e-9);
        assert_eq!(
            differential_summary(log).unwrap(),
            DifferentialSummary {
                networks: 2000,
                proved: 1349,
                rechecked: 1000,
                disproved: 1866,
                unknown: 2
            }
        );
        assert_eq!(
            test_outcomes(log)[1],
            ("relu_split::bench_x".into(), "FAILED".into())
        );
        assert_eq!(test_results("error: could not compile"), None);
        let panic = "thread 'x' panicked at prover/tests/it/differential.rs:300:5:\ncase 7: Proved, but Z3 says sat\nnote: ...";
        assert_eq!(
            failure_reason(panic),
            "thread 'x' panicked at prover/tests/it/differential.rs:300:5: case 7: Proved, but Z3 says sat"
        );
        assert_eq!(failure_reason("error[E0425]: x\nmore"), "error[E0425]: x");
    }

    #[test]
    fn forward_json() {
        let rows = forward_results(
            r#"[{"model":"synthetic","batch":1,"dtype":"f32","median_us":26.6,"samples_per_s":37600.0}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].batch, 1);
        assert!(forward_results("[]").is_err());
        assert!(forward_results("{").is_err());
    }
}
