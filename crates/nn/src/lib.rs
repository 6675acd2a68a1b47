//! # ferrograd-nn
//!
//! Layers, losses and optimizers over `ferrograd-autograd`, named and behaving as in
//! `torch.nn`. Its centre is [`functional::cross_entropy`] / [`CrossEntropyLoss`], which
//! computes exactly what PyTorch's `F.cross_entropy` computes for every argument.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::{CrossEntropyLoss, Linear, Module, ReLU, Sequential, SGD, Optimizer};
//! use ferrograd_tensor::{IndexTensor, Tensor};
//!
//! let model = Sequential::new()
//!     .add(Linear::new(2, 8, 0))
//!     .add(ReLU)
//!     .add(Linear::new(8, 3, 1));
//! let x = Var::new(Tensor::randn(&[4, 2], 7));
//! let y = IndexTensor::from_slice(&[0, 1, 2, 1]);
//! let mut opt = SGD::new(model.parameters(), 0.1);
//!
//! let loss = CrossEntropyLoss::new().forward(&model.forward(&x)?, &y)?;
//! opt.zero_grad();
//! loss.backward()?;
//! opt.step()?;
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

pub mod functional;
mod loss;
mod module;
mod optim;
mod reduction;

pub use loss::{CrossEntropyLoss, NLLLoss};
pub use module::{Linear, Module, ReLU, Sequential};
pub use optim::{Optimizer, SGD};
pub use reduction::Reduction;
