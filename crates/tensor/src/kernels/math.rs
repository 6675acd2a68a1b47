//! The `f32` functions of the elementwise kernels, one value at a time: branch-free and inlined,
//! so that a loop of any of them over a slice vectorizes (`map.rs` compiles those loops once
//! per instruction set). `FMA` says whether `a·b + c` is one fused operation.
//!
//! Each doc states the error bound tested against the exact value (the `f64` function rounded
//! to `f32`) over the `f32` range (`math_tests.rs`: about a million bit patterns spread over
//! all of it and dense runs at the edges; all 2³² with `--ignored`), and the worst error seen. The special values are those of the `std` functions: NaN stays NaN, `±0`
//! keeps its sign where the function is odd, and the infinities give the limits.

use super::exp::{exp_any, exp_beside_one, exp_f64_impl, exp_in_range, mul_add, INVERSE_FACTORIALS};

/// `tanh x`, within 2 ulp (the worst seen is 1). For `|x| < 0.625` Cephes' odd polynomial `x +
/// x³·P(x²)`; above, `1 - 2/(e^(2|x|) + 1)` with the sign of `x` (`|x|` clamped at 22, where the
/// result is 1).
#[inline(always)]
pub(crate) fn tanh<const FMA: bool>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = mul_add::<FMA>(
        mul_add::<FMA>(-5.704_988_7e-3, z, 2.063_909e-2),
        z * z,
        mul_add::<FMA>(-5.373_971_6e-2, z, 1.333_144_2e-1),
    );
    let p = mul_add::<FMA>(p, z, -3.333_328e-1);
    let small = mul_add::<FMA>(p * z, a, a);
    let e = exp_in_range::<FMA>(2.0 * a.min(22.0));
    let large = 1.0 - 2.0 / (e + 1.0);
    // NaN fails the comparison and takes the polynomial, which keeps it NaN.
    let y = if a >= 0.625 { large } else { small };
    y.copysign(x)
}

/// `σ(x) = 1 / (1 + e^-x)`, PyTorch's vectorized formula, within 2 ulp, and 0 where `e^-x`
/// overflows (`x < -88.72`), as PyTorch gives.
#[inline(always)]
pub(crate) fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp_beside_one::<FMA>(-x))
}

