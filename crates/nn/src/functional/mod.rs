//! Stateless functions, as `torch.nn.functional`.

mod activation;
mod attention;
mod attention_op;
mod batch_norm_op;
mod bce_with_logits;
mod checks;
mod class_loss;
mod conv;
mod cross_entropy;
pub(crate) mod embedding;
mod lanes;
mod layer_norm_op;
mod mse;
mod normalization;
mod pooling;
mod rnn;

pub use activation::{elu, gelu, silu, softplus};
pub use attention::{scaled_dot_product_attention, AttnMask};
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
pub use rnn::{gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell};

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result};

/// `max(x, 0)`.
pub fn relu<T: Float>(x: &Var<T>) -> Var<T> {
    x.relu()
}

/// softmax along `dim`.
pub fn softmax<T: Float>(x: &Var<T>, dim: isize) -> Result<Var<T>> {
    activation::check_dim("softmax", dim, x.ndim())?;
    x.softmax(dim)
}

/// log_softmax along `dim`.
pub fn log_softmax<T: Float>(x: &Var<T>, dim: isize) -> Result<Var<T>> {
    activation::check_dim("log_softmax", dim, x.ndim())?;
    x.log_softmax(dim)
}
