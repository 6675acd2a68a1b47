//! Adam and AdamW, as torch.optim's single-tensor (`foreach=False`) implementation.

use std::ops::{Deref, DerefMut};

use ferrograd_autograd::Var;
use ferrograd_tensor::ndarray::Zip;
use ferrograd_tensor::tuning::OPTIMIZER_BLOCK;
use ferrograd_tensor::{for_each_item, wide, Error, Float, Result, Tensor};

use super::{check_param, Optimizer};

/// `torch.optim.Adam`, step for step, in torch's order of operations (scalars in `f64`, then
/// converted to the parameter's type, as torch does):
///
/// ```text
/// t = t + 1
/// p = p·(1 - lr·wd)                 if decoupled_weight_decay (AdamW)
/// g = g + wd·p                      otherwise, if wd ≠ 0 (L2 penalty)
/// m = lerp(m, g, 1 - β1)            = m + (1 - β1)·(g - m)
/// v = v·β2 + (1 - β2)·g·g
/// v̂ = max(v̂, v) if amsgrad, else v
/// denom = √v̂ / √(1 - β2^t) + eps
/// p = p + (-lr / (1 - β1^t))·m / denom
/// ```
///
/// Hyperparameters are checked at every [`step`](Optimizer::step) with PyTorch's messages
/// (`Invalid learning rate: -1`).
pub struct Adam<T: Float = f32> {
    params: Vec<Var<T>>,
    state: Vec<Option<Moments<T>>>,
    name: &'static str,
    /// Learning rate (torch's default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moment (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0): an L2 penalty, or decoupled as AdamW's.
    pub weight_decay: f64,
    /// Normalise by the largest second moment so far (default false).
    pub amsgrad: bool,
    /// Decay the weights directly instead of adding `wd·p` to the gradient (AdamW).
    pub decoupled_weight_decay: bool,
    initial_lr: Option<f64>,
}

/// The running state of one parameter, created at its first step.
struct Moments<T: Float> {
    step: u64,
    exp_avg: Tensor<T>,
    exp_avg_sq: Tensor<T>,
    max_exp_avg_sq: Option<Tensor<T>>,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr` and torch's other defaults.
    pub fn new(params: Vec<Var<T>>, lr: f64) -> Self {
        let state = params.iter().map(|_| None).collect();
        Self {
            params,
            state,
            name: "Adam",
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
            initial_lr: None,
        }
    }

    /// With these moment decay rates.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// With this `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// With weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With or without AMSGrad.
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// With decoupled weight decay (AdamW's) or the L2 penalty (Adam's).
    pub fn decoupled_weight_decay(mut self, decoupled: bool) -> Self {
        self.decoupled_weight_decay = decoupled;
        self
    }

    /// torch's checks, in its order; NaN is refused too.
    fn check(&self) -> Result<()> {
        let bad = |message: String| Err(Error::invalid(self.name, message));
        let non_negative = |v: f64| v >= 0.0; // false for NaN
        let (b1, b2) = self.betas;
        if !non_negative(self.lr) {
            return bad(format!("Invalid learning rate: {}", self.lr));
        }
        if !non_negative(self.eps) {
            return bad(format!("Invalid epsilon value: {}", self.eps));
        }
        if !(0.0..1.0).contains(&b1) {
            return bad(format!("Invalid beta parameter at index 0: {b1}"));
        }
        if !(0.0..1.0).contains(&b2) {
            return bad(format!("Invalid beta parameter at index 1: {b2}"));
        }
        if !non_negative(self.weight_decay) {
            return bad(format!("Invalid weight_decay value: {}", self.weight_decay));
        }
        Ok(())
    }
}

/// Updates one parameter, its moments (and their maximum with AMSGrad) from its gradient.
fn update<T: Float>(value: &mut Tensor<T>, g: &Tensor<T>, s: &mut Moments<T>, amsgrad: bool, rule: Rule<T>) {
    let (p, m, v) = (value.array_mut(), s.exp_avg.array_mut(), s.exp_avg_sq.array_mut());
    let zip = Zip::from(p).and(m).and(v).and(g.array());
    match s.max_exp_avg_sq.as_mut().filter(|_| amsgrad) {
        Some(max) => zip
            .and(max.array_mut())
            .for_each(|p, m, v, &g, max| rule.apply(p, m, v, Some(max), g)),
        None => zip.for_each(|p, m, v, &g| rule.apply(p, m, v, None, g)),
    }
}

