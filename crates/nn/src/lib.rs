//! # ferrograd-nn
//!
//! Layers, losses and optimizers over `ferrograd-autograd`, named and behaving as in
//! `torch.nn`. Its centre is [`functional::cross_entropy`] / [`CrossEntropyLoss`], which
//! computes exactly what PyTorch's `F.cross_entropy` computes for every argument.
//!
//! - Layers ([`Module`]): [`Linear`], [`Sequential`], [`ReLU`], [`LeakyReLU`], [`Tanh`],
//!   [`Sigmoid`], [`Dropout`] (train / eval), [`Flatten`].
//! - Losses: [`CrossEntropyLoss`], [`NLLLoss`], [`MSELoss`], [`BCEWithLogitsLoss`], and their
//!   functions in [`functional`].
//! - Optimizers ([`Optimizer`]): [`SGD`], [`Adam`], [`AdamW`], step for step as `torch.optim`.
//! - Checkpoints: [`Module::state_dict`] / [`Module::load_state_dict`] with a [`StateDict`],
//!   saved as JSON or as safetensors files that PyTorch reads and writes.
//! - Data: [`DataLoader`], seeded shuffled mini-batches; [`csv::read_csv`], a labelled data
//!   set from CSV text, every fault an error naming its line.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::{Adam, CrossEntropyLoss, DataLoader, Linear, Module, Optimizer, ReLU, Sequential, StateDict};
//! use ferrograd_tensor::{IndexTensor, Tensor};
//!
//! let model: Sequential = Sequential::new()
//!     .add(Linear::new(2, 8, 0))
//!     .add(ReLU)
//!     .add(Linear::new(8, 3, 1));
//! let x = Tensor::randn(&[6, 2], 7);
//! let y = IndexTensor::from_slice(&[0, 1, 2, 1, 0, 2]);
//! let loader = DataLoader::new(x, y, 4, true, 0)?;
//! let mut opt = Adam::new(model.parameters(), 1e-2);
//!
//! for epoch in 0..2 {
//!     for (xb, yb) in loader.batches(epoch) {
//!         let loss = CrossEntropyLoss::new().forward(&model.forward(&Var::new(xb))?, &yb)?;
//!         opt.zero_grad();
//!         loss.backward()?;
//!         opt.step()?;
//!     }
//! }
//! let state = model.state_dict();
//! assert_eq!(state.names().collect::<Vec<_>>(), ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! model.load_state_dict(&StateDict::from_safetensors_bytes(&state.to_safetensors_bytes()?)?)?;
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

#![forbid(unsafe_code)]

mod activation;
mod checkpoint;
pub mod csv;
mod data;
mod dropout;
mod flatten;
pub mod functional;
mod loss;
mod module;
mod optim;
mod reduction;

pub use activation::{LeakyReLU, ReLU, Sigmoid, Tanh};
pub use checkpoint::StateDict;
pub use data::DataLoader;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss};
pub use module::{Linear, Module, Sequential};
pub use optim::{Adam, AdamW, Optimizer, SGD};
pub use reduction::Reduction;
