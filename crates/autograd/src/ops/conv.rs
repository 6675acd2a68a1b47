//! A convolution with one group as one op, and the window ops of convolution and pooling,
//! each paired with its adjoint: `im2col` / `col2im` (each the other's gradient, so a
//! convolution can be differentiated twice) and
//! `gather_rows` / `scatter_add_rows` (how max pooling, whose op is here too, routes its
//! gradient).

use std::rc::Rc;

use ferrograd_tensor::{Float, IndexTensor, Result, Tensor, Window2d};

use crate::grad_mode::is_grad_enabled;
use crate::var::{Grads, Saves};
use crate::Var;

impl<T: Float> Var<T> {
    /// A convolution with one group: this `[N, C, H, W]` `Var`'s windows times a flattened
    /// weight `[O, C·KH·KW]`, plus a bias `[O]`, as `[N, O, OH·OW]` (see
    /// [`Tensor::conv_forward`]), PyTorch's `ConvolutionBackward0`.
    ///
    /// Gradient: [`Tensor::conv_backward`], from the columns the forward made. When the
    /// gradient is itself recorded (`create_graph`), the same gradients from differentiable
    /// ops: with `G` the output gradient moved to `[O, N·L]`, `col2im(Wᵀ·G)` for the input,
    /// `G·im2col(x)ᵀ` for the weight and `G` summed over its columns for the bias.
    pub fn convolution(&self, weight: &Var<T>, bias: Option<&Var<T>>, window: &Window2d) -> Result<Var<T>> {
        let (out, columns) = match bias {
            Some(b) => self.value().conv_forward(&weight.value(), Some(&b.value()), window)?,
            None => self.value().conv_forward(&weight.value(), None, window)?,
        };
        let window = *window;
        let inputs = [Some(self.clone()), Some(weight.clone()), bias.cloned()];
        Ok(Var::from_op_saving(
            "ConvolutionBackward0",
            Saves::FIRST_TWO,
            out,
            inputs.into_iter().flatten(),
            move |g, _, x| {
                let wants = [
                    x[0].requires_grad(),
                    x[1].requires_grad(),
                    x.get(2).is_some_and(Var::requires_grad),
                ];
                let [gx, gw, gb] = if is_grad_enabled() {
                    let [n, o, l] = g.shape()[..] else {
                        unreachable!("the output is [N, O, L]")
                    };
                    let gy = g.transpose(0, 1)?.reshape(&[o, n * l])?;
                    [
                        wants[0]
                            .then(|| x[1].mm(&gy, true, false)?.col2im(&window))
                            .transpose()?,
                        wants[1]
                            .then(|| gy.mm(&x[0].im2col(&window)?, false, true))
                            .transpose()?,
                        wants[2].then(|| gy.sum_to_shape(&[o, 1])?.reshape(&[o])).transpose()?,
                    ]
                } else {
                    let grads = g.value().conv_backward(&x[1].value(), &columns, wants)?;
                    [grads.input, grads.weight, grads.bias].map(|t| t.map(Var::new))
                };
                let mut grads: Grads<T> = [gx, gw].into_iter().collect();
                if x.len() == 3 {
                    grads.push(gb);
                }
                Ok(grads)
            },
        ))
    }

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

    /// A convolution's product `[C, N·L]` as its output `[N, C, L]`, with `bias[c]` added to
    /// channel `c` in the same pass (see [`Tensor::channels_to_batch`]). Gradient: the output
    /// gradient moved back to `[C, N·L]` (a transpose), and for the bias that summed over its
    /// rows, as the separate transpose and broadcast addition would give.
    pub fn channels_to_batch(&self, n: usize, bias: Option<&Var<T>>) -> Result<Var<T>> {
        let out = match bias {
            Some(b) => self.value().channels_to_batch(n, Some(&b.value()))?,
            None => self.value().channels_to_batch(n, None)?,
        };
        let inputs = [Some(self.clone()), bias.cloned()];
        Ok(Var::from_op_saving(
            "ConvolutionOutputBackward0",
            Saves::NOTHING,
            out,
            inputs.into_iter().flatten(),
            |g, _, x| {
                let [n, c, l] = g.shape()[..] else {
                    unreachable!("the output is [N, C, L]")
                };
                let gy = g.transpose(0, 1)?.reshape(&[c, n * l])?;
                let gb = match x.get(1) {
                    Some(b) if b.requires_grad() => Some(gy.sum_to_shape(&[c, 1])?.reshape(&[c])?),
                    _ => None,
                };
                let mut grads: Grads<T> = [x[0].requires_grad().then_some(gy)].into_iter().collect();
                if x.len() == 2 {
                    grads.push(gb);
                }
                Ok(grads)
            },
        ))
    }

