//! Text to syntax tree: the pest grammar (`axiom.pest`) and the conversion of
//! its parse tree to [`ast`](super::ast) nodes; syntax errors with the place
//! and what was expected there.

use super::ast::*;
use super::error::{LineIndex, SpecError, SpecErrorKind};
use crate::spec::{parse_decimal, Rational};
use pest::iterators::Pair;
use pest::Parser as _;

/// The deepest nesting of brackets and parentheses accepted.
pub const MAX_NESTING: usize = 100;

mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "lang/axiom.pest"]
    pub(super) struct AxiomParser;
}

use grammar::{AxiomParser, Rule};

/// Parses `text` into a syntax tree. Errors carry spans but no file yet.
pub(crate) fn parse_file(text: &str, index: &LineIndex<'_>) -> Result<File, SpecError> {
    prescan(text, index)?;
    let mut pairs =
        AxiomParser::parse(Rule::file, text).map_err(|e| syntax_error(&e, text, index))?;
    let conv = Conv { index };
    let file = pairs.next().ok_or_else(|| conv.internal(0..text.len()))?;
    let mut models = Vec::new();
    for p in file.into_inner() {
        if p.as_rule() == Rule::model {
            models.push(conv.model(p)?);
        }
    }
    Ok(File { models })
}

/// Finds what the grammar would report badly: unterminated strings and
/// block comments, and brackets or `not`s nested deeper than
/// [`MAX_NESTING`] (deep nesting would exhaust the stack).
fn prescan(text: &str, index: &LineIndex<'_>) -> Result<(), SpecError> {
    let b = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    // Consecutive `not`s (only spaces, comments and `(` between them).
    let mut nots = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if &text[start..i] == "not" {
                    nots += 1;
                    if nots > MAX_NESTING {
                        return Err(SpecError::new(
                            SpecErrorKind::Syntax,
                            format!("`not` nested more than {MAX_NESTING} deep"),
                            index.span(start, i),
                            "too deep",
                        ));
                    }
                } else {
                    nots = 0;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(k) => i += 2 + k + 1,
                None => {
                    return Err(SpecError::new(
                        SpecErrorKind::Syntax,
                        "unterminated block comment",
                        index.span(i, i + 2),
                        "this comment is never closed",
                    )
                    .with_hint("close it with `*/`"))
                }
            },
            b'"' => {
                nots = 0;
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += 1;
                }
                if i >= b.len() || b[i] != b'"' {
                    return Err(SpecError::new(
                        SpecErrorKind::Syntax,
                        "unterminated string",
                        index.span(start, i),
                        "this string is never closed",
                    )
                    .with_hint("strings end with `\"` on the same line"));
                }
            }
            b'(' | b'[' => {
                if open.len() >= MAX_NESTING {
                    return Err(SpecError::new(
                        SpecErrorKind::Syntax,
                        format!("brackets nested more than {MAX_NESTING} deep"),
                        index.span(i, i + 1),
                        "too deep",
                    ));
                }
                open.push(i);
                if b[i] != b'(' {
                    nots = 0;
                }
            }
            b')' | b']' => {
                open.pop();
                nots = 0;
            }
            _ => nots = 0,
        }
        i += 1;
    }
    Ok(())
}

