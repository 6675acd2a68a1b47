//! [`Flatten`]: merges a range of dimensions into one.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result};

use crate::{Forward, Module};

/// Flattens dimensions `start_dim..=end_dim` (negative counts from the end) into one, as
/// `nn.Flatten`; the default `(1, -1)` keeps the batch dimension and flattens the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Module)]
#[module(any_float)]
pub struct Flatten {
    /// The first dimension to flatten.
    pub start_dim: isize,
    /// The last dimension to flatten.
    pub end_dim: isize,
}

impl Flatten {
    /// Flattens `start_dim..=end_dim`.
    pub fn new(start_dim: isize, end_dim: isize) -> Self {
        Self { start_dim, end_dim }
    }
}

impl Default for Flatten {
    /// `Flatten(1, -1)`, PyTorch's default.
    fn default() -> Self {
        Self::new(1, -1)
    }
}

impl<T: Float> Forward<Var<T>, T> for Flatten {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        x.flatten(self.start_dim, self.end_dim)
    }
}
