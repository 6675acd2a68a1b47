//! Numerically stable softmax and log_softmax along any dimension.
//!
//! Along the last dimension of a row-major tensor (the usual case: logits, attention scores)
//! each row goes through the row kernels of the fused cross-entropy: the max and
//! `exp(x - max)` with its sum in one vectorized pass, then the row finished from cache; rows
//! are handed out in blocks, shared between threads when there are many. Short rows (an
//! attention's scores, a few classes) go a block of rows at a time through elementwise passes
//! instead. Other dimensions and layouts go lane by lane. As with the cross-entropy, the
//! exponentials are those of the best instructions the CPU has (within 1 ulp, or 2 with
//! AVX-512), so a softmax value can differ between CPUs by that much; on one CPU a row gives
//! the same values alone, in a batch, and on any thread. softmax's gradient along the last
//! dimension is one pass over each row too (`softmax_backward`).

use ndarray::{ArrayView1, Axis};

use crate::kernels::{map_in_place, map_into, side_by_side, wide, Unary};
use crate::parallel::zeroed_blocks;
use crate::reduce::nan_max;
use crate::tuning::{ROW_BLOCK_VALUES, SHORT_SOFTMAX_ROW};
use crate::{normalize_dim, Float, Result, Tensor};

/// Values of a block of rows that [`short_rows`] takes: a block of `ROW_BLOCK_VALUES`.
const SHORT_SOFTMAX_BLOCK: usize = ROW_BLOCK_VALUES;

/// Which of the two functions a row computes.
#[derive(Clone, Copy)]
enum Form {
    Softmax,
    LogSoftmax,
}

impl<T: Float> Tensor<T> {
    /// `log(softmax(x))` along `dim`, computed as PyTorch does: `(x - max) - log(sum(exp(x - max)))`.
    /// A row holding NaN or `+inf`, or only `-inf`, gives NaN.
    pub fn log_softmax(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("log_softmax", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            // `x - x`, not 0: NaN and ±inf give NaN, as PyTorch.
            #[allow(clippy::eq_op)]
            return Ok(self.map(|x| x - x));
        }
        if let Some(out) = self.last_dim_rows(d, Form::LogSoftmax) {
            return Ok(out);
        }
        let mut out = self.clone();
        for mut lane in out.data.lanes_mut(Axis(d)) {
            let (m, s) = plain_max_sum(lane.iter().copied());
            let s = s.ln();
            lane.mapv_inplace(|x| (x - m) - s);
        }
        Ok(out)
    }

    /// `exp(x - max) / sum(exp(x - max))` along `dim`.
    pub fn softmax(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("softmax", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            // `exp(x - x)`, not 1: NaN and ±inf give NaN, as PyTorch.
            #[allow(clippy::eq_op)]
            return Ok(self.map(|x| (x - x).exp()));
        }
        if let Some(out) = self.last_dim_rows(d, Form::Softmax) {
            return Ok(out);
        }
        let mut out = self.clone();
        for mut lane in out.data.lanes_mut(Axis(d)) {
            let m = lane.iter().copied().fold(T::neg_infinity(), nan_max);
            lane.mapv_inplace(|x| (x - m).exp());
            // Summed in `f64`, as the rows of `last_dim_rows` are.
            let s = T::of(lane.iter().map(|v| v.f64()).sum());
            lane.mapv_inplace(|x| x / s);
        }
        Ok(out)
    }

    /// softmax's gradient from the incoming gradient `self` and softmax's `output` along
    /// `dim`, as `torch.ops.aten._softmax_backward_data`: `output ⊙ (self - Σ_dim(self ⊙
    /// output))`. Along the last dimension of row-major tensors, one row at a time from cache
    /// in blocks of rows shared between threads; elsewhere by the elementwise ops and
    /// `sum_dim`. Either way the values are those of that composition, bit for bit (each sum
    /// is `sum_dim`'s). An error if the shapes differ.
    pub fn softmax_backward(&self, output: &Self, dim: isize) -> Result<Self> {
        let d = normalize_dim("softmax_backward", dim, self.ndim().max(1))?;
        self.check_gradient_shape(output, "softmax_backward")?;
        let c = self.shape().get(d).copied().unwrap_or(1);
        let (g, y) = match (self.data.as_slice(), output.data.as_slice()) {
            (Some(g), Some(y)) if d + 1 == self.ndim() && c > 0 => (g, y),
            _ => {
                let dot = self.mul(output)?.sum_dim(dim, true)?;
                return output.mul(&self.sub(&dot)?);
            }
        };
        let rows_per_block = (ROW_BLOCK_VALUES / c).max(1);
        let out = zeroed_blocks(g.len(), rows_per_block * c, rows_per_block * c, |i, out| {
            let at = i * rows_per_block * c;
            let (g, y) = (&g[at..][..out.len()], &y[at..][..out.len()]);
            wide(
                #[inline(always)]
                || {
                    for ((g, y), out) in g.chunks_exact(c).zip(y.chunks_exact(c)).zip(out.chunks_exact_mut(c)) {
                        out.iter_mut().zip(g).zip(y).for_each(|((o, &g), &y)| *o = g * y);
                        let dot = ArrayView1::from(&*out).sum();
                        out.iter_mut()
                            .zip(g)
                            .zip(y)
                            .for_each(|((o, &g), &y)| *o = y * (g - dot));
                    }
                },
            )
        });
        Ok(Tensor::from_standard(out, self.shape()))
    }

