//! Every differentiable op on [`Var`](crate::Var): forward and gradient side by side.

mod activation;
pub(crate) mod arith;
mod conv;
mod index;
mod linalg;
mod reduce;
mod select;
mod shape;
mod softmax;
mod stats;
mod unary;
