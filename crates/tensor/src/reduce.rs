//! Reductions: over one dimension (keeping it or not) and over every element.

use ndarray::{ArrayD, ArrayView1, Axis, IxDyn};

use crate::kernels::{side_by_side, wide, KERNEL_BLOCK};
use crate::parallel::zeroed_blocks;
use crate::shape::broadcast_reduction_axes;
use crate::tensor::checked_alloc;
use crate::tuning::CHEAP_VALUES_PER_WORK;
use crate::{normalize_dim, Error, Float, IndexTensor, Result, Shape, Tensor};

/// For each of `outer` blocks of `size` rows of `inner` values (row-major), `step` folded over
/// its rows from `init`: `out[o][i] = step(step(init, x[o][0][i]), x[o][1][i])...`, in that
/// order, the loops compiled for the CPU's vector width.
fn fold_rows<T: Float>(values: &[T], [outer, size, inner]: [usize; 3], init: T, step: impl Fn(T, T) -> T) -> Vec<T> {
    let mut out = vec![init; outer * inner];
    if inner == 0 || size == 0 {
        return out; // folds of nothing
    }
    wide(
        #[inline(always)]
        || {
            for (acc, block) in out.chunks_exact_mut(inner).zip(values.chunks_exact(size * inner)) {
                for row in block.chunks_exact(inner) {
                    acc.iter_mut().zip(row).for_each(|(a, &v)| *a = step(*a, v));
                }
            }
        },
    );
    out
}

/// `f` of each lane of `c` contiguous values (`values` row-major, `c` > 0), the lanes in
/// blocks shared between threads when there are many values; each lane's result is the one
/// `f` gives it alone.
fn per_lane<T: Float>(values: &[T], c: usize, f: impl Fn(&[T]) -> T + Sync + Send) -> Vec<T> {
    let lanes_per_block = (KERNEL_BLOCK / c).max(1);
    let work = lanes_per_block * c / CHEAP_VALUES_PER_WORK;
    zeroed_blocks(values.len() / c, lanes_per_block, work, |i, out| {
        let lanes = values[i * lanes_per_block * c..].chunks_exact(c);
        for (o, lane) in out.iter_mut().zip(lanes) {
            *o = f(lane);
        }
    })
}

/// Running sums of [`sum_values`]: four 512-bit registers of `f32`.
const SUM_LANES: usize = 64;

/// The sum of `values`: [`sum_of`] of the values themselves.
fn sum_values<T: Float>(values: &[T]) -> T {
    sum_of(values, |v| v)
}

/// The sum of `f(v)` over `values`: each block of [`KERNEL_BLOCK`] values (blocks shared
/// between threads when there are many) summed in [`SUM_LANES`] running sums, which are then
/// added pairwise, and the blocks' sums added in order. The same on any number of threads,
/// and more accurate than one running sum: each running sum adds at most
/// `KERNEL_BLOCK / SUM_LANES` values.
pub(crate) fn sum_of<T: Float>(values: &[T], f: impl Fn(T) -> T + Sync + Send) -> T {
    let blocks = values.len().div_ceil(KERNEL_BLOCK);
    let sums = zeroed_blocks(blocks, 1, KERNEL_BLOCK / CHEAP_VALUES_PER_WORK, |i, out| {
        let block = &values[i * KERNEL_BLOCK..values.len().min((i + 1) * KERNEL_BLOCK)];
        out[0] = wide(
            #[inline(always)]
            || {
                let mut acc = [T::zero(); SUM_LANES];
                let (chunks, rest) = block.as_chunks::<SUM_LANES>();
                for chunk in chunks {
                    acc.iter_mut().zip(chunk).for_each(|(a, &v)| *a += f(v));
                }
                let mut n = SUM_LANES;
                while n > 1 {
                    n /= 2;
                    let (low, high) = acc.split_at_mut(n);
                    low.iter_mut().zip(&high[..n]).for_each(|(a, &b)| *a += b);
                }
                rest.iter().fold(acc[0], |s, &v| s + f(v))
            },
        );
    });
    sums.iter().fold(T::zero(), |s, &v| s + v)
}

