//! The exponentials of the row kernels: `e^x` in `f32` for the long rows (vectorized, within
//! 1 ulp of `f32::exp`) and in `f64` for the short ones (within 1 ulp of `f64::exp`), both
//! branch-free and inlined so that loops of them vectorize.

/// `e^x` in `f32`, within 1 ulp of [`f32::exp`] for every input (checked on all 2³² of them),
/// with its special values: NaN stays NaN, `+inf` and `x > 88.72` give `+inf`, `-inf` gives 0,
/// results below `f32::MIN_POSITIVE` are subnormal as in `f32::exp`, and `x < -103.97` gives 0.
///
/// Range reduction `e^x = 2^k · e^r` with `k = round(x·log₂e)` and `r = x - k·ln 2` (ln 2 in two
/// parts, Cody–Waite), `e^r` from the degree-6 polynomial of Cephes' `expf` on
/// `|r| ≤ ln 2 / 2` (its last coefficient, 0.5000000120, is 0.5 in `f32`), and `2^k` applied in two steps so that subnormal results come out right.
/// Branch-free, so a loop of it vectorizes.
#[cfg(test)]
pub fn exp_f32(x: f32) -> f32 {
    exp_any::<false>(x)
}

/// `1/n!` for `n` = 13 down to 2: the Taylor coefficients of `e^r` after `1 + r`.
pub(super) const INVERSE_FACTORIALS: [f64; 12] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// `e^x` in `f64`, within 1 ulp of [`f64::exp`] (NaN, `±inf`, overflow and subnormal results
/// included), inlined and branch-free, so that a loop of it over many short rows vectorizes.
///
/// Range reduction `e^x = 2^k · e^r`, `|r| ≤ ln 2 / 2` (ln 2 in fdlibm's two parts), `e^r`
/// from its Taylor series to `r^13/13!` (truncation below 5e-18), `2^k` applied in two steps.
#[cfg(test)]
pub fn exp_f64(x: f64) -> f64 {
    exp_f64_impl::<false>(x)
}

