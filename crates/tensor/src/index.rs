//! Integer index tensors (class targets, gather indices) and the ops that use them.

use ndarray::{ArrayD, Dimension, IxDyn};

use crate::kernels::KERNEL_BLOCK;
use crate::parallel::{filled_vec, zeroed_blocks};
use crate::tensor::checked_shape;
use crate::tuning::CHEAP_VALUES_PER_WORK;
use crate::{normalize_dim, Error, Float, Result, Shape, Tensor};

/// An n-dimensional tensor of `i64`, PyTorch's `torch.long`: class targets and indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexTensor {
    pub(crate) data: ArrayD<i64>,
}

impl IndexTensor {
    /// An index tensor from a flat row-major `Vec` and a shape.
    pub fn from_vec(data: Vec<i64>, shape: &[usize]) -> Result<Self> {
        let numel = checked_shape("IndexTensor::from_vec", shape)?;
        if numel != data.len() {
            return Err(Error::DataLength {
                op: "IndexTensor::from_vec",
                len: data.len(),
                shape: shape.into(),
                numel,
            });
        }
        Ok(Self {
            data: ArrayD::from_shape_vec(IxDyn(shape), data).expect("length checked"),
        })
    }

    /// A 1-D index tensor.
    pub fn from_slice(data: &[i64]) -> Self {
        Self {
            data: ArrayD::from_shape_vec(IxDyn(&[data.len()]), data.to_vec()).expect("1-D"),
        }
    }

    /// A 0-dimensional index tensor.
    pub fn scalar(value: i64) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(&[]), value),
        }
    }

    /// Takes an `ndarray` array without copying.
    pub fn from_array<D: ndarray::Dimension>(a: ndarray::Array<i64, D>) -> Self {
        Self { data: a.into_dyn() }
    }

    /// The underlying array.
    pub fn array(&self) -> &ArrayD<i64> {
        &self.data
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The indices in row-major order.
    pub fn to_vec(&self) -> Vec<i64> {
        match self.data.as_slice() {
            Some(contiguous) => contiguous.to_vec(), // one copy, not an element-by-element walk
            None => self.data.iter().copied().collect(),
        }
    }

    /// The same indices in a new shape.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        Self::from_vec(self.to_vec(), shape)
    }

    /// [`reshape`](IndexTensor::reshape), taking `self`: the values are not copied when they
    /// are in row-major order.
    pub fn into_shape(self, shape: &[usize]) -> Result<Self> {
        let numel = self.numel();
        if !self.data.is_standard_layout() {
            return self.reshape(shape);
        }
        match self.data.into_raw_vec_and_offset() {
            (values, Some(0)) if values.len() == numel => Self::from_vec(values, shape),
            (values, offset) => Self::from_vec(values[offset.unwrap_or(0)..][..numel].to_vec(), shape),
        }
    }
}

fn check_index(op: &'static str, i: i64, dim: usize, size: usize) -> Result<usize> {
    if i < 0 || i as u64 >= size as u64 {
        return Err(Error::IndexOutOfBounds {
            op,
            index: i,
            dim,
            size,
        });
    }
    Ok(i as usize)
}

impl<T: Float> Tensor<T> {
    /// `out[i][j] = self[index[i][j]][j]` for `dim = 0` (and likewise for other dims), as
    /// `torch.gather`: `index` has the same number of dimensions as `self` and is no larger
    /// outside `dim`.
    pub fn gather(&self, dim: isize, index: &IndexTensor) -> Result<Self> {
        let d = normalize_dim("gather", dim, self.ndim().max(1))?;
        check_scatter_shapes("gather", self.shape(), index.shape(), d)?;
        if let Some(out) = gather_rows(self, d, index)? {
            return Ok(out);
        }
        let size = self.shape().get(d).copied().unwrap_or(1);
        let mut out = ArrayD::zeros(index.data.raw_dim());
        let mut pos = vec![0usize; self.ndim()];
        for (ix, &i) in index.data.indexed_iter() {
            pos.copy_from_slice(ix.slice());
            let i = check_index("gather", i, d, size)?; // a 0-d input has size 1: only 0 is valid
            if self.ndim() > 0 {
                pos[d] = i;
            }
            out[ix] = self.data[IxDyn(&pos)];
        }
        Ok(Tensor::from_array(out))
    }

