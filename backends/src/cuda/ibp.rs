//! Interval bound propagation on the GPU, in `f32`: the formula and proof of
//! [`crate::ibp`], with cuBLAS GEMMs for `W c` and `|W| q` and NVRTC kernels
//! for the directed-rounding steps.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, PushKernelArg};
use ndarray::{Array2, ArrayView2, Axis};

use super::{cuda_err, device, gemm_rows, grid, guarded, Device};
use crate::ibp::{
    abs_row_sums, check_boxes, f32_up, finish_bounds, AffineMargins, IbpLayer, IbpNetwork,
    IntervalBatch,
};
use crate::BackendError;

/// An affine layer's constants on the device.
struct Affine {
    weight: CudaSlice<f32>,
    abs_weight: CudaSlice<f32>,
    bias: CudaSlice<f32>,
    /// Row sums of `|W|`, rounded up.
    abs_row_sums: CudaSlice<f32>,
    n_in: usize,
    n_out: usize,
    /// `γ`, `1/(1-γ)`, `u/(1-u)`, `8λ`, `3n+1`, each rounded up to `f32`.
    margins: [f32; 5],
}

/// One layer on the device.
enum Layer {
    Affine(Box<Affine>),
    Relu,
    /// An earlier value again.
    Load(usize),
    /// The sum of earlier values, left to right.
    Sum(Vec<usize>),
    /// Earlier values concatenated in `outer` blocks.
    Concat {
        values: Vec<usize>,
        outer: usize,
    },
}

/// What one chunk of boxes ends with: output centers and radii
/// (`[boxes, output_len]`) and a flag per box that met a non-finite value.
struct ChunkBounds {
    c: Vec<f32>,
    r: Vec<f32>,
    flags: Vec<u32>,
}

/// An [`IbpNetwork`] uploaded to the GPU, ready to bound batches of boxes
/// in `f32` with the margins of [`crate::ibp`] (sound for the exact network).
///
/// ```no_run
/// use axiom_backends::cuda::CudaIbp;
/// use axiom_backends::ibp::{IbpLayer, IbpNetwork};
/// use ndarray::{arr1, arr2};
///
/// let net = IbpNetwork::new(2, vec![
///     IbpLayer::Affine { weight: arr2(&[[1.0, -1.0]]), bias: arr1(&[0.0]) },
///     IbpLayer::Relu,
/// ])?;
/// let gpu = CudaIbp::new(&net)?;
/// let b = gpu.bounds(arr2(&[[0.0, 0.0]]).view(), arr2(&[[1.0, 1.0]]).view())?;
/// assert!(b.lower[[0, 0]] <= 0.0 && b.upper[[0, 0]] >= 1.0);
/// # Ok::<(), axiom_backends::BackendError>(())
/// ```
pub struct CudaIbp {
    device: Arc<Device>,
    layers: Vec<Layer>,
    input_len: usize,
    output_len: usize,
    /// The widest value (sizes the per-box buffers).
    max_width: usize,
    /// The width of every value (0 the input, `i + 1` layer `i`'s output).
    widths: Vec<usize>,
    /// Per value: the last layer that reads it by number, if any.
    last_reads: Vec<Option<usize>>,
    /// `u/(1-u)` and `λ` of `f32`, for sums (rounded up).
    sum_margins: [f32; 2],
}

impl Drop for CudaIbp {
    fn drop(&mut self) {
        // As for compiled models: the buffers are freed on this thread.
        // (bind_to_thread first reports, and clears, an earlier recorded
        // error; then it binds.)
        if self.device.ctx.bind_to_thread().is_err() {
            let _ = self.device.ctx.bind_to_thread();
        }
    }
}

/// Refuses to compute bounds when the environment may make cuBLAS use TF32
/// products, which the margins do not cover.
fn check_tf32_override() -> Result<(), BackendError> {
    match std::env::var("NVIDIA_TF32_OVERRIDE") {
        Ok(v) if v.trim() != "0" => Err(BackendError::Other(format!(
            "GPU interval bounds assume IEEE float32 products; NVIDIA_TF32_OVERRIDE={v} \
             could allow TF32: unset it or set it to 0"
        ))),
        _ => Ok(()),
    }
}

