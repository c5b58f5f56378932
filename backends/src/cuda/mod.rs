//! The CUDA backend (feature `cuda`): graphs run on an NVIDIA GPU through
//! cudarc — cuBLAS for `Gemm` and `Conv2d` (im2col + GEMM), NVRTC-compiled
//! kernels for everything else — plus batched interval bound propagation
//! on the GPU ([`CudaIbp`]).
//!
//! # Discovery that never panics
//!
//! cudarc loads `libcuda`, `libcublas` and `libnvrtc` at run time
//! (`dynamic-loading`), so this crate builds without CUDA installed; but
//! cudarc *panics* the first time it needs a library it cannot find. So
//! [`probe`] first opens each library itself (with `libloading`, trying the
//! same file names cudarc will try) and returns the reason when one is
//! missing; only then does it initialise the device, create the cuBLAS
//! handle and compile the kernels, all inside `catch_unwind` as a second
//! line of defence. The outcome (the device or the reason) is computed
//! once per process. [`CudaBackend::new`] and
//! [`crate::backend_by_name`]`("cuda")` turn a failed probe into
//! [`BackendError::Unavailable`] with that reason.
//!
//! # Running a graph
//!
//! [`CudaBackend::compile`](crate::Backend::compile) validates the graph,
//! uploads every constant once (as `f32` and as `f64`) and plans the live
//! nodes as the CPU backend does. A batch is cut into chunks whose
//! intermediate values fit a device-memory budget (a quarter of the free
//! memory at start-up, at most [`MAX_BUDGET_BYTES`]); each chunk is copied
//! in, run node by node on one stream (each value freed after its last
//! reader), and copied out. Runs of one process share the device and are
//! serialised. cuBLAS runs in its pedantic math mode: no TF32 and no
//! reduced-precision reductions, so `f32` products are IEEE binary32.
//!
//! Semantics are the CPU backend's, kernel for kernel (see `kernels.rs`);
//! results differ from the CPU's only by the summation order of GEMMs (the
//! parity tests bound the difference). A graph with an op the backend
//! cannot run, or with an empty intermediate value, is refused at compile
//! time with [`BackendError::Other`].

mod ibp;
pub(crate) mod kernels;
mod model;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cudarc::cublas::{CudaBlas, Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DevicePtrMut,
    DeviceRepr, LaunchConfig, ValidAsZeroBits,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};

use crate::{Backend, BackendError, CompiledModel};

pub use ibp::{ibp_batch, CudaIbp};

/// The most device memory one run's intermediate values may take.
pub const MAX_BUDGET_BYTES: usize = 4 << 30;

/// The CUDA backend: runs graphs on GPU 0 (set `CUDA_VISIBLE_DEVICES` to pick
/// another).
#[derive(Clone)]
pub struct CudaBackend {
    device: Arc<Device>,
    budget_bytes: usize,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("device", &self.device.description)
            .finish()
    }
}

impl CudaBackend {
    /// The backend on this machine's first GPU, or
    /// [`BackendError::Unavailable`] saying why there is none (no driver, no
    /// device, a missing CUDA library, kernels that do not compile).
    pub fn new() -> Result<Self, BackendError> {
        device()
            .map(|device| CudaBackend {
                budget_bytes: device.budget_bytes,
                device,
            })
            .map_err(|reason| BackendError::Unavailable {
                backend: "cuda".into(),
                reason,
            })
    }

    /// The device in words (name, compute capability, memory, driver).
    pub fn description(&self) -> &str {
        &self.device.description
    }

    /// The same backend with another bound on the device memory one run's
    /// intermediate values take (models compiled afterwards cut batches into
    /// smaller chunks); at least one sample always runs at a time.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.budget_bytes = bytes;
        self
    }

    /// The current bound on one run's device memory, in bytes.
    pub fn memory_budget(&self) -> usize {
        self.budget_bytes
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn compile(&self, graph: &axiom_core::Graph) -> Result<Box<dyn CompiledModel>, BackendError> {
        let device = self.device.clone();
        let budget = self.budget_bytes;
        guarded("compiling a model", move || {
            Ok(Box::new(model::CudaModel::new(device, graph, budget)?) as Box<dyn CompiledModel>)
        })
    }
}

