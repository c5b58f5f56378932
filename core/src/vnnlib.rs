//! The VNN-LIB parser: text to a [`Property`].
//!
//! VNN-LIB is a subset of SMT-LIB 2 (<https://www.vnnlib.org>). A file
//! declares inputs `X_0 .. X_{n-1}` and outputs `Y_0 .. Y_{m-1}` and asserts a
//! formula describing the **unsafe** set (see [`crate::spec`] for the
//! semantics). This parser reads:
//!
//! - commands: `(declare-const NAME Real)` (also `(declare-fun NAME () Real)`)
//!   with `NAME` `X_<i>` or `Y_<j>`, indices contiguous from 0; `(assert F)`.
//!   The SMT-LIB commands `set-logic`, `set-info`, `set-option`, `check-sat`,
//!   `get-model` and `exit` are accepted and ignored;
//! - formulas: `(and F ...)`, `(or F ...)`, `(not F)`, `true`, `false`, and
//!   comparisons `(<= a b)`, `(>= a b)`, `(< a b)`, `(> a b)`, `(= a b)`,
//!   chained like SMT-LIB (`(<= a b c)` is `a <= b` and `b <= c`);
//! - linear terms: decimal numbers (read exactly, `0.1` is `1/10`), declared
//!   variables, `(+ t ...)`, `(- t)`, `(- t u ...)`, `(* t ...)` with at most
//!   one non-constant factor, and `(/ t c ...)` with constant divisors.
//!
//! Every comparison is normalised to `expr <= 0` or `expr < 0`. Errors carry
//! the 1-based line and column of the offending expression and, where there is
//! one, a hint. Nothing here panics on any input.
//!
//! ```
//! let prop = axiom_core::vnnlib::parse(
//!     "; a tiny property\n\
//!      (declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
//!      (assert (and (>= X_0 -1) (<= X_0 1)))\n\
//!      (assert (or (> Y_0 100) (< Y_0 -100)))",
//! )
//! .unwrap();
//! assert_eq!((prop.num_inputs, prop.num_outputs), (1, 1));
//! assert_eq!(prop.cases.len(), 1);
//! assert_eq!(prop.cases[0].output.len(), 2);
//! ```

use crate::spec::{parse_decimal, Constraint, Formula, LinearExpr, Property, Rational, Var};
use crate::{Error, Location, Result};
use num_traits::{One, Zero};
use pest::Parser as _;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The deepest nesting of parentheses accepted (VNN-LIB files need a handful).
pub const MAX_NESTING: usize = 200;

mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "vnnlib.pest"]
    pub(super) struct SExprParser;
}

use grammar::{Rule, SExprParser};

/// Reads and parses the VNN-LIB file at `path`; every error names the file.
pub fn load(path: &Path) -> Result<Property> {
    let bytes = crate::read_file(path).map_err(|e| Error::io(path, &e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::malformed("the file is not UTF-8 text")
            .at(Location::Byte(e.utf8_error().valid_up_to() as u64))
            .in_file(path)
    })?;
    parse(&text).map_err(|e| e.in_file(path))
}

/// Parses VNN-LIB text into a [`Property`] (assertion and derived cases).
pub fn parse(text: &str) -> Result<Property> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_parens(text)?;
    let exprs = read_sexprs(text)?;
    let mut reader = Reader {
        text,
        vars: HashMap::new(),
        inputs: BTreeMap::new(),
        outputs: BTreeMap::new(),
        asserts: Vec::new(),
    };
    for e in &exprs {
        reader.command(e)?;
    }
    let num_inputs = reader.check_contiguous('X')?;
    let num_outputs = reader.check_contiguous('Y')?;
    Property::new(num_inputs, num_outputs, Formula::And(reader.asserts))
}

/// The 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> Location {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Location::LineCol { line, col }
}

/// Checks that parentheses balance (outside comments) and nest at most
/// [`MAX_NESTING`] deep, naming the unclosed `(` or the stray `)`.
fn check_parens(text: &str) -> Result<()> {
    let mut open: Vec<usize> = Vec::new();
    let mut in_comment = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'\n' => in_comment = false,
            _ if in_comment => {}
            b';' => in_comment = true,
            b'(' => {
                if open.len() >= MAX_NESTING {
                    return Err(Error::unsupported(format!(
                        "parentheses nested more than {MAX_NESTING} deep"
                    ))
                    .at(line_col(text, i))
                    .with_hint("VNN-LIB properties need only a few levels of nesting"));
                }
                open.push(i);
            }
            b')' => {
                let Some(_) = open.pop() else {
                    return Err(Error::malformed(
                        "unbalanced parenthesis: this ')' has no matching '('",
                    )
                    .at(line_col(text, i))
                    .with_hint("remove it, or add the missing '(' before it"));
                };
            }
            _ => {}
        }
    }
    if let Some(&first) = open.first() {
        let more = match open.len() {
            1 => String::new(),
            n => format!(" ({n} parentheses are unclosed in all)"),
        };
        return Err(Error::malformed(format!(
            "unbalanced parenthesis: '(' opened here is never closed{more}"
        ))
        .at(line_col(text, first))
        .with_hint("add the missing ')' (every '(' needs a matching ')')"));
    }
    Ok(())
}

