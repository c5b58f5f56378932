//! README.md's tour, run verbatim: every `$ ` line of every ```console
//! block, in order, in one shell (so that `export` carries over), in a
//! fresh folder holding a copy of `examples/` and, when the shared
//! benchmarks are there, `../shared` beside it, with `axiom` on PATH and
//! no audit variables set: what a new user who follows the README gets.
//!
//! Each command must exit as the README says: 0, or the code in a trailing
//! `# exit code N` comment. The output lines shown under a command must
//! appear in its output (stdout and stderr together), in order; `…` and
//! `...` stand for any text (a whole elided line, or part of one), runs of
//! spaces match any spacing, and a time such as `0.07 s` matches any time.
//!
//! Commands that need what a fresh machine lacks are skipped with a printed
//! reason: those reading `../shared` when it is absent, and the Lean check
//! when `lean` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One `$ ` line of the README and the output lines shown under it.
#[derive(Debug)]
struct Step {
    /// Line in README.md (1-based).
    line: usize,
    command: String,
    shown: Vec<String>,
}

fn steps(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for (i, text) in readme.lines().enumerate() {
        if !in_console {
            in_console = text.trim() == "```console";
            continue;
        }
        if text.trim() == "```" {
            in_console = false;
        } else if let Some(command) = text.strip_prefix("$ ") {
            steps.push(Step {
                line: i + 1,
                command: command.to_string(),
                shown: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.shown.push(text.to_string());
        }
    }
    steps
}

/// The exit code a step's `# exit code N` comment announces, else 0.
fn expected_code(command: &str) -> i32 {
    command
        .split_once("# exit code ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A line with its spacing collapsed and every time (`0.07 s`) as `<t> s`.
fn normalize(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let time = w.parse::<f64>().is_ok() && words.get(i + 1) == Some(&"s");
        out.push(if time { "<t>" } else { w });
    }
    out.join(" ")
}

/// Whether an actual output line matches a shown one (`…`/`...` are
/// wildcards).
fn matches(shown: &str, actual: &str) -> bool {
    let shown = normalize(&shown.replace("...", "…"));
    let actual = normalize(actual);
    let pieces: Vec<&str> = shown.split('…').map(str::trim).collect();
    let mut rest = actual.as_str();
    for (k, piece) in pieces.iter().enumerate() {
        if piece.is_empty() {
            continue;
        }
        let found = if k == 0 {
            rest.starts_with(piece).then_some(0)
        } else {
            rest.find(piece)
        };
        let Some(at) = found else {
            return false;
        };
        rest = &rest[at + piece.len()..];
    }
    // Without a trailing wildcard the line must end where the shown one does.
    pieces.last().is_none_or(|p| p.is_empty()) || rest.trim().is_empty()
}

/// Checks that the shown lines appear in `output` in order; the first that
/// does not, as an error message.
fn check_shown(step: &Step, output: &str) -> Result<(), String> {
    let actual: Vec<&str> = output.lines().collect();
    let mut at = 0;
    for shown in &step.shown {
        let bare = shown.trim();
        if bare.is_empty() || bare == "…" || bare == "..." {
            continue;
        }
        match actual[at..].iter().position(|a| matches(shown, a)) {
            Some(k) => at += k + 1,
            None => {
                return Err(format!(
                    "README.md:{}: `{}`: the line `{shown}` is not in the output (after line {at}):\n{output}",
                    step.line, step.command
                ))
            }
        }
    }
    Ok(())
}

/// Why a step cannot run here, if it cannot.
fn skip_reason(command: &str, shared: bool, lean: bool) -> Option<&'static str> {
    if command.contains("../shared/") && !shared {
        Some("../shared is absent (the shared benchmarks)")
    } else if command.contains("check.sh") && !lean {
        Some("`lean` is not installed (Lean 4 checks the export)")
    } else {
        None
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".axiom" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_readme_tour_runs_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let steps = steps(&readme);
    assert!(
        steps.len() >= 15,
        "the tour has {} commands: did the console blocks move?",
        steps.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("project");
    copy_dir(&root.join("examples"), &work.join("examples"));
    let shared_real = root.join("../shared");
    let shared = shared_real.join("benchmarks/acasxu").is_dir();
    if shared {
        std::os::unix::fs::symlink(
            shared_real.canonicalize().unwrap(),
            dir.path().join("shared"),
        )
        .unwrap();
    }
    let lean = on_path("lean");

    // One script: each step's output to its own file, its exit code after.
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut script = String::from("set +e\n");
    let mut run: Vec<&Step> = Vec::new();
    for step in &steps {
        if let Some(reason) = skip_reason(&step.command, shared, lean) {
            println!(
                "skipped: README.md:{} `{}`: {reason}",
                step.line, step.command
            );
            continue;
        }
        let k = run.len();
        // The newline ends a trailing `# comment` before the redirection.
        script.push_str(&format!(
            "{{ {}\n}} >'{o}/{k}.out' 2>&1\necho $? >'{o}/{k}.code'\n",
            step.command,
            o = out_dir.display()
        ));
        run.push(step);
    }
    let bin_dir: PathBuf = Path::new(env!("CARGO_BIN_EXE_axiom"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env_remove("AXIOM_AUDIT_LOG")
        .env_remove("AXIOM_AUDIT_KEY")
        .env_remove("AXIOM_AUDIT_REQUIRED")
        .env_remove("AXIOM_BENCHMARKS")
        .status()
        .unwrap();
    assert!(status.success());

    let mut failures = Vec::new();
    for (k, step) in run.iter().enumerate() {
        let output = std::fs::read_to_string(out_dir.join(format!("{k}.out"))).unwrap();
        let code: i32 = std::fs::read_to_string(out_dir.join(format!("{k}.code")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let want = expected_code(&step.command);
        if code != want {
            failures.push(format!(
                "README.md:{}: `{}` exited {code}, the README says {want}:\n{output}",
                step.line, step.command
            ));
        } else if let Err(e) = check_shown(step, &output) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!("{} README commands ran as shown", run.len());
}

#[test]
fn the_matcher_takes_wildcards_spacing_and_times_and_nothing_else() {
    assert!(matches("a  b", "a b"));
    assert!(matches("proved  x  0.07 s  ok", "proved x 1.25 s ok"));
    assert!(matches(
        "records: 8 (1 signed by key …, 7 unsigned)",
        "records: 8 (1 signed by key 0a1b, 7 unsigned)"
    ));
    assert!(matches("signed by key 6ce3…", "signed by key 6ce3a9"));
    assert!(!matches("signed by key 6ce3…", "signed by key 99"));
    assert!(!matches("records: 8", "records: 9"));
    assert!(!matches("records: 8", "records: 8 and more"));
    assert!(!matches("proved  x", "disproved x"));
    assert!(!matches("a … c", "a b d"));
    assert_eq!(expected_code("axiom verify m p   # exit code 1"), 1);
    assert_eq!(expected_code("axiom check specs   # a comment"), 0);
    let step = Step {
        line: 1,
        command: "x".into(),
        shown: vec!["one".into(), "...".into(), "three".into()],
    };
    assert!(check_shown(&step, "one\ntwo\nthree\n").is_ok());
    assert!(check_shown(&step, "three\none\n").is_err());
}
