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

use super::lanes::lane_sum;

/// Positions (channels times `L`) whose per-position sums [`channel_sums`] keeps at once:
/// 8 KiB of `f32`, in the first-level cache.
const ACC_VALUES: usize = 2048;

/// For each of the `c` channels of `n` samples of `[c, l]` values (`a` and `b`, row-major,
/// and `centre`, one sample's worth), `Σ f(a, b, centre)` over the samples and the channel's
/// `l` positions. The sums over the samples run position by position along contiguous runs of
/// a sample (a block of channels at a time, [`ACC_VALUES`] positions), which vectorise
/// whatever `l` is; each channel's positions are then added up in lanes.
#[inline(always)]
fn channel_sums<T: Float>(a: &[T], b: &[T], centre: &[T], [n, c, l]: [usize; 3], f: impl Fn(T, T, T) -> T) -> Vec<T> {
    let per = (ACC_VALUES / l).clamp(1, c);
    let mut sums = vec![T::zero(); c];
    let mut acc = vec![T::zero(); per * l];
    for c0 in (0..c).step_by(per) {
        let (at, width) = (c0 * l, per.min(c - c0) * l);
        let acc = &mut acc[..width];
        acc.fill(T::zero());
        let centre = &centre[at..at + width];
        let row = |i: usize| {
            let start = i * c * l + at;
            (&a[start..start + width], &b[start..start + width])
        };
        // Four samples per pass over `acc`, so that it is loaded and stored a quarter as often.
        for i in (0..n - n % 4).step_by(4) {
            let [(a0, b0), (a1, b1), (a2, b2), (a3, b3)] = [row(i), row(i + 1), row(i + 2), row(i + 3)];
            for k in 0..width {
                let m = centre[k];
                acc[k] += (f(a0[k], b0[k], m) + f(a1[k], b1[k], m)) + (f(a2[k], b2[k], m) + f(a3[k], b3[k], m));
            }
        }
        for i in n - n % 4..n {
            let (ra, rb) = row(i);
            for (((s, &x), &y), &m) in acc.iter_mut().zip(ra).zip(rb).zip(centre) {
                *s += f(x, y, m);
            }
        }
        for (s, run) in sums[c0..].iter_mut().zip(acc.chunks_exact(l)) {
            *s = lane_sum(run, |v| v);
        }
    }
    sums
}

/// The next `len` values of `out`, zeros to be overwritten: written by a plain loop, which
/// (unlike `extend` with a long iterator) stays inside the caller's vectorised code.
#[inline(always)]
fn next_row<T: Float>(out: &mut Vec<T>, len: usize) -> &mut [T] {
    let start = out.len();
    out.resize(start + len, T::zero());
    &mut out[start..]
}

/// Each channel's value repeated for its `l` positions: one sample's worth, `[c·l]`.
fn per_position<T: Float>(values: &[T], l: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len() * l);
    for &v in values {
        out.resize(out.len() + l, v);
    }
    out
}

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
                let x: &[T] = &x;
                let zeros = vec![T::zero(); c * l];
                mean = channel_sums(x, x, &zeros, [n, c, l], |v, _, _| v);
                mean.iter_mut().for_each(|m| *m /= count);
                let centre = per_position(&mean, l);
                var = channel_sums(x, x, &centre, [n, c, l], |v, _, m| (v - m) * (v - m));
                var.iter_mut().for_each(|v| *v /= count);
                // As PyTorch's kernel: `x·α + β` with `α = w·rstd`, `β = b - mean·α`.
                let alpha: Vec<T> = (0..c).map(|ch| w[ch] / (var[ch] + eps).sqrt()).collect();
                let beta: Vec<T> = (0..c).map(|ch| b[ch] - mean[ch] * alpha[ch]).collect();
                let (alpha, beta) = (per_position(&alpha, l), per_position(&beta, l));
                for row in x.chunks_exact(c * l) {
                    for ((o, &v), (&a, &b)) in next_row(&mut out, c * l)
                        .iter_mut()
                        .zip(row)
                        .zip(alpha.iter().zip(&beta))
                    {
                        *o = v * a + b;
                    }
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
                let (g, x): (&[T], &[T]) = (&g, &x);
                let centre = per_position(mean, l);
                sum_g = channel_sums(g, g, &centre, [n, c, l], |g, _, _| g);
                sum_g_xhat = channel_sums(g, x, &centre, [n, c, l], |g, v, m| g * (v - m));
                for (s, &rs) in sum_g_xhat.iter_mut().zip(rstd) {
                    *s *= rs;
                }
                // dx = scale·(g - Σg/M - (x - mean)·k) with `k = rstd·Σ(g·x̂)/M`, `scale = rstd·w`.
                let count = T::of((n * l) as f64);
                let mean_g: Vec<T> = sum_g.iter().map(|&s| s / count).collect();
                let k: Vec<T> = (0..c).map(|ch| rstd[ch] * sum_g_xhat[ch] / count).collect();
                let scale: Vec<T> = (0..c).map(|ch| rstd[ch] * w[ch]).collect();
                let (mean_g, k, scale) = (per_position(&mean_g, l), per_position(&k, l), per_position(&scale, l));
                for (gr, xr) in g.chunks_exact(c * l).zip(x.chunks_exact(c * l)) {
                    let per = mean_g.iter().zip(&centre).zip(k.iter().zip(&scale));
                    for ((d, (&g, &v)), ((&mg, &m), (&k, &s))) in
                        next_row(&mut dx, c * l).iter_mut().zip(gr.iter().zip(xr)).zip(per)
                    {
                        *d = s * (g - mg - (v - m) * k);
                    }
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
