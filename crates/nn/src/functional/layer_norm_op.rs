//! The layer norm op: `y = (x - mean)·rstd·w + b` per row of `k` values, `rstd = 1/√(var + eps)`
//! with the biased variance; forward and gradient each one pass over the rows.
//!
//! Gradient (PyTorch's `layer_norm_backward`), with `x̂ = (x - mean)·rstd` and `ĝ = g·w`:
//! - `x`: `rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ·x̂))`, means over the row;
//! - `w`: `Σ_rows g·x̂`;  `b`: `Σ_rows g`.
//!
//! When the gradient is itself recorded (`create_graph`), the same formula is written with
//! `Var` ops from `x`, so that it can be differentiated again.

use std::rc::Rc;

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_tensor::tuning::ROW_BLOCK_VALUES;
use ferrograd_tensor::{wide, zeroed_block_pairs, Float, Result, Tensor};

use super::lanes::{lane_sum, lane_sum2};

/// Each row's mean and `1/√(var + eps)`, kept from the forward for the gradient: row `r`'s at
/// `2r` and `2r + 1`.
struct RowStats<T>(Vec<T>);

/// Rows per block handed to a thread, for rows of `k` values (at least one row). Blocks are
/// fixed by the shape, so the weight and bias gradients (summed per block, then over the
/// blocks in order) do not depend on the number of threads.
fn block_rows(k: usize) -> usize {
    (ROW_BLOCK_VALUES / k.max(1)).max(1)
}

