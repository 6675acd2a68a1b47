//! The batch norm op in training: `y = (x - mean)·rstd·w + b` per channel of an `(N, C, L)`
//! input, `mean` and the biased variance `var` over `N` and `L`, `rstd = 1/√(var + eps)`;
//! forward and gradient each a few passes over contiguous rows, no intermediate tensors.
//!
//! Gradient (PyTorch's `batch_norm_backward` in training), with `x̂ = (x - mean)·rstd` and
//! `M` the `N·L` values of a channel:
//! - `x`: `rstd·w · (g - Σg/M - x̂ · Σ(g·x̂)/M)`, sums over the channel;
//! - `w`: `Σ g·x̂`;  `b`: `Σ g`.
//!
//! When the gradient is itself recorded (`create_graph`), the same formula is written with
//! `Var` ops from `x`, so that it can be differentiated again.

use std::rc::Rc;

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_tensor::{output_buffer, wide, Float, Result, Tensor};

use super::lanes::{lane_sum2_rows, lane_sum_rows};

/// The output of batch norm in training for `input` seen as `[n, c, l]` (checked by the
/// caller), and the batch's per-channel mean and biased variance (`[c]` each, for the running
/// statistics).
pub(crate) fn fused_batch_norm_train<T: Float>(
    input: &Var<T>,
    [n, c, l]: [usize; 3],
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: T,
) -> Result<(Var<T>, Tensor<T>, Tensor<T>)> {
    let shape = input.shape();
    let w = channel_values(weight, c, T::one())?;
    let b = channel_values(bias, c, T::zero())?;
    let count = T::of((n * l) as f64);
    let mut mean = vec![T::zero(); c];
    let mut var = vec![T::zero(); c];
    let mut out = output_buffer(n * c * l);
    if n * c * l > 0 {
        let x = input.try_value()?;
        let x = x.row_major_values();
        // Compiled for the widest vectors the CPU has.
        wide(
            #[inline(always)]
            || {
                // Each channel's statistics over its `n` rows in one set of partial sums.
                let x: &[T] = &x;
                let rows = |ch: usize| (0..n).map(move |i| &x[(i * c + ch) * l..][..l]);
                for (ch, (m, v)) in mean.iter_mut().zip(var.iter_mut()).enumerate() {
                    *m = lane_sum_rows(rows(ch), |v| v) / count;
                    let mean = *m;
                    *v = lane_sum_rows(rows(ch), |v| (v - mean) * (v - mean)) / count;
                }
                for (r, row) in x.chunks_exact(l).enumerate() {
                    let ch = r % c;
                    // As PyTorch's kernel: `x·α + β` with `α = w·rstd`, `β = b - mean·α`.
                    let alpha = w[ch] / (var[ch] + eps).sqrt();
                    let beta = b[ch] - mean[ch] * alpha;
                    out.extend(row.iter().map(|&v| v * alpha + beta));
                }
            },
        );
    }
    let rstd: Rc<Vec<T>> = Rc::new(var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect());
    let saved_mean = Rc::new(mean.clone());
    let mut inputs = vec![input.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let (has_weight, has_bias) = (weight.is_some(), bias.is_some());
    let y = Var::from_op(
        "NativeBatchNormBackward0",
        Tensor::from_vec(out, &shape)?,
        inputs,
        move |g, _, inputs| {
            let weight = has_weight.then(|| &inputs[1]);
            let (dx, dw, db) = if is_grad_enabled() {
                recorded_backward(g, &inputs[0], weight, [n, c, l], eps)?
            } else {
                fused_backward(g, &inputs[0], weight, &saved_mean, &rstd, [n, c, l])?
            };
            let mut grads = vec![Some(dx)];
            if has_weight {
                grads.push(Some(dw.reshape(&inputs[1].shape())?));
            }
            if has_bias {
                grads.push(Some(db.reshape(&inputs[inputs.len() - 1].shape())?));
            }
            Ok(grads)
        },
    );
    Ok((y, Tensor::from_vec(mean, &[c])?, Tensor::from_vec(var, &[c])?))
}

/// The `c` values of a per-channel weight or bias, or `c` copies of `default` without one.
fn channel_values<T: Float>(param: Option<&Var<T>>, c: usize, default: T) -> Result<Vec<T>> {
    Ok(match param {
        Some(p) => p.try_value()?.to_vec(),
        None => vec![default; c],
    })
}

/// The gradients of `x`, `w` and `b` from the saved mean and `rstd`.
fn fused_backward<T: Float>(
    g: &Var<T>,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    mean: &[T],
    rstd: &[T],
    [n, c, l]: [usize; 3],
) -> Result<(Var<T>, Var<T>, Var<T>)> {
    let shape = x.shape();
    let w = channel_values(weight, c, T::one())?;
    let mut dx = output_buffer(n * c * l);
    let mut sum_g = vec![T::zero(); c];
    let mut sum_g_xhat = vec![T::zero(); c];
    if n * c * l > 0 {
        let (g, x) = (g.try_value()?, x.try_value()?);
        let (g, x) = (g.row_major_values(), x.row_major_values());
        // Compiled for the widest vectors the CPU has.
        wide(
            #[inline(always)]
            || {
                // Each channel's sums over its `n` rows in one set of partial sums.
                let rows = |ch: usize| (0..n).map(move |i| (i * c + ch) * l..(i * c + ch + 1) * l);
                for (ch, (sg, sgx)) in sum_g.iter_mut().zip(sum_g_xhat.iter_mut()).enumerate() {
                    let (m, rs) = (mean[ch], rstd[ch]);
                    *sg = lane_sum_rows(rows(ch).map(|at| &g[at]), |g| g);
                    *sgx = lane_sum2_rows(rows(ch).map(|at| (&g[at.clone()], &x[at])), |g, v| g * (v - m) * rs);
                }
                let count = T::of((n * l) as f64);
                for (r, (gr, xr)) in g.chunks_exact(l).zip(x.chunks_exact(l)).enumerate() {
                    let ch = r % c;
                    let (m, rs) = (mean[ch], rstd[ch]);
                    let (mean_g, mean_gx) = (sum_g[ch] / count, sum_g_xhat[ch] / count);
                    let scale = rs * w[ch];
                    dx.extend(
                        gr.iter()
                            .zip(xr)
                            .map(|(&g, &v)| scale * (g - mean_g - (v - m) * rs * mean_gx)),
                    );
                }
            },
        );
    }
    Ok((
        Var::new(Tensor::from_vec(dx, &shape)?),
        Var::new(Tensor::from_vec(sum_g_xhat, &[c])?),
        Var::new(Tensor::from_vec(sum_g, &[c])?),
    ))
}

/// The same gradients as [`fused_backward`], written with `Var` ops from `x`, `w` and `g` so
/// that they are recorded and can be differentiated again.
fn recorded_backward<T: Float>(
    g: &Var<T>,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    [n, c, l]: [usize; 3],
    eps: T,
) -> Result<(Var<T>, Var<T>, Var<T>)> {
    let shape = x.shape();
    let count = T::of((n * l) as f64);
    let channel_mean = |v: &Var<T>| -> Result<Var<T>> { Ok(v.sum_dim(2, true)?.sum_dim(0, true)?.div_scalar(count)) };
    let (g, x) = (g.reshape(&[n, c, l])?, x.reshape(&[n, c, l])?);
    let centred = x.try_sub(&channel_mean(&x)?)?;
    let rstd = channel_mean(&centred.try_mul(&centred)?)?.add_scalar(eps).rsqrt();
    let xhat = centred.try_mul(&rstd)?;
    let g_xhat = g.try_mul(&xhat)?;
    let scale = match weight {
        Some(w) => rstd.try_mul(&w.reshape(&[1, c, 1])?)?,
        None => rstd,
    };
    let dx = g
        .try_sub(&channel_mean(&g)?)?
        .try_sub(&xhat.try_mul(&channel_mean(&g_xhat)?)?)?
        .try_mul(&scale)?;
    let per_channel_sum = |v: &Var<T>| -> Result<Var<T>> { v.sum_dim(2, false)?.sum_dim(0, false) };
    Ok((dx.reshape(&shape)?, per_channel_sum(&g_xhat)?, per_channel_sum(&g)?))
}
