//! # ferrograd
//!
//! A small reverse-mode autodiff tensor framework whose numbers are PyTorch's. This crate
//! gathers the three that make it up: [`tensor`] (n-dimensional `f32`/`f64` tensors over
//! ndarray), [`autograd`] (the `Var` graph and backward) and [`nn`] (layers, losses,
//! optimizers, and a cross-entropy that matches `F.cross_entropy` argument for argument).
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let logits = Var::parameter(Tensor::from_vec(vec![1.0f32, 4., 1., 1., 5., 1., 2., 1., 1., 2., 5., 1.], &[3, 4])?);
//! let target = IndexTensor::from_slice(&[1, 0, 2]);
//! let loss = CrossEntropyLoss::new().forward(&logits, &target)?;
//! loss.backward()?;
//! println!("{loss}\n{}", logits.grad().unwrap()); // tensor(0.1017, grad_fn=...) and (softmax - one_hot) / 3
//! # Ok::<(), ferrograd::tensor::Error>(())
//! ```

#![forbid(unsafe_code)]

pub use ferrograd_autograd as autograd;
pub use ferrograd_nn as nn;
pub use ferrograd_tensor as tensor;

pub mod conformance;

/// The names most programs need.
pub mod prelude {
    pub use ferrograd_autograd::{grad, no_grad, Var};
    pub use ferrograd_nn::functional::{cross_entropy, log_softmax, nll_loss, softmax, CrossEntropyOptions, Target};
    pub use ferrograd_nn::{CrossEntropyLoss, Linear, Module, NLLLoss, Optimizer, ReLU, Reduction, Sequential, SGD};
    pub use ferrograd_tensor::{Error, Float, IndexTensor, Result, Tensor};
}
