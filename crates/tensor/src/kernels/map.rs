//! Elementwise kernels over slices: a function of one slice ([`Unary`]: `tanh`, `sigmoid`,
//! `exp`, `log`, `erf`, GELU, SiLU, softplus, `pow` with a number), a gradient from the
//! incoming gradient and one saved slice ([`Backward`]), and a function with its derivative
//! ([`WithDerivative`]: GELU, SiLU), each one pass. The three read the same function of
//! `math.rs`, so a gradient is the same whether its derivative came from the forward or not.
//!
//! In `f32` the loops run the branch-free functions of `math.rs`, compiled three times on
//! x86-64 (baseline SSE2, AVX2 with FMA, AVX-512) and picked by [`crate::cpu::isa`]: LLVM
//! vectorizes each loop for that width. Levels differ by the rounding of fused multiply-adds
//! only: results are within the stated ulp of the exact values at every level, and within
//! 2 ulp of each other. In `f64` the loops call `std`'s functions (as before, and as the
//! gradient checks need them), compiled by `wide`.

use std::mem::MaybeUninit;

use super::math;
use super::wide;
use crate::cpu::Isa;
use crate::parallel::{filled_vec, for_each_block_pair_mut, output_buffer};
use crate::Float;

/// A function of one tensor, computed by [`MapKernels::unary`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// The error function.
    Erf,
    /// `x·σ(x)`.
    Silu,
    /// GELU's tanh form, with `β = √(2/π)` and `κ = 0.044715`.
    GeluTanh,
    /// Exact GELU, `x·Φ(x)`.
    GeluErf,
    /// `ln(1 + e^(βx))/β`, and `x` where `βx > threshold`.
    Softplus {
        /// `β`.
        beta: f64,
        /// Above this `βx` the result is `x`.
        threshold: f64,
    },
    /// `x^p`.
    Powf(f64),
    /// `ln σ(x) = min(x, 0) - ln(1 + e^-|x|)`.
    LogSigmoid,
    /// `x` where `x > 0`, else `α·(e^x - 1)`.
    Elu {
        /// `α`.
        alpha: f64,
    },
}

/// A gradient `g·f'` from the incoming gradient `g` and one saved tensor (the op's output for
/// `Tanh` and `Sigmoid`, its input for the others), computed by [`MapKernels::backward`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backward {
    /// `g·(1 - y²)` from the output `y`.
    Tanh,
    /// `g·(1 - y)·y` from the output `y`.
    Sigmoid,
    /// `g·silu'(x)`.
    Silu,
    /// `g·gelu'(x)` of the tanh form.
    GeluTanh,
    /// `g·gelu'(x)` of exact GELU.
    GeluErf,
    /// `g·(e^x·α)` where `x ≤ 0`, else `g` (at NaN too).
    Elu {
        /// `α`.
        alpha: f64,
    },
    /// `g·σ(βx)` (as `g·z/(z + 1)`, `z = e^(βx)`), and `g` where `βx > threshold`.
    Softplus {
        /// `β`.
        beta: f64,
        /// Above this `βx` the gradient passes unchanged.
        threshold: f64,
    },
}

/// A function and its derivative in one pass, computed by
/// [`MapKernels::with_derivative_into`]: for an op whose backward would otherwise compute the
/// function's costly part (`tanh`, `erf`, `exp`) again from the input, as those of GELU and
/// SiLU do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WithDerivative {
    /// GELU's tanh form and `gelu'`.
    GeluTanh,
    /// Exact GELU and `gelu'`.
    GeluErf,
    /// SiLU and `σ(x)(1 + x(1 - σ(x)))`.
    Silu,
}

/// `√(2/π)` and `0.044715`, GELU's tanh-form constants (PyTorch's `kBeta` and `kKappa`).
const GELU_BETA: f64 = 0.797_884_560_802_865_4;
const GELU_KAPPA: f64 = 0.044_715;