/// `layer_norm` of `input` seen as `rows × k` values (checked by the caller), with `weight`
/// and `bias` of `k` elements, as one op.
pub(crate) fn fused_layer_norm<T: Float>(
    input: &Var<T>,
    rows: usize,
    k: usize,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    eps: T,
) -> Result<Var<T>> {
    let shape = input.shape();
    let w = weight.map(|w| w.try_value().map(|w| w.to_vec())).transpose()?;
    let b = bias.map(|b| b.try_value().map(|b| b.to_vec())).transpose()?;
    let (out, stats) = {
        let x = input.try_value()?;
        let x = x.row_major_values();
        forward_rows(&x, rows, k, w.as_deref(), b.as_deref(), eps)
    };
    let stats = Rc::new(stats);
    let mut inputs = vec![input.clone()];
    inputs.extend(weight.cloned());
    inputs.extend(bias.cloned());
    let (has_weight, has_bias) = (weight.is_some(), bias.is_some());
    Ok(Var::from_op(
        "NativeLayerNormBackward0",
        Tensor::from_vec(out, &shape)?,
        inputs,
        move |g, _, inputs| {
            let weight = has_weight.then(|| &inputs[1]);
            let (dx, dw, db) = if is_grad_enabled() {
                recorded_backward(g, &inputs[0], weight, rows, k, eps)?
            } else {
                fused_backward(g, &inputs[0], weight, &stats, rows, k)?
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
    ))
}

/// The normalized rows and their statistics.
fn forward_rows<T: Float>(
    x: &[T],
    rows: usize,
    k: usize,
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: T,
) -> (Vec<T>, RowStats<T>) {
    if k == 0 {
        return (Vec::new(), RowStats(vec![T::zero(); 2 * rows]));
    }
    let n = T::of(k as f64);
    let per = block_rows(k);
    // Blocks of rows shared between threads; each row's work is a few passes over it.
    let (out, stats) = zeroed_block_pairs(rows * k, per * k, 2 * rows, 2 * per, 4 * per * k, |i, out, stats| {
        let x = &x[i * per * k..][..out.len()];
        wide(
            #[inline(always)]
            || forward_loop(x, k, n, w, b, eps, out, stats),
        );
    });
    (out, RowStats(stats))
}

/// The rows of [`forward_rows`]: per row two vectorised sums, then one elementwise pass
/// (compiled for the widest vectors by the caller's `wide`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_loop<T: Float>(
    x: &[T],
    k: usize,
    n: T,
    w: Option<&[T]>,
    b: Option<&[T]>,
    eps: T,
    out: &mut [T],
    stats: &mut [T],
) {
    // The statistics of every row first, then `rstd` of all of them in one vectorised loop
    // (a square root and a division per row, one after the other, would each wait for the
    // last), then the rows.
    for (xr, s) in x.chunks_exact(k).zip(stats.chunks_exact_mut(2)) {
        let mean = lane_sum(xr, |v| v) / n;
        s[0] = mean;
        s[1] = lane_sum(xr, |v| (v - mean) * (v - mean)) / n;
    }
    stats
        .chunks_exact_mut(2)
        .for_each(|s| s[1] = T::one() / (s[1] + eps).sqrt());
    for ((xr, yr), s) in x
        .chunks_exact(k)
        .zip(out.chunks_exact_mut(k))
        .zip(stats.chunks_exact(2))
    {
        let (mean, rstd) = (s[0], s[1]);
        match (w, b) {
            (Some(w), Some(b)) => {
                for (((y, &v), &w), &b) in yr.iter_mut().zip(xr).zip(w).zip(b) {
                    *y = (v - mean) * rstd * w + b;
                }
            }
            (Some(w), None) => {
                for ((y, &v), &w) in yr.iter_mut().zip(xr).zip(w) {
                    *y = (v - mean) * rstd * w;
                }
            }
            (None, Some(b)) => {
                for ((y, &v), &b) in yr.iter_mut().zip(xr).zip(b) {
                    *y = (v - mean) * rstd + b;
                }
            }
            (None, None) => {
                for (y, &v) in yr.iter_mut().zip(xr) {
                    *y = (v - mean) * rstd;
                }
            }
        }
    }
}

/// The gradients of `x`, `w` and `b` (the last two of shape `[k]`), one pass over the rows.
fn fused_backward<T: Float>(
    g: &Var<T>,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    stats: &RowStats<T>,
    rows: usize,
    k: usize,
) -> Result<(Var<T>, Var<T>, Var<T>)> {
    let shape = x.shape();
    let w = match weight {
        Some(w) => w.try_value()?.to_vec(),
        None => vec![T::one(); k],
    };
    let mut dx = Vec::new();
    let mut dw = vec![T::zero(); k];
    let mut db = vec![T::zero(); k];
    if k > 0 {
        let (g, x) = (g.try_value()?, x.try_value()?);
        let (g, x) = (g.row_major_values(), x.row_major_values());
        let n = T::of(k as f64);
        let per = block_rows(k);
        // Blocks of rows shared between threads, each with its own sums for `dw` and `db`
        // (`2k` values), added up afterwards in the order of the blocks.
        let sums;
        (dx, sums) = zeroed_block_pairs(
            rows * k,
            per * k,
            rows.div_ceil(per) * 2 * k,
            2 * k,
            4 * per * k,
            |i, dx, sums| {
                let at = i * per * k..i * per * k + dx.len();
                let stats = &stats.0[2 * i * per..];
                let (dw, db) = sums.split_at_mut(k);
                wide(
                    #[inline(always)]
                    || backward_loop(&g[at.clone()], &x[at], &w, stats, k, n, dx, dw, db),
                );
            },
        );
        for block in sums.chunks_exact(2 * k) {
            let (bw, bb) = block.split_at(k);
            dw.iter_mut().zip(bw).for_each(|(d, &s)| *d += s);
            db.iter_mut().zip(bb).for_each(|(d, &s)| *d += s);
        }
    }
    Ok((
        Var::new(Tensor::from_vec(dx, &shape)?),
        Var::new(Tensor::from_vec(dw, &[k])?),
        Var::new(Tensor::from_vec(db, &[k])?),
    ))
}

/// The rows of [`fused_backward`]: per row `ĝ = g·w`, its two vectorised sums, then one
/// elementwise pass writing `dx` and adding to `dw` and `db`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_loop<T: Float>(
    g: &[T],
    x: &[T],
    w: &[T],
    stats: &[T],
    k: usize,
    n: T,
    dx: &mut [T],
    dw: &mut [T],
    db: &mut [T],
) {
    let row_pairs = g.chunks_exact(k).zip(x.chunks_exact(k));
    for (((gr, xr), dxr), s) in row_pairs.zip(dx.chunks_exact_mut(k)).zip(stats.chunks_exact(2)) {
        let (mean, rstd) = (s[0], s[1]);
        // ĝ = g·w of the row, in dx for now: the sums and the last pass read it there.
        for ((d, &g), &w) in dxr.iter_mut().zip(gr).zip(w) {
            *d = g * w;
        }
        let mean_gw = lane_sum(dxr, |gw| gw) / n;
        let mean_gw_xhat = lane_sum2(dxr, xr, |gw, x| gw * ((x - mean) * rstd)) / n;
        for ((((d, &g), &x), dw), db) in dxr.iter_mut().zip(gr).zip(xr).zip(dw.iter_mut()).zip(db.iter_mut()) {
            let xhat = (x - mean) * rstd;
            *dw += g * xhat;
            *db += g;
            *d = rstd * (*d - mean_gw - xhat * mean_gw_xhat);
        }
    }
}

/// The same gradients as [`fused_backward`], written with `Var` ops from `x`, `w` and `g` so
/// that they are recorded and can be differentiated again.
fn recorded_backward<T: Float>(
    g: &Var<T>,
    x: &Var<T>,
    weight: Option<&Var<T>>,
    rows: usize,
    k: usize,
    eps: T,
) -> Result<(Var<T>, Var<T>, Var<T>)> {
    let shape = x.shape();
    let (g, x) = (g.reshape(&[rows, k])?, x.reshape(&[rows, k])?);
    let centred = x.try_sub(&x.mean_dim(1, true)?)?;
    let rstd = centred.try_mul(&centred)?.mean_dim(1, true)?.add_scalar(eps).rsqrt();
    let xhat = centred.try_mul(&rstd)?;
    let gw = match weight {
        Some(w) => g.try_mul(&w.reshape(&[k])?)?,
        None => g.clone(),
    };
    let dx = gw
        .try_sub(&gw.mean_dim(1, true)?)?
        .try_sub(&xhat.try_mul(&gw.try_mul(&xhat)?.mean_dim(1, true)?)?)?
        .try_mul(&rstd)?;
    let dw = g.try_mul(&xhat)?.sum_dim(0, false)?;
    let db = g.sum_dim(0, false)?;
    Ok((dx.reshape(&shape)?, dw, db))
}
