//! Row kernels for softmax-shaped work, as the fused cross-entropy needs them: a vectorizable
//! `exp`, the max and log-sum-exp of a row (with its shifted exponentials, if wanted), and a
//! scaled softmax row.
//!
//! The `f32` kernels are plain Rust written for LLVM's vectorizers: elementwise loops over
//! blocks of [`BLOCK`] values, and [`LANES`] side-by-side accumulators. On x86-64 they are
//! compiled three times, for the baseline (SSE2), for AVX2 with fused multiply-add and for
//! AVX-512, and the best the CPU has runs; there the row's max and min use intrinsics. With
//! AVX-512 the exponentials of a row in the usual range are written with intrinsics too
//! (`exp512.rs`: a 16-entry table in one register, a shorter polynomial). The exponentials are
//! within 1 ulp of the exact values in the portable builds and 2 in AVX-512's, so results can
//! differ between CPUs by that much; on one machine a result never depends on anything but the
//! row (not on threads, not on the caller).
//!
//! Rows shorter than [`SMALL_ROW`] take the short path: max, then `Σ exp(x - max)` with `f64`
//! exponentials (`exp::exp_f64`), many rows at a time; long `f64` rows the same one row at a time.
//!
//! The elementwise kernels (`map.rs`, over the functions of `math.rs`) are built the same way:
//! `tanh`, `sigmoid`, `exp`, `log`, `erf`, GELU, SiLU, softplus and `pow` of a slice, and the
//! one-pass gradients of the activations, compiled per instruction set and picked by
//! [`crate::cpu::isa`]; each function's doc states its error bound.

mod exp;
#[cfg(target_arch = "x86_64")]
mod exp512;
pub mod gemm;
pub(crate) mod long_dots;
mod map;
mod math;
#[cfg(test)]
mod math_tests;
pub(crate) mod transpose;
mod wide;

use exp::{exp_any, exp_f64_impl, exp_in_range};
pub(crate) use map::{backward_vec, unary_vec, with_derivative_vecs, KERNEL_BLOCK};
pub use map::{Backward, MapKernels, Unary, WithDerivative};
pub use wide::{fold_halves, map_in_place, map_into, side_by_side, wide, zip_into};

use crate::reduce::nan_max;
use crate::Float;

/// Accumulators kept side by side (one 256-bit register of `f32`).
pub const LANES: usize = 8;
/// Values handled per step of a row kernel: checked together, exponentiated together.
pub const BLOCK: usize = 64;
/// Rows shorter than this take the plain path.
pub const SMALL_ROW: usize = 16;

/// The largest and smallest values of a row; the largest is NaN if any value is.
fn row_max_min(row: &[f32]) -> (f32, f32) {
    let (mut hi, mut lo) = ([f32::NEG_INFINITY; LANES], [f32::INFINITY; LANES]);
    let mut chunks = row.chunks_exact(LANES);
    let mut has_nan = false;
    for c in &mut chunks {
        for ((h, l), &x) in hi.iter_mut().zip(&mut lo).zip(c) {
            *h = if x > *h { x } else { *h };
            *l = if x < *l { x } else { *l };
            has_nan |= x.is_nan();
        }
    }
    finish_max_min(&hi, &lo, has_nan, chunks.remainder())
}

/// The max and min from per-lane bounds, whether a NaN was seen, and the values left over.
#[inline(always)]
fn finish_max_min(hi: &[f32], lo: &[f32], has_nan: bool, rest: &[f32]) -> (f32, f32) {
    if has_nan || rest.iter().any(|x| x.is_nan()) {
        return (f32::NAN, f32::NAN);
    }
    let up = |a: f32, &b: &f32| if b > a { b } else { a };
    let down = |a: f32, &b: &f32| if b < a { b } else { a };
    let max = rest.iter().fold(hi.iter().fold(f32::NEG_INFINITY, up), up);
    (max, rest.iter().fold(lo.iter().fold(f32::INFINITY, down), down))
}

