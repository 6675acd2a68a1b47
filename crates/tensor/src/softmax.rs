//! Numerically stable softmax and log_softmax along any dimension.

use ndarray::Axis;

use crate::reduce::nan_max;
use crate::{normalize_dim, Float, Result, Tensor};

impl<T: Float> Tensor<T> {
    /// `log(softmax(x))` along `dim`, computed as PyTorch does: `(x - max) - log(sum(exp(x - max)))`.
    /// A row holding NaN or `+inf`, or only `-inf`, gives NaN.
    pub fn log_softmax(&self, dim: isize) -> Result<Self> {
        let mut out = self.clone();
        let d = normalize_dim("log_softmax", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            // `x - x`, not 0: NaN and ±inf give NaN, as PyTorch.
            #[allow(clippy::eq_op)]
            return Ok(out.map(|x| x - x));
        }
        for mut lane in out.data.lanes_mut(Axis(d)) {
            let m = lane.iter().copied().fold(T::neg_infinity(), nan_max);
            let s = lane.iter().map(|&x| (x - m).exp()).sum::<T>().ln();
            lane.mapv_inplace(|x| (x - m) - s);
        }
        Ok(out)
    }

    /// `exp(x - max) / sum(exp(x - max))` along `dim`.
    pub fn softmax(&self, dim: isize) -> Result<Self> {
        let mut out = self.clone();
        let d = normalize_dim("softmax", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            // `exp(x - x)`, not 1: NaN and ±inf give NaN, as PyTorch.
            #[allow(clippy::eq_op)]
            return Ok(out.map(|x| (x - x).exp()));
        }
        for mut lane in out.data.lanes_mut(Axis(d)) {
            let m = lane.iter().copied().fold(T::neg_infinity(), nan_max);
            lane.mapv_inplace(|x| (x - m).exp());
            let s = lane.sum();
            lane.mapv_inplace(|x| x / s);
        }
        Ok(out)
    }
}
