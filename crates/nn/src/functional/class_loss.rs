//! The fused kernel behind `cross_entropy` and `nll_loss`: one op with its own gradient.
//!
//! Input `x` is viewed as `[n, c, s]` (see [`Layout`]); a *position* is a pair `(n, s)`, and
//! its *row* is its `c` class values. With `lp = log_softmax(x)` over the class dimension (or
//! `lp = x` for `nll_loss`), every mode of PyTorch's cross-entropy is
//!
//! ```text
//! l[pos] = -Σ_c a[pos, c] · lp[pos, c]
//! index target y, ε = 0:   a[c] = w[y]·[c = y]
//! index target y, ε > 0:   a[c] = (1-ε)·w[y]·[c = y] + (ε/C)·w[c]
//! probability target t:    a[c] = w[c]·t'[c],   t' = (1-ε)·t + ε/C
//! ignored position:        a[c] = 0
//! ```
//!
//! Reductions: `sum` adds the `l[pos]`; `mean` divides by `D`, the summed `w[y]` of the
//! counted positions (index targets) or the number of positions (probability targets).
//!
//! Gradient. With `s[pos]` the upstream gradient (divided by `D` for `mean`) and
//! `G[c] = ∂L/∂lp[c] = -s·a[c]`, the chain rule through `lp = x - logsumexp(x)` gives
//! `∂L/∂x[c] = G[c] - p[c]·Σ_k G[k] = s·(p[c]·A - a[c])` with `p = exp(lp)` and
//! `A = Σ_k a[k]` ("softmax minus target"). For `nll_loss` it is `G` itself. For
//! probability targets, `∂L/∂t[c] = -s·f·w[c]·lp[c]` with `f = 1-ε` (or 1 without smoothing).
//! Ignored positions have `G = 0`; as in PyTorch their gradient is `0 - p·0`, which is NaN
//! only when the row itself holds NaN or `+inf`.
//!
//! How it is computed. Forward reads each row from memory once: `RowKernels::max_log_sum_exp`
//! (in the tensor crate's row kernels) sweeps it for its max `m`, then, from cache, sums
//! `exp(x - m)` into `ℓ = ln Σ exp(x - m)`; `lp = (x - m) - ℓ` is formed only where the loss
//! reads it: the target's entry, or every entry with label smoothing or probability targets.
//! The pair `(m, ℓ)`, the row's log-sum-exp kept as two numbers so that `x - m` stays exact, is
//! what forward keeps per row. When a backward will follow (the input requires a gradient and
//! recording is on), forward also writes `exp(x - m)` (`RowKernels::exps_and_log_sum`) into a
//! buffer and, while the row is still in cache, turns it into the gradient for an upstream
//! gradient of 1: `(s₁·A·e^-ℓ)·exp(x - m)`, one multiplication per value, then `-s₁·a[c]` where
//! `a` is not zero (the target's entry alone for plain class indices), with `s₁` the scale of
//! an upstream 1 (`1/D` for `mean`). `loss.backward()` then has nothing left to compute: the
//! buffer is the gradient, so no other buffer the size of the input is made, and the input is
//! read from memory once in all. Another upstream gradient `u` scales the buffer in place
//! (the gradient is linear in `s`), one multiplication per value; where `u` is 0, infinite or
//! NaN, whose products with the buffer would not be PyTorch's, the row is computed again from
//! the logits (`RowKernels::scaled_softmax`), as it is for a second backward through the same
//! graph (the buffer already given away), for a row holding NaN or infinities, and for
//! K-dimensional input. (The max comes first, in its own sweep, rather than with the sum in
//! one online pass, because the exponentials written need the row's final max; the second
//! sweep reads from cache.)
//!
//! Rows of `(C)` and `(N, C)` input (`s = 1`) are contiguous slices; for `(N, C, d1, ...)` input
//! each position's values (stride `s`) are gathered into a scratch row, and its gradient
//! scattered back. Big inputs are split across threads by sample (`n`); every position is
//! computed alone and the reductions add the per-position terms afterwards in position order,
//! so results do not depend on the number of threads. Sums are accumulated in `f64`.

