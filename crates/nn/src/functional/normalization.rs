//! `layer_norm` and `batch_norm`, as `F.layer_norm` and `F.batch_norm`.
//!
//! Both normalize with batch or row statistics through one op with its own gradient
//! (`layer_norm_op.rs`, `batch_norm_op.rs`); batch norm in evaluation, an affine map per
//! channel, is written with differentiable `Var` ops.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};

use super::batch_norm_op::fused_batch_norm_train;
use super::layer_norm_op::fused_layer_norm;

/// `(x - mean) / √(var + eps) · weight + bias` over the trailing dimensions `normalized_shape`,
/// as `F.layer_norm(input, normalized_shape, weight, bias, eps)`: `mean` and the *biased*
/// variance `var` are taken over those dimensions, separately for every leading index.
/// `weight` and `bias` (optional) have shape `normalized_shape`.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::functional::layer_norm;
/// use ferrograd_tensor::Tensor;
///
/// let x = Var::new(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?);
/// let y = layer_norm(&x, &[2], None, None, 0.0)?;
/// assert_eq!(y.to_tensor().to_vec(), [-1.0, 1.0, -1.0, 1.0]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn layer_norm<T: Float>(
    input: &Var<T>,
    normalized_shape: &[usize],
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: f64,
) -> Result<Var<T>> {
    let shape = input.shape();
    let lead = shape.len().checked_sub(normalized_shape.len());
    if lead.is_none_or(|lead| shape[lead..] != *normalized_shape) {
        let trailing: String = normalized_shape.iter().map(|n| format!(", {n}")).collect();
        return Err(Error::invalid(
            "layer_norm",
            format!(
                "Given normalized_shape={normalized_shape:?}, expected input with shape [*{trailing}], but got input of size{shape:?}"
            ),
        ));
    }
    for (name, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p.filter(|p| p.shape() != normalized_shape) {
            return Err(Error::invalid(
                "layer_norm",
                format!(
                    "Expected {name} to be of same shape as normalized_shape, but got {name} of shape {:?} and normalized_shape = {normalized_shape:?}",
                    p.shape()
                ),
            ));
        }
    }
    let lead = lead.unwrap_or(0);
    let rows: usize = shape[..lead].iter().product();
    let k: usize = normalized_shape.iter().product();
    fused_layer_norm(input, rows, k, weight, bias, T::of(eps))
}

/// Batch normalization over the channel dimension 1 of `input` (`(N, C)`, `(N, C, L)`,
/// `(N, C, H, W)`, ...), as `F.batch_norm(input, running_mean, running_var, weight, bias,
/// training, momentum, eps)`: `(x - mean) / √(var + eps) · weight + bias`, per channel.
///
/// - `training`: `mean` and the *biased* variance `var` of the batch (over every dimension but
///   1); the running statistics, if given, are updated in place with
///   `running = (1 - momentum)·running + momentum·batch`, where the batch variance is the
///   *unbiased* one. The update is not part of the graph.
/// - otherwise: `mean` and `var` are `running_mean` and `running_var`, which must be given.
///
/// Errors, in PyTorch's words, when a channel has a single value in training, when a running
/// statistic, `weight` or `bias` does not have `C` elements, or when a running statistic is
/// missing in evaluation. Nothing is updated on error.
#[allow(clippy::too_many_arguments)] // PyTorch's signature, argument for argument.
pub fn batch_norm<T: Float>(
    input: &Var<T>,
    running_mean: Option<&mut Tensor<T>>,
    running_var: Option<&mut Tensor<T>>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Var<T>> {
    let shape = input.shape();
    if shape.len() < 2 {
        return Err(Error::invalid(
            "batch_norm",
            format!("expected an input of at least 2 dimensions (N, C, ...), got input of size {shape:?}"),
        ));
    }
    let (n, c) = (shape[0], shape[1]);
    let l: usize = shape[2..].iter().product();
    if training && n * l == 1 {
        return Err(Error::invalid(
            "batch_norm",
            format!(
                "Expected more than 1 value per channel when training, got input size {}",
                torch_size(&shape)
            ),
        ));
    }
    let numels = [
        ("running_mean", running_mean.as_ref().map(|t| t.numel())),
        ("running_var", running_var.as_ref().map(|t| t.numel())),
        ("weight", weight.map(Var::numel)),
        ("bias", bias.map(Var::numel)),
    ];
    for (i, (name, numel)) in numels.into_iter().enumerate() {
        match numel {
            Some(numel) if numel != c => {
                return Err(Error::invalid(
                    "batch_norm",
                    format!("{name} should contain {c} elements not {numel}"),
                ))
            }
            None if i < 2 && !training => {
                return Err(Error::invalid(
                    "batch_norm",
                    format!("{name} must be defined in evaluation mode"),
                ))
            }
            _ => {}
        }
    }

    let per_channel = [1, c, 1];
    match (training, running_mean, running_var) {
        (false, Some(mean), Some(var)) => {
            let x = input.reshape(&[n, c, l])?;
            let mean = Var::new(mean.reshape(&per_channel)?);
            let rstd = Var::new(var.add_scalar(T::of(eps)).reshape(&per_channel)?).rsqrt();
            let mut y = x.try_sub(&mean)?.try_mul(&rstd)?;
            if let Some(w) = weight {
                y = y.try_mul(&w.reshape(&per_channel)?)?;
            }
            if let Some(b) = bias {
                y = y.try_add(&b.reshape(&per_channel)?)?;
            }
            y.reshape(&shape)
        }
        (_, running_mean, running_var) => {
            let (y, mean, var) = fused_batch_norm_train(input, [n, c, l], weight, bias, T::of(eps))?;
            if training && n * l > 0 {
                let m = T::of(momentum);
                let keep = T::one() - m;
                let unbiased = T::of((n * l) as f64 / (n * l - 1) as f64);
                if let Some(rm) = running_mean {
                    let batch = mean.reshape(rm.shape())?;
                    *rm = rm.zip_map(&batch, "batch_norm", |r, b| keep * r + m * b)?;
                }
                if let Some(rv) = running_var {
                    let batch = var.reshape(rv.shape())?;
                    *rv = rv.zip_map(&batch, "batch_norm", |r, b| keep * r + m * (b * unbiased))?;
                }
            }
            Ok(y)
        }
    }
}

/// A shape as PyTorch prints it in messages: `torch.Size([1, 3])`.
fn torch_size(shape: &[usize]) -> String {
    format!("torch.Size({shape:?})")
}
