//! A structural check of an export, without Lean: brackets balance, every
//! identifier the files use is defined in them, bound where it is used, or
//! one of a fixed list of Lean core names; no file declares an `axiom`; and
//! the manifest agrees with the files (each theorem it names exists where it
//! says, a `complete` theorem contains no `sorry` or `admit`, an `open` one
//! does, and every theorem is in the manifest).
//!
//! It is deliberately simple and conservative: binders count for the whole
//! file (not only their scope), and a field access `v.f` is accepted when
//! `v` is bound and `f` is one of the fields the export uses. What it does
//! not do is type-check: that is Lean's job (`check.sh`).

use crate::LeanProject;
use std::collections::BTreeSet;

/// Names of Lean 4 core (and keywords, tactics and options) the export may
/// use.
pub const CORE_NAMES: &[&str] = &[
    // keywords and commands
    "import",
    "namespace",
    "end",
    "open",
    "def",
    "abbrev",
    "theorem",
    "structure",
    "where",
    "instance",
    "if",
    "then",
    "else",
    "fun",
    "let",
    "by",
    "set_option",
    "in",
    "show",
    "have",
    "package",
    "lean_lib",
    "default_target",
    "Lake",
    "DSL",
    // tactics
    "intro",
    "exact",
    "split",
    "unfold",
    "rw",
    "at",
    "omega",
    "decide",
    "sorry",
    "absurd",
    // types and constants
    "Int",
    "Nat",
    "List",
    "Prop",
    "True",
    "False",
    "Decidable",
    "inferInstanceAs",
    "OfNat",
    "Add",
    "Sub",
    "Mul",
    "Neg",
    "Div",
    "LE",
    "LT",
    "Int.ofNat",
    "Nat.gcd",
    "Int.le_refl",
    "Int.mul_nonneg",
    "Int.neg_mul",
    // options and their values
    "maxRecDepth",
    "maxHeartbeats",
    // #print axioms
    "print",
    "axioms",
];

/// Fields the export reads from values (`a.num`, `x.length`).
const FIELDS: &[&str] = &["num", "dm1", "den", "natAbs", "length"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Open(char),
    Close(char),
    Other(String),
    Newline,
}

