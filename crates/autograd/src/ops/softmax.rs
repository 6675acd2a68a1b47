//! softmax and log_softmax along a dimension, with their gradients in closed form.

use ferrograd_tensor::{Float, Result};

use crate::grad_mode::is_grad_enabled;
use crate::var::Saves;
use crate::Var;

impl<T: Float> Var<T> {
    /// `exp(x - max) / Σ exp(x - max)` along `dim`.
    ///
    /// Gradient: `y ⊙ (g - Σ_dim(g ⊙ y))` with `y` the output, in one pass over each row
    /// (`Tensor::softmax_backward`), or with `Var` ops when the gradient is itself recorded.
    pub fn softmax(&self, dim: isize) -> Result<Var<T>> {
        let out = self.value().softmax(dim)?;
        Ok(Var::from_op_saving(
            "SoftmaxBackward0",
            Saves::OUTPUT,
            out,
            [self.clone()],
            move |g, y, _| {
                if !is_grad_enabled() && g.shape() == y.shape() {
                    return Ok([Some(Var::new(g.value().softmax_backward(&y.value(), dim)?))]);
                }
                let dot = g.try_mul(y)?.sum_dim(dim, true)?;
                Ok([Some(y.try_mul(&g.try_sub(&dot)?)?)])
            },
        ))
    }

    /// `(x - max) - log Σ exp(x - max)` along `dim`, as PyTorch computes it.
    ///
    /// Gradient: `g - exp(y) ⊙ Σ_dim g` with `y` the output (PyTorch's
    /// `_log_softmax_backward_data`), a block of rows at a time (`Tensor::log_softmax_backward`),
    /// or with `Var` ops when the gradient is itself recorded.
    pub fn log_softmax(&self, dim: isize) -> Result<Var<T>> {
        let out = self.value().log_softmax(dim)?;
        Ok(Var::from_op_saving(
            "LogSoftmaxBackward0",
            Saves::OUTPUT,
            out,
            [self.clone()],
            move |g, y, _| {
                if !is_grad_enabled() && g.shape() == y.shape() {
                    return Ok([Some(Var::new(g.value().log_softmax_backward(&y.value(), dim)?))]);
                }
                Ok([Some(g.try_sub(&y.exp().try_mul(&g.sum_dim(dim, true)?)?)?)])
            },
        ))
    }
}
