//! # axiom-core
//!
//! The pieces every other Axiom crate shares:
//!
//! - [`graph`]: the IR — one [`Graph`](graph::Graph) type, one [`Op`](graph::Op)
//!   enum, shape inference and validation;
//! - [`digest`]: the canonical sha256 model digest;
//! - importers, each returning the IR or a typed [`Error`]: [`onnx`], [`nnet`],
//!   [`safetensors_io`] (weights by name);
//! - [`spec`] and [`vnnlib`]: the property AST and the VNN-LIB parser;
//! - [`error`]: errors with file, place and hint.
//!
//! ```
//! use axiom_core::graph::{GraphBuilder, Op};
//! use ndarray::arr2;
//!
//! let mut b = GraphBuilder::new("double", "x", vec![2]);
//! let y = b.push("fc", Op::Gemm { weight: arr2(&[[2.0, 0.0], [0.0, 2.0]]), bias: None }, b.input());
//! let g = b.finish(y).unwrap();
//! // The digest depends on the function (ops, shapes, weights), not on names.
//! assert_eq!(g.digest().to_string().len(), 64);
//! ```

pub mod digest;
pub mod error;
pub mod graph;
pub mod lang;
pub mod nnet;
pub mod onnx;
pub mod safetensors_io;
pub mod spec;
pub mod vnnlib;

pub use digest::ModelDigest;
pub use error::{Error, ErrorKind, Location, Result};
pub use graph::{Graph, GraphBuilder, Node, Op, Shape, ValueId};

use std::path::{Path, PathBuf};

/// The largest input file read (8 GiB): far above any model in use, and a
/// bound on what a hostile path can make Axiom read.
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// Reads a model, property, spec or weights file: only a regular file (a
/// device such as `/dev/zero`, a fifo or a folder would be read forever or
/// not at all) of at most [`MAX_FILE_BYTES`]. Every importer reads through
/// it; the errors are `std::io` errors with a sentence, for the caller to
/// place.
///
/// ```
/// let e = axiom_core::read_file(std::path::Path::new("/dev/zero")).unwrap_err();
/// assert!(e.to_string().contains("not a regular file"), "{e}");
/// ```
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "a device, fifo or socket"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the file is larger than {} GiB, the most Axiom reads",
                MAX_FILE_BYTES >> 30
            ),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file that grows while it is read is still bounded.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The model formats [`load_model`] understands, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    Onnx,
    Nnet,
}

impl ModelFormat {
    /// The format a path's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "onnx" => Some(ModelFormat::Onnx),
            "nnet" => Some(ModelFormat::Nnet),
            _ => None,
        }
    }
}

/// Loads a model from an `.onnx` or `.nnet` file.
pub fn load_model(path: &Path) -> Result<Graph> {
    match ModelFormat::from_path(path) {
        Some(ModelFormat::Onnx) => onnx::load(path),
        Some(ModelFormat::Nnet) => nnet::load(path),
        None => Err(Error::invalid("unknown model format")
            .in_file(path)
            .with_hint("Axiom reads .onnx and .nnet models")),
    }
}

/// The shared benchmark set (ACAS Xu, VNN-COMP tiny instances) for tests,
/// examples and benchmarks: `$AXIOM_BENCHMARKS` when set, else `default`.
/// `None`, with the reason printed, when that folder does not exist, so that
/// callers skip cleanly on a clone without it.
pub fn benchmarks_dir(default: &str) -> Option<PathBuf> {
    let dir =
        std::env::var_os("AXIOM_BENCHMARKS").map_or_else(|| PathBuf::from(default), PathBuf::from);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: benchmarks not found at {} (set AXIOM_BENCHMARKS)",
            dir.display()
        );
        None
    }
}