/// Splits Lean text into tokens, dropping comments and strings. Errors on an
/// unterminated comment or string.
fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            out.push((Tok::Newline, line));
            line += 1;
            i += 1;
        } else if ch == '-' && c.get(i + 1) == Some(&'-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'-') {
            let start = line;
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    return Err(format!("line {start}: a comment is not closed"));
                }
                if c[i] == '/' && c.get(i + 1) == Some(&'-') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '-' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= c.len() {
                return Err(format!("line {line}: a string is not closed"));
            }
            i += 1;
            out.push((Tok::Other("\"…\"".into()), line));
        } else if ch == '«' {
            let start = i;
            while i < c.len() && c[i] != '»' {
                i += 1;
            }
            if i >= c.len() {
                return Err(format!("line {line}: a «name» is not closed"));
            }
            i += 1;
            // A dotted continuation (`«x».region`).
            while i < c.len() && (c[i] == '.' || c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch.is_alphabetic() && ch != 'λ' || ch == '_' {
            let start = i;
            while i < c.len()
                && (c[i].is_alphanumeric()
                    || c[i] == '_'
                    || c[i] == '\''
                    || c[i] == '!'
                    || c[i] == '?'
                    || (c[i] == '.'
                        && c.get(i + 1)
                            .is_some_and(|n| n.is_alphabetic() || *n == '_' || *n == '«')))
            {
                if c[i] == '.' && c.get(i + 1) == Some(&'«') {
                    i += 1;
                    while i < c.len() && c[i] != '»' {
                        i += 1;
                    }
                }
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if "([{⟨".contains(ch) {
            out.push((Tok::Open(ch), line));
            i += 1;
        } else if ")]}⟩".contains(ch) {
            out.push((Tok::Close(ch), line));
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else {
            // Numbers, operators, punctuation: one char at a time (`:=` is
            // two `Other` tokens, which is all the checks below need).
            let start = i;
            if ch.is_ascii_digit() {
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
            } else {
                i += 1;
            }
            out.push((Tok::Other(c[start..i].iter().collect()), line));
        }
    }
    Ok(out)
}

fn matching(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        _ => '⟩',
    }
}

/// One file's facts.
struct FileFacts {
    defined: Vec<String>,
    bound: BTreeSet<String>,
    used: Vec<(String, usize)>,
    /// (full theorem name, its body text's tokens contain sorry/admit).
    theorems: Vec<(String, bool)>,
}

fn is_ident(t: &Tok) -> Option<&str> {
    match t {
        Tok::Ident(s) => Some(s),
        _ => None,
    }
}

fn facts(path: &str, text: &str, problems: &mut Vec<String>) -> Option<FileFacts> {
    let toks = match tokens(text) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{path}: {e}"));
            return None;
        }
    };
    // Brackets.
    let mut stack: Vec<(char, usize)> = Vec::new();
    for (t, line) in &toks {
        match t {
            Tok::Open(c) => stack.push((*c, *line)),
            Tok::Close(c) => match stack.pop() {
                Some((o, _)) if matching(o) == *c => {}
                Some((o, l)) => problems.push(format!(
                    "{path}:{line}: '{c}' closes '{o}' opened on line {l}"
                )),
                None => problems.push(format!("{path}:{line}: '{c}' closes nothing")),
            },
            _ => {}
        }
    }
    for (o, l) in stack {
        problems.push(format!("{path}:{l}: '{o}' is never closed"));
    }
    let mut f = FileFacts {
        defined: Vec::new(),
        bound: BTreeSet::new(),
        used: Vec::new(),
        theorems: Vec::new(),
    };
    let mut ns: Vec<String> = Vec::new();
    let mut structure: Option<String> = None;
    let mut i = 0;
    let next_ident = |i: usize| {
        toks.get(i + 1)
            .and_then(|(t, _)| is_ident(t).map(str::to_string))
    };
    while i < toks.len() {
        let (t, line) = &toks[i];
        let line = *line;
        let Some(id) = is_ident(t) else {
            i += 1;
            continue;
        };
        let prefix = ns.join(".");
        let qualify = |n: &str| {
            if prefix.is_empty() {
                n.to_string()
            } else {
                format!("{prefix}.{n}")
            }
        };
        match id {
            "namespace" => {
                structure = None;
                if let Some(n) = next_ident(i) {
                    ns.extend(n.split('.').map(str::to_string));
                    i += 2;
                    continue;
                }
            }
            "end" => {
                if let Some(n) = next_ident(i) {
                    let k = n.split('.').count();
                    ns.truncate(ns.len().saturating_sub(k));
                    if structure.as_deref() == Some(n.as_str()) {
                        structure = None;
                    }
                    i += 2;
                    continue;
                }
            }
            "import" | "open" => {
                // The module or namespace name that follows is not a use.
                i += 2;
                continue;
            }
            "def" | "abbrev" | "theorem" | "structure" => {
                structure = None;
                if let Some(n) = next_ident(i) {
                    f.defined.push(qualify(&n));
                    if id == "structure" {
                        structure = Some(qualify(&n));
                        f.defined.push(qualify(&format!("{n}.mk")));
                    }
                    if id == "theorem" {
                        // The body runs to the next declaration.
                        let mut j = i + 2;
                        let mut unfinished = false;
                        while j < toks.len() {
                            match is_ident(&toks[j].0) {
                                Some(
                                    "def" | "abbrev" | "theorem" | "structure" | "set_option"
                                    | "end" | "instance",
                                ) => break,
                                Some("sorry" | "admit") => unfinished = true,
                                _ => {}
                            }
                            j += 1;
                        }
                        f.theorems.push((qualify(&n), unfinished));
                    }
                    i += 2;
                    continue;
                }
            }
            "axiom" => problems.push(format!("{path}:{line}: declares an axiom")),
            "fun" | "intro" => {
                // Binders up to `=>` or the end of the line.
                let mut j = i + 1;
                while j < toks.len() {
                    match &toks[j].0 {
                        Tok::Ident(b) => {
                            f.bound.insert(b.clone());
                        }
                        Tok::Other(s) if s == "=" => break,
                        Tok::Newline => break,
                        _ => {}
                    }
                    j += 1;
                }
                i = j;
                continue;
            }
            "let" | "have" => {
                if let Some(n) = next_ident(i) {
                    f.bound.insert(n);
                    i += 2;
                    continue;
                }
            }
            _ => {}
        }
        // `∀ a b : T` binders.
        if i > 0 && matches!(&toks[i - 1].0, Tok::Other(s) if s == "∀") {
            let mut j = i;
            while let Some(b) = toks.get(j).and_then(|(t, _)| is_ident(t)) {
                f.bound.insert(b.to_string());
                j += 1;
            }
            i = j;
            continue;
        }
        // `(a b : T)` binder groups, and structure fields `name : T`.
        let mut j = i;
        while let Some(b) = toks.get(j).and_then(|(t, _)| is_ident(t)) {
            let _ = b;
            j += 1;
        }
        let colon = matches!(toks.get(j).map(|t| &t.0), Some(Tok::Other(s)) if s == ":")
            && !matches!(toks.get(j + 1).map(|t| &t.0), Some(Tok::Other(s)) if s == "=");
        let after_open = i > 0 && matches!(toks[i - 1].0, Tok::Open('(' | '{'));
        let line_start = i == 0 || matches!(toks[i - 1].0, Tok::Newline);
        if colon && (after_open || (line_start && structure.is_some())) {
            for (t, _) in &toks[i..j] {
                if let Some(b) = is_ident(t) {
                    f.bound.insert(b.to_string());
                    if line_start {
                        if let Some(s) = &structure {
                            f.defined.push(format!("{s}.{b}"));
                        }
                    }
                }
            }
            i = j;
            continue;
        }
        // Match-arm patterns: `| a :: v, i + 1 =>`.
        if i > 0 && matches!(&toks[i - 1].0, Tok::Other(s) if s == "|") {
            let mut j = i;
            while j < toks.len() && !matches!(&toks[j].0, Tok::Other(s) if s == "=") {
                if let Some(b) = is_ident(&toks[j].0) {
                    f.bound.insert(b.to_string());
                }
                j += 1;
            }
            i = j;
            continue;
        }
        f.used.push((id.to_string(), line));
        i += 1;
    }
    Some(f)
}