/// Element types with elementwise kernels: `f32` (vectorized, per instruction set) and `f64`.
///
/// The kernels write each element of `out` once and read none, so `out` may be memory that was
/// never initialized (`unary_into`, `backward_into`): a new buffer need not be cleared first.
pub trait MapKernels: Sized + Copy {
    /// `out[k] = op(x[k])` (the slices are as long as each other), every element written.
    fn unary_into(op: Unary, x: &[Self], out: &mut [MaybeUninit<Self>]);

    /// `out[k] = op(g[k], saved[k])` (the slices are as long as each other), every element
    /// written.
    fn backward_into(op: Backward, g: &[Self], saved: &[Self], out: &mut [MaybeUninit<Self>]);

    /// `out[k]` and `derivative[k]` the function `op` and its derivative at `x[k]` (the three
    /// slices as long as each other), every element of both written: the same values as
    /// [`unary_into`](MapKernels::unary_into), and the derivative that the gradient kernel
    /// multiplies the incoming gradient by.
    fn with_derivative_into(
        op: WithDerivative,
        x: &[Self],
        out: &mut [MaybeUninit<Self>],
        derivative: &mut [MaybeUninit<Self>],
    );

    /// [`unary_into`](MapKernels::unary_into) over values that exist.
    fn unary(op: Unary, x: &[Self], out: &mut [Self]) {
        Self::unary_into(op, x, as_uninit(out))
    }

    /// [`backward_into`](MapKernels::backward_into) over values that exist.
    fn backward(op: Backward, g: &[Self], saved: &[Self], out: &mut [Self]) {
        Self::backward_into(op, g, saved, as_uninit(out))
    }
}

/// The kernels (and `Tensor::map`'s closures) hand work to threads in blocks of this many
/// values.
pub(crate) const KERNEL_BLOCK: usize = 1 << 14;

/// `op` of every value of `x`, in a new buffer that is not cleared first (the kernel writes
/// every value), in blocks shared between threads when `x` is big.
pub(crate) fn unary_vec<T: Float>(op: Unary, x: &[T]) -> Vec<T> {
    // SAFETY: `unary_into` writes every element of its block.
    unsafe {
        filled_vec(x.len(), KERNEL_BLOCK, KERNEL_BLOCK, |i, out| {
            T::unary_into(op, &x[i * KERNEL_BLOCK..][..out.len()], out)
        })
    }
}

/// The gradient `op(g, saved)` of every value, as [`unary_vec`]; the slices are as long as
/// each other.
pub(crate) fn backward_vec<T: Float>(op: Backward, g: &[T], saved: &[T]) -> Vec<T> {
    assert_eq!(g.len(), saved.len(), "backward: gradient and saved lengths differ");
    // SAFETY: `backward_into` writes every element of its block.
    unsafe {
        filled_vec(g.len(), KERNEL_BLOCK, KERNEL_BLOCK, |i, out| {
            let at = i * KERNEL_BLOCK..i * KERNEL_BLOCK + out.len();
            T::backward_into(op, &g[at.clone()], &saved[at], out)
        })
    }
}

/// `op` and its derivative at every value of `x`, in two new buffers not cleared first, as
/// [`unary_vec`].
pub(crate) fn with_derivative_vecs<T: Float>(op: WithDerivative, x: &[T]) -> (Vec<T>, Vec<T>) {
    let (mut out, mut derivative) = (output_buffer::<T>(x.len()), output_buffer::<T>(x.len()));
    for_each_block_pair_mut(
        &mut out.spare_capacity_mut()[..x.len()],
        KERNEL_BLOCK,
        &mut derivative.spare_capacity_mut()[..x.len()],
        KERNEL_BLOCK,
        KERNEL_BLOCK,
        |i, out, derivative| T::with_derivative_into(op, &x[i * KERNEL_BLOCK..][..out.len()], out, derivative),
    );
    // SAFETY: the blocks cover `0..len` of both, and `with_derivative_into` wrote every element
    // of each block.
    unsafe {
        out.set_len(x.len());
        derivative.set_len(x.len());
    }
    (out, derivative)
}

