//! Elementwise functions of the activation layers and of normalisation: `rsqrt`, `erf`,
//! `pow` with a tensor exponent, `gelu`, `silu`, `softplus`, `elu`.
//!
//! Each computes in the tensor's own type, with the formula PyTorch's CPU kernels use, so
//! that `f32` results agree with PyTorch's to an ulp or two.

use crate::kernels::{with_derivative_vecs, Backward, Unary, WithDerivative};
use crate::{Error, Float, Result, Tensor};

/// `√(2/π)`, the scale inside GELU's tanh form (PyTorch's `kBeta`).
const GELU_BETA: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh form (PyTorch's `kKappa`).
const GELU_KAPPA: f64 = 0.044_715;

/// The two forms of GELU, as the `approximate` argument of `torch.nn.functional.gelu` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeluApproximate {
    /// `"none"`: `x·Φ(x) = 0.5·x·(1 + erf(x/√2))`.
    None,
    /// `"tanh"`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    Tanh,
}

impl GeluApproximate {
    /// `√(2/π)`, the scale inside the tanh form (PyTorch's `kBeta`).
    pub const BETA: f64 = GELU_BETA;
    /// `0.044715`, the cubic coefficient of the tanh form (PyTorch's `kKappa`).
    pub const KAPPA: f64 = GELU_KAPPA;

    /// Reads PyTorch's string: `"none"` or `"tanh"`; anything else is an error in PyTorch's words.
    pub fn parse(approximate: &str) -> Result<Self> {
        match approximate {
            "none" => Ok(Self::None),
            "tanh" => Ok(Self::Tanh),
            other => Err(Error::invalid(
                "gelu",
                format!("approximate argument must be either none or tanh. (got {other:?})"),
            )),
        }
    }
}

impl<T: Float> Tensor<T> {
    /// `1/√x`, as `torch.rsqrt`.
    pub fn rsqrt(&self) -> Self {
        self.map(|x| T::one() / x.sqrt())
    }

    /// The error function, as `torch.erf`: within 2 ulp in `f32` (vectorized), 1 in `f64`
    /// (see [`Float::erf`]).
    pub fn erf(&self) -> Self {
        self.map_kernel(Unary::Erf)
    }

    /// `self ^ exponent` elementwise, broadcasting, as `torch.pow(self, exponent)` (for a
    /// number as exponent see [`powf`](Tensor::powf)).
    pub fn pow(&self, exponent: &Self) -> Result<Self> {
        self.zip_map(exponent, "pow", |x, p| x.powf(p))
    }

    /// GELU, `approximate` `"none"` (the exact `x·Φ(x)`) or `"tanh"`, as
    /// `torch.nn.functional.gelu`.
    pub fn gelu(&self, approximate: &str) -> Result<Self> {
        Ok(match GeluApproximate::parse(approximate)? {
            GeluApproximate::None => self.map_kernel(Unary::GeluErf),
            GeluApproximate::Tanh => self.map_kernel(Unary::GeluTanh),
        })
    }

    /// GELU and its derivative `gelu'(self)`, in one pass that computes each value's `tanh` or
    /// `erf` once: the values of [`gelu`](Tensor::gelu), and the tensor that
    /// [`gelu_backward`](Tensor::gelu_backward) multiplies the incoming gradient by (`g` times
    /// it is that gradient, bit for bit). What a forward that will be differentiated computes,
    /// so that its backward is one multiplication.
    pub fn gelu_with_derivative(&self, approximate: GeluApproximate) -> (Self, Self) {
        self.with_derivative(match approximate {
            GeluApproximate::None => WithDerivative::GeluErf,
            GeluApproximate::Tanh => WithDerivative::GeluTanh,
        })
    }

    /// SiLU and its derivative `σ(x)(1 + x(1 - σ(x)))` in one pass (one exponential per value),
    /// as [`gelu_with_derivative`](Tensor::gelu_with_derivative): the values of
    /// [`silu`](Tensor::silu), and the tensor `silu_backward` multiplies the incoming gradient by.
    pub fn silu_with_derivative(&self) -> (Self, Self) {
        self.with_derivative(WithDerivative::Silu)
    }

