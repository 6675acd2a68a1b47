//! Optimizers with torch.optim's update rules and defaults.

/// The [`Optimizer`] methods every optimizer writes the same way, over its `params`, `lr` and
/// `initial_lr` fields: written once, expanded in each `impl Optimizer`.
macro_rules! common_optimizer_methods {
    () => {
        fn zero_grad(&mut self) {
            self.params.iter().for_each(Var::zero_grad);
        }

        fn lr(&self) -> f64 {
            self.lr
        }

        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }

        fn initial_lr(&self) -> Option<f64> {
            self.initial_lr
        }

        fn set_initial_lr(&mut self, lr: f64) {
            self.initial_lr = Some(lr);
        }
    };
}

mod adam;
pub mod lr_scheduler;
mod sgd;

pub use adam::{Adam, AdamW};
pub use sgd::SGD;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Shape};

/// Updates parameters from their gradients, as `torch.optim.Optimizer`.
pub trait Optimizer<T: Float = f32> {
    /// One update of every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;

    /// Clears every parameter's gradient.
    fn zero_grad(&mut self);

    /// The learning rate (torch's `param_groups[0]["lr"]`).
    fn lr(&self) -> f64;

    /// Sets the learning rate, as a scheduler does between steps.
    fn set_lr(&mut self, lr: f64);

    /// The learning rate the first scheduler attached to this optimizer found, which every
    /// scheduler decays from (torch's `param_groups[0]["initial_lr"]`); `None` before any.
    fn initial_lr(&self) -> Option<f64>;

    /// Records the learning rate schedulers start from (OneCycleLR sets `max_lr / div_factor`).
    fn set_initial_lr(&mut self, lr: f64);

    /// The momentum factor a schedule can cycle: SGD's `momentum`, Adam's and AdamW's `β1`
    /// (torch's `"momentum"` or `"betas"[0]`); `None` for an optimizer without one.
    fn momentum_or_beta1(&self) -> Option<f64> {
        None
    }

    /// Sets that momentum factor; does nothing for an optimizer without one.
    fn set_momentum_or_beta1(&mut self, _momentum: f64) {}
}

/// What an optimizer's step checks for parameter `index` before it changes any parameter, so
/// that a step is all or nothing: its value is not borrowed by the caller, and its gradient and
/// each of its `state` buffers (named) have its shape. Whether it has a gradient to step with.
pub(crate) fn check_param<T: Float>(
    op: &'static str,
    index: usize,
    p: &Var<T>,
    state: &[(&str, Option<&[usize]>)],
) -> Result<bool> {
    let Some(grad) = p.grad_ref() else { return Ok(false) };
    if p.is_value_borrowed() {
        return Err(Error::Borrowed {
            op,
            message: format!(
                "the value of parameter {index} is borrowed elsewhere; drop every value() of it before calling step() (no parameter was changed)"
            ),
        });
    }
    let shape = p.shape();
    let mismatch = |what: &str, other: &[usize]| Error::ShapeMismatch {
        op,
        lhs: Shape(shape.clone()),
        rhs: Shape(other.to_vec()),
        reason: format!(
            "parameter {index} has shape {} but its {what} has shape {}; no parameter was changed",
            Shape(shape.clone()),
            Shape(other.to_vec())
        ),
    };
    if grad.shape() != shape.as_slice() {
        return Err(mismatch("gradient", grad.shape()));
    }
    for &(what, other) in state {
        if let Some(other) = other.filter(|o| *o != shape.as_slice()) {
            return Err(mismatch(what, other));
        }
    }
    Ok(true)
}
