//! Runtime `ensure` checks: a guard around any backend's compiled model that
//! evaluates every `ensure` of a `.axiom` model on every inference and stops
//! at the first violation, naming the `ensure`, its line, and the sample's
//! input and output.
//!
//! The guard wraps a [`CompiledModel`], so every backend (the CUDA backend
//! too) gets the same checks. The predicates are evaluated on the outputs the
//! backend computed (float32 outputs widened exactly to f64).
//!
//! ```
//! use axiom_ml::backends::{Backend, CpuBackend};
//! use axiom_ml::core::lang::parse_spec_str;
//! use axiom_ml::ensure::{GuardError, GuardedModel};
//! use ndarray::array;
//! # let dir = tempfile::tempdir().unwrap();
//! # let spec_path = dir.path().join("m.axiom");
//! # let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/xor.onnx");
//! let text = format!(
//!     "model xor {{\n from onnx \"{}\"\n input x: f32[2]\n output y: f32[1]\n ensure y[0] <= 0.5\n}}\n",
//!     models.display()
//! );
//! let spec = parse_spec_str(&text, &spec_path).unwrap();
//! let guarded = GuardedModel::from_spec(&CpuBackend, &spec.models[0]).unwrap();
//! // XOR(0, 0) = 0 meets the ensure; XOR(1, 0) = 1 breaks it.
//! assert!(guarded.run_f32(array![[0.0f32, 0.0]].view()).is_ok());
//! match guarded.run_f32(array![[0.0f32, 0.0], [1.0, 0.0]].view()) {
//!     Err(GuardError::Violation(v)) => {
//!         assert_eq!((v.sample, v.line), (1, 5));
//!         assert_eq!(v.ensure, "ensure y[0] <= 0.5");
//!     }
//!     other => panic!("expected a violation, got {other:?}"),
//! }
//! ```

use axiom_backends::{Backend, BackendError, CompiledModel};
use axiom_core::lang::{Ensure, ModelSpec};
use ndarray::{Array2, ArrayView2};

/// An `ensure` that did not hold on one sample of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsureViolation {
    /// The `ensure` as written.
    pub ensure: String,
    /// Where it is written (1-based).
    pub line: usize,
    pub col: usize,
    /// The sample's row in the batch.
    pub sample: usize,
    pub input: Vec<f64>,
    pub output: Vec<f64>,
}

impl std::fmt::Display for EnsureViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (line {}, column {}) is violated on sample {}: input {:?}, output {:?}",
            self.ensure, self.line, self.col, self.sample, self.input, self.output
        )
    }
}

/// Why a guarded run stopped.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("ensure violated: {0}")]
    Violation(Box<EnsureViolation>),
}

/// A compiled model with the `ensure`s of its `.axiom` declaration checked
/// on every inference.
pub struct GuardedModel {
    model: Box<dyn CompiledModel>,
    ensures: Vec<Ensure>,
}

impl GuardedModel {
    /// Wraps an already compiled model.
    pub fn new(model: Box<dyn CompiledModel>, ensures: Vec<Ensure>) -> Self {
        GuardedModel { model, ensures }
    }

    /// Compiles a declared model on `backend` with its `ensure`s.
    pub fn from_spec(backend: &dyn Backend, spec: &ModelSpec) -> Result<Self, BackendError> {
        Ok(GuardedModel::new(
            backend.compile(&spec.graph)?,
            spec.ensures.clone(),
        ))
    }

    /// The wrapped model.
    pub fn model(&self) -> &dyn CompiledModel {
        self.model.as_ref()
    }

    /// Runs a batch in float32 and checks every `ensure` on every sample.
    pub fn run_f32(&self, inputs: ArrayView2<'_, f32>) -> Result<Array2<f32>, GuardError> {
        let out = self.model.run_f32(inputs)?;
        self.check(inputs.mapv(f64::from).view(), out.mapv(f64::from).view())?;
        Ok(out)
    }

    /// Runs a batch in float64 and checks every `ensure` on every sample.
    pub fn run_f64(&self, inputs: ArrayView2<'_, f64>) -> Result<Array2<f64>, GuardError> {
        let out = self.model.run_f64(inputs)?;
        self.check(inputs, out.view())?;
        Ok(out)
    }

    fn check(&self, x: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Result<(), GuardError> {
        for (sample, (xr, yr)) in x.rows().into_iter().zip(y.rows()).enumerate() {
            let (xv, yv) = (xr.to_vec(), yr.to_vec());
            if let Some(e) = self.ensures.iter().find(|e| !e.pred.eval(&xv, &yv)) {
                return Err(GuardError::Violation(Box::new(EnsureViolation {
                    ensure: e.text.clone(),
                    line: e.span.line,
                    col: e.span.col,
                    sample,
                    input: xv,
                    output: yv,
                })));
            }
        }
        Ok(())
    }
}