/// `[outer, size, inner]`: the dimensions before `d` counted together, `d`'s size, and the
/// dimensions after it counted together.
pub(crate) fn split_at_dim(shape: &[usize], d: usize) -> [usize; 3] {
    [shape[..d].iter().product(), shape[d], shape[d + 1..].iter().product()]
}

/// `shape` without `d`, or with `d` of size 1 when `keepdim`.
fn reduced_shape(shape: &[usize], d: usize, keepdim: bool) -> Vec<usize> {
    let mut dims = shape.to_vec();
    match keepdim {
        true => dims[d] = 1,
        false => _ = dims.remove(d),
    }
    dims
}

/// The largest or the smallest value, NaN if any is NaN: PyTorch's `amax` and `amin`.
#[derive(Clone, Copy)]
pub(crate) enum Extreme {
    Max,
    Min,
}

impl Extreme {
    /// The value no other is beyond: `-inf` for the maximum.
    fn start<T: Float>(self) -> T {
        match self {
            Extreme::Max => T::neg_infinity(),
            Extreme::Min => T::infinity(),
        }
    }

    /// `v` if it is beyond `m` or NaN, else `m`: a select the compiler vectorizes (a NaN in
    /// `m` stays, since nothing compares beyond it). The first of equal values stays.
    #[inline(always)]
    fn step<T: Float>(self, m: T, v: T) -> T {
        if self.beyond(v, m) || v.is_nan() {
            v
        } else {
            m
        }
    }