/// `(max, ln Σ exp(x - max))` of an `f32` row of at least [`SMALL_ROW`] values, and, when
/// `STORE`, `out[k] = exp(row[k] - max)`; `max_min` is the row's [`row_max_min`].
///
/// Two passes over the row, the second from cache: the max (and the min), then the
/// exponentials and their sum, per lane, block partial sums in `f32` and running sums in
/// `f64`. When every exponent is above -87 (nearly always) the exponentials take the fast
/// path, whose results are normal numbers, else the general one. A row holding NaN gives
/// `(NaN, NaN)`; one holding `+inf`, or only `-inf`, `(max, NaN)`; `out` is then left as it was.
#[inline(always)]
fn exps_and_log_sum_f32<const FMA: bool, const STORE: bool>(
    row: &[f32],
    out: &mut [f32],
    max_min: (f32, f32),
) -> (f32, f32) {
    let (max, min) = max_min;
    if max.is_nan() {
        return (f32::NAN, f32::NAN);
    }
    if max.is_infinite() {
        // A row holding +inf, or only -inf: x - max is NaN somewhere, as in PyTorch.
        return (max, f32::NAN);
    }
    let sum = if min - max >= -87.0 {
        exp_sums::<STORE>(row, out, |x| exp_in_range::<FMA>(x - max))
    } else {
        exp_sums::<STORE>(row, out, |x| exp_any::<FMA>(x - max))
    };
    (max, sum.iter().sum::<f64>().ln() as f32)
}

/// Values per step of [`exp_sums`]: four registers' worth, so that the additions do not wait
/// for each other.
const STEP: usize = 4 * LANES;

/// Per lane, `Σ exp(x)` over the row with the given `exp` (`f32` partial sums over a
/// [`BLOCK`]·4 stretch, then `f64`), writing each `exp(x)` to `out` when `STORE`. The
/// exponentials are summed straight from registers, not read back from `out`.
#[inline(always)]
fn exp_sums<const STORE: bool>(row: &[f32], out: &mut [f32], exp: impl Fn(f32) -> f32) -> [f64; LANES] {
    // Chunks of STEP values, in groups of GROUP whose f32 partial sums go into `sum` together.
    const GROUP: usize = 4 * BLOCK / STEP;
    let flush = |partial: [f32; STEP], sum: &mut [f64; LANES]| {
        for (i, s) in sum.iter_mut().enumerate() {
            *s += (0..4).map(|j| partial[i + j * LANES] as f64).sum::<f64>();
        }
    };
    // One full chunk: each exponential goes to `out` (if kept) and into its lane's sum.
    let chunk = |c: &[f32], partial: &mut [f32; STEP], out: &mut [f32]| {
        let c: &[f32; STEP] = c.try_into().expect("a chunk of STEP");
        if STORE {
            let out: &mut [f32; STEP] = out.try_into().expect("a chunk of STEP");
            for i in 0..STEP {
                out[i] = exp(c[i]);
                partial[i] += out[i];
            }
        } else {
            for i in 0..STEP {
                partial[i] += exp(c[i]);
            }
        }
    };
    let out_chunk = |k: usize| if STORE { k * STEP..(k + 1) * STEP } else { 0..0 };
    let mut sum = [0.0f64; LANES];
    let chunks = row.chunks_exact(STEP);
    let (full, rest) = (chunks.len(), chunks.remainder());
    for g in 0..full / GROUP {
        // A fixed number of chunks between flushes: the partial sums stay in registers.
        let mut partial = [0.0f32; STEP];
        for k in g * GROUP..(g + 1) * GROUP {
            let r = out_chunk(k);
            chunk(&row[k * STEP..(k + 1) * STEP], &mut partial, &mut out[r]);
        }
        flush(partial, &mut sum);
    }
    // The chunks after the last whole group, then the values after the last chunk.
    let mut partial = [0.0f32; STEP];
    for k in full / GROUP * GROUP..full {
        let r = out_chunk(k);
        chunk(&row[k * STEP..(k + 1) * STEP], &mut partial, &mut out[r]);
    }
    let done = full * STEP;
    for (i, &x) in rest.iter().enumerate() {
        let e = exp(x);
        partial[i] += e;
        if STORE {
            out[done + i] = e;
        }
    }
    flush(partial, &mut sum);
    sum
}

