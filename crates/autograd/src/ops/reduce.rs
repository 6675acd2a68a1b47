//! Reductions and their adjoint, broadcasting: each one's gradient spreads the output
//! gradient back over the elements it reduced.

use ferrograd_tensor::{normalize_dim, Float, Result, Tensor};

use crate::var::Saves;
use crate::Var;

impl<T: Float> Var<T> {
    /// The sum of every element (a 0-d `Var`); gradient: the output gradient everywhere.
    pub fn sum(&self) -> Var<T> {
        let out = self.value().sum();
        Var::from_op_saving("SumBackward0", Saves::NOTHING, out, [self.clone()], |g, _, x| {
            Ok([Some(g.broadcast_to(&x[0].shape())?)])
        })
    }

    /// The sum along `dim`; gradient: the output gradient repeated along `dim`.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().sum_dim(dim, keepdim)?;
        Ok(Var::from_op_saving(
            "SumBackward1",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, x| Ok([Some(restore_dim(g, dim, keepdim, &x[0])?.broadcast_to(&x[0].shape())?)]),
        ))
    }

    /// The mean of every element.
    pub fn mean(&self) -> Var<T> {
        self.sum().div_scalar(T::of(self.numel() as f64))
    }

    /// The mean along `dim`.
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Result<Var<T>> {
        let d = normalize_dim("mean", dim, self.ndim().max(1))?;
        let n = self.shape().get(d).copied().unwrap_or(1);
        Ok(self.sum_dim(dim, keepdim)?.div_scalar(T::of(n as f64)))
    }

    /// The largest element; the gradient is shared evenly among tied maxima, as `torch.max(t)`.
    pub fn max(&self) -> Result<Var<T>> {
        let out = self.value().max()?;
        Ok(Var::from_op_saving(
            "MaxBackward1",
            Saves::ALL,
            out,
            [self.clone()],
            |g, out, x| {
                Ok([Some(g.try_mul(&share_among_maxima(
                    &x[0].value(),
                    &out.value(),
                    true,
                )?)?)])
            },
        ))
    }

    /// The largest element along `dim`; the gradient is shared evenly among tied maxima, as
    /// `torch.amax(t, dim)`.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().max_dim(dim, keepdim)?;
        Ok(Var::from_op_saving(
            "AmaxBackward0",
            Saves::ALL,
            out,
            [self.clone()],
            move |g, out, x| {
                let out_k = restore_dim(out, dim, keepdim, &x[0])?.to_tensor();
                let g_k = restore_dim(g, dim, keepdim, &x[0])?;
                Ok([Some(g_k.try_mul(&share_among_maxima(&x[0].value(), &out_k, false)?)?)])
            },
        ))
    }

    /// `log(Σ exp(x))` along `dim`, stable for large inputs; gradient: `softmax(x)` times the
    /// output gradient.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().logsumexp(dim, keepdim)?;
        Ok(Var::from_op_saving(
            "LogsumexpBackward0",
            Saves::ALL,
            out,
            [self.clone()],
            move |g, out, x| {
                let out_k = restore_dim(out, dim, keepdim, &x[0])?;
                let g_k = restore_dim(g, dim, keepdim, &x[0])?;
                Ok([Some(g_k.try_mul(&x[0].try_sub(&out_k)?.exp())?)])
            },
        ))
    }

    /// Sums down to `shape` (which must broadcast to this shape): the adjoint of `broadcast_to`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.value().shape() == shape {
            return Ok(self.clone());
        }
        let out = self.value().sum_to_shape(shape)?;
        Ok(Var::from_op_saving(
            "SumToBackward",
            Saves::NOTHING,
            out,
            [self.clone()],
            |g, _, x| Ok([Some(g.broadcast_to(&x[0].shape())?)]),
        ))
    }

    /// Repeats along broadcast dimensions to `shape`; gradient: summed back with `sum_to_shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.value().shape() == shape {
            return Ok(self.clone());
        }
        let out = self.value().broadcast_to(shape)?;
        Ok(Var::from_op_saving(
            "ExpandBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            |g, _, x| Ok([Some(g.sum_to_shape(&x[0].shape())?)]),
        ))
    }
}

/// Puts back the reduced dimension of a reduction's output (or its gradient), size 1.
fn restore_dim<T: Float>(v: &Var<T>, dim: isize, keepdim: bool, input: &Var<T>) -> Result<Var<T>> {
    if keepdim || input.ndim() == 0 {
        return Ok(v.clone());
    }
    v.unsqueeze(dim)
}

/// `1/k` at each of the `k` positions equal to the (broadcast) maximum, 0 elsewhere.
///
/// With `nan_is_max` (`torch.max(t)`'s `evenly_distribute_backward`), a NaN maximum is shared
/// among the NaN elements; without (`torch.amax`), a NaN maximum equals nothing, and its
/// gradient is NaN, as PyTorch's.
fn share_among_maxima<T: Float>(x: &Tensor<T>, max: &Tensor<T>, nan_is_max: bool) -> Result<Var<T>> {
    let is_max = x.zip_map(max, "max", |a, m| {
        if a == m || (nan_is_max && a.is_nan() && m.is_nan()) {
            T::one()
        } else {
            T::zero()
        }
    })?;
    let count = is_max.sum_to_shape(max.shape())?;
    Ok(Var::new(is_max.div(&count)?))
}