/// An s-expression with the byte offset where it starts.
#[derive(Debug)]
enum SExpr<'a> {
    Atom { text: &'a str, at: usize },
    List { items: Vec<SExpr<'a>>, at: usize },
}

impl<'a> SExpr<'a> {
    fn at(&self) -> usize {
        match self {
            SExpr::Atom { at, .. } | SExpr::List { at, .. } => *at,
        }
    }

    /// The text of an atom, `None` for a list.
    fn atom(&self) -> Option<&'a str> {
        match self {
            SExpr::Atom { text, .. } => Some(text),
            SExpr::List { .. } => None,
        }
    }
}

/// Runs the pest grammar and converts its pairs to [`SExpr`]s.
fn read_sexprs(text: &str) -> Result<Vec<SExpr<'_>>> {
    let mut pairs = SExprParser::parse(Rule::file, text).map_err(|e| {
        let at = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((p, _)) => p,
        };
        Error::malformed("not a well-formed s-expression")
            .at(line_col(text, at))
            .with_hint("VNN-LIB files are lists of (command ...) forms")
    })?;
    let file = pairs
        .next()
        .ok_or_else(|| Error::malformed("empty parse"))?;
    Ok(file
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(convert)
        .collect())
}

fn convert(pair: pest::iterators::Pair<'_, Rule>) -> SExpr<'_> {
    let at = pair.as_span().start();
    match pair.as_rule() {
        Rule::list => SExpr::List {
            items: pair.into_inner().map(convert).collect(),
            at,
        },
        _ => SExpr::Atom {
            text: pair.as_str(),
            at,
        },
    }
}

/// Whether an atom reads as a number (rather than a symbol).
fn looks_numeric(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() || c == '.' => true,
        Some('-') | Some('+') => matches!(chars.next(), Some(c) if c.is_ascii_digit() || c == '.'),
        _ => false,
    }
}

/// `X_<i>` / `Y_<j>` with a canonical decimal index.
fn parse_var_name(name: &str) -> Option<Var> {
    let (is_input, digits) = if let Some(d) = name.strip_prefix("X_") {
        (true, d)
    } else if let Some(d) = name.strip_prefix("Y_") {
        (false, d)
    } else {
        return None;
    };
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    let index: usize = digits.parse().ok()?;
    Some(if is_input {
        Var::X(index)
    } else {
        Var::Y(index)
    })
}

/// Interprets commands, formulas and terms.
struct Reader<'a> {
    text: &'a str,
    vars: HashMap<&'a str, Var>,
    /// Declared input indices and where each was declared.
    inputs: BTreeMap<usize, usize>,
    /// Declared output indices and where each was declared.
    outputs: BTreeMap<usize, usize>,
    asserts: Vec<Formula>,
}

impl<'a> Reader<'a> {
    fn loc(&self, at: usize) -> Location {
        line_col(self.text, at)
    }

    fn err_malformed(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::malformed(msg).at(self.loc(at))
    }

    fn err_unsupported(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::unsupported(msg).at(self.loc(at))
    }

    fn err_invalid(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::invalid(msg).at(self.loc(at))
    }

