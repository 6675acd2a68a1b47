//! Masking, selection and rearranging ops and their gradients: `masked_fill`, `where_`,
//! `tril` / `triu`, `split` / `chunk`, `pad`, `roll`, `flip`, `cumsum`, `topk`.
//!
//! Each gradient is the same kind of op applied to the output gradient (a mask, the
//! opposite padding or shift, a scatter back), so it can be differentiated again.

use ferrograd_tensor::{chunk_size, split_ranges, BoolTensor, Float, IndexTensor, Result, Tensor};

use crate::ops::arith::unbroadcast;
use crate::Var;

impl<T: Float> Var<T> {
    /// `value` where `mask` is true, the element elsewhere, as `torch.masked_fill`; the mask
    /// broadcasts with the `Var`. Gradient: the output gradient with the masked positions set
    /// to 0 (so `masked_fill(mask, -inf)` before a softmax sends exactly 0 there).
    pub fn masked_fill(&self, mask: &BoolTensor, value: T) -> Result<Var<T>> {
        let out = self.value().masked_fill(mask, value)?;
        let mask = mask.clone();
        Ok(Var::from_op(
            "MaskedFillBackward0",
            out,
            [self.clone()],
            move |g, _, x| Ok([Some(unbroadcast(&g.masked_fill(&mask, T::zero())?, &x[0])?)]),
        ))
    }

    /// `a` where `cond` is true and `b` elsewhere, as `torch.where(cond, a, b)`, the three
    /// broadcasting together. Gradient: the output gradient where each operand was chosen,
    /// 0 elsewhere, summed back to each operand's shape.
    pub fn where_(cond: &BoolTensor, a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
        let out = Tensor::where_(cond, &a.value(), &b.value())?;
        let (cond, not_cond) = (cond.clone(), cond.logical_not());
        Ok(Var::from_op(
            "WhereBackward0",
            out,
            [a.clone(), b.clone()],
            move |g, _, x| {
                let chosen = |other: &BoolTensor, operand: &Var<T>| match operand.requires_grad() {
                    true => unbroadcast(&g.masked_fill(other, T::zero())?, operand).map(Some),
                    false => Ok(None),
                };
                Ok([chosen(&not_cond, &x[0])?, chosen(&cond, &x[1])?])
            },
        ))
    }

    /// The lower triangle (on and below the `k`-th diagonal) of the last two dimensions, the
    /// rest zeroed, as `torch.tril`; gradient: the lower triangle of the output gradient.
    pub fn tril(&self, k: isize) -> Result<Var<T>> {
        let out = self.value().tril(k)?;
        Ok(Var::from_op("TrilBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.tril(k)?)])
        }))
    }

    /// The upper triangle (on and above the `k`-th diagonal) of the last two dimensions, as
    /// `torch.triu`; gradient: the upper triangle of the output gradient.
    pub fn triu(&self, k: isize) -> Result<Var<T>> {
        let out = self.value().triu(k)?;
        Ok(Var::from_op("TriuBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.triu(k)?)])
        }))
    }

    /// Pieces of `size` elements along `dim` (the last one smaller if need be), as
    /// `torch.split`; each is a [`narrow`](Var::narrow), whose gradient goes back to its slice.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Var<T>>> {
        split_ranges("split", &self.shape(), size, dim)?
            .into_iter()
            .map(|(start, len)| self.narrow(dim, start, len))
            .collect()
    }

    /// `chunks` pieces of `ceil(n / chunks)` elements along `dim` (fewer if the dimension
    /// runs out first), as `torch.chunk`.
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Var<T>>> {
        self.split(chunk_size("chunk", &self.shape(), chunks, dim)?, dim)
    }

    /// Pads the trailing dimensions with `value` (`pad[0]` = `(before, after)` of the last
    /// dimension, negative amounts crop), as `torch.nn.functional.pad` in constant mode; see
    /// [`Tensor::pad`]. Gradient: the output gradient padded by the opposite amounts, which
    /// crops what was added and puts zeros where elements were cropped.
    pub fn pad(&self, pad: &[(isize, isize)], value: T) -> Result<Var<T>> {
        let out = self.value().pad(pad, value)?;
        let back: Vec<(isize, isize)> = pad.iter().map(|&(b, a)| (-b, -a)).collect();
        Ok(Var::from_op(
            "ConstantPadNdBackward0",
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.pad(&back, T::zero())?)]),
        ))
    }

    /// Shifts the elements by `shifts[i]` along `dims[i]`, wrapping around, as `torch.roll`
    /// (no `dims`: rolled as if flat); gradient: rolled back.
    pub fn roll(&self, shifts: &[isize], dims: &[isize]) -> Result<Var<T>> {
        let out = self.value().roll(shifts, dims)?;
        let back: Vec<isize> = shifts.iter().map(|&s| -s).collect();
        let dims = dims.to_vec();
        Ok(Var::from_op("RollBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.roll(&back, &dims)?)])
        }))
    }

    /// Reverses the elements along each of `dims`, as `torch.flip`; gradient: flipped back.
    pub fn flip(&self, dims: &[isize]) -> Result<Var<T>> {
        let out = self.value().flip(dims)?;
        let dims = dims.to_vec();
        Ok(Var::from_op("FlipBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.flip(&dims)?)])
        }))
    }

    /// The running sum along `dim`, as `torch.cumsum`; gradient: the running sum of the
    /// output gradient taken from the end ([`Var::reversed_cumsum`], as PyTorch).
    pub fn cumsum(&self, dim: isize) -> Result<Var<T>> {
        let out = self.value().cumsum(dim)?;
        Ok(Var::from_op("CumsumBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.reversed_cumsum(dim)?)])
        }))
    }

    /// The running sum along `dim` taken from the end, `flip(dim).cumsum(dim).flip(dim)` in one
    /// pass (PyTorch's `reversed_cumsum`); gradient: the running sum from the start.
    pub fn reversed_cumsum(&self, dim: isize) -> Result<Var<T>> {
        let out = self.value().reversed_cumsum(dim)?;
        Ok(Var::from_op(
            "ReversedCumsumBackward",
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.cumsum(dim)?)]),
        ))
    }

    /// The `k` largest (or smallest) elements along `dim` and their indices, as `torch.topk`;
    /// see [`Tensor::topk`] for NaN and ties. Gradient: the values' gradient scattered back
    /// to the positions they came from, 0 elsewhere.
    pub fn topk(&self, k: usize, dim: isize, largest: bool, sorted: bool) -> Result<(Var<T>, IndexTensor)> {
        let (values, indices) = self.value().topk(k, dim, largest, sorted)?;
        let index = indices.clone();
        let out = Var::from_op("TopkBackward0", values, [self.clone()], move |g, _, x| {
            Ok([Some(g.scatter_add(&x[0].shape(), dim, &index)?)])
        });
        Ok((out, indices))
    }
}
