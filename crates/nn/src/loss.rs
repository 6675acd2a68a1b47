//! Loss modules: builders around the functions of [`functional`](crate::functional).

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};

use crate::functional::{
    binary_cross_entropy_with_logits, cross_entropy_with, mse_loss, nll_loss_with, CrossEntropyOptions, NllLossOptions,
    Target,
};
use crate::Reduction;

/// The builder methods both class-index losses share: `weight`, `ignore_index`, `reduction`.
macro_rules! class_index_options {
    () => {
        /// A weight per class.
        pub fn weight(mut self, weight: Tensor<T>) -> Self {
            self.options.weight = Some(weight);
            self
        }

        /// The target value to leave out.
        pub fn ignore_index(mut self, ignore_index: i64) -> Self {
            self.options.ignore_index = ignore_index;
            self
        }

        /// How to reduce the per-position losses.
        pub fn reduction(mut self, reduction: Reduction) -> Self {
            self.options.reduction = reduction;
            self
        }
    };
}

/// `nn.CrossEntropyLoss`: options set once, then [`forward`](CrossEntropyLoss::forward) per batch.
///
/// ```
/// use ferrograd_nn::{CrossEntropyLoss, Reduction};
/// let loss_fn = CrossEntropyLoss::<f32>::new().reduction(Reduction::Sum).label_smoothing(0.1).ignore_index(0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CrossEntropyLoss<T: Float = f32> {
    options: CrossEntropyOptions<T>,
}

impl<T: Float> CrossEntropyLoss<T> {
    /// PyTorch's defaults: no weight, `ignore_index = -100`, mean, no smoothing.
    pub fn new() -> Self {
        Self {
            options: CrossEntropyOptions::default(),
        }
    }

    class_index_options!();

    /// Label smoothing ε.
    pub fn label_smoothing(mut self, eps: f64) -> Self {
        self.options.label_smoothing = eps;
        self
    }

    /// The options in effect.
    pub fn options(&self) -> &CrossEntropyOptions<T> {
        &self.options
    }

    /// The loss of `input` logits against class indices or class probabilities.
    pub fn forward<'a>(&self, input: &Var<T>, target: impl Into<Target<'a, T>>) -> Result<Var<T>> {
        cross_entropy_with(input, target, &self.options)
    }
}

/// `nn.NLLLoss`: the negative log-likelihood of class indices given log-probabilities.
#[derive(Debug, Clone, Default)]
pub struct NLLLoss<T: Float = f32> {
    options: NllLossOptions<T>,
}

impl<T: Float> NLLLoss<T> {
    /// PyTorch's defaults: no weight, `ignore_index = -100`, mean.
    pub fn new() -> Self {
        Self {
            options: NllLossOptions::default(),
        }
    }

    class_index_options!();

    /// The loss of log-probabilities `input` against class indices.
    pub fn forward(&self, input: &Var<T>, target: &IndexTensor) -> Result<Var<T>> {
        nll_loss_with(input, target, &self.options)
    }
}

/// `nn.MSELoss`: the squared error, reduced (see [`mse_loss`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct MSELoss {
    reduction: Reduction,
}

impl MSELoss {
    /// PyTorch's default: the mean.
    pub fn new() -> Self {
        Self::default()
    }

    /// How to reduce the per-element losses.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (shapes that broadcast together).
    pub fn forward<T: Float>(&self, input: &Var<T>, target: &Var<T>) -> Result<Var<T>> {
        mse_loss(input, target, self.reduction)
    }
}

/// `nn.BCEWithLogitsLoss`: sigmoid and binary cross-entropy in one stable step (see
/// [`binary_cross_entropy_with_logits`]).
///
/// ```
/// use ferrograd_nn::{BCEWithLogitsLoss, Reduction};
/// use ferrograd_tensor::Tensor;
/// let pos_weight = Tensor::from_vec(vec![3.0f32, 1.0], &[2])?;
/// let loss_fn = BCEWithLogitsLoss::new().pos_weight(pos_weight).reduction(Reduction::Sum);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BCEWithLogitsLoss<T: Float = f32> {
    weight: Option<Tensor<T>>,
    pos_weight: Option<Tensor<T>>,
    reduction: Reduction,
}

impl<T: Float> BCEWithLogitsLoss<T> {
    /// PyTorch's defaults: no weights, mean.
    pub fn new() -> Self {
        Self {
            weight: None,
            pos_weight: None,
            reduction: Reduction::Mean,
        }
    }

    /// A rescaling weight per element, broadcast to the input's shape.
    pub fn weight(mut self, weight: Tensor<T>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// A weight of the positive term, broadcast to the input's shape (one per class along the
    /// last dimension).
    pub fn pos_weight(mut self, pos_weight: Tensor<T>) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }

    /// How to reduce the per-element losses.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of logits `input` against probabilities `target` of the same shape.
    pub fn forward(&self, input: &Var<T>, target: &Var<T>) -> Result<Var<T>> {
        binary_cross_entropy_with_logits(
            input,
            target,
            self.weight.as_ref(),
            self.pos_weight.as_ref(),
            self.reduction,
        )
    }
}