use ferrograd_autograd::{is_grad_enabled, Var};
use std::cell::RefCell;

use ferrograd_tensor::{
    for_each_block_mut, for_each_block_pair_mut, output_vec, Error, Float, Result, Tensor, SMALL_ROW,
};

use super::checks::Layout;
use crate::Reduction;

/// What the loss compares the input with.
pub(crate) enum Classes<T: Float> {
    /// One class index per position; `ignore_index` marks positions left out.
    Indices { targets: Vec<i64>, ignore_index: i64 },
    /// A (not necessarily normalised) distribution over the classes per position, `[n, c, s]`.
    Probabilities(Tensor<T>),
}

/// Which coefficients of a position take part in the gradient `G = -s·a`: none (an ignored
/// position), only the target's (class indices without smoothing: PyTorch writes only that
/// entry, so `s = inf` gives NaN there and exact zeros elsewhere), or all of them.
#[derive(Clone, Copy, PartialEq)]
enum Support {
    Ignored,
    Target(usize),
    All,
}

/// Contiguous rows are handed to the row kernels about this many values at a time.
const ROW_BLOCK: usize = 256;

/// The max and log-sum-exp-of-shifted-logits of one position, kept for backward.
type RowStats<T> = (T, T);

/// What forward computes for one position: its row statistics, the class term `-w[y]·lp[y]`
/// (or the whole probability-target loss) and the smoothing term `-Σ w[c]·lp[c]`.
#[derive(Clone, Copy)]
struct PositionLoss<T> {
    stats: RowStats<T>,
    main: f64,
    smooth: f64,
}

/// The values of position `s` of a sample's `[c, stride]` block: the block itself when
/// `stride == 1`, else gathered into `scratch`.
fn gather<'a, T: Copy>(block: &'a [T], stride: usize, s: usize, scratch: &'a mut Vec<T>) -> &'a [T] {
    if stride == 1 {
        return block;
    }
    scratch.clear();
    scratch.extend(block.iter().skip(s).step_by(stride));
    scratch
}

/// Writes `row` back as position `s` of a `[c, stride]` block.
fn scatter<T: Copy>(row: &[T], block: &mut [T], stride: usize, s: usize) {
    for (dst, &v) in block.iter_mut().skip(s).step_by(stride).zip(row) {
        *dst = v;
    }
}

/// Everything the loss needs besides the input values.
pub(crate) struct ClassLoss<T: Float> {
    pub op: &'static str,
    pub layout: Layout,
    pub classes: Classes<T>,
    pub weight: Option<Vec<f64>>,
    pub reduction: Reduction,
    /// Label smoothing, 0 when not active.
    pub eps: f64,
    /// `true` for cross-entropy (input: logits), `false` for nll_loss (input: log-probabilities).
    pub softmax: bool,
    /// The input's shape.
    pub input_shape: Vec<usize>,
    /// The output shape for `Reduction::None`.
    pub none_shape: Vec<usize>,
    /// An error PyTorch raises only in backward (a `(C)` input with a `(1)` target).
    pub backward_error: Option<Error>,
}