#[inline(always)]
pub(super) fn exp_f64_impl<const FMA: bool>(x: f64) -> f64 {
    let mul_add = |a: f64, b: f64, c: f64| if FMA { a.mul_add(b, c) } else { a * b + c };
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // fdlibm's ln2_hi, 6.93147180369123816490e-01
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // fdlibm's ln2_lo, 1.90821492927058770002e-10
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5·2^52
    let clamped = x.clamp(-746.0, 710.0); // past these the result is 0 or inf anyway
    let t = mul_add(clamped, std::f64::consts::LOG2_E, ROUND);
    let k = (t.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let kf = t - ROUND;
    let r = mul_add(-kf, LN2_LO, mul_add(-kf, LN2_HI, clamped));
    let mut p = INVERSE_FACTORIALS[0];
    for &c in &INVERSE_FACTORIALS[1..] {
        p = mul_add(p, r, c);
    }
    let e = mul_add(p * r, r, r) + 1.0;
    let half = k >> 1;
    let scale = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    let y = e * scale(half) * scale(k - half);
    #[allow(clippy::eq_op)]
    if x != x {
        x
    } else {
        y
    }
}

/// `a·b + c`, one fused operation when `FMA`.
///
/// The polynomials of these kernels (and of `math.rs`) are evaluated in Estrin's form (pairs
/// of terms, then powers of `x²`) rather than Horner's: the same number of multiply-adds and
/// one or two more products, but chains of dependent operations about half as long. A loop of
/// these kernels is one long chain per vector of values, and the CPU overlaps only as many
/// vectors as its reorder buffer holds, so the length of the chain, not the count of
/// operations, sets the pace. Measured on the AMD EPYC of 7 December in docs/performance.md
/// (a scratch program, one thread, a million values, three runs of 100 passes): `erf` 310-327
/// → 268-286 µs, `tanh` 244-246 → 219-221 µs, `1 / (1 + e^-x)` 158-160 → 138-142 µs. The
/// results stay within the bounds the tests state (`math_tests.rs`).
#[inline(always)]
pub(super) fn mul_add<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `(e^r, k)` with `e^x = e^r · 2^k`, for `|x| < 2^22`.
#[inline(always)]
pub(super) fn exp_reduced<const FMA: bool>(x: f32) -> (f32, i32) {
    const LN2_HI: f32 = 0.693_359_4; // ln 2 = LN2_HI + LN2_LO, LN2_HI with few bits
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer, kept in the low bits
    let t = mul_add::<FMA>(x, std::f32::consts::LOG2_E, ROUND);
    let k = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let kf = t - ROUND;
    let r = mul_add::<FMA>(kf, -LN2_LO, mul_add::<FMA>(kf, -LN2_HI, x));
    // Cephes' polynomial in Estrin's form: pairs of terms first, then powers of r², so that
    // the longest chain of dependent operations is four, not seven (see `mul_add`).
    let r2 = r * r;
    let high = mul_add::<FMA>(1.987_569_1e-4, r, 1.398_199_9e-3);
    let mid = mul_add::<FMA>(8.333_452e-3, r, 4.166_579_6e-2);
    let low = mul_add::<FMA>(1.666_666_5e-1, r, 0.5);
    let p = mul_add::<FMA>(mul_add::<FMA>(high, r2, mid), r2, low);
    (mul_add::<FMA>(p, r2, r) + 1.0, k)
}

/// `e^x` for `-87 ≤ x ≤ 88`, where the result is a normal number: `2^k` goes straight into the
/// exponent bits.
#[inline(always)]
pub(super) fn exp_in_range<const FMA: bool>(x: f32) -> f32 {
    let (e, k) = exp_reduced::<FMA>(x);
    f32::from_bits((e.to_bits() as i32).wrapping_add(k << 23) as u32)
}

/// `e^x` for any `x`, special values as [`f32::exp`].
#[inline(always)]
pub(super) fn exp_any<const FMA: bool>(x: f32) -> f32 {
    // Below -104 the result is 0 (e^-104 is under half the smallest subnormal): those lanes
    // compute e^0 and are replaced, since a product that underflows costs a microcode assist
    // on x86 (a causal mask's -inf scores made half of attention's softmax that slow). Above
    // 89 it is inf anyway; the bound keeps k in range.
    let zero = x < -104.0;
    let clamped = if zero { 0.0 } else { x.min(89.0) };
    let (e, k) = exp_reduced::<FMA>(clamped);
    let half = k >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let y = e * scale(half) * scale(k - half);
    #[allow(clippy::eq_op)]
    if x != x {
        x
    } else if zero {
        0.0
    } else {
        y
    }
}

/// The largest `x` whose [`exp_any`] is finite (88.72283); above it, `e^x` rounds to infinity.
pub(super) const EXP_FINITE_MAX: f32 = f32::from_bits(0x42b1_7217);

/// [`exp_any`] for where it is only added to 1 (`1 / (1 + e^x)`, `x / (1 + e^x)`): `1 + e^x`
/// is bit for bit that of `exp_any`, with fewer operations. Between -87 and
/// [`EXP_FINITE_MAX`] the two compute the same `e^r · 2^k`, and the result is a normal number,
/// so [`exp_in_range`]'s exponent arithmetic is exact; below -87 both `e^x` are under 2⁻²⁴ and
/// `1 + e^x` is 1 either way; above, both are infinite; NaN stays the same NaN.
#[inline(always)]
pub(super) fn exp_beside_one<const FMA: bool>(x: f32) -> f32 {
    // A NaN's lane computes garbage here and is given back its NaN below.
    let e = exp_in_range::<FMA>(x.clamp(-87.0, EXP_FINITE_MAX));
    #[allow(clippy::eq_op)]
    if x != x {
        x
    } else if x > EXP_FINITE_MAX {
        f32::INFINITY
    } else {
        e
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The distance in representable `f32`s.
    pub(crate) fn ulps(a: f32, b: f32) -> u32 {
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

    /// The distance in representable `f64`s.
    fn ulps64(a: f64, b: f64) -> u64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f64| {
            let b = v.to_bits() as i64;
            if b < 0 {
                i64::MIN.wrapping_sub(b) as i128
            } else {
                b as i128
            }
        };
        (key(a) - key(b)).unsigned_abs() as u64
    }

    #[test]
    fn exp_f64_is_within_one_ulp_of_std() {
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            709.78,
            709.79,
            -708.4,
            -745.0,
            -745.2,
            -746.0,
            1e300,
            -1e300,
        ];
        for x in specials {
            assert!(
                ulps64(exp_f64(x), x.exp()) <= 1,
                "exp({x:e}) = {:e}, std {:e}",
                exp_f64(x),
                x.exp()
            );
        }
        // A million values over [-750, 710], half of them in [-20, 0] where rows' values sit.
        let mut seed = 7u64;
        for i in 0..1_000_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let x = if i % 2 == 0 { -750.0 + 1460.0 * u } else { -20.0 * u };
            for (name, y) in [("plain", exp_f64(x)), ("fused", exp_f64_impl::<true>(x))] {
                assert!(ulps64(y, x.exp()) <= 1, "{name} exp({x:e}) = {y:e}, std {:e}", x.exp());
            }
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
            -104.0,
            f32::from_bits((-104.0f32).to_bits() + 1), // the first value given 0 without a product
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

    #[test]
    fn exp_in_range_is_exp_any_where_the_result_is_normal() {
        // Every bit pattern from -87 to 88 a step apart, and both ends: the same bits, with and
        // without FMA (erf's large branch and `exp_beside_one` rely on it).
        let (lo, hi) = ((-87.0f32).to_bits(), 88.0f32.to_bits());
        let negatives = (0x8000_0000..=lo).step_by(997);
        let positives = (0..=hi).step_by(997);
        for x in negatives.chain(positives).map(f32::from_bits).chain([-87.0, 88.0]) {
            assert_eq!(
                exp_in_range::<false>(x).to_bits(),
                exp_any::<false>(x).to_bits(),
                "{x:e}"
            );
            assert_eq!(exp_in_range::<true>(x).to_bits(), exp_any::<true>(x).to_bits(), "{x:e}");
        }
    }

    /// `1 + exp_beside_one(x)` has the bits of `1 + exp_any(x)`, with and without FMA.
    fn check_beside_one(x: f32) {
        let pairs = [
            (exp_beside_one::<false>(x), exp_any::<false>(x)),
            (exp_beside_one::<true>(x), exp_any::<true>(x)),
        ];
        for (fast, any) in pairs {
            assert_eq!(
                (1.0 + fast).to_bits(),
                (1.0 + any).to_bits(),
                "x = {x:e} ({:#x})",
                x.to_bits()
            );
        }
    }

    #[test]
    fn exp_beside_one_adds_to_one_as_exp_any_does() {
        // The bound: the largest input whose exponential is finite.
        assert!(exp_any::<false>(EXP_FINITE_MAX).is_finite() && exp_any::<true>(EXP_FINITE_MAX).is_finite());
        let next = f32::from_bits(EXP_FINITE_MAX.to_bits() + 1);
        assert!(exp_any::<false>(next).is_infinite() && exp_any::<true>(next).is_infinite());
        // Every 4099th bit pattern, then the elementwise kernels' dense runs (around -87,
        // 88.72 and -104 among them) and special values.
        (0..=u32::MAX)
            .step_by(4099)
            .for_each(|b| check_beside_one(f32::from_bits(b)));
        crate::kernels::math_tests::dense_inputs()
            .into_iter()
            .for_each(check_beside_one);
    }

    #[test]
    #[ignore = "all 2^32 inputs: run with --release --ignored"]
    fn exp_beside_one_adds_to_one_as_exp_any_does_everywhere() {
        (0..=u32::MAX).for_each(|b| check_beside_one(f32::from_bits(b)));
    }
}
