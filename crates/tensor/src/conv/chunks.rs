//! A whole convolution (one group), forward and backward, with the batch split into chunks of
//! samples that this thread and `join`'s helper take in turn: each chunk's im2col, products
//! and col2im run on one thread, on columns of that chunk alone, which stay in its core's
//! cache from the forward to the backward.
//!
//! The same op as im2col, one product and the move of the channels behind the samples
//! (`channels_to_batch`) in turn, but those share each step between the threads separately,
//! and a product of a small convolution (`[16, 144] · [144, 1024]`) is too short for its
//! halves to pay for the hand-over.
//!
//! For chunk `j` of `n_j` samples, with `X_j` its columns `[C·K, n_j·L]`, `W` the weight
//! `[O, C·K]` and `G_j` the output gradient moved to `[O, n_j·L]`:
//!
//! - forward: `Y_j = W·X_j`, each row of it the `n_j` planes of one output channel;
//! - input: `col2im(Wᵀ·G_j)`, the adjoint of `X_j = im2col(x_j)` applied to `∂/∂X_j`;
//! - weight: `Σ_j G_j·X_jᵀ`, summed over the chunks in their order;
//! - bias: `Σ_j` of the row sums of `G_j`.
//!
//! The chunks depend on the batch size alone ([`CONV_CHUNKS`]), never on the number of threads,
//! so the results do not either.

use std::sync::Mutex;

use ndarray::{Array2, ArrayView2, Ix2};

use super::output::sample_from_channels;
use super::{col2im_values, im2col_values, Window2d};
use crate::linalg::gemm;
use crate::parallel::{for_each_index, output_vec};
use crate::tuning::{CONV_CHUNKS, JOIN_GEMM};
use crate::{Error, Float, Result, Shape, Tensor};

/// What a convolution's backward reads of its forward: each chunk's columns.
pub struct ConvColumns<T> {
    /// Chunk `j`'s columns, `[C·K, n_j·L]`.
    chunks: Vec<Vec<T>>,
    /// Samples per chunk (the last may have fewer).
    per: usize,
    /// `[N, C, H, W]`, the input's shape.
    input: [usize; 4],
    window: Window2d,
}

/// The gradients of a convolution, each present when it was asked for.
pub struct ConvGrads<T: Float> {
    /// `[N, C, H, W]`.
    pub input: Option<Tensor<T>>,
    /// `[O, C·K]`.
    pub weight: Option<Tensor<T>>,
    /// `[O]`.
    pub bias: Option<Tensor<T>>,
}