    /// `form` of each row when `d` is the last dimension and the values are row-major; `None`
    /// otherwise.
    fn last_dim_rows(&self, d: usize, form: Form) -> Option<Self> {
        let c = self.shape()[d];
        let x = self.data.as_slice().filter(|_| d + 1 == self.ndim() && c > 0)?;
        let rows_per_block = (ROW_BLOCK_VALUES / c).max(1);
        let out = zeroed_blocks(x.len(), rows_per_block * c, rows_per_block * c, |i, out| {
            let x = &x[i * rows_per_block * c..][..out.len()];
            if c <= SHORT_SOFTMAX_ROW {
                short_rows(x, out, c, form);
            } else {
                for (row, out) in x.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
                    finish_row(row, out, form);
                }
            }
        });
        Some(Tensor::from_standard(out, self.shape()))
    }
}

/// One row of [`Tensor::softmax`] or [`Tensor::log_softmax`] into `out`: `exp(x - max)` and
/// its sum by the row kernel, then `exp(x - max) · (1 / sum)` (PyTorch's order) or
/// `(x - max) - ln(sum)`. A row the kernel leaves unfinished (NaN, `+inf`, or only `-inf`)
/// takes the plain formulas, which give NaN as PyTorch does.
fn finish_row<T: Float>(row: &[T], out: &mut [T], form: Form) {
    let (max, log_sum) = T::exps_and_log_sum(row, out);
    if !(max.is_finite() && log_sum.is_finite()) {
        let (m, s) = plain_max_sum(row.iter().copied());
        for (o, &x) in out.iter_mut().zip(row) {
            *o = match form {
                Form::Softmax => (x - m).exp() / s,
                Form::LogSoftmax => (x - m) - s.ln(),
            };
        }
        return;
    }
    match form {
        Form::Softmax => {
            let inverse = T::of(1.0 / lane_sum(out));
            wide(
                #[inline(always)]
                || map_in_place(out, |e| e * inverse),
            );
        }
        Form::LogSoftmax => {
            // SAFETY: `MaybeUninit<T>` has `T`'s layout, and every value written is a `T`.
            let out = unsafe { &mut *(out as *mut [T] as *mut [std::mem::MaybeUninit<T>]) };
            wide(
                #[inline(always)]
                || map_into(row, out, |x| (x - max) - log_sum),
            );
        }
    }
}

/// `form` of a block of short rows of `c` values (at most [`SHORT_SOFTMAX_ROW`], the block at
/// most [`SHORT_SOFTMAX_BLOCK`] values), each pass over the whole block in one loop: each
/// row's `x - max`, then the exponentials of all of them (the elementwise kernel, within 1
/// ulp), then each row's sum in `f64` and either the multiplication by its inverse or the
/// subtraction of its logarithm from `x - max`, as [`finish_row`] does. For short rows the row
/// kernels' set-up (and a logarithm per row for the softmax) cost more than the row: an
/// attention's rows of 16, a character model's 27 classes. A row holding NaN or `+inf`, or
/// only `-inf`, has a NaN `x - max` (the max passes NaN over), so a NaN sum and NaN
/// everywhere, as PyTorch gives.
fn short_rows<T: Float>(x: &[T], out: &mut [T], c: usize, form: Form) {
    let mut shifted = [T::zero(); SHORT_SOFTMAX_BLOCK];
    let shifted = &mut shifted[..x.len()];
    wide(
        #[inline(always)]
        || {
            let above = |m: T, v: T| if v > m { v } else { m };
            for (row, s) in x.chunks_exact(c).zip(shifted.chunks_exact_mut(c)) {
                let (maxes, rest) = side_by_side::<T, T, 16>(row, T::neg_infinity(), above);
                let max = maxes
                    .into_iter()
                    .chain(rest.iter().copied())
                    .fold(T::neg_infinity(), above);
                s.iter_mut().zip(row).for_each(|(s, &v)| *s = v - max);
            }
        },
    );
    T::unary(Unary::Exp, shifted, out);
    wide(
        #[inline(always)]
        || {
            for (s, out) in shifted.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
                match form {
                    Form::Softmax => {
                        let inverse = T::of(1.0 / lane_sum(out));
                        out.iter_mut().for_each(|e| *e *= inverse);
                    }
                    Form::LogSoftmax => {
                        let log_sum = T::of(lane_sum(out).ln());
                        out.iter_mut().zip(s).for_each(|(o, &s)| *o = s - log_sum);
                    }
                }
            }
        },
    );
}

/// The max of a lane and the sum of `exp(x - max)` over it, one value at a time.
fn plain_max_sum<T: Float>(lane: impl Iterator<Item = T> + Clone) -> (T, T) {
    let m = lane.clone().fold(T::neg_infinity(), nan_max);
    (m, lane.map(|x| (x - m).exp()).sum())
}

/// `Σ values` in `f64`, in eight sums side by side (a loop the compiler vectorizes), added at
/// the end: the softmax's divisor, rounded once, whatever the length of the row.
fn lane_sum<T: Float>(values: &[T]) -> f64 {
    let (sums, rest) = wide(
        #[inline(always)]
        || side_by_side::<T, f64, 8>(values, 0.0, |s, v| s + v.f64()),
    );
    sums.iter().sum::<f64>() + rest.iter().map(|v| v.f64()).sum::<f64>()
}
