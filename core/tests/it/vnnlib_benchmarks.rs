//! Parses every `.vnnlib` (and `.vnnlib.gz`, as VNN-COMP 2022 ships them)
//! file of the shared benchmarks and checks a few of them structurally.
//!
//! The benchmarks live outside the repository: set `AXIOM_BENCHMARKS` to their
//! folder, or keep them at `../shared/benchmarks` beside the workspace. When
//! they are missing the tests print a note and pass.

use axiom_core::spec::{parse_decimal, Constraint, Property, Rational, Var};
use axiom_core::vnnlib;
use std::path::{Path, PathBuf};

fn benchmarks_dir() -> Option<PathBuf> {
    axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    ))
}

fn vnnlib_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            vnnlib_files(&path, out);
        } else if axiom_core::format_extension(&path).as_deref() == Some("vnnlib") {
            out.push(path);
        }
    }
}

fn q(s: &str) -> Rational {
    parse_decimal(s).unwrap()
}

fn load(dir: &Path, relative: &str) -> Option<Property> {
    let path = dir.join(relative);
    if !path.is_file() {
        eprintln!("skipping: {} not found", path.display());
        return None;
    }
    Some(vnnlib::load(&path).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn every_benchmark_parses_with_at_least_one_case() {
    let Some(dir) = benchmarks_dir() else { return };
    let mut files = Vec::new();
    vnnlib_files(&dir, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no .vnnlib files under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &files {
        match vnnlib::load(path) {
            Ok(p) if p.cases.is_empty() => {
                failures.push(format!("{}: no cases (empty unsafe set)", path.display()))
            }
            Ok(p) => {
                for case in &p.cases {
                    assert_eq!(case.input.dim(), p.num_inputs, "{}", path.display());
                    assert!(!case.output.is_empty(), "{}", path.display());
                }
                // The summary is what `axiom info` prints; it must not be empty.
                assert!(p.summary().contains("case 1 of"), "{}", path.display());
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("parsed {} VNN-LIB files", files.len());
}

#[test]
fn acasxu_prop_1_structure() {
    let Some(dir) = benchmarks_dir() else { return };
    let Some(p) = load(&dir, "acasxu/prop_1.vnnlib") else {
        return;
    };
    assert_eq!((p.num_inputs, p.num_outputs), (5, 5));
    assert_eq!(p.cases.len(), 1);
    let case = &p.cases[0];
    assert_eq!(case.input.lower[0], q("0.6"));
    assert_eq!(case.input.upper[0], q("0.679857769"));
    assert_eq!(case.input.lower[4], q("-0.5"));
    assert_eq!(case.input.upper[4], q("-0.45"));
    assert!(case.input_constraints.is_empty());
    assert_eq!(case.output.len(), 1);
    assert_eq!(case.output[0].len(), 1);
    let c: &Constraint = &case.output[0][0];
    // Y_0 >= 3.991125645861615, i.e. -Y_0 + 3.991125645861615 <= 0.
    assert_eq!(
        c.expr.terms.iter().collect::<Vec<_>>(),
        vec![(&Var::Y(0), &q("-1"))]
    );
    assert_eq!(c.expr.constant, q("3.991125645861615"));
    assert!(!c.strict);
}

#[test]
fn acasxu_prop_6_structure() {
    let Some(dir) = benchmarks_dir() else { return };
    let Some(p) = load(&dir, "acasxu/prop_6.vnnlib") else {
        return;
    };
    assert_eq!((p.num_inputs, p.num_outputs), (5, 5));
    assert_eq!(p.cases.len(), 2);
    let x1: Vec<(Rational, Rational)> = p
        .cases
        .iter()
        .map(|c| (c.input.lower[1].clone(), c.input.upper[1].clone()))
        .collect();
    assert_eq!(
        x1,
        vec![
            (q("0.11140846"), q("0.499999896")),
            (q("-0.499999896"), q("-0.11140846")),
        ]
    );
    for case in &p.cases {
        assert_eq!(case.input.lower[0], q("-0.129289109"));
        assert_eq!(case.input.upper[0], q("0.700434925"));
        assert!(case.input_constraints.is_empty());
        assert_eq!(case.output.len(), 4);
        for (k, conj) in (1..=4).zip(&case.output) {
            assert_eq!(conj.len(), 1);
            // Y_k - Y_0 <= 0
            let expected: Vec<(Var, Rational)> = vec![(Var::Y(0), q("-1")), (Var::Y(k), q("1"))];
            let got: Vec<(Var, Rational)> = conj[0]
                .expr
                .terms
                .iter()
                .map(|(v, c)| (*v, c.clone()))
                .collect();
            assert_eq!(got, expected);
            assert_eq!(conj[0].expr.constant, q("0"));
            assert!(!conj[0].strict);
        }
    }
}