    /// Max pooling of this `Var`'s `[R, H, W]` planes: each window's maximum, `[R, OH, OW]`
    /// (see [`Tensor::max_pool2d`]); gradient: each element of the output gradient added at
    /// the position its value came from, by [`scatter_add_rows`](Var::scatter_add_rows) (as
    /// the gradient of [`gather_rows`](Var::gather_rows) at those positions).
    pub fn max_pool2d(&self, window: &Window2d) -> Result<Var<T>> {
        Ok(self.max_pool2d_op(window)?.0)
    }

    /// [`max_pool2d`](Var::max_pool2d) and the position of each maximum in its plane
    /// (`iy·W + ix`), `[R, OH, OW]`.
    pub fn max_pool2d_with_indices(&self, window: &Window2d) -> Result<(Var<T>, IndexTensor)> {
        let (out, flat) = self.max_pool2d_op(window)?;
        let [oh, ow] = window.output;
        Ok((out, flat.reshape(&[self.shape()[0], oh, ow])?))
    }

    /// The op behind both, and the positions `[R, OH·OW]` its gradient rule keeps (shared,
    /// so that only `max_pool2d_with_indices` copies them).
    fn max_pool2d_op(&self, window: &Window2d) -> Result<(Var<T>, Rc<IndexTensor>)> {
        let (out, index) = self.value().max_pool2d(window)?;
        let [rows, h, w] = *self.shape() else {
            unreachable!("max_pool2d checked the planes' shape")
        };
        let windows = window.output_numel();
        let flat = Rc::new(index.into_shape(&[rows, windows])?);
        let kept = Rc::clone(&flat);
        let var = Var::from_op("MaxPool2DWithIndicesBackward0", out, [self.clone()], move |g, _, _| {
            let g = g
                .reshape(&[rows, windows])?
                .scatter_add_rows_shared(Rc::clone(&kept), h * w)?;
            Ok([Some(g.reshape(&[rows, h, w])?)])
        });
        Ok((var, flat))
    }

    /// `out[i][j] = self[i][index[i][j]]` for a 2-D `Var` (see [`Tensor::gather_rows`]);
    /// gradient: scattered back with [`scatter_add_rows`](Var::scatter_add_rows), each element
    /// of the output gradient to the one position it was read from.
    pub fn gather_rows(&self, index: &IndexTensor) -> Result<Var<T>> {
        self.gather_rows_shared(Rc::new(index.clone()))
    }

    /// Zeros `[R, columns]` with each element of this `[R, J]` `Var` added at column
    /// `index[i][j]` (see [`Tensor::scatter_add_rows`]); gradient: gathered back.
    pub fn scatter_add_rows(&self, index: &IndexTensor, columns: usize) -> Result<Var<T>> {
        self.scatter_add_rows_shared(Rc::new(index.clone()), columns)
    }

    /// [`gather_rows`](Var::gather_rows) with an index its rule shares instead of copying.
    fn gather_rows_shared(&self, index: Rc<IndexTensor>) -> Result<Var<T>> {
        let out = self.value().gather_rows(&index)?;
        Ok(Var::from_op("GatherBackward0", out, [self.clone()], move |g, _, x| {
            Ok([Some(g.scatter_add_rows_shared(Rc::clone(&index), x[0].shape()[1])?)])
        }))
    }

    /// [`scatter_add_rows`](Var::scatter_add_rows) with an index its rule shares instead of
    /// copying.
    fn scatter_add_rows_shared(&self, index: Rc<IndexTensor>, columns: usize) -> Result<Var<T>> {
        let out: Tensor<T> = self.value().scatter_add_rows(&index, columns)?;
        Ok(Var::from_op(
            "ScatterAddBackward0",
            out,
            [self.clone()],
            move |g, _, _| Ok([Some(g.gather_rows_shared(Rc::clone(&index))?)]),
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
