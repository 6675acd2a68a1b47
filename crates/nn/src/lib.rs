//! # ferrograd-nn
//!
//! Layers, losses and optimizers over `ferrograd-autograd`, named and behaving as in
//! `torch.nn`. Its centre is [`functional::cross_entropy`] / [`CrossEntropyLoss`], which
//! computes exactly what PyTorch's `F.cross_entropy` computes for every argument.
//!
//! - Layers ([`Module`]): [`Linear`], [`Sequential`], [`ReLU`], [`LeakyReLU`], [`Tanh`],
//!   [`Sigmoid`], [`Dropout`] (train / eval), [`Flatten`].
//! - Activations [`GELU`], [`SiLU`], [`Softplus`], [`ELU`], [`Softmax`], [`LogSoftmax`],
//!   [`Identity`]; attention, [`functional::scaled_dot_product_attention`]; recurrent cells
//!   [`RNNCell`], [`GRUCell`], [`LSTMCell`].
//! - Normalization: [`LayerNorm`], [`BatchNorm1d`], [`BatchNorm2d`] (running statistics as
//!   buffers), and [`functional::layer_norm`], [`functional::batch_norm`].
//! - Losses: [`CrossEntropyLoss`], [`NLLLoss`], [`MSELoss`], [`BCEWithLogitsLoss`], and their
//!   functions in [`functional`].
//! - Optimizers ([`Optimizer`]): [`SGD`], [`Adam`], [`AdamW`], step for step as `torch.optim`.
//! - Checkpoints: [`Module::state_dict`] / [`Module::load_state_dict`] with a [`StateDict`],
//!   saved as JSON, as safetensors files that PyTorch reads and writes, or as NumPy `.npz`.
//! - Data: [`DataLoader`], seeded shuffled mini-batches; [`csv::read_csv`], a labelled data
//!   set from CSV text, every fault an error naming its line.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::{Adam, CrossEntropyLoss, DataLoader, Forward, Linear, Module, Optimizer, ReLU, Sequential, StateDict};
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

#![warn(missing_docs)]
#![forbid(unsafe_code)]

// `#[derive(Module)]` names this crate `::ferrograd_nn`, here as in a user's crate.
extern crate self as ferrograd_nn;

mod checkpoint;
pub mod csv;
mod data;
pub mod functional;
pub mod init;
mod layers;
mod loss;
mod module;
mod optim;
mod reduction;
pub mod utils;

pub use checkpoint::{StateDict, StateValue};
pub use data::DataLoader;
/// `#[derive(Module)]`: a struct's fields become its parameters, buffers and sub-modules,
/// named as the fields (see [`Module`] and the [`Component`] kinds of field).
pub use ferrograd_derive::Module;
pub use layers::*;
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss};
pub use module::{
    Buffer, Component, Forward, HookHandle, HookKey, Module, ModuleDict, ModuleList, ModuleRef, Sequential,
    TrainingFlag, Visitor,
};
pub use optim::lr_scheduler;
pub use optim::{Adam, AdamW, Optimizer, SGD};
pub use reduction::Reduction;

/// What `#[derive(Module)]` expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use ferrograd_tensor::Float;
}