impl CudaIbp {
    /// Uploads `net` to the GPU ([`BackendError::Unavailable`] when there is
    /// none).
    pub fn new(net: &IbpNetwork) -> Result<Self, BackendError> {
        check_tf32_override()?;
        let device = device().map_err(|reason| BackendError::Unavailable {
            backend: "cuda".into(),
            reason,
        })?;
        guarded("uploading an interval network", || {
            let _lock = device.lock();
            let mut layers = Vec::new();
            let widths = net.widths();
            let max_width = widths.iter().copied().max().unwrap_or(1).max(1);
            for layer in net.layers() {
                layers.push(match layer {
                    IbpLayer::Relu => Layer::Relu,
                    IbpLayer::Load { value } => Layer::Load(*value),
                    IbpLayer::Sum { values } => Layer::Sum(values.clone()),
                    IbpLayer::Concat { values, outer } => Layer::Concat {
                        values: values.clone(),
                        outer: *outer,
                    },
                    IbpLayer::Affine { weight, bias } => {
                        let (n_out, n_in) = weight.dim();
                        let w: Vec<f32> = weight.iter().copied().collect();
                        let wabs: Vec<f32> = w.iter().map(|v| v.abs()).collect();
                        let b: Vec<f32> = bias.iter().copied().collect();
                        let sums: Vec<f32> = abs_row_sums(weight).into_iter().map(f32_up).collect();
                        let k = AffineMargins::f32(n_in);
                        Layer::Affine(Box::new(Affine {
                            weight: device.upload(&w)?,
                            abs_weight: device.upload(&wabs)?,
                            bias: device.upload(&b)?,
                            abs_row_sums: device.upload(&sums)?,
                            n_in,
                            n_out,
                            margins: [
                                f32_up(k.gamma),
                                f32_up(k.inv_one_minus_gamma),
                                f32_up(k.rel),
                                f32_up(k.tiny),
                                f32_up(k.count),
                            ],
                        }))
                    }
                });
            }
            device.sync()?;
            let k = AffineMargins::f32(1);
            Ok(CudaIbp {
                device: device.clone(),
                layers,
                input_len: net.input_len(),
                output_len: net.output_len(),
                max_width,
                widths,
                last_reads: net.last_named_reads(),
                sum_margins: [f32_up(k.rel), f32_up(k.lambda())],
            })
        })
    }

    /// Bounds of the network's outputs over every box (a row of `lower` and
    /// `upper`); see [`crate::ibp::ibp_cpu`] for the errors and the meaning
    /// of the result.
    pub fn bounds(
        &self,
        lower: ArrayView2<'_, f64>,
        upper: ArrayView2<'_, f64>,
    ) -> Result<IntervalBatch, BackendError> {
        check_tf32_override()?;
        check_boxes(self.input_len, &lower, &upper)?;
        let batch = lower.nrows();
        let mut c_out = Array2::<f64>::zeros((batch, self.output_len));
        let mut r_out = Array2::<f64>::zeros((batch, self.output_len));
        let mut bad = vec![false; batch];
        if batch == 0 {
            return Ok(finish_bounds(&c_out, &r_out, &bad));
        }
        // c, r, q, W c, |W| q per box, plus the box sum and flag, plus the
        // centers and radii of the values kept for later layers.
        let kept: usize = self
            .last_reads
            .iter()
            .zip(&self.widths)
            .filter(|(last, _)| last.is_some())
            .map(|(_, w)| w)
            .sum();
        let per_box = 4 * (5 * self.max_width + 2 + 2 * kept);
        let by_index = (i32::MAX as usize) / self.max_width;
        let chunk = (self.device.budget_bytes / per_box).min(by_index).max(1);
        guarded("bounding a batch", || {
            let _lock = self.device.lock();
            let chunks = lower
                .axis_chunks_iter(Axis(0), chunk)
                .zip(upper.axis_chunks_iter(Axis(0), chunk))
                .zip(c_out.axis_chunks_iter_mut(Axis(0), chunk))
                .zip(r_out.axis_chunks_iter_mut(Axis(0), chunk))
                .zip(bad.chunks_mut(chunk));
            for ((((l, u), mut c_rows), mut r_rows), bad_rows) in chunks {
                let out = self.run_chunk(l, u)?;
                for (dst, src) in c_rows.iter_mut().zip(&out.c) {
                    *dst = f64::from(*src);
                }
                for (dst, src) in r_rows.iter_mut().zip(&out.r) {
                    *dst = f64::from(*src);
                }
                for (dst, &f) in bad_rows.iter_mut().zip(&out.flags) {
                    *dst = f != 0;
                }
            }
            Ok(())
        })?;
        Ok(finish_bounds(&c_out, &r_out, &bad))
    }

