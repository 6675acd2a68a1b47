//! The elementwise kernels against `f64` references over the whole `f32` range, at every
//! instruction set the CPU has: a sample of about a million bit patterns plus dense runs
//! around zero, the subnormals and each function's edges (every bit pattern with `--ignored`).

use super::exp::tests::ulps;
use super::map::{as_uninit, Backward, Unary, WithDerivative};
use crate::cpu::{detected, Isa};

fn unary_f32(isa: Isa, op: Unary, x: &[f32], out: &mut [f32]) {
    super::map::unary_f32(isa, op, x, as_uninit(out))
}

fn backward_f32(isa: Isa, op: Backward, g: &[f32], saved: &[f32], out: &mut [f32]) {
    super::map::backward_f32(isa, op, g, saved, as_uninit(out))
}

/// The levels this CPU can run.
fn levels() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|&i| i <= detected())
        .collect()
}

/// `σ(x)`, and 0 where `e^-x` overflows `f32` (`x < -88.72`), as PyTorch's `f32` sigmoid.
fn sigmoid64(x: f64) -> f64 {
    if ((-x).exp() as f32).is_infinite() {
        return 0.0;
    }
    1.0 / (1.0 + (-x).exp())
}

/// A function, its `f64` reference and the largest error allowed, in ulp of the result.
struct Case {
    op: Unary,
    exact: fn(f64) -> f64,
    max_ulps: u32,
}

/// A [`Case`] of `x^p` for each exponent `p`, within 1 ulp of `f64::powf` with `p` rounded to
/// `f32` as the kernel rounds it (`3e9` is past the vectorized `pow`: libm's `powf`).
macro_rules! pow_cases {
    ($($p:expr),*) => {
        [$(Case {
            op: Unary::Powf($p),
            exact: |x| x.powf($p as f32 as f64),
            max_ulps: 1,
        }),*]
    };
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            op: Unary::Exp,
            exact: f64::exp,
            max_ulps: 1,
        },
        Case {
            op: Unary::Log,
            exact: f64::ln,
            max_ulps: 1,
        },
        Case {
            op: Unary::Tanh,
            exact: f64::tanh,
            max_ulps: 2,
        },
        Case {
            op: Unary::Sigmoid,
            exact: sigmoid64,
            max_ulps: 2,
        },
        Case {
            op: Unary::Erf,
            exact: libm::erf,
            max_ulps: 2,
        },
        Case {
            op: Unary::Silu,
            exact: |x| {
                if x > 0.0 {
                    x * sigmoid64(x)
                } else {
                    x * sigmoid64(x) + 0.0 * x
                }
            },
            max_ulps: 3,
        },
        Case {
            op: Unary::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            exact: |x| if x > 20.0 { x } else { x.exp().ln_1p() },
            max_ulps: 2,
        },
        Case {
            op: Unary::Elu { alpha: 1.0 },
            exact: |x| if x > 0.0 { x } else { x.exp_m1() },
            max_ulps: 2,
        },
        Case {
            op: Unary::LogSigmoid,
            // Where `ln(1 + e^-|x|)` is below half the smallest `f32` subnormal (x > 103.97),
            // PyTorch's `f32` formula gives `min(x, 0)`, a +0 for positive x, not the -0 the
            // exact value rounds to.
            exact: |x| {
                let t = (-x.abs()).exp().ln_1p();
                if t as f32 == 0.0 {
                    x.min(0.0)
                } else {
                    x.min(0.0) - t
                }
            },
            max_ulps: 3,
        },
    ]
    .into_iter()
    .chain(pow_cases!(1.5, -1.7, 0.1, 7.0, -4.0, 1e9, 3e9))
    .collect()
}

/// Dense runs of bit patterns: around ±0 and through the subnormals, and the neighbourhood of
/// each edge where a kernel changes method, saturates or overflows.
pub(super) fn dense_inputs() -> Vec<f32> {
    let mut xs: Vec<f32> = Vec::new();
    for bits in (0..0x0100_0000u32).step_by(61) {
        xs.push(f32::from_bits(bits)); // subnormals and the smallest normals
        xs.push(-f32::from_bits(bits));
    }
    for edge in [
        0.625f32, 0.875, 4.0, 9.0, 9.01, 16.6, 17.0, 20.0, 22.0, 44.0, 87.0, 88.72, 89.0, 103.97, 104.0,
    ] {
        let b = edge.to_bits();
        for d in 0..20_000u32 {
            for x in [f32::from_bits(b - 10_000 + d), -f32::from_bits(b - 10_000 + d)] {
                xs.push(x);
            }
        }
    }
    xs.extend([
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::EPSILON,
        1.0,
        -1.0,
    ]);
    xs
}

/// Every `step`-th bit pattern, both signs.
fn sampled_inputs(step: usize) -> Vec<f32> {
    (0..=u32::MAX).step_by(step).map(f32::from_bits).collect()
}

/// The worst error of `case` at `isa` over `xs`: (ulps, at which input).
fn worst(case: &Case, isa: Isa, xs: &[f32]) -> (u32, f32) {
    let mut out = vec![0.0f32; xs.len()];
    unary_f32(isa, case.op, xs, &mut out);
    let mut worst = (0, 0.0);
    for (&x, &y) in xs.iter().zip(&out) {
        let exact = (case.exact)(x as f64) as f32;
        let e = ulps(y, exact);
        // The sign of a zero, and NaN for NaN, count as much as any other bit.
        let same_zero = y != 0.0 || exact != 0.0 || y.is_sign_negative() == exact.is_sign_negative();
        let e = if same_zero { e } else { u32::MAX };
        if e > worst.0 {
            worst = (e, x);
        }
    }
    worst
}

