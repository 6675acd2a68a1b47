//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};

use super::{check_param, Optimizer};

/// `torch.optim.SGD`, step for step:
///
/// ```text
/// g = grad + weight_decay·p
/// buf = g                                    (first step)
/// buf = momentum·buf + (1 - dampening)·g     (later steps)
/// g = g + momentum·buf  if nesterov,  else  g = buf      (when momentum ≠ 0)
/// p = p - lr·g
/// ```
pub struct SGD<T: Float = f32> {
    params: Vec<Var<T>>,
    buffers: Vec<Option<Tensor<T>>>,
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (default 0).
    pub momentum: f64,
    /// Dampening of the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    initial_lr: Option<f64>,
}

impl<T: Float> SGD<T> {
    /// Plain SGD with learning rate `lr`; set the public fields or use the builders for the rest.
    pub fn new(params: Vec<Var<T>>, lr: f64) -> Self {
        let buffers = vec![None; params.len()];
        Self {
            params,
            buffers,
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            initial_lr: None,
        }
    }

    /// With momentum.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// With dampening.
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// With weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// With Nesterov momentum.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64| Error::invalid("SGD", format!("Invalid {name} value: {v}"));
        if self.lr.is_nan() || self.lr < 0.0 {
            return Err(Error::invalid("SGD", format!("Invalid learning rate: {}", self.lr)));
        }
        if self.momentum.is_nan() || self.momentum < 0.0 {
            return Err(bad("momentum", self.momentum));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err(bad("weight_decay", self.weight_decay));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                "SGD",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for SGD<T> {
    fn step(&mut self) -> Result<()> {
        self.check()?;
        // Scalars as torch computes them: in f64, then converted to the parameter's type.
        let (lr, mom, keep, wd) = (
            T::of(self.lr),
            T::of(self.momentum),
            T::of(1.0 - self.dampening),
            T::of(self.weight_decay),
        );
        // All or nothing: every parameter is checked before any changes.
        for (i, (p, buf)) in self.params.iter().zip(&self.buffers).enumerate() {
            check_param("SGD", i, p, &[("momentum_buffer", buf.as_ref().map(|b| b.shape()))])?;
        }
        // Every update is in place, with the arithmetic of PyTorch's out-of-place steps: the
        // same operations on the same values, rounded to `T` after each.
        for (p, buf) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(grad) = p.grad_ref() else { continue };
            let mut value = p.value_mut();
            let decayed;
            let g = if self.weight_decay != 0.0 {
                decayed = grad.zip_map(&value, "SGD", |g, p| g + wd * p)?;
                &decayed
            } else {
                &*grad
            };
            if self.momentum == 0.0 {
                value.zip_assign(g, "SGD", |p, g| p - lr * g)?;
                continue;
            }
            let b = match buf {
                Some(b) => {
                    b.zip_assign(g, "SGD", |b, g| b * mom + keep * g)?;
                    b
                }
                None => buf.insert(g.clone()),
            };
            if self.nesterov {
                let step = g.zip_map(b, "SGD", |g, b| g + mom * b)?;
                value.zip_assign(&step, "SGD", |p, g| p - lr * g)?;
            } else {
                value.zip_assign(b, "SGD", |p, b| p - lr * b)?;
            }
        }
        Ok(())
    }

    common_optimizer_methods!();

    fn momentum_or_beta1(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum_or_beta1(&mut self, momentum: f64) {
        self.momentum = momentum;
    }
}