/// Initialized values seen as possibly uninitialized, for the kernels of this file, which only
/// ever write initialized values through it.
pub(crate) fn as_uninit<T: Copy>(values: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout. Writing an uninitialized value through the
    // result would leave `values` holding one; the kernels here write only `MaybeUninit::write`
    // of computed values.
    unsafe { &mut *(values as *mut [T] as *mut [MaybeUninit<T>]) }
}

impl MapKernels for f32 {
    fn unary_into(op: Unary, x: &[f32], out: &mut [MaybeUninit<f32>]) {
        unary_f32(crate::cpu::isa(), op, x, out)
    }

    fn backward_into(op: Backward, g: &[f32], saved: &[f32], out: &mut [MaybeUninit<f32>]) {
        backward_f32(crate::cpu::isa(), op, g, saved, out)
    }

    fn with_derivative_into(
        op: WithDerivative,
        x: &[f32],
        out: &mut [MaybeUninit<f32>],
        derivative: &mut [MaybeUninit<f32>],
    ) {
        with_derivative_f32(crate::cpu::isa(), op, x, out, derivative)
    }
}

/// [`MapKernels::unary_into`] in `f32` at a given instruction set (one the CPU has).
pub(crate) fn unary_f32(isa: Isa, op: Unary, x: &[f32], out: &mut [MaybeUninit<f32>]) {
    assert_eq!(x.len(), out.len(), "unary: input and output lengths differ");
    #[cfg(target_arch = "x86_64")]
    match isa.min(crate::cpu::detected()) {
        // SAFETY: the CPU has the instruction set (it is at most the detected one).
        Isa::Avx512 => return unsafe { x86::unary_512(op, x, out) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { x86::unary_avx2(op, x, out) },
        Isa::Scalar => {}
    }
    let _ = isa;
    unary_loop::<false>(op, x, out)
}

/// [`MapKernels::backward_into`] in `f32` at a given instruction set (one the CPU has).
pub(crate) fn backward_f32(isa: Isa, op: Backward, g: &[f32], saved: &[f32], out: &mut [MaybeUninit<f32>]) {
    assert!(
        g.len() == out.len() && saved.len() == out.len(),
        "backward: gradient, saved and output lengths differ"
    );
    #[cfg(target_arch = "x86_64")]
    match isa.min(crate::cpu::detected()) {
        // SAFETY: the CPU has the instruction set (it is at most the detected one).
        Isa::Avx512 => return unsafe { x86::backward_512(op, g, saved, out) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { x86::backward_avx2(op, g, saved, out) },
        Isa::Scalar => {}
    }
    let _ = isa;
    backward_loop::<false>(op, g, saved, out)
}

/// [`MapKernels::with_derivative_into`] in `f32` at a given instruction set (one the CPU has).
pub(crate) fn with_derivative_f32(
    isa: Isa,
    op: WithDerivative,
    x: &[f32],
    out: &mut [MaybeUninit<f32>],
    derivative: &mut [MaybeUninit<f32>],
) {
    assert!(
        out.len() == x.len() && derivative.len() == x.len(),
        "with_derivative: input, output and derivative lengths differ"
    );
    #[cfg(target_arch = "x86_64")]
    match isa.min(crate::cpu::detected()) {
        // SAFETY: the CPU has the instruction set (it is at most the detected one).
        Isa::Avx512 => return unsafe { x86::with_derivative_512(op, x, out, derivative) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { x86::with_derivative_avx2(op, x, out, derivative) },
        Isa::Scalar => {}
    }
    let _ = isa;
    with_derivative_loop::<false>(op, x, out, derivative)
}

/// `out[k] = f(x[k])`: one loop per function, so that each is vectorized on its own.
#[inline(always)]
fn each<T: Copy>(x: &[T], out: &mut [MaybeUninit<T>], f: impl Fn(T) -> T) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(f(v));
    }
}

/// `out[k] = f(g[k], s[k])`.
#[inline(always)]
fn each2<T: Copy>(g: &[T], s: &[T], out: &mut [MaybeUninit<T>], f: impl Fn(T, T) -> T) {
    for ((o, &g), &s) in out.iter_mut().zip(g).zip(s) {
        o.write(f(g, s));
    }
}

/// `(out[k], derivative[k]) = f(x[k])`.
#[inline(always)]
fn each_pair<T: Copy>(x: &[T], out: &mut [MaybeUninit<T>], derivative: &mut [MaybeUninit<T>], f: impl Fn(T) -> (T, T)) {
    for ((o, d), &v) in out.iter_mut().zip(derivative.iter_mut()).zip(x) {
        let (value, slope) = f(v);
        o.write(value);
        d.write(slope);
    }
}

/// A closure inlined into the loop it is passed to. Left out of line, as the compiler may leave
/// a long one, it is compiled for the baseline, without the CPU's vectors or fused
/// multiply-adds (`f32::mul_add` then calls `fmaf`): softplus, log σ and exact GELU's gradient
/// took 26-38 ns per value that way, against 0.5-0.7 inlined (100 K values, two threads).
macro_rules! inlined {
    (|$($arg:ident),+| $body:expr) => {
        #[inline(always)]
        |$($arg),+| $body
    };
}

#[inline(always)]
fn unary_loop<const FMA: bool>(op: Unary, x: &[f32], out: &mut [MaybeUninit<f32>]) {
    let (beta, kappa) = (GELU_BETA as f32, GELU_KAPPA as f32);
    match op {
        Unary::Exp => each(x, out, inlined!(|v| math::exp::<FMA>(v))),
        Unary::Log => each(x, out, inlined!(|v| math::log::<FMA>(v))),
        Unary::Tanh => each(x, out, inlined!(|v| math::tanh::<FMA>(v))),
        Unary::Sigmoid => each(x, out, inlined!(|v| math::sigmoid::<FMA>(v))),
        Unary::Erf => each(x, out, inlined!(|v| math::erf::<FMA>(v))),
        Unary::LogSigmoid => each(x, out, inlined!(|v| math::log_sigmoid::<FMA>(v))),
        Unary::Elu { alpha } => {
            let a = alpha as f32;
            each(
                x,
                out,
                inlined!(|v| if v > 0.0 { v } else { a * math::expm1::<FMA>(v) }),
            )
        }
        Unary::Silu => each(x, out, inlined!(|v| math::silu::<FMA>(v).0)),
        Unary::GeluTanh => each(x, out, inlined!(|v| math::gelu_tanh::<FMA>(v, beta, kappa).0)),
        Unary::GeluErf => each(x, out, inlined!(|v| math::gelu_erf::<FMA>(v).0)),
        Unary::Softplus { beta, threshold } => {
            let (b, t) = (beta as f32, threshold as f32);
            if b == 1.0 {
                // The default β: a loop whose division by β the compiler drops (`y / 1 = y`).
                each(x, out, inlined!(|v| math::softplus::<FMA>(v, 1.0, t)))
            } else {
                each(x, out, inlined!(|v| math::softplus::<FMA>(v, b, t)))
            }
        }
        // The exponents PyTorch's `pow` computes by multiplication or square root, and 0 and 1,
        // which it answers with ones and a copy.
        Unary::Powf(p) => match p {
            0.0 => each(x, out, inlined!(|_v| 1.0)),
            1.0 => each(x, out, inlined!(|v| v)),
            2.0 => each(x, out, inlined!(|v| v * v)),
            3.0 => each(x, out, inlined!(|v| v * v * v)),
            0.5 => each(x, out, inlined!(|v| v.sqrt())),
            -0.5 => each(x, out, inlined!(|v| 1.0 / v.sqrt())),
            -1.0 => each(x, out, inlined!(|v| 1.0 / v)),
            -2.0 => each(x, out, inlined!(|v| 1.0 / (v * v))),
            // Other exponents, as PyTorch rounded to `f32`: the vectorized `pow`, or libm's
            // for an infinite, NaN or huge one.
            p => match math::Exponent::new(p as f32) {
                Some(e) => each(x, out, inlined!(|v| math::pow::<FMA>(v, e))),
                None => {
                    let p = p as f32;
                    each(x, out, inlined!(|v| v.powf(p)))
                }
            },
        },
    }
}

#[inline(always)]
fn backward_loop<const FMA: bool>(op: Backward, g: &[f32], s: &[f32], out: &mut [MaybeUninit<f32>]) {
    let (beta, kappa) = (GELU_BETA as f32, GELU_KAPPA as f32);
    match op {
        Backward::Tanh => each2(g, s, out, inlined!(|g, y| g * (1.0 - y * y))),
        Backward::Sigmoid => each2(g, s, out, inlined!(|g, y| g * (1.0 - y) * y)),
        Backward::Silu => each2(g, s, out, inlined!(|g, x| g * math::silu::<FMA>(x).1)),
        Backward::GeluTanh => each2(g, s, out, inlined!(|g, x| g * math::gelu_tanh::<FMA>(x, beta, kappa).1)),
        Backward::GeluErf => each2(g, s, out, inlined!(|g, x| g * math::gelu_erf::<FMA>(x).1)),
        Backward::Elu { alpha } => {
            let a = alpha as f32;
            each2(
                g,
                s,
                out,
                inlined!(|g, x| if x > 0.0 || x.is_nan() {
                    g
                } else {
                    g * (math::exp::<FMA>(x) * a)
                }),
            )
        }
        Backward::Softplus { beta, threshold } => {
            let (b, t) = (beta as f32, threshold as f32);
            each2(g, s, out, inlined!(|g, x| math::softplus_backward::<FMA>(g, x, b, t)))
        }
    }
}

#[inline(always)]
fn with_derivative_loop<const FMA: bool>(
    op: WithDerivative,
    x: &[f32],
    out: &mut [MaybeUninit<f32>],
    derivative: &mut [MaybeUninit<f32>],
) {
    let (beta, kappa) = (GELU_BETA as f32, GELU_KAPPA as f32);
    match op {
        WithDerivative::GeluTanh => each_pair(x, out, derivative, inlined!(|v| math::gelu_tanh::<FMA>(v, beta, kappa))),
        WithDerivative::GeluErf => each_pair(x, out, derivative, inlined!(|v| math::gelu_erf::<FMA>(v))),
        WithDerivative::Silu => each_pair(x, out, derivative, inlined!(|v| math::silu::<FMA>(v))),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The loops compiled for AVX2 with FMA and for AVX-512.

    use std::mem::MaybeUninit;

    use super::{Backward, Unary, WithDerivative};

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn unary_avx2(op: Unary, x: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::unary_loop::<true>(op, x, out)
    }

    /// # Safety
    /// The CPU must support AVX-512F (with AVX2 and FMA).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn unary_512(op: Unary, x: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::unary_loop::<true>(op, x, out)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward_avx2(op: Backward, g: &[f32], s: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::backward_loop::<true>(op, g, s, out)
    }

    /// # Safety
    /// The CPU must support AVX-512F (with AVX2 and FMA).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn backward_512(op: Backward, g: &[f32], s: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::backward_loop::<true>(op, g, s, out)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn with_derivative_avx2(
        op: WithDerivative,
        x: &[f32],
        out: &mut [MaybeUninit<f32>],
        derivative: &mut [MaybeUninit<f32>],
    ) {
        super::with_derivative_loop::<true>(op, x, out, derivative)
    }

    /// # Safety
    /// The CPU must support AVX-512F (with AVX2 and FMA).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn with_derivative_512(
        op: WithDerivative,
        x: &[f32],
        out: &mut [MaybeUninit<f32>],
        derivative: &mut [MaybeUninit<f32>],
    ) {
        super::with_derivative_loop::<true>(op, x, out, derivative)
    }
}

