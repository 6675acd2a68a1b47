//! `rsqrt`, `erf`, `pow` with a tensor exponent, and the activation functions GELU, SiLU,
//! Softplus and ELU, each with its derivative as PyTorch's `derivatives.yaml` gives it.
//!
//! Derivatives are written with `Var` ops (piecewise parts with constant masks), so that
//! they can be differentiated again.

use std::f64::consts::PI;

use ferrograd_tensor::{Float, GeluApproximate, Result, Tensor};

use crate::grad_mode::is_grad_enabled;
use crate::ops::arith::unbroadcast;
use crate::ops::unary::times_constant;
use crate::var::Saves;
use crate::Var;

impl<T: Float> Var<T> {
    /// `1/√x`, as `torch.rsqrt`; derivative `-½·out³`.
    pub fn rsqrt(&self) -> Var<T> {
        let out = self.value().rsqrt();
        Var::from_op("RsqrtBackward0", out, [self.clone()], |g, out, _| {
            Ok([Some(g.try_mul(&out.powf(T::of(3.0)).mul_scalar(T::of(-0.5)))?)])
        })
    }

    /// The error function, as `torch.erf`; derivative `2/√π · e^(-x²)`.
    pub fn erf(&self) -> Var<T> {
        let out = self.value().erf();
        Var::from_op("ErfBackward0", out, [self.clone()], |g, _, x| {
            let x = &x[0];
            let d = x.try_mul(x)?.neg().exp().mul_scalar(T::of(2.0 / PI.sqrt()));
            Ok([Some(g.try_mul(&d)?)])
        })
    }

    /// `self ^ exponent` elementwise, broadcasting, as `torch.pow(self, exponent)`.
    ///
    /// Gradients (PyTorch's `pow_backward_self` / `pow_backward_exponent`): for the base
    /// `exponent · self^(exponent-1)`, 0 where the exponent is 0; for the exponent
    /// `out · ln(self)`, 0 where the base is 0 and the exponent non-negative.
    pub fn pow(&self, exponent: &Var<T>) -> Result<Var<T>> {
        let out = self.value().pow(&exponent.value())?;
        Ok(Var::from_op(
            "PowBackward1",
            out,
            [self.clone(), exponent.clone()],
            |g, out, x| {
                let (base, exponent) = (&x[0], &x[1]);
                let gb = if base.requires_grad() {
                    let zero_exponent = exponent.value().eq_scalar(T::zero());
                    let d = exponent.try_mul(&base.pow(&exponent.add_scalar(-T::one()))?)?;
                    let gb = g.try_mul(&d)?.masked_fill(&zero_exponent, T::zero())?;
                    Some(unbroadcast(&gb, base)?)
                } else {
                    None
                };
                let ge = if exponent.requires_grad() {
                    let zero_base = base.value().eq_scalar(T::zero());
                    let nonnegative = exponent.value().to_mask(|p| p >= T::zero());
                    let skip = zero_base.logical_and(&nonnegative)?;
                    let d = out.try_mul(&base.log())?.masked_fill(&skip, T::zero())?;
                    Some(unbroadcast(&g.try_mul(&d)?, exponent)?)
                } else {
                    None
                };
                Ok([gb, ge])
            },
        ))
    }

    /// GELU, `approximate` `"none"` or `"tanh"` (anything else is an error), as
    /// `torch.nn.functional.gelu`.
    ///
    /// Gradient: `g · gelu'(x)`. When the op is recorded, the forward computes `gelu'(x)`
    /// beside the values, from the same `tanh` or `erf` (`Tensor::gelu_with_derivative`), and
    /// keeps it: the backward is then one multiplication, in the incoming gradient's buffer
    /// when nothing else holds it, with the values of PyTorch's `gelu_backward` (which takes
    /// `tanh` or `erf` again). When the gradient is itself recorded, `g` times
    /// `gelu_derivative`, an op with its own gradient.
    pub fn gelu(&self, approximate: &str) -> Result<Var<T>> {
        let form = GeluApproximate::parse(approximate)?;
        if !(is_grad_enabled() && self.requires_grad()) {
            return Ok(Var::new(self.value().gelu(approximate)?));
        }
        let (out, derivative) = self.value().gelu_with_derivative(form);
        Ok(Var::from_op_owned(
            "GeluBackward0",
            Saves::INPUTS,
            out,
            [self.clone()],
            move |g, _, x| {
                if is_grad_enabled() {
                    return Ok([Some(g.try_mul(&x[0].gelu_derivative(derivative.clone(), form))?)]);
                }
                Ok([Some(times_constant(g, &derivative, "gelu_backward", |d| d)?)])
            },
        ))
    }

