//! Elementwise functions and their derivatives.
//!
//! Derivatives are written with `Var` ops, so they can be differentiated again. Where a
//! derivative is piecewise constant (relu, abs, clamp, maximum) it is a mask, a constant.

use ferrograd_tensor::{Float, Result, Tensor};

use crate::grad_mode::is_grad_enabled;
use crate::ops::arith::unbroadcast;
use crate::var::Saves;
use crate::Var;

/// The gradient `g·d(s)` for each value `s` of the tensor `saved`, `d` piecewise constant (its
/// own derivative 0, so the product needs no graph through `saved`), or `saved` a derivative
/// the forward kept and the backward not recorded (GELU's and SiLU's): `g` times the constant
/// `d(saved)`, in place in the incoming gradient when nothing else holds it (the same
/// products), one pass instead of two; into a new tensor in one pass when the gradient is a
/// plain value something else holds (a hook, or `backward_with`'s caller). A shape that
/// differs is the error, or the broadcast, of `*`.
pub(super) fn times_constant<T: Float>(
    g: Var<T>,
    saved: &Tensor<T>,
    op: &'static str,
    d: impl Fn(T) -> T + Sync + Send,
) -> Result<Var<T>> {
    if g.value().shape() != saved.shape() {
        return g.try_mul(&Var::new(saved.map(d)));
    }
    let same_shape = "the gradient has the saved tensor's shape (checked)";
    Ok(g.reuse(
        |t| t.zip_assign(saved, op, |g, v| g * d(v)).expect(same_shape),
        |g| {
            if g.requires_grad() && is_grad_enabled() {
                // A recorded gradient (`create_graph`): the product with the constant, recorded.
                g.try_mul(&Var::new(saved.map(&d))).expect(same_shape)
            } else {
                Var::new(g.value().zip_map(saved, op, |g, v| g * d(v)).expect(same_shape))
            }
        },
    ))
}

/// 1 where `pred` holds and 0 elsewhere: the derivative of a step.
fn step<T: Float>(pred: impl Fn(T) -> bool + Sync + Send) -> impl Fn(T) -> T + Sync + Send {
    move |v| if pred(v) { T::one() } else { T::zero() }
}

impl<T: Float> Var<T> {
    /// `e^x`; its derivative is its own output.
    pub fn exp(&self) -> Var<T> {
        let out = self.value().exp();
        Var::from_op_saving("ExpBackward0", Saves::OUTPUT, out, [self.clone()], |g, out, _| {
            Ok([Some(g.try_mul(out)?)])
        })
    }

    /// The natural logarithm; derivative `1/x`.
    pub fn log(&self) -> Var<T> {
        let out = self.value().log();
        Var::from_op_saving("LogBackward0", Saves::INPUTS, out, [self.clone()], |g, _, x| {
            Ok([Some(g.try_div(&x[0])?)])
        })
    }

    /// `x^p`; derivative `p·x^(p-1)`.
    pub fn powf(&self, p: T) -> Var<T> {
        let out = self.value().powf(p);
        Var::from_op_saving("PowBackward0", Saves::INPUTS, out, [self.clone()], move |g, _, x| {
            if p == T::zero() {
                return Ok([Some(g.mul_scalar(T::zero()))]); // as PyTorch: no 0·x^-1 NaN at x = 0
            }
            Ok([Some(g.try_mul(&x[0].powf(p - T::one()).mul_scalar(p))?)])
        })
    }

    /// `√x`; derivative `1/(2√x)`: `g / (2·out)` in one pass (in place in the incoming gradient
    /// when nothing else holds it), or with `Var` ops when the gradient is itself recorded.
    pub fn sqrt(&self) -> Var<T> {
        let out = self.value().sqrt();
        Var::from_op_owned("SqrtBackward0", Saves::OUTPUT, out, [self.clone()], |g, out, _| {
            let two = T::of(2.0);
            if !is_grad_enabled() && g.shape() == out.shape() {
                let (y, same_shape) = (out.value(), "the gradient has the output's shape (checked)");
                let half_over = |g: T, y: T| g / (y * two);
                return Ok([Some(g.reuse(
                    |t| t.zip_assign(&y, "sqrt", half_over).expect(same_shape),
                    |g| Var::new(g.value().zip_map(&y, "sqrt", half_over).expect(same_shape)),
                ))]);
            }
            Ok([Some(g.try_div(&out.mul_scalar(two))?)])
        })
    }

