//! Optimizers with torch.optim's update rules and defaults.

mod adam;
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
}
