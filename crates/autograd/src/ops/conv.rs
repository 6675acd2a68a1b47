//! The window ops of convolution and pooling, each paired with its adjoint: `im2col` /
//! `col2im` (each the other's gradient, so a convolution can be differentiated twice) and
//! `gather_rows` / `scatter_add_rows` (how max pooling routes its gradient).

use ferrograd_tensor::{Float, IndexTensor, Result, Tensor, Window2d};

use crate::Var;

impl<T: Float> Var<T> {
    /// Every window of a `[N, C, H, W]` `Var` as a column, `[C·KH·KW, N·OH·OW]` (see
    /// [`Tensor::im2col`]); gradient: [`col2im`](Var::col2im) of the output gradient.
    pub fn im2col(&self, window: &Window2d) -> Result<Var<T>> {
        let out = self.value().im2col(window)?;
        let window = *window;
        Ok(Var::from_op("Im2ColBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.col2im(&window)?)])
        }))
    }

    /// Adds windows laid out as columns back into `[N, C, H, W]` (see [`Tensor::col2im`]),
    /// the adjoint of [`im2col`](Var::im2col); gradient: `im2col` of the output gradient.
    pub fn col2im(&self, window: &Window2d) -> Result<Var<T>> {
        let out = self.value().col2im(window)?;
        let window = *window;
        Ok(Var::from_op("Col2ImBackward0", out, [self.clone()], move |g, _, _| {
            Ok([Some(g.im2col(&window)?)])
        }))
    }

    /// `out[i][j] = self[i][index[i][j]]` for a 2-D `Var` (see [`Tensor::gather_rows`]);
    /// gradient: scattered back with [`scatter_add_rows`](Var::scatter_add_rows), each element
    /// of the output gradient to the one position it was read from.
    pub fn gather_rows(&self, index: &IndexTensor) -> Result<Var<T>> {
        let out = self.value().gather_rows(index)?;
        let index = index.clone();
        Ok(Var::from_op("GatherBackward0", out, [self.clone()], move |g, _, x| {
            Ok([Some(g.scatter_add_rows(&index, x[0].shape()[1])?)])
        }))
    }

    /// Zeros `[R, columns]` with each element of this `[R, J]` `Var` added at column
    /// `index[i][j]` (see [`Tensor::scatter_add_rows`]); gradient: gathered back.
    pub fn scatter_add_rows(&self, index: &IndexTensor, columns: usize) -> Result<Var<T>> {
        let out: Tensor<T> = self.value().scatter_add_rows(index, columns)?;
        let index = index.clone();
        Ok(Var::from_op(
            "ScatterAddBackward0",
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.gather_rows(&index)?)]),
        ))
    }

    /// `[B, R, C]` → `[B, C, R]`, as `transpose(1, 2)` with a tiled copy (see
    /// [`Tensor::batch_transpose`]); gradient: transposed back.
    pub fn batch_transpose(&self) -> Result<Var<T>> {
        let out = self.value().batch_transpose()?;
        Ok(Var::from_op("TransposeBackward0", out, [self.clone()], |g, _, _| {
            Ok([Some(g.batch_transpose()?)])
        }))
    }
}
