//! Errors for everything that reads user input: importers, parsers and graph
//! validation.
//!
//! Every error names the file (when there is one), the place in it (line and
//! column, ONNX node, tensor, byte offset) and, where we can, a hint a person
//! can act on. Nothing that reads user input panics: it returns an [`Error`].

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, broadly; the CLI maps every kind to exit code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The bytes or text are not a well-formed file of the expected format.
    Malformed,
    /// Well-formed, but uses something Axiom does not support (an ONNX op, a
    /// data type, an attribute value).
    Unsupported,
    /// Well-formed and supported, but inconsistent (shape mismatch, undeclared
    /// variable, wrong number of values).
    Invalid,
}

/// Where in the input an error sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line and column in a text file.
    LineCol { line: usize, col: usize },
    /// 1-based line in a text file.
    Line(usize),
    /// A node of a graph, by name (or index when unnamed) and op type.
    Node { name: String, op: String },
    /// A named tensor (an ONNX initializer, a safetensors entry).
    Tensor(String),
    /// A byte offset in a binary file.
    Byte(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::LineCol { line, col } => write!(f, "line {line}, column {col}"),
            Location::Line(line) => write!(f, "line {line}"),
            Location::Node { name, op } => write!(f, "node '{name}' ({op})"),
            Location::Tensor(name) => write!(f, "tensor '{name}'"),
            Location::Byte(offset) => write!(f, "byte {offset}"),
        }
    }
}

/// An error reading or validating user input. Boxed, so that `Result`s stay
/// small on the hot path; its fields are reached through [`ErrorInfo`]
/// (`err.kind`, `err.location`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorInfo>);

/// What an [`Error`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    pub kind: ErrorKind,
    pub file: Option<PathBuf>,
    pub location: Option<Location>,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorInfo {
            kind,
            file: None,
            location: None,
            message: message.into(),
            hint: None,
        }))
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// An I/O error on `path`, with the operating system's reason.
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("cannot read: {err}")).in_file(path)
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets the location only if none is set yet (inner errors know better).
    pub fn at_default(mut self, location: Location) -> Self {
        if self.location.is_none() {
            self.location = Some(location);
        }
        self
    }

    pub fn in_file(mut self, path: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(path.to_path_buf());
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorInfo;
    fn deref(&self) -> &ErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorInfo {
        &mut self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_place_and_hint() {
        let e = Error::invalid("undeclared variable X_9")
            .at(Location::LineCol { line: 3, col: 14 })
            .in_file(Path::new("p.vnnlib"))
            .with_hint("declare it with (declare-const X_9 Real)");
        assert_eq!(
            e.to_string(),
            "p.vnnlib: line 3, column 14: undeclared variable X_9\n  hint: declare it with (declare-const X_9 Real)"
        );
    }

    #[test]
    fn inner_location_wins() {
        let e = Error::malformed("x")
            .at(Location::Line(2))
            .at_default(Location::Line(9));
        assert_eq!(e.location, Some(Location::Line(2)));
    }
}
