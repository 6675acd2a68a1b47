//! Ops that move or regroup elements: reshape, transpose, permute, squeeze, broadcast, narrow, concat.

use std::mem::MaybeUninit;

use ndarray::{ArcArray, ArrayViewD, Axis, IxDyn, Slice};

use crate::kernels::transpose::transpose_into;
use crate::kernels::{wide, KERNEL_BLOCK};
use crate::parallel::{filled_vec, segments_vec, write_all};
use crate::tensor::{checked_alloc, checked_shape};
use crate::tuning::{CHEAP_VALUES_PER_WORK, ROW_BLOCK_VALUES};
use crate::{normalize_dim, Error, Float, Result, Shape, Tensor};

/// Output lanes of at least this many values are written by [`broadcast_lanes`]; shorter ones
/// value by value from the view, where finding each lane's source would cost more than it.
const BROADCAST_LANE_MIN: usize = 16;

/// Row-major `values` of `from` broadcast to `shape` (a broadcast that was checked), one
/// lane of the last dimension at a time, the lanes in blocks shared between threads
/// (`layout::remap_lanes`): each a copy of its source lane, or one value repeated where the
/// last dimension is broadcast. The gradient of a `sum_dim` or `mean_dim`.
fn broadcast_lanes<T: Float>(values: &[T], from: &[usize], shape: &[usize]) -> Vec<T> {
    // `from` with leading 1s up to `shape`'s dimensions.
    let padded: Vec<usize> = std::iter::repeat_n(1, shape.len() - from.len())
        .chain(from.iter().copied())
        .collect();
    let (outer_in, in_len) = (&padded[..shape.len() - 1], padded[shape.len() - 1]);
    crate::layout::remap_lanes(
        values,
        (outer_in, in_len),
        (&shape[..shape.len() - 1], shape[shape.len() - 1]),
        |d, i| Some(if outer_in[d] == 1 { 0 } else { i }),
        |lane, out| {
            let lane = lane.expect("every output lane has a source lane");
            match lane {
                &[v] => out.fill(MaybeUninit::new(v)),
                lane => write_all(out, lane),
            }
        },
    )
}

/// The elements of `view` in row-major order, copied a lane of its last dimension at a time
/// (a whole slice when the view is contiguous).
pub(crate) fn row_major<T: Float>(view: &ArrayViewD<'_, T>) -> Vec<T> {
    if let Some(s) = view.as_slice() {
        return s.to_vec();
    }
    if let Some(out) = last_two_swapped(view) {
        return out;
    }
    if let Some(out) = permuted_row_major(view) {
        return out;
    }
    let mut out = Vec::with_capacity(view.len());
    for lane in view.lanes(Axis(view.ndim() - 1)) {
        match lane.as_slice() {
            Some(s) => out.extend_from_slice(s),
            // A broadcast lane: one value repeated.
            None if lane.strides()[0] == 0 => out.resize(out.len() + lane.len(), lane[0]),
            // A reversed lane (a flip): a slice read backwards.
            None if lane.strides()[0] == -1 => {
                let mut forward = lane;
                forward.invert_axis(Axis(0));
                out.extend(forward.as_slice().expect("stride 1").iter().rev());
            }
            None => out.extend(lane.iter().copied()),
        }
    }
    out
}

/// [`row_major`] for a view that is a row-major array with its last two dimensions swapped
/// (`x.t()`, `x.transpose(-2, -1)`): each matrix transposed by [`transpose_into`]'s blocks,
/// into memory not cleared first, matrices shared between threads when there are many values.
/// `None` for any other view.
fn last_two_swapped<T: Float>(view: &ArrayViewD<'_, T>) -> Option<Vec<T>> {
    let n = view.ndim();
    if n < 2 {
        return None;
    }
    let mut swapped = view.clone();
    swapped.swap_axes(n - 2, n - 1);
    let memory = swapped.to_slice()?;
    let (r, c) = (view.shape()[n - 2], view.shape()[n - 1]);
    let each = (r * c).max(1);
    // SAFETY: each block is one whole matrix, every value of which `transpose_into` writes.
    Some(unsafe {
        filled_vec(memory.len(), each, each / CHEAP_VALUES_PER_WORK, |m, dst| {
            transpose_into(&memory[m * each..], c, r, dst)
        })
    })
}

