//! The `.axiom` specification language: models, runtime checks and proof
//! obligations in one file.
//!
//! ```text
//! model small {
//!   input  x: f32[2] in [-1, 1]
//!   output y: f32[3]
//!   layer fc1 = dense(2 -> 8, weights "w.safetensors:fc1.weight", bias "w.safetensors:fc1.bias")
//!   layer a1  = relu
//!   layer fc2 = dense(8 -> 3, weights "w.safetensors:fc2.weight")
//!   ensure finite(y)
//!   prove robust: forall x in linf_ball([0.1, 0.2], 0.01) => argmax(y) == 2
//! }
//! ```
//!
//! [`load_spec`] reads a file, parses it (pest grammar `axiom.pest`),
//! resolves every name, imports or builds each model (weights from
//! safetensors files, paths relative to the `.axiom` file) and turns every
//! `prove` into a VNN-LIB style [`Property`](crate::spec::Property) with
//! exact rational bounds. Every mistake is a [`SpecError`] with the line and
//! column, a hint, and a code frame; nothing panics on any input. The full
//! language is described in `docs/axiom-language.md`.
//!
//! Inside: `syntax` (grammar and syntax tree), `resolve` (names, shapes,
//! models), `pred` (conditions: evaluation, s-expressions, negation into
//! DNF), `model` (the resolved [`Spec`]), `error` ([`SpecError`]).
//!
//! ```
//! use axiom_core::lang::{parse_spec_str, Pred};
//! use std::path::Path;
//!
//! let spec = parse_spec_str(
//!     "model clamp {
//!        input x: f32[2] in [-1, 1]
//!        output y: f32[2]
//!        layer r = relu
//!        ensure finite(y)
//!        prove nonneg: forall x in domain => y[0] >= 0 and y[1] >= 0
//!      }",
//!     Path::new("clamp.axiom"),
//! )
//! .unwrap();
//! let m = &spec.models[0];
//! assert_eq!(m.graph.nodes.len(), 1);
//! assert!(m.ensures[0].pred.eval(&[0.0, 0.0], &[0.5, 1.0]));
//! let ob = &m.proves[0];
//! assert_eq!(ob.pred.as_ref().unwrap().to_sexpr(), "(and (>= (idx y 0) 0) (>= (idx y 1) 0))");
//! let prop = ob.property.as_ref().unwrap();
//! assert_eq!(prop.cases.len(), 1);
//! assert_eq!(prop.cases[0].output.len(), 2); // y0 < 0 or y1 < 0
//! ```

mod ast;
mod error;
mod model;
mod pred;
mod resolve;
mod syntax;

pub use error::{Span, SpecError, SpecErrorInfo, SpecErrorKind};
pub use model::{Assume, Ensure, IoDecl, ModelSpec, NamedRegion, Obligation, Region, Spec};
pub use pred::{CmpOp, IoRef, LinExpr, Pred, Term, MAX_VIOLATION_DISJUNCTS};
pub use resolve::LAYER_KINDS;
pub use syntax::MAX_NESTING;

use std::path::Path;
use std::sync::Arc;

/// Reads, parses and resolves the `.axiom` file at `path`: imports or builds
/// every model, loads weights and VNN-LIB files (relative to the file's
/// folder), checks names, shapes and indices, and derives each obligation's
/// property.
///
/// Errors: [`SpecErrorKind::MissingFile`] when the file cannot be read, and
/// everything [`parse_spec_str`] reports.
pub fn load_spec(path: &Path) -> Result<Spec, SpecError> {
    let bytes = crate::read_file(path).map_err(|e| {
        SpecError::whole_file(
            SpecErrorKind::MissingFile,
            path,
            format!("cannot read: {e}"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        SpecError::whole_file(
            SpecErrorKind::Syntax,
            path,
            format!(
                "the file is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    parse_spec_str(&text, path)
}

/// Parses and resolves `.axiom` text as if read from `path`: relative paths
/// in it are resolved against `path`'s folder, and errors name `path`.
pub fn parse_spec_str(source: &str, path: &Path) -> Result<Spec, SpecError> {
    let shared: Arc<str> = Arc::from(source);
    let index = error::LineIndex::new(source);
    let attach = |e: SpecError| e.in_source(path, &shared);
    let file = syntax::parse_file(source, &index).map_err(attach)?;
    let models = resolve::Resolver::new(path, source, &index)
        .file(&file)
        .map_err(attach)?;
    Ok(Spec {
        path: path.to_path_buf(),
        source: source.to_string(),
        models,
    })
}
