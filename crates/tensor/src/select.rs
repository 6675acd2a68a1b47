//! `topk`: the `k` largest (or smallest) elements along a dimension, with their indices.

use std::cmp::Ordering;

use ndarray::{ArrayD, IxDyn};

use crate::kernels::{wide, KERNEL_BLOCK};
use crate::parallel::for_each_block_pair_mut;
use crate::tuning::{CHEAP_VALUES_PER_WORK, TOPK_FEW};
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
        let mut out_values = vec![T::zero(); lanes * k];
        let mut out_indices = vec![0i64; lanes * k];
        // Blocks of whole lanes, shared between threads.
        let per_block = (KERNEL_BLOCK / n.max(1)).max(1);
        for_each_block_pair_mut(
            &mut out_values,
            per_block * k,
            &mut out_indices,
            per_block * k,
            per_block * n / CHEAP_VALUES_PER_WORK,
            |b, out_values, out_indices| {
                let mut order = Vec::with_capacity(n);
                let outs = out_values.chunks_exact_mut(k).zip(out_indices.chunks_exact_mut(k));
                for (j, (out_values, out_indices)) in outs.enumerate() {
                    let lane = &values[(b * per_block + j) * n..][..n];
                    let chosen = wide(
                        #[inline(always)]
                        || select_lane(lane, k, largest, sorted, &mut order),
                    );
                    for ((v, i), &c) in out_values.iter_mut().zip(out_indices).zip(chosen) {
                        (*v, *i) = (lane[c], c as i64);
                    }
                }
            },
        );
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

/// The indices of the `k` (at least 1) elements of `lane` that `topk` keeps, in `order`, in
/// the order they are written: sorted by value with `sorted`, else by index.
#[inline(always)]
fn select_lane<'a, T: Float>(
    lane: &[T],
    k: usize,
    largest: bool,
    sorted: bool,
    order: &'a mut Vec<usize>,
) -> &'a [usize] {
    let n = lane.len();
    order.clear();
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
    if k <= TOPK_FEW && k * 8 <= n {
        few_best(lane, k, largest, &before, order);
    } else {
        order.extend(0..n);
        if k < n {
            order.select_nth_unstable_by(k - 1, before);
        }
    }
    let chosen = &mut order[..k];
    if sorted {
        chosen.sort_unstable_by(before);
    } else {
        chosen.sort_unstable();
    }
    chosen
}

/// The `k` indices of `lane` that come first in the order `before` (`k` at least 1 and at
/// most an eighth of the lane's length: see [`TOPK_FEW`]), into `best`, in that order: one pass that keeps them
/// sorted, where most values are passed over after one comparison with the `k`-th kept
/// (the one a value must beat). `before` is the total order of `topk` (by value, NaN the
/// greatest, then by index), so the answer is the one a full selection gives.
#[inline(always)]
fn few_best<T: Float>(
    lane: &[T],
    k: usize,
    largest: bool,
    before: &impl Fn(&usize, &usize) -> Ordering,
    best: &mut Vec<usize>,
) {
    // Numbers on the wrong side of the bar, or equal to it (a later index), lose; NaN does
    // not lose this test.
    let loses = |v: T, bar: T| if largest { v <= bar } else { v >= bar };
    // `i` into `best` after those that come before it: a walk from the end, where a newcomer
    // that beat the bar usually stays.
    let insert = |best: &mut Vec<usize>, i: usize| {
        let mut at = best.len();
        while at > 0 && before(&i, &best[at - 1]) == Ordering::Less {
            at -= 1;
        }
        best.insert(at, i);
    };
    best.clear();
    for i in 0..k {
        insert(best, i);
    }
    for (c, chunk) in lane[k..].chunks(FEW_BEST_CHUNK).enumerate() {
        // A chunk where every value loses to the bar (a comparison of the whole chunk, no
        // branch per value) changes nothing.
        let bar = lane[best[k - 1]];
        if chunk.iter().fold(true, |all, &v| all & loses(v, bar)) {
            continue;
        }
        let (mut last, mut bar) = (best[k - 1], bar);
        for (j, &v) in chunk.iter().enumerate() {
            let i = k + c * FEW_BEST_CHUNK + j;
            if loses(v, bar) || before(&i, &last) != Ordering::Less {
                continue;
            }
            best.pop();
            insert(best, i);
            last = best[k - 1];
            bar = lane[last];
        }
    }
}

/// Values `few_best` compares with its bar at a time.
const FEW_BEST_CHUNK: usize = 16;

/// Undoes the swap of dimensions `d` and `last`, in row-major order.
fn swap_back<E: Clone>(mut a: ArrayD<E>, d: usize, last: usize) -> ArrayD<E> {
    a.swap_axes(d, last);
    a.as_standard_layout().into_owned()
}

/// Orders numbers as usual and NaN above every number (NaNs equal among themselves).
#[inline(always)]
fn nan_greatest<T: Float>(a: T, b: T) -> Ordering {
    if a < b {
        return Ordering::Less;
    }
    if a > b {
        return Ordering::Greater;
    }
    // Equal numbers, or a NaN among them.
    a.is_nan().cmp(&b.is_nan())
}