/// Whether this machine can run the CUDA backend: the device in words, or
/// why not. Never panics; the first call initialises the device (and
/// compiles the kernels), later calls return the same answer.
///
/// ```
/// match axiom_backends::cuda::probe() {
///     Ok(device) => println!("cuda: {device}"),
///     Err(reason) => println!("cuda unavailable: {reason}"),
/// }
/// ```
pub fn probe() -> Result<String, String> {
    device().map(|d| d.description.clone())
}

/// The process-wide device, initialised on first use.
pub(crate) fn device() -> Result<Arc<Device>, String> {
    static DEVICE: OnceLock<Result<Arc<Device>, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            probe_libraries()?;
            match catch_unwind(Device::init) {
                Ok(result) => result.map(Arc::new),
                Err(panic) => Err(format!(
                    "the CUDA libraries failed during initialisation ({}); check that the \
                     NVIDIA driver supports the CUDA libraries found (CUDA 12 or later)",
                    panic_message(&*panic)
                )),
            }
        })
        .clone()
}

/// The libraries cudarc needs, by cudarc's library name, with what to tell a
/// person who lacks one.
const LIBRARIES: [(&str, &[&str], &str); 3] = [
    (
        "the NVIDIA driver library (libcuda)",
        &["cuda", "nvcuda"],
        "install the NVIDIA driver, or run on a machine with an NVIDIA GPU",
    ),
    (
        "cuBLAS (libcublas)",
        &["cublas"],
        "install cuBLAS of CUDA 12 (libcublas.so.12: the CUDA toolkit, or the \
         libcublas12 / nvidia-cublas-cu12 package) or of a later CUDA with its unversioned \
         libcublas.so (the toolkit has it), and put its folder on LD_LIBRARY_PATH",
    ),
    (
        "NVRTC (libnvrtc)",
        &["nvrtc"],
        "install NVRTC of CUDA 12 (libnvrtc.so.12: the CUDA toolkit, or the \
         libnvrtc12 / nvidia-cuda-nvrtc-cu12 package) or of a later CUDA with its unversioned \
         libnvrtc.so (the toolkit has it), and put its folder on LD_LIBRARY_PATH",
    ),
];

/// Opens each library cudarc will open, by the file names cudarc tries, so
/// that a missing one is an error here rather than a panic inside cudarc.
fn probe_libraries() -> Result<(), String> {
    for (what, names, fix) in LIBRARIES {
        let candidates: Vec<String> = names
            .iter()
            .flat_map(|n| cudarc::get_lib_name_candidates(n))
            .collect();
        // SAFETY: loading a shared library runs its initialisers; these are
        // the NVIDIA libraries cudarc itself would load next.
        let found = candidates
            .iter()
            .any(|name| unsafe { libloading::Library::new(name) }.is_ok());
        if !found {
            // The usual names of the first library shown, the rest counted.
            let mut all: Vec<&str> = candidates.iter().map(String::as_str).collect();
            all.sort_unstable();
            all.dedup();
            let usual = format!(
                "{}{}{}",
                std::env::consts::DLL_PREFIX,
                names[0],
                std::env::consts::DLL_SUFFIX
            );
            let mut shown: Vec<&str> = all
                .iter()
                .copied()
                .filter(|n| *n == usual || n.starts_with(&format!("{usual}.")))
                .collect();
            if shown.is_empty() {
                shown = all.iter().copied().take(3).collect();
            }
            return Err(format!(
                "{what} was not found (tried {} and {} other names on the library path): {fix}",
                shown.join(", "),
                all.len() - shown.len()
            ));
        }
    }
    Ok(())
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// Runs `f`, turning a panic inside cudarc into [`BackendError::Other`].
pub(crate) fn guarded<R>(
    what: &str,
    f: impl FnOnce() -> Result<R, BackendError>,
) -> Result<R, BackendError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => Err(BackendError::Other(format!(
            "CUDA backend: {what} failed inside the CUDA libraries: {}",
            panic_message(&*panic)
        ))),
    }
}

/// A CUDA error while doing `what`.
pub(crate) fn cuda_err(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Other(format!("CUDA backend: {what}: {e}"))
}

/// The forward kernels of one float type.
pub(crate) struct ForwardKernels {
    pub bias_rows: CudaFunction,
    pub channel_bias: CudaFunction,
    pub relu: CudaFunction,
    pub sigmoid: CudaFunction,
    pub tanh: CudaFunction,
    pub binary: CudaFunction,
    pub batchnorm: CudaFunction,
    pub im2col: CudaFunction,
    pub maxpool: CudaFunction,
    pub avgpool: CudaFunction,
    pub softmax: CudaFunction,
    pub add_into: CudaFunction,
    pub concat_part: CudaFunction,
    pub gather: CudaFunction,
}