    /// `|x|`; derivative `sign(x)`: 0 at 0 and at NaN, as PyTorch's `sgn`, multiplied into the
    /// gradient in place when nothing else holds it.
    pub fn abs(&self) -> Var<T> {
        let out = self.value().abs();
        Var::from_op_owned("AbsBackward0", Saves::INPUTS, out, [self.clone()], |g, _, x| {
            let sign = |v: T| {
                if v > T::zero() {
                    T::one()
                } else if v < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                }
            };
            Ok([Some(times_constant(g, &x[0].value(), "abs", sign)?)])
        })
    }

    /// `max(x, 0)`; derivative 0 where the output is `<= 0`, else 1: 0 at 0, and 1 at NaN, as
    /// PyTorch's `threshold_backward`. The gradient is multiplied by that mask in place when
    /// nothing else holds it (the same products).
    pub fn relu(&self) -> Var<T> {
        let out = self.value().relu();
        Var::from_op_owned("ReluBackward0", Saves::OUTPUT, out, [self.clone()], |g, out, _| {
            // Not `v <= 0`, as PyTorch: 1 at NaN.
            let positive = step(|v: T| v > T::zero() || v.is_nan());
            Ok([Some(times_constant(g, &out.value(), "relu", positive)?)])
        })
    }

    /// `x` where `x > 0`, else `slope·x`; derivative 1 or `slope` (`slope` at 0, as PyTorch),
    /// multiplied into the gradient in place when nothing else holds it.
    pub fn leaky_relu(&self, slope: T) -> Var<T> {
        // `move`: `slope` in the closure, not a reference to it, which the compiler would read
        // only where `v <= 0` (a gather per vector, 3x the time of ReLU's map).
        let out = self.value().map(move |v| if v > T::zero() { v } else { v * slope });
        Var::from_op_owned(
            "LeakyReluBackward0",
            Saves::INPUTS,
            out,
            [self.clone()],
            move |g, _, x| {
                let slope_of = move |v: T| if v > T::zero() { T::one() } else { slope };
                Ok([Some(times_constant(g, &x[0].value(), "leaky_relu", slope_of)?)])
            },
        )
    }

    /// The hyperbolic tangent; derivative `1 - tanh²`: `g·(1 - out²)` in one pass
    /// (`Tensor::tanh_backward`), or with `Var` ops when the gradient is itself recorded.
    pub fn tanh(&self) -> Var<T> {
        let out = self.value().tanh();
        Var::from_op_saving("TanhBackward0", Saves::OUTPUT, out, [self.clone()], |g, out, _| {
            if is_grad_enabled() || g.shape() != out.shape() {
                return Ok([Some(g.try_mul(&(out.try_mul(out)?.neg().add_scalar(T::one())))?)]);
            }
            Ok([Some(Var::new(g.value().tanh_backward(&out.value())?))])
        })
    }

    /// The logistic function; derivative `σ(1 - σ)`: `g·(1 - out)·out` in one pass
    /// (`Tensor::sigmoid_backward`), or with `Var` ops when the gradient is itself recorded.
    pub fn sigmoid(&self) -> Var<T> {
        let out = self.value().sigmoid();
        Var::from_op_saving("SigmoidBackward0", Saves::OUTPUT, out, [self.clone()], |g, out, _| {
            if is_grad_enabled() || g.shape() != out.shape() {
                return Ok([Some(g.try_mul(&out.try_mul(&out.neg().add_scalar(T::one()))?)?)]);
            }
            Ok([Some(Var::new(g.value().sigmoid_backward(&out.value())?))])
        })
    }

    /// `log σ(x)`, stable for large `|x|`; derivative `σ(-x)`.
    pub fn log_sigmoid(&self) -> Var<T> {
        let out = self.value().log_sigmoid();
        Var::from_op_saving("LogSigmoidBackward0", Saves::INPUTS, out, [self.clone()], |g, _, x| {
            Ok([Some(g.try_mul(&x[0].neg().sigmoid())?)])
        })
    }

    /// Limits to `[min, max]`; the gradient passes where `min < x < max` (0 at a bound), as
    /// `torch.clamp` with number bounds in the reference PyTorch (2.15).
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Var<T> {
        let out = self.value().clamp(min, max);
        Var::from_op_owned("ClampBackward1", Saves::INPUTS, out, [self.clone()], move |g, _, x| {
            // `&`, not `&&`: both bounds read for every value, so the loop has no load that
            // depends on the first test (the compiler made it a gather per vector).
            let inside = step(move |v: T| min.is_none_or(|m| v > m) & max.is_none_or(|m| v < m));
            Ok([Some(times_constant(g, &x[0].value(), "clamp", inside)?)])
        })
    }

    /// The elementwise maximum, broadcasting; on ties the gradient is split in half between
    /// the operands, and an operand gets all of it unless it is the smaller one, as
    /// `torch.maximum` (so both get all of it where either is NaN).
    pub fn maximum(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().maximum(&other.value())?;
        Ok(Var::from_op_saving(
            "MaximumBackward0",
            Saves::INPUTS,
            out,
            [self.clone(), other.clone()],
            |g, _, x| {
                // PyTorch: where(a == b, g / 2, g), then 0 where this operand is the smaller.
                let share_of = |smaller: fn(T, T) -> bool| {
                    x[0].value().zip_map(&x[1].value(), "maximum", |a, b| {
                        if a == b {
                            T::of(0.5)
                        } else if smaller(a, b) {
                            T::zero()
                        } else {
                            T::one()
                        }
                    })
                };
                let share = share_of(|a, b| a < b)?;
                let other_share = share_of(|a, b| a > b)?;
                let ga = unbroadcast(&g.try_mul(&Var::new(share))?, &x[0])?;
                let gb = unbroadcast(&g.try_mul(&Var::new(other_share))?, &x[1])?;
                Ok([Some(ga), Some(gb)])
            },
        ))
    }
}
