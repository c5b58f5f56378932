//! CUDA C++ sources of the backend's kernels, compiled at run time by NVRTC.
//!
//! [`forward_source`] is one template compiled twice, for `float` and for
//! `double` (kernel names end in `_f32` / `_f64`); [`IBP_SOURCE`] holds the
//! `f32` interval kernels. Every kernel is a grid-stride loop over 64-bit
//! indices, so a launch covers any size with a bounded grid. Each kernel
//! mirrors one step of the CPU backend (`cpu.rs`) operation for operation —
//! same formulas, same summation order inside a window or a softmax lane —
//! so the two backends differ only where the GEMM summation order does.
//! The programs are compiled with `--fmad=false` (no contraction of `a * b +
//! c` into an FMA, as Rust does not contract either) and without
//! flush-to-zero.

/// The forward kernels for `real` = `float` (`double_precision` false) or
/// `double`.
pub(crate) fn forward_source(double_precision: bool) -> String {
    let prelude = if double_precision {
        "typedef double real;\n\
         #define SFX(name) name##_f64\n\
         #define R_EXP(x) exp(x)\n\
         #define R_TANH(x) tanh(x)\n\
         #define R_NEG_INF (-__longlong_as_double(0x7ff0000000000000LL))\n"
    } else {
        "typedef float real;\n\
         #define SFX(name) name##_f32\n\
         #define R_EXP(x) expf(x)\n\
         #define R_TANH(x) tanhf(x)\n\
         #define R_NEG_INF (-__int_as_float(0x7f800000))\n"
    };
    format!("{prelude}{FORWARD_BODY}")
}

const FORWARD_BODY: &str = r#"
typedef unsigned long long u64;

#define GRID_LOOP(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (u64)blockDim.x * gridDim.x)

// y[row, j] += bias[j] for a [rows, n] row-major matrix.
extern "C" __global__ void SFX(bias_rows)(real* y, const real* bias, u64 rows, u64 n) {
    GRID_LOOP(i, rows * n) { y[i] = y[i] + bias[i % n]; }
}

// y[.., ch, inner] += bias[ch] for a [.., channels, inner] tensor.
extern "C" __global__ void SFX(channel_bias)(real* y, const real* bias, u64 total,
                                             u64 channels, u64 inner) {
    GRID_LOOP(i, total) { y[i] = y[i] + bias[(i / inner) % channels]; }
}

// `v < 0 ? 0 : v`, so that NaN stays NaN (as the CPU backend).
extern "C" __global__ void SFX(relu)(real* y, u64 n) {
    GRID_LOOP(i, n) {
        real v = y[i];
        if (v < (real)0) { y[i] = (real)0; }
    }
}

// The numerically stable logistic function of the CPU backend.
extern "C" __global__ void SFX(sigmoid)(real* y, u64 n) {
    GRID_LOOP(i, n) {
        real v = y[i];
        if (v >= (real)0) {
            y[i] = (real)1 / ((real)1 + R_EXP(-v));
        } else {
            real e = R_EXP(v);
            y[i] = e / ((real)1 + e);
        }
    }
}

extern "C" __global__ void SFX(tanh_act)(real* y, u64 n) {
    GRID_LOOP(i, n) { y[i] = R_TANH(y[i]); }
}

// y[i] = y[i] + x[i]: one term of a Sum, added in order ((a + b) + c ...).
extern "C" __global__ void SFX(add_into)(real* y, const real* x, u64 n) {
    GRID_LOOP(i, n) { y[i] = y[i] + x[i]; }
}

// One input of a Concat: x is [outer, block] (n = outer * block scalars), y
// is [outer, out_block]; row o of x goes to y[o, offset .. offset + block].
extern "C" __global__ void SFX(concat_part)(real* y, const real* x, u64 n, u64 block,
                                            u64 out_block, u64 offset) {
    GRID_LOOP(i, n) { y[(i / block) * out_block + offset + i % block] = x[i]; }
}