    /// One chunk of boxes: the output centers, radii and flags.
    fn run_chunk(
        &self,
        lower: ArrayView2<'_, f64>,
        upper: ArrayView2<'_, f64>,
    ) -> Result<ChunkBounds, BackendError> {
        let dev = &*self.device;
        let k = &dev.ibp;
        let boxes = lower.nrows();
        let n0 = self.input_len;
        let mut c = vec![0f32; boxes * n0];
        let mut r = vec![0f32; boxes * n0];
        let mut flags = vec![0u32; boxes];
        for (b, (lrow, urow)) in lower.outer_iter().zip(upper.outer_iter()).enumerate() {
            for (j, (&l, &h)) in lrow.iter().zip(&urow).enumerate() {
                let (cv, rv) = if l.is_finite() && h.is_finite() {
                    let cv = (0.5 * l + 0.5 * h) as f32;
                    let cd = f64::from(cv);
                    (cv, f32_up((h - cd).next_up().max((cd - l).next_up())))
                } else {
                    (f32::NAN, f32::NAN)
                };
                if cv.is_finite() && rv.is_finite() {
                    c[b * n0 + j] = cv;
                    r[b * n0 + j] = rv;
                } else {
                    flags[b] = 1;
                }
            }
        }
        let mut c = dev.upload(&c)?;
        let mut r = dev.upload(&r)?;
        let mut flags = dev.upload(&flags)?;
        let launch_err = |e| cuda_err("launching an interval kernel", e);
        /// A value's centers and radii, while a later layer reads it.
        type Kept = Option<(CudaSlice<f32>, CudaSlice<f32>)>;
        fn kept_value(
            kept: &[Kept],
            v: usize,
        ) -> Result<&(CudaSlice<f32>, CudaSlice<f32>), BackendError> {
            kept.get(v).and_then(Option::as_ref).ok_or_else(|| {
                BackendError::Other(format!(
                    "internal error in the CUDA backend: interval value {v} is not kept"
                ))
            })
        }
        let copy = |x: &CudaSlice<f32>| {
            dev.stream
                .clone_dtod(x)
                .map_err(|e| cuda_err("copying an interval value", e))
        };
        // Values a later layer reads by number: copies, kept until their last reader.
        let mut kept: Vec<Kept> = (0..self.last_reads.len()).map(|_| None).collect();
        if self.last_reads[0].is_some() {
            kept[0] = Some((copy(&c)?, copy(&r)?));
        }
        for (li, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Load(v) => {
                    let (kc, kr) = kept_value(&kept, *v)?;
                    c = copy(kc)?;
                    r = copy(kr)?;
                }
                Layer::Sum(values) => {
                    let (first, rest) = values
                        .split_first()
                        .ok_or_else(|| BackendError::Other("IBP: a Sum of no value".into()))?;
                    let (kc, kr) = kept_value(&kept, *first)?;
                    c = copy(kc)?;
                    r = copy(kr)?;
                    let total = c.len();
                    let (t64, n64) = (total as u64, (total / boxes) as u64);
                    let [rel, lambda] = &self.sum_margins;
                    for v in rest {
                        let (vc, vr) = kept_value(&kept, *v)?;
                        if vc.len() != total || vr.len() != total {
                            return Err(BackendError::Other(
                                "internal error in the CUDA backend: Sum of values of other widths"
                                    .into(),
                            ));
                        }
                        let mut l = dev.stream.launch_builder(&k.sum);
                        l.arg(&mut c)
                            .arg(&mut r)
                            .arg(vc)
                            .arg(vr)
                            .arg(&mut flags)
                            .arg(&t64)
                            .arg(&n64)
                            .arg(rel)
                            .arg(lambda);
                        // SAFETY: c, r, vc and vr are [boxes, n], flags has
                        // `boxes` entries.
                        unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                    }
                }
                Layer::Concat { values, outer } => {
                    let width: usize = values.iter().map(|&v| self.widths[v]).sum();
                    let out_block = (width / outer) as u64;
                    let mut cc = dev.zeros::<f32>(boxes * width)?;
                    let mut rr = dev.zeros::<f32>(boxes * width)?;
                    let mut offset = 0u64;
                    for &v in values {
                        let (vc, vr) = kept_value(&kept, v)?;
                        let n = boxes * self.widths[v];
                        let block = (self.widths[v] / outer) as u64;
                        if vc.len() != n || vr.len() != n {
                            return Err(BackendError::Other(
                                "internal error in the CUDA backend: Concat operand width".into(),
                            ));
                        }
                        let n64 = n as u64;
                        for (dst, src) in [(&mut cc, vc), (&mut rr, vr)] {
                            // The forward pass's f32 copy kernel (exact).
                            let mut l = dev.stream.launch_builder(&dev.f32k.concat_part);
                            l.arg(dst)
                                .arg(src)
                                .arg(&n64)
                                .arg(&block)
                                .arg(&out_block)
                                .arg(&offset);
                            // SAFETY: src is [boxes * outer, block], dst is
                            // [boxes * outer, out_block], offset + block <= out_block.
                            unsafe { l.launch(grid(n)) }.map_err(launch_err)?;
                        }
                        offset += block;
                    }
                    c = cc;
                    r = rr;
                }
                Layer::Relu => {
                    let total = c.len();
                    let (t64, n64) = (total as u64, (total / boxes) as u64);
                    let mut l = dev.stream.launch_builder(&k.relu);
                    l.arg(&mut c)
                        .arg(&mut r)
                        .arg(&mut flags)
                        .arg(&t64)
                        .arg(&n64);
                    // SAFETY: c and r are [boxes, n], flags has `boxes` entries.
                    unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                }
                Layer::Affine(affine) => {
                    let Affine {
                        weight,
                        abs_weight,
                        bias,
                        abs_row_sums,
                        n_in,
                        n_out,
                        margins: [gamma, inv, rel, tiny, count],
                    } = &**affine;
                    let (n_in, n_out) = (*n_in, *n_out);
                    let total = boxes * n_in;
                    let mut q = dev.zeros::<f32>(total)?;
                    let mut s = dev.zeros::<f32>(boxes)?;
                    let (t64, b64, n64, m64) =
                        (total as u64, boxes as u64, n_in as u64, n_out as u64);
                    let mut l = dev.stream.launch_builder(&k.pad);
                    l.arg(&c).arg(&r).arg(&mut q).arg(&t64).arg(gamma);
                    // SAFETY: c, r and q are [boxes, n_in].
                    unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                    let mut l = dev.stream.launch_builder(&k.box_sum);
                    l.arg(&c).arg(&q).arg(&mut s).arg(&b64).arg(&n64);
                    // SAFETY: c and q are [boxes, n_in], s has `boxes` entries.
                    unsafe { l.launch(grid(boxes)) }.map_err(launch_err)?;
                    let mut cw = dev.zeros::<f32>(boxes * n_out)?;
                    let mut sq = dev.zeros::<f32>(boxes * n_out)?;
                    gemm_rows(dev, weight, &c, &mut cw, boxes, n_in, n_out)?;
                    gemm_rows(dev, abs_weight, &q, &mut sq, boxes, n_in, n_out)?;
                    let mut l = dev.stream.launch_builder(&k.affine);
                    l.arg(&mut cw)
                        .arg(&mut sq)
                        .arg(bias)
                        .arg(abs_row_sums)
                        .arg(&s)
                        .arg(&mut flags)
                        .arg(&b64)
                        .arg(&m64)
                        .arg(inv)
                        .arg(rel)
                        .arg(tiny)
                        .arg(count);
                    // SAFETY: cw and sq are [boxes, n_out]; bias and the row
                    // sums have n_out entries, s and flags `boxes`.
                    unsafe { l.launch(grid(boxes * n_out)) }.map_err(launch_err)?;
                    c = cw;
                    r = sq;
                }
            }
            // Free what this layer read last; keep its output if read by number.
            for (v, last) in self.last_reads.iter().enumerate() {
                if *last == Some(li) {
                    kept[v] = None;
                }
            }
            if self.last_reads[li + 1].is_some() {
                kept[li + 1] = Some((copy(&c)?, copy(&r)?));
            }
        }
        let c = dev.download(&c)?;
        let r = dev.download(&r)?;
        let flags = dev.download(&flags)?;
        if c.len() != boxes * self.output_len || r.len() != c.len() {
            return Err(BackendError::Other(
                "internal error in the CUDA backend: interval output has the wrong length".into(),
            ));
        }
        Ok(ChunkBounds { c, r, flags })
    }
}

/// Bounds of `net`'s outputs over every box (a row of `lower`/`upper`),
/// computed on the GPU: [`CudaIbp::new`] then [`CudaIbp::bounds`]. Keep a
/// [`CudaIbp`] to bound many batches with one upload of the weights.
pub fn ibp_batch(
    net: &IbpNetwork,
    lower: ArrayView2<'_, f64>,
    upper: ArrayView2<'_, f64>,
) -> Result<IntervalBatch, BackendError> {
    CudaIbp::new(net)?.bounds(lower, upper)
}