/// `ln x`, within 1 ulp: `x = 2^e·m` with `m` in `[√½, √2)`, Cephes' polynomial of `m - 1`, and
/// `e·ln 2` added in two parts. Subnormal `x` are scaled by `2^23` first; `ln 0 = -inf`,
/// `ln x = NaN` for `x < 0`, `ln inf = inf`.
#[inline(always)]
pub(crate) fn log<const FMA: bool>(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375 exactly
    const LN2_LO: f32 = -2.121_944_4e-4;
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 8_388_608.0 } else { x };
    let bits = scaled.to_bits();
    // m in [0.5, 1), then moved to [√½, √2) by doubling when below √½.
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let e = ((bits >> 23) & 0xff) as i32 - 126 - if subnormal { 23 } else { 0 };
    let low = m < std::f32::consts::FRAC_1_SQRT_2;
    let (f, e) = if low { (m + m - 1.0, e - 1) } else { (m - 1.0, e) };
    let e = e as f32;
    let z = f * f;
    // Cephes' degree-8 polynomial of f, in Estrin's form (see `mul_add`).
    let z4 = z * z;
    let pair = |high: f32, low: f32| mul_add::<FMA>(high, f, low);
    let low = mul_add::<FMA>(
        pair(-1.666_805_8e-1, 2.000_071_4e-1),
        z,
        pair(-2.499_999_4e-1, 3.333_333e-1),
    );
    let high = mul_add::<FMA>(
        pair(-1.151_461e-1, 1.167_699_9e-1),
        z,
        pair(-1.242_014_1e-1, 1.424_932_3e-1),
    );
    let p = mul_add::<FMA>(mul_add::<FMA>(7.037_683_6e-2, z4, high), z4, low);
    let mut y = p * f * z;
    y = mul_add::<FMA>(e, LN2_LO, y);
    y = mul_add::<FMA>(-0.5, z, y);
    let y = mul_add::<FMA>(e, LN2_HI, f + y);
    if x > 0.0 && x < f32::INFINITY {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// `ln(1 + u)` within 2 ulp for `u ≥ 0` (what softplus needs): `ln w - ((w - 1) - u)/w` with `w = 1
/// + u`, which puts back what rounding `w` lost.
#[inline(always)]
pub(crate) fn log1p<const FMA: bool>(u: f32) -> f32 {
    let w = 1.0 + u;
    let fix = ((w - 1.0) - u) / w;
    let y = log::<FMA>(w) - fix;
    // Where w rounds to 1, ln(1 + u) is u to within an ulp; at inf the correction is NaN.
    if w == 1.0 || u == f32::INFINITY {
        u
    } else {
        y
    }
}

/// The error function, within 2 ulp (the worst seen is 1): the minimax approximations of Arm's
/// optimized-routines `erff`, `x + x·A(x²)` for `|x| < 0.875` and `1 - e^-B(|x|)` with the sign of
/// `x` above (`|x|` clamped at 4, where the result is 1).
#[inline(always)]
pub(crate) fn erf<const FMA: bool>(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.128_379_15,
        -0.376_124_86,
        0.112_818_025,
        -0.026_766_734,
        0.004_993_396,
        -0.000_599_104_97,
    ];
    const B: [f32; 7] = [
        0.128_717_51,
        0.634_846_7,
        0.106_777_85,
        -0.024_254_56,
        0.003_883_934_3,
        -0.000_383_208_68,
        1.729_489_3e-5,
    ];
    let a = x.abs();
    // Both polynomials in Estrin's form (see `mul_add`).
    let x2 = x * x;
    let x4 = x2 * x2;
    let pair = |i: usize| mul_add::<FMA>(A[i + 1], x2, A[i]);
    let r = mul_add::<FMA>(mul_add::<FMA>(pair(4), x4, pair(2)), x4, pair(0));
    let small = mul_add::<FMA>(r, x, x);
    let b = a.min(4.0);
    let b2 = b * b;
    let pair = |i: usize| mul_add::<FMA>(B[i + 1], b, B[i]);
    let q = mul_add::<FMA>(
        mul_add::<FMA>(mul_add::<FMA>(B[6], b2, pair(4)), b2, pair(2)),
        b2,
        pair(0),
    );
    let q = mul_add::<FMA>(q, b, b);
    // With `b` at most 4, `q` is at most 17.8: `e^-q` is a normal number, which
    // `exp_in_range` gives as `exp_any` does, with fewer operations.
    let large = (1.0 - exp_in_range::<FMA>(-q)).copysign(x);
    #[allow(clippy::eq_op)]
    if a < 0.875 || x != x {
        small
    } else {
        large
    }
}

/// SiLU, `x·σ(x) = x / (1 + e^-x)` (PyTorch's vectorized formula, within 3 ulp, the worst
/// seen 2; -0 where `e^-x` overflows, as PyTorch gives), and its derivative
/// `σ(x)(1 + x(1 - σ(x)))` with `σ(x) = 1 / (1 + e^-x)` (PyTorch's `silu_backward` gives `g`
/// times it), from one exponential.
#[inline(always)]
pub(crate) fn silu<const FMA: bool>(x: f32) -> (f32, f32) {
    let one_plus = 1.0 + exp_beside_one::<FMA>(-x);
    let s = 1.0 / one_plus;
    (x / one_plus, s * (1.0 + x * (1.0 - s)))
}

/// GELU's tanh form, `½x(1 + tanh(u))` with `u = β(x + κx³)`, and its derivative
/// `½(1 + t) + ½x(1 - t²)·β(1 + 3κx²)` with `t = tanh u`, from one `tanh`: the forward and
/// backward of PyTorch's kernels (`gelu` and `gelu_backward`, whose gradient is `g` times the
/// derivative), in their order of operations. For negative `x` the value cancels,
/// `1 + tanh → 0`, so its error is bounded in ulp of `x`, as PyTorch's.
#[inline(always)]
pub(crate) fn gelu_tanh<const FMA: bool>(x: f32, beta: f32, kappa: f32) -> (f32, f32) {
    let x_sq = x * x;
    let t = tanh::<FMA>(beta * (x + kappa * (x_sq * x)));
    let half_x = 0.5 * x;
    let slope = beta * (1.0 + 3.0 * kappa * x_sq);
    (half_x * (1.0 + t), 0.5 * (1.0 + t) + half_x * (1.0 - t * t) * slope)
}

