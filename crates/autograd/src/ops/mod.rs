//! Every differentiable op on [`Var`](crate::Var): forward and gradient side by side.

pub(crate) mod arith;
mod index;
mod linalg;
mod reduce;
mod shape;
mod softmax;
mod unary;