/// The smallest value of a block (NaN is passed over).
#[inline(always)]
fn block_min(block: &[f32]) -> f32 {
    let mut lo = [f32::INFINITY; LANES];
    let mut chunks = block.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, &x) in lo.iter_mut().zip(c) {
            *l = if x < *l { x } else { *l };
        }
    }
    for &x in chunks.remainder() {
        lo[0] = if x < lo[0] { x } else { lo[0] };
    }
    lo.iter().fold(f32::INFINITY, |a, &b| if b < a { b } else { a })
}

/// `out[k] = scale · exp((row[k] - max) - log_sum)` for an `f32` row.
#[inline(always)]
fn scaled_softmax_f32<const FMA: bool>(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
    // A row holding NaN has a NaN max, so in a finite row every exponent is at most
    // -log_sum ≤ 0: only the low end needs a check.
    let finite = max.is_finite() && log_sum.is_finite();
    for (block, out) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        if finite && (block_min(block) - max) - log_sum >= -87.0 {
            for (o, &x) in out.iter_mut().zip(block) {
                *o = scale * exp_in_range::<FMA>((x - max) - log_sum);
            }
        } else {
            for (o, &x) in out.iter_mut().zip(block) {
                *o = scale * exp_any::<FMA>((x - max) - log_sum);
            }
        }
    }
}

/// The plain path of long `f64` rows: max, then the sum of the exponentials; `out[k] =
/// exp(x - max)` when `store`.
fn exps_and_log_sum_plain<T: Float>(row: &[T], out: &mut [T], store: bool) -> (T, T) {
    let max = row.iter().copied().fold(T::neg_infinity(), nan_max);
    let mut sum = 0.0;
    for (k, &v) in row.iter().enumerate() {
        let e = (v - max).f64().exp();
        if store {
            out[k] = T::of(e);
        }
        sum += e;
    }
    (max, T::of(sum.ln()))
}

/// Rows handled together by [`short_rows_plain`]: at most this many values.
const SHORT_BATCH: usize = 256;

/// The path of short rows (fewer than [`SMALL_ROW`] values), many at once (`x` row-major, one
/// `stats` entry per row, `out` as long as `x` or empty): per row the max, then the sum of
/// `f64` exponentials in order (`f32` exponentials, even glibc's, move the seed example's loss
/// one ulp away from PyTorch's `0x3dd032f4`). The exponentials of a batch of rows are computed
/// in one loop, which keeps the vector units busy where a row of four values cannot.
#[inline(always)]
fn short_rows_plain<T: Float, const FMA: bool>(x: &[T], c: usize, stats: &mut [(T, T)], out: &mut [T]) {
    let rows_per_batch = SHORT_BATCH / c;
    let mut d = [0.0f64; SHORT_BATCH];
    for (b, (xs, st)) in x
        .chunks(rows_per_batch * c)
        .zip(stats.chunks_mut(rows_per_batch))
        .enumerate()
    {
        let d = &mut d[..xs.len()];
        let mut maxes = [T::zero(); SHORT_BATCH];
        for ((row, dr), m) in xs.chunks(c).zip(d.chunks_mut(c)).zip(maxes.iter_mut()) {
            *m = row.iter().copied().fold(T::neg_infinity(), nan_max);
            for (d, &v) in dr.iter_mut().zip(row) {
                *d = (v - *m).f64();
            }
        }
        for d in d.iter_mut() {
            *d = exp_f64_impl::<FMA>(*d);
        }
        if !out.is_empty() {
            let start = b * rows_per_batch * c;
            for (o, &e) in out[start..start + xs.len()].iter_mut().zip(d.iter()) {
                *o = T::of(e);
            }
        }
        for ((s, dr), &m) in st.iter_mut().zip(d.chunks(c)).zip(&maxes) {
            let sum = dr.iter().fold(0.0, |s, &e| s + e);
            *s = (m, T::of(sum.ln()));
        }
    }
}

