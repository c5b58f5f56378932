//! Errors of the `.axiom` language: a kind, a place (file, line, column,
//! byte span), a message, a hint, and a code frame rendered with ariadne.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in an `.axiom` source: 1-based line and column (in characters) of
/// its start, and its byte range `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column of `start`, counted in characters.
    pub col: usize,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The byte range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// What kind of mistake a [`SpecError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// A name that nothing declares: a region, an input or output, a
    /// function, an argument, a tensor in a weight file.
    UnknownName,
    /// A `layer` of a kind the language does not have.
    UnknownLayer,
    /// Shapes or sizes that do not agree (layers, declarations, boxes,
    /// weights, VNN-LIB declarations).
    ShapeMismatch,
    /// An index past the end of an input or output.
    IndexOutOfRange,
    /// A file (the spec, a model, weights, a VNN-LIB property) that cannot be
    /// found or read.
    MissingFile,
    /// The imported or built model itself is wrong (a model file that does
    /// not import, a weight file that does not parse, a graph that does not
    /// validate).
    Model,
    /// Anything else that is well-formed but meaningless: duplicates, wrong
    /// arguments, empty intervals, nonlinear expressions.
    Invalid,
}

impl SpecErrorKind {
    /// A short lowercase name, e.g. `"unknown layer"`.
    pub fn describe(&self) -> &'static str {
        match self {
            SpecErrorKind::Syntax => "syntax error",
            SpecErrorKind::UnknownName => "unknown name",
            SpecErrorKind::UnknownLayer => "unknown layer",
            SpecErrorKind::ShapeMismatch => "shape mismatch",
            SpecErrorKind::IndexOutOfRange => "index out of range",
            SpecErrorKind::MissingFile => "missing file",
            SpecErrorKind::Model => "model error",
            SpecErrorKind::Invalid => "invalid specification",
        }
    }
}

/// An error in an `.axiom` specification.
///
/// It names the file, the 1-based line and column, says what is wrong and,
/// where it can, how to fix it (`hint`). [`SpecError::render`] draws the
/// offending source line with the place underlined (ariadne); `frame` holds
/// that drawing without colour. `Display` prints the short form
/// `file:line:col: message` plus the hint.
///
/// ```
/// use axiom_core::lang::{parse_spec_str, SpecErrorKind};
/// use std::path::Path;
///
/// let src = "model m {\n  input x: f32[2]\n  output y: f32[2]\n  layer a = relux\n}\n";
/// let err = parse_spec_str(src, Path::new("m.axiom")).unwrap_err();
/// assert_eq!(err.kind(), SpecErrorKind::UnknownLayer);
/// assert_eq!((err.line, err.col), (4, 13));
/// assert_eq!(err.message, "unknown layer `relux`");
/// assert_eq!(err.hint.as_deref(), Some("did you mean `relu`?"));
/// assert!(err.frame.contains("layer a = relux"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(Box<SpecErrorInfo>);

/// What a [`SpecError`] says; its fields are reached through the error
/// (`err.line`, `err.message`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrorInfo {
    kind: SpecErrorKind,
    /// The `.axiom` file the error is in.
    pub file: PathBuf,
    /// 1-based line; 0 when the error is about the whole file (it could not
    /// be read).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub col: usize,
    /// The offending source range, when there is one.
    pub span: Option<Span>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
    /// The code frame (source line, underline, label, hint), without colour;
    /// empty when there is no span.
    pub frame: String,
    label: String,
    related: Option<(Span, String)>,
    source: Option<Arc<str>>,
}

impl std::ops::Deref for SpecError {
    type Target = SpecErrorInfo;
    fn deref(&self) -> &SpecErrorInfo {
        &self.0
    }
}

impl SpecError {
    /// An error at `span` of `source` (the text of `file`). `label` is the
    /// short note drawn under the span.
    pub(crate) fn new(
        kind: SpecErrorKind,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        SpecError(Box::new(SpecErrorInfo {
            kind,
            file: PathBuf::new(),
            line: span.line,
            col: span.col,
            span: Some(span),
            message: message.into(),
            hint: None,
            frame: String::new(),
            label: label.into(),
            related: None,
            source: None,
        }))
    }

    /// An error about a whole file, with no place in it.
    pub(crate) fn whole_file(kind: SpecErrorKind, file: &Path, message: impl Into<String>) -> Self {
        SpecError(Box::new(SpecErrorInfo {
            kind,
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            span: None,
            message: message.into(),
            hint: None,
            frame: String::new(),
            label: String::new(),
            related: None,
            source: None,
        }))
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.0.hint = hint;
        self
    }

