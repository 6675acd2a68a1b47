//! `binary_cross_entropy_with_logits`: one op, its forward and gradient side by side, as
//! PyTorch has it (`aten/src/ATen/native/Loss.cpp`, `derivatives.yaml`).
//!
//! With `lw = 1 + (pw - 1)·t` (1 without `pos_weight`) and `log σ(x) = min(x, 0) -
//! log1p(e^-|x|)`, which stays finite and accurate for logits of any size:
//!
//! ```text
//! l      = w · ((1 - t)·x - lw·log σ(x))
//! ∂l/∂x  = w · (lw·σ(x) - pw·t)              = w · (σ(x) - t)   without pos_weight
//! ∂l/∂t  = w · (log σ(-x) - pw·log σ(x))     = w · (-x)         without pos_weight
//! ```
//!
//! Composing the loss from `Var` ops would give the same values but not the same gradient:
//! `(1 - t) - lw·σ(-x)` cancels to 0 where PyTorch's `σ(x) - t` keeps a tiny value (x = -50).
//! The gradients are written with `Var` ops, so they can be differentiated again.

use ferrograd_autograd::Var;
use ferrograd_tensor::{broadcast_shape, Error, Float, Result, Shape, Tensor};

use crate::Reduction;

const OP: &str = "binary_cross_entropy_with_logits";

/// The binary cross-entropy of logits `input` against probabilities `target` (same shape),
/// as `F.binary_cross_entropy_with_logits`.
///
/// `weight` rescales each element's loss and `pos_weight` the positive term (PyTorch's
/// `pos_weight`, one per class along the last dimension); both must broadcast to the input's
/// shape. Gradients flow to `input` and to `target`.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::{functional::binary_cross_entropy_with_logits, Reduction};
/// use ferrograd_tensor::Tensor;
///
/// let x = Var::parameter(Tensor::from_vec(vec![1e4f32, -1e4, 0.0], &[3])?);
/// let t = Var::new(Tensor::from_vec(vec![0.0, 1.0, 1.0], &[3])?);
/// let loss = binary_cross_entropy_with_logits(&x, &t, None, None, Reduction::None)?;
/// assert_eq!(loss.to_tensor().to_vec(), vec![1e4, 1e4, std::f32::consts::LN_2]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn binary_cross_entropy_with_logits<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    weight: Option<&Tensor<T>>,
    pos_weight: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Result<Var<T>> {
    let shape = input.shape();
    if target.shape() != shape {
        return Err(Error::invalid(
            OP,
            format!(
                "Target size ({}) must be the same as input size ({})",
                Shape(target.shape()),
                Shape(shape)
            ),
        ));
    }
    for w in weight.iter().chain(&pos_weight) {
        if broadcast_shape(OP, w.shape(), &shape)? != shape {
            return Err(Error::Broadcast {
                op: OP,
                lhs: Shape(w.shape().to_vec()),
                rhs: Shape(shape),
            });
        }
    }
    let loss = {
        let (x, t) = (input.value(), target.value());
        let mut log_sigmoid = x.log_sigmoid();
        if let Some(pw) = pos_weight {
            let log_weight = pw.map(|v| v - T::one()).mul(&t)?.add_scalar(T::one());
            log_sigmoid = log_sigmoid.mul(&log_weight)?;
        }
        let loss = t.map(|v| T::one() - v).mul(&x)?.sub(&log_sigmoid)?;
        match weight {
            Some(w) => loss.mul(w)?,
            None => loss,
        }
    };
    let (weight, pos_weight) = (weight.cloned(), pos_weight.cloned());
    let loss = Var::from_op(
        "BinaryCrossEntropyWithLogitsBackward0",
        loss,
        vec![input.clone(), target.clone()],
        move |g, _, xs| {
            let (x, t) = (&xs[0], &xs[1]);
            let pw = pos_weight.clone().map(Var::new);
            let scaled = |d: Var<T>| match &weight {
                Some(w) => d.try_mul(g)?.try_mul(&Var::new(w.clone())),
                None => d.try_mul(g),
            };
            let gx = if x.requires_grad() {
                let d = match &pw {
                    Some(pw) => {
                        let pt = pw.try_mul(t)?;
                        pt.add_scalar(T::one())
                            .try_sub(t)?
                            .try_mul(&x.sigmoid())?
                            .try_sub(&pt)?
                    }
                    None => x.sigmoid().try_sub(t)?,
                };
                Some(scaled(d)?)
            } else {
                None
            };
            let gt = if t.requires_grad() {
                let d = match &pw {
                    Some(pw) => x.neg().log_sigmoid().try_sub(&x.log_sigmoid().try_mul(pw)?)?,
                    None => x.neg(),
                };
                Some(scaled(d)?)
            } else {
                None
            };
            Ok(vec![gx, gt])
        },
    );
    Ok(reduction.apply(loss))
}