/// What a grammar rule stands for, in an "expected ..." message.
fn describe(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::kw_model | Rule::model | Rule::file => &["`model`"],
        Rule::ident | Rule::call => &["a name"],
        Rule::lbrace => &["`{`"],
        Rule::rbrace => &["`}`"],
        Rule::lbracket => &["`[`"],
        Rule::rbracket => &["`]`"],
        Rule::lparen | Rule::call_args => &["`(`"],
        Rule::rparen => &["`)`"],
        Rule::colon => &["`:`"],
        Rule::comma => &["`,`"],
        Rule::equals => &["`=`"],
        Rule::arrow => &["`->`"],
        Rule::implies => &["`=>`"],
        Rule::from_item | Rule::kw_from => &["`from`"],
        Rule::input_item | Rule::kw_input => &["`input`"],
        Rule::output_item | Rule::kw_output => &["`output`"],
        Rule::region_item | Rule::kw_region => &["`region`"],
        Rule::layer_item | Rule::kw_layer => &["`layer`"],
        Rule::assume_item | Rule::kw_assume => &["`assume`"],
        Rule::ensure_item | Rule::kw_ensure => &["`ensure`"],
        Rule::prove_item | Rule::kw_prove => &["`prove`"],
        Rule::forall_body | Rule::kw_forall => &["`forall`"],
        Rule::vnnlib_body | Rule::kw_vnnlib => &["`vnnlib`"],
        Rule::kw_in => &["`in`"],
        Rule::kw_and => &["`and`"],
        Rule::kw_or => &["`or`"],
        Rule::kw_not => &["`not`"],
        Rule::string | Rule::string_text => &["a string in double quotes"],
        Rule::tensor_type => &["a tensor type such as `f32[5]`"],
        Rule::int => &["a whole number"],
        Rule::number | Rule::signed_number => &["a number"],
        Rule::arg | Rule::arrow_arg | Rule::keyed_arg => &["an argument"],
        Rule::list => &["a list such as `[0, 1]`"],
        Rule::pred | Rule::conj | Rule::not_pred | Rule::cmp_pred | Rule::in_pred => {
            &["a condition"]
        }
        Rule::call_pred => &["a condition"],
        Rule::cmp_op => &[COMPARISON],
        Rule::interval => &["an interval such as `[0, 1]`"],
        Rule::interval_open => &["`[`", "`(`"],
        Rule::interval_close => &["`]`", "`)`"],
        Rule::expr | Rule::term | Rule::factor | Rule::neg | Rule::call_expr | Rule::index_expr => {
            &["an expression"]
        }
        Rule::add_op => &["`+`", "`-`"],
        Rule::mul_op => &["`*`", "`/`"],
        Rule::EOI => &["end of file"],
        _ => &[],
    }
}

const COMPARISON: &str = "a comparison (`<=`, `<`, `>=`, `>`, `==`, `!=`)";
const ITEMS: [&str; 8] = [
    "`from`", "`input`", "`output`", "`region`", "`layer`", "`assume`", "`ensure`", "`prove`",
];
const OPERATORS: [&str; 4] = ["`+`", "`-`", "`*`", "`/`"];

/// Replaces a complete set of `group` in `list` by `name`, where the first
/// of them was.
fn summarise(list: &mut Vec<&'static str>, group: &[&str], name: &'static str) {
    if group.iter().all(|g| list.contains(g)) {
        if let Some(first) = list.iter().position(|d| group.contains(d)) {
            list.retain(|d| !group.contains(d));
            list.insert(first.min(list.len()), name);
        }
    }
}

/// The token at byte `at`, for "found ..." (a word, a number, or one
/// character), or `end of file`.
fn token_at(text: &str, at: usize) -> (String, usize) {
    let rest = text.get(at..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return ("end of file".to_string(), 0);
    };
    let len = if first.is_alphanumeric() || first == '_' || first == '.' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len())
    } else {
        ["<=", ">=", "==", "!=", "->", "=>", "//", "/*"]
            .iter()
            .find(|t| rest.starts_with(**t))
            .map_or(first.len_utf8(), |t| t.len())
    };
    (format!("`{}`", &rest[..len]), len)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn syntax_error(e: &pest::error::Error<Rule>, text: &str, index: &LineIndex<'_>) -> SpecError {
    let at = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    };
    let mut expected: Vec<&'static str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for d in positives.iter().flat_map(|r| describe(*r)) {
            if !expected.contains(d) {
                expected.push(d);
            }
        }
    }
    summarise(
        &mut expected,
        &ITEMS,
        "another item (`prove`, `ensure`, ...)",
    );
    summarise(
        &mut expected,
        &OPERATORS,
        "an operator (`+`, `-`, `*`, `/`)",
    );
    let (found, len) = token_at(text, at);
    let rest = text.get(at..).unwrap_or("");
    let chained = expected.contains(&"`and`")
        && ["<=", ">=", "==", "!=", "<", ">"]
            .iter()
            .any(|op| rest.starts_with(op));
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else if chained {
        format!("unexpected {found} after a complete comparison")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    // A misspelt keyword: `prov` for `prove`.
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let mut keywords: Vec<&str> = expected
        .iter()
        .filter_map(|d| d.strip_prefix('`')?.strip_suffix('`'))
        .filter(|k| k.chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if expected.contains(&"another item (`prove`, `ensure`, ...)") {
        keywords.extend(
            ITEMS
                .iter()
                .filter_map(|d| d.strip_prefix('`')?.strip_suffix('`')),
        );
    }
    let misspelt = if word.is_empty() {
        None
    } else {
        super::error::did_you_mean(&word, keywords)
    };
    let hint = if misspelt.is_some() {
        misspelt.as_deref()
    } else if chained {
        Some("comparisons do not chain: write `y[0] in [0, 1]`, or join them with `and`")
    } else if rest.starts_with('=') && expected.contains(&COMPARISON) {
        Some("equality is written `==`")
    } else if expected.contains(&"`model`") {
        Some("an .axiom file is a list of `model NAME { ... }` blocks")
    } else {
        None
    };
    let label = if expected.is_empty() || chained {
        "unexpected here".to_string()
    } else {
        format!("expected {}", join_or(&expected))
    };
    SpecError::new(
        SpecErrorKind::Syntax,
        message,
        index.span(at, at + len.max(usize::from(at < text.len()))),
        label,
    )
    .with_hint_opt(hint.map(str::to_string))
}

/// Punctuation and keywords: present in the parse tree, no content.
fn is_punct(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::lbrace
            | Rule::rbrace
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lparen
            | Rule::rparen
            | Rule::colon
            | Rule::comma
            | Rule::equals
            | Rule::arrow
            | Rule::implies
            | Rule::kw_model
            | Rule::kw_from
            | Rule::kw_input
            | Rule::kw_output
            | Rule::kw_region
            | Rule::kw_layer
            | Rule::kw_assume
            | Rule::kw_ensure
            | Rule::kw_prove
            | Rule::kw_forall
            | Rule::kw_vnnlib
            | Rule::kw_in
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
            | Rule::EOI
    )
}

