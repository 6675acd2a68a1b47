//! Row kernels for softmax-shaped work, as the fused cross-entropy needs them: a vectorizable
//! `exp`, the max and log-sum-exp of a row in one pass, and a scaled softmax row.
//!
//! The `f32` kernels are plain Rust written for LLVM's vectorizers: elementwise loops over
//! blocks of [`BLOCK`] values, and [`LANES`] side-by-side accumulators. On x86-64 they are
//! compiled twice, for the baseline (SSE2) and for AVX2 with fused multiply-add, and the second
//! runs when the CPU has it. The fused build can differ from the baseline by an ulp; on one
//! machine a result never depends on anything but the row (not on threads, not on the caller).
//!
//! Rows shorter than [`SMALL_ROW`] and all `f64` rows take the plain path: max, then
//! `Σ exp(x - max)` with `f64` exponentials.

use crate::reduce::nan_max;
use crate::Float;

/// Accumulators kept side by side (one 256-bit register of `f32`).
pub const LANES: usize = 8;
/// Values handled per step of a row kernel: checked together, exponentiated together.
pub const BLOCK: usize = 64;
/// Rows shorter than this take the plain path.
pub const SMALL_ROW: usize = 16;

/// `e^x` in `f32`, within 1 ulp of [`f32::exp`] for every input (checked on all 2³² of them),
/// with its special values: NaN stays NaN, `+inf` and `x > 88.72` give `+inf`, `-inf` gives 0,
/// results below `f32::MIN_POSITIVE` are subnormal as in `f32::exp`, and `x < -103.97` gives 0.
///
/// Range reduction `e^x = 2^k · e^r` with `k = round(x·log₂e)` and `r = x - k·ln 2` (ln 2 in two
/// parts, Cody–Waite), `e^r` from the degree-6 polynomial of Cephes' `expf` on
/// `|r| ≤ ln 2 / 2` (its last coefficient, 0.5000000120, is 0.5 in `f32`), and `2^k` applied in two steps so that subnormal results come out right.
/// Branch-free, so a loop of it vectorizes.
pub fn exp_f32(x: f32) -> f32 {
    exp_any::<false>(x)
}

#[inline(always)]
fn mul_add<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `(e^r, k)` with `e^x = e^r · 2^k`, for `|x| < 2^22`.
#[inline(always)]
fn exp_reduced<const FMA: bool>(x: f32) -> (f32, i32) {
    const LN2_HI: f32 = 0.693_359_4; // ln 2 = LN2_HI + LN2_LO, LN2_HI with few bits
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer, kept in the low bits
    let t = mul_add::<FMA>(x, std::f32::consts::LOG2_E, ROUND);
    let k = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let kf = t - ROUND;
    let r = mul_add::<FMA>(kf, -LN2_LO, mul_add::<FMA>(kf, -LN2_HI, x));
    let mut p = 1.987_569_1e-4;
    p = mul_add::<FMA>(p, r, 1.398_199_9e-3);
    p = mul_add::<FMA>(p, r, 8.333_452e-3);
    p = mul_add::<FMA>(p, r, 4.166_579_6e-2);
    p = mul_add::<FMA>(p, r, 1.666_666_5e-1);
    p = mul_add::<FMA>(p, r, 0.5);
    (mul_add::<FMA>(p * r, r, r) + 1.0, k)
}

/// `e^x` for `-87 ≤ x ≤ 88`, where the result is a normal number: `2^k` goes straight into the
/// exponent bits.
#[inline(always)]
fn exp_in_range<const FMA: bool>(x: f32) -> f32 {
    let (e, k) = exp_reduced::<FMA>(x);
    f32::from_bits((e.to_bits() as i32).wrapping_add(k << 23) as u32)
}

/// `e^x` for any `x`, special values as [`f32::exp`].
#[inline(always)]
fn exp_any<const FMA: bool>(x: f32) -> f32 {
    // Past these bounds the result is inf or 0 anyway; the clamp keeps k in range.
    let clamped = x.clamp(-104.0, 89.0);
    let (e, k) = exp_reduced::<FMA>(clamped);
    let half = k >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let y = e * scale(half) * scale(k - half);
    #[allow(clippy::eq_op)]
    if x != x {
        x
    } else {
        y
    }
}

