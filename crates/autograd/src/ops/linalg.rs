//! The matrix product and its gradient.

use ferrograd_tensor::{Error, Float, Result};

use crate::ops::arith::unbroadcast;
use crate::Var;

impl<T: Float> Var<T> {
    /// The matrix product, as `torch.matmul`: 2-D, batched with broadcast batch dimensions,
    /// and 1-D operands treated as a row (left) or column (right) vector.
    ///
    /// Gradient of `C = A·B`: `dA = dC·Bᵀ`, `dB = Aᵀ·dC`, summed over broadcast batch dims.
    pub fn matmul(&self, other: &Var<T>) -> Result<Var<T>> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                    self.ndim(),
                    other.ndim()
                ),
            ));
        }
        let a = if self.ndim() == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.unsqueeze(1)?
        } else {
            other.clone()
        };
        let mut out = a.matmul_2d_or_batched(&b)?;
        // The row first: for 1-D @ 1-D the result [1, 1] becomes [1] and then [].
        if self.ndim() == 1 {
            out = out.squeeze(-2)?;
        }
        if other.ndim() == 1 {
            out = out.squeeze(-1)?;
        }
        Ok(out)
    }

    fn matmul_2d_or_batched(&self, other: &Var<T>) -> Result<Var<T>> {
        let out = self.value().matmul(&other.value())?;
        Ok(Var::from_op(
            "MmBackward0",
            out,
            vec![self.clone(), other.clone()],
            |g, _, x| {
                let ga = if x[0].requires_grad() {
                    Some(unbroadcast(&g.matmul(&x[1].transpose(-1, -2)?)?, &x[0])?)
                } else {
                    None
                };
                let gb = if x[1].requires_grad() {
                    Some(unbroadcast(&x[0].transpose(-1, -2)?.matmul(g)?, &x[1])?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            },
        ))
    }
}