    /// The extreme of `values` in order, one at a time (the start value if there are none).
    fn fold<'a, T: Float>(self, values: impl IntoIterator<Item = &'a T>) -> T {
        values.into_iter().fold(self.start(), |m, &v| self.step(m, v))
    }

    /// The extreme of any tensor's values: in 16 accumulators side by side when they lie in
    /// one slice (whatever the order), one at a time otherwise.
    pub(crate) fn of_tensor<T: Float>(self, t: &Tensor<T>) -> T {
        match t.data.as_slice_memory_order() {
            Some(values) => self.of(values),
            None => self.fold(t.data.iter()),
        }
    }

    /// The extreme of `values` (the start value if there are none), in 16 accumulators side by
    /// side, combined in order.
    fn of<T: Float>(self, values: &[T]) -> T {
        let (lanes, rest) = wide(
            #[inline(always)]
            || side_by_side::<T, T, 16>(values, self.start(), |m, v| self.step(m, v)),
        );
        self.fold(lanes.iter().chain(rest))
    }

    /// Whether `v` is beyond `m` (greater for the maximum): false if either is NaN.
    #[inline(always)]
    fn beyond<T: Float>(self, v: T, m: T) -> bool {
        match self {
            Extreme::Max => v > m,
            Extreme::Min => v < m,
        }
    }

    /// Whether the value `v` at `i` comes before the best so far, `m` at `j`, as PyTorch's
    /// `argmax` ranks them: a NaN before any number, then the extreme, then the lower index.
    #[inline(always)]
    fn ranks_before<T: Float>(self, (v, i): (T, usize), (m, j): (T, usize)) -> bool {
        match (v.is_nan(), m.is_nan()) {
            (true, true) => i < j,
            (true, false) => true,
            (false, true) => false,
            (false, false) => self.beyond(v, m) || (v == m && i < j),
        }
    }

    /// The index of the first extreme of `values` (of the first NaN, if any; `values` not
    /// empty): 16 candidates side by side, each the first extreme of its lane, then the one
    /// that ranks first, then the values after the last whole group of 16.
    pub(crate) fn index_of<T: Float>(self, values: &[T]) -> usize {
        const SIDE: usize = 16;
        let (groups, rest) = values.as_chunks::<SIDE>();
        let mut best = (values[0], 0);
        if let Some((first, groups)) = groups.split_first() {
            let (mut lanes, mut at) = (*first, std::array::from_fn::<u32, SIDE, _>(|j| j as u32));
            wide(
                #[inline(always)]
                || {
                    for (g, group) in groups.iter().enumerate() {
                        let base = ((g + 1) * SIDE) as u32;
                        for (j, &v) in group.iter().enumerate() {
                            let take = self.beyond(v, lanes[j]) || (v.is_nan() && !lanes[j].is_nan());
                            lanes[j] = if take { v } else { lanes[j] };
                            at[j] = if take { base + j as u32 } else { at[j] };
                        }
                    }
                },
            );
            best = (lanes[0], at[0] as usize);
            for j in 1..SIDE {
                let candidate = (lanes[j], at[j] as usize);
                if self.ranks_before(candidate, best) {
                    best = candidate;
                }
            }
        }
        let start = values.len() - rest.len();
        for (k, &v) in rest.iter().enumerate() {
            if self.ranks_before((v, start + k), best) {
                best = (v, start + k);
            }
        }
        best.1
    }

    /// The index along `d` of the first extreme of each lane, as `torch.argmax`/`argmin` (a
    /// NaN counts as the extreme): by [`Extreme::index_of`] along the last dimension of a
    /// row-major tensor, lane by lane otherwise (`d` of nonzero size, checked by the caller).
    pub(crate) fn index_along<T: Float>(self, t: &Tensor<T>, d: usize, keepdim: bool) -> IndexTensor {
        let out: Vec<i64> = match t.data.as_slice() {
            Some(values) if d + 1 == t.ndim() && !values.is_empty() => values
                .chunks_exact(t.shape()[d])
                .map(|lane| self.index_of(lane) as i64)
                .collect(),
            _ => {
                let lanes = t.data.map_axis(Axis(d), |lane| {
                    let mut best = (lane[0], 0);
                    for (i, &v) in lane.iter().enumerate().skip(1) {
                        if self.ranks_before((v, i), best) {
                            best = (v, i);
                        }
                    }
                    best.1 as i64
                });
                lanes.into_iter().collect()
            }
        };
        IndexTensor::from_vec(out, &reduced_shape(t.shape(), d, keepdim)).expect("one index per lane")
    }

    /// The extreme along `d` of a tensor (any layout; `d` of nonzero size, checked by the
    /// caller): along the last dimension of a row-major tensor each lane by [`Extreme::of`],
    /// along another whole rows at a time, else lane by lane.
    pub(crate) fn along<T: Float>(self, t: &Tensor<T>, d: usize, keepdim: bool) -> Tensor<T> {
        let shape = t.shape();
        let out = match t.data.as_slice() {
            Some(values) if !values.is_empty() => {
                let [outer, size, inner] = split_at_dim(shape, d);
                if inner == 1 {
                    per_lane(values, size, |lane| self.of(lane))
                } else {
                    fold_rows(values, [outer, size, inner], self.start(), |m, v| self.step(m, v))
                }
            }
            _ => t.data.map_axis(Axis(d), |lane| self.fold(lane)).into_iter().collect(),
        };
        Tensor::from_standard(out, &reduced_shape(shape, d, keepdim))
    }
}

