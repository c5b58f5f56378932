//! `--backend` of `axiom verify` and `axiom vnncomp`: the accelerator the
//! prover's branch and bound hands its boxes to (the CUDA backend's batched
//! interval propagation), and `axiom info --backends`.

use std::sync::Arc;

use axiom_backends::BackendError;
use axiom_core::Graph;
use axiom_prover::BoxBounder;

use crate::commands::CliError;

/// The backends `--backend` accepts.
pub const NAMES: &str = "cpu, cuda";

/// Checks `--backend NAME` before any work: `cpu`, or `cuda` on a build with
/// the `cuda` feature and a machine with a GPU. `Err` (exit code 2) says why
/// not.
pub fn check_backend(name: &str) -> Result<(), CliError> {
    match name {
        "cpu" => Ok(()),
        "cuda" => axiom_backends::cuda_probe()
            .map(|_| ())
            .map_err(unavailable),
        other => Err(CliError::Backend(BackendError::Other(format!(
            "unknown backend '{other}'; known backends: {NAMES}"
        )))),
    }
}

fn unavailable(reason: String) -> CliError {
    CliError::Backend(BackendError::Unavailable {
        backend: "cuda".into(),
        reason,
    })
}

/// The accelerator for `graph` on backend `name` (checked by
/// [`check_backend`]): `None` for `cpu`. A model the GPU's interval
/// propagation cannot take (an op other than Gemm, ReLU, constant
/// Add/Sub/Mul, Sum, Concat, Transpose, constant Pad and reshapes) gets
/// `None` and a note on stderr: the search runs on the CPU.
pub fn box_bounder(name: &str, graph: &Graph) -> Result<Option<Arc<dyn BoxBounder>>, CliError> {
    match name {
        "cuda" => cuda_box_bounder(graph),
        _ => Ok(None),
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_box_bounder(_graph: &Graph) -> Result<Option<Arc<dyn BoxBounder>>, CliError> {
    Err(unavailable(
        axiom_backends::cuda_probe().err().unwrap_or_default(),
    ))
}

#[cfg(feature = "cuda")]
fn cuda_box_bounder(graph: &Graph) -> Result<Option<Arc<dyn BoxBounder>>, CliError> {
    use axiom_backends::cuda::CudaIbp;
    use axiom_backends::ibp::IbpNetwork;

    let net = match IbpNetwork::from_graph(graph) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("note: --backend cuda: {e}; the search bounds every box on the CPU");
            return Ok(None);
        }
    };
    let description = axiom_backends::cuda_probe().map_err(unavailable)?;
    let ibp = CudaIbp::new(&net)?;
    Ok(Some(Arc::new(CudaBoxes {
        ibp,
        description: format!("cuda: {description}"),
        input_len: net.input_len(),
        output_len: net.output_len(),
    })))
}

/// The GPU's batched interval propagation as the prover's accelerator.
#[cfg(feature = "cuda")]
struct CudaBoxes {
    ibp: axiom_backends::cuda::CudaIbp,
    description: String,
    input_len: usize,
    output_len: usize,
}

#[cfg(feature = "cuda")]
impl std::fmt::Debug for CudaBoxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBoxes")
            .field("device", &self.description)
            .finish()
    }
}

#[cfg(feature = "cuda")]
impl BoxBounder for CudaBoxes {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn input_len(&self) -> usize {
        self.input_len
    }

    fn output_len(&self) -> usize {
        self.output_len
    }

    fn output_bounds(
        &self,
        lower: ndarray::ArrayView2<f64>,
        upper: ndarray::ArrayView2<f64>,
    ) -> Result<(ndarray::Array2<f64>, ndarray::Array2<f64>), String> {
        self.ibp
            .bounds(lower, upper)
            .map(|b| (b.lower, b.upper))
            .map_err(|e| e.to_string())
    }
}

/// `axiom info --backends --format json`: every backend, available or not.
#[derive(Debug, serde::Serialize)]
pub struct BackendsInfo {
    kind: &'static str,
    backends: Vec<BackendInfo>,
}

/// One backend: available with the device, or unavailable with the reason.
#[derive(Debug, serde::Serialize)]
pub struct BackendInfo {
    name: &'static str,
    available: bool,
    /// The device (`cpu`: its threads) when available, else the reason.
    detail: String,
}

/// The backends this build can use on this machine.
pub fn backends_info() -> BackendsInfo {
    let backends = axiom_backends::available_backends()
        .into_iter()
        .map(|(name, status)| match (name, status) {
            ("cuda", Ok(())) => BackendInfo {
                name,
                available: true,
                detail: axiom_backends::cuda_probe().unwrap_or_default(),
            },
            ("cpu", Ok(())) => BackendInfo {
                name,
                available: true,
                detail: format!(
                    "{} threads",
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                ),
            },
            (name, Ok(())) => BackendInfo {
                name,
                available: true,
                detail: String::new(),
            },
            (name, Err(reason)) => BackendInfo {
                name,
                available: false,
                detail: reason,
            },
        })
        .collect();
    BackendsInfo {
        kind: "backends",
        backends,
    }
}

/// `axiom info --backends`: one line per backend, `available` with the
/// device or `unavailable` with the reason.
pub fn print_backends() {
    for b in backends_info().backends {
        match (b.available, b.detail.is_empty()) {
            (true, false) => println!("{:<5} available: {}", b.name, b.detail),
            (true, true) => println!("{:<5} available", b.name),
            (false, _) => println!("{:<5} unavailable: {}", b.name, b.detail),
        }
    }
}
