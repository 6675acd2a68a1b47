//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};

/// Scales the gradients of `parameters` so that their total norm is at most `max_norm`, and
/// returns the total norm before scaling (`torch.nn.utils.clip_grad_norm_`).
///
/// The total is the `norm_type`-norm of all gradients together, computed as PyTorch does: the
/// norm of each gradient, then the norm of those norms (any `norm_type`, `f64::INFINITY` for
/// the largest magnitude; 0 counts gradients with a non-zero element, as PyTorch's). Every
/// gradient is multiplied by `min(1, max_norm / (total + 1e-6))`, in the gradients' type.
/// Small gradients give PyTorch's total to the last bit; over many elements the order of
/// summation differs from PyTorch's vectorised kernel by a few units in the last place.
/// Parameters without a gradient are skipped; with no gradient at all the total is 0.
///
/// With `error_if_nonfinite`, a NaN or infinite total is an error in PyTorch's words and no
/// gradient changes; without it the gradients are scaled by the non-finite factor.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::utils::clip_grad_norm_;
/// use ferrograd_tensor::Tensor;
///
/// let a = Var::parameter(Tensor::<f64>::zeros(&[3]));
/// let b = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// a.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0, 0.0], &[3])?))?;
/// b.set_grad(Some(Tensor::from_vec(vec![12.0], &[1])?))?;
/// let total = clip_grad_norm_(&[a.clone(), b.clone()], 1.0, 2.0, false)?;
/// assert_eq!(total, 13.0); // √(3² + 4² + 12²)
/// assert!((b.grad().unwrap().to_vec()[0] - 12.0 / 13.0).abs() < 1e-6);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn clip_grad_norm_<T: Float>(
    parameters: &[Var<T>],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<T> {
    let op = "clip_grad_norm_";
    if norm_type.is_nan() {
        return Err(Error::invalid(op, "norm_type is NaN"));
    }
    let grads: Vec<Tensor<T>> = parameters.iter().filter_map(Var::grad).collect();
    if grads.is_empty() {
        return Ok(T::zero());
    }
    let norms = grads
        .iter()
        .map(|g| vector_norm(op, g, norm_type))
        .collect::<Result<Vec<T>>>()?;
    let count = norms.len();
    let total = vector_norm(op, &Tensor::from_vec(norms, &[count])?, norm_type)?;
    if error_if_nonfinite && !total.is_finite() {
        return Err(Error::invalid(
            op,
            format!(
                "The total norm of order {} for gradients from `parameters` is non-finite, so it cannot be clipped. \
                 To disable this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`",
                python_float(norm_type)
            ),
        ));
    }
    // PyTorch's `max_norm / (total + 1e-6)` on a tensor is `reciprocal(total + 1e-6) * max_norm`,
    // then clamped to at most 1 (a NaN stays NaN).
    let coef = T::one() / (total + T::of(1e-6)) * T::of(max_norm);
    let coef = if coef > T::one() { T::one() } else { coef };
    for p in parameters {
        if let Some(g) = p.grad() {
            p.set_grad(Some(g.map(|x| x * coef)))?;
        }
    }
    Ok(total)
}

/// Clamps every gradient of `parameters` to `[-clip_value, clip_value]` in place
/// (`torch.nn.utils.clip_grad_value_`); NaN stays NaN, parameters without a gradient are skipped.
/// A negative `clip_value` sets every element to it, as PyTorch's `clamp` with `min > max`.
pub fn clip_grad_value_<T: Float>(parameters: &[Var<T>], clip_value: f64) -> Result<()> {
    let (lo, hi) = (T::of(-clip_value), T::of(clip_value));
    let clamp = |x: T| {
        if x.is_nan() {
            return x;
        }
        let x = if x < lo { lo } else { x };
        if x > hi {
            hi
        } else {
            x
        }
    };
    for p in parameters {
        if let Some(g) = p.grad() {
            p.set_grad(Some(g.map(clamp)))?;
        }
    }
    Ok(())
}

/// `torch.linalg.vector_norm(x, ord)` as PyTorch computes it on the CPU: the largest or smallest magnitude
/// for ±∞, the number of non-zeros for 0, the magnitude of a single element, else
/// `(Σ|x|^p)^(1/p)` (`√Σx²` for 2).
fn vector_norm<T: Float>(op: &'static str, x: &Tensor<T>, ord: f64) -> Result<T> {
    let magnitudes = x.map(T::abs);
    if ord.is_infinite() {
        // the largest (smallest) magnitude; a NaN anywhere makes the norm NaN
        let pick = |a: T, b: T| match (a.is_nan() || b.is_nan(), ord > 0.0) {
            (true, _) => T::nan(),
            (false, true) => a.max(b),
            (false, false) => a.min(b),
        };
        return magnitudes.to_vec().into_iter().reduce(pick).ok_or_else(|| {
            Error::invalid(
                op,
                format!(
                    "linalg.vector_norm cannot compute the {} norm on an empty tensor because the operation does not have an identity",
                    python_float(ord)
                ),
            )
        });
    }
    // Each term in the element type (so squares overflow and underflow as PyTorch's do),
    // summed in f64 as PyTorch's CPU kernel accumulates, then rounded to the element type.
    let sum = |term: &dyn Fn(T) -> T| magnitudes.to_vec().into_iter().map(|m| term(m).f64()).sum::<f64>();
    Ok(if ord == 0.0 {
        T::of(sum(&|m| if m == T::zero() { m } else { T::one() }))
    } else if magnitudes.numel() == 1 {
        magnitudes.item()? // as PyTorch: the magnitude itself, not (|x|^p)^(1/p)
    } else if ord == 1.0 {
        T::of(sum(&|m| m))
    } else if ord == 2.0 {
        T::of(sum(&|m| m * m).sqrt())
    } else {
        let p = T::of(ord);
        T::of(sum(&|m| m.powf(p)).powf((T::one() / p).f64())) // 1/p in the element type, as PyTorch
    })
}

/// A float as Python prints it in a message: `2.0`, `inf`, `0.5`.
fn python_float(x: f64) -> String {
    if x.is_infinite() {
        (if x > 0.0 { "inf" } else { "-inf" }).to_string()
    } else if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}