/// Updates the parameters of `pending` (each listed once, without AMSGrad): the contiguous
/// ones in blocks of [`OPTIMIZER_BLOCK`] values shared between threads, each block a plain
/// loop over its slices compiled for the widest vectors (bit for bit the values of one loop
/// over all), any other by [`update`].
fn update_together<T: Float>(
    pending: &mut [(
        impl DerefMut<Target = Tensor<T>>,
        impl Deref<Target = Tensor<T>>,
        &mut Moments<T>,
        Rule<T>,
    )],
) {
    let mut blocks = Vec::new();
    let mut work = 0;
    for (value, g, s, rule) in pending.iter_mut() {
        let rule = *rule;
        let row_major = |t: &Tensor<T>| t.array().is_standard_layout();
        if ![&**value, &**g, &s.exp_avg, &s.exp_avg_sq].into_iter().all(row_major) {
            update(value, g, s, false, rule);
            continue;
        }
        let (p, m, v) = (
            row_slice(value),
            row_slice(&mut s.exp_avg),
            row_slice(&mut s.exp_avg_sq),
        );
        let g = g.array().to_slice().expect("row-major");
        work += p.len();
        let chunks = p.chunks_mut(OPTIMIZER_BLOCK).zip(m.chunks_mut(OPTIMIZER_BLOCK));
        let chunks = chunks.zip(v.chunks_mut(OPTIMIZER_BLOCK)).zip(g.chunks(OPTIMIZER_BLOCK));
        blocks.extend(chunks.map(|(((p, m), v), g)| (p, m, v, g, rule)));
    }
    for_each_item(blocks, work, |(p, m, v, g, rule)| {
        // The rule is moved into the loop's closure: read through a reference, its optional
        // scalars were loaded only where present, a gather per vector.
        wide(
            #[inline(always)]
            move || {
                for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                    rule.apply(p, m, v, None, g);
                }
            },
        )
    });
}

/// The values of a row-major tensor.
fn row_slice<T: Float>(t: &mut Tensor<T>) -> &mut [T] {
    t.array_mut().into_slice().expect("row-major")
}

/// `torch.lerp` for floats: `start + w·(end - start)`, from the other end when `|w| ≥ 0.5`.
#[inline(always)]
fn lerp<T: Float>(start: T, end: T, weight: T) -> T {
    if weight.abs() < T::of(0.5) {
        start + weight * (end - start)
    } else {
        end - (end - start) * (T::one() - weight)
    }
}

/// The scalars of one parameter's step, in `T`.
#[derive(Clone, Copy)]
struct Rule<T> {
    /// `1 - lr·wd`, AdamW's decay of the weights.
    decay: Option<T>,
    /// `wd`, Adam's L2 penalty added to the gradient.
    l2: Option<T>,
    w1: T,
    b2: T,
    w2: T,
    eps: T,
    bias_correction2_sqrt: T,
    /// `-lr / (1 - β1^t)`.
    neg_step: T,
}

impl<T: Float> Rule<T> {
    /// The step of one element, in torch's order of operations (see [`Adam`]): the parameter,
    /// its moments (and their maximum with AMSGrad) updated in place from its gradient.
    #[inline(always)]
    fn apply(&self, p: &mut T, m: &mut T, v: &mut T, max: Option<&mut T>, g: T) {
        if let Some(decay) = self.decay {
            *p *= decay;
        }
        let g = match self.l2 {
            Some(wd) => g + wd * *p,
            None => g,
        };
        *m = lerp(*m, g, self.w1);
        *v = *v * self.b2 + self.w2 * g * g;
        let second = match max {
            Some(max) => {
                // torch.maximum: NaN if either is NaN.
                *max = if max.is_nan() || v.is_nan() {
                    T::nan()
                } else {
                    max.max(*v)
                };
                *max
            }
            None => *v,
        };
        let denom = second.sqrt() / self.bias_correction2_sqrt + self.eps;
        *p += self.neg_step * *m / denom;
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self) -> Result<()> {
        self.check()?;
        let op = self.name;
        let (beta1, beta2) = self.betas;
        let (w1, b2, w2, eps) = (T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2), T::of(self.eps));
        // All or nothing: every parameter and its state is checked before any changes (weight
        // decay included).
        for (i, (p, state)) in self.params.iter().zip(&self.state).enumerate() {
            let buffers = match state {
                Some(s) => [
                    ("exp_avg", Some(s.exp_avg.shape())),
                    ("exp_avg_sq", Some(s.exp_avg_sq.shape())),
                    ("max_exp_avg_sq", s.max_exp_avg_sq.as_ref().map(|m| m.shape())),
                ],
                None => [("exp_avg", None), ("exp_avg_sq", None), ("max_exp_avg_sq", None)],
            };
            check_param(op, i, p, &buffers)?;
        }
        // Parameters listed once each (the usual case) are updated together at the end, in
        // blocks shared between threads; a list with one twice is updated one by one, as
        // torch does (the second update starting from the first's result).
        let mut ids: Vec<_> = self.params.iter().map(Var::id).collect();
        ids.sort_unstable();
        let together = !self.amsgrad && ids.windows(2).all(|w| w[0] != w[1]);
        let mut pending = Vec::new();
        for (p, state) in self.params.iter().zip(self.state.iter_mut()) {
            let Some(g) = p.grad_ref() else { continue };
            let mut value = p.value_mut();
            let s = state.get_or_insert_with(|| Moments {
                step: 0,
                exp_avg: value.zeros_like(),
                exp_avg_sq: value.zeros_like(),
                max_exp_avg_sq: None,
            });
            s.step += 1;
            let t = s.step as f64;
            let wd = self.weight_decay;
            let rule = Rule {
                decay: (wd != 0.0 && self.decoupled_weight_decay).then(|| T::of(1.0 - self.lr * wd)),
                l2: (wd != 0.0 && !self.decoupled_weight_decay).then(|| T::of(wd)),
                w1,
                b2,
                w2,
                eps,
                bias_correction2_sqrt: T::of((1.0 - beta2.powf(t)).powf(0.5)),
                neg_step: T::of(-(self.lr / (1.0 - beta1.powf(t)))),
            };
            if self.amsgrad && s.max_exp_avg_sq.is_none() {
                s.max_exp_avg_sq = Some(value.zeros_like());
            }
            if together {
                pending.push((value, g, s, rule));
            } else {
                update(&mut value, &g, s, self.amsgrad, rule);
            }
        }
        update_together(&mut pending);
        Ok(())
    }

    common_optimizer_methods!();

    fn momentum_or_beta1(&self) -> Option<f64> {
        Some(self.betas.0)
    }

    fn set_momentum_or_beta1(&mut self, beta1: f64) {
        self.betas.0 = beta1;
    }
}

