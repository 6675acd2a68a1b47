//! `topk`: the `k` largest (or smallest) elements along a dimension, with their indices.

use std::cmp::Ordering;

use ndarray::{ArrayD, IxDyn};

use crate::tuning::TOPK_FEW;
use crate::{normalize_dim, Error, Float, IndexTensor, Result, Tensor};

impl<T: Float> Tensor<T> {
    /// The `k` largest elements along `dim` (the smallest if `largest` is false) and their
    /// indices, as `torch.topk(t, k, dim, largest, sorted)`.
    ///
    /// A NaN counts as larger than any number, as in PyTorch. Equal elements come lower index
    /// first; PyTorch's CPU kernel leaves that order open (`[3, 3, 3, 3]` gives indices
    /// `[2, 3]` for `k = 2` there), so tied indices may differ from PyTorch's while the values
    /// agree. With `sorted` the elements come in order (largest first, or smallest first);
    /// without it they keep their order in the input.
    pub fn topk(&self, k: usize, dim: isize, largest: bool, sorted: bool) -> Result<(Self, IndexTensor)> {
        let d = normalize_dim("topk", dim, self.ndim().max(1))?;
        let n = self.shape().get(d).copied().unwrap_or(1);
        if k > n {
            return Err(Error::invalid(
                "topk",
                format!("selected index k out of range (k = {k}, dimension {dim} has size {n})"),
            ));
        }
        if self.ndim() == 0 {
            return Ok((self.clone(), IndexTensor::scalar(0)));
        }
        // The dimension moved last and made contiguous: one slice of `n` values per lane.
        let last = self.ndim() - 1;
        let mut moved = self.data.view();
        moved.swap_axes(d, last);
        let moved = moved.as_standard_layout();
        let values = moved.as_slice().expect("standard layout");
        let lanes = values.len().checked_div(n).unwrap_or(0);
        let mut out_values = Vec::with_capacity(lanes * k);
        let mut out_indices = Vec::with_capacity(lanes * k);
        let mut order: Vec<usize> = Vec::with_capacity(n);
        for lane in values.chunks_exact(n.max(1)).take(lanes) {
            order.clear();
            let few = k > 0 && k <= TOPK_FEW && k * 8 <= n;
            if !few {
                order.extend(0..n);
            }
            // The order wanted, equal values by lower index: a total order, so the partial
            // selection (linear in n) and the sort of the k chosen give one answer.
            let before = |a: &usize, b: &usize| {
                let by_value = if largest {
                    nan_greatest(lane[*b], lane[*a])
                } else {
                    nan_greatest(lane[*a], lane[*b])
                };
                by_value.then(a.cmp(b))
            };
            if few {
                few_best(lane, k, largest, &before, &mut order);
            } else if k > 0 && k < n {
                order.select_nth_unstable_by(k - 1, before);
            }
            let chosen = &mut order[..k];
            if sorted {
                chosen.sort_unstable_by(before);
            } else {
                chosen.sort_unstable();
            }
            out_values.extend(chosen.iter().map(|&i| lane[i]));
            out_indices.extend(chosen.iter().map(|&i| i as i64));
        }
        let mut shape = moved.shape().to_vec();
        shape[last] = k;
        let values = ArrayD::from_shape_vec(IxDyn(&shape), out_values).expect("lanes times k");
        let indices = ArrayD::from_shape_vec(IxDyn(&shape), out_indices).expect("lanes times k");
        Ok((
            Tensor::from_array(swap_back(values, d, last)),
            IndexTensor::from_array(swap_back(indices, d, last)),
        ))
    }
}

/// The `k` indices of `lane` that come first in the order `before` (`k` at least 1 and at
/// most an eighth of the lane's length: see [`TOPK_FEW`]), into `best`, in that order: one pass that keeps them
/// sorted, where most values are passed over after one comparison with the `k`-th kept
/// (the one a value must beat). `before` is the total order of `topk` (by value, NaN the
/// greatest, then by index), so the answer is the one a full selection gives.
fn few_best<T: Float>(
    lane: &[T],
    k: usize,
    largest: bool,
    before: &impl Fn(&usize, &usize) -> Ordering,
    best: &mut Vec<usize>,
) {
    best.clear();
    for i in 0..lane.len() {
        if best.len() == k {
            let last = best[k - 1];
            let (v, bar) = (lane[i], lane[last]);
            // Numbers on the wrong side of the bar, or equal to it (a later index), lose.
            let loses = if largest { v <= bar } else { v >= bar };
            if loses || before(&i, &last) != Ordering::Less {
                continue;
            }
            best.pop();
        }
        let at = best.partition_point(|j| before(j, &i) == Ordering::Less);
        best.insert(at, i);
    }
}

/// Undoes the swap of dimensions `d` and `last`, in row-major order.
fn swap_back<E: Clone>(mut a: ArrayD<E>, d: usize, last: usize) -> ArrayD<E> {
    a.swap_axes(d, last);
    a.as_standard_layout().into_owned()
}

/// Orders numbers as usual and NaN above every number (NaNs equal among themselves).
fn nan_greatest<T: Float>(a: T, b: T) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).expect("neither is NaN"),
    }
}