fn scaled_softmax_plain<T: Float>(row: &[T], max: T, log_sum: T, scale: T, out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(row) {
        *o = scale * ((x - max) - log_sum).exp();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The same kernels compiled for AVX2 with FMA, and for AVX-512; the row's max and min with
    //! intrinsics, which the compiler does not find by itself for a NaN-aware max.

    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exps_and_log_sum<const STORE: bool>(row: &[f32], out: &mut [f32]) -> (f32, f32) {
        super::exps_and_log_sum_f32::<true, STORE>(row, out, row_max_min_avx2(row))
    }

    /// [`super::row_max_min`] with two 8-wide registers per bound: `max_ps(x, hi)` keeps `hi`
    /// when `x` is NaN, so NaN is tracked on the side.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_max_min_avx2(row: &[f32]) -> (f32, f32) {
        let mut hi = [_mm256_set1_ps(f32::NEG_INFINITY); 2];
        let mut lo = [_mm256_set1_ps(f32::INFINITY); 2];
        let mut nan = [_mm256_setzero_ps(); 2];
        let mut chunks = row.chunks_exact(16);
        for c in &mut chunks {
            for j in 0..2 {
                // SAFETY: `c` holds 16 values, so 8 from `8·j` are in bounds.
                let x = unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * j)) };
                hi[j] = _mm256_max_ps(x, hi[j]);
                lo[j] = _mm256_min_ps(x, lo[j]);
                nan[j] = _mm256_or_ps(nan[j], _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            }
        }
        let lanes = |v: [__m256; 2]| {
            let mut a = [0.0f32; 16];
            // SAFETY: `a` has room for two registers.
            unsafe {
                _mm256_storeu_ps(a.as_mut_ptr(), v[0]);
                _mm256_storeu_ps(a.as_mut_ptr().add(8), v[1]);
            }
            a
        };
        let has_nan = _mm256_movemask_ps(_mm256_or_ps(nan[0], nan[1])) != 0;
        super::finish_max_min(&lanes(hi), &lanes(lo), has_nan, chunks.remainder())
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn exps_and_log_sum_512<const STORE: bool>(row: &[f32], out: &mut [f32]) -> (f32, f32) {
        let (max, min) = row_max_min_512(row);
        if max.is_finite() && min - max >= -87.0 {
            // SAFETY: the CPU has AVX-512F, every x - max is in [-87, 0], and `out` is as long
            // as `row` when stored into (checked by the caller).
            let sum = unsafe { super::exp512::exp_sums_512::<STORE>(row, out, max) };
            return (max, sum.iter().sum::<f64>().ln() as f32);
        }
        super::exps_and_log_sum_f32::<true, STORE>(row, out, (max, min))
    }

    /// [`row_max_min_avx2`] with 16-wide registers, the last values under a mask (lanes past
    /// the row read as -inf for the max, +inf for the min), and the registers reduced in
    /// them: a short row (27 values) costs no more than a few vector operations.
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn row_max_min_512(row: &[f32]) -> (f32, f32) {
        let (neg_inf, inf) = (_mm512_set1_ps(f32::NEG_INFINITY), _mm512_set1_ps(f32::INFINITY));
        let (mut hi, mut lo) = (neg_inf, inf);
        let mut nan: __mmask16 = 0;
        let mut chunks = row.chunks_exact(16);
        for c in &mut chunks {
            // SAFETY: `c` holds 16 values.
            let x = unsafe { _mm512_loadu_ps(c.as_ptr()) };
            hi = _mm512_max_ps(x, hi);
            lo = _mm512_min_ps(x, lo);
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let m = ((1u32 << rest.len()) - 1) as __mmask16;
            // SAFETY: the mask covers the `rest.len() < 16` values of `rest`; masked-off lanes
            // are not read.
            let (x_hi, x_lo) = unsafe {
                (
                    _mm512_mask_loadu_ps(neg_inf, m, rest.as_ptr()),
                    _mm512_mask_loadu_ps(inf, m, rest.as_ptr()),
                )
            };
            hi = _mm512_max_ps(x_hi, hi);
            lo = _mm512_min_ps(x_lo, lo);
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x_hi, x_hi);
        }
        if nan != 0 {
            return (f32::NAN, f32::NAN);
        }
        (_mm512_reduce_max_ps(hi), _mm512_reduce_min_ps(lo))
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn short_rows<T: crate::Float>(x: &[T], c: usize, stats: &mut [(T, T)], out: &mut [T]) {
        super::short_rows_plain::<T, true>(x, c, stats, out)
    }

    /// # Safety
    /// The CPU must support AVX-512F (with AVX2 and FMA).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn short_rows_512<T: crate::Float>(x: &[T], c: usize, stats: &mut [(T, T)], out: &mut [T]) {
        super::short_rows_plain::<T, true>(x, c, stats, out)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scaled_softmax(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
        super::scaled_softmax_f32::<true>(row, max, log_sum, scale, out)
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn scaled_softmax_512(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
        super::scaled_softmax_f32::<true>(row, max, log_sum, scale, out)
    }

    pub fn has_avx512() -> bool {
        crate::cpu::isa() >= crate::cpu::Isa::Avx512
    }

    pub fn has_avx2_fma() -> bool {
        crate::cpu::isa() >= crate::cpu::Isa::Avx2
    }
}

