//! Ops that move elements without changing them; each gradient moves them back.

use ferrograd_tensor::{normalize_dim, Error, Float, Result, Tensor};

use crate::var::Saves;
use crate::{Grads, Var};

impl<T: Float> Var<T> {
    /// The same elements in a new shape (the buffer shared when its elements are in row-major
    /// order); gradient: reshaped back, sharing the gradient's buffer the same way.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        let out = self.value().reshape(shape)?;
        Ok(Var::from_op_owned(
            "ViewBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            |g, _, x| Ok([Some(g.reshape(&x[0].shape())?)]),
        ))
    }

    /// Flattens dimensions `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Var<T>> {
        let shape = self.value().flatten(start, end)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// Swaps two dimensions; gradient: swapped back.
    pub fn transpose(&self, dim0: isize, dim1: isize) -> Result<Var<T>> {
        let out = self.value().transpose(dim0, dim1)?;
        Ok(Var::from_op_saving(
            "TransposeBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.transpose(dim0, dim1)?)]),
        ))
    }

    /// The transpose of a 2-D `Var` (0-D and 1-D returned as they are).
    pub fn t(&self) -> Result<Var<T>> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            n => Err(Error::invalid(
                "t",
                format!("t() expects a tensor with <= 2 dimensions, but self is {n}D"),
            )),
        }
    }

    /// Reorders dimensions; gradient: the inverse permutation.
    pub fn permute(&self, dims: &[usize]) -> Result<Var<T>> {
        let out = self.value().permute(dims)?;
        let mut inverse = vec![0; dims.len()];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i;
        }
        Ok(Var::from_op_saving(
            "PermuteBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.permute(&inverse)?)]),
        ))
    }

    /// Removes `dim` if its size is 1.
    pub fn squeeze(&self, dim: isize) -> Result<Var<T>> {
        let shape = self.value().squeeze(dim)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// Inserts a dimension of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: isize) -> Result<Var<T>> {
        let shape = self.value().unsqueeze(dim)?.shape().to_vec();
        self.reshape(&shape)
    }

    /// `length` elements along `dim` from `start`; gradient: placed back between zeros. The
    /// walk adds it into its slice of the input's gradient (`Tensor::slice_backward` for the
    /// first piece, `Tensor::narrow_add_assign` for the others); when recorded, the rule below
    /// makes it, a concat with zeros, which can be differentiated again.
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Result<Var<T>> {
        let out = self.value().narrow(dim, start, length)?;
        Ok(Var::from_slice_op(
            "NarrowBackward0",
            out,
            self.clone(),
            (dim, start),
            move |g, _, x| {
                let shape = x[0].shape();
                let d = normalize_dim("narrow", dim, shape.len())?;
                let zeros = |n: usize| {
                    let mut s = shape.clone();
                    s[d] = n;
                    Var::new(Tensor::zeros(&s))
                };
                let (before, after) = (zeros(start), zeros(shape[d] - start - length));
                Ok([Some(Var::concat(&[before, g.clone(), after], dim)?)])
            },
        ))
    }

    /// Joins `Var`s along an existing dimension, as `torch.cat`; gradient: each input's slice.
    pub fn concat(vars: &[Var<T>], dim: isize) -> Result<Var<T>> {
        let values: Vec<_> = vars.iter().map(|v| v.value()).collect();
        let out = Tensor::concat(&values.iter().map(|v| &**v).collect::<Vec<_>>(), dim)?;
        drop(values);
        Ok(Var::from_op_saving(
            "CatBackward0",
            Saves::NOTHING,
            out,
            vars.to_vec(),
            move |g, _, x| {
                let d = normalize_dim("concat", dim, g.ndim())?;
                let mut start = 0;
                x.iter()
                    .map(|v| {
                        let len = v.value().shape()[d];
                        start += len;
                        g.narrow(dim, start - len, len).map(Some)
                    })
                    .collect::<Result<Grads<T>>>()
            },
        ))
    }

    /// Joins `Var`s of one shape along a new dimension, as `torch.stack`.
    pub fn stack(vars: &[Var<T>], dim: isize) -> Result<Var<T>> {
        let first = vars
            .first()
            .ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        let d = normalize_dim("stack", dim, first.ndim() + 1)? as isize;
        if let Some(v) = vars.iter().find(|v| v.shape() != first.shape()) {
            return Err(Error::invalid(
                "stack",
                format!(
                    "stack expects each tensor to be equal size, but got {:?} and {:?}",
                    first.shape(),
                    v.shape()
                ),
            ));
        }
        let parts = vars.iter().map(|v| v.unsqueeze(d)).collect::<Result<Vec<_>>>()?;
        Var::concat(&parts, d)
    }
}
