//! Elementwise activation layers, each a thin [`Module`] over the `Var` op of the same name.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result};

use crate::{Forward, Module};

/// `max(x, 0)`, as `nn.ReLU`.
#[derive(Debug, Clone, Copy, Default, Module)]
#[module(any_float)]
pub struct ReLU;

impl<T: Float> Forward<Var<T>, T> for ReLU {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.relu())
    }
}

/// `x` where `x > 0`, else `negative_slope·x`, as `nn.LeakyReLU` (default slope 0.01).
#[derive(Debug, Clone, Copy, PartialEq, Module)]
#[module(any_float)]
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

impl<T: Float> Forward<Var<T>, T> for LeakyReLU {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.leaky_relu(T::of(self.negative_slope)))
    }
}

/// The hyperbolic tangent, as `nn.Tanh`.
#[derive(Debug, Clone, Copy, Default, Module)]
#[module(any_float)]
pub struct Tanh;

impl<T: Float> Forward<Var<T>, T> for Tanh {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.tanh())
    }
}

/// The logistic function `1 / (1 + e^-x)`, as `nn.Sigmoid`.
#[derive(Debug, Clone, Copy, Default, Module)]
#[module(any_float)]
pub struct Sigmoid;

impl<T: Float> Forward<Var<T>, T> for Sigmoid {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.sigmoid())
    }
}