    /// Adds `src` into a tensor of zeros of `shape` at the positions `index` names along `dim`:
    /// the adjoint of [`gather`](Tensor::gather), as `zeros.scatter_add(dim, index, src)`.
    pub fn scatter_add(shape: &[usize], dim: isize, index: &IndexTensor, src: &Self) -> Result<Self> {
        let d = normalize_dim("scatter_add", dim, shape.len().max(1))?;
        if index.shape() != src.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                lhs: Shape(index.shape().to_vec()),
                rhs: Shape(src.shape().to_vec()),
                reason: "index and src must have the same shape".into(),
            });
        }
        check_scatter_shapes("scatter_add", shape, index.shape(), d)?;
        checked_shape("scatter_add", shape)?;
        if let Some(out) = scatter_add_rows(shape, d, index, src)? {
            return Ok(out);
        }
        let size = shape.get(d).copied().unwrap_or(1);
        let mut out = ArrayD::zeros(IxDyn(shape));
        let mut pos = vec![0usize; shape.len()];
        for (ix, &i) in index.data.indexed_iter() {
            pos.copy_from_slice(ix.slice());
            let i = check_index("scatter_add", i, d, size)?; // a 0-d output has size 1: only 0 is valid
            if !shape.is_empty() {
                pos[d] = i;
            }
            out[IxDyn(&pos)] += src.data[ix];
        }
        Ok(Tensor::from_array(out))
    }

    /// The slices at `index` (1-D) along `dim`, as `torch.index_select`.
    pub fn index_select(&self, dim: isize, index: &IndexTensor) -> Result<Self> {
        let d = normalize_dim("index_select", dim, self.ndim())?;
        if index.ndim() != 1 {
            return Err(Error::invalid(
                "index_select",
                format!("index should be 1-D, got shape {}", Shape(index.shape().to_vec())),
            ));
        }
        let size = self.shape()[d];
        let idx = index
            .data
            .iter()
            .map(|&i| check_index("index_select", i, d, size))
            .collect::<Result<Vec<_>>>()?;
        // Seen as [outer, size, inner] in row-major order: whole runs of `inner` copied.
        let shape = self.shape();
        let (outer, inner) = (
            shape[..d].iter().product::<usize>(),
            shape[d + 1..].iter().product::<usize>(),
        );
        let src = self.data.as_standard_layout();
        let src = src.as_slice().expect("a standard-layout array is one slice");
        let mut out_shape = shape.to_vec();
        out_shape[d] = idx.len();
        checked_shape("index_select", &out_shape)?;
        let runs = outer * idx.len();
        if runs == 0 || inner == 0 {
            return Tensor::from_vec(Vec::new(), &out_shape);
        }
        // Run r of the result is run idx[r % len] of block r / len: blocks of whole runs,
        // shared between threads when the result is big, into memory not cleared first.
        let per = (KERNEL_BLOCK / inner).max(1);
        let work = per * inner / CHEAP_VALUES_PER_WORK;
        // SAFETY: a block is `per` whole runs (the last one fewer), each written in full.
        let out = unsafe {
            filled_vec(runs * inner, per * inner, work, |b, block| {
                let (mut o, mut j) = (b * per / idx.len(), b * per % idx.len());
                for run in block.chunks_exact_mut(inner) {
                    let from = &src[(o * size + idx[j]) * inner..][..inner];
                    run.iter_mut().zip(from).for_each(|(v, &x)| {
                        v.write(x);
                    });
                    j += 1;
                    if j == idx.len() {
                        (o, j) = (o + 1, 0);
                    }
                }
            })
        };
        Tensor::from_vec(out, &out_shape)
    }

    /// Adds the slices of `src` along `dim` into a tensor of zeros of `shape` at `index`:
    /// the adjoint of [`index_select`](Tensor::index_select), as `zeros.index_add(dim, index, src)`.
    pub fn index_add(shape: &[usize], dim: isize, index: &IndexTensor, src: &Self) -> Result<Self> {
        let d = normalize_dim("index_add", dim, shape.len())?;
        let mut expect = shape.to_vec();
        expect[d] = index.numel();
        if index.ndim() != 1 || src.shape() != expect.as_slice() {
            return Err(Error::ShapeMismatch {
                op: "index_add",
                lhs: Shape(expect),
                rhs: Shape(src.shape().to_vec()),
                reason: "src must have the destination's shape with index.len() slices along dim".into(),
            });
        }
        let numel = checked_shape("index_add", shape)?;
        let size = shape[d];
        let idx = index
            .data
            .iter()
            .map(|&i| check_index("index_add", i, d, size))
            .collect::<Result<Vec<_>>>()?;
        // Seen as [outer, size, inner] and src as [outer, len, inner], in row-major order.
        let (outer, inner) = (
            shape[..d].iter().product::<usize>(),
            shape[d + 1..].iter().product::<usize>(),
        );
        let src = src.data.as_standard_layout();
        let src = src.as_slice().expect("a standard-layout array is one slice");
        let mut out = vec![T::zero(); numel];
        if inner > 0 {
            // Compiled for the widest vectors the CPU has: a row of an embedding's gradient
            // is a few vectors, not a few dozen.
            crate::kernels::wide(
                #[inline(always)]
                || {
                    for (o, dst) in out.chunks_exact_mut((size * inner).max(1)).take(outer).enumerate() {
                        let rows = src[o * idx.len() * inner..][..idx.len() * inner].chunks_exact(inner);
                        for (&i, row) in idx.iter().zip(rows) {
                            dst[i * inner..][..inner]
                                .iter_mut()
                                .zip(row)
                                .for_each(|(a, &b)| *a += b);
                        }
                    }
                },
            );
        }
        Tensor::from_vec(out, shape)
    }
}

