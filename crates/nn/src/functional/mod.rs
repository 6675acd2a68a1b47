//! Stateless functions, as `torch.nn.functional`.

mod batch_norm_op;
mod bce_with_logits;
mod checks;
mod class_loss;
mod conv;
mod cross_entropy;
pub(crate) mod embedding;
mod layer_norm_op;
mod mse;
mod normalization;
mod pooling;

pub use bce_with_logits::binary_cross_entropy_with_logits;
pub use conv::{conv1d, conv2d, ConvOptions, Dims, Padding};
pub use cross_entropy::{
    cross_entropy, cross_entropy_with, nll_loss, nll_loss_with, CrossEntropyOptions, NllLossOptions, Target,
};
pub use embedding::embedding;
pub use mse::mse_loss;
pub use normalization::{batch_norm, layer_norm};
pub use pooling::{
    adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool1d_with_indices, max_pool2d, max_pool2d_with_indices,
    AdaptiveSize, AvgPoolOptions, MaxPoolOptions,
};

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result};

/// `max(x, 0)`.
pub fn relu<T: Float>(x: &Var<T>) -> Var<T> {
    x.relu()
}

/// softmax along `dim`.
pub fn softmax<T: Float>(x: &Var<T>, dim: isize) -> Result<Var<T>> {
    x.softmax(dim)
}

/// log_softmax along `dim`.
pub fn log_softmax<T: Float>(x: &Var<T>, dim: isize) -> Result<Var<T>> {
    x.log_softmax(dim)
}
