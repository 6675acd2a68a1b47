//! [`Linear`]: `y = x·Wᵀ + b`, as `nn.Linear`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result, Tensor};
use rand::SeedableRng;

use crate::{Forward, Module};

/// `y = x·Wᵀ + b`, with `W` shaped `[out, in]`, as `nn.Linear`.
#[derive(Debug, Module)]
pub struct Linear<T: Float = f32> {
    /// `[out_features, in_features]`.
    pub weight: Var<T>,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Var<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer initialised as PyTorch does, from a seed: weight and bias uniform in
    /// `±1/√in_features`.
    ///
    /// # Panics
    /// If `out_features × in_features` is too large for a tensor (more than `isize::MAX`
    /// elements), as [`Tensor::zeros`] does.
    pub fn new(in_features: usize, out_features: usize, seed: u64) -> Self {
        Self::with_rng(
            in_features,
            out_features,
            true,
            &mut rand::rngs::StdRng::seed_from_u64(seed),
        )
    }

    /// A layer initialised as PyTorch does with the given generator; `bias` chooses whether it has one.
    ///
    /// # Panics
    /// As [`Linear::new`], for sizes too large for a tensor.
    pub fn with_rng<R: rand::Rng + ?Sized>(in_features: usize, out_features: usize, bias: bool, rng: &mut R) -> Self {
        let bound = if in_features > 0 {
            1.0 / (in_features as f64).sqrt()
        } else {
            0.0
        };
        let weight = Tensor::uniform(&[out_features, in_features], -bound, bound, rng)
            .unwrap_or_else(|_| Tensor::zeros(&[out_features, in_features]));
        let bias = bias.then(|| {
            Tensor::uniform(&[out_features], -bound, bound, rng).unwrap_or_else(|_| Tensor::zeros(&[out_features]))
        });
        Self {
            weight: Var::parameter(weight),
            bias: bias.map(Var::parameter),
        }
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        if weight.ndim() != 2 || bias.as_ref().is_some_and(|b| b.shape() != [weight.shape()[0]]) {
            return Err(ferrograd_tensor::Error::invalid(
                "Linear",
                format!(
                    "weight must be [out, in] and bias [out], got {:?} and {:?}",
                    weight.shape(),
                    bias.as_ref().map(|b| b.shape().to_vec())
                ),
            ));
        }
        Ok(Self {
            weight: Var::parameter(weight),
            bias: bias.map(Var::parameter),
        })
    }
}

impl<T: Float> Forward<Var<T>, T> for Linear<T> {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        // One op over the rows of any input `[*, in]`, which reads the weight in place.
        x.linear(&self.weight, self.bias.as_ref())
    }
}