/// The index's values, and the lengths `n` of the data's rows and `k` of the index's, when
/// `dim` is the last dimension, the index is row-major and its rows are the data's (the same
/// sizes before the last dimension: the gradients of `gather` and `topk`), every index
/// checked against `n` (an error naming `op` otherwise); `None` for other layouts and
/// dimensions. The paths of [`gather_rows`] and [`scatter_add_rows`].
fn aligned_rows<'a>(
    op: &'static str,
    shape: &[usize],
    d: usize,
    index: &'a IndexTensor,
) -> Result<Option<(&'a [i64], usize, usize)>> {
    let (Some(last), Some(idx)) = (shape.len().checked_sub(1), index.data.as_slice()) else {
        return Ok(None);
    };
    let (n, k) = (shape[last], index.shape()[last]);
    if d != last || n == 0 || k == 0 || index.shape()[..last] != shape[..last] {
        return Ok(None);
    }
    for &i in idx {
        check_index(op, i, d, n)?;
    }
    Ok(Some((idx, n, k)))
}

/// [`Tensor::gather`] of [`aligned_rows`] from row-major `x`: each output row read from its
/// own row of `x`, rows in blocks shared between threads when there are many values.
fn gather_rows<T: Float>(x: &Tensor<T>, d: usize, index: &IndexTensor) -> Result<Option<Tensor<T>>> {
    let Some(values) = x.data.as_slice() else {
        return Ok(None);
    };
    let Some((idx, n, k)) = aligned_rows("gather", x.shape(), d, index)? else {
        return Ok(None);
    };
    let rows_per_block = (KERNEL_BLOCK / k).max(1);
    // SAFETY: each row of the block is written in full (one value per index).
    let out = unsafe {
        filled_vec(
            idx.len(),
            rows_per_block * k,
            rows_per_block * k / CHEAP_VALUES_PER_WORK,
            |b, out| {
                for (r, row) in out.chunks_exact_mut(k).enumerate() {
                    let row_index = b * rows_per_block + r;
                    let (at, from) = (&idx[row_index * k..][..k], &values[row_index * n..][..n]);
                    for (o, &i) in row.iter_mut().zip(at) {
                        o.write(from[i as usize]);
                    }
                }
            },
        )
    };
    Ok(Some(Tensor::from_standard(out, index.shape())))
}

/// [`Tensor::scatter_add`] of [`aligned_rows`] from row-major `src`: each output row gets its
/// own index row's values, added in the order of the index. Rows go in blocks shared
/// between threads, each block cleared by the thread that writes it, so the scattered
/// values land in that thread's cache.
fn scatter_add_rows<T: Float>(
    shape: &[usize],
    d: usize,
    index: &IndexTensor,
    src: &Tensor<T>,
) -> Result<Option<Tensor<T>>> {
    let Some(values) = src.data.as_slice() else {
        return Ok(None);
    };
    let Some((idx, n, k)) = aligned_rows("scatter_add", shape, d, index)? else {
        return Ok(None);
    };
    let rows_per_block = (KERNEL_BLOCK / n).max(1);
    let out = zeroed_blocks(
        idx.len() / k * n,
        rows_per_block * n,
        rows_per_block * n / CHEAP_VALUES_PER_WORK,
        |b, out| {
            for (r, row) in out.chunks_exact_mut(n).enumerate() {
                let at = (b * rows_per_block + r) * k..(b * rows_per_block + r + 1) * k;
                for (&i, &v) in idx[at.clone()].iter().zip(&values[at]) {
                    row[i as usize] += v;
                }
            }
        },
    );
    Ok(Some(Tensor::from_standard(out, shape)))
}

fn check_scatter_shapes(op: &'static str, shape: &[usize], index: &[usize], d: usize) -> Result<()> {
    let fits = index.len() == shape.len()
        && index
            .iter()
            .zip(shape)
            .enumerate()
            .all(|(i, (&x, &s))| i == d || x <= s);
    if !fits {
        return Err(Error::ShapeMismatch {
            op,
            lhs: Shape(shape.to_vec()),
            rhs: Shape(index.to_vec()),
            reason: format!("index must have as many dimensions as the input and be no larger outside dimension {d}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_shape_keeps_the_values_in_order_and_checks_the_count() {
        let t = IndexTensor::from_vec((0..12).collect(), &[3, 4]).unwrap();
        assert_eq!(t.clone().into_shape(&[2, 6]).unwrap(), t.reshape(&[2, 6]).unwrap());
        // A transposed view: values taken in row-major order of the view, as reshape does.
        let tt = IndexTensor::from_array(t.array().t().to_owned());
        let view = IndexTensor {
            data: t.data.clone().reversed_axes(),
        };
        assert_eq!(view.clone().into_shape(&[12]).unwrap(), tt.reshape(&[12]).unwrap());
        let err = t.into_shape(&[5]).unwrap_err().to_string();
        assert!(err.contains("[5]"), "{err}");
    }
}
