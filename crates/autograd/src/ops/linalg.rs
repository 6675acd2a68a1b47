//! The matrix product and its gradient.

use ferrograd_tensor::{Error, Float, Result};

use crate::ops::arith::unbroadcast;
use crate::var::Saves;
use crate::{Grads, Var};

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
        if self.ndim() == 2 && other.ndim() == 2 {
            return self.mm(other, false, false);
        }
        if other.ndim() == 2 && self.ndim() > 2 {
            // `[..., m, k] · [k, n]`: the leading dimensions are rows of one product (as
            // PyTorch folds them), whose gradient for `other` is one product too, not a sum
            // over a broadcast batch of products.
            let (shape, k) = (self.shape(), other.shape()[0]);
            if shape[shape.len() - 1] == k {
                let rows = shape[..shape.len() - 1].iter().product();
                let mut out_shape = shape[..shape.len() - 1].to_vec();
                out_shape.push(other.shape()[1]);
                return self.reshape(&[rows, k])?.mm(other, false, false)?.reshape(&out_shape);
            }
        }
        let out = self.value().matmul(&other.value())?;
        Ok(Var::from_op_saving(
            "MmBackward0",
            Saves::INPUTS,
            out,
            [self.clone(), other.clone()],
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
                Ok([ga, gb])
            },
        ))
    }

    /// `self · weightᵀ + bias` for an input `[*, in]`, a weight `[out, in]` and an optional
    /// bias `[out]`, as `torch.nn.functional.linear` (`torch.addmm` for a 2-D input): one op,
    /// which reads the weight in place instead of making its transpose, and takes the leading
    /// dimensions of the input as rows without copying it.
    ///
    /// Gradient of `Y = X·Wᵀ + b`, over the rows: `dX = dY·W`, `dW = dYᵀ·X`, `db = dY` summed
    /// over the rows; each is computed only for an operand that requires it.
    pub fn linear(&self, weight: &Var<T>, bias: Option<&Var<T>>) -> Result<Var<T>> {
        let out = match bias {
            Some(b) => self.value().linear(&weight.value(), Some(&b.value()))?,
            None => self.value().linear(&weight.value(), None)?,
        };
        let shape = self.shape();
        let rows: usize = shape[..shape.len() - 1].iter().product();
        let two_d = shape.len() == 2;
        let inputs = [Some(self.clone()), Some(weight.clone()), bias.cloned()];
        Ok(Var::from_op_owned(
            "AddmmBackward0",
            Saves::FIRST_TWO,
            out,
            inputs.into_iter().flatten(),
            move |g, _, x| {
                let (input, weight) = (&x[0], &x[1]);
                let [n, k] = weight.shape()[..] else {
                    unreachable!("checked 2-D in the forward")
                };
                // Other inputs than `[batch, in]`: their rows (a reshape shares the buffer).
                let g = if two_d { g } else { g.reshape(&[rows, n])? };
                let gx = if input.requires_grad() {
                    let gx = g.mm(weight, false, false)?;
                    Some(if two_d { gx } else { gx.reshape(&input.shape())? })
                } else {
                    None
                };
                let gw = if weight.requires_grad() {
                    let x_rows = if two_d {
                        input.clone()
                    } else {
                        input.reshape(&[rows, k])?
                    };
                    Some(g.mm(&x_rows, true, false)?)
                } else {
                    None
                };
                let mut grads: Grads<T> = [gx, gw].into_iter().collect();
                if let Some(b) = x.get(2) {
                    // One gradient per input: the bias's only when there is a bias.
                    grads.push(if b.requires_grad() {
                        Some(g.sum_to_shape(&b.shape())?)
                    } else {
                        None
                    });
                }
                Ok(grads)
            },
        ))
    }

    /// `C = op(A)·op(B)` of 2-D `Var`s, `op` a transpose where the flag says so: the product
    /// the 2-D matmul and its gradients need, without making any transpose.
    ///
    /// Gradient: `dop(A) = dC·op(B)ᵀ` and `dop(B) = op(A)ᵀ·dC`, each turned back into
    /// `dA`/`dB` by the same flags, so every gradient is again an `mm`.
    pub(crate) fn mm(&self, other: &Var<T>, ta: bool, tb: bool) -> Result<Var<T>> {
        let out = self.value().mm(&other.value(), ta, tb)?;
        Ok(Var::from_op_saving(
            "MmBackward0",
            Saves::INPUTS,
            out,
            [self.clone(), other.clone()],
            move |g, _, x| {
                let (a, b) = (&x[0], &x[1]);
                let ga = if !a.requires_grad() {
                    None
                } else if ta {
                    Some(b.mm(g, tb, true)?) // dA = op(B)·dCᵀ
                } else {
                    Some(g.mm(b, false, !tb)?) // dA = dC·op(B)ᵀ
                };
                let gb = if !b.requires_grad() {
                    None
                } else if tb {
                    Some(g.mm(a, true, ta)?) // dB = dCᵀ·op(A)
                } else {
                    Some(a.mm(g, !ta, false)?) // dB = op(A)ᵀ·dC
                };
                Ok([ga, gb])
            },
        ))
    }
}