impl<T: Float> ClassLoss<T> {
    #[inline]
    fn w(&self, c: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[c])
    }

    /// The target probabilities in the input's layout, if the target holds probabilities.
    #[inline]
    fn target_probabilities(&self) -> Option<&[T]> {
        match &self.classes {
            Classes::Probabilities(t) => Some(t.array().to_slice().expect("standard layout")),
            Classes::Indices { .. } => None,
        }
    }

    /// Which coefficients of position `pos` are not zero.
    #[inline]
    fn support(&self, pos: usize) -> Support {
        match &self.classes {
            Classes::Indices { targets, ignore_index } if targets[pos] == *ignore_index => Support::Ignored,
            Classes::Indices { targets, .. } if self.eps == 0.0 => Support::Target(targets[pos] as usize),
            _ => Support::All,
        }
    }

    /// The coefficient `a[pos, k]`; `t` is the position's target row for probability targets.
    fn coefficient(&self, pos: usize, k: usize, t: Option<&[T]>) -> f64 {
        let c = self.layout.c as f64;
        match (&self.classes, t) {
            (Classes::Indices { targets, .. }, _) => {
                let y = targets[pos] as usize;
                let a = self.eps / c * self.w(k);
                if k == y {
                    a + (1.0 - self.eps) * self.w(y)
                } else {
                    a
                }
            }
            (Classes::Probabilities(_), Some(t)) => {
                let tk = t[k].f64();
                let tk = if self.eps > 0.0 {
                    tk * (1.0 - self.eps) + self.eps / c
                } else {
                    tk
                };
                self.w(k) * tk
            }
            (Classes::Probabilities(_), None) => unreachable!("probability targets come with their row"),
        }
    }

    /// Checks every counted target is a class: PyTorch's `Target {y} is out of bounds.`
    pub fn check_targets(&self) -> Result<()> {
        if let Classes::Indices { targets, ignore_index } = &self.classes {
            if let Some(&y) = targets
                .iter()
                .find(|&&y| y != *ignore_index && (y < 0 || y as u64 >= self.layout.c as u64))
            {
                return Err(Error::TargetOutOfBounds { op: self.op, target: y });
            }
        }
        Ok(())
    }

    /// The divisor of `mean`: Σ w[y] over counted positions, or the number of positions.
    fn mean_divisor(&self) -> f64 {
        match &self.classes {
            Classes::Indices { targets, ignore_index } => targets
                .iter()
                .filter(|&&y| y != *ignore_index)
                .map(|&y| self.w(y as usize))
                .sum(),
            // numel / C: NaN for an empty input, as PyTorch.
            Classes::Probabilities(_) => (self.layout.positions() * self.layout.c) as f64 / self.layout.c as f64,
        }
    }

    /// Row `pos` of contiguous rows (`stride == 1`) and its target probabilities, if any.
    #[inline]
    fn row<'a>(&'a self, x: &'a [T], pos: usize) -> (&'a [T], Option<&'a [T]>) {
        let range = pos * self.layout.c..(pos + 1) * self.layout.c;
        (&x[range.clone()], self.target_probabilities().map(|t| &t[range]))
    }

    /// Calls `f(pos, row, target_row)` for each position of sample `n`, in order; `target_row`
    /// is the position's target probabilities, if the target holds probabilities.
    fn for_each_row_of_sample(&self, x: &[T], n: usize, mut f: impl FnMut(usize, &[T], Option<&[T]>)) {
        let (c, stride) = (self.layout.c, self.layout.s);
        let range = n * c * stride..(n + 1) * c * stride;
        let targets = self.target_probabilities().map(|t| &t[range.clone()]);
        let (mut x_row, mut t_row) = (Vec::new(), Vec::new());
        for s in 0..stride {
            let row = gather(&x[range.clone()], stride, s, &mut x_row);
            let t = targets.map(|t| gather(t, stride, s, &mut t_row));
            f(n * stride + s, row, t);
        }
    }

    /// A tensor of the input's shape, in the buffer `out` (as long as `x`), whose row at each
    /// position `f(pos, row, target_row, out_row)` writes, sample by sample (on several threads
    /// for big inputs). With `stride == 1`, `out_row` holds what `out` held there before.
    fn input_sized(
        &self,
        x: &[T],
        mut out: Vec<T>,
        f: impl Fn(usize, &[T], Option<&[T]>, &mut [T]) + Sync + Send,
    ) -> Tensor<T> {
        let (c, stride) = (self.layout.c, self.layout.s);
        if stride == 1 && c > 0 {
            // Contiguous rows, many to a block, as forward reads them.
            let rows = (ROW_BLOCK / c).max(1);
            for_each_block_mut(&mut out, rows * c, rows * c, |i, block| {
                for (j, out_row) in block.chunks_exact_mut(c).enumerate() {
                    let (row, t) = self.row(x, i * rows + j);
                    f(i * rows + j, row, t, out_row);
                }
            });
            return Tensor::from_vec(out, &self.input_shape).expect("input shape");
        }
        for_each_block_mut(&mut out, c * stride, c * stride, |n, block| {
            let mut out_row = Vec::new();
            self.for_each_row_of_sample(x, n, |pos, row, t| {
                if stride == 1 {
                    return f(pos, row, t, block);
                }
                out_row.resize(c, T::zero());
                f(pos, row, t, &mut out_row);
                scatter(&out_row, block, stride, pos % stride);
            });
        });
        Tensor::from_vec(out, &self.input_shape).expect("input shape")
    }

    /// The loss terms of one position, whose row statistics are `stats` if already known.
    #[inline]
    fn position_loss(&self, pos: usize, row: &[T], t: Option<&[T]>, stats: Option<RowStats<T>>) -> PositionLoss<T> {
        let (max, log_sum) = match (self.softmax, stats) {
            (false, _) => (T::zero(), T::zero()),
            (true, Some(stats)) => stats,
            (true, None) => T::max_log_sum_exp(row),
        };
        let lp = |k: usize| {
            if self.softmax {
                (row[k] - max) - log_sum
            } else {
                row[k]
            }
        };
        let (mut main, mut smooth) = (0.0, 0.0);
        match &self.classes {
            Classes::Indices { targets, ignore_index } => {
                let y = targets[pos];
                if y != *ignore_index {
                    main = -(self.w(y as usize) * lp(y as usize).f64());
                    if self.eps > 0.0 {
                        smooth = -(0..row.len()).map(|k| self.w(k) * lp(k).f64()).sum::<f64>();
                    }
                }
            }
            Classes::Probabilities(_) => {
                main = -(0..row.len())
                    .map(|k| lp(k).f64() * self.coefficient(pos, k, t))
                    .sum::<f64>();
            }
        }
        PositionLoss {
            stats: (max, log_sum),
            main,
            smooth,
        }
    }

    /// The loss, and per position the (max, log-sum) that backward needs. Unless `unit_grad`
    /// is empty, it receives `∂L/∂x` for an upstream gradient of 1 (contiguous rows only).
    fn forward(&self, x: &[T], unit_grad: &mut [T]) -> Result<(Tensor<T>, Vec<RowStats<T>>)> {
        let (m, c) = (self.layout.positions(), self.layout.c);
        let mut per_position = vec![
            PositionLoss {
                stats: (T::zero(), T::zero()),
                main: 0.0,
                smooth: 0.0
            };
            m
        ];
        let (stride, work) = (self.layout.s, self.layout.c * self.layout.s);
        let divisor = self.divisor();
        debug_assert!(unit_grad.is_empty() || stride == 1);
        if self.softmax && stride == 1 {
            // Contiguous rows: their statistics (and exponentials) many rows at a time, then
            // their loss terms and gradients while the rows are still in cache (a row of a big
            // input read again later costs a trip to memory).
            let rows = (ROW_BLOCK / c.max(1)).max(1);
            let unit = 1.0 / divisor;
            for_each_block_pair_mut(
                &mut per_position,
                rows,
                unit_grad,
                rows * c,
                rows * c,
                |i, out, grad| {
                    let first = i * rows;
                    let mut stats = [(T::zero(), T::zero()); ROW_BLOCK];
                    let stats = &mut stats[..out.len()];
                    T::rows_exps_and_log_sum(&x[first * c..(first + out.len()) * c], c, stats, grad);
                    for (j, (o, &s)) in out.iter_mut().zip(stats.iter()).enumerate() {
                        let (row, t) = self.row(x, first + j);
                        *o = self.position_loss(first + j, row, t, Some(s));
                        if !grad.is_empty() {
                            let g = &mut grad[j * c..(j + 1) * c];
                            self.input_grad_row(first + j, unit, s, row, t, g, true);
                        }
                    }
                },
            );
        } else {
            for_each_block_mut(&mut per_position, stride, work, |n, out| {
                self.for_each_row_of_sample(x, n, |pos, row, t| {
                    out[pos - n * stride] = self.position_loss(pos, row, t, None);
                });
            });
        }
        let smoothing = self.eps > 0.0 && matches!(self.classes, Classes::Indices { .. });
        let combine = |main: f64, smooth: f64| {
            if smoothing {
                (1.0 - self.eps) * main + self.eps / c as f64 * smooth
            } else {
                main
            }
        };
        let loss = match self.reduction {
            Reduction::None => {
                let v = per_position.iter().map(|p| T::of(combine(p.main, p.smooth))).collect();
                Tensor::from_vec(v, &self.none_shape)?
            }
            Reduction::Sum | Reduction::Mean => {
                // In position order, whatever the threads did.
                let (sum_main, sum_smooth) = match &self.classes {
                    // PyTorch negates the whole sum here, so an empty sum is -0.0.
                    Classes::Probabilities(_) => (-per_position.iter().map(|p| -p.main).sum::<f64>(), 0.0),
                    Classes::Indices { .. } => (
                        per_position.iter().map(|p| p.main).sum(),
                        per_position.iter().map(|p| p.smooth).sum(),
                    ),
                };
                // (Divided by 1 for `sum`, which changes nothing.)
                Tensor::scalar(T::of(combine(sum_main / divisor, sum_smooth / divisor)))
            }
        };
        let stats = if self.softmax {
            per_position.iter().map(|p| p.stats).collect()
        } else {
            Vec::new()
        };
        Ok((loss, stats))
    }

    /// What the upstream gradient is divided by: `D` for `mean`, else 1. The scale of every
    /// position for an upstream gradient of 1 is its inverse.
    fn divisor(&self) -> f64 {
        match self.reduction {
            Reduction::Mean => self.mean_divisor(),
            Reduction::Sum | Reduction::None => 1.0,
        }
    }

    /// The upstream gradient of each position (the one value of `g` for `sum` and `mean`).
    fn upstream(&self, g: &Tensor<T>) -> impl Fn(usize) -> f64 + Sync + Send {
        let values: Vec<f64> = g.array().iter().map(|v| v.f64()).collect();
        let one = self.reduction != Reduction::None;
        move |pos| values[if one { 0 } else { pos }]
    }

    /// `∂L/∂x` of one position's row, `s·(p·A - a)` (or `-s·a` for nll_loss), into `out`,
    /// which holds the row's shifted exponentials from forward if `stored`.
    #[allow(clippy::too_many_arguments)]
    fn input_grad_row(
        &self,
        pos: usize,
        s: f64,
        stats: RowStats<T>,
        row: &[T],
        t: Option<&[T]>,
        out: &mut [T],
        stored: bool,
    ) {
        let (max, log_sum) = stats;
        // out = scale·p: the stored exp(x - max) times scale / Σ exp(x - max), or recomputed
        // from the row (without stored values, or when the row holds NaN or infinities).
        let scaled_softmax = |scale: T, out: &mut [T]| {
            if stored && max.is_finite() && log_sum.is_finite() {
                // 1/Σ exp(x - max): from the stored values for a short row (a few additions
                // instead of an `exp`), from the log-sum for a long one.
                let inv_sum = if out.len() < SMALL_ROW {
                    1.0 / out.iter().map(|e| e.f64()).sum::<f64>()
                } else {
                    (-log_sum.f64()).exp()
                };
                let f = T::of(scale.f64() * inv_sum);
                out.iter_mut().for_each(|o| *o *= f);
            } else {
                T::scaled_softmax(row, max, log_sum, scale, out)
            }
        };
        match (self.support(pos), self.softmax) {
            (Support::Ignored, true) => scaled_softmax(T::zero(), out),
            (Support::Ignored, false) => out.fill(T::zero()),
            (Support::Target(y), true) => {
                let sa = T::of(s * self.w(y));
                scaled_softmax(sa, out);
                out[y] -= sa;
            }
            (Support::Target(y), false) => {
                out.fill(T::zero());
                out[y] = T::of(-(s * self.w(y)));
            }
            (Support::All, _) => {
                let a_sum: f64 = (0..row.len()).map(|k| self.coefficient(pos, k, t)).sum();
                scaled_softmax(T::of(s * a_sum), out);
                for (k, o) in out.iter_mut().enumerate() {
                    *o = T::of(o.f64() - s * self.coefficient(pos, k, t));
                }
            }
        }
    }

    /// `∂L/∂x` (if `wants_input`) and, for probability targets, `∂L/∂t` (if `wants_target`),
    /// straight from the closed form. `unit_grad` is forward's `∂L/∂x` for an upstream gradient
    /// of 1, or empty: it is the answer when `g` is 1, and is scaled by `g` in place when `g`
    /// is finite and not zero; elsewhere `∂L/∂x` is computed from the logits.
    fn backward_kernel(
        &self,
        x: &[T],
        stats: &[RowStats<T>],
        g: &Tensor<T>,
        wants: (bool, bool),
        unit_grad: Vec<T>,
    ) -> (Option<Tensor<T>>, Option<Tensor<T>>) {
        let (wants_input, wants_target) = wants;
        let (upstream, divisor) = (self.upstream(g), self.divisor());
        let scale = |pos: usize| upstream(pos) / divisor;
        let stats_of = |pos: usize| stats.get(pos).copied().unwrap_or((T::zero(), T::zero()));
        let gx = wants_input.then(|| {
            if unit_grad.is_empty() {
                let out = output_vec(x.len()); // every value is written
                return self.input_sized(x, out, |pos, row, t, out| {
                    self.input_grad_row(pos, scale(pos), stats_of(pos), row, t, out, false)
                });
            }
            if g.array().iter().all(|&v| v == T::one()) {
                return Tensor::from_vec(unit_grad, &self.input_shape).expect("input shape");
            }
            let unit_finite = (1.0 / divisor).is_finite();
            self.input_sized(x, unit_grad, |pos, row, t, out| {
                let f = upstream(pos);
                if f == 1.0 {
                    return;
                }
                if unit_finite && f.is_finite() && f != 0.0 {
                    let f = T::of(f);
                    out.iter_mut().for_each(|o| *o *= f);
                } else {
                    self.input_grad_row(pos, scale(pos), stats_of(pos), row, t, out, false)
                }
            })
        });
        let gt = (wants_target && matches!(self.classes, Classes::Probabilities(_))).then(|| {
            let f = if self.eps > 0.0 { 1.0 - self.eps } else { 1.0 };
            self.input_sized(x, output_vec(x.len()), |pos, row, _, out| {
                let (max, log_sum) = stats_of(pos);
                let s = scale(pos);
                for (k, o) in out.iter_mut().enumerate() {
                    let lp = (row[k] - max) - log_sum;
                    *o = T::of(-s * f * self.w(k) * lp.f64());
                }
            })
        });
        (gx, gt)
    }

    /// The same gradient written with `Var` ops, used when backward itself is recorded
    /// (`create_graph`), so that it can be differentiated again: `s·(softmax(x)·A - a)`.
    /// The coefficients `a` are constants here: second derivatives through a probability
    /// target are not recorded.
    fn backward_composite(&self, g: &Var<T>, inputs: &[Var<T>]) -> Result<Vec<Option<Var<T>>>> {
        let (c, stride, cd) = (self.layout.c, self.layout.s, self.layout.class_dim);
        let probabilities = self.target_probabilities();
        let mut a_all = vec![T::zero(); self.input_shape.iter().product()];
        let mut a_sum = vec![T::zero(); self.layout.positions()];
        let mut t_row = Vec::new();
        for n in 0..self.layout.n {
            let block = n * c * stride..(n + 1) * c * stride;
            for s in 0..stride {
                let pos = n * stride + s;
                let t = probabilities.map(|t| gather(&t[block.clone()], stride, s, &mut t_row));
                let a = |k: usize| match self.support(pos) {
                    Support::Ignored => 0.0,
                    Support::Target(y) if k != y => 0.0,
                    _ => self.coefficient(pos, k, t),
                };
                for k in 0..c {
                    a_all[block.start + k * stride + s] = T::of(a(k));
                }
                a_sum[pos] = T::of((0..c).map(a).sum());
            }
        }
        let mut per_position = self.input_shape.clone();
        per_position[cd] = 1;
        let a_all = Var::new(Tensor::from_vec(a_all, &self.input_shape)?);
        let a_sum = Var::new(Tensor::from_vec(a_sum, &per_position)?);
        let s = match self.reduction {
            Reduction::None => g.reshape(&per_position)?,
            Reduction::Sum => g.clone(),
            Reduction::Mean => g.div_scalar(T::of(self.mean_divisor())),
        };
        let x = &inputs[0];
        let gx = if self.softmax {
            s.try_mul(&x.softmax(cd as isize)?.try_mul(&a_sum)?.try_sub(&a_all)?)?
        } else {
            s.try_mul(&a_all)?.neg()
        };
        let gt = match &self.classes {
            Classes::Probabilities(_) => {
                let f = if self.eps > 0.0 { 1.0 - self.eps } else { 1.0 };
                let mut w_shape = vec![1; self.input_shape.len()];
                w_shape[cd] = c;
                let w: Vec<T> = (0..c).map(|k| T::of(-f * self.w(k))).collect();
                let w = Var::new(Tensor::from_vec(w, &w_shape)?);
                Some(s.try_mul(&x.log_softmax(cd as isize)?)?.try_mul(&w)?)
            }
            Classes::Indices { .. } => None,
        };
        Ok(vec![Some(gx), gt])
    }
}