/// The interval kernels (`f32`).
pub(crate) struct IbpKernels {
    pub pad: CudaFunction,
    pub box_sum: CudaFunction,
    pub affine: CudaFunction,
    pub relu: CudaFunction,
    pub sum: CudaFunction,
}

/// One GPU, ready: its context and stream, a cuBLAS handle, the kernels.
pub(crate) struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub blas: CudaBlas,
    pub f32k: ForwardKernels,
    pub f64k: ForwardKernels,
    pub ibp: IbpKernels,
    pub description: String,
    /// Bytes one run's intermediate values may take.
    pub budget_bytes: usize,
    /// Serialises the work of all models on this device.
    lock: Mutex<()>,
}

impl Device {
    /// Initialises GPU 0. Call only after [`probe_libraries`] succeeded.
    fn init() -> Result<Device, String> {
        let count = CudaContext::device_count().map_err(|e| {
            format!("the CUDA driver cannot start ({e}): check the NVIDIA driver installation")
        })?;
        if count < 1 {
            return Err("the NVIDIA driver is installed but reports no CUDA device".into());
        }
        let ctx = CudaContext::new(0).map_err(|e| format!("cannot open CUDA device 0: {e}"))?;
        let name = ctx.name().unwrap_or_else(|_| "unnamed device".into());
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| format!("cannot query CUDA device 0: {e}"))?;
        let (free, total) = ctx
            .mem_get_info()
            .map_err(|e| format!("cannot query the memory of CUDA device 0: {e}"))?;
        let mut driver = 0i32;
        // SAFETY: writes one integer through a valid pointer.
        let driver = match unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut driver) }.result()
        {
            Ok(()) => format!(", driver {}.{}", driver / 1000, (driver % 1000) / 10),
            Err(_) => String::new(),
        };
        let description = format!(
            "{name} (device 0 of {count}, compute capability {major}.{minor}, {:.1} GiB{driver})",
            total as f64 / f64::from(1u32 << 30)
        );
        let stream = ctx.default_stream();
        // SAFETY: every buffer and kernel of this backend uses this one
        // stream, so stream order alone orders every access; no slice is
        // shared with another stream.
        unsafe { ctx.disable_event_tracking() };
        let blas =
            CudaBlas::new(stream.clone()).map_err(|e| format!("cannot start cuBLAS: {e}"))?;
        // SAFETY: sets a mode on the handle we own.
        let mode = unsafe {
            cudarc::cublas::sys::cublasSetMathMode(
                *blas.handle(),
                cudarc::cublas::sys::cublasMath_t::CUBLAS_PEDANTIC_MATH,
            )
        };
        mode.result()
            .map_err(|e| format!("cannot set cuBLAS's pedantic math mode: {e}"))?;
        let f32_module = load(&ctx, &kernels::forward_source(false), "axiom_forward_f32")?;
        let f64_module = load(&ctx, &kernels::forward_source(true), "axiom_forward_f64")?;
        let ibp_module = load(&ctx, kernels::IBP_SOURCE, "axiom_ibp")?;
        let forward = |module: &Arc<CudaModule>, sfx: &str| -> Result<ForwardKernels, String> {
            let f = |name: &str| function(module, &format!("{name}_{sfx}"));
            Ok(ForwardKernels {
                bias_rows: f("bias_rows")?,
                channel_bias: f("channel_bias")?,
                relu: f("relu")?,
                sigmoid: f("sigmoid")?,
                tanh: f("tanh_act")?,
                binary: f("binary")?,
                batchnorm: f("batchnorm")?,
                im2col: f("im2col")?,
                maxpool: f("maxpool")?,
                avgpool: f("avgpool")?,
                softmax: f("softmax")?,
                add_into: f("add_into")?,
                concat_part: f("concat_part")?,
                gather: f("gather")?,
            })
        };
        let f32k = forward(&f32_module, "f32")?;
        let f64k = forward(&f64_module, "f64")?;
        let ibp = IbpKernels {
            pad: function(&ibp_module, "ibp_pad")?,
            box_sum: function(&ibp_module, "ibp_box_sum")?,
            affine: function(&ibp_module, "ibp_affine")?,
            relu: function(&ibp_module, "ibp_relu")?,
            sum: function(&ibp_module, "ibp_sum")?,
        };
        Ok(Device {
            ctx,
            stream,
            blas,
            f32k,
            f64k,
            ibp,
            description,
            budget_bytes: (free / 4).clamp(64 << 20, MAX_BUDGET_BYTES),
            lock: Mutex::new(()),
        })
    }

    /// Exclusive use of the device for one run.
    pub fn lock(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock was caught and reported; the device
        // itself holds no state the lock protects.
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the stream and reports any error recorded asynchronously.
    pub fn sync(&self) -> Result<(), BackendError> {
        self.stream
            .synchronize()
            .map_err(|e| cuda_err("waiting for the GPU", e))?;
        self.ctx
            .check_err()
            .map_err(|e| cuda_err("an earlier GPU operation", e))
    }

    /// A zeroed device buffer of `len` values.
    pub fn zeros<T: DeviceRepr + ValidAsZeroBits>(
        &self,
        len: usize,
    ) -> Result<CudaSlice<T>, BackendError> {
        self.stream
            .alloc_zeros(len)
            .map_err(|e| cuda_err(&format!("allocating {len} values"), e))
    }

    /// `host` copied to a new device buffer.
    pub fn upload<T: DeviceRepr>(&self, host: &[T]) -> Result<CudaSlice<T>, BackendError> {
        self.stream
            .clone_htod(host)
            .map_err(|e| cuda_err("copying to the GPU", e))
    }

    /// A device buffer copied back (after the stream has finished it).
    pub fn download<T: DeviceRepr>(&self, dev: &CudaSlice<T>) -> Result<Vec<T>, BackendError> {
        let v = self
            .stream
            .clone_dtoh(dev)
            .map_err(|e| cuda_err("copying from the GPU", e))?;
        self.sync()?;
        Ok(v)
    }
}