impl<T: Float> Tensor<T> {
    fn reduce_dim(
        &self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        f: impl Fn(ndarray::ArrayView1<T>) -> T,
    ) -> Result<Self> {
        let d = normalize_dim(op, dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        // An empty dimension reduced away can leave a result larger than the input.
        if self.numel() == 0 {
            let mut shape = self.shape().to_vec();
            shape.remove(d);
            checked_alloc::<T>(op, &shape)?;
        }
        let out = self.data.map_axis(Axis(d), f);
        Ok(Tensor::from_array(if keepdim { out.insert_axis(Axis(d)) } else { out }))
    }

    /// The sum of every element, as a 0-d tensor.
    pub fn sum(&self) -> Self {
        Tensor::scalar(self.sum_of_all())
    }

    /// [`sum_values`] of the values when they are contiguous, else ndarray's sum.
    fn sum_of_all(&self) -> T {
        match self.data.as_slice_memory_order() {
            Some(values) => sum_values(values),
            None => self.data.sum(),
        }
    }

    /// The sum along `dim`; `keepdim` keeps it with size 1.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Result<Self> {
        let d = normalize_dim("sum", dim, self.ndim().max(1))?;
        match self.data.as_slice() {
            // Row-major, not the last dimension: sums of whole rows (each lane would be a
            // strided walk of its own), in the same order as a lane's.
            Some(values) if d + 1 < self.ndim() && !values.is_empty() => {
                let shape = self.shape();
                let out = fold_rows(values, split_at_dim(shape, d), T::zero(), |s, v| s + v);
                Ok(Tensor::from_standard(out, &reduced_shape(shape, d, keepdim)))
            }
            // Row-major, the last dimension: each lane summed as `reduce_dim` sums it, the
            // lanes in blocks shared between threads when there are many values.
            Some(values) if self.ndim() > 0 && self.shape()[d] > 0 && !values.is_empty() => {
                let out = per_lane(values, self.shape()[d], |lane| ArrayView1::from(lane).sum());
                Ok(Tensor::from_standard(out, &reduced_shape(self.shape(), d, keepdim)))
            }
            _ => self.reduce_dim("sum", dim, keepdim, |lane| lane.sum()),
        }
    }

    /// The mean of every element (NaN for an empty tensor, as PyTorch).
    pub fn mean(&self) -> Self {
        Tensor::scalar(self.sum_of_all() / T::of(self.numel() as f64))
    }

    /// The mean along `dim`.
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Result<Self> {
        let d = normalize_dim("mean", dim, self.ndim().max(1))?;
        if self.data.is_standard_layout() && self.ndim() > 0 && self.numel() > 0 {
            // `sum_dim`'s sums of rows, each divided: a lane's sum over its length, as below.
            let mut sums = self.sum_dim(dim, keepdim)?;
            let n = T::of(self.shape()[d] as f64);
            sums.map_inplace(|v| v / n);
            return Ok(sums);
        }
        self.reduce_dim("mean", dim, keepdim, |lane| lane.sum() / T::of(lane.len() as f64))
    }

    /// The largest element (NaN if any is NaN), as `torch.max(t)`.
    pub fn max(&self) -> Result<Self> {
        if self.numel() == 0 {
            return Err(Error::invalid("max", "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."));
        }
        Ok(Tensor::scalar(Extreme::Max.of_tensor(self)))
    }

    /// The largest element along `dim` (NaN propagates), as `torch.amax(t, dim)`.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<Self> {
        self.check_nonempty_dim("max", dim)?;
        let d = normalize_dim("max", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        Ok(Extreme::Max.along(self, d, keepdim))
    }

