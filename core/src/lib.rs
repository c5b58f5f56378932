//! # axiom-core
//!
//! The pieces every other Axiom crate shares:
//!
//! - [`graph`]: the IR — one [`Graph`](graph::Graph) type, one [`Op`](graph::Op)
//!   enum, shape inference and validation;
//! - [`digest`]: the canonical sha256 model digest;
//! - [`maxpool`]: max pooling rewritten with ReLUs, for the bound methods;
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
pub mod maxpool;
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
/// not at all) of at most [`MAX_FILE_BYTES`]. A `.gz` file (VNN-COMP ships
/// `.onnx.gz` and `.vnnlib.gz`) is decompressed transparently, to at most
/// [`MAX_FILE_BYTES`] as well (a gzip bomb stops there). Every importer
/// reads through it; the errors are `std::io` errors with a sentence, for
/// the caller to place.
///
/// ```
/// let e = axiom_core::read_file(std::path::Path::new("/dev/zero")).unwrap_err();
/// assert!(e.to_string().contains("not a regular file"), "{e}");
/// ```
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let bytes = read_raw_file(path)?;
    if is_gzip_name(path) {
        gunzip(&bytes)
    } else {
        Ok(bytes)
    }
}

/// Whether the file name ends in `.gz` (any case).
fn is_gzip_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Decompresses gzip `bytes` (several members too), to at most
/// [`MAX_FILE_BYTES`].
fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            let why = if e.kind() == ErrorKind::UnexpectedEof {
                "the compressed data ends early: the file is truncated".to_string()
            } else {
                format!("the file is not valid gzip ({e}): it is damaged, or not compressed despite its .gz name")
            };
            Error::new(ErrorKind::InvalidData, why)
        })?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the file decompresses to more than {} GiB, the most Axiom reads",
                MAX_FILE_BYTES >> 30
            ),
        ));
    }
    Ok(out)
}

/// The extension that names a file's format, lowercased, looking through a
/// trailing `.gz`: `net.onnx.gz` is `onnx`, `prop.VNNLIB` is `vnnlib`.
///
/// ```
/// use std::path::Path;
/// assert_eq!(axiom_core::format_extension(Path::new("a/net.onnx.gz")).as_deref(), Some("onnx"));
/// assert_eq!(axiom_core::format_extension(Path::new("p.VNNLIB")).as_deref(), Some("vnnlib"));
/// assert_eq!(axiom_core::format_extension(Path::new("x.gz")), None);
/// ```
pub fn format_extension(path: &Path) -> Option<String> {
    let path = if is_gzip_name(path) {
        Path::new(path.file_stem()?)
    } else {
        path
    };
    Some(path.extension()?.to_str()?.to_ascii_lowercase())
}

/// The bytes of a file as they are on disk (a `.gz` file is not
/// decompressed), with [`read_file`]'s guards: a regular file of at most
/// [`MAX_FILE_BYTES`]. For digests that must match `sha256sum FILE`.
pub fn read_raw_file(path: &Path) -> std::io::Result<Vec<u8>> {
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
    /// The format a path's extension names (through a `.gz`), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match format_extension(path)?.as_str() {
            "onnx" => Some(ModelFormat::Onnx),
            "nnet" => Some(ModelFormat::Nnet),
            _ => None,
        }
    }
}

/// Loads a model from an `.onnx` or `.nnet` file, either gzipped (`.gz`).
pub fn load_model(path: &Path) -> Result<Graph> {
    match ModelFormat::from_path(path) {
        Some(ModelFormat::Onnx) => onnx::load(path),
        Some(ModelFormat::Nnet) => nnet::load(path),
        None => Err(Error::invalid("unknown model format")
            .in_file(path)
            .with_hint("Axiom reads .onnx and .nnet models, also gzipped (.onnx.gz)")),
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