/// Compiles CUDA C++ with NVRTC and loads it on `ctx`.
fn load(ctx: &Arc<CudaContext>, src: &str, name: &str) -> Result<Arc<CudaModule>, String> {
    let opts = CompileOptions {
        ftz: Some(false),
        prec_sqrt: Some(true),
        prec_div: Some(true),
        fmad: Some(false),
        name: Some(format!("{name}.cu")),
        ..Default::default()
    };
    let ptx = compile_ptx_with_opts(src, opts)
        .map_err(|e| format!("NVRTC cannot compile the {name} kernels: {e}"))?;
    ctx.load_module(ptx)
        .map_err(|e| format!("cannot load the {name} kernels on the GPU: {e}"))
}

fn function(module: &Arc<CudaModule>, name: &str) -> Result<CudaFunction, String> {
    module
        .load_function(name)
        .map_err(|e| format!("kernel {name} is missing: {e}"))
}

/// Threads per block of every launch.
const BLOCK: u32 = 256;
/// The most blocks a launch uses (kernels loop over the rest).
const MAX_BLOCKS: u64 = 1 << 16;

/// A launch covering `n` items with a grid-stride loop; `n > 0`.
pub(crate) fn grid(n: usize) -> LaunchConfig {
    let blocks = (n as u64).div_ceil(u64::from(BLOCK)).clamp(1, MAX_BLOCKS);
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `v` as a cuBLAS dimension.
pub(crate) fn int(v: usize) -> Result<i32, BackendError> {
    i32::try_from(v).map_err(|_| {
        BackendError::Other(format!(
            "CUDA backend: dimension {v} is beyond cuBLAS's 32-bit range"
        ))
    })
}

/// The float types the device computes in.
pub(crate) trait DevReal:
    DeviceRepr + ValidAsZeroBits + Copy + Default + Send + Sync + num_traits::Float + 'static
{
    /// The forward kernels of this type.
    fn kernels(device: &Device) -> &ForwardKernels;
    fn from_f32(v: f32) -> Self;
    fn from_f64(v: f64) -> Self;

    /// cuBLAS GEMM in this type.
    ///
    /// # Safety
    /// The buffers must hold the matrices `cfg` describes.
    unsafe fn gemm<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
        blas: &CudaBlas,
        cfg: GemmConfig<Self>,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<(), BackendError>;

    /// cuBLAS strided batched GEMM in this type.
    ///
    /// # Safety
    /// The buffers must hold the matrices `cfg` describes.
    unsafe fn gemm_batched<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
        blas: &CudaBlas,
        cfg: StridedBatchedConfig<Self>,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<(), BackendError>;
}

/// The GEMM methods of [`DevReal`] for one type.
macro_rules! gemm_methods {
    ($t:ty) => {
        unsafe fn gemm<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
            blas: &CudaBlas,
            cfg: GemmConfig<Self>,
            a: &A,
            b: &B,
            c: &mut C,
        ) -> Result<(), BackendError> {
            // SAFETY: forwarded from the caller.
            unsafe { <CudaBlas as Gemm<$t>>::gemm(blas, cfg, a, b, c) }
                .map_err(|e| cuda_err("cuBLAS GEMM", e))
        }

        unsafe fn gemm_batched<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
            blas: &CudaBlas,
            cfg: StridedBatchedConfig<Self>,
            a: &A,
            b: &B,
            c: &mut C,
        ) -> Result<(), BackendError> {
            // SAFETY: forwarded from the caller.
            unsafe { <CudaBlas as Gemm<$t>>::gemm_strided_batched(blas, cfg, a, b, c) }
                .map_err(|e| cuda_err("cuBLAS batched GEMM", e))
        }
    };
}

