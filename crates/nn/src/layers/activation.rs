//! Activation layers, each a thin [`Module`] over the `Var` op or the function of
//! [`functional`](crate::functional) of the same name, with PyTorch's options and defaults.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, GeluApproximate, IndexTensor, Result};

use crate::functional;
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

/// GELU, as `nn.GELU(approximate)`: `"none"` (the default) is the exact
/// `0.5·x·(1 + erf(x/√2))`, `"tanh"` is `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
#[derive(Debug, Clone, Copy, PartialEq, Module)]
#[module(any_float)]
pub struct GELU {
    /// Which form: exact or the tanh approximation.
    #[module(skip)]
    pub approximate: GeluApproximate,
}

impl GELU {
    /// With PyTorch's `approximate` string, `"none"` or `"tanh"`; anything else is PyTorch's
    /// error `approximate argument must be either none or tanh.`
    pub fn new(approximate: &str) -> Result<Self> {
        Ok(Self {
            approximate: GeluApproximate::parse(approximate)?,
        })
    }
}

impl Default for GELU {
    /// The exact form, `approximate="none"`.
    fn default() -> Self {
        Self {
            approximate: GeluApproximate::None,
        }
    }
}

impl<T: Float> Forward<Var<T>, T> for GELU {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let approximate = match self.approximate {
            GeluApproximate::None => "none",
            GeluApproximate::Tanh => "tanh",
        };
        x.gelu(approximate)
    }
}

/// `x·σ(x)`, as `nn.SiLU`.
#[derive(Debug, Clone, Copy, Default, Module)]
#[module(any_float)]
pub struct SiLU;

impl<T: Float> Forward<Var<T>, T> for SiLU {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.silu())
    }
}

/// `log(1 + e^(β·x)) / β`, and `x` itself where `β·x > threshold`, as
/// `nn.Softplus(beta=1, threshold=20)`.
#[derive(Debug, Clone, Copy, PartialEq, Module)]
#[module(any_float)]
pub struct Softplus {
    /// `β`, the sharpness.
    pub beta: f64,
    /// Above `β·x > threshold` the layer is the identity.
    pub threshold: f64,
}

impl Softplus {
    /// With the given `beta` and `threshold`.
    pub fn new(beta: f64, threshold: f64) -> Self {
        Self { beta, threshold }
    }
}

impl Default for Softplus {
    /// PyTorch's defaults, `beta = 1`, `threshold = 20`.
    fn default() -> Self {
        Self::new(1.0, 20.0)
    }
}

impl<T: Float> Forward<Var<T>, T> for Softplus {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(functional::softplus(x, self.beta, self.threshold))
    }
}

/// `x` where `x > 0`, else `α·(eˣ - 1)`, as `nn.ELU(alpha=1)`.
#[derive(Debug, Clone, Copy, PartialEq, Module)]
#[module(any_float)]
pub struct ELU {
    /// `α`, the value the negative side tends to is `-α`.
    pub alpha: f64,
}

impl ELU {
    /// With the given `alpha`.
    pub fn new(alpha: f64) -> Self {
        Self { alpha }
    }
}

impl Default for ELU {
    /// PyTorch's default, `alpha = 1`.
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl<T: Float> Forward<Var<T>, T> for ELU {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(functional::elu(x, self.alpha))
    }
}

/// `exp(x) / Σ exp(x)` along `dim`, as `nn.Softmax(dim)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Module)]
#[module(any_float)]
pub struct Softmax {
    /// The dimension that sums to 1 (negative counts from the end).
    pub dim: isize,
}

impl Softmax {
    /// Along `dim`.
    pub fn new(dim: isize) -> Self {
        Self { dim }
    }
}

impl<T: Float> Forward<Var<T>, T> for Softmax {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        functional::softmax(x, self.dim)
    }
}

/// `x - log Σ exp(x)` along `dim`, as `nn.LogSoftmax(dim)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Module)]
#[module(any_float)]
pub struct LogSoftmax {
    /// The dimension normalised over (negative counts from the end).
    pub dim: isize,
}

impl LogSoftmax {
    /// Along `dim`.
    pub fn new(dim: isize) -> Self {
        Self { dim }
    }
}

impl<T: Float> Forward<Var<T>, T> for LogSoftmax {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        functional::log_softmax(x, self.dim)
    }
}

/// Returns its input unchanged, as `nn.Identity` (a placeholder where a model has an
/// optional layer). A float input comes back as the same `Var`, so gradients flow through.
#[derive(Debug, Clone, Copy, Default, Module)]
#[module(any_float)]
pub struct Identity;

impl<T: Float> Forward<Var<T>, T> for Identity {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.clone())
    }
}

impl<T: Float> Forward<IndexTensor, T> for Identity {
    type Output = IndexTensor;

    fn forward(&self, x: &IndexTensor) -> Result<IndexTensor> {
        Ok(x.clone())
    }
}