/// [`row_major`] for a view whose elements fill one block of memory in some order, with
/// non-negative strides (a permuted or transposed tensor), copied a lane of the last dimension
/// at a time in blocks of lanes shared between threads, into memory not cleared first (a
/// convolution's output moved to `[N, C, H, W]`, attention's heads split and merged). The
/// offsets are counted with plain integers (ndarray's iterators over dynamic dimensions cost
/// more than the copy of a short lane). `None` for any other view.
fn permuted_row_major<T: Float>(view: &ArrayViewD<'_, T>) -> Option<Vec<T>> {
    let memory = view.as_slice_memory_order()?;
    if view.strides().iter().any(|&s| s < 0) || view.is_empty() {
        return None;
    }
    let (shape, strides) = (view.shape(), view.strides());
    let last = shape.len() - 1;
    let (len, step) = (shape[last], strides[last] as usize);
    let lanes_per_block = (ROW_BLOCK_VALUES / len).max(1);
    let block_len = lanes_per_block * len;
    // SAFETY: a block is whole lanes (its length a multiple of `len`, as the view's is), and
    // each lane of it is written in full below.
    let out = unsafe {
        filled_vec(view.len(), block_len, block_len, |block, out| {
            // The block's first lane: its index over the outer dimensions and its offset.
            let mut index = vec![0usize; last];
            let (mut lane, mut offset) = (block * lanes_per_block, 0usize);
            for d in (0..last).rev() {
                index[d] = lane % shape[d];
                lane /= shape[d];
                offset += index[d] * strides[d] as usize;
            }
            for out in out.chunks_exact_mut(len) {
                if step == 1 {
                    for (o, &v) in out.iter_mut().zip(&memory[offset..offset + len]) {
                        o.write(v);
                    }
                } else {
                    out.iter_mut().enumerate().for_each(|(i, o)| {
                        o.write(memory[offset + i * step]);
                    });
                }
                // The next lane: the odometer over the outer dimensions, last one fastest.
                for d in (0..last).rev() {
                    index[d] += 1;
                    offset += strides[d] as usize;
                    if index[d] < shape[d] {
                        break;
                    }
                    offset -= index[d] * strides[d] as usize;
                    index[d] = 0;
                }
            }
        })
    };
    Some(out)
}

/// That a slice of shape `slice` fits in `shape` at `start..` along `dim` (the same size
/// along every other dimension): the dimension, normalized, and the slice's length along it.
fn slice_fits(op: &'static str, shape: &[usize], slice: &[usize], dim: isize, start: usize) -> Result<(usize, usize)> {
    let d = normalize_dim(op, dim, shape.len())?;
    let length = slice.get(d).copied().unwrap_or(0);
    let fits = slice.len() == shape.len()
        && (0..shape.len()).all(|i| i == d || slice[i] == shape[i])
        && start.checked_add(length).is_some_and(|end| end <= shape[d]);
    if !fits {
        return Err(Error::ShapeMismatch {
            op,
            lhs: Shape(shape.to_vec()),
            rhs: Shape(slice.to_vec()),
            reason: format!("a tensor of the second shape must fit in the first at {start}.. along dim {dim}"),
        });
    }
    Ok((d, length))
}