impl<T: Float> Tensor<T> {
    /// A convolution with one group: this `[N, C, H, W]` input's windows (`[H, W]` the
    /// window's input) times `weight` `[O, C·KH·KW]`, plus `bias[o]` on output channel `o`;
    /// returns the output `[N, O, OH·OW]` and the columns its backward reads. The values are
    /// those of `weight · x.im2col(window)` moved to `[N, O, OH·OW]` with the bias added
    /// (`channels_to_batch`), computed in chunks of samples shared between threads.
    ///
    /// ```
    /// use ferrograd_tensor::{Tensor, Window2d};
    /// // A 2x2 window summing each 2x2 block of a 3x3 plane of ones: four windows of 4.
    /// let window = Window2d { input: [3, 3], output: [2, 2], kernel: [2, 2], stride: [1, 1], dilation: [1, 1], padding: [0, 0] };
    /// let x = Tensor::<f32>::ones(&[1, 1, 3, 3]);
    /// let (y, _) = x.conv_forward(&Tensor::ones(&[1, 4]), Some(&Tensor::from_vec(vec![0.5], &[1])?), &window)?;
    /// assert_eq!((y.shape(), y.to_vec()), (&[1, 1, 4][..], vec![4.5; 4]));
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    pub fn conv_forward(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        window: &Window2d,
    ) -> Result<(Tensor<T>, ConvColumns<T>)> {
        let op = "conv_forward";
        let input = window.input_of(op, self.shape())?;
        let [n, c, h, w] = input;
        let (k, l) = (window.kernel_numel(), window.output_numel());
        let o = match *weight.shape() {
            [o, ck] if ck == c * k => o,
            _ => return Err(mismatch(op, self, weight, format!("the weight must be [O, {}]", c * k))),
        };
        if let Some(b) = bias.filter(|b| b.shape() != [o]) {
            return Err(mismatch(
                op,
                weight,
                b,
                format!("the bias must be [{o}], one value per output channel"),
            ));
        }
        let x = self.row_major_values();
        let wt = weight.data.view().into_dimensionality::<Ix2>().expect("2-D");
        let bias = bias.map(Tensor::row_major_values);
        let per = chunk_samples(n);
        let mut out = output_vec::<T>(n * o * l);
        let columns = each_chunk(&mut out, per * o * l, n, o * c * k * l, |j, y_block| {
            let nj = (n - j * per).min(per);
            let cols = im2col_values(&x[j * per * c * h * w..][..nj * c * h * w], [nj, c, h, w], window);
            let y = gemm(
                wt,
                ArrayView2::from_shape((c * k, nj * l), &cols[..]).expect("columns"),
                None,
            );
            let y = y.as_standard_layout();
            let y = y.as_slice().expect("standard layout");
            // [O, n_j·L] → [n_j, O, L], the bias added (nothing to write without channels).
            if o * l > 0 {
                for (s, sample) in y_block.chunks_exact_mut(o * l).enumerate() {
                    sample_from_channels(y, o, s, bias.as_deref(), sample);
                }
            }
            cols
        });
        let columns = ConvColumns {
            chunks: columns,
            per,
            input,
            window: *window,
        };
        Ok((Tensor::from_vec(out, &[n, o, l])?, columns))
    }