    /// The head symbol and arguments of a list.
    fn split_list<'e>(
        &self,
        items: &'e [SExpr<'a>],
        at: usize,
        what: &str,
    ) -> Result<(&'a str, &'e [SExpr<'a>])> {
        match items.split_first() {
            None => {
                Err(self.err_malformed(at, format!("empty list '()' where {what} was expected")))
            }
            Some((head, args)) => match head.atom() {
                Some(op) => Ok((op, args)),
                None => Err(self.err_malformed(
                    head.at(),
                    format!("expected an operator name at the start of {what}"),
                )),
            },
        }
    }

    fn command(&mut self, e: &SExpr<'a>) -> Result<()> {
        let SExpr::List { items, at } = e else {
            return Err(self
                .err_malformed(
                    e.at(),
                    format!("expected a command, found '{}'", e.atom().unwrap_or("")),
                )
                .with_hint("commands look like (declare-const X_0 Real) or (assert ...)"));
        };
        let at = *at;
        let (op, args) = self.split_list(items, at, "a command")?;
        match op {
            "declare-const" => match args {
                [name, sort] => self.declare(name, sort),
                _ => Err(self
                    .err_malformed(at, "declare-const expects a name and a sort")
                    .with_hint("write (declare-const X_0 Real)")),
            },
            "declare-fun" => match args {
                [name, SExpr::List { items: params, .. }, sort] if params.is_empty() => {
                    self.declare(name, sort)
                }
                _ => Err(self
                    .err_unsupported(at, "only constants can be declared with declare-fun")
                    .with_hint("write (declare-fun X_0 () Real), or (declare-const X_0 Real)")),
            },
            "assert" => match args {
                [f] => {
                    let f = self.formula(f)?;
                    self.asserts.push(f);
                    Ok(())
                }
                _ => Err(self
                    .err_malformed(
                        at,
                        format!("assert expects one formula, found {}", args.len()),
                    )
                    .with_hint("combine formulas with (assert (and ...)) or use one assert each")),
            },
            "set-logic" | "set-info" | "set-option" | "check-sat" | "get-model" | "exit" => Ok(()),
            _ => Err(self
                .err_unsupported(at, format!("unknown command '{op}'"))
                .with_hint("VNN-LIB files use (declare-const ...) and (assert ...)")),
        }
    }

    fn declare(&mut self, name: &SExpr<'a>, sort: &SExpr<'a>) -> Result<()> {
        let Some(name_text) = name.atom() else {
            return Err(self.err_malformed(name.at(), "expected a variable name"));
        };
        let Some(var) = parse_var_name(name_text) else {
            return Err(self
                .err_unsupported(
                    name.at(),
                    format!("variable name '{name_text}' is not supported"),
                )
                .with_hint("VNN-LIB names inputs X_0, X_1, ... and outputs Y_0, Y_1, ..."));
        };
        match sort.atom() {
            Some("Real") => {}
            other => {
                return Err(self
                    .err_unsupported(
                        sort.at(),
                        format!("sort '{}' is not supported", other.unwrap_or("(...)")),
                    )
                    .with_hint(format!("declare it as (declare-const {name_text} Real)")))
            }
        }
        let (table, index) = match var {
            Var::X(i) => (&mut self.inputs, i),
            Var::Y(j) => (&mut self.outputs, j),
        };
        if let Some(&first) = table.get(&index) {
            let Location::LineCol { line, .. } = line_col(self.text, first) else {
                return Err(self.err_invalid(name.at(), format!("{var} is declared twice")));
            };
            return Err(self
                .err_invalid(name.at(), format!("{var} is declared twice"))
                .with_hint(format!(
                    "it is first declared on line {line}; remove one declaration"
                )));
        }
        table.insert(index, name.at());
        self.vars.insert(name_text, var);
        Ok(())
    }

    /// The number of declared inputs (`'X'`) or outputs (`'Y'`), checking the
    /// indices are `0 .. n-1`.
    fn check_contiguous(&self, kind: char) -> Result<usize> {
        let table = if kind == 'X' {
            &self.inputs
        } else {
            &self.outputs
        };
        for (expected, (&index, &at)) in table.iter().enumerate() {
            if index != expected {
                return Err(self
                    .err_invalid(
                        at,
                        format!("{kind}_{index} is declared but {kind}_{expected} is not"),
                    )
                    .with_hint(format!(
                        "declare {kind}_0, {kind}_1, ... with consecutive indices starting at 0"
                    )));
            }
        }
        Ok(table.len())
    }

    fn formula(&self, e: &SExpr<'a>) -> Result<Formula> {
        let (items, at) = match e {
            SExpr::Atom { text: "true", .. } => return Ok(Formula::And(Vec::new())),
            SExpr::Atom { text: "false", .. } => return Ok(Formula::Or(Vec::new())),
            SExpr::Atom { text, at } => {
                return Err(self
                    .err_invalid(*at, format!("expected a formula, found '{text}'"))
                    .with_hint("formulas are comparisons like (<= X_0 1), combined with and / or"))
            }
            SExpr::List { items, at } => (items, *at),
        };
        let (op, args) = self.split_list(items, at, "a formula")?;
        match op {
            "and" | "or" => {
                let fs = args
                    .iter()
                    .map(|a| self.formula(a))
                    .collect::<Result<Vec<_>>>()?;
                Ok(if op == "and" {
                    Formula::And(fs)
                } else {
                    Formula::Or(fs)
                })
            }
            "not" => match args {
                [f] => Ok(self.formula(f)?.negated()),
                _ => Err(self.err_malformed(at, "not expects one formula")),
            },
            "<=" | ">=" | "<" | ">" | "=" => self.comparison(op, args, at),
            _ => Err(self
                .err_unsupported(at, format!("unknown operator '{op}' in a formula"))
                .with_hint("formulas may use and, or, not, <=, >=, <, >, =")),
        }
    }

    fn comparison(&self, op: &str, args: &[SExpr<'a>], at: usize) -> Result<Formula> {
        if args.len() < 2 {
            return Err(self
                .err_malformed(
                    at,
                    format!("'{op}' expects at least two terms, found {}", args.len()),
                )
                .with_hint(format!("write ({op} X_0 1)")));
        }
        let terms = args
            .iter()
            .map(|a| self.term(a))
            .collect::<Result<Vec<_>>>()?;
        let mut atoms = Vec::new();
        for pair in terms.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            match op {
                "<=" => atoms.push(Constraint::le(a, b, false)),
                "<" => atoms.push(Constraint::le(a, b, true)),
                ">=" => atoms.push(Constraint::le(b, a, false)),
                ">" => atoms.push(Constraint::le(b, a, true)),
                _ => {
                    atoms.push(Constraint::le(a, b, false));
                    atoms.push(Constraint::le(b, a, false));
                }
            }
        }
        for c in &atoms {
            if c.mixes_inputs_and_outputs() {
                return Err(self
                    .err_unsupported(
                        at,
                        format!("constraint '{c}' mixes inputs (X) and outputs (Y)"),
                    )
                    .with_hint(
                        "Axiom supports constraints over inputs only or over outputs only",
                    ));
            }
        }
        Ok(if atoms.len() == 1 {
            Formula::Atom(atoms.remove(0))
        } else {
            Formula::And(atoms.into_iter().map(Formula::Atom).collect())
        })
    }

    fn term(&self, e: &SExpr<'a>) -> Result<LinearExpr> {
        let (items, at) = match e {
            SExpr::Atom { text, at } => return self.atom_term(text, *at),
            SExpr::List { items, at } => (items, *at),
        };
        let (op, args) = self.split_list(items, at, "a term")?;
        let terms = || {
            args.iter()
                .map(|a| self.term(a))
                .collect::<Result<Vec<_>>>()
        };
        match op {
            "+" => {
                let mut sum = LinearExpr::zero();
                for t in terms()? {
                    sum.add_scaled(&t, &Rational::one());
                }
                Ok(sum)
            }
            "-" => {
                let ts = terms()?;
                match ts.split_first() {
                    None => Err(self.err_malformed(at, "'-' expects at least one term")),
                    Some((only, [])) => Ok(only.scaled(&-Rational::one())),
                    Some((first, rest)) => {
                        let mut acc = first.clone();
                        for t in rest {
                            acc.add_scaled(t, &-Rational::one());
                        }
                        Ok(acc)
                    }
                }
            }
            "*" => {
                let mut acc = LinearExpr::constant(Rational::one());
                for (t, arg) in terms()?.into_iter().zip(args) {
                    if t.is_constant() {
                        acc = acc.scaled(&t.constant);
                    } else if acc.is_constant() {
                        acc = t.scaled(&acc.constant);
                    } else {
                        return Err(self
                            .err_unsupported(arg.at(), "non-linear term: a product of two non-constant factors")
                            .with_hint("VNN-LIB properties must be linear: multiply variables only by numbers"));
                    }
                }
                Ok(acc)
            }
            "/" => {
                let ts = terms()?;
                let Some((first, rest)) = ts.split_first() else {
                    return Err(self.err_malformed(at, "'/' expects at least one term"));
                };
                let mut acc = first.clone();
                for (t, arg) in rest.iter().zip(args.iter().skip(1)) {
                    if !t.is_constant() {
                        return Err(self
                            .err_unsupported(
                                arg.at(),
                                "non-linear term: division by a non-constant",
                            )
                            .with_hint(
                                "VNN-LIB properties must be linear: divide only by numbers",
                            ));
                    }
                    if t.constant.is_zero() {
                        return Err(self.err_invalid(arg.at(), "division by zero"));
                    }
                    acc = acc.scaled(&(Rational::one() / &t.constant));
                }
                Ok(acc)
            }
            _ => Err(self
                .err_unsupported(at, format!("unknown operator '{op}' in a term"))
                .with_hint("terms may use numbers, declared variables, +, -, * and /")),
        }
    }

    fn atom_term(&self, text: &str, at: usize) -> Result<LinearExpr> {
        if looks_numeric(text) {
            return match parse_decimal(text) {
                Some(r) => Ok(LinearExpr::constant(r)),
                None => Err(self
                    .err_malformed(at, format!("cannot read the number '{text}'"))
                    .with_hint("write decimals like 0.5, -3, 1e-3")),
            };
        }
        if let Some(&var) = self.vars.get(text) {
            return Ok(LinearExpr::var(var));
        }
        match parse_var_name(text) {
            Some(var) => Err(self
                .err_invalid(at, format!("variable {var} is used but not declared"))
                .with_hint(format!("declare it with (declare-const {var} Real) before its first use"))),
            None => Err(self
                .err_invalid(at, format!("unknown symbol '{text}'"))
                .with_hint("terms are numbers, declared variables X_i / Y_j, or (+ ...), (- ...), (* ...), (/ ...)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use num_bigint::BigInt;
    use proptest::prelude::*;

    fn q(s: &str) -> Rational {
        parse_decimal(s).unwrap()
    }

    fn at(line: usize, col: usize) -> Option<Location> {
        Some(Location::LineCol { line, col })
    }

    const HEADER_1_1: &str = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n";

    /// A copy of the ACAS Xu property 1 file from the shared benchmarks.
    const PROP_1: &str = "; ACAS Xu property 1

(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const X_2 Real)
(declare-const X_3 Real)
(declare-const X_4 Real)

(declare-const Y_0 Real)
(declare-const Y_1 Real)
(declare-const Y_2 Real)
(declare-const Y_3 Real)
(declare-const Y_4 Real)

; Unscaled Input 0: (55947.691, 60760)
(assert (<= X_0 0.679857769))
(assert (>= X_0 0.6))

; Unscaled Input 1: (-3.141592653589793, 3.141592653589793)
(assert (<= X_1 0.5))
(assert (>= X_1 -0.5))

; Unscaled Input 2: (-3.141592653589793, 3.141592653589793)
(assert (<= X_2 0.5))
(assert (>= X_2 -0.5))

; Unscaled Input 3: (1145, 1200)
(assert (<= X_3 0.5))
(assert (>= X_3 0.45))

; Unscaled Input 4: (0, 60)
(assert (<= X_4 -0.45))
(assert (>= X_4 -0.5))

; Unsafe if COC >= 1500. Output scaling is 373.94992 with a bias of 7.518884: (1500 - 7.518884) / 373.94992 = 3.991125
(assert (>= Y_0 3.991125645861615))
";

    #[test]
    fn simple_box_and_output_atom() {
        let p = parse(&format!(
            "{HEADER_1_1}(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (<= Y_0 -1))\n"
        ))
        .unwrap();
        assert_eq!((p.num_inputs, p.num_outputs), (1, 1));
        assert_eq!(p.cases.len(), 1);
        let c = &p.cases[0];
        assert_eq!(c.input.lower, vec![q("-1")]);
        assert_eq!(c.input.upper, vec![q("1")]);
        assert!(c.input_constraints.is_empty());
        assert_eq!(c.output.len(), 1);
        assert_eq!(c.output[0].len(), 1);
        let y0 = &c.output[0][0];
        assert_eq!(y0.expr.terms.get(&Var::Y(0)), Some(&q("1")));
        assert_eq!(y0.expr.constant, q("1"));
        assert!(!y0.strict);
        // The assertion keeps the three asserts, normalised.
        let Formula::And(asserts) = &p.assertion else {
            panic!("assertion is not an And")
        };
        assert_eq!(asserts.len(), 3);
        assert_eq!(asserts[0].to_string(), "X_0 >= -1");
    }

    #[test]
    fn prop1_structure_and_summary() {
        let p = parse(PROP_1).unwrap();
        assert_eq!((p.num_inputs, p.num_outputs, p.cases.len()), (5, 5, 1));
        let c = &p.cases[0];
        assert_eq!(c.input.lower[0], q("0.6"));
        assert_eq!(c.input.upper[0], q("0.679857769"));
        assert_eq!(c.output[0][0].to_string(), "Y_0 >= 3.991125645861615");
        let s = p.summary();
        assert!(
            s.contains("5 inputs (X_0 .. X_4), 5 outputs (Y_0 .. Y_4)"),
            "{s}"
        );
        assert!(s.contains("X_0 in [0.6, 0.679857769]"), "{s}");
        assert!(s.contains("X_4 in [-0.5, -0.45]"), "{s}");
        assert!(s.contains("unsafe if: (Y_0 >= 3.991125645861615)"), "{s}");
    }

    #[test]
    fn disjunction_of_boxes_with_four_way_output_or() {
        let text = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n\
            (declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n\
            (declare-const Y_3 Real)\n(declare-const Y_4 Real)\n\
            (assert (or\n\
              (and (<= X_0 0.7) (>= X_0 -0.1) (<= X_1 0.5) (>= X_1 0.1))\n\
              (and (<= X_0 0.7) (>= X_0 -0.1) (<= X_1 -0.1) (>= X_1 -0.5))\n\
            ))\n\
            (assert (or (and (<= Y_1 Y_0)) (and (<= Y_2 Y_0)) (and (<= Y_3 Y_0)) (and (<= Y_4 Y_0))))\n";
        let p = parse(text).unwrap();
        assert_eq!(p.cases.len(), 2);
        assert_eq!(p.cases[0].input.lower, vec![q("-0.1"), q("0.1")]);
        assert_eq!(p.cases[0].input.upper, vec![q("0.7"), q("0.5")]);
        assert_eq!(p.cases[1].input.lower, vec![q("-0.1"), q("-0.5")]);
        assert_eq!(p.cases[1].input.upper, vec![q("0.7"), q("-0.1")]);
        for case in &p.cases {
            assert_eq!(case.output.len(), 4);
            for (k, conj) in case.output.iter().enumerate() {
                assert_eq!(conj.len(), 1);
                assert_eq!(conj[0].to_string(), format!("Y_{} <= Y_0", k + 1));
            }
        }
        let s = p.summary();
        assert!(s.contains("case 2 of 2:"), "{s}");
        assert!(
            s.contains("unsafe if: (Y_1 <= Y_0) or (Y_2 <= Y_0) or (Y_3 <= Y_0) or (Y_4 <= Y_0)"),
            "{s}"
        );
    }

    #[test]
    fn inputs_and_outputs_in_one_and() {
        let p = parse(&format!(
            "{HEADER_1_1}(assert (or\n    (and (>= X_0 -1) (<= X_0 1) (>= Y_0 100))\n))"
        ))
        .unwrap();
        assert_eq!(p.cases.len(), 1);
        assert_eq!(p.cases[0].input.lower, vec![q("-1")]);
        assert_eq!(p.cases[0].input.upper, vec![q("1")]);
        assert_eq!(p.cases[0].output.len(), 1);
        assert_eq!(p.cases[0].output[0][0].to_string(), "Y_0 >= 100");
    }

    #[test]
    fn unclosed_paren_names_where_it_opened() {
        let text = format!(
            "{HEADER_1_1}(assert (>= X_0 -1))\n  (assert (<= X_0 1)\n(assert (<= Y_0 1))\n"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.location, at(4, 3));
        assert!(e.message.contains("'(' opened here is never closed"), "{e}");
        assert!(e.hint.is_some());
    }

    #[test]
    fn stray_close_paren_names_itself() {
        let text = format!("{HEADER_1_1}(assert (>= X_0 -1)))\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.location, at(3, 21));
        assert!(e.message.contains("')' has no matching '('"), "{e}");
        assert!(e.hint.is_some());
    }

    #[test]
    fn parens_in_comments_are_ignored() {
        let text = format!(
            "; (unbalanced (in a comment\n{HEADER_1_1}(assert (>= X_0 -1)) ; )))\n(assert (<= X_0 1))"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn undeclared_variable_names_line_and_column() {
        let text = format!("{HEADER_1_1}(assert (>= X_0 -1))\n(assert (<= X_0   X_7))\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.location, at(4, 19));
        assert!(e.message.contains("X_7"), "{e}");
        assert_eq!(
            e.hint.as_deref(),
            Some("declare it with (declare-const X_7 Real) before its first use")
        );
        // Used before its declaration counts as undeclared too.
        let text = "(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(declare-const X_0 Real)\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.location, at(2, 13));
    }

    #[test]
    fn mixed_input_output_atom_is_unsupported() {
        let text =
            format!("{HEADER_1_1}(assert (>= X_0 -1))\n(assert (and (<= X_0 1) (<= X_0 Y_0)))\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(e.location, at(4, 25));
        assert!(e.message.contains("mixes inputs"), "{e}");
    }

    #[test]
    fn unbounded_input_is_invalid() {
        let e = parse(&format!(
            "{HEADER_1_1}(assert (>= X_0 -1))\n(assert (<= Y_0 1))"
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.message.contains("X_0 has no upper bound"), "{e}");
        assert_eq!(
            e.hint.as_deref(),
            Some("every input needs finite bounds: add (assert (<= X_0 ...))")
        );
        let e = parse(&format!("{HEADER_1_1}(assert (<= X_0 1))")).unwrap_err();
        assert!(e.hint.clone().unwrap().contains("(assert (>= X_0 ...))"));
    }

    #[test]
    fn non_linear_term_is_unsupported() {
        let text = format!("{HEADER_1_1}(assert (>= X_0 -1))\n(assert (<= (* X_0 2 X_0) 1))\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("non-linear"), "{e}");
        assert_eq!(e.location, at(4, 22));
        let text = format!("{HEADER_1_1}(assert (<= (/ 1 X_0) 1))\n");
        assert_eq!(parse(&text).unwrap_err().kind, ErrorKind::Unsupported);
    }

    #[test]
    fn decimals_are_exact() {
        let p = parse(&format!(
            "{HEADER_1_1}(assert (>= X_0 0.1))\n(assert (<= X_0 0.3))"
        ))
        .unwrap();
        let tenth = Rational::new(BigInt::from(1), BigInt::from(10));
        assert_eq!(p.cases[0].input.lower[0], tenth);
        assert_eq!(
            p.cases[0].input.upper[0],
            Rational::new(BigInt::from(3), BigInt::from(10))
        );
        let e = parse(&format!("{HEADER_1_1}(assert (>= X_0 0.1.2))")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert_eq!(e.location, at(3, 17));
    }

    #[test]
    fn linear_terms_chains_and_connectives() {
        let text = "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\n\
            (assert (<= -1 X_0 (/ 3 2)))\n\
            (assert (= X_1 (- 0.25)))\n\
            (assert (<= (+ X_0 (* 2 X_1)) (- 1 X_1 0.5)))\n\
            (assert (not (and (< Y_0 Y_1) (> Y_0 3))))\n\
            (assert true)\n";
        let p = parse(text).unwrap();
        assert_eq!(p.cases.len(), 1);
        let c = &p.cases[0];
        assert_eq!(c.input.lower, vec![q("-1"), q("-0.25")]);
        assert_eq!(c.input.upper, vec![q("1.5"), q("-0.25")]);
        assert_eq!(c.input_constraints.len(), 1);
        assert_eq!(c.input_constraints[0].to_string(), "X_0 + 3*X_1 <= 0.5");
        let out: Vec<String> = c.output.iter().map(|d| d[0].to_string()).collect();
        assert_eq!(out, vec!["Y_1 <= Y_0", "Y_0 <= 3"]);
    }

    #[test]
    fn constant_false_assertion_gives_no_cases() {
        let p = parse(&format!("{HEADER_1_1}(assert (<= 1 0))")).unwrap();
        assert!(p.cases.is_empty());
        let p = parse(&format!(
            "{HEADER_1_1}(assert (>= X_0 2))(assert (<= X_0 1))(assert false)"
        ))
        .unwrap();
        assert!(p.cases.is_empty());
    }

    #[test]
    fn an_empty_input_box_parses_with_a_warning() {
        let p = parse(&format!(
            "{HEADER_1_1}(assert (>= X_0 0.5))\n(assert (<= X_0 0.2))\n(assert (>= Y_0 1))\n"
        ))
        .unwrap();
        assert!(p.cases.is_empty());
        assert_eq!(
            p.warnings(),
            [
                "X_0: lower bound 0.5 is above upper bound 0.2: the input region is empty, \
              so the property can never be violated; the answer is vacuously unsat"
            ]
        );
        let s = p.summary();
        assert!(
            s.contains("\nwarning: X_0: lower bound 0.5 is above upper bound 0.2: "),
            "{s}"
        );
        assert!(
            s.contains("0 cases with a non-empty input region: the unsafe set is empty"),
            "{s}"
        );
    }

    #[test]
    fn an_empty_case_among_others_is_named_by_its_number() {
        // Case 2 is empty on its own; case 3 only against the top-level box
        // (X_1 <= 1 from outside the or, X_1 >= 2 inside it).
        let text = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n\
            (assert (>= X_1 0))\n(assert (<= X_1 1))\n\
            (assert (or\n\
              (and (>= X_0 0) (<= X_0 1))\n\
              (and (>= X_0 0.5) (<= X_0 0.2))\n\
              (and (>= X_0 2) (<= X_0 3) (>= X_1 2))\n\
              (and (>= X_0 4) (<= X_0 4))\n\
            ))\n\
            (assert (>= Y_0 1))\n";
        let p = parse(text).unwrap();
        assert_eq!(p.cases.len(), 2);
        assert_eq!(
            p.warnings(),
            [
                "X_0: lower bound 0.5 is above upper bound 0.2 (case 2 of 4): this case's input \
                 region is empty, so it can never be violated; the answer for it is vacuously unsat",
                "X_1: lower bound 2 is above upper bound 1 (case 3 of 4): this case's input \
                 region is empty, so it can never be violated; the answer for it is vacuously unsat",
            ]
        );
        let s = p.summary();
        assert!(
            s.contains("4 cases (2 with an empty input region, never violated);"),
            "{s}"
        );
        assert!(s.contains("case 1 of 4:\n  X_0 in [0, 1]\n"), "{s}");
        assert!(
            s.contains("case 2 of 4: its input region is empty (see the warning)\n"),
            "{s}"
        );
        assert!(s.contains("case 4 of 4:\n  X_0 in [4, 4]\n"), "{s}");

        // Two inputs empty in one case; a single point is not empty.
        let p = parse(&format!(
            "(declare-const X_0 Real)\n(declare-const X_1 Real)\n{}",
            "(declare-const Y_0 Real)\n(assert (>= X_0 1))(assert (<= X_0 0))\
             (assert (>= X_1 3))(assert (<= X_1 -3))(assert (>= Y_0 1))"
        ))
        .unwrap();
        assert_eq!(p.warnings().len(), 1);
        assert!(
            p.warnings()[0].starts_with(
                "X_0: lower bound 1 is above upper bound 0; X_1: lower bound 3 is above upper bound -3: "
            ),
            "{:?}",
            p.warnings()
        );
    }

    #[test]
    fn sound_properties_have_no_warnings() {
        for text in [
            PROP_1.to_string(),
            format!("{HEADER_1_1}(assert (>= X_0 0.5))(assert (<= X_0 0.5))(assert (>= Y_0 1))"),
        ] {
            let p = parse(&text).unwrap();
            assert_eq!(p.warnings(), Vec::<String>::new());
            assert!(!p.summary().contains("warning"), "{}", p.summary());
        }
    }

    #[test]
    fn declaration_errors() {
        let e = parse("(declare-const X_0 Real)\n(declare-const X_0 Real)").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Invalid, at(2, 16))
        );
        assert!(e.hint.clone().unwrap().contains("line 1"));
        let e = parse("(declare-const X_0 Real)\n(declare-const X_2 Real)").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Invalid, at(2, 16))
        );
        assert!(e.message.contains("X_1"), "{e}");
        let e = parse("(declare-const in0 Real)").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Unsupported, at(1, 16))
        );
        let e = parse("(declare-const X_0 Int)").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Unsupported, at(1, 20))
        );
        let e = parse("(declare-const X_01 Real)").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }

    #[test]
    fn unknown_commands_and_operators_are_unsupported() {
        let e = parse("(define-fun f () Real 1)").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Unsupported, at(1, 1))
        );
        let e = parse(&format!("{HEADER_1_1}(assert (=> (<= X_0 1) (<= Y_0 1)))")).unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Unsupported, at(3, 9))
        );
        let e = parse(&format!("{HEADER_1_1}(assert (<= (abs X_0) 1))")).unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Unsupported, at(3, 13))
        );
        let e = parse("X_0").unwrap_err();
        assert_eq!(
            (e.kind, e.location.clone()),
            (ErrorKind::Malformed, at(1, 1))
        );
        // Harmless SMT-LIB commands are ignored.
        let p = parse(&format!(
            "(set-logic QF_LRA)\n{HEADER_1_1}(assert (<= -1 X_0 1))\n(check-sat)\n(exit)"
        ))
        .unwrap();
        assert_eq!(p.cases.len(), 1);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!(
            "(assert {}{})",
            "(".repeat(10 * MAX_NESTING),
            ")".repeat(10 * MAX_NESTING)
        );
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        // Just under the limit still parses (and then fails on meaning).
        let ok_depth = MAX_NESTING - 2;
        let text = format!(
            "{HEADER_1_1}(assert (<= X_0 {}1{}))",
            "(+ ".repeat(ok_depth),
            ")".repeat(ok_depth)
        );
        assert_eq!(
            parse(&text).unwrap_err().message,
            "input X_0 has no lower bound"
        );
    }

    #[test]
    fn empty_file_has_one_trivial_case() {
        let p = parse("; nothing\n").unwrap();
        assert_eq!((p.num_inputs, p.num_outputs), (0, 0));
        assert_eq!(p.cases.len(), 1);
        assert_eq!(p.cases[0].output, vec![Vec::<Constraint>::new()]);
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.vnnlib");
        std::fs::write(&path, "(declare-const X_0 Real)\n(assert (<= X_0 1)").unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.file.as_deref(), Some(path.as_path()));
        assert_eq!(e.location, at(2, 1));
        let e = load(&dir.path().join("missing.vnnlib")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        std::fs::write(&path, b"(declare-const X_0 Real)\xff").unwrap();
        assert_eq!(load(&path).unwrap_err().kind, ErrorKind::Malformed);
        std::fs::write(&path, PROP_1).unwrap();
        assert_eq!(load(&path).unwrap().cases.len(), 1);
    }

    proptest! {
        #[test]
        fn random_text_never_panics(s in "[-()XY_0-9 .;\n<=>+*/a-z]{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn random_unicode_never_panics(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn mutated_prop1_never_panics(
            edits in proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    0u8..3,
                    prop_oneof![any::<char>(), proptest::sample::select("()-+*/.;0123456789eXY_ \n".chars().collect::<Vec<_>>())],
                ),
                1..4,
            )
        ) {
            let mut chars: Vec<char> = PROP_1.chars().collect();
            for (index, kind, c) in edits {
                if chars.is_empty() {
                    break;
                }
                let i = index.index(chars.len());
                match kind {
                    0 => { chars.remove(i); }
                    1 => chars.insert(i, c),
                    _ => chars[i] = c,
                }
            }
            let text: String = chars.into_iter().collect();
            let _ = parse(&text);
        }
    }
}