    /// GELU's derivative `d` at this `Var` (the one its forward computed and kept), as an op
    /// whose own gradient is written with `Var` ops, as PyTorch's `gelu_backward` and its
    /// double backward.
    ///
    /// `"none"`: `gelu'(x) = Φ(x) + x·φ(x)`, `gelu''(x) = φ(x)(2 - x²)`.
    /// `"tanh"`, with `u = β(x + κx³)`, `t = tanh u`, `u' = β(1 + 3κx²)`:
    /// `gelu'(x) = ½(1 + t) + ½x(1 - t²)u'`, `gelu''(x) = (1 - t²)(u' - x·t·u'² + 3βκx²)`.
    fn gelu_derivative(&self, d: Tensor<T>, form: GeluApproximate) -> Var<T> {
        let (half, beta, kappa) = (T::of(0.5), T::of(GeluApproximate::BETA), T::of(GeluApproximate::KAPPA));
        let (inv_sqrt_2pi, three) = (T::of(1.0 / (2.0 * PI).sqrt()), T::of(3.0));
        Var::from_op("GeluBackwardBackward0", d, [self.clone()], move |g, _, x| {
            let x = &x[0];
            let x_sq = x.try_mul(x)?;
            let dd = match form {
                GeluApproximate::None => {
                    let pdf = x_sq.mul_scalar(-half).exp().mul_scalar(inv_sqrt_2pi);
                    pdf.try_mul(&x_sq.neg().add_scalar(T::of(2.0)))?
                }
                GeluApproximate::Tanh => {
                    let u = x.try_add(&x_sq.try_mul(x)?.mul_scalar(kappa))?.mul_scalar(beta);
                    let t = u.tanh();
                    let sech2 = t.try_mul(&t)?.neg().add_scalar(T::one());
                    let slope = x_sq.mul_scalar(three * kappa).add_scalar(T::one()).mul_scalar(beta);
                    let curve = x.try_mul(&t)?.try_mul(&slope.try_mul(&slope)?)?;
                    let rest = slope.try_sub(&curve)?.try_add(&x_sq.mul_scalar(three * beta * kappa))?;
                    sech2.try_mul(&rest)?
                }
            };
            Ok([Some(g.try_mul(&dd)?)])
        })
    }

    /// `x·σ(x)`, as `torch.nn.functional.silu`.
    ///
    /// Gradient: `g · silu'(x)` with `silu'(x) = σ(x)(1 + x(1 - σ(x)))`, computed by the forward
    /// beside the values from the same exponential and kept, when the op is recorded
    /// (`Tensor::silu_with_derivative`), so that the backward is one multiplication, as GELU's;
    /// when the gradient is itself recorded, `g` times `silu'(x)` as an op whose own
    /// derivative, `σ(1 - σ)(2 + x(1 - 2σ))`, is written with `Var` ops.
    pub fn silu(&self) -> Var<T> {
        if !(is_grad_enabled() && self.requires_grad()) {
            return Var::new(self.value().silu());
        }
        let (out, derivative) = self.value().silu_with_derivative();
        Var::from_op_owned("SiluBackward0", Saves::INPUTS, out, [self.clone()], move |g, _, x| {
            if !is_grad_enabled() {
                return Ok([Some(times_constant(g, &derivative, "silu_backward", |d| d)?)]);
            }
            let d = Var::from_op(
                "SiluBackwardBackward0",
                derivative.clone(),
                [x[0].clone()],
                |g, _, x| {
                    let x = &x[0];
                    let s = x.sigmoid();
                    let one_minus = s.neg().add_scalar(T::one());
                    let tail = x.try_mul(&one_minus.try_sub(&s)?)?.add_scalar(T::of(2.0));
                    Ok([Some(g.try_mul(&s.try_mul(&one_minus)?.try_mul(&tail)?)?)])
                },
            );
            Ok([Some(g.try_mul(&d)?)])
        })
    }

    /// `log(1 + e^(βx))/β`, and `x` where `βx > threshold`, as
    /// `torch.nn.functional.softplus(x, beta, threshold)` (defaults 1 and 20).
    ///
    /// Derivative: `σ(βx)`, and exactly 1 where `βx > threshold` (PyTorch's
    /// `softplus_backward`): `g·σ(βx)` in one pass, or with `Var` ops when the gradient is
    /// itself recorded.
    pub fn softplus(&self, beta: T, threshold: T) -> Var<T> {
        let out = self.value().softplus(beta, threshold);
        Var::from_op("SoftplusBackward0", out, [self.clone()], move |g, _, x| {
            if !is_grad_enabled() && g.shape() == x[0].shape() {
                return Ok([Some(Var::new(g.value().softplus_backward(
                    &x[0].value(),
                    beta,
                    threshold,
                )?))]);
            }
            let above = x[0].value().to_mask(|v| v * beta > threshold);
            let d = x[0].mul_scalar(beta).sigmoid().masked_fill(&above, T::one())?;
            Ok([Some(g.try_mul(&d)?)])
        })
    }

    /// `x` where `x > 0`, else `α(eˣ - 1)`, as `torch.nn.functional.elu(x, alpha)`.
    ///
    /// Derivative: `α·eˣ` (= `out + α`) where `x <= 0`, else 1 (also at NaN, as PyTorch's
    /// `elu_backward`); its own derivative is 0 at `x = 0`, as PyTorch's `elu_double_backward`.
    pub fn elu(&self, alpha: T) -> Var<T> {
        let out = self.value().elu(alpha);
        Var::from_op("EluBackward0", out, [self.clone()], move |g, _, x| {
            if !is_grad_enabled() && g.shape() == x[0].shape() {
                return Ok([Some(Var::new(g.value().elu_backward(&x[0].value(), alpha)?))]);
            }
            let v = x[0].value();
            let (zero, positive) = (v.eq_scalar(T::zero()), v.to_mask(|x| x > T::zero() || x.is_nan()));
            drop(v);
            let d = x[0]
                .exp()
                .mul_scalar(alpha)
                .masked_fill(&zero, alpha)?
                .masked_fill(&positive, T::one())?;
            Ok([Some(g.try_mul(&d)?)])
        })
    }
}
