//! # axiom-backends
//!
//! Execution backends for Axiom graphs: the [`Backend`] trait, which compiles an
//! [`axiom_core::Graph`] into a [`CompiledModel`], the [`cpu`] backend
//! (ndarray, matrixmultiply kernels, rayon across the batch) and, behind the
//! `cuda` feature, the `cuda` backend (cuBLAS and NVRTC kernels through
//! cudarc, loaded at run time). [`available_backends`] says which backends
//! this build can run on this machine, and why not; [`cuda_probe`] describes
//! the GPU. [`ibp`] bounds a network's outputs over batches of input boxes
//! (on the CPU; on the GPU with `cuda::CudaIbp`).
//!
//! Graphs are defined on a single sample (their input shape is the per-sample
//! shape the model declares). A compiled model runs a *batch*: a matrix with
//! one row per sample, each row the sample flattened in row-major order.
//!
//! ```
//! use axiom_backends::backend_by_name;
//! use axiom_core::{GraphBuilder, Op};
//! use ndarray::{arr1, arr2};
//!
//! // y = relu(x · Wᵀ + b) on a sample of shape [2].
//! let mut b = GraphBuilder::new("tiny", "x", vec![2]);
//! let h = b.push(
//!     "fc",
//!     Op::Gemm { weight: arr2(&[[1.0, -1.0], [2.0, 0.5]]), bias: Some(arr1(&[0.5, -4.0])) },
//!     b.input(),
//! );
//! let y = b.push("relu", Op::Relu, h);
//! let graph = b.finish(y)?;
//!
//! let model = backend_by_name("cpu")?.compile(&graph)?;
//! assert_eq!((model.input_len(), model.output_len()), (2, 2));
//! // A batch of two samples.
//! let out = model.run_f32(arr2(&[[3.0f32, 1.0], [1.0, 2.0]]).view())?;
//! assert_eq!(out, arr2(&[[2.5, 2.5], [0.0, 0.0]]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod ibp;
mod layout;

pub use cpu::CpuBackend;

use ndarray::{Array2, ArrayView2};

/// Why a backend could not compile or run a model.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend exists but cannot be used in this build or on this machine.
    #[error("backend '{backend}' is not available: {reason}")]
    Unavailable {
        /// The backend's name (`"cuda"`).
        backend: String,
        /// Why it cannot be used, in words a person can act on.
        reason: String,
    },
    /// The input rows do not have one sample's number of scalars.
    #[error("input has {got} values per sample, the model expects {expected} (shape {shape:?})")]
    InputLength {
        /// Scalars per sample the model expects.
        expected: usize,
        /// Scalars per row of the input given.
        got: usize,
        /// The model's per-sample input shape.
        shape: Vec<usize>,
    },
    /// The graph does not validate.
    #[error("invalid model: {0}")]
    Model(#[from] axiom_core::Error),
    /// Anything else (an internal invariant broken, a device error).
    #[error("{0}")]
    Other(String),
}

/// An execution backend: prepares graphs for repeated execution.
pub trait Backend: Send + Sync {
    /// The backend's name, as `--backend` takes it (`"cpu"`).
    fn name(&self) -> &'static str;

    /// Prepares a graph for repeated execution (weights converted/uploaded once).
    ///
    /// Validates the graph first; an invalid graph gives [`BackendError::Model`].
    fn compile(&self, graph: &axiom_core::Graph) -> Result<Box<dyn CompiledModel>, BackendError>;
}

/// A graph prepared by a [`Backend`], ready to run batches.
pub trait CompiledModel: Send + Sync {
    /// Scalars per input sample (the product of the graph's input shape).
    fn input_len(&self) -> usize;

    /// Scalars per output sample.
    fn output_len(&self) -> usize;

    /// The per-sample output shape.
    fn output_shape(&self) -> &[usize];

    /// Runs a batch in float32.
    ///
    /// `inputs` is `[batch, input_len]`, each row a sample flattened row-major;
    /// returns `[batch, output_len]`, each row an output flattened row-major.
    /// Rows of the wrong length give [`BackendError::InputLength`].
    fn run_f32(&self, inputs: ArrayView2<'_, f32>) -> Result<Array2<f32>, BackendError>;

    /// Runs a batch in float64; see [`CompiledModel::run_f32`].
    fn run_f64(&self, inputs: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError>;
}

/// Every backend this crate knows, by name, with `Ok(())` when this build can
/// use it on this machine and `Err(reason)` otherwise. Never panics; asking
/// about `cuda` initialises the GPU once per process (see [`cuda_probe`]).
///
/// ```
/// let backends = axiom_backends::available_backends();
/// assert!(backends.iter().any(|(name, ok)| *name == "cpu" && ok.is_ok()));
/// assert!(backends.iter().any(|(name, _)| *name == "cuda"));
/// ```
pub fn available_backends() -> Vec<(&'static str, Result<(), String>)> {
    vec![("cpu", Ok(())), ("cuda", cuda_probe().map(|_| ()))]
}

/// The reason the CUDA backend is missing from this build.
#[cfg(not(feature = "cuda"))]
const NO_CUDA: &str = "this build has no CUDA support (build with --features cuda)";

/// The GPU the `cuda` backend would use, in words (name, compute capability,
/// memory, driver), or why there is none — for `axiom info --backends`.
/// Never panics.
///
/// ```
/// match axiom_backends::cuda_probe() {
///     Ok(device) => println!("cuda: {device}"),
///     Err(reason) => println!("cuda: unavailable: {reason}"),
/// }
/// ```
pub fn cuda_probe() -> Result<String, String> {
    #[cfg(feature = "cuda")]
    {
        cuda::probe()
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(NO_CUDA.into())
    }
}

/// The backend called `name` (`"cpu"`, `"cuda"`).
///
/// An unknown name gives [`BackendError::Other`] listing the known names; a
/// known backend this build or machine cannot use gives
/// [`BackendError::Unavailable`] with the reason.
///
/// ```
/// use axiom_backends::{backend_by_name, BackendError};
///
/// assert_eq!(backend_by_name("cpu").unwrap().name(), "cpu");
/// // Without a GPU (or without the `cuda` feature) this says why.
/// match backend_by_name("cuda") {
///     Ok(b) => assert_eq!(b.name(), "cuda"),
///     Err(e) => assert!(matches!(e, BackendError::Unavailable { .. })),
/// }
/// assert!(matches!(backend_by_name("tpu"), Err(BackendError::Other(_))));
/// ```
pub fn backend_by_name(name: &str) -> Result<Box<dyn Backend>, BackendError> {
    match name {
        "cpu" => Ok(Box::new(CpuBackend)),
        "cuda" => cuda_backend(),
        other => Err(BackendError::Other(format!(
            "unknown backend '{other}'; known backends: cpu, cuda"
        ))),
    }
}

#[cfg(feature = "cuda")]
fn cuda_backend() -> Result<Box<dyn Backend>, BackendError> {
    Ok(Box::new(cuda::CudaBackend::new()?))
}

#[cfg(not(feature = "cuda"))]
fn cuda_backend() -> Result<Box<dyn Backend>, BackendError> {
    Err(BackendError::Unavailable {
        backend: "cuda".into(),
        reason: NO_CUDA.into(),
    })
}