// Transpose and Pad as a gather (a copy, exact): output element j of row b
// (j = i % sample_out) is x[b * sample_x + src[j]], or `value` where src[j]
// is all ones (padding). src is the CPU-built table of `crate::layout`.
extern "C" __global__ void SFX(gather)(real* y, const real* x, const u64* src, u64 total,
                                       u64 sample_out, u64 sample_x, real value) {
    GRID_LOOP(i, total) {
        u64 s = src[i % sample_out];
        y[i] = s == ~0ULL ? value : x[(i / sample_out) * sample_x + s];
    }
}

// out = f(x, c) with numpy broadcasting. The output is [batch, dims...]
// (rank `rank` per sample, `sample_out` scalars per sample); x has
// `sample_x` scalars per sample and per-sample strides `xstr` (0 on
// broadcast axes); the constant has strides `cstr` and no batch axis.
// op: 0 add, 1 sub, 2 mul, 3 div.
extern "C" __global__ void SFX(binary)(real* out, const real* x, const real* c, u64 total,
                                       u64 sample_out, u64 sample_x, const u64* dims,
                                       const u64* xstr, const u64* cstr, int rank, int op) {
    GRID_LOOP(i, total) {
        u64 b = i / sample_out;
        u64 rem = i % sample_out;
        u64 xo = b * sample_x;
        u64 co = 0;
        for (int d = rank - 1; d >= 0; --d) {
            u64 idx = rem % dims[d];
            rem /= dims[d];
            xo += idx * xstr[d];
            co += idx * cstr[d];
        }
        real a = x[xo];
        real k = c[co];
        real r;
        if (op == 0) { r = a + k; }
        else if (op == 1) { r = a - k; }
        else if (op == 2) { r = a * k; }
        else { r = a / k; }
        out[i] = r;
    }
}

// y = (v - mean[ch]) * factor[ch] + bias[ch] over [.., channels, inner].
extern "C" __global__ void SFX(batchnorm)(real* y, const real* factor, const real* mean,
                                          const real* bias, u64 total, u64 channels,
                                          u64 inner) {
    GRID_LOOP(i, total) {
        u64 ch = (i / inner) % channels;
        real t = y[i] - mean[ch];
        real p = t * factor[ch];
        y[i] = p + bias[ch];
    }
}

// col[img][ch][ki][kj][oy][ox] = x[img][ch][oy*sh + ki*dh - pt][ox*sw + kj*dw - pl], 0 in
// the padding: per image and group, the [C/group * kH * kW, OH * OW] matrix of the
// CPU backend's im2col.
extern "C" __global__ void SFX(im2col)(const real* x, real* col, u64 images, u64 c, u64 h,
                                       u64 w, u64 kh, u64 kw, u64 oh, u64 ow, u64 sh, u64 sw,
                                       u64 pt, u64 pl, u64 dh, u64 dw) {
    u64 total = images * c * kh * kw * oh * ow;
    GRID_LOOP(i, total) {
        u64 t = i;
        u64 ox = t % ow; t /= ow;
        u64 oy = t % oh; t /= oh;
        u64 kj = t % kw; t /= kw;
        u64 ki = t % kh; t /= kh;
        u64 ch = t % c;
        u64 img = t / c;
        u64 iy = oy * sh + ki * dh;
        u64 ix = ox * sw + kj * dw;
        real v = (real)0;
        if (iy >= pt && iy - pt < h && ix >= pl && ix - pl < w) {
            v = x[((img * c + ch) * h + (iy - pt)) * w + (ix - pl)];
        }
        col[i] = v;
    }
}

// The in-bounds input rows [lo, hi) of output row o along an axis of length len
// (empty when the window lies in the padding), as the CPU backend's Pool::window.
__device__ void pool_window(u64 o, u64 stride, u64 kernel, u64 pad, u64 len, u64* lo, u64* hi) {
    u64 start = o * stride;
    u64 end = start + kernel;
    u64 a = (start > pad ? start : pad) - pad;
    if (a > len) { a = len; }
    u64 e = end < pad + len ? end : pad + len;
    u64 b = e > pad ? e - pad : 0;
    if (b < a) { b = a; }
    *lo = a;
    *hi = b;
}

