//! NumPy's float32 `exp` and `log` as it computes them on x86-64 CPUs with AVX2 or AVX-512F
//! (`numpy/_core/src/umath/loops_exponent_log.dispatch.c.src`, `simd_exp_FLOAT` and
//! `simd_log_FLOAT`), one element at a time. NumPy uses these kernels for every float32
//! `np.exp` / `np.log`, arrays and scalars alike. They are a few ulp from the correctly
//! rounded results that Rust's `f32::exp` / `f32::ln` give: `np.exp(np.float32(1))` is
//! `0x402df855`, one ulp above e's nearest float, `0x402df854`.
//!
//! The algorithms, written from their description in NumPy's source:
//! - exp: saturate (`x >= 88.72283935546875` gives inf, `x <= -103.97208404541015625` gives
//!   0); `k = rint(x·log2(e))` by adding and subtracting 1.5·2^23; `r = x - k·ln 2` by two
//!   fused multiply-adds with ln 2 split in a high and a low part (Cody and Waite); `exp(r)`
//!   as a degree-5 over degree-2 rational minimax fit, each polynomial by fused Horner steps;
//!   then scaled by `2^k` with one rounding (`vscalefps` on AVX-512F).
//! - log: `x = m·2^e` with `m` in [0.5, 1) (`vgetmantps` / `vgetexpps`); if `m <= 1/√2`, `m`
//!   doubles and `e` drops by one; `log(1 + (m - 1))` as a degree-5 over degree-5 rational
//!   fit; plus `e·ln 2` by one fused multiply-add.
//!
//! The coefficients are NumPy's (`NPY_COEFF_*_EXPf`, `NPY_COEFF_*_LOGf` in `npy_math.h`),
//! given in decimal and rounded to float32 by the compiler, as NumPy's C compiler does.
//! `tests/numpy_exp_log.rs` checks both against real NumPy on 2^20 inputs each.

// NumPy's constants are written digit for digit as in its source.
#![allow(clippy::excessive_precision)]

/// NumPy's NaN (`NPY_NANF`), a positive quiet NaN.
const NAN: f32 = f32::from_bits(0x7fc0_0000);

const EXP_HI: f32 = 88.722_839_355_468_75;
const EXP_LO: f32 = -103.972_084_045_410_156_25;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const RINT_MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
const LN2_HIGH: f32 = -6.931_457_52e-1;
const LN2_LOW: f32 = -1.428_606_77e-6;
const EXP_P: [f32; 6] = [
    9.999_999_999_980_870_924_916e-1,
    7.257_664_613_233_124_478_488e-1,
    2.473_615_434_895_520_810_817e-1,
    5.114_512_081_637_298_353_406e-2,
    6.757_896_990_527_504_603_057e-3,
    5.082_762_527_590_693_718_096e-4,
];
const EXP_Q: [f32; 3] = [1.0, -2.742_335_390_411_667_452_936e-1, 2.159_509_375_685_829_852_307e-2];

const LOG_P: [f32; 6] = [
    0.0,
    9.999_999_999_999_998_702_752e-1,
    2.112_677_543_073_053_063_722,
    1.480_000_633_576_506_585_156,
    3.808_837_741_388_407_920_751e-1,
    2.589_979_117_907_922_693_523e-2,
];
const LOG_Q: [f32; 6] = [
    1.0,
    2.612_677_543_073_109_236_779,
    2.453_006_071_784_736_363_091,
    9.864_942_958_519_418_960_339e-1,
    1.546_476_374_983_906_719_538e-1,
    5.875_095_403_124_574_342_950e-3,
];

/// `c[n]·x^n + ... + c[0]` by fused Horner steps from the highest coefficient.
fn horner(c: &[f32], x: f32) -> f32 {
    let (last, rest) = c.split_last().expect("coefficients");
    rest.iter().rev().fold(*last, |acc, &ci| acc.mul_add(x, ci))
}

/// `poly · 2^k` for an integral `k`, rounded once, as `vscalefps` does (also when the
/// result is subnormal or overflows).
fn scale(poly: f32, k: f32) -> f32 {
    (poly as f64 * 2f64.powi(k as i32)) as f32
}

/// NumPy's float32 `np.exp(x)`.
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return NAN;
    }
    if x >= EXP_HI {
        return f32::INFINITY;
    }
    if x <= EXP_LO {
        return 0.0;
    }
    let k = (x * LOG2E + RINT_MAGIC) - RINT_MAGIC;
    let r = k.mul_add(LN2_HIGH, x);
    let r = k.mul_add(LN2_LOW, r);
    scale(horner(&EXP_P, r) / horner(&EXP_Q, r), k)
}

/// NumPy's float32 `np.log(x)`.
pub fn ln(x: f32) -> f32 {
    if x.is_nan() {
        return NAN;
    }
    if x < 0.0 {
        return -NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x == f32::INFINITY {
        return f32::INFINITY;
    }
    let (mut m, mut e) = frexp(x);
    if m <= std::f32::consts::FRAC_1_SQRT_2 {
        m += m;
        e -= 1.0;
    }
    let m = m - 1.0;
    e.mul_add(std::f32::consts::LN_2, horner(&LOG_P, m) / horner(&LOG_Q, m))
}

/// `x = m · 2^e` with `m` in [0.5, 1), for a positive finite `x` (subnormals included).
fn frexp(x: f32) -> (f32, f32) {
    let (x, shift) = if x < f32::MIN_POSITIVE {
        (x * 2f32.powi(32), 32)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 126 - shift;
    (f32::from_bits((bits & 0x007f_ffff) | (126 << 23)), e as f32)
}