impl<T: Float> Tensor<T> {
    /// The same elements in a new shape with the same element count (row-major order): the
    /// buffer shared when the elements are in row-major order, else copied into it.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        self.check_reshape(shape)?;
        if self.data.is_standard_layout() {
            // Row-major: the same buffer, shared, in the new shape (a view, as in PyTorch).
            let data = self.data.clone().into_shape_with_order(IxDyn(shape));
            return Ok(Tensor {
                data: data.expect("a standard-layout array takes any shape of its element count"),
            });
        }
        Tensor::from_vec(row_major(&self.data.view()), shape)
    }

    /// [`reshape`](Tensor::reshape) of this tensor itself: without copying when its elements
    /// are in row-major order (how a gradient rule reshapes a gradient it owns), a copy
    /// otherwise. On an error the tensor is unchanged.
    pub fn reshape_in_place(&mut self, shape: &[usize]) -> Result<()> {
        if !self.data.is_standard_layout() {
            *self = self.reshape(shape)?;
            return Ok(());
        }
        self.check_reshape(shape)?;
        let data = std::mem::replace(&mut self.data, ArcArray::from_elem(IxDyn(&[0]), T::zero()));
        self.data = data
            .into_shape_with_order(IxDyn(shape))
            .expect("a standard-layout array takes any shape of its element count");
        Ok(())
    }

    /// That `shape` is a valid shape with this tensor's element count.
    fn check_reshape(&self, shape: &[usize]) -> Result<()> {
        let numel = checked_shape("reshape", shape)?;
        if numel != self.numel() {
            return Err(Error::InvalidShape {
                op: "reshape",
                to: Shape(shape.to_vec()),
                numel: self.numel(),
            });
        }
        Ok(())
    }

    /// Swaps two dimensions.
    pub fn transpose(&self, dim0: isize, dim1: isize) -> Result<Self> {
        let a = normalize_dim("transpose", dim0, self.ndim())?;
        let b = normalize_dim("transpose", dim1, self.ndim())?;
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a 2-D tensor (`t.T`); 0-D and 1-D tensors are returned as they are.
    pub fn t(&self) -> Result<Self> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            n => Err(Error::invalid(
                "t",
                format!("t() expects a tensor with <= 2 dimensions, but self is {n}D"),
            )),
        }
    }

    /// Reorders the dimensions: output dim `i` is input dim `dims[i]`.
    pub fn permute(&self, dims: &[usize]) -> Result<Self> {
        let mut seen = vec![false; self.ndim()];
        let valid = dims.len() == self.ndim()
            && dims
                .iter()
                .all(|&d| d < seen.len() && !std::mem::replace(&mut seen[d], true));
        if !valid {
            return Err(Error::invalid(
                "permute",
                format!(
                    "dims {dims:?} are not a permutation of the {} dimensions of shape {}",
                    self.ndim(),
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        let view = self.data.view().permuted_axes(IxDyn(dims));
        Ok(Tensor::from_standard(row_major(&view), view.shape()))
    }

    /// Removes `dim` if its size is 1 (otherwise returns the tensor unchanged, as PyTorch).
    pub fn squeeze(&self, dim: isize) -> Result<Self> {
        if self.ndim() == 0 {
            normalize_dim("squeeze", dim, 1)?;
            return Ok(self.clone());
        }
        let d = normalize_dim("squeeze", dim, self.ndim())?;
        if self.shape()[d] != 1 {
            return Ok(self.clone());
        }
        Ok(Tensor {
            data: self.data.clone().index_axis_move(Axis(d), 0),
        })
    }

    /// Inserts a dimension of size 1 at `dim` (in `[-ndim-1, ndim]`).
    pub fn unsqueeze(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("unsqueeze", dim, self.ndim() + 1)?;
        Ok(Tensor {
            data: self.data.clone().insert_axis(Axis(d)),
        })
    }

    /// Flattens dimensions `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        if self.ndim() == 0 {
            // As PyTorch: a 0-d tensor flattens to [1] for dims in [-1, 0], else an error.
            normalize_dim("flatten", start, 1)?;
            normalize_dim("flatten", end, 1)?;
            return self.reshape(&[1]);
        }
        let s = normalize_dim("flatten", start, self.ndim())?;
        let e = normalize_dim("flatten", end, self.ndim())?;
        if s > e {
            return Err(Error::invalid(
                "flatten",
                format!("start_dim {start} cannot come after end_dim {end}"),
            ));
        }
        let sh = self.shape();
        let mut shape = sh[..s].to_vec();
        shape.push(sh[s..=e].iter().product());
        shape.extend_from_slice(&sh[e + 1..]);
        self.reshape(&shape)
    }

    /// Repeats the tensor along broadcast dimensions to `shape` (NumPy rules).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        let view = self.data.broadcast(IxDyn(shape)).ok_or_else(|| Error::Broadcast {
            op: "broadcast_to",
            lhs: Shape(self.shape().to_vec()),
            rhs: Shape(shape.to_vec()),
        })?;
        checked_alloc::<T>("broadcast_to", shape)?;
        // One value (the gradient of a `sum` or `mean`): a fill. Otherwise the view's lanes in
        // row-major order (ndarray's `to_owned` of a broadcast view went element by element,
        // 4.4 ns each).
        let values = match self.data.as_slice() {
            Some(&[v]) => crate::parallel::full_vec(view.len(), v),
            Some(values) if shape.last().is_some_and(|&n| n >= BROADCAST_LANE_MIN) => {
                broadcast_lanes(values, self.shape(), shape)
            }
            _ => row_major(&view),
        };
        Tensor::from_vec(values, shape)
    }

    /// `length` consecutive elements along `dim` starting at `start`, as `torch.narrow`.
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Result<Self> {
        let d = normalize_dim("narrow", dim, self.ndim())?;
        let size = self.shape()[d];
        if start.checked_add(length).is_none_or(|end| end > size) {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "start ({start}) + length ({length}) exceeds dimension size ({size}) of dim {dim} of shape {}",
                    Shape(self.shape().to_vec())
                ),
            ));
        }
        let mut out_shape = self.shape().to_vec();
        out_shape[d] = length;
        if let Some(src) = self.data.as_slice() {
            // Row-major: seen as [outer, size, inner], one run of `length·inner` per outer.
            let inner: usize = self.shape()[d + 1..].iter().product();
            let (outer, run) = (
                out_shape.iter().product::<usize>() / (length * inner).max(1),
                length * inner,
            );
            // SAFETY: each segment is written whole, from the `run` values of its outer index.
            let out = unsafe {
                segments_vec(outer, run, |o, segment| {
                    write_all(segment, &src[(o * size + start) * inner..][..run])
                })
            };
            return Ok(Tensor::from_standard(out, &out_shape));
        }
        let view = self.data.slice_axis(Axis(d), Slice::from(start..start + length));
        Ok(Tensor::from_standard(row_major(&view), view.shape()))
    }

    /// The gradient of [`narrow`](Tensor::narrow) (PyTorch's `slice_backward`): zeros of the
    /// input's `shape` with this tensor written at `start..` along `dim`.
    pub fn slice_backward(&self, shape: &[usize], dim: isize, start: usize) -> Result<Self> {
        let (d, length) = slice_fits("slice_backward", shape, self.shape(), dim, start)?;
        let numel = checked_shape("slice_backward", shape)?;
        let inner: usize = shape[d + 1..].iter().product();
        let size = shape[d];
        let g = self.row_major_values();
        // Seen as [outer, size, inner]: per outer index, zeros, the run of `length·inner`
        // values, zeros; each element written once.
        let outer = numel.checked_div(inner * size).unwrap_or(0);
        let (before, run) = (start * inner, length * inner);
        // SAFETY: each segment is written whole: zeros, the run, zeros.
        let out = unsafe {
            segments_vec(outer, size * inner, |o, segment| {
                let (head, rest) = segment.split_at_mut(before);
                let (middle, tail) = rest.split_at_mut(run);
                head.fill(MaybeUninit::new(T::zero()));
                write_all(middle, &g[o * run..][..run]);
                tail.fill(MaybeUninit::new(T::zero()));
            })
        };
        Ok(Tensor::from_standard(out, shape))
    }

    /// Adds `src` into the slice `start..start + len` along `dim` of this tensor, in place,
    /// `len` being `src`'s size along `dim` (PyTorch's `self.narrow(dim, start, len).add_(src)`):
    /// how a `narrow`'s gradient joins one already waiting for its input, touching only the
    /// slice. The result is that of adding [`slice_backward`](Tensor::slice_backward) of
    /// `src`, but for the sign of a zero outside the slice, which stays as it was.
    pub fn narrow_add_assign(&mut self, dim: isize, start: usize, src: &Self) -> Result<()> {
        let shape = self.shape().to_vec();
        let (d, length) = slice_fits("narrow_add_assign", &shape, src.shape(), dim, start)?;
        let (inner, size) = (shape[d + 1..].iter().product::<usize>(), shape[d]);
        let run = length * inner;
        if run == 0 {
            return Ok(());
        }
        let g = src.row_major_values();
        match crate::elementwise::row_major_mut(&mut self.data) {
            // Seen as [outer, size, inner]: per outer index, one run of `length·inner` values.
            Some(out) => wide(
                #[inline(always)]
                || {
                    for (block, g) in out.chunks_exact_mut(size * inner).zip(g.chunks_exact(run)) {
                        for (o, &v) in block[start * inner..][..run].iter_mut().zip(g) {
                            *o += v;
                        }
                    }
                },
            ),
            None => {
                let mut view = self.data.slice_axis_mut(Axis(d), Slice::from(start..start + length));
                view += &src.data.view();
            }
        }
        Ok(())
    }

    /// Joins tensors along an existing dimension, as `torch.cat`.
    pub fn concat(tensors: &[&Self], dim: isize) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("concat", "expected a non-empty list of tensors"))?;
        let d = normalize_dim("concat", dim, first.ndim())?;
        for t in tensors {
            let fits = t.ndim() == first.ndim() && (0..t.ndim()).all(|i| i == d || t.shape()[i] == first.shape()[i]);
            if !fits {
                return Err(Error::ShapeMismatch {
                    op: "concat",
                    lhs: Shape(first.shape().to_vec()),
                    rhs: Shape(t.shape().to_vec()),
                    reason: format!("sizes must match except in dimension {dim}"),
                });
            }
        }
        // Row-major: for each index before `d`, each tensor's block of its `d..` elements.
        let mut shape = first.shape().to_vec();
        shape[d] = tensors.iter().map(|t| t.shape()[d]).sum();
        checked_alloc::<T>("concat", &shape)?;
        let outer: usize = shape[..d].iter().product();
        let parts: Vec<_> = tensors.iter().map(|t| t.data.as_standard_layout()).collect();
        let blocks: Vec<(&[T], usize)> = parts
            .iter()
            .map(|p| {
                let p = p.as_slice().expect("a standard-layout array is one slice");
                (p, p.len() / outer.max(1))
            })
            .collect();
        // A row of the result (one index before `d`) is the parts' blocks one after the other.
        // The result is written in blocks of `KERNEL_BLOCK` values shared between threads when
        // it is big, each block a few copies of pieces of the parts' blocks.
        let row: usize = blocks.iter().map(|&(_, block)| block).sum();
        // SAFETY: each block of the result is written in full by the loop below.
        let data = unsafe {
            filled_vec(
                outer * row,
                KERNEL_BLOCK,
                KERNEL_BLOCK / CHEAP_VALUES_PER_WORK,
                |b, mut out| {
                    let blocks = blocks.as_slice();
                    // Where the block starts: row o, part k, `within` values into the part's block.
                    let (mut o, mut k, mut within) = (b * KERNEL_BLOCK / row, 0, b * KERNEL_BLOCK % row);
                    while within >= blocks[k].1 {
                        (within, k) = (within - blocks[k].1, k + 1);
                    }
                    wide(
                        #[inline(always)]
                        move || {
                            while !out.is_empty() {
                                let (p, block) = blocks[k];
                                let n = (block - within).min(out.len());
                                let (piece, rest) = out.split_at_mut(n);
                                piece.iter_mut().zip(&p[o * block + within..][..n]).for_each(|(v, &x)| {
                                    v.write(x);
                                });
                                out = rest;
                                within += n;
                                if within == block {
                                    (k, within) = (k + 1, 0);
                                    if k == blocks.len() {
                                        (o, k) = (o + 1, 0);
                                    }
                                }
                            }
                        },
                    )
                },
            )
        };
        Ok(Tensor::from_standard(data, &shape))
    }

    /// Joins tensors of one shape along a new dimension, as `torch.stack`.
    pub fn stack(tensors: &[&Self], dim: isize) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| Error::invalid("stack", "expected a non-empty list of tensors"))?;
        if let Some(t) = tensors.iter().find(|t| t.shape() != first.shape()) {
            return Err(Error::ShapeMismatch {
                op: "stack",
                lhs: Shape(first.shape().to_vec()),
                rhs: Shape(t.shape().to_vec()),
                reason: "stack expects each tensor to be equal size".into(),
            });
        }
        let d = normalize_dim("stack", dim, first.ndim() + 1)?;
        let parts = tensors
            .iter()
            .map(|t| t.unsqueeze(d as isize))
            .collect::<Result<Vec<_>>>()?;
        Self::concat(&parts.iter().collect::<Vec<_>>(), d as isize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_copies_follow_the_definition_for_every_layout_path() {
        // The last two dimensions swapped (whole 16x16 blocks and edges), and other
        // permutations; [8, 50, 90] is copied in blocks of lanes on two threads, blocks that
        // start part-way through the outer dimensions; [2, 40, 40, 41] has enough matrices
        // to share them between threads.
        for shape in [
            vec![40, 33],
            vec![3, 17, 5],
            vec![2, 32, 48],
            vec![4, 3, 5, 2],
            vec![8, 50, 90],
            vec![2, 40, 40, 41],
        ] {
            let x = Tensor::<f32>::randn(&shape, 5);
            let n = shape.len();
            for (d0, d1) in [(n - 2, n - 1), (0, n - 1), (0, 1)] {
                let t = x.transpose(d0 as isize, d1 as isize).unwrap();
                let mut dims = shape.clone();
                dims.swap(d0, d1);
                assert_eq!(t.shape(), dims);
                let values = t.to_vec();
                for (flat, &value) in values.iter().enumerate() {
                    let mut at = vec![0; n];
                    let mut rest = flat;
                    for d in (0..n).rev() {
                        (at[d], rest) = (rest % dims[d], rest / dims[d]);
                    }
                    let mut src = at.clone();
                    src.swap(d0, d1);
                    assert_eq!(value, x.get(&src).unwrap(), "{shape:?} ({d0}, {d1}) at {at:?}");
                }
            }
        }
    }

    #[test]
    fn broadcasts_follow_the_definition_for_one_value_and_for_lanes() {
        // One value (a fill); a column repeated along the last dimension (broadcast lanes);
        // a row repeated along the first (contiguous lanes); and new leading dimensions.
        for (from, to) in [
            (vec![1], vec![3, 4, 5]),
            (vec![], vec![2, 3]),
            (vec![3, 1], vec![3, 4]),
            (vec![1, 4], vec![3, 4]),
            (vec![2, 1, 3], vec![4, 2, 5, 3]),
        ] {
            let x = Tensor::<f32>::randn(&from, 6);
            let b = x.broadcast_to(&to).unwrap();
            assert_eq!(b.shape(), to);
            for (flat, &value) in b.to_vec().iter().enumerate() {
                let mut at = vec![0; to.len()];
                let mut rest = flat;
                for d in (0..to.len()).rev() {
                    (at[d], rest) = (rest % to[d], rest / to[d]);
                }
                // The source index: the trailing dimensions, 0 where the source has size 1.
                let src: Vec<usize> = from
                    .iter()
                    .zip(&at[to.len() - from.len()..])
                    .map(|(&n, &i)| if n == 1 { 0 } else { i })
                    .collect();
                assert_eq!(value, x.get(&src).unwrap(), "{from:?} -> {to:?} at {at:?}");
            }
        }
    }

    #[test]
    fn reshape_in_place_keeps_the_row_major_order_of_any_layout() {
        let x = Tensor::<f32>::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        let mut same = x.clone();
        same.reshape_in_place(&[3, 2]).unwrap();
        assert_eq!(same, x.reshape(&[3, 2]).unwrap());
        // Data in column-major layout (a transposed array) is copied in its row-major order.
        let mut t = Tensor::from_array(x.array().to_owned().reversed_axes());
        assert!(!t.array().is_standard_layout());
        t.reshape_in_place(&[6]).unwrap();
        assert_eq!(t.to_vec(), [0., 3., 1., 4., 2., 5.]);
        assert!(t.array().is_standard_layout());
        // A wrong count is an error and leaves the tensor as it was.
        let mut bad = x.clone();
        assert!(bad.reshape_in_place(&[4]).is_err());
        assert_eq!(bad, x);
    }
}