fn check(xs: &[f32]) {
    for case in cases() {
        for isa in levels() {
            let (e, x) = worst(&case, isa, xs);
            eprintln!("{:?} at {}: at most {e} ulp (at {x:e})", case.op, isa.name());
            assert!(
                e <= case.max_ulps,
                "{:?} at {}: {e} ulp at {x:e} (bits {:#x})",
                case.op,
                isa.name(),
                x.to_bits()
            );
        }
    }
}

#[test]
fn kernels_are_within_their_stated_ulps_on_the_edges() {
    check(&dense_inputs());
}

#[test]
fn kernels_are_within_their_stated_ulps_on_a_sample() {
    check(&sampled_inputs(4099));
}

/// Every bit pattern, or every `FERROGRAD_SWEEP_STEP`-th one if that is set.
#[test]
#[ignore = "all 2^32 inputs: run with --release --ignored"]
fn kernels_are_within_their_stated_ulps_everywhere() {
    let step: u64 = std::env::var("FERROGRAD_SWEEP_STEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut start = 0u64;
    while start <= u32::MAX as u64 {
        let end = (start + (1 << 24) * step).min(1 << 32);
        let xs: Vec<f32> = (start..end)
            .step_by(step as usize)
            .map(|b| f32::from_bits(b as u32))
            .collect();
        check(&xs);
        start = end;
    }
}

/// Inputs for comparing levels (a sample of the range and dense runs near its edges), and an
/// incoming gradient for each that is not all ones.
fn inputs_and_gradients() -> (Vec<f32>, Vec<f32>) {
    let xs: Vec<f32> = sampled_inputs(40_009)
        .into_iter()
        .chain(dense_inputs().into_iter().step_by(7))
        .collect();
    let g: Vec<f32> = (0..xs.len()).map(|i| 1.0 - (i % 7) as f32 * 0.25).collect();
    (xs, g)
}

/// Every level gives results within 2 ulp of every other's, for the composite functions too
/// (GELU's two forms), and the gradient kernels.
#[test]
fn instruction_sets_agree() {
    let (xs, g) = inputs_and_gradients();
    let ops = [
        Unary::GeluTanh,
        Unary::GeluErf,
        Unary::Powf(3.0),
        Unary::Powf(-0.5),
        Unary::Powf(1.7),
        Unary::Powf(0.0),
        Unary::Powf(1.0),
    ];
    let grads = [
        Backward::Tanh,
        Backward::Sigmoid,
        Backward::Silu,
        Backward::GeluTanh,
        Backward::GeluErf,
        Backward::Elu { alpha: 1.3 },
        Backward::Softplus {
            beta: 2.0,
            threshold: 20.0,
        },
    ];
    let mut base = vec![0.0f32; xs.len()];
    let mut other = vec![0.0f32; xs.len()];
    for isa in levels() {
        for op in ops.into_iter().chain(cases().into_iter().map(|c| c.op)) {
            unary_f32(Isa::Scalar, op, &xs, &mut base);
            unary_f32(isa, op, &xs, &mut other);
            for ((&x, &a), &b) in xs.iter().zip(&base).zip(&other) {
                // GELU cancels (1 + tanh → 0) for negative x: there the bound is in ulp of x.
                let close = (a - b).abs() <= 2.0 * f32::EPSILON * x.abs();
                assert!(
                    ulps(a, b) <= 2 || close,
                    "{op:?} at {}: {a:e} vs {b:e} at {x:e}",
                    isa.name()
                );
            }
        }
        for op in grads {
            backward_f32(Isa::Scalar, op, &g, &xs, &mut base);
            backward_f32(isa, op, &g, &xs, &mut other);
            for ((&x, &a), &b) in xs.iter().zip(&base).zip(&other) {
                assert!(
                    ulps(a, b) <= 2 || (a - b).abs() <= 1e-6,
                    "{op:?} at {}: {a:e} vs {b:e} at {x:e}",
                    isa.name()
                );
            }
        }
    }
}

/// The forwards that also compute the derivative (GELU's two forms, SiLU) give, at
/// every level, the forward's values and the derivative whose product with any incoming
/// gradient is the gradient kernel's, bit for bit (NaN where they give NaN): the backward that
/// multiplies by it returns the same gradients.
#[test]
fn forwards_with_their_derivative_are_the_forward_and_gradient_kernels_bit_for_bit() {
    let (xs, g) = inputs_and_gradients();
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let (mut value, mut derivative) = (vec![0.0f32; xs.len()], vec![0.0f32; xs.len()]);
    let (mut forward, mut backward) = (vec![0.0f32; xs.len()], vec![0.0f32; xs.len()]);
    let pairs = [
        (WithDerivative::GeluTanh, Unary::GeluTanh, Backward::GeluTanh),
        (WithDerivative::GeluErf, Unary::GeluErf, Backward::GeluErf),
        (WithDerivative::Silu, Unary::Silu, Backward::Silu),
    ];
    for isa in levels() {
        for (fused, unary, grad) in pairs {
            super::map::with_derivative_f32(isa, fused, &xs, as_uninit(&mut value), as_uninit(&mut derivative));
            unary_f32(isa, unary, &xs, &mut forward);
            backward_f32(isa, grad, &g, &xs, &mut backward);
            for (k, &x) in xs.iter().enumerate() {
                let name = isa.name();
                assert!(
                    same(value[k], forward[k]),
                    "{fused:?} at {name}, x = {x:e}: {:e} vs {:e}",
                    value[k],
                    forward[k]
                );
                let product = g[k] * derivative[k];
                assert!(
                    same(product, backward[k]),
                    "{fused:?}' at {name}, x = {x:e}: {product:e} vs {:e}",
                    backward[k]
                );
            }
        }
    }
}
