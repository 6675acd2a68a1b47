//! Numerically stable softmax and log_softmax along any dimension.
//!
//! Along the last dimension of a row-major tensor (the usual case: logits, attention scores)
//! each row goes through the row kernels of the fused cross-entropy: the max and
//! `exp(x - max)` with its sum in one vectorized pass, then the row finished from cache; rows
//! are handed out in blocks, shared between threads when there are many. Short rows (an
//! attention's scores, a few classes) go a block of rows at a time through elementwise passes
//! instead. Along other dimensions of row-major tensors, the lanes' maxes and sums are found in
//! blocks of lanes side by side, then the output is written row by row, both passes shared
//! between threads; other layouts go lane by lane. As with the cross-entropy, the
//! exponentials are those of the best instructions the CPU has (within 1 ulp, or 2 with
//! AVX-512), so a softmax value can differ between CPUs by that much; on one CPU a row gives
//! the same values alone, in a batch, and on any thread. The gradients of both along the last
//! dimension are one pass over each row too (`softmax_backward`, `log_softmax_backward`).

use std::mem::MaybeUninit;

use ndarray::{ArrayView1, Axis};

use crate::kernels::{fold_halves, map_in_place, map_into, side_by_side, wide, Unary};
use crate::parallel::{filled_vec, for_each_block_pair_mut, zeroed_blocks};
use crate::reduce::{nan_max, split_at_dim};
use crate::tuning::{ROW_BLOCK_VALUES, SHORT_SOFTMAX_ROW, SHORT_SOFTMAX_WORK};
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
        if let Some(out) = self
            .last_dim_rows(d, Form::LogSoftmax)
            .or_else(|| self.inner_lanes(d, Form::LogSoftmax))
        {
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
        if let Some(out) = self
            .last_dim_rows(d, Form::Softmax)
            .or_else(|| self.inner_lanes(d, Form::Softmax))
        {
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
        let rows = self.gradient_rows(output, dim, "softmax_backward", |g, y, out, c| {
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
        })?;
        match rows {
            Some(out) => Ok(out),
            None => output.mul(&self.sub(&self.mul(output)?.sum_dim(dim, true)?)?),
        }
    }

    /// log_softmax's gradient from the incoming gradient `self` and log_softmax's `output`
    /// along `dim`, as `torch.ops.aten._log_softmax_backward_data`: `self - exp(output) ⊙
    /// Σ_dim self`. Along the last dimension of row-major tensors, a block of rows at a time
    /// (the exponentials of the block, then each row's sum and differences from cache), the
    /// blocks shared between threads; elsewhere by the elementwise ops and `sum_dim`. Either
    /// way the values are those of that composition, bit for bit. An error if the shapes differ.
    pub fn log_softmax_backward(&self, output: &Self, dim: isize) -> Result<Self> {
        let rows = self.gradient_rows(output, dim, "log_softmax_backward", |g, y, out, c| {
            T::unary(Unary::Exp, y, out);
            wide(
                #[inline(always)]
                || {
                    for (g, out) in g.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
                        let sum = ArrayView1::from(g).sum();
                        out.iter_mut().zip(g).for_each(|(o, &g)| *o = g - *o * sum);
                    }
                },
            )
        })?;
        match rows {
            Some(out) => Ok(out),
            None => self.sub(&output.exp().mul(&self.sum_dim(dim, true)?)?),
        }
    }

    /// A gradient of the incoming gradient `self` and the op's `output` (of the same shape,
    /// else an error naming `op`), computed by `block(g, y, out, c)` a block of rows of `c`
    /// values at a time when `dim` is the last dimension and both are row-major, the blocks
    /// shared between threads; `None` otherwise, for the caller to compose.
    fn gradient_rows(
        &self,
        output: &Self,
        dim: isize,
        op: &'static str,
        block: impl Fn(&[T], &[T], &mut [T], usize) + Sync + Send,
    ) -> Result<Option<Self>> {
        let d = normalize_dim(op, dim, self.ndim().max(1))?;
        self.check_gradient_shape(output, op)?;
        let c = self.shape().get(d).copied().unwrap_or(1);
        let (g, y) = match (self.data.as_slice(), output.data.as_slice()) {
            (Some(g), Some(y)) if d + 1 == self.ndim() && c > 0 => (g, y),
            _ => return Ok(None),
        };
        let rows_per_block = (ROW_BLOCK_VALUES / c).max(1);
        let out = zeroed_blocks(g.len(), rows_per_block * c, row_work(rows_per_block, c), |i, out| {
            let at = i * rows_per_block * c;
            block(&g[at..][..out.len()], &y[at..][..out.len()], out, c)
        });
        Ok(Some(Tensor::from_standard(out, self.shape())))
    }

    /// `form` of each row when `d` is the last dimension and the values are row-major; `None`
    /// otherwise.
    fn last_dim_rows(&self, d: usize, form: Form) -> Option<Self> {
        let c = self.shape()[d];
        let x = self.data.as_slice().filter(|_| d + 1 == self.ndim() && c > 0)?;
        let rows_per_block = (ROW_BLOCK_VALUES / c).max(1);
        let out = zeroed_blocks(x.len(), rows_per_block * c, row_work(rows_per_block, c), |i, out| {
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

impl<T: Float> Tensor<T> {
    /// `form` along a dimension `d` before the last of a row-major tensor, seen as `[outer, c,
    /// inner]`: `outer × inner` lanes of `c` values, `inner` apart. `None` for other
    /// dimensions, layouts and empty tensors.
    ///
    /// Two passes, each shared between threads. The first takes the lanes in blocks of
    /// [`LANE_BLOCK`] side by side and, going down the rows, finds each lane's max, then sums
    /// its `exp(x - max)` in `f64` (a lane's terms in order) and keeps `1 / sum` or `ln(sum)`.
    /// The second writes the output row by row: `exp(x - max) · (1 / sum)` or `(x - max) -
    /// ln(sum)`, the same exponentials (the elementwise kernel gives a value the same result
    /// wherever it sits) and the same values as one lane at a time would give.
    fn inner_lanes(&self, d: usize, form: Form) -> Option<Self> {
        let x = self.data.as_slice().filter(|x| d + 1 < self.ndim() && !x.is_empty())?;
        let [outer, c, inner] = split_at_dim(self.shape(), d);
        let (mut maxes, mut finals) = (vec![T::zero(); outer * inner], vec![T::zero(); outer * inner]);
        let lane_block = LANE_BLOCK.min(inner);
        for_each_block_pair_mut(
            &mut maxes,
            lane_block,
            &mut finals,
            lane_block,
            lane_block * c,
            |b, maxes, finals| {
                let mut done = 0;
                // The block's lanes, a run within one index of the dimensions before `d` at a time.
                while done < maxes.len() {
                    let (o, j) = ((b * lane_block + done) / inner, (b * lane_block + done) % inner);
                    let len = (inner - j).min(maxes.len() - done);
                    let run = done..done + len;
                    let lane = |r: usize| &x[(o * c + r) * inner + j..][..len];
                    lane_stats(lane, c, &mut maxes[run.clone()], &mut finals[run], form);
                    done += len;
                }
            },
        );
        let rows_per_block = (ROW_BLOCK_VALUES / inner).max(1);
        // SAFETY: every row of every block is written in full, a segment at a time.
        let out = unsafe {
            filled_vec(x.len(), rows_per_block * inner, rows_per_block * inner, |b, out| {
                let mut scratch = ([T::zero(); ROW_BLOCK_VALUES], [T::zero(); ROW_BLOCK_VALUES]);
                for (k, out) in out.chunks_exact_mut(inner).enumerate() {
                    let row = b * rows_per_block + k;
                    let at = row / c * inner;
                    let stats = (&maxes[at..][..inner], &finals[at..][..inner]);
                    finish_lanes_row(&x[row * inner..][..inner], stats, out, form, &mut scratch);
                }
            })
        };
        Some(Tensor::from_standard(out, self.shape()))
    }
}

/// One row of the second pass of [`Tensor::inner_lanes`] into `out`, from the lanes' `maxes`
/// and `finals` (`1 / sum` or `ln(sum)`): `exp(x - max) · (1 / sum)` or `(x - max) - ln(sum)`,
/// [`ROW_BLOCK_VALUES`] values at a time through `scratch` (`x - max`, and its exponentials).
fn finish_lanes_row<T: Float>(
    x: &[T],
    (maxes, finals): (&[T], &[T]),
    out: &mut [MaybeUninit<T>],
    form: Form,
    (shifted, exps): &mut ([T; ROW_BLOCK_VALUES], [T; ROW_BLOCK_VALUES]),
) {
    let segments = out
        .chunks_mut(ROW_BLOCK_VALUES)
        .zip(x.chunks(ROW_BLOCK_VALUES))
        .zip(maxes.chunks(ROW_BLOCK_VALUES))
        .zip(finals.chunks(ROW_BLOCK_VALUES));
    for (((out, x), m), f) in segments {
        let shifted = &mut shifted[..x.len()];
        wide(
            #[inline(always)]
            || shifted.iter_mut().zip(x).zip(m).for_each(|((s, &v), &m)| *s = v - m),
        );
        match form {
            Form::Softmax => {
                let exps = &mut exps[..x.len()];
                T::unary(Unary::Exp, shifted, exps);
                wide(
                    #[inline(always)]
                    || {
                        out.iter_mut().zip(&*exps).zip(f).for_each(|((o, &e), &i)| {
                            o.write(e * i);
                        })
                    },
                );
            }
            Form::LogSoftmax => wide(
                #[inline(always)]
                || {
                    out.iter_mut().zip(&*shifted).zip(f).for_each(|((o, &s), &l)| {
                        o.write(s - l);
                    })
                },
            ),
        }
    }
}

/// Lanes side by side in the first pass of [`Tensor::inner_lanes`].
const LANE_BLOCK: usize = 256;

/// The max of each of `len` lanes of `c` values (`lane(r)` the lanes' values in row `r`) into
/// `maxes`, and from the sum `s` of each lane's `exp(x - max)`, in `f64` and in row order,
/// `1 / s` or `ln(s)` into `finals`. The exponentials go [`ROW_BLOCK_VALUES`] at a time through
/// the elementwise kernel.
fn lane_stats<'a, T: Float>(lane: impl Fn(usize) -> &'a [T], c: usize, maxes: &mut [T], finals: &mut [T], form: Form) {
    let len = maxes.len();
    let mut shifted = [T::zero(); ROW_BLOCK_VALUES];
    let mut exps = [T::zero(); ROW_BLOCK_VALUES];
    let mut sums = [0.0f64; LANE_BLOCK];
    let sums = &mut sums[..len];
    let rows_at_once = (ROW_BLOCK_VALUES / len).max(1);
    wide(
        #[inline(always)]
        || {
            maxes.fill(T::neg_infinity());
            for r in 0..c {
                maxes.iter_mut().zip(lane(r)).for_each(|(m, &v)| *m = above(*m, v));
            }
        },
    );
    for first in (0..c).step_by(rows_at_once) {
        let rows = first..c.min(first + rows_at_once);
        let shifted = &mut shifted[..rows.len() * len];
        let exps = &mut exps[..rows.len() * len];
        wide(
            #[inline(always)]
            || {
                for (s, r) in shifted.chunks_exact_mut(len).zip(rows.clone()) {
                    s.iter_mut()
                        .zip(lane(r))
                        .zip(&*maxes)
                        .for_each(|((s, &v), &m)| *s = v - m);
                }
            },
        );
        T::unary(Unary::Exp, shifted, exps);
        wide(
            #[inline(always)]
            || {
                for e in exps.chunks_exact(len) {
                    sums.iter_mut().zip(e).for_each(|(s, &e)| *s += e.f64());
                }
            },
        );
    }
    for (f, &s) in finals.iter_mut().zip(&*sums) {
        *f = match form {
            Form::Softmax => T::of(1.0 / s),
            Form::LogSoftmax => T::of(s.ln()),
        };
    }
}

/// The work of `rows` rows of `c` values, for sharing them between threads: short rows count
/// [`SHORT_SOFTMAX_WORK`] per value, as each row costs a sum (and a max, a division or a
/// logarithm) besides its values.
fn row_work(rows: usize, c: usize) -> usize {
    rows * c * if c <= SHORT_SOFTMAX_ROW { SHORT_SOFTMAX_WORK } else { 1 }
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
            for (row, s) in x.chunks_exact(c).zip(shifted.chunks_exact_mut(c)) {
                let max = row_max(row);
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

/// The max of a row, NaN passed over (a row of NaN gives `-inf`): sixteen (or eight) maxes
/// side by side, the last sixteen values taken as one more group if the row is not made of
/// whole groups (a max may see a value twice), then folded by halves; for a short row the
/// chain of one comparison per value was most of the softmax's time. Which value is the max
/// does not depend on the order.
#[inline(always)]
fn row_max<T: Float>(row: &[T]) -> T {
    #[inline(always)]
    fn by_groups<T: Float, const SIDE: usize>(row: &[T]) -> Option<T> {
        let last = row.last_chunk::<SIDE>()?;
        let (mut maxes, rest) = side_by_side::<T, T, SIDE>(row, T::neg_infinity(), above);
        if !rest.is_empty() {
            maxes.iter_mut().zip(last).for_each(|(m, &v)| *m = above(*m, v));
        }
        Some(fold_halves(maxes, above))
    }
    by_groups::<T, 16>(row)
        .or_else(|| by_groups::<T, 8>(row))
        .unwrap_or_else(|| row.iter().fold(T::neg_infinity(), |m, &v| above(m, v)))
}

/// `v` if it is above `m`, else `m`: a max that passes NaN over (NaN is above nothing).
#[inline(always)]
fn above<T: Float>(m: T, v: T) -> T {
    if v > m {
        v
    } else {
        m
    }
}

/// `Σ values` in `f64`, in eight sums side by side (a loop the compiler vectorizes), the
/// values after the last eight added to them as one more group (read as the last eight, the
/// ones already summed masked to 0), then the eight added by halves: the softmax's divisor,
/// rounded once, whatever the length of the row.
fn lane_sum<T: Float>(values: &[T]) -> f64 {
    wide(
        #[inline(always)]
        || {
            let Some(last) = values.last_chunk::<8>() else {
                return values.iter().map(|v| v.f64()).sum();
            };
            let (mut sums, rest) = side_by_side::<T, f64, 8>(values, 0.0, |s, v| s + v.f64());
            if !rest.is_empty() {
                let summed = 8 - rest.len();
                for (i, (s, v)) in sums.iter_mut().zip(last).enumerate() {
                    *s += if i >= summed { v.f64() } else { 0.0 };
                }
            }
            fold_halves(sums, |a, b| a + b)
        },
    )
}
