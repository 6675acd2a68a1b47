//! The fast path of the `f32` row kernel with AVX-512: `Σ exp(x - max)` over a row (and the
//! exponentials, if kept) when every exponent is in `[-87, 0]`, so every result is a normal
//! number.
//!
//! `e^y = 2^m · 2^(j/16) · e^r` with `16m + j = round(16·y·log₂e)`, `0 ≤ j < 16`, and
//! `|r| ≤ ln 2 / 32`: the sixteen values `2^(j/16)` sit in one register and are picked per
//! lane by one permute (`vpermps`), and `e^r` needs only `1 + r + r²/2 + r³/6` (truncation
//! below `r⁴/24 < 1e-8`, a tenth of an ulp). That is seven multiply-adds per sixteen values
//! where the general polynomial (`exp.rs`) needs eleven. Within 2 ulp of the exact value on
//! `[-87, 0]` (the test checks 2^20 exponents spread over it against `f64::exp`).

use std::arch::x86_64::*;

use super::{BLOCK, LANES};

/// `2^(j/16)` for `j = 0..16`, rounded to `f32`.
const EXP2_SIXTEENTHS: [f32; 16] = [
    1.0,
    1.044_273_7,
    1.090_507_7,
    1.138_788_6,
    1.189_207_1,
    1.241_857_8,
    1.296_839_6,
    1.354_255_6,
    std::f32::consts::SQRT_2,
    1.476_826_2,
    1.542_210_8,
    1.610_490_3,
    1.681_792_9,
    1.756_252_2,
    1.834_008_1,
    1.915_206_6,
];

/// `e^(x - max)` of 16 values, each exponent in `[-87, 0]`.
#[inline(always)]
unsafe fn exp16(x: __m512, max: __m512, table: __m512) -> __m512 {
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer, kept in the low bits
                                     // ln 2 / 16 = LN2_16_HI + LN2_16_LO: Cephes' two parts of ln 2 over 16, the first with few
                                     // bits, so that k·LN2_16_HI is exact.
    const LN2_16_HI: f32 = 0.043_334_96;
    const LN2_16_LO: f32 = -1.326_215_3e-5;
    let y = _mm512_sub_ps(x, max);
    let round = _mm512_set1_ps(ROUND);
    let t = _mm512_fmadd_ps(y, _mm512_set1_ps(16.0 * std::f32::consts::LOG2_E), round);
    let k = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(round));
    let kf = _mm512_sub_ps(t, round);
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_16_HI), y);
    let r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_16_LO), r);
    let p = _mm512_fmadd_ps(_mm512_set1_ps(1.0 / 6.0), r, _mm512_set1_ps(0.5));
    let p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0));
    let p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0));
    // vpermps reads the low 4 bits of each index: j = k mod 16, also for negative k.
    let e = _mm512_mul_ps(_mm512_permutexvar_ps(k, table), p);
    let m = _mm512_slli_epi32::<23>(_mm512_srai_epi32::<4>(k));
    _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(e), m))
}

