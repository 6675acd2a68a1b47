//! A convolution's output from its product: the product of the flattened weight `[C, K]` and
//! the columns `[K, N·L]` holds the channels first, `[C, N, L]`; the output is `[N, C, L]`,
//! with the bias added.

use crate::parallel::{for_each_block_mut, output_vec};
use crate::tuning::CHEAP_VALUES_PER_WORK;
use crate::{Error, Float, Result, Shape, Tensor};

impl<T: Float> Tensor<T> {
    /// `[C, N·L]` → `[N, C, L]` with `bias[c]` added to every value of channel `c`, in one pass
    /// (a copy of runs of `L` values), as `x.reshape(C, N, L).transpose(0, 1) + bias[:, None]`.
    /// An error unless this tensor is 2-D with `n` dividing its columns, and the bias is `[C]`.
    ///
    /// ```
    /// use ferrograd_tensor::Tensor;
    /// // 2 channels, 2 samples of 3 positions each.
    /// let y = Tensor::<f32>::arange(12).reshape(&[2, 6])?;
    /// let out = y.channels_to_batch(2, Some(&Tensor::from_vec(vec![100.0, 200.0], &[2])?))?;
    /// assert_eq!(out.shape(), [2, 2, 3]);
    /// assert_eq!(out.to_vec()[..6], [100.0, 101.0, 102.0, 206.0, 207.0, 208.0]);
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    pub fn channels_to_batch(&self, n: usize, bias: Option<&Self>) -> Result<Self> {
        let (c, columns) = match *self.shape() {
            [c, columns] if columns % n.max(1) == 0 && (n > 0 || columns == 0) => (c, columns),
            _ => {
                return Err(Error::invalid(
                    "channels_to_batch",
                    format!(
                        "expected a 2-D product [C, N·L] whose columns split into {n} samples, got shape {}",
                        Shape(self.shape().to_vec())
                    ),
                ))
            }
        };
        if let Some(b) = bias.filter(|b| b.shape() != [c]) {
            return Err(Error::ShapeMismatch {
                op: "channels_to_batch",
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(b.shape().to_vec()),
                reason: format!("the bias must have shape [{c}], one value per channel"),
            });
        }
        let l = columns.checked_div(n).unwrap_or(0);
        let y = self.row_major_values();
        let bias = bias.map(Tensor::row_major_values);
        let mut out = output_vec::<T>(n * c * l);
        if l > 0 && c > 0 {
            // One block per sample: its C runs of L values, each from its channel's row.
            for_each_block_mut(&mut out, c * l, c * l / CHEAP_VALUES_PER_WORK, |s, block| {
                sample_from_channels(&y, c, s, bias.as_deref(), block);
            });
        }
        Tensor::from_vec(out, &[n, c, l])
    }
}

/// Sample `s`'s output `[C, L]` into `block` (`C·L` values) from a product `y` `[C, N·L]`
/// whose row `c` holds channel `c` of every sample, `L` values each: one run of `L` per
/// channel, `bias[c]` added (without a bias, a copy, which keeps a -0.0 as it is).
pub(super) fn sample_from_channels<T: Float>(y: &[T], channels: usize, s: usize, bias: Option<&[T]>, block: &mut [T]) {
    let (l, columns) = (block.len() / channels, y.len() / channels);
    for (ch, run) in block.chunks_exact_mut(l).enumerate() {
        let src = &y[ch * columns + s * l..][..l];
        match bias {
            Some(b) => {
                let b = b[ch];
                run.iter_mut().zip(src).for_each(|(o, &v)| *o = v + b);
            }
            None => run.copy_from_slice(src),
        }
    }
}