/// `σ(x)` in `f64`, without overflow for large negative `x`.
fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// GELU's tanh form and its derivative in `f64`, as [`math::gelu_tanh`] in `f32`.
fn gelu_tanh_f64(x: f64) -> (f64, f64) {
    let (beta, kappa) = (GELU_BETA, GELU_KAPPA);
    let x_sq = x * x;
    let t = (beta * (x + kappa * (x_sq * x))).tanh();
    let slope = beta * (1.0 + 3.0 * kappa * x_sq);
    (0.5 * x * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * slope)
}

/// Exact GELU and its derivative in `f64`, as [`math::gelu_erf`] in `f32`.
fn gelu_erf_f64(x: f64) -> (f64, f64) {
    let one_plus_erf = 1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2);
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (x * 0.5 * one_plus_erf, 0.5 * one_plus_erf + x * pdf)
}

/// SiLU and its derivative in `f64`, as [`math::silu`] in `f32` (`σ` without overflow).
fn silu_f64(x: f64) -> (f64, f64) {
    let s = sigmoid_f64(x);
    (x / (1.0 + (-x).exp()), s * (1.0 + x * (1.0 - s)))
}

impl MapKernels for f64 {
    fn unary_into(op: Unary, x: &[f64], out: &mut [MaybeUninit<f64>]) {
        assert_eq!(x.len(), out.len(), "unary: input and output lengths differ");
        match op {
            Unary::Exp => each(x, out, f64::exp),
            Unary::Log => each(x, out, f64::ln),
            Unary::Tanh => each(x, out, f64::tanh),
            Unary::Sigmoid => each(x, out, sigmoid_f64),
            Unary::Erf => each(x, out, libm::erf),
            Unary::LogSigmoid => each(x, out, |v| v.min(0.0) - (-v.abs()).exp().ln_1p()),
            Unary::Elu { alpha } => each(x, out, |v| if v > 0.0 { v } else { alpha * v.exp_m1() }),
            Unary::Silu => each(x, out, |v| silu_f64(v).0),
            Unary::GeluTanh => each(x, out, |v| gelu_tanh_f64(v).0),
            Unary::GeluErf => each(x, out, |v| gelu_erf_f64(v).0),
            Unary::Softplus { beta, threshold } => each(x, out, |v| {
                if v * beta > threshold {
                    v
                } else {
                    (v * beta).exp().ln_1p() / beta
                }
            }),
            Unary::Powf(p) => each(x, out, |v| v.powf(p)),
        }
    }