/// Exact GELU, `x·½(1 + erf(x/√2))`, and its derivative `Φ(x) + x·φ(x)`, from one `erf`: the
/// forward and backward of PyTorch's kernels, in their order of operations.
#[inline(always)]
pub(crate) fn gelu_erf<const FMA: bool>(x: f32) -> (f32, f32) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let one_plus_erf = 1.0 + erf::<FMA>(x * std::f32::consts::FRAC_1_SQRT_2);
    let pdf = INV_SQRT_2PI * exp_any::<FMA>(-0.5 * x * x);
    (x * 0.5 * one_plus_erf, 0.5 * one_plus_erf + x * pdf)
}

/// 1/15, 1/13, ..., 1/3, 1: the series of `atanh(s)/s` in `s²`, from the far end (Softplus's
/// `ln(1 + u)` and `pow`'s `ln |x|`).
const ATANH: [f64; 8] = [
    1.0 / 15.0,
    1.0 / 13.0,
    1.0 / 11.0,
    1.0 / 9.0,
    1.0 / 7.0,
    1.0 / 5.0,
    1.0 / 3.0,
    1.0,
];

/// `ln(1 + e^(βx))/β`, and `x` where `βx > threshold`, as PyTorch's `softplus`; within
/// 2 ulp for `β = 1`.
///
/// Written as `max(βx, 0) + ln(1 + u)` with `u = e^-|βx|` in `(0, 1]`, which is the same
/// number and never overflows, and `ln(1 + u) = 2·atanh(s)` with `s = u/(2 + u)` in `[0, ⅓]`:
/// the series `2s(1 + s²/3 + s⁴/5 + ... + s¹⁴/15)`, whose first omitted term is below
/// `10^-9` of the sum: one division and a short polynomial, where [`log1p`] takes a division
/// too, unpacks the exponent and checks for special values. Below `u = 2^-24`, `ln(1 + u)` is
/// `u` to within half an ulp, and `u` itself is taken (`s` would lose bits as a subnormal).
#[inline(always)]
pub(crate) fn softplus<const FMA: bool>(x: f32, beta: f32, threshold: f32) -> f32 {
    let bx = x * beta;
    let u = exp_any::<FMA>(-bx.abs());
    // `2 + u` rounded drops up to two bits of `u`; `s` is corrected by what it dropped,
    // `q·lost/(2 + u)`, with `1/(2 + u) = (1 - q)/2`.
    let d = 2.0 + u;
    let lost = u - (d - 2.0);
    let q = u / d;
    let s = mul_add::<FMA>(q * lost, 0.5 * q - 0.5, q);
    let z = s * s;
    // The series but its leading 1: 1/15 down to 1/3, rounded to `f32`, in Estrin's form
    // (see `mul_add`).
    let c = |i: usize| ATANH[i] as f32;
    let pair = |i: usize| mul_add::<FMA>(c(i), z, c(i + 1));
    let z2 = z * z;
    let p = mul_add::<FMA>(
        mul_add::<FMA>(mul_add::<FMA>(c(0), z2, pair(1)), z2, pair(3)),
        z2,
        pair(5),
    );
    let two_s = s + s;
    let ln_1p = if u < f32::EPSILON / 2.0 {
        u
    } else {
        mul_add::<FMA>(p * z, two_s, two_s)
    };
    // NaN: `max` would drop it, but `u` (and so the sum) is NaN too.
    let y = (bx.max(0.0) + ln_1p) / beta;
    if bx > threshold {
        x
    } else {
        y
    }
}

/// `ln σ(x) = min(x, 0) - ln(1 + e^-|x|)`, PyTorch's formula, finite and accurate for any
/// `x` (the two terms never cancel: both are at most 0); within 3 ulp (the worst seen is 2).
#[inline(always)]
pub(crate) fn log_sigmoid<const FMA: bool>(x: f32) -> f32 {
    x.min(0.0) - log1p::<FMA>(exp_any::<FMA>(-x.abs()))
}

