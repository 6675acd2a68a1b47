//! Elementwise activation layers, each a thin [`Module`] over the `Var` op of the same name.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result};

use crate::Module;

/// `max(x, 0)`, as `nn.ReLU`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReLU;

impl<T: Float> Module<T> for ReLU {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.relu())
    }
}

/// `x` where `x > 0`, else `negative_slope·x`, as `nn.LeakyReLU` (default slope 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// With the given slope for negative inputs.
    pub fn new(negative_slope: f64) -> Self {
        Self { negative_slope }
    }
}

impl Default for LeakyReLU {
    /// PyTorch's default slope, 0.01.
    fn default() -> Self {
        Self::new(0.01)
    }
}

impl<T: Float> Module<T> for LeakyReLU {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.leaky_relu(T::of(self.negative_slope)))
    }
}

/// The hyperbolic tangent, as `nn.Tanh`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tanh;

impl<T: Float> Module<T> for Tanh {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.tanh())
    }
}

/// The logistic function `1 / (1 + e^-x)`, as `nn.Sigmoid`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sigmoid;

impl<T: Float> Module<T> for Sigmoid {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.sigmoid())
    }
}
