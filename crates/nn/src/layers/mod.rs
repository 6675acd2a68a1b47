//! The layers, one file per family as torch.nn groups them; each is a thin [`Module`](crate::Module)
//! over the function of the same name in [`functional`](crate::functional).

mod activation;
mod dropout;
mod flatten;
mod linear;
mod rnn;
mod sparse;

pub use activation::{Identity, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh, ELU, GELU};
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use linear::Linear;
pub use rnn::{GRUCell, LSTMCell, RNNCell, RnnNonlinearity};
pub use sparse::Embedding;