/// `e^x - 1` for `x ≤ 0` (what ELU needs), within 2 ulp (the worst seen is 1): for `|x| < 0.5`
/// its Taylor series to `x⁹`, `x + x²·(1/2 + x/6 + ...)`, which keeps the digits `e^x - 1`
/// cancels; below, `e^x - 1`.
#[inline(always)]
pub(crate) fn expm1<const FMA: bool>(x: f32) -> f32 {
    // 1/9! down to 1/2.
    let mut p = INVERSE_FACTORIALS[4] as f32;
    for &c in &INVERSE_FACTORIALS[5..] {
        p = mul_add::<FMA>(p, x, c as f32);
    }
    // `e^x - 1` has the sign of `x`, which keeps -0 a -0.
    let small = mul_add::<FMA>(p * x, x, x).copysign(x);
    let large = exp_any::<FMA>(x) - 1.0;
    // NaN fails the comparison and takes `e^x - 1`, which keeps it NaN.
    if x.abs() < 0.5 {
        small
    } else {
        large
    }
}

/// `g·σ(βx)` as `g·z/(z + 1)` with `z = e^(βx)`, and `g` where `βx > threshold`, PyTorch's
/// `softplus_backward`.
#[inline(always)]
pub(crate) fn softplus_backward<const FMA: bool>(g: f32, x: f32, beta: f32, threshold: f32) -> f32 {
    let bx = x * beta;
    let z = exp_any::<FMA>(bx);
    let d = g * z / (z + 1.0);
    if bx > threshold {
        g
    } else {
        d
    }
}

/// `e^x` for any `x`, within 1 ulp (the row kernels' exponential).
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f32) -> f32 {
    exp_any::<FMA>(x)
}

/// An exponent of [`pow`]: the `f32` exponent as `f64`, and whether it is an integer, and an
/// odd one (which decide the sign for a negative base and NaN for a non-integer one).
#[derive(Clone, Copy)]
pub(crate) struct Exponent {
    p: f64,
    integer: bool,
    odd: bool,
}

impl Exponent {
    /// `p`, or `None` where [`pow`] does not take it (an infinite or NaN exponent, or one of
    /// `2^31` or more, where the `std` function is the one to ask).
    pub(crate) fn new(p: f32) -> Option<Self> {
        let p = f64::from(p);
        let integer = p.fract() == 0.0;
        (p.abs() < 2f64.powi(31)).then_some(Exponent {
            p,
            integer,
            odd: integer && (p as i64) % 2 != 0,
        })
    }
}

/// `x^p`, within 1 ulp (the worst seen is 1: at `22^7`, whose exact value lies halfway between
/// two `f32`s, and at a few inputs of a sweep over every 97th bit pattern for `p = 1.5`;
/// elsewhere the exact value rounded). In `f64`: `ln
/// |x|` as `e·ln 2 + 2·atanh((m - 1)/(m + 1))` for `|x| = m·2^e`, `m` in `[√½, √2)` (the
/// series to `s^15`, truncated some `10^-14` from exact), then `e^(p·ln |x|)` by the `f64`
/// exponential of the row kernels (within 1 ulp of `f64`), far below the `f32` rounding.
/// The special values are those of C's `pow`: `x^p` of a finite negative `x` is NaN for a
/// non-integer `p` and takes the sign of `x` for an odd one; `±0` and `±∞` give their
/// limits.
#[inline(always)]
pub(crate) fn pow<const FMA: bool>(x: f32, exponent: Exponent) -> f32 {
    const SQRT_2: f64 = std::f64::consts::SQRT_2;
    let Exponent { p, integer, odd } = exponent;
    let a = f64::from(x).abs();
    // a = m·2^e with m in [1, 2), then in [√½, √2).
    let bits = a.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let (m, e) = if m > SQRT_2 { (m * 0.5, e + 1) } else { (m, e) };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut series = ATANH[0];
    for &c in &ATANH[1..] {
        series = series * s2 + c;
    }
    let ln_a = e as f64 * std::f64::consts::LN_2 + 2.0 * s * series;
    let magnitude = exp_f64_impl::<FMA>(p * ln_a) as f32;
    // |x| of 0, ∞ or NaN: the limits (NaN stays NaN).
    let magnitude = if a == 0.0 {
        if p > 0.0 {
            0.0
        } else {
            f32::INFINITY
        }
    } else if a == f64::INFINITY {
        if p > 0.0 {
            f32::INFINITY
        } else {
            0.0
        }
    } else if a.is_nan() {
        f32::NAN
    } else {
        magnitude
    };
    if x < 0.0 && x.is_finite() && !integer {
        f32::NAN
    } else if x.is_sign_negative() && odd {
        -magnitude
    } else {
        magnitude
    }
}
