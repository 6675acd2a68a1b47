//! Optimizers with torch.optim's update rules and defaults.

mod adam;
pub mod lr_scheduler;
mod sgd;

pub use adam::{Adam, AdamW};
pub use sgd::SGD;

use ferrograd_tensor::{Float, Result};

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
