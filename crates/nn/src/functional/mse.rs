//! `mse_loss`: a composition of `Var` ops, so its gradients (to the input and the target, of
//! any order) come from theirs.

use ferrograd_autograd::Var;
use ferrograd_tensor::{broadcast_shape, Float, Result};

use crate::Reduction;

/// The squared error `(input - target)²`, reduced, as `F.mse_loss`.
///
/// Where the shapes differ they must broadcast together, and the loss has the broadcast
/// shape (PyTorch broadcasts too, with a warning); otherwise the error names both shapes.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::{functional::mse_loss, Reduction};
/// use ferrograd_tensor::Tensor;
///
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3])?);
/// let y = Var::new(Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3])?);
/// let loss = mse_loss(&x, &y, Reduction::Mean)?;
/// assert_eq!(loss.item()?, 8.0 / 3.0);
/// loss.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 4.0 / 3.0, 4.0 / 3.0]); // 2·(x - y)/3
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn mse_loss<T: Float>(input: &Var<T>, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
    broadcast_shape("mse_loss", &input.shape(), &target.shape())?;
    let diff = input.try_sub(target)?;
    Ok(reduction.apply(diff.try_mul(&diff)?))
}
