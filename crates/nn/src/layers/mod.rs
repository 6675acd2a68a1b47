//! The layers, one file per family as torch.nn groups them; each is a thin [`Module`](crate::Module)
//! over the function of the same name in [`functional`](crate::functional).

mod activation;
mod batchnorm;
mod conv;
mod dropout;
mod flatten;
mod linear;
mod normalization;
mod pooling;
mod rnn;
mod sparse;

pub use activation::{Identity, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh, ELU, GELU};
pub use batchnorm::{BatchNorm1d, BatchNorm2d};
pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use linear::Linear;
pub use normalization::LayerNorm;
pub use pooling::{AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d};
pub use rnn::{GRUCell, LSTMCell, RNNCell, RnnNonlinearity};
pub use sparse::Embedding;