    /// A function and its derivative at every value, in one pass.
    fn with_derivative(&self, op: WithDerivative) -> (Self, Self) {
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("a standard-layout array is one slice");
        let (out, derivative) = with_derivative_vecs(op, x);
        (
            Tensor::from_standard(out, self.shape()),
            Tensor::from_standard(derivative, self.shape()),
        )
    }

    /// GELU's gradient from the incoming gradient `self` and GELU's input, in one pass, as
    /// `torch.ops.aten.gelu_backward(grad_output, input, approximate=...)`: `self·gelu'(input)`
    /// with `gelu'(x) = Φ(x) + x·φ(x)` (exact form) or, with `t = tanh(β(x + κx³))`,
    /// `½(1 + t) + ½x(1 - t²)·β(1 + 3κx²)` (tanh form). An error if the shapes differ.
    pub fn gelu_backward(&self, input: &Self, approximate: GeluApproximate) -> Result<Self> {
        let op = match approximate {
            GeluApproximate::None => Backward::GeluErf,
            GeluApproximate::Tanh => Backward::GeluTanh,
        };
        self.backward_kernel(input, op, "gelu_backward")
    }

    /// `x·σ(x) = x / (1 + e^-x)`, as `torch.nn.functional.silu`.
    pub fn silu(&self) -> Self {
        self.map_kernel(Unary::Silu)
    }

    /// SiLU's gradient from the incoming gradient `self` and SiLU's input, in one pass, as
    /// `torch.ops.aten.silu_backward`: `self·σ(x)(1 + x(1 - σ(x)))`. An error if the shapes
    /// differ.
    pub fn silu_backward(&self, input: &Self) -> Result<Self> {
        self.backward_kernel(input, Backward::Silu, "silu_backward")
    }

    /// `tanh`'s gradient from the incoming gradient `self` and `tanh`'s output, in one pass,
    /// as `torch.ops.aten.tanh_backward`: `self·(1 - output²)`. An error if the shapes differ.
    pub fn tanh_backward(&self, output: &Self) -> Result<Self> {
        self.backward_kernel(output, Backward::Tanh, "tanh_backward")
    }

    /// `sigmoid`'s gradient from the incoming gradient `self` and `sigmoid`'s output, in one
    /// pass, as `torch.ops.aten.sigmoid_backward`: `self·(1 - output)·output`. An error if the
    /// shapes differ.
    pub fn sigmoid_backward(&self, output: &Self) -> Result<Self> {
        self.backward_kernel(output, Backward::Sigmoid, "sigmoid_backward")
    }

    /// Softplus's gradient from the incoming gradient `self` and softplus's input, in one
    /// pass, as `torch.ops.aten.softplus_backward`: `self·σ(βx)`, and `self` where
    /// `βx > threshold`. An error if the shapes differ.
    pub fn softplus_backward(&self, input: &Self, beta: T, threshold: T) -> Result<Self> {
        let op = Backward::Softplus {
            beta: beta.f64(),
            threshold: threshold.f64(),
        };
        self.backward_kernel(input, op, "softplus_backward")
    }

    /// ELU's gradient from the incoming gradient `self` and ELU's input, in one pass, as
    /// `torch.ops.aten.elu_backward`: `self·(eˣ·α)` where `x ≤ 0`, else `self` (at NaN too). An
    /// error if the shapes differ.
    pub fn elu_backward(&self, input: &Self, alpha: T) -> Result<Self> {
        self.backward_kernel(input, Backward::Elu { alpha: alpha.f64() }, "elu_backward")
    }

    /// `log(1 + e^(βx)) / β`, and `x` itself where `βx > threshold`, as
    /// `torch.nn.functional.softplus(x, beta, threshold)` (PyTorch's defaults are 1 and 20).
    pub fn softplus(&self, beta: T, threshold: T) -> Self {
        self.map_kernel(Unary::Softplus {
            beta: beta.f64(),
            threshold: threshold.f64(),
        })
    }

    /// `x` where `x > 0`, else `α·(eˣ - 1)` (computed with `expm1`), as
    /// `torch.nn.functional.elu(x, alpha)` (PyTorch's default `alpha` is 1); in `f32` within 2
    /// ulp of the exact value for `α = 1`.
    pub fn elu(&self, alpha: T) -> Self {
        self.map_kernel(Unary::Elu { alpha: alpha.f64() })
    }
}