impl DevReal for f32 {
    fn kernels(device: &Device) -> &ForwardKernels {
        &device.f32k
    }
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    gemm_methods!(f32);
}

impl DevReal for f64 {
    fn kernels(device: &Device) -> &ForwardKernels {
        &device.f64k
    }
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    gemm_methods!(f64);
}

/// `Y = X · Wᵀ` for row-major `X` `[rows, n_in]`, `W` `[n_out, n_in]`, `Y`
/// `[rows, n_out]`: in cuBLAS's column-major terms `Yᵀ = op(W') · Xᵀ`
/// where the column-major view `W'` of `W` is `Wᵀ` (so `op` is a
/// transpose) and the views of `X` and `Y` are `Xᵀ` and `Yᵀ`.
pub(crate) fn gemm_rows<T: DevReal>(
    device: &Device,
    w: &CudaSlice<T>,
    x: &CudaSlice<T>,
    y: &mut CudaSlice<T>,
    rows: usize,
    n_in: usize,
    n_out: usize,
) -> Result<(), BackendError> {
    if x.len() < rows * n_in || y.len() < rows * n_out || w.len() < n_in * n_out {
        return Err(BackendError::Other(
            "internal error in the CUDA backend: GEMM operands too short".into(),
        ));
    }
    let cfg = GemmConfig {
        transa: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_T,
        transb: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
        m: int(n_out)?,
        n: int(rows)?,
        k: int(n_in)?,
        alpha: T::one(),
        lda: int(n_in)?,
        ldb: int(n_in)?,
        beta: T::zero(),
        ldc: int(n_out)?,
    };
    // SAFETY: the lengths were checked against the shapes above.
    unsafe { T::gemm(&device.blas, cfg, w, x, y) }
}

/// cuBLAS's throughput, in GFLOP/s, on `Y = X · Wᵀ` with `X` `[rows, n_in]`
/// and `W` `[n_out, n_in]` in `f32`, the operands already on the GPU: the
/// median of `iters` timed GEMMs (after a warm-up), each waited for. The
/// reference the forward benchmark compares its achieved GEMM throughput
/// with.
pub fn sgemm_throughput(
    rows: usize,
    n_in: usize,
    n_out: usize,
    iters: usize,
) -> Result<f64, BackendError> {
    let device = device().map_err(|reason| BackendError::Unavailable {
        backend: "cuda".into(),
        reason,
    })?;
    if rows == 0 || n_in == 0 || n_out == 0 {
        return Err(BackendError::Other("sgemm_throughput: empty shape".into()));
    }
    guarded("timing a GEMM", || {
        let _lock = device.lock();
        let w = device.upload(&vec![0.5f32; n_out * n_in])?;
        let x = device.upload(&vec![0.25f32; rows * n_in])?;
        let mut y = device.zeros::<f32>(rows * n_out)?;
        gemm_rows(&device, &w, &x, &mut y, rows, n_in, n_out)?;
        device.sync()?;
        let mut times = Vec::with_capacity(iters.max(1));
        for _ in 0..iters.max(1) {
            let t = std::time::Instant::now();
            gemm_rows(&device, &w, &x, &mut y, rows, n_in, n_out)?;
            device.sync()?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        Ok(2.0 * (rows * n_in * n_out) as f64 / median / 1e9)
    })
}