/// Element types with row kernels; implemented for `f32` (vectorized) and `f64` (plain).
pub trait RowKernels: Sized + Copy {
    /// `(max, ln Σ exp(x - max))` of a row: the row's log-sum-exp kept as two numbers, so that
    /// `x - max` stays exact. A row holding NaN gives `(NaN, NaN)`; one holding `+inf`, or only
    /// `-inf`, gives a NaN log-sum, as PyTorch's `log_softmax`; an empty row `(-inf, -inf)`.
    fn max_log_sum_exp(row: &[Self]) -> (Self, Self);

    /// [`max_log_sum_exp`](RowKernels::max_log_sum_exp), also writing the row's shifted
    /// exponentials `out[k] = exp(row[k] - max)` (the softmax times `Σ exp(x - max)`), so that
    /// a softmax row is later one multiplication away. When the pair is not finite (a row
    /// holding NaN or infinities), `out` is left unspecified.
    fn exps_and_log_sum(row: &[Self], out: &mut [Self]) -> (Self, Self);

    /// `out[k] = scale · exp((row[k] - max) - log_sum)`: a softmax row times `scale`, from the
    /// pair [`max_log_sum_exp`](RowKernels::max_log_sum_exp) returned.
    fn scaled_softmax(row: &[Self], max: Self, log_sum: Self, scale: Self, out: &mut [Self]);

    /// [`max_log_sum_exp`](RowKernels::max_log_sum_exp) of each row of `x` (rows of `c`
    /// values, one after the other) into `stats`, and, unless `out` is empty,
    /// [`exps_and_log_sum`](RowKernels::exps_and_log_sum)'s exponentials into `out`. The
    /// results are those of the one-row kernels; short rows are computed together.
    fn rows_exps_and_log_sum(x: &[Self], c: usize, stats: &mut [(Self, Self)], out: &mut [Self])
    where
        Self: Float,
    {
        assert!(
            stats.len() * c == x.len() && (out.is_empty() || out.len() == x.len()),
            "rows_exps_and_log_sum: {} values, {} rows of {c}, {} outputs",
            x.len(),
            stats.len(),
            out.len()
        );
        if c == 0 {
            stats.fill((Self::neg_infinity(), Self::neg_infinity()));
        } else if c < SMALL_ROW {
            short_rows(x, c, stats, out)
        } else if out.is_empty() {
            for (row, s) in x.chunks(c).zip(stats) {
                *s = Self::max_log_sum_exp(row);
            }
        } else {
            for ((row, o), s) in x.chunks(c).zip(out.chunks_mut(c)).zip(stats) {
                *s = Self::exps_and_log_sum(row, o);
            }
        }
    }
}

