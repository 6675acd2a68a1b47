//! Categories: `one_hot` encoding of class indices, and `multinomial` sampling of classes
//! from (unnormalised) probabilities with a generator the caller gives.

use ndarray::{ArrayD, IxDyn};
use rand::Rng;

use crate::tensor::checked_shape;
use crate::{Error, Float, IndexTensor, Result, Shape, Tensor};

impl IndexTensor {
    /// A new last dimension of `num_classes` holding 1 at each index's class and 0 elsewhere,
    /// as `torch.nn.functional.one_hot` (int64, like PyTorch's). `num_classes = -1` takes
    /// the largest index plus one.
    ///
    /// ```
    /// use ferrograd_tensor::IndexTensor;
    /// let y = IndexTensor::from_slice(&[0, 2]).one_hot(3)?;
    /// assert_eq!(y.to_vec(), vec![1, 0, 0, 0, 0, 1]);
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    pub fn one_hot(&self, num_classes: i64) -> Result<IndexTensor> {
        if self.numel() == 0 && num_classes <= 0 {
            return Err(Error::invalid(
                "one_hot",
                format!("Can not infer total number of classes from empty tensor (num_classes {num_classes})."),
            ));
        }
        if let Some(&bad) = self.data.iter().find(|&&i| i < 0) {
            return Err(Error::invalid(
                "one_hot",
                format!("Class values must be non-negative. (got {bad})"),
            ));
        }
        let max = self.data.iter().copied().max().unwrap_or(0);
        let classes = if num_classes == -1 { max + 1 } else { num_classes };
        if max >= classes {
            return Err(Error::invalid(
                "one_hot",
                format!("Class values must be smaller than num_classes. (got {max}, num_classes {num_classes})"),
            ));
        }
        let classes = classes as usize;
        let mut shape = self.shape().to_vec();
        shape.push(classes);
        checked_shape("one_hot", &shape)?;
        let mut out = vec![0i64; self.numel() * classes];
        for (row, &i) in out.chunks_exact_mut(classes).zip(self.data.iter()) {
            row[i as usize] = 1;
        }
        Ok(IndexTensor {
            data: ArrayD::from_shape_vec(IxDyn(&shape), out).expect("length matches shape"),
        })
    }
}

impl<T: Float> Tensor<T> {
    /// Draws `num_samples` category indices from each row of non-negative weights (1-D: one
    /// distribution, 2-D: one per row), as `torch.multinomial(probs, num_samples,
    /// replacement)`; the weights need not sum to 1.
    ///
    /// Without replacement a category is drawn at most once: each draw is from the weights
    /// of the categories not drawn yet, and once only zero weights remain the remaining
    /// categories follow in index order (as PyTorch: `[1, 0, 0]` with 2 samples gives
    /// `[0, 1]`). The draws come from `rng`, so a seeded generator gives the same samples
    /// every time (not PyTorch's: its generator is another).
    pub fn multinomial<R: Rng + ?Sized>(
        &self,
        num_samples: usize,
        replacement: bool,
        rng: &mut R,
    ) -> Result<IndexTensor> {
        let op = "multinomial";
        if self.ndim() == 0 || self.ndim() > 2 {
            return Err(Error::invalid(
                op,
                format!(
                    "prob_dist must be 1 or 2 dim (got shape {})",
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        if num_samples == 0 {
            return Err(Error::invalid(op, "cannot sample n_sample <= 0 samples (got 0)"));
        }
        let categories = self.shape()[self.ndim() - 1];
        if !replacement && num_samples > categories {
            return Err(Error::invalid(
                op,
                format!("cannot sample n_sample > prob_dist.size(-1) samples without replacement (n_sample {num_samples}, prob_dist.size(-1) {categories})"),
            ));
        }
        if let Some(bad) = self.data.iter().find(|p| !p.is_finite() || **p < T::zero()) {
            return Err(Error::invalid(
                op,
                format!("probability tensor contains either `inf`, `nan` or element < 0 (got {bad})"),
            ));
        }
        let values = self.to_vec();
        let rows = if self.ndim() == 1 { 1 } else { self.shape()[0] };
        let mut out = Vec::with_capacity(rows * num_samples);
        for r in 0..rows {
            let mut weights: Vec<f64> = values[r * categories..(r + 1) * categories]
                .iter()
                .map(|p| p.f64())
                .collect();
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(Error::invalid(
                    op,
                    format!("invalid multinomial distribution (sum of probabilities <= 0) in row {r}"),
                ));
            }
            if replacement {
                let cumulative = running_sum(&weights);
                out.extend((0..num_samples).map(|_| draw(&cumulative, rng) as i64));
            } else {
                let mut taken = vec![false; categories];
                for _ in 0..num_samples {
                    let cumulative = running_sum(&weights);
                    let i = if cumulative.last().copied().unwrap_or(0.0) > 0.0 {
                        draw(&cumulative, rng)
                    } else {
                        taken.iter().position(|&t| !t).expect("num_samples <= categories")
                    };
                    taken[i] = true;
                    weights[i] = 0.0;
                    out.push(i as i64);
                }
            }
        }
        let shape: Vec<usize> = if self.ndim() == 1 {
            vec![num_samples]
        } else {
            vec![rows, num_samples]
        };
        IndexTensor::from_vec(out, &shape)
    }
}

fn running_sum(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |acc, &w| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

/// The category whose interval of the cumulative weights holds a uniform draw from
/// `[0, total)`: never one of weight 0, since its interval is empty.
fn draw<R: Rng + ?Sized>(cumulative: &[f64], rng: &mut R) -> usize {
    let total = *cumulative.last().expect("at least one category");
    let u = rng.random::<f64>() * total;
    let i = cumulative.partition_point(|&c| c <= u);
    if i < cumulative.len() {
        return i;
    }
    // `u` rounded up to `total`: the last category of nonzero weight.
    (0..cumulative.len())
        .rev()
        .find(|&j| j == 0 || cumulative[j] > cumulative[j - 1])
        .expect("a nonzero weight")
}