/// `torch.optim.AdamW`: [`Adam`] with decoupled weight decay, default 0.01.
///
/// It dereferences to the [`Adam`] it is, so its hyperparameters are read and set as Adam's
/// (`opt.lr = 1e-4`).
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::{AdamW, Optimizer};
/// use ferrograd_tensor::Tensor;
///
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, -2.0], &[2])?);
/// let mut opt = AdamW::new(vec![w.clone()], 0.1).betas(0.9, 0.99);
/// w.set_grad(Some(Tensor::from_vec(vec![0.5, 0.5], &[2])?))?;
/// opt.step()?;
/// // p·(1 - 0.1·0.01), then the Adam step of size lr against sign(g) on the first step
/// assert!((w.to_tensor().to_vec()[0] - (0.999 - 0.1)).abs() < 1e-6);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub struct AdamW<T: Float = f32>(Adam<T>);

impl<T: Float> AdamW<T> {
    /// AdamW with learning rate `lr` and torch's other defaults (weight decay 0.01).
    pub fn new(params: Vec<Var<T>>, lr: f64) -> Self {
        let mut adam = Adam::new(params, lr).weight_decay(0.01).decoupled_weight_decay(true);
        adam.name = "AdamW";
        Self(adam)
    }

    /// With these moment decay rates.
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        Self(self.0.betas(beta1, beta2))
    }

    /// With this `eps`.
    pub fn eps(self, eps: f64) -> Self {
        Self(self.0.eps(eps))
    }

    /// With this decoupled weight decay.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Self(self.0.weight_decay(weight_decay))
    }

    /// With or without AMSGrad.
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        Self(self.0.amsgrad(amsgrad))
    }
}

impl<T: Float> Deref for AdamW<T> {
    type Target = Adam<T>;
    fn deref(&self) -> &Adam<T> {
        &self.0
    }
}

impl<T: Float> DerefMut for AdamW<T> {
    fn deref_mut(&mut self) -> &mut Adam<T> {
        &mut self.0
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step(&mut self) -> Result<()> {
        self.0.step()
    }

    fn zero_grad(&mut self) {
        self.0.zero_grad();
    }

    fn lr(&self) -> f64 {
        self.0.lr()
    }

    fn set_lr(&mut self, lr: f64) {
        self.0.set_lr(lr);
    }

    fn initial_lr(&self) -> Option<f64> {
        self.0.initial_lr()
    }

    fn set_initial_lr(&mut self, lr: f64) {
        self.0.set_initial_lr(lr);
    }

    fn momentum_or_beta1(&self) -> Option<f64> {
        self.0.momentum_or_beta1()
    }

    fn set_momentum_or_beta1(&mut self, beta1: f64) {
        self.0.set_momentum_or_beta1(beta1);
    }
}