/// The largest value of a block, NaN if any value is.
#[inline(always)]
fn block_max(block: &[f32]) -> f32 {
    let mut hi = [f32::NEG_INFINITY; LANES];
    let mut chunks = block.chunks_exact(LANES);
    #[allow(clippy::eq_op)]
    let step = |hi: f32, x: f32| if x > hi || x != x { x } else { hi };
    for c in &mut chunks {
        for (h, &x) in hi.iter_mut().zip(c) {
            *h = step(*h, x);
        }
    }
    for &x in chunks.remainder() {
        hi[0] = step(hi[0], x);
    }
    hi.iter().copied().fold(f32::NEG_INFINITY, nan_max)
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

/// `(max, ln Σ exp(x - max))` of an `f32` row of at least [`SMALL_ROW`] values, reading it once.
///
/// The online normalizer, block by block: the running max `m` and the sum `s = Σ exp(x - m)`
/// of the values seen; when a block raises the max to `m'`, `s` is rescaled by `exp(m - m')`
/// before the block's exponentials are added. Sums are kept per lane, block partial sums in
/// `f32` and running sums in `f64`. Exponents below -87 are raised to -87 (`exp(-87)` is
/// `1.6e-38`): next to a sum of at least 1 that is nothing, and it keeps every exponential
/// a normal number, computed without special cases.
#[inline(always)]
fn max_log_sum_exp_f32<const FMA: bool>(row: &[f32]) -> (f32, f32) {
    let mut max = f32::NEG_INFINITY;
    let mut sum = [0.0f64; LANES];
    let mut e = [0.0f32; BLOCK];
    for block in row.chunks(BLOCK) {
        let hi = block_max(block);
        if hi.is_nan() {
            return (f32::NAN, f32::NAN);
        }
        if hi > max {
            let rescale = (max as f64 - hi as f64).exp();
            sum.iter_mut().for_each(|s| *s *= rescale);
            max = hi;
        }
        if max.is_infinite() {
            continue; // only -inf so far (nothing to add), or +inf (the result is NaN)
        }
        let e = &mut e[..block.len()];
        for (e, &x) in e.iter_mut().zip(block) {
            let d = x - max;
            *e = exp_in_range::<FMA>(if d > -87.0 { d } else { -87.0 });
        }
        let mut partial = [0.0f32; LANES];
        let mut chunks = e.chunks_exact(LANES);
        for c in &mut chunks {
            for (p, &v) in partial.iter_mut().zip(c) {
                *p += v;
            }
        }
        for (p, &v) in partial.iter_mut().zip(chunks.remainder()) {
            *p += v;
        }
        for (s, &p) in sum.iter_mut().zip(&partial) {
            *s += p as f64;
        }
    }
    if max.is_infinite() {
        // A row holding +inf, or only -inf: x - max is NaN somewhere, as in PyTorch.
        return (max, f32::NAN);
    }
    (max, sum.iter().sum::<f64>().ln() as f32)
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

/// The plain path: max, then the sum of `f64` exponentials. (`f32` exponentials, even
/// glibc's, move the seed example's loss one ulp away from PyTorch's `0x3dd032f4`.)
fn max_log_sum_exp_plain<T: Float>(row: &[T]) -> (T, T) {
    let max = row.iter().copied().fold(T::neg_infinity(), nan_max);
    let log_sum = row.iter().map(|&v| (v - max).f64().exp()).sum::<f64>().ln();
    (max, T::of(log_sum))
}

fn scaled_softmax_plain<T: Float>(row: &[T], max: T, log_sum: T, scale: T, out: &mut [T]) {
    for (o, &x) in out.iter_mut().zip(row) {
        *o = scale * ((x - max) - log_sum).exp();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The same kernels compiled for AVX2 with FMA.

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn max_log_sum_exp(row: &[f32]) -> (f32, f32) {
        super::max_log_sum_exp_f32::<true>(row)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scaled_softmax(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
        super::scaled_softmax_f32::<true>(row, max, log_sum, scale, out)
    }

    pub fn has_avx2_fma() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
}

/// Element types with row kernels; implemented for `f32` (vectorized) and `f64` (plain).
pub trait RowKernels: Sized + Copy {
    /// `(max, ln Σ exp(x - max))` of a row: the row's log-sum-exp kept as two numbers, so that
    /// `x - max` stays exact. A row holding NaN gives `(NaN, NaN)`; one holding `+inf`, or only
    /// `-inf`, gives a NaN log-sum, as PyTorch's `log_softmax`; an empty row `(-inf, -inf)`.
    fn max_log_sum_exp(row: &[Self]) -> (Self, Self);

    /// `out[k] = scale · exp((row[k] - max) - log_sum)`: a softmax row times `scale`, from the
    /// pair [`max_log_sum_exp`](RowKernels::max_log_sum_exp) returned.
    fn scaled_softmax(row: &[Self], max: Self, log_sum: Self, scale: Self, out: &mut [Self]);
}

impl RowKernels for f32 {
    fn max_log_sum_exp(row: &[f32]) -> (f32, f32) {
        if row.len() < SMALL_ROW {
            return max_log_sum_exp_plain(row);
        }
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { x86::max_log_sum_exp(row) };
        }
        max_log_sum_exp_f32::<false>(row)
    }

    fn scaled_softmax(row: &[f32], max: f32, log_sum: f32, scale: f32, out: &mut [f32]) {
        assert_eq!(row.len(), out.len(), "scaled_softmax: row and output lengths differ");
        if row.len() < SMALL_ROW {
            return scaled_softmax_plain(row, max, log_sum, scale, out);
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
        max_log_sum_exp_plain(row)
    }

    fn scaled_softmax(row: &[f64], max: f64, log_sum: f64, scale: f64, out: &mut [f64]) {
        assert_eq!(row.len(), out.len(), "scaled_softmax: row and output lengths differ");
        scaled_softmax_plain(row, max, log_sum, scale, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in representable `f32`s.
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f32| {
            let b = v.to_bits() as i32;
            if b < 0 {
                i32::MIN.wrapping_sub(b) as i64
            } else {
                b as i64
            }
        };
        (key(a) - key(b)).unsigned_abs() as u32
    }

    fn check_exp(x: f32) {
        for (name, y) in [
            ("baseline", exp_f32(x)),
            ("fma", exp_any::<true>(x)),
            (
                "in range",
                if (-87.0..=88.0).contains(&x) {
                    exp_in_range::<false>(x)
                } else {
                    x.exp()
                },
            ),
        ] {
            assert!(ulps(y, x.exp()) <= 1, "{name} exp({x:e}) = {y:e}, std {:e}", x.exp());
        }
    }

    #[test]
    fn exp_special_values_are_those_of_std() {
        for x in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            88.72283,
            88.72284,
            89.5,
            1e30,
            -87.33,
            -100.0,
            -103.97,
            -103.98,
            -104.5,
            -1e30,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
        ] {
            let (y, std) = (exp_f32(x), x.exp());
            assert!(
                y.to_bits() == std.to_bits() || (y.is_nan() && std.is_nan()),
                "exp({x:e}) = {y:e}, std {std:e}"
            );
        }
    }

    #[test]
    fn exp_is_within_one_ulp_on_a_sample() {
        // Every 4099th bit pattern: about a million values over the whole range.
        let mut bits = 0u32;
        while let Some(next) = bits.checked_add(4099) {
            check_exp(f32::from_bits(bits));
            bits = next;
        }
    }

    #[test]
    #[ignore = "all 2^32 inputs: run with --release --ignored"]
    fn exp_is_within_one_ulp_everywhere() {
        for bits in 0..=u32::MAX {
            check_exp(f32::from_bits(bits));
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
        // Leading -inf (masked classes) does not matter.
        let (max, ls) = f32::max_log_sum_exp(&long(&[-inf; 70], 0.0));
        assert_eq!((max, ls), (0.0, (30.0f32).ln()));
        // A +inf, or only -inf: NaN log-sum. A NaN: NaN for both.
        assert!(f32::max_log_sum_exp(&long(&[1.0, inf], 0.0)).1.is_nan());
        assert!(f32::max_log_sum_exp(&long(&[], -inf)).1.is_nan());
        assert!(f32::max_log_sum_exp(&long(&[2.0, f32::NAN], 0.0)).0.is_nan());
        // Huge spreads: exp underflows to 0 without harm.
        let (max, ls) = f32::max_log_sum_exp(&long(&[-1e30, 1e30], 0.0));
        assert_eq!((max, ls), (1e30, 0.0));
        // The plain path agrees on short rows.
        assert!(f32::max_log_sum_exp(&[1.0, inf]).1.is_nan());
        assert_eq!(f32::max_log_sum_exp(&[]), (-inf, -inf));
    }
}