// Max pooling over planes of [h, w]; padding never wins; NaN wins.
extern "C" __global__ void SFX(maxpool)(const real* x, real* y, u64 planes, u64 h, u64 w,
                                        u64 oh, u64 ow, u64 kh, u64 kw, u64 sh, u64 sw, u64 pt,
                                        u64 pl) {
    GRID_LOOP(i, planes * oh * ow) {
        u64 ox = i % ow;
        u64 oy = (i / ow) % oh;
        u64 p = i / (ow * oh);
        u64 r0, r1, c0, c1;
        pool_window(oy, sh, kh, pt, h, &r0, &r1);
        pool_window(ox, sw, kw, pl, w, &c0, &c1);
        const real* plane = x + p * h * w;
        real m = R_NEG_INF;
        for (u64 r = r0; r < r1; ++r) {
            for (u64 q = c0; q < c1; ++q) {
                real v = plane[r * w + q];
                if (v > m || v != v) { m = v; }
            }
        }
        y[i] = m;
    }
}

// Average pooling; sums in row-major window order as the CPU backend.
extern "C" __global__ void SFX(avgpool)(const real* x, real* y, u64 planes, u64 h, u64 w,
                                        u64 oh, u64 ow, u64 kh, u64 kw, u64 sh, u64 sw, u64 pt,
                                        u64 pl, int count_include_pad) {
    GRID_LOOP(i, planes * oh * ow) {
        u64 ox = i % ow;
        u64 oy = (i / ow) % oh;
        u64 p = i / (ow * oh);
        u64 r0, r1, c0, c1;
        pool_window(oy, sh, kh, pt, h, &r0, &r1);
        pool_window(ox, sw, kw, pl, w, &c0, &c1);
        const real* plane = x + p * h * w;
        real sum = (real)0;
        for (u64 r = r0; r < r1; ++r) {
            for (u64 q = c0; q < c1; ++q) {
                sum = sum + plane[r * w + q];
            }
        }
        u64 count = count_include_pad ? kh * kw : (r1 - r0) * (c1 - c0);
        y[i] = count == 0 ? (real)0 : sum / (real)count;
    }
}

// Softmax along the middle axis of [outer, len, inner], one thread per lane:
// max (NaN never wins, as the CPU's fold), exp(v - max), sum in order, divide.
extern "C" __global__ void SFX(softmax)(real* y, u64 outer, u64 len, u64 inner) {
    GRID_LOOP(l, outer * inner) {
        u64 o = l / inner;
        u64 in = l % inner;
        real* base = y + o * len * inner + in;
        real m = R_NEG_INF;
        for (u64 k = 0; k < len; ++k) {
            real v = base[k * inner];
            if (v > m) { m = v; }
        }
        for (u64 k = 0; k < len; ++k) {
            base[k * inner] = R_EXP(base[k * inner] - m);
        }
        real s = (real)0;
        for (u64 k = 0; k < len; ++k) { s = s + base[k * inner]; }
        for (u64 k = 0; k < len; ++k) { base[k * inner] = base[k * inner] / s; }
    }
}
"#;

/// The `f32` interval kernels (center/radius form; see `crate::ibp` for the
/// formulas and their proof). `flags[b]` is set to 1 when box `b` meets a
/// non-finite value.
pub(crate) const IBP_SOURCE: &str = r#"
typedef unsigned long long u64;

#define GRID_LOOP(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (u64)blockDim.x * gridDim.x)

// True for finite values, false for infinities and NaN.
__device__ bool finite32(float v) { return fabsf(v) <= 3.40282346638528859812e+38f; }

// q = r + gamma * |c|, rounded up ([boxes, n], elementwise).
extern "C" __global__ void ibp_pad(const float* c, const float* r, float* q, u64 total,
                                   float gamma) {
    GRID_LOOP(i, total) { q[i] = __fmaf_ru(gamma, fabsf(c[i]), r[i]); }
}

