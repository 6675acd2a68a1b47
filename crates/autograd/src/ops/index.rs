//! Indexing ops, each paired with its adjoint: `gather` / `scatter_add`, `index_select` / `index_add`.

use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};

use crate::var::Saves;
use crate::Var;

impl<T: Float> Var<T> {
    /// Picks elements along `dim` at `index`, as `torch.gather`; gradient: scattered back.
    pub fn gather(&self, dim: isize, index: &IndexTensor) -> Result<Var<T>> {
        let out = self.value().gather(dim, index)?;
        let index = index.clone();
        Ok(Var::from_op_saving(
            "GatherBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, x| Ok([Some(g.scatter_add(&x[0].shape(), dim, &index)?)]),
        ))
    }

    /// Adds this `Var` into zeros of `shape` at `index` along `dim`; gradient: gathered back.
    pub fn scatter_add(&self, shape: &[usize], dim: isize, index: &IndexTensor) -> Result<Var<T>> {
        let out = Tensor::scatter_add(shape, dim, index, &self.value())?;
        let index = index.clone();
        Ok(Var::from_op_saving(
            "ScatterAddBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.gather(dim, &index)?)]),
        ))
    }

    /// The slices at `index` (1-D) along `dim`, as `torch.index_select`; gradient: added back.
    pub fn index_select(&self, dim: isize, index: &IndexTensor) -> Result<Var<T>> {
        let out = self.value().index_select(dim, index)?;
        let index = index.clone();
        Ok(Var::from_op_saving(
            "IndexSelectBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, x| Ok([Some(g.index_add(&x[0].shape(), dim, &index)?)]),
        ))
    }

    /// Adds slices of this `Var` into zeros of `shape` at `index` along `dim`; gradient: selected back.
    pub fn index_add(&self, shape: &[usize], dim: isize, index: &IndexTensor) -> Result<Var<T>> {
        let out = Tensor::index_add(shape, dim, index, &self.value())?;
        let index = index.clone();
        Ok(Var::from_op_saving(
            "IndexAddBackward0",
            Saves::NOTHING,
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.index_select(dim, &index)?)]),
        ))
    }
}