/// The byte range of a pair, without the whitespace and comments pest
/// leaves at the end of rules that end in an optional or repeated part.
fn bytes(p: &Pair<'_, Rule>) -> Bytes {
    p.as_span().start()..token_end(p)
}

/// Where the last token of a pair ends.
fn token_end(p: &Pair<'_, Rule>) -> usize {
    let leaf = matches!(
        p.as_rule(),
        Rule::ident
            | Rule::int
            | Rule::number
            | Rule::signed_number
            | Rule::string
            | Rule::cmp_op
            | Rule::add_op
            | Rule::mul_op
            | Rule::neg
            | Rule::interval_open
            | Rule::interval_close
    ) || is_punct(p.as_rule());
    match p.clone().into_inner().last() {
        Some(last) if !leaf => token_end(&last),
        _ => p.as_span().end(),
    }
}

/// The content children of a pair (punctuation dropped).
fn children(p: Pair<'_, Rule>) -> Vec<Pair<'_, Rule>> {
    p.into_inner().filter(|c| !is_punct(c.as_rule())).collect()
}

struct Conv<'a> {
    index: &'a LineIndex<'a>,
}

type R<T> = Result<T, SpecError>;

impl Conv<'_> {
    /// The grammar and this converter disagree: a bug, reported as an error
    /// rather than a panic.
    fn internal(&self, at: Bytes) -> SpecError {
        SpecError::new(
            SpecErrorKind::Syntax,
            "internal error: unexpected parse tree",
            self.index.span(at.start, at.end),
            "here",
        )
        .with_hint("please report this as a bug, with the file")
    }

    /// Exactly `n` content children, or an internal error.
    fn exactly<'i, const N: usize>(&self, p: Pair<'i, Rule>) -> R<[Pair<'i, Rule>; N]> {
        let at = bytes(&p);
        children(p).try_into().map_err(|_| self.internal(at))
    }

    fn model(&self, p: Pair<'_, Rule>) -> R<Model> {
        let at = bytes(&p);
        let mut it = children(p).into_iter();
        let name = self.ident(it.next().ok_or_else(|| self.internal(at.clone()))?);
        let items = it.map(|i| self.item(i)).collect::<R<Vec<_>>>()?;
        Ok(Model { name, at, items })
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            text: p.as_str().to_string(),
            at: bytes(&p),
        }
    }

    fn string(&self, p: Pair<'_, Rule>) -> StringLit {
        let at = bytes(&p);
        let s = p.as_str();
        let text = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(s)
            .to_string();
        StringLit { text, at }
    }

    fn int(&self, p: Pair<'_, Rule>) -> R<Int> {
        let at = bytes(&p);
        let value = p.as_str().parse::<usize>().map_err(|_| {
            SpecError::new(
                SpecErrorKind::Syntax,
                format!("the number {} is too large", p.as_str()),
                self.index.span(at.start, at.end),
                "too large",
            )
        })?;
        Ok(Int { value, at })
    }

    fn number(&self, p: Pair<'_, Rule>) -> R<Number> {
        let at = bytes(&p);
        let value = parse_decimal(p.as_str()).ok_or_else(|| {
            SpecError::new(
                SpecErrorKind::Syntax,
                format!("`{}` is not a number Axiom can read exactly", p.as_str()),
                self.index.span(at.start, at.end),
                "not a number",
            )
            .with_hint(format!(
                "exponents are limited to ±{}",
                crate::spec::MAX_DECIMAL_EXPONENT
            ))
        })?;
        Ok(Number { value })
    }

    fn item(&self, p: Pair<'_, Rule>) -> R<Item> {
        let at = bytes(&p);
        let rule = p.as_rule();
        let kind = match rule {
            Rule::from_item => {
                let [format, path] = self.exactly(p)?;
                ItemKind::From {
                    format: self.ident(format),
                    path: self.string(path),
                }
            }
            Rule::input_item | Rule::output_item => {
                let io = self.io(p)?;
                if rule == Rule::input_item {
                    ItemKind::Input(io)
                } else {
                    ItemKind::Output(io)
                }
            }
            Rule::region_item | Rule::layer_item => {
                let [name, value] = self.exactly(p)?;
                let name = self.ident(name);
                let value = self.call(value)?;
                if rule == Rule::region_item {
                    ItemKind::Region { name, value }
                } else {
                    ItemKind::Layer { name, value }
                }
            }
            Rule::assume_item | Rule::ensure_item => {
                let [pred] = self.exactly(p)?;
                let pred = self.pred(pred)?;
                if rule == Rule::assume_item {
                    ItemKind::Assume(pred)
                } else {
                    ItemKind::Ensure(pred)
                }
            }
            Rule::prove_item => {
                let [name, body] = self.exactly(p)?;
                let name = self.ident(name);
                let body = match body.as_rule() {
                    Rule::forall_body => {
                        let [var, region, pred] = self.exactly(body)?;
                        ProveBody::Forall {
                            var: self.ident(var),
                            region: Box::new(self.call(region)?),
                            pred: Box::new(self.pred(pred)?),
                        }
                    }
                    _ => {
                        let [path] = self.exactly(body)?;
                        ProveBody::Vnnlib(self.string(path))
                    }
                };
                ItemKind::Prove { name, body }
            }
            _ => return Err(self.internal(at)),
        };
        Ok(Item { kind, at })
    }

    fn io(&self, p: Pair<'_, Rule>) -> R<IoItem> {
        let at = bytes(&p);
        let mut it = children(p).into_iter();
        let (Some(name), Some(ty)) = (it.next(), it.next()) else {
            return Err(self.internal(at));
        };
        let domain = it.next().map(|d| self.interval(d)).transpose()?;
        let dims_at = bytes(&ty);
        let mut ty = children(ty).into_iter();
        let dtype = self.ident(ty.next().ok_or_else(|| self.internal(dims_at.clone()))?);
        let dims = ty.map(|d| self.int(d)).collect::<R<Vec<_>>>()?;
        Ok(IoItem {
            name: self.ident(name),
            dtype,
            dims,
            dims_at,
            domain,
        })
    }

    fn interval(&self, p: Pair<'_, Rule>) -> R<Interval> {
        let at = bytes(&p);
        let [open, lo, hi, close] = self.exactly(p)?;
        Ok(Interval {
            lo_open: open.as_str() == "(",
            hi_open: close.as_str() == ")",
            lo: self.number(lo)?,
            hi: self.number(hi)?,
            at,
        })
    }

    fn call(&self, p: Pair<'_, Rule>) -> R<Call> {
        let at = bytes(&p);
        let mut it = children(p).into_iter();
        let name = self.ident(it.next().ok_or_else(|| self.internal(at.clone()))?);
        let (args, args_at) = match it.next() {
            Some(a) => {
                let args_at = bytes(&a);
                let args = children(a)
                    .into_iter()
                    .map(|x| self.arg(x))
                    .collect::<R<Vec<_>>>()?;
                (Some(args), Some(args_at))
            }
            None => (None, None),
        };
        Ok(Call {
            name,
            args,
            args_at,
            at,
        })
    }

    fn arg(&self, p: Pair<'_, Rule>) -> R<Arg> {
        let at = bytes(&p);
        let inner = match p.as_rule() {
            Rule::arg => {
                let [inner] = self.exactly(p)?;
                inner
            }
            _ => p,
        };
        let kind = match inner.as_rule() {
            Rule::arrow_arg => {
                let [a, b] = self.exactly(inner)?;
                ArgKind::Arrow(self.int(a)?, self.int(b)?)
            }
            Rule::keyed_arg => {
                let [key, value] = self.exactly(inner)?;
                ArgKind::Keyed(self.ident(key), Box::new(self.arg(value)?))
            }
            Rule::string => ArgKind::Str(self.string(inner)),
            Rule::list => ArgKind::List(
                children(inner)
                    .into_iter()
                    .map(|n| self.number(n))
                    .collect::<R<Vec<_>>>()?,
            ),
            Rule::signed_number => ArgKind::Num(self.number(inner)?),
            _ => return Err(self.internal(at)),
        };
        Ok(Arg { kind, at })
    }

    fn pred(&self, p: Pair<'_, Rule>) -> R<Pred> {
        let at = bytes(&p);
        let kind = match p.as_rule() {
            Rule::pred | Rule::conj => {
                let is_or = p.as_rule() == Rule::pred;
                let mut parts = children(p)
                    .into_iter()
                    .map(|c| self.pred(c))
                    .collect::<R<Vec<_>>>()?;
                if parts.len() == 1 {
                    if let Some(only) = parts.pop() {
                        return Ok(only);
                    }
                }
                if is_or {
                    PredKind::Or(parts)
                } else {
                    PredKind::And(parts)
                }
            }
            Rule::not_pred => {
                let [inner] = self.exactly(p)?;
                PredKind::Not(Box::new(self.pred(inner)?))
            }
            Rule::cmp_pred => {
                let [lhs, op, rhs] = self.exactly(p)?;
                let op = match op.as_str() {
                    "<=" => CmpTok::Le,
                    "<" => CmpTok::Lt,
                    ">=" => CmpTok::Ge,
                    ">" => CmpTok::Gt,
                    "==" => CmpTok::Eq,
                    _ => CmpTok::Ne,
                };
                PredKind::Cmp(self.expr(lhs)?, op, self.expr(rhs)?)
            }
            Rule::in_pred => {
                let [e, interval] = self.exactly(p)?;
                PredKind::In(self.expr(e)?, self.interval(interval)?)
            }
            Rule::call_pred => {
                let [call] = self.exactly(p)?;
                let [func, arg] = self.exactly(call)?;
                PredKind::Call {
                    func: self.ident(func),
                    arg: self.ident(arg),
                }
            }
            _ => return Err(self.internal(at)),
        };
        Ok(Pred { kind, at })
    }

    fn expr(&self, p: Pair<'_, Rule>) -> R<Expr> {
        let at = bytes(&p);
        match p.as_rule() {
            Rule::expr | Rule::term => {
                let mut it = children(p).into_iter();
                let first = it.next().ok_or_else(|| self.internal(at.clone()))?;
                let head = self.expr(first)?;
                let mut rest = Vec::new();
                let mut end = head.at.end;
                while let (Some(op), Some(rhs)) = (it.next(), it.next()) {
                    let op = match op.as_str() {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        _ => BinOp::Div,
                    };
                    let rhs = self.expr(rhs)?;
                    end = rhs.at.end;
                    rest.push((op, rhs));
                }
                if rest.is_empty() {
                    return Ok(head);
                }
                Ok(Expr {
                    at: head.at.start..end,
                    kind: ExprKind::Chain(Box::new(head), rest),
                })
            }
            Rule::factor => {
                let parts = children(p);
                let negs = parts.iter().filter(|c| c.as_rule() == Rule::neg).count();
                let Some(primary) = parts.into_iter().find(|c| c.as_rule() != Rule::neg) else {
                    return Err(self.internal(at));
                };
                let e = self.expr(primary)?;
                Ok(if negs % 2 == 1 {
                    Expr {
                        kind: ExprKind::Neg(Box::new(e)),
                        at,
                    }
                } else {
                    e
                })
            }
            Rule::number => Ok(Expr {
                kind: ExprKind::Num(self.number(p)?.value),
                at,
            }),
            Rule::call_expr => {
                let [func, arg] = self.exactly(p)?;
                Ok(Expr {
                    kind: ExprKind::Call {
                        func: self.ident(func),
                        arg: self.ident(arg),
                    },
                    at,
                })
            }
            Rule::index_expr => {
                let mut it = children(p).into_iter();
                let name = self.ident(it.next().ok_or_else(|| self.internal(at.clone()))?);
                let idx = it.map(|i| self.int(i)).collect::<R<Vec<_>>>()?;
                Ok(Expr {
                    kind: ExprKind::Index { name, idx },
                    at,
                })
            }
            _ => Err(self.internal(at)),
        }
    }
}

/// Whether `r` is a whole number.
pub(crate) fn as_usize(r: &Rational) -> Option<usize> {
    use num_traits::ToPrimitive;
    if r.is_integer() {
        r.to_integer().to_usize()
    } else {
        None
    }
}