/// Per lane of [`LANES`], `Σ exp(x - max)` over the row, writing each exponential to `out`
/// when `STORE`: `f32` partial sums in two registers over [`BLOCK`]·4 values, then `f64`, as
/// the portable `exp_sums` adds them.
///
/// # Safety
/// The CPU must support AVX-512F; every `x - max` must be in `[-87, 0]`; with `STORE`, `out`
/// must be as long as `row`.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn exp_sums_512<const STORE: bool>(row: &[f32], out: &mut [f32], max: f32) -> [f64; LANES] {
    const STEP: usize = 32;
    const GROUP: usize = 4 * BLOCK / STEP;
    debug_assert!(!STORE || out.len() == row.len());
    let (table, max) = (_mm512_loadu_ps(EXP2_SIXTEENTHS.as_ptr()), _mm512_set1_ps(max));
    let mut sum = [0.0f64; LANES];
    let flush = |lo: __m512, hi: __m512, sum: &mut [f64; LANES]| {
        let mut partial = [0.0f32; STEP];
        _mm512_storeu_ps(partial.as_mut_ptr(), lo);
        _mm512_storeu_ps(partial.as_mut_ptr().add(16), hi);
        for (i, s) in sum.iter_mut().enumerate() {
            *s += (0..4).map(|j| partial[i + j * LANES] as f64).sum::<f64>();
        }
    };
    let (x, o) = (row.as_ptr(), out.as_mut_ptr());
    let n = row.len();
    let mut i = 0;
    // Whole groups, then whole steps, then the last values under a mask (lanes past the row
    // neither read nor written, and adding 0).
    while i < n {
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let end = (i + GROUP * STEP).min(n);
        while i + STEP <= end {
            let (e0, e1) = (
                exp16(_mm512_loadu_ps(x.add(i)), max, table),
                exp16(_mm512_loadu_ps(x.add(i + 16)), max, table),
            );
            if STORE {
                _mm512_storeu_ps(o.add(i), e0);
                _mm512_storeu_ps(o.add(i + 16), e1);
            }
            lo = _mm512_add_ps(lo, e0);
            hi = _mm512_add_ps(hi, e1);
            i += STEP;
        }
        if i < end {
            let mask = |from: usize| -> __mmask16 { ((1u32 << (end - from).min(16)) - 1) as __mmask16 };
            let (m0, m1) = (mask(i), if end > i + 16 { mask(i + 16) } else { 0 });
            let e0 = _mm512_maskz_mov_ps(m0, exp16(_mm512_maskz_loadu_ps(m0, x.add(i)), max, table));
            let e1 = _mm512_maskz_mov_ps(m1, exp16(_mm512_maskz_loadu_ps(m1, x.wrapping_add(i + 16)), max, table));
            if STORE {
                _mm512_mask_storeu_ps(o.add(i), m0, e0);
                _mm512_mask_storeu_ps(o.wrapping_add(i + 16), m1, e1);
            }
            lo = _mm512_add_ps(lo, e0);
            hi = _mm512_add_ps(hi, e1);
            i = end;
        }
        flush(lo, hi, &mut sum);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::exp::tests::ulps;

    #[test]
    fn table_is_two_to_the_sixteenths() {
        for (j, &t) in EXP2_SIXTEENTHS.iter().enumerate() {
            assert_eq!(t, (j as f64 / 16.0).exp2() as f32, "j = {j}");
        }
    }

    /// Exponents spread over `[-87, 0]`, and the values the sums add up, against `f64::exp`.
    #[test]
    fn within_two_ulp_of_exp_over_the_fast_range() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        let n = 1 << 20;
        let row: Vec<f32> = (0..n).map(|i| -87.0 * i as f32 / (n - 1) as f32).collect();
        let mut out = vec![f32::NAN; n];
        // SAFETY: AVX-512F is present, every exponent is in [-87, 0], `out` is as long as `row`.
        let sum = unsafe { exp_sums_512::<true>(&row, &mut out, 0.0) };
        let mut worst = 0;
        for (&x, &e) in row.iter().zip(&out) {
            let want = (x as f64).exp() as f32;
            worst = worst.max(ulps(e, want));
        }
        assert!(worst <= 2, "worst {worst} ulp");
        let want: f64 = out.iter().map(|&e| e as f64).sum();
        let got: f64 = sum.iter().sum();
        assert!((got - want).abs() <= 1e-6 * want, "sum {got} against {want}");
        // The same values with a shift and at every length of the masked tail.
        for len in [1, 15, 16, 17, 31, 32, 33, 255, 256, 257, 300] {
            let shifted: Vec<f32> = row[..len].iter().map(|x| x + 3.5).collect();
            let mut o = vec![f32::NAN; len + 1];
            // SAFETY: as above; `x - 3.5` is in [-87, 0].
            let s = unsafe { exp_sums_512::<true>(&shifted, &mut o[..len], 3.5) };
            assert!(o[..len]
                .iter()
                .zip(&shifted)
                .all(|(&e, &x)| ulps(e, ((x - 3.5) as f64).exp() as f32) <= 2));
            assert!(o[len].is_nan(), "wrote past the row ({len})");
            let want: f64 = o[..len].iter().map(|&e| e as f64).sum();
            assert!((s.iter().sum::<f64>() - want).abs() <= 1e-6 * want, "length {len}");
        }
    }
}