    /// The index of the largest element along `dim` (the first one on ties; a NaN counts as largest).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<IndexTensor> {
        self.check_nonempty_dim("argmax", dim)?;
        let d = normalize_dim("argmax", dim, self.ndim().max(1))?;
        if self.ndim() == 0 {
            return Ok(IndexTensor::scalar(0));
        }
        Ok(Extreme::Max.index_along(self, d, keepdim))
    }

    /// `log(sum(exp(x)))` along `dim`, computed as `max + log(sum(exp(x - max)))` so large
    /// inputs do not overflow; a row of all `-inf` gives `-inf` as in `torch.logsumexp`.
    ///
    /// Along the last dimension of a row-major tensor each row goes through the row kernels of
    /// the cross-entropy (`max + ln Σ exp(x - max)`, the sum in `f64`), the rows in blocks
    /// shared between threads; other dimensions lane by lane.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Self> {
        let d = normalize_dim("logsumexp", dim, self.ndim().max(1))?;
        let c = self.shape().get(d).copied().unwrap_or(0);
        if let Some(values) = self
            .data
            .as_slice()
            .filter(|v| d + 1 == self.ndim() && c > 0 && !v.is_empty())
        {
            let out = per_lane(values, c, |row| match T::max_log_sum_exp(row) {
                (max, log_sum) if max.is_finite() && log_sum.is_finite() => max + log_sum,
                // NaN, +inf, or only -inf: the formula below gives what PyTorch gives.
                _ => lane_logsumexp(row.iter().copied()),
            });
            return Ok(Tensor::from_standard(out, &reduced_shape(self.shape(), d, keepdim)));
        }
        self.reduce_dim("logsumexp", dim, keepdim, |lane| lane_logsumexp(lane.iter().copied()))
    }

    /// Sums a gradient of a broadcast shape back down to `shape`: the reduction every
    /// broadcasting op's backward needs.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let ok = shape.len() <= self.ndim()
            && shape
                .iter()
                .rev()
                .zip(self.shape().iter().rev())
                .all(|(&s, &g)| s == g || s == 1);
        if !ok {
            return Err(Error::ShapeMismatch {
                op: "sum_to_shape",
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(shape.to_vec()),
                reason: "the target shape does not broadcast to the source shape".into(),
            });
        }
        let axes = broadcast_reduction_axes(self.shape(), shape);
        // The common case (a bias gradient): only leading axes go, and the values are in
        // row-major order, so the result is the sum of consecutive rows, in the same order
        // as `sum_axis` adds them.
        let leading = axes.iter().enumerate().all(|(i, &ax)| i == ax);
        if let (true, Some(values)) = (leading, self.data.as_slice()) {
            let inner: usize = self.shape()[axes.len()..].iter().product();
            let out = fold_rows(values, [1, values.len() / inner.max(1), inner], T::zero(), |s, v| s + v);
            return Ok(Tensor::from_array(
                ArrayD::from_shape_vec(IxDyn(shape), out).expect("same element count"),
            ));
        }
        if self.data.is_standard_layout() {
            // Each axis summed away by `sum_dim`, the last first: the sums ndarray's `sum_axis`
            // makes below, bit for bit (lane sums along the last axis, rows added in order
            // along another), with the big first step shared between threads.
            let mut sums = self.clone();
            for &ax in axes.iter().rev() {
                sums = sums.sum_dim(ax as isize, false)?;
            }
            return sums.reshape(shape);
        }
        let mut axes = axes.into_iter().rev();
        let Some(first) = axes.next() else {
            return self.reshape(shape);
        };
        let mut data: ArrayD<T> = self.data.sum_axis(Axis(first));
        for ax in axes {
            data = data.sum_axis(Axis(ax));
        }
        Ok(Tensor::from_array(
            data.into_shape_with_order(IxDyn(shape)).expect("same element count"),
        ))
    }

    fn check_nonempty_dim(&self, op: &'static str, dim: isize) -> Result<()> {
        let d = normalize_dim(op, dim, self.ndim().max(1))?;
        if self.ndim() > 0 && self.shape()[d] == 0 {
            return Err(Error::invalid(
                op,
                format!(
                    "Expected reduction dim {dim} to have non-zero size (input shape {})",
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        Ok(())
    }
}

/// `m + ln Σ exp(x - m)` of a lane, `m` its max (or 0 if that is infinite: a lane of only
/// `-inf` gives `-inf`, one holding `+inf` gives `+inf`, as `torch.logsumexp`).
fn lane_logsumexp<T: Float>(lane: impl Iterator<Item = T> + Clone) -> T {
    let m = lane.clone().fold(T::neg_infinity(), nan_max);
    let m0 = if m.is_infinite() { T::zero() } else { m };
    m0 + lane.map(|x| (x - m0).exp()).sum::<T>().ln()
}

/// `max` that propagates NaN, as PyTorch's reductions do.
pub(crate) fn nan_max<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if b > a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_dim_reductions_shared_between_threads_are_each_lanes() {
        // 300 lanes of 1000 (blocks shared between threads, the last one cut short) and
        // 70 000 lanes of 3; each lane's sum as `map_axis` gives it, bit for bit.
        for shape in [[300, 1000], [70_000, 3]] {
            let x = Tensor::<f32>::randn(&shape, 11);
            let want = x.data.map_axis(Axis(1), |lane| lane.sum());
            let got = x.sum_dim(-1, false).unwrap();
            assert_eq!(got.shape(), want.shape());
            assert!(got
                .to_vec()
                .iter()
                .zip(want.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            for (extreme, got) in [
                (Extreme::Max, x.max_dim(1, false)),
                (Extreme::Min, x.min_dim(-1, false)),
            ] {
                let want = x.data.map_axis(Axis(1), |lane| extreme.fold(lane));
                assert_eq!(got.unwrap().to_vec(), want.iter().copied().collect::<Vec<f32>>());
            }
            let want: Vec<f32> = x
                .to_vec()
                .chunks(shape[1])
                .map(|row| {
                    let (max, log_sum) = crate::kernels::RowKernels::max_log_sum_exp(row);
                    max + log_sum
                })
                .collect();
            assert_eq!(x.logsumexp(-1, false).unwrap().to_vec(), want, "logsumexp");
            let want = x.data.map_axis(Axis(1), |lane| lane.sum());
            let n = shape[1] as f32;
            let mean = x.mean_dim(1, true).unwrap();
            assert_eq!(mean.shape(), &[shape[0], 1]);
            assert!(mean
                .to_vec()
                .iter()
                .zip(want.iter())
                .all(|(a, b)| a.to_bits() == (b / n).to_bits()));
        }
    }

    #[test]
    fn sum_of_all_adds_running_sums_per_block_the_same_on_any_number_of_threads() {
        // Three whole blocks and a short one, of values whose sum in another order has other bits.
        let n = 3 * KERNEL_BLOCK + 1000 + 37;
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 10f32.powi((i % 7) as i32 - 3))
            .collect();
        // The order written out: a block's values into SUM_LANES running sums, those added
        // pairwise, then the block's last values; the blocks' sums in order.
        let want = values
            .chunks(KERNEL_BLOCK)
            .map(|block| {
                let whole = block.len() / SUM_LANES * SUM_LANES;
                let mut acc = [0f32; SUM_LANES];
                block[..whole]
                    .iter()
                    .enumerate()
                    .for_each(|(i, &v)| acc[i % SUM_LANES] += v);
                let mut lanes = SUM_LANES;
                while lanes > 1 {
                    lanes /= 2;
                    (0..lanes).for_each(|i| acc[i] += acc[i + lanes]);
                }
                block[whole..].iter().fold(acc[0], |s, &v| s + v)
            })
            .fold(0f32, |s, v| s + v);
        let x = Tensor::from_vec(values.clone(), &[n]).unwrap();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (sum, mean) = pool.install(|| (x.sum().item().unwrap(), x.mean().item().unwrap()));
            assert_eq!(sum.to_bits(), want.to_bits(), "{threads} threads");
            assert_eq!(mean.to_bits(), (want / n as f32).to_bits(), "{threads} threads");
        }
        let exact: f64 = values.iter().map(|&v| v as f64).sum();
        let scale: f64 = values.iter().map(|&v| (v as f64).abs()).sum();
        assert!((want as f64 - exact).abs() < 1e-6 * scale, "{want} against {exact}");
        // Values transposed in place are summed in the order they lie in memory; a strided
        // view by ndarray; NaN, infinities and no values as PyTorch gives them.
        let m = ndarray::Array2::from_shape_vec((20, 30), values[..600].to_vec()).unwrap();
        let lying = Tensor::from_vec(values[..600].to_vec(), &[600])
            .unwrap()
            .sum()
            .item()
            .unwrap();
        let t = Tensor::from_array(m.clone().reversed_axes());
        assert!(!t.data.is_standard_layout());
        assert_eq!(t.sum().item().unwrap().to_bits(), lying.to_bits());
        let strided = Tensor {
            data: Tensor::from_array(m).data.slice_move(ndarray::s![.., ..7]).into_dyn(),
        };
        assert!(strided.data.as_slice_memory_order().is_none());
        assert_eq!(strided.sum().item().unwrap(), strided.data.sum());
        let mut special = vec![1f32; 200];
        special[150] = f32::INFINITY;
        assert_eq!(
            Tensor::from_vec(special.clone(), &[200]).unwrap().sum().item().unwrap(),
            f32::INFINITY
        );
        special[199] = f32::NEG_INFINITY;
        assert!(Tensor::from_vec(special.clone(), &[200])
            .unwrap()
            .sum()
            .item()
            .unwrap()
            .is_nan());
        special[199] = f32::NAN;
        assert!(Tensor::from_vec(special, &[200])
            .unwrap()
            .sum()
            .item()
            .unwrap()
            .is_nan());
        assert_eq!(Tensor::<f64>::zeros(&[0, 3]).sum().item().unwrap(), 0.0);
        assert!(Tensor::<f64>::zeros(&[0]).mean().item().unwrap().is_nan());
    }

    #[test]
    fn sum_to_shape_gives_ndarrays_sums_bit_for_bit() {
        let x = Tensor::<f32>::randn(&[8, 6, 5, 33], 5);
        // Shapes whose reduced axes are not only the leading ones (those take the path above).
        for shape in [
            &[1, 6, 1, 1][..],
            &[6, 1, 33],
            &[8, 1, 5, 1],
            &[1, 6, 5, 1],
            &[5, 1],
            &[8, 6, 1, 1],
        ] {
            let mut want = x.data.to_owned();
            for ax in broadcast_reduction_axes(x.shape(), shape).into_iter().rev() {
                want = want.sum_axis(Axis(ax));
            }
            let got = x.sum_to_shape(shape).unwrap();
            assert_eq!(got.shape(), shape);
            let same = got
                .to_vec()
                .iter()
                .zip(want.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{shape:?}");
        }
    }

    #[test]
    fn sum_dim_and_mean_dim_add_each_lane_in_order_along_any_dimension() {
        // Values of very different sizes, so that another order of the sums gives other bits.
        let values: Vec<f32> = (0..120)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 10f32.powi(i % 7 - 3))
            .collect();
        let x = Tensor::from_vec(values, &[2, 3, 4, 5]).unwrap();
        for t in [x.clone(), x.transpose(1, 3).unwrap(), x.permute(&[3, 0, 2, 1]).unwrap()] {
            for d in 0..4 {
                for keepdim in [false, true] {
                    let got = t.sum_dim(d as isize, keepdim).unwrap();
                    let want = t.data.map_axis(Axis(d), |lane| lane.iter().fold(0.0f32, |a, &v| a + v));
                    let want = if keepdim { want.insert_axis(Axis(d)) } else { want };
                    assert_eq!(got.shape(), want.shape(), "dim {d}");
                    let same = got
                        .to_vec()
                        .iter()
                        .zip(want.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "dim {d}, keepdim {keepdim}: {:?} against {want:?}", got.to_vec());
                    let n = t.shape()[d] as f32;
                    let mean = t.mean_dim(d as isize, keepdim).unwrap().to_vec();
                    assert!(mean
                        .iter()
                        .zip(want.iter())
                        .all(|(a, b)| a.to_bits() == (b / n).to_bits()));
                }
            }
        }
        let empty = Tensor::<f32>::zeros(&[2, 0, 3]);
        assert_eq!(empty.sum_dim(1, false).unwrap().to_vec(), [0.0; 6]);
        assert_eq!(empty.sum_dim(0, true).unwrap().shape(), [1, 0, 3]);
    }
}
