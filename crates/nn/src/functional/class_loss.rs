//! The fused kernel behind `cross_entropy` and `nll_loss`: one op with its own gradient.
//!
//! Input `x` is viewed as `[n, c, s]` (see [`Layout`]); a *position* is a pair `(n, s)`.
//! With `lp = log_softmax(x)` over the class dimension (or `lp = x` for `nll_loss`), every
//! mode of PyTorch's cross-entropy is
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
//! The forward keeps one max and one log-sum per position, not the log-probabilities;
//! backward recomputes `lp` from `x`. Sums are accumulated in `f64`.

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_tensor::{Error, Float, Result, Tensor};

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

/// The max and log-sum-exp-of-shifted-logits of one position, kept for backward.
type RowStats<T> = (T, T);

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
    fn w(&self, c: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[c])
    }

    fn offset(&self, pos: usize, c: usize) -> usize {
        let (n, s) = (pos / self.layout.s, pos % self.layout.s);
        (n * self.layout.c + c) * self.layout.s + s
    }

    /// Fills `lp` with the log-probabilities of one position; returns its (max, log-sum).
    fn log_probs(&self, x: &[T], pos: usize, lp: &mut [T]) -> (T, T) {
        let c = self.layout.c;
        for (k, v) in lp.iter_mut().enumerate().take(c) {
            *v = x[self.offset(pos, k)];
        }
        if !self.softmax {
            return (T::zero(), T::zero());
        }
        let max = lp.iter().fold(T::neg_infinity(), |m, &v| {
            if m.is_nan() || v.is_nan() {
                T::nan()
            } else {
                m.max(v)
            }
        });
        let log_sum = T::of(lp.iter().map(|&v| (v - max).f64().exp()).sum::<f64>().ln());
        for v in lp.iter_mut() {
            *v = (*v - max) - log_sum;
        }
        (max, log_sum)
    }

    /// The coefficients `a[pos, ·]` of one position, and which of them PyTorch computes.
    fn coefficients(&self, pos: usize, a: &mut [f64]) -> Support {
        let c = self.layout.c;
        match &self.classes {
            Classes::Indices { targets, ignore_index } => {
                let y = targets[pos];
                a.fill(0.0);
                if y == *ignore_index {
                    return Support::Ignored;
                }
                let y = y as usize;
                if self.eps == 0.0 {
                    a[y] = self.w(y);
                    return Support::Target(y);
                }
                for (k, v) in a.iter_mut().enumerate() {
                    *v = self.eps / c as f64 * self.w(k);
                }
                a[y] += (1.0 - self.eps) * self.w(y);
            }
            Classes::Probabilities(t) => {
                let t = t.array().as_slice().expect("standard layout");
                for (k, v) in a.iter_mut().enumerate() {
                    let tk = t[self.offset(pos, k)].f64();
                    let tk = if self.eps > 0.0 {
                        tk * (1.0 - self.eps) + self.eps / c as f64
                    } else {
                        tk
                    };
                    *v = self.w(k) * tk;
                }
            }
        }
        Support::All
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

    /// The loss, and per position the (max, log-sum) that backward needs.
    fn forward(&self, x: &[T]) -> Result<(Tensor<T>, Vec<RowStats<T>>)> {
        let (m, c) = (self.layout.positions(), self.layout.c);
        let mut lp = vec![T::zero(); c];
        let mut stats = Vec::with_capacity(if self.softmax { m } else { 0 });
        // Per position: the class term -w[y]·lp[y] (or the probability loss) and the smoothing term.
        let (mut main, mut smooth) = (vec![0.0f64; m], vec![0.0f64; m]);
        for pos in 0..m {
            let st = self.log_probs(x, pos, &mut lp);
            if self.softmax {
                stats.push(st);
            }
            match &self.classes {
                Classes::Indices { targets, ignore_index } => {
                    let y = targets[pos];
                    if y == *ignore_index {
                        continue;
                    }
                    main[pos] = -(self.w(y as usize) * lp[y as usize].f64());
                    if self.eps > 0.0 {
                        smooth[pos] = -(0..c).map(|k| self.w(k) * lp[k].f64()).sum::<f64>();
                    }
                }
                Classes::Probabilities(_) => {
                    let mut a = vec![0.0; c];
                    let _ = self.coefficients(pos, &mut a);
                    main[pos] = -(0..c).map(|k| lp[k].f64() * a[k]).sum::<f64>();
                }
            }
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
                let v = main.iter().zip(&smooth).map(|(&a, &b)| T::of(combine(a, b))).collect();
                Tensor::from_vec(v, &self.none_shape)?
            }
            Reduction::Sum | Reduction::Mean => {
                let (sum_main, sum_smooth) = match &self.classes {
                    // PyTorch negates the whole sum here, so an empty sum is -0.0.
                    Classes::Probabilities(_) => (-main.iter().map(|v| -v).sum::<f64>(), 0.0),
                    Classes::Indices { .. } => (main.iter().sum(), smooth.iter().sum()),
                };
                let d = if self.reduction == Reduction::Mean {
                    self.mean_divisor()
                } else {
                    1.0
                };
                let total = if self.reduction == Reduction::Mean {
                    combine(sum_main / d, sum_smooth / d)
                } else {
                    combine(sum_main, sum_smooth)
                };
                Tensor::scalar(T::of(total))
            }
        };
        Ok((loss, stats))
    }

    /// The upstream gradient per position, divided by the `mean` divisor.
    fn scales(&self, g: &Tensor<T>) -> Vec<f64> {
        let m = self.layout.positions();
        match self.reduction {
            Reduction::None => g.to_vec().iter().map(|v| v.f64()).collect(),
            Reduction::Sum => vec![g.to_vec()[0].f64(); m],
            Reduction::Mean => vec![g.to_vec()[0].f64() / self.mean_divisor(); m],
        }
    }

    /// `∂L/∂x` and, for probability targets, `∂L/∂t`, straight from the closed form.
    fn backward_kernel(&self, x: &[T], stats: &[RowStats<T>], g: &Tensor<T>) -> (Tensor<T>, Option<Tensor<T>>) {
        let (m, c) = (self.layout.positions(), self.layout.c);
        let scales = self.scales(g);
        let mut gx = vec![T::zero(); x.len()];
        let wants_target = matches!(self.classes, Classes::Probabilities(_));
        let mut gt = if wants_target {
            vec![T::zero(); x.len()]
        } else {
            Vec::new()
        };
        let f = if self.eps > 0.0 { 1.0 - self.eps } else { 1.0 };
        let (mut a, mut lp) = (vec![0.0; c], vec![T::zero(); c]);
        for pos in 0..m {
            let s = scales[pos];
            let support = self.coefficients(pos, &mut a);
            let gk = |k: usize| match support {
                Support::Ignored => 0.0,
                Support::Target(y) if k != y => 0.0,
                _ => -s * a[k],
            };
            let sum_g: f64 = (0..c).map(gk).sum();
            for (k, v) in lp.iter_mut().enumerate() {
                *v = x[self.offset(pos, k)];
            }
            if self.softmax {
                let (max, log_sum) = stats[pos];
                lp.iter_mut().for_each(|v| *v = (*v - max) - log_sum);
            }
            for k in 0..c {
                let g = if self.softmax {
                    gk(k) - lp[k].exp().f64() * sum_g
                } else {
                    gk(k)
                };
                gx[self.offset(pos, k)] = T::of(g);
                if wants_target {
                    gt[self.offset(pos, k)] = T::of(-s * f * self.w(k) * lp[k].f64());
                }
            }
        }
        let gx = Tensor::from_vec(gx, &self.input_shape).expect("input shape");
        let gt = wants_target.then(|| Tensor::from_vec(gt, &self.input_shape).expect("input shape"));
        (gx, gt)
    }

    /// The same gradient written with `Var` ops, used when backward itself is recorded
    /// (`create_graph`), so that it can be differentiated again: `s·(softmax(x)·A - a)`.
    /// The coefficients `a` are constants here: second derivatives through a probability
    /// target are not recorded.
    fn backward_composite(&self, g: &Var<T>, inputs: &[Var<T>]) -> Result<Vec<Option<Var<T>>>> {
        let (m, c, cd) = (self.layout.positions(), self.layout.c, self.layout.class_dim);
        let mut a_all = vec![T::zero(); self.input_shape.iter().product()];
        let mut a_sum = vec![T::zero(); m];
        let mut a = vec![0.0; c];
        for pos in 0..m {
            let _ = self.coefficients(pos, &mut a);
            for k in 0..c {
                a_all[self.offset(pos, k)] = T::of(a[k]);
            }
            a_sum[pos] = T::of(a.iter().sum());
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
    let (out, stats) = {
        let x = input.value();
        let x = x.array().as_standard_layout();
        loss.forward(x.as_slice().expect("standard layout"))?
    };
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
        if is_grad_enabled() {
            return loss.backward_composite(g, xs);
        }
        let x = xs[0].value();
        let x = x.array().as_standard_layout();
        let (gx, gt) = loss.backward_kernel(x.as_slice().expect("standard layout"), &stats, &g.value());
        Ok(vec![Some(Var::new(gx)), gt.map(Var::new)])
    }))
}
