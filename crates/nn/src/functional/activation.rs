//! The activation functions of `torch.nn.functional` beyond `relu`: `gelu`, `silu`,
//! `softplus`, `elu`. Each is the `Var` op of the same name, where its forward and gradient
//! live; these functions give them PyTorch's argument types and defaults.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result};

/// GELU, `approximate` `"none"` (`0.5·x·(1 + erf(x/√2))`) or `"tanh"`
/// (`0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`), as `F.gelu`; any other string is
/// PyTorch's error `approximate argument must be either none or tanh.`
pub fn gelu<T: Float>(x: &Var<T>, approximate: &str) -> Result<Var<T>> {
    x.gelu(approximate)
}

/// `x·σ(x)`, as `F.silu`.
pub fn silu<T: Float>(x: &Var<T>) -> Var<T> {
    x.silu()
}

/// `log(1 + e^(β·x)) / β`, and `x` itself where `β·x > threshold`, as
/// `F.softplus(x, beta, threshold)` (PyTorch's defaults: `beta = 1`, `threshold = 20`).
pub fn softplus<T: Float>(x: &Var<T>, beta: f64, threshold: f64) -> Var<T> {
    x.softplus(T::of(beta), T::of(threshold))
}

/// `x` where `x > 0`, else `α·(eˣ - 1)`, as `F.elu(x, alpha)` (PyTorch's default `alpha = 1`).
pub fn elu<T: Float>(x: &Var<T>, alpha: f64) -> Var<T> {
    x.elu(T::of(alpha))
}

/// Checks that `dim` indexes a tensor of `ndim` dimensions (a 0-d tensor counts as 1-d),
/// with PyTorch's message: `Dimension out of range (expected to be in range of [-2, 1], but
/// got 2)`.
pub(crate) fn check_dim(op: &'static str, dim: isize, ndim: usize) -> Result<()> {
    let n = ndim.max(1) as isize;
    if dim < -n || dim >= n {
        return Err(Error::invalid(
            op,
            format!(
                "Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
                -n,
                n - 1
            ),
        ));
    }
    Ok(())
}