    fn with_derivative_into(
        op: WithDerivative,
        x: &[f64],
        out: &mut [MaybeUninit<f64>],
        derivative: &mut [MaybeUninit<f64>],
    ) {
        assert!(
            out.len() == x.len() && derivative.len() == x.len(),
            "with_derivative: input, output and derivative lengths differ"
        );
        match op {
            WithDerivative::GeluTanh => each_pair(x, out, derivative, gelu_tanh_f64),
            WithDerivative::GeluErf => each_pair(x, out, derivative, gelu_erf_f64),
            WithDerivative::Silu => each_pair(x, out, derivative, silu_f64),
        }
    }

    fn backward_into(op: Backward, g: &[f64], s: &[f64], out: &mut [MaybeUninit<f64>]) {
        assert!(
            g.len() == out.len() && s.len() == out.len(),
            "backward: gradient, saved and output lengths differ"
        );
        match op {
            Backward::Tanh => wide(
                #[inline(always)]
                || each2(g, s, out, |g, y| g * (1.0 - y * y)),
            ),
            Backward::Sigmoid => wide(
                #[inline(always)]
                || each2(g, s, out, |g, y| g * (1.0 - y) * y),
            ),
            Backward::Silu => each2(g, s, out, |g, x| g * silu_f64(x).1),
            Backward::GeluTanh => each2(g, s, out, |g, x| g * gelu_tanh_f64(x).1),
            Backward::GeluErf => each2(g, s, out, |g, x| g * gelu_erf_f64(x).1),
            Backward::Elu { alpha } => each2(g, s, out, |g, x| {
                if x > 0.0 || x.is_nan() {
                    g
                } else {
                    g * (x.exp() * alpha)
                }
            }),
            Backward::Softplus { beta, threshold } => each2(g, s, out, |g, x| {
                let z = (x * beta).exp();
                if x * beta > threshold {
                    g
                } else {
                    g * z / (z + 1.0)
                }
            }),
        }
    }
}
