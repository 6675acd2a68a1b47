//! Statistics over one or several dimensions: `var` / `std` with Bessel's `correction`, and
//! the minimum (`min`, `min_dim`, `argmin`), the mirror of `reduce.rs`'s maximum.

use ndarray::IxDyn;

use crate::reduce::{sum_of, Extreme};
use crate::{normalize_dim, Error, Float, IndexTensor, Result, Shape, Tensor};

/// Normalises a list of PyTorch dimensions (negative from the end) for a reduction over a
/// tensor of `ndim` dimensions: sorted, each once; an empty list means every dimension, as
/// `dim=()` in PyTorch. A 0-d tensor accepts `0` and `-1`.
///
/// ```
/// use ferrograd_tensor::normalize_dims;
/// assert_eq!(normalize_dims("var", &[-1, 0], 3).unwrap(), vec![0, 2]);
/// assert_eq!(normalize_dims("var", &[], 2).unwrap(), vec![0, 1]);
/// assert!(normalize_dims("var", &[1, -2], 3).is_err()); // the same dimension twice
/// ```
pub fn normalize_dims(op: &'static str, dims: &[isize], ndim: usize) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..ndim).collect());
    }
    let mut out = Vec::with_capacity(dims.len());
    for &dim in dims {
        let d = normalize_dim(op, dim, ndim.max(1))?;
        if out.contains(&d) {
            return Err(Error::invalid(
                op,
                format!("dim {d} appears multiple times in the list of dims"),
            ));
        }
        out.push(d);
    }
    if ndim == 0 {
        out.clear();
    }
    out.sort_unstable();
    Ok(out)
}

impl<T: Float> Tensor<T> {
    /// The variance over `dims` (all dimensions if empty): `Σ(x - mean)² / max(0, N - correction)`
    /// with `N` the number of elements reduced, as `torch.var(x, dims, correction=c,
    /// keepdim=k)`. PyTorch's default is `correction = 1` (unbiased); `0` gives the biased
    /// variance of LayerNorm. `N <= correction` divides by zero (`inf`, or NaN for a constant),
    /// as PyTorch does, with its warning left out.
    pub fn var_dim(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        self.moment("var", dims, correction, keepdim, |v| v)
    }

    /// The standard deviation over `dims`: the square root of [`var_dim`](Tensor::var_dim).
    pub fn std_dim(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        self.moment("std", dims, correction, keepdim, T::sqrt)
    }

    /// The variance of every element (a 0-d tensor), as `torch.var(x, correction=c)`.
    pub fn var(&self, correction: usize) -> Self {
        self.moment("var", &[], correction, false, |v| v)
            .expect("every dimension is valid")
    }

    /// The standard deviation of every element, as `torch.std(x, correction=c)`.
    pub fn std(&self, correction: usize) -> Self {
        self.moment("std", &[], correction, false, T::sqrt)
            .expect("every dimension is valid")
    }

    /// Two passes per output element (the mean, then the squared deviations, each summed
    /// by `reduce::sum_of`), over the reduced dimensions moved last.
    fn moment(
        &self,
        op: &'static str,
        dims: &[isize],
        correction: usize,
        keepdim: bool,
        finish: impl Fn(T) -> T,
    ) -> Result<Self> {
        let reduced = normalize_dims(op, dims, self.ndim())?;
        let kept: Vec<usize> = (0..self.ndim()).filter(|d| !reduced.contains(d)).collect();
        let n: usize = reduced.iter().map(|&d| self.shape()[d]).product();
        let divisor = T::of(n.saturating_sub(correction) as f64);
        let order: Vec<usize> = kept.iter().chain(&reduced).copied().collect();
        let moved = self.data.view().permuted_axes(IxDyn(&order));
        let moved = moved.as_standard_layout();
        let values = moved.as_slice().expect("standard layout");
        let rows: usize = kept.iter().map(|&d| self.shape()[d]).product();
        let out: Vec<T> = (0..rows)
            .map(|r| {
                let row = &values[r * n..(r + 1) * n];
                let mean = sum_of(row, |x| x) / T::of(n as f64);
                let ss = sum_of(row, |x| (x - mean) * (x - mean));
                finish(ss / divisor)
            })
            .collect();
        let shape: Vec<usize> = if keepdim {
            (0..self.ndim())
                .map(|d| if reduced.contains(&d) { 1 } else { self.shape()[d] })
                .collect()
        } else {
            kept.iter().map(|&d| self.shape()[d]).collect()
        };
        Tensor::from_vec(out, &shape)
    }

    /// The smallest element (NaN if any is NaN), as `torch.min(t)`.
    pub fn min(&self) -> Result<Self> {
        if self.numel() == 0 {
            return Err(Error::invalid("min", "min(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."));
        }
        Ok(Tensor::scalar(Extreme::Min.of_tensor(self)))
    }

    /// The smallest element along `dim` (NaN propagates), as `torch.amin(t, dim)`.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<Self> {
        let d = nonempty_dim(self, "min", dim)?;
        let Some(d) = d else { return Ok(self.clone()) };
        Ok(Extreme::Min.along(self, d, keepdim))
    }

    /// The index of the smallest element along `dim` (the first one on ties; a NaN counts as
    /// smallest), as `torch.argmin`.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<IndexTensor> {
        let Some(d) = nonempty_dim(self, "argmin", dim)? else {
            return Ok(IndexTensor::scalar(0));
        };
        Ok(Extreme::Min.index_along(self, d, keepdim))
    }
}

/// `dim` normalised (`None` for a 0-d tensor), or an error if it is out of range or empty.
fn nonempty_dim<T: Float>(t: &Tensor<T>, op: &'static str, dim: isize) -> Result<Option<usize>> {
    let d = normalize_dim(op, dim, t.ndim().max(1))?;
    if t.ndim() == 0 {
        return Ok(None);
    }
    if t.shape()[d] == 0 {
        return Err(Error::invalid(
            op,
            format!(
                "Expected reduction dim {dim} to have non-zero size (input shape {})",
                Shape(t.shape().to_vec())
            ),
        ));
    }
    Ok(Some(d))
}