    /// A second place to show, e.g. the first declaration of a duplicate.
    pub(crate) fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.0.related = Some((span, label.into()));
        self
    }

    /// Attaches the file and its text, and renders `frame`.
    pub(crate) fn in_source(mut self, file: &Path, source: &Arc<str>) -> Self {
        self.0.file = file.to_path_buf();
        self.0.source = Some(Arc::clone(source));
        self.0.frame = self.render(false);
        self
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> SpecErrorKind {
        self.kind
    }

    /// The full diagnostic: a header, the offending source line(s) with the
    /// place underlined and labelled, the hint; with ANSI colours when
    /// `color` (pass `std::io::IsTerminal::is_terminal(&std::io::stderr())`).
    pub fn render(&self, color: bool) -> String {
        use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};

        let (Some(span), Some(source)) = (self.span, self.source.as_ref()) else {
            let mut s = format!("error: {}", self.message);
            if !self.file.as_os_str().is_empty() {
                s = format!("error: {}: {}", self.file.display(), self.message);
            }
            if let Some(hint) = &self.hint {
                s.push_str(&format!("\n  help: {hint}"));
            }
            return s;
        };
        let id = self.file.display().to_string();
        let clamp = |r: Range<usize>| {
            let start = r.start.min(source.len());
            start..r.end.clamp(start, source.len())
        };
        let mut report = Report::build(ReportKind::Error, (id.clone(), clamp(span.range())))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_message(&self.message)
            .with_label(Label::new((id.clone(), clamp(span.range()))).with_message(&self.label));
        if let Some((other, label)) = &self.related {
            report = report
                .with_label(Label::new((id.clone(), clamp(other.range()))).with_message(label));
        }
        if let Some(hint) = &self.hint {
            report = report.with_help(hint);
        }
        let mut out = Vec::new();
        match report
            .finish()
            .write((id.clone(), Source::from(&**source)), &mut out)
        {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(_) => self.to_string(),
        }
    }
}

impl fmt::Display for SpecError {
    /// `file:line:col: message`, then `  hint: ...` on a second line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for crate::Error {
    /// The same error as a crate-wide [`crate::Error`] (file, line and
    /// column, message, hint): `Syntax` is `Malformed`, `MissingFile` is
    /// `Io`, everything else `Invalid`.
    fn from(e: SpecError) -> Self {
        let e = *e.0;
        let kind = match e.kind {
            SpecErrorKind::Syntax => crate::ErrorKind::Malformed,
            SpecErrorKind::MissingFile => crate::ErrorKind::Io,
            _ => crate::ErrorKind::Invalid,
        };
        let mut out = crate::Error::new(kind, e.message).in_file(&e.file);
        if e.line > 0 {
            out = out.at(crate::Location::LineCol {
                line: e.line,
                col: e.col,
            });
        }
        if let Some(hint) = e.hint {
            out = out.with_hint(hint);
        }
        out
    }
}

/// Byte offsets to 1-based lines and columns.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, line_starts }
    }

    /// The span of bytes `start..end`, with the line and column of `start`.
    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        let start = start.min(self.text.len());
        let end = end.clamp(start, self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line.saturating_sub(1)];
        let col = self
            .text
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            + 1;
        Span {
            line: line.max(1),
            col,
            start,
            end,
        }
    }
}

/// Edit distance (insertions, deletions, substitutions) between two strings.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `did you mean `x`?` for the candidate closest to `name`, when one is
/// close enough (at most a third of the name's length, at least 2, edits);
/// the earlier candidate wins a tie.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters() {
        let idx = LineIndex::new("ab\nçd e\n");
        assert_eq!(idx.span(0, 1).line, 1);
        let s = idx.span(7, 8); // 'e': ç is two bytes
        assert_eq!((s.line, s.col), (2, 4));
        let end = idx.span(100, 200);
        assert_eq!((end.start, end.end), (9, 9));
    }

    #[test]
    fn suggestions() {
        assert_eq!(levenshtein("relux", "relu"), 1);
        assert_eq!(
            did_you_mean("nearorigin", ["near_origin", "domain"]),
            Some("did you mean `near_origin`?".to_string())
        );
        assert_eq!(did_you_mean("zzzzzz", ["relu", "dense"]), None);
    }
}