/// Runs the loss on `input` (and a probability target `Var`, which then gets a gradient).
pub(crate) fn apply<T: Float>(loss: ClassLoss<T>, input: &Var<T>, target: Option<&Var<T>>) -> Result<Var<T>> {
    loss.check_targets()?;
    // When backward will follow, forward writes the gradient for an upstream gradient of 1
    // (`loss.backward()`) while each row is in cache: backward then has nothing left to do, or
    // one multiplication per value for another upstream gradient.
    let store = loss.softmax
        && is_grad_enabled()
        && input.requires_grad()
        && loss.layout.s == 1
        && loss.backward_error.is_none();
    let (out, stats, unit_grad) = {
        let x = input.value();
        let x = x.row_major_values();
        let mut unit_grad = if store { output_vec(x.len()) } else { Vec::new() };
        let (out, stats) = loss.forward(&x, &mut unit_grad)?;
        (out, stats, unit_grad)
    };
    let unit_grad = RefCell::new(unit_grad);
    let name = if loss.softmax {
        "CrossEntropyLossBackward"
    } else {
        "NllLossBackward"
    };
    let mut inputs = vec![input.clone()];
    inputs.extend(target.cloned());
    Ok(Var::from_op(name, out, inputs, move |g, _, xs| {
        if let Some(e) = &loss.backward_error {
            return Err(e.clone());
        }
        // The first backward takes forward's gradient; a later one (the graph is kept)
        // computes it again from the logits.
        let unit_grad = unit_grad.take();
        if is_grad_enabled() {
            let mut grads = loss.backward_composite(g, xs)?;
            grads.truncate(xs.len()); // one per input
            return Ok(grads);
        }
        let x = xs[0].value();
        let x = x.row_major_values();
        let wants_target = xs.get(1).is_some_and(Var::requires_grad);
        let (gx, gt) = loss.backward_kernel(&x, &stats, &g.value(), (xs[0].requires_grad(), wants_target), unit_grad);
        // One gradient per input: the target's only when the target is an input.
        let mut grads = vec![gx.map(Var::new), gt.map(Var::new)];
        grads.truncate(xs.len());
        Ok(grads)
    }))
}