/// Whether `name`, used inside the file, resolves.
fn resolves(name: &str, defined: &BTreeSet<String>, bound: &BTreeSet<String>) -> bool {
    if CORE_NAMES.contains(&name) || bound.contains(name) {
        return true;
    }
    let bare = name.trim_start_matches('@');
    // A definition, by its full name or any suffix of it (namespaces are
    // opened); a dotted name may also be a field access on a bound value.
    let by_suffix = |n: &str| {
        defined
            .iter()
            .any(|d| d == n || d.ends_with(&format!(".{n}")))
    };
    if by_suffix(bare) {
        return true;
    }
    if let Some((head, rest)) = bare.split_once('.') {
        if (bound.contains(head) || by_suffix(head))
            && rest
                .split('.')
                .all(|f| FIELDS.contains(&f) || by_suffix(&format!("{head}.{f}")))
        {
            return true;
        }
    }
    false
}

/// Every problem found in `project` (empty when it passes).
pub fn check(project: &LeanProject) -> Vec<String> {
    let mut problems = Vec::new();
    let mut all_defined = BTreeSet::new();
    let mut per_file = Vec::new();
    for (path, text) in &project.files {
        if !path.ends_with(".lean") {
            continue;
        }
        if let Some(f) = facts(path, text, &mut problems) {
            all_defined.extend(f.defined.iter().cloned());
            per_file.push((path.clone(), f));
        }
    }
    for (path, f) in &per_file {
        if path == "lakefile.lean" {
            continue;
        }
        for (name, line) in &f.used {
            if !resolves(name, &all_defined, &f.bound) {
                problems.push(format!(
                    "{path}:{line}: '{name}' is not defined in the export nor a Lean core name"
                ));
            }
        }
    }
    // The manifest against the files.
    let mut listed = BTreeSet::new();
    for e in &project.manifest.obligations {
        let (Some(thm), Some(file)) = (&e.lean_theorem, &e.lean_file) else {
            if e.lean_proof != "not-exported" {
                problems.push(format!(
                    "manifest: {} has no theorem but is '{}'",
                    e.obligation, e.lean_proof
                ));
            }
            continue;
        };
        listed.insert(thm.clone());
        let found = per_file
            .iter()
            .find(|(p, _)| p == file)
            .and_then(|(_, f)| f.theorems.iter().find(|(n, _)| n == thm));
        match (found, e.lean_proof.as_str()) {
            (None, _) => problems.push(format!("manifest: theorem {thm} is not in {file}")),
            (Some((_, true)), "complete") => problems.push(format!(
                "manifest: {thm} is 'complete' but its proof contains sorry or admit"
            )),
            (Some((_, false)), "open") => problems.push(format!(
                "manifest: {thm} is 'open' but its proof has no sorry"
            )),
            (Some(_), "complete" | "open") => {}
            (Some(_), other) => problems.push(format!("manifest: {thm} has status '{other}'")),
        }
    }
    for (path, f) in &per_file {
        if path.ends_with("/Obligations.lean") {
            for (thm, _) in &f.theorems {
                if !listed.contains(thm) {
                    problems.push(format!("{path}: theorem {thm} is not in the manifest"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_comments_and_strings() {
        let t = tokens("/- a /- nested -/ -/ def f -- x\n\"s(\" (x)").unwrap();
        let ids: Vec<_> = t.iter().filter_map(|(t, _)| is_ident(t)).collect();
        assert_eq!(ids, ["def", "f", "x"]);
        assert!(tokens("/- open").is_err());
        assert!(tokens("\"open").is_err());
    }

    #[test]
    fn prelude_names_are_what_the_prelude_defines() {
        let mut p = Vec::new();
        let f = facts("Prelude.lean", crate::prelude::PRELUDE, &mut p).unwrap();
        assert!(p.is_empty(), "{p:?}");
        let defined: BTreeSet<String> = f
            .defined
            .iter()
            .map(|d| d.trim_start_matches("AxiomExport.").to_string())
            .collect();
        let listed: BTreeSet<String> = crate::prelude::PRELUDE_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(defined, listed);
    }

    #[test]
    fn finds_unbalanced_and_undefined() {
        let mut p = Vec::new();
        let f = facts("a.lean", "def f (x : Nat) : Nat := (g x", &mut p).unwrap();
        assert!(p.iter().any(|m| m.contains("never closed")), "{p:?}");
        let defined: BTreeSet<String> = f.defined.into_iter().collect();
        assert!(!resolves("g", &defined, &f.bound));
        assert!(resolves("x", &defined, &f.bound));
        assert!(resolves("f", &defined, &f.bound));
        let mut p = Vec::new();
        facts("b.lean", "axiom bad : False", &mut p);
        assert!(p.iter().any(|m| m.contains("axiom")), "{p:?}");
    }
}
