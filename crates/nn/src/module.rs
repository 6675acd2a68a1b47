//! The [`Module`] trait, [`Linear`] and [`Sequential`].

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result, Tensor};
use rand::SeedableRng;

use crate::StateDict;

/// A layer or a model: a function of a `Var` with named parameters, as `nn.Module`.
pub trait Module<T: Float = f32> {
    /// Computes the output.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>>;

    /// The parameters with PyTorch's names (`weight`, `0.bias`, ...).
    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        Vec::new()
    }

    /// The parameters, in the order of [`named_parameters`](Module::named_parameters).
    fn parameters(&self) -> Vec<Var<T>> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.parameters().iter().for_each(Var::zero_grad);
    }

    /// Switches between training and evaluation behaviour (dropout); layers without any ignore it.
    fn set_training(&mut self, _training: bool) {}

    /// Training mode, as `model.train()`.
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode, as `model.eval()`.
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// A copy of every parameter under its PyTorch name, in order, as `model.state_dict()`.
    fn state_dict(&self) -> StateDict<T> {
        self.named_parameters()
            .into_iter()
            .map(|(name, p)| (name, p.to_tensor()))
            .collect()
    }

    /// Copies `state_dict` into the parameters, as `model.load_state_dict(sd)` (strict).
    ///
    /// Everything is checked before anything is copied: every parameter has an entry of its
    /// shape and there is no other entry. Otherwise the error lists every missing key,
    /// unexpected key and size mismatch, in PyTorch's words, and the model is unchanged.
    fn load_state_dict(&self, state_dict: &StateDict<T>) -> Result<()> {
        state_dict.copy_into(&self.named_parameters())
    }
}

/// `y = x·Wᵀ + b`, with `W` shaped `[out, in]`, as `nn.Linear`.
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

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        // A batch of rows: one op, which reads the weight in place.
        if x.ndim() == 2 {
            return x.linear(&self.weight, self.bias.as_ref());
        }
        // A single row or extra batch dimensions: the general matmul, bias broadcast.
        let y = x.matmul(&self.weight.t()?)?;
        match &self.bias {
            Some(b) => y.try_add(b),
            None => Ok(y),
        }
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        p.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        p
    }
}

/// Modules applied one after the other, as `nn.Sequential`; parameters are named by position
/// (`0.weight`, `2.bias`).
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty sequence.
    pub fn new() -> Self {
        Self { layers: Vec::new() }
    }

    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.layers.iter().try_fold(x.clone(), |h, layer| layer.forward(&h))
    }

    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.named_parameters()
                    .into_iter()
                    .map(move |(n, p)| (format!("{i}.{n}"), p))
            })
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        self.layers.iter_mut().for_each(|l| l.set_training(training));
    }
}