// s[b] = sum_j (|c[b, j]| + q[b, j]), rounded up; one thread per box.
extern "C" __global__ void ibp_box_sum(const float* c, const float* q, float* s, u64 boxes,
                                       u64 n) {
    GRID_LOOP(b, boxes) {
        float acc = 0.0f;
        for (u64 j = 0; j < n; ++j) {
            acc = __fadd_ru(acc, __fadd_ru(fabsf(c[b * n + j]), q[b * n + j]));
        }
        s[b] = acc;
    }
}

// In place over [boxes, m]: cw holds fl(W c) and becomes c' = fl(W c + b);
// sq holds fl(|W| q) and becomes
// r' = inv * S + rel * |c'| + tiny * (w1 + s_b + count), every operation rounded up.
extern "C" __global__ void ibp_affine(float* cw, float* sq, const float* bias, const float* w1,
                                      const float* s, unsigned int* flags, u64 boxes, u64 m,
                                      float inv, float rel, float tiny, float count) {
    GRID_LOOP(k, boxes * m) {
        u64 i = k % m;
        u64 b = k / m;
        float cc = cw[k] + bias[i];
        float spread = __fmul_ru(inv, sq[k]);
        float round = __fmul_ru(rel, fabsf(cc));
        float under = __fmul_ru(tiny, __fadd_ru(__fadd_ru(w1[i], s[b]), count));
        float rr = __fadd_ru(__fadd_ru(spread, round), under);
        cw[k] = cc;
        sq[k] = rr;
        if (!finite32(cc) || !finite32(rr)) { flags[b] = 1u; }
    }
}

// One term of a Sum in place over [boxes, n]: c = c + c2 (to nearest),
// r = up(up(r + r2) + up(up(rel * |c|) + lambda)).
extern "C" __global__ void ibp_sum(float* c, float* r, const float* c2, const float* r2,
                                   unsigned int* flags, u64 total, u64 n, float rel,
                                   float lambda) {
    GRID_LOOP(k, total) {
        float s = c[k] + c2[k];
        float round = __fadd_ru(__fmul_ru(rel, fabsf(s)), lambda);
        float rr = __fadd_ru(__fadd_ru(r[k], r2[k]), round);
        c[k] = s;
        r[k] = rr;
        if (!finite32(s) || !finite32(rr)) { flags[k / n] = 1u; }
    }
}

// ReLU in place over [boxes, n]: [max(down(c - r), 0), max(up(c + r), 0)] re-centred.
extern "C" __global__ void ibp_relu(float* c, float* r, unsigned int* flags, u64 total, u64 n) {
    GRID_LOOP(k, total) {
        float cv = c[k];
        float rv = r[k];
        if (!finite32(cv) || !finite32(rv)) {
            flags[k / n] = 1u;
        } else {
            float lo = __fadd_rd(cv, -rv);
            float hi = __fadd_ru(cv, rv);
            lo = lo < 0.0f ? 0.0f : lo;
            hi = hi < 0.0f ? 0.0f : hi;
            float mid = 0.5f * lo + 0.5f * hi;
            float a = __fadd_ru(hi, -mid);
            float d = __fadd_ru(mid, -lo);
            c[k] = mid;
            r[k] = a > d ? a : d;
        }
    }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel `Device::init` loads is defined in its source.
    #[test]
    fn sources_define_every_kernel() {
        for name in [
            "bias_rows",
            "channel_bias",
            "relu",
            "sigmoid",
            "tanh_act",
            "binary",
            "batchnorm",
            "im2col",
            "maxpool",
            "avgpool",
            "softmax",
            "add_into",
            "concat_part",
            "gather",
        ] {
            let def = format!("__global__ void SFX({name})(");
            assert!(forward_source(false).contains(&def), "{name}");
            assert!(forward_source(true).contains("typedef double real;"));
        }
        for name in [
            "ibp_pad",
            "ibp_box_sum",
            "ibp_affine",
            "ibp_relu",
            "ibp_sum",
        ] {
            assert!(
                IBP_SOURCE.contains(&format!("__global__ void {name}(")),
                "{name}"
            );
        }
    }
}