    /// The gradients of [`conv_forward`](Tensor::conv_forward), this tensor being the output
    /// gradient (`[N, O, OH·OW]`, or `[N, O, OH, OW]`), `weight` the forward's and `columns`
    /// what it returned; `wants` says which of the input's, the weight's and the bias's to
    /// compute. The module documentation derives them.
    pub fn conv_backward(
        &self,
        weight: &Tensor<T>,
        columns: &ConvColumns<T>,
        wants: [bool; 3],
    ) -> Result<ConvGrads<T>> {
        let op = "conv_backward";
        let ([n, c, h, w], window, per) = (columns.input, &columns.window, columns.per);
        let (k, l) = (window.kernel_numel(), window.output_numel());
        let o = weight.shape().first().copied().unwrap_or(0);
        if weight.shape() != [o, c * k] {
            return Err(mismatch(op, self, weight, format!("the weight must be [O, {}]", c * k)));
        }
        if self.shape().len() < 2 || self.shape()[..2] != [n, o] || self.numel() != n * o * l {
            return Err(Error::invalid(
                op,
                format!(
                    "expected an output gradient [{n}, {o}, {l}] (or its planes), got {}",
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        let g = self.row_major_values();
        let wt = weight.data.view().into_dimensionality::<Ix2>().expect("2-D");
        let mut dx = if wants[0] {
            output_vec::<T>(n * c * h * w)
        } else {
            Vec::new()
        };
        let parts = each_chunk(&mut dx, per * c * h * w, n, 2 * o * c * k * l, |j, dx_block| {
            let (nj, cols) = ((n - j * per).min(per), &columns.chunks[j]);
            // [n_j, O, L] → [O, n_j·L].
            let mut gy = Vec::with_capacity(o * nj * l);
            for ch in 0..o {
                for s in 0..nj {
                    gy.extend_from_slice(&g[((j * per + s) * o + ch) * l..][..l]);
                }
            }
            let gy = ArrayView2::from_shape((o, nj * l), &gy[..]).expect("[O, n_j·L]");
            let cols = ArrayView2::from_shape((c * k, nj * l), &cols[..]).expect("columns");
            if wants[0] {
                let dcols = gemm(wt.t(), gy, None);
                let dcols = dcols.as_standard_layout();
                let sums = col2im_values(dcols.as_slice().expect("standard layout"), nj, c, window);
                dx_block.copy_from_slice(&sums);
            }
            let dw = wants[1].then(|| gemm(gy, cols.t(), None));
            let db = wants[2].then(|| gy.rows().into_iter().map(|r| r.sum()).collect::<Vec<T>>());
            (dw, db)
        });
        let mut dw: Option<Array2<T>> = None;
        let mut db: Option<Vec<T>> = None;
        for (w_j, b_j) in parts {
            if let Some(w_j) = w_j {
                match &mut dw {
                    Some(sum) => *sum += &w_j,
                    None => dw = Some(w_j),
                }
            }
            if let Some(b_j) = b_j {
                match &mut db {
                    Some(sum) => sum.iter_mut().zip(&b_j).for_each(|(s, &v)| *s += v),
                    None => db = Some(b_j),
                }
            }
        }
        // A batch of none still has gradients: zeros.
        let dw = dw.or_else(|| wants[1].then(|| Array2::zeros((o, c * k))));
        let db = db.or_else(|| wants[2].then(|| vec![T::zero(); o]));
        Ok(ConvGrads {
            input: if wants[0] {
                Some(Tensor::from_vec(dx, &[n, c, h, w])?)
            } else {
                None
            },
            weight: dw.map(|d| Tensor::from_array(d.into_dyn())),
            bias: db.map(|d| Tensor::from_vec(d, &[o])).transpose()?,
        })
    }
}

/// Samples per chunk of a batch of `n`: [`CONV_CHUNKS`] chunks, or one per sample if fewer.
fn chunk_samples(n: usize) -> usize {
    n.div_ceil(CONV_CHUNKS.min(n).max(1)).max(1)
}

/// A chunk's block of the output, until its run takes it, and its result.
type Slot<'a, U, R> = (Option<&'a mut [U]>, Option<R>);

/// `f(j, block)` for each chunk `j` of a batch of `n` samples, `block` the `j`-th run of
/// `block_len` values of `out` (empty once `out` is used up); the results in order. On this
/// thread and `join`'s helper, in turn, when the chunks have at least [`JOIN_GEMM`]
/// multiply-adds in all (`macs_per_sample` each), else on this thread, where each chunk's
/// products may still share theirs.
fn each_chunk<U: Send, R: Send>(
    out: &mut [U],
    block_len: usize,
    n: usize,
    macs_per_sample: usize,
    f: impl Fn(usize, &mut [U]) -> R + Sync,
) -> Vec<R> {
    let chunks = n.div_ceil(chunk_samples(n));
    let mut blocks = out.chunks_mut(block_len.max(1));
    let slots: Vec<Mutex<Slot<'_, U, R>>> = (0..chunks).map(|_| Mutex::new((blocks.next(), None))).collect();
    let run = |j: usize| {
        let mut slot = slots[j].lock().expect("each chunk runs once");
        let block = slot.0.take().unwrap_or_default();
        slot.1 = Some(f(j, block));
    };
    if chunks > 1 && n.saturating_mul(macs_per_sample) >= JOIN_GEMM {
        for_each_index(chunks, run);
    } else {
        (0..chunks).for_each(run);
    }
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .expect("each chunk runs once")
                .1
                .expect("every chunk ran")
        })
        .collect()
}

fn mismatch<T: Float>(op: &'static str, lhs: &Tensor<T>, rhs: &Tensor<T>, reason: String) -> Error {
    Error::ShapeMismatch {
        op,
        lhs: Shape(lhs.shape().to_vec()),
        rhs: Shape(rhs.shape().to_vec()),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::geometry;
    use super::*;

    /// The convolution from im2col, one product and `channels_to_batch`, and its gradients
    /// from the same ops' adjoints, on the whole batch at once.
    fn composed(x: &Tensor<f64>, wt: &Tensor<f64>, b: &Tensor<f64>, g: &Tensor<f64>, win: &Window2d) -> [Vec<f64>; 4] {
        let n = x.shape()[0];
        let cols = x.im2col(win).unwrap();
        let y = wt
            .mm(&cols, false, false)
            .unwrap()
            .channels_to_batch(n, Some(b))
            .unwrap();
        let (o, l) = (wt.shape()[0], win.output_numel());
        let gy = g.transpose(0, 1).unwrap().reshape(&[o, n * l]).unwrap();
        let dx = wt.mm(&gy, true, false).unwrap().col2im(win).unwrap();
        let dw = gy.mm(&cols, false, true).unwrap();
        let db = gy.sum_to_shape(&[o, 1]).unwrap();
        [y.to_vec(), dx.to_vec(), dw.to_vec(), db.to_vec()]
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
    }

    #[test]
    fn chunks_give_the_composed_convolution_and_its_gradients() {
        // Batches of one chunk, of chunks of one sample, of a short last chunk; "same"
        // windows and strided, dilated, padded ones; enough work to share between threads.
        for (samples, channels, out_channels, input, kernel, stride, dilation, padding) in [
            (1, 2, 3, [5, 4], [3, 2], [1, 1], [1, 1], [1, 0]),
            (3, 2, 3, [5, 7], [3, 2], [2, 3], [1, 2], [1, 0]),
            (7, 3, 4, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]),
            (16, 16, 16, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1]),
            (10, 4, 5, [6, 9], [2, 3], [2, 1], [2, 1], [0, 2]),
        ] {
            let win = geometry(input, kernel, stride, dilation, padding);
            let x = Tensor::<f64>::randn(&[samples, channels, input[0], input[1]], 1);
            let wt = Tensor::<f64>::randn(&[out_channels, channels * win.kernel_numel()], 2);
            let b = Tensor::<f64>::randn(&[out_channels], 3);
            let g = Tensor::<f64>::randn(&[samples, out_channels, win.output_numel()], 4);
            let (y, columns) = x.conv_forward(&wt, Some(&b), &win).unwrap();
            let grads = g.conv_backward(&wt, &columns, [true; 3]).unwrap();
            let [want_y, want_dx, want_dw, want_db] = composed(&x, &wt, &b, &g, &win);
            assert_eq!(y.shape(), [samples, out_channels, win.output_numel()]);
            assert!(close(&y.to_vec(), &want_y), "{win:?}");
            assert!(close(&grads.input.unwrap().to_vec(), &want_dx), "{win:?}");
            assert!(close(&grads.weight.unwrap().to_vec(), &want_dw), "{win:?}");
            assert!(close(&grads.bias.unwrap().to_vec(), &want_db), "{win:?}");
            // Only what is asked for.
            let some = g.conv_backward(&wt, &columns, [false, true, false]).unwrap();
            assert!(some.input.is_none() && some.weight.is_some() && some.bias.is_none());
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_errors_that_name_them() {
        let win = geometry([4, 4], [3, 3], [1, 1], [1, 1], [1, 1]);
        let x = Tensor::<f32>::ones(&[2, 3, 4, 4]);
        let err = |r: Result<()>| r.unwrap_err().to_string();
        let e = err(x.conv_forward(&Tensor::ones(&[5, 26]), None, &win).map(|_| ()));
        assert!(
            e.contains("conv_forward") && e.contains("[5, 26]") && e.contains("[O, 27]"),
            "{e}"
        );
        let e = err(x
            .conv_forward(&Tensor::ones(&[5, 27]), Some(&Tensor::ones(&[4])), &win)
            .map(|_| ()));
        assert!(e.contains("[4]") && e.contains("[5]"), "{e}");
        let e = err(Tensor::<f32>::ones(&[2, 3, 5, 4])
            .conv_forward(&Tensor::ones(&[5, 27]), None, &win)
            .map(|_| ()));
        assert!(e.contains("[N, C, 4, 4]") && e.contains("[2, 3, 5, 4]"), "{e}");
        let (_, columns) = x.conv_forward(&Tensor::ones(&[5, 27]), None, &win).unwrap();
        let e = err(Tensor::<f32>::ones(&[2, 5, 15])
            .conv_backward(&Tensor::ones(&[5, 27]), &columns, [true; 3])
            .map(|_| ()));
        assert!(
            e.contains("conv_backward") && e.contains("[2, 5, 16]") && e.contains("[2, 5, 15]"),
            "{e}"
        );
    }
}