/// [`short_rows_plain`] compiled for the CPU's widest vectors, with fused multiply-adds where
/// it has them. With AVX-512 the `f64` exponentials go 8 at a time instead of 4, with the same
/// operations per value, so the same results: `cross_entropy_fwd_bwd/64x4` took 2.15-2.19 µs
/// with the AVX2 build and 1.98-2.05 with this one (7 December, builds in turn, three rounds).
fn short_rows<T: Float>(x: &[T], c: usize, stats: &mut [(T, T)], out: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx512() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { x86::short_rows_512(x, c, stats, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { x86::short_rows(x, c, stats, out) };
    }
    short_rows_plain::<T, false>(x, c, stats, out)
}

/// One row of fewer than [`SMALL_ROW`] values, by [`short_rows`], so that a row gives the
/// same results alone as in a batch.
fn short_row<T: Float>(row: &[T], out: &mut [T]) -> (T, T) {
    if row.is_empty() {
        return (T::neg_infinity(), T::neg_infinity());
    }
    let mut stats = [(T::zero(), T::zero())];
    short_rows(row, row.len(), &mut stats, out);
    stats[0]
}

/// The `f32` kernel with the best instructions this CPU has.
fn exps_and_log_sum_f32_dispatch<const STORE: bool>(row: &[f32], out: &mut [f32]) -> (f32, f32) {
    if row.len() < SMALL_ROW {
        return short_row(row, if STORE { out } else { &mut [] });
    }
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx512() {
        // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA).
        return unsafe { x86::exps_and_log_sum_512::<STORE>(row, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { x86::exps_and_log_sum::<STORE>(row, out) };
    }
    exps_and_log_sum_f32::<false, STORE>(row, out, row_max_min(row))
}

impl RowKernels for f32 {
    fn max_log_sum_exp(row: &[f32]) -> (f32, f32) {
        exps_and_log_sum_f32_dispatch::<false>(row, &mut [])
    }

    fn exps_and_log_sum(row: &[f32], out: &mut [f32]) -> (f32, f32) {
        assert_eq!(row.len(), out.len(), "exps_and_log_sum: row and output lengths differ");
        exps_and_log_sum_f32_dispatch::<true>(row, out)
    }

    fn scaled_softmax(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
        assert_eq!(row.len(), out.len(), "scaled_softmax: row and output lengths differ");
        if row.len() < SMALL_ROW {
            return scaled_softmax_plain(row, max, log_sum, scale, out);
        }
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx512() {
            // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA).
            return unsafe { x86::scaled_softmax_512(row, max, log_sum, scale, out) };
        }
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { x86::scaled_softmax(row, max, log_sum, scale, out) };
        }
        scaled_softmax_f32::<false>(row, max, log_sum, scale, out)
    }
}

impl RowKernels for f64 {
    fn max_log_sum_exp(row: &[f64]) -> (f64, f64) {
        if row.len() < SMALL_ROW {
            return short_row(row, &mut []);
        }
        exps_and_log_sum_plain(row, &mut [], false)
    }

    fn exps_and_log_sum(row: &[f64], out: &mut [f64]) -> (f64, f64) {
        assert_eq!(row.len(), out.len(), "exps_and_log_sum: row and output lengths differ");
        if row.len() < SMALL_ROW {
            return short_row(row, out);
        }
        exps_and_log_sum_plain(row, out, true)
    }

    fn scaled_softmax(row: &[f64], max: f64, log_sum: f64, scale: f64, out: &mut [f64]) {
        assert_eq!(row.len(), out.len(), "scaled_softmax: row and output lengths differ");
        scaled_softmax_plain(row, max, log_sum, scale, out)
    }
}

#[cfg(test)]
mod tests {
    use super::exp::tests::ulps;
    use super::*;

    #[test]
    fn rows_give_alone_what_they_give_in_a_batch() {
        let inf = f32::INFINITY;
        // Short rows (batched), and long ones (AVX-512: the next row's bounds found during
        // this row's exponentials), with rows that leave the fast path between ordinary ones.
        for c in [1, 3, 4, 15, 16, 17, 40, 100] {
            let rows = 300; // more than one batch
            let mut x: Vec<f32> = (0..rows * c).map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0).collect();
            x[c] = f32::NAN;
            x[2 * c] = inf;
            x[3 * c] = -inf;
            x[5 * c] = -1e30;
            x[7 * c + c / 2] = 200.0;
            let mut stats = vec![(0.0, 0.0); rows];
            let mut out = vec![0.0; rows * c];
            f32::rows_exps_and_log_sum(&x, c, &mut stats, &mut out);
            let mut stats_only = vec![(0.0, 0.0); rows];
            f32::rows_exps_and_log_sum(&x, c, &mut stats_only, &mut []);
            for (r, row) in x.chunks(c).enumerate() {
                let mut e = vec![0.0; c];
                let alone = f32::exps_and_log_sum(row, &mut e);
                let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                assert!(same(alone.0, stats[r].0) && same(alone.1, stats[r].1), "c {c} row {r}");
                assert!(
                    same(alone.0, stats_only[r].0) && same(alone.1, stats_only[r].1),
                    "c {c} row {r}"
                );
                if alone.1.is_finite() {
                    assert!(e.iter().zip(&out[r * c..]).all(|(&a, &b)| same(a, b)), "c {c} row {r}");
                }
                let (rmax, rlog) = reference(row);
                if rlog.is_finite() {
                    assert_eq!(alone.0 as f64, rmax);
                    assert!(
                        (alone.1 as f64 - rlog).abs() <= 1e-7 * rlog.abs().max(1.0),
                        "c {c} row {r}"
                    );
                }
            }
        }
    }

    /// Short rows, `f32` and `f64`: the AVX-512 build gives the AVX2 build's bits (the same
    /// operations per value, twice as many values per instruction).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn short_rows_give_the_same_bits_on_avx512_as_on_avx2() {
        fn check<T: Float>(x: &[T], c: usize) {
            let rows = x.len() / c;
            let run = |wide: bool| {
                let (mut stats, mut out) = (vec![(T::zero(), T::zero()); rows], vec![T::zero(); x.len()]);
                // SAFETY: called only when the CPU has AVX-512F (and so AVX2 and FMA).
                unsafe {
                    if wide {
                        x86::short_rows_512(x, c, &mut stats, &mut out)
                    } else {
                        x86::short_rows(x, c, &mut stats, &mut out)
                    }
                }
                let bits = |v: T| v.f64().to_bits();
                let stats: Vec<_> = stats.iter().map(|&(m, l)| (bits(m), bits(l))).collect();
                (stats, out.iter().map(|&v| bits(v)).collect::<Vec<_>>())
            };
            assert_eq!(run(true), run(false), "rows of {c}");
        }
        if !x86::has_avx512() {
            return;
        }
        for c in 1..SMALL_ROW {
            // More than one batch; NaN, infinities and huge values among ordinary ones.
            let mut x: Vec<f64> = (0..300 * c).map(|i| ((i * 37 % 101) as f64 - 50.0) / 9.0).collect();
            x[c] = f64::NAN;
            x[2 * c] = f64::INFINITY;
            x[3 * c] = f64::NEG_INFINITY;
            x[5 * c] = -1e30;
            x[7 * c] = 700.0;
            check(&x, c);
            check(&x.iter().map(|&v| v as f32).collect::<Vec<_>>(), c);
        }
    }

    /// The reference: max, then an `f64` sum, in `f64`.
    fn reference(row: &[f32]) -> (f64, f64) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        (max, row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln())
    }

    #[test]
    fn max_log_sum_exp_matches_f64_on_long_rows() {
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32
        };
        for len in [16, 17, 63, 64, 65, 200, 1000, 4099] {
            // Rising values make the max grow block after block: the rescaling path.
            let row: Vec<f32> = (0..len).map(|i| 20.0 * next() - 10.0 + i as f32 * 0.01).collect();
            let (max, log_sum) = f32::max_log_sum_exp(&row);
            let (rmax, rlog) = reference(&row);
            assert_eq!(max as f64, rmax);
            assert!(
                (log_sum as f64 - rlog).abs() <= 2e-7 * rlog.abs().max(1.0),
                "{len}: {log_sum} vs {rlog}"
            );
            let mut e = vec![0.0; len];
            assert_eq!(f32::exps_and_log_sum(&row, &mut e), (max, log_sum));
            // Within 2 ulp of the exact value (1 for the portable builds, 2 for AVX-512's).
            for (&e, &x) in e.iter().zip(&row) {
                let exact = ((x - max) as f64).exp() as f32;
                assert!(ulps(e, exact) <= 2, "{len}: exp({}) = {e}", x - max);
            }
            let mut p = vec![0.0; len];
            f32::scaled_softmax(&row, max, log_sum, 1.0, &mut p);
            let total: f64 = p.iter().map(|&v| v as f64).sum();
            assert!((total - 1.0).abs() < 1e-5, "{len}: softmax sums to {total}");
        }
    }

    #[test]
    fn special_rows_give_what_pytorch_gives() {
        let inf = f32::INFINITY;
        let long = |head: &[f32], fill: f32| {
            let mut row = head.to_vec();
            row.resize(100, fill);
            row
        };
        // Leading -inf (masked classes) does not matter, and their exponentials are 0.
        let (max, ls) = f32::max_log_sum_exp(&long(&[-inf; 70], 0.0));
        assert_eq!((max, ls), (0.0, (30.0f32).ln()));
        let mut e = vec![f32::NAN; 100];
        assert_eq!(f32::exps_and_log_sum(&long(&[-inf; 70], 0.0), &mut e), (max, ls));
        assert_eq!((e[0], e[69], e[70]), (0.0, 0.0, 1.0));
        // A +inf, or only -inf: NaN log-sum. A NaN: NaN for both.
        assert!(f32::max_log_sum_exp(&long(&[1.0, inf], 0.0)).1.is_nan());
        assert!(f32::max_log_sum_exp(&long(&[], -inf)).1.is_nan());
        assert!(f32::max_log_sum_exp(&long(&[2.0, f32::NAN], 0.0)).0.is_nan());
        // Huge spreads: exp underflows to 0 without harm.
        let (max, ls) = f32::max_log_sum_exp(&long(&[-1e30, 1e30], 0.0));
        assert_eq!((max, ls), (1e30, 0.0));
        // The same in the last values of a row, past its whole blocks of 16: a NaN, a +inf,
        // the max, and a min far enough below it that an exponential is subnormal.
        for len in [17, 27, 100] {
            let at = |i: usize, v: f32| {
                let mut row = vec![0.0f32; len];
                row[i] = v;
                row
            };
            assert!(f32::max_log_sum_exp(&at(len - 1, f32::NAN)).0.is_nan(), "{len}");
            assert!(f32::max_log_sum_exp(&at(len - 2, inf)).1.is_nan(), "{len}");
            assert_eq!(f32::max_log_sum_exp(&at(len - 1, 3.0)).0, 3.0, "{len}");
            let mut e = vec![0.0; len];
            f32::exps_and_log_sum(&at(len - 1, -100.0), &mut e);
            assert_eq!(e[len - 1], (-100f64).exp() as f32, "{len}");
        }
        // The plain path agrees on short rows.
        assert!(f32::max_log_sum_exp(&[1.0, inf]).1.is_nan());
        assert_eq!(f32::max_log_sum_exp(&[]), (-inf, -inf));
    }
}
