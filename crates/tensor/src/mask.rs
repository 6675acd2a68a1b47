//! Boolean masks ([`BoolTensor`], PyTorch's `torch.bool`) and the ops that take them:
//! `masked_fill`, `where_`, and the triangular `tril` / `triu`.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use crate::kernels::{wide, zip_into, KERNEL_BLOCK};
use crate::parallel::{filled_vec, segments_vec, write_all};
use crate::tensor::checked_shape;
use crate::tuning::CHEAP_VALUES_PER_WORK;
use crate::{broadcast_shape, Error, Float, Result, Shape, Tensor};

/// An n-dimensional tensor of `bool`, PyTorch's `torch.bool`: the masks of `masked_fill` and
/// `where_`, and the attention masks built with [`tril`](BoolTensor::tril).
///
/// Masks broadcast against the tensors they are used with, as in PyTorch.
///
/// ```
/// use ferrograd_tensor::{BoolTensor, Tensor};
/// let causal = BoolTensor::full(&[3, 3], true).tril(0)?; // True on and below the diagonal
/// let scores = Tensor::<f32>::zeros(&[3, 3]).masked_fill(&causal.logical_not(), f32::NEG_INFINITY)?;
/// assert_eq!(scores.softmax(-1)?.get(&[0, 0])?, 1.0);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoolTensor {
    pub(crate) data: ArrayD<bool>,
}

impl BoolTensor {
    /// A mask from a flat row-major `Vec` and a shape.
    pub fn from_vec(data: Vec<bool>, shape: &[usize]) -> Result<Self> {
        let numel = checked_shape("BoolTensor::from_vec", shape)?;
        if numel != data.len() {
            return Err(Error::DataLength {
                op: "BoolTensor::from_vec",
                len: data.len(),
                shape: shape.into(),
                numel,
            });
        }
        Ok(Self {
            data: ArrayD::from_shape_vec(IxDyn(shape), data).expect("length checked"),
        })
    }

    /// A 1-D mask.
    pub fn from_slice(data: &[bool]) -> Self {
        Self {
            data: ArrayD::from_shape_vec(IxDyn(&[data.len()]), data.to_vec()).expect("1-D"),
        }
    }

    /// Takes an `ndarray` array without copying.
    pub fn from_array<D: ndarray::Dimension>(a: ndarray::Array<bool, D>) -> Self {
        Self { data: a.into_dyn() }
    }

    /// A mask of `shape` filled with `value`, as `torch.full(shape, value, dtype=torch.bool)`.
    pub fn full(shape: &[usize], value: bool) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(shape), value),
        }
    }

    /// The underlying array.
    pub fn array(&self) -> &ArrayD<bool> {
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

    /// The values in row-major order.
    pub fn to_vec(&self) -> Vec<bool> {
        self.data.iter().copied().collect()
    }

    /// `!self`, as `torch.logical_not` (or `~mask`).
    pub fn logical_not(&self) -> Self {
        Self {
            data: self.data.mapv(|b| !b),
        }
    }

    /// `self & other`, broadcasting, as `torch.logical_and`.
    pub fn logical_and(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "logical_and", |a, b| a && b)
    }

    /// `self | other`, broadcasting, as `torch.logical_or`.
    pub fn logical_or(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "logical_or", |a, b| a || b)
    }

    fn zip_with(&self, other: &Self, op: &'static str, f: impl Fn(bool, bool) -> bool) -> Result<Self> {
        let shape = broadcast_shape(op, self.shape(), other.shape())?;
        let a = self.data.broadcast(shape.clone()).expect("shape checked");
        let b = other.data.broadcast(shape).expect("shape checked");
        Ok(Self {
            data: Zip::from(&a).and(&b).map_collect(|&a, &b| f(a, b)),
        })
    }

    /// Keeps the elements on and below the `k`-th diagonal of the last two dimensions and
    /// sets the others to `false`, as `torch.tril` (`k > 0` above the diagonal, `k < 0` below).
    pub fn tril(&self, k: isize) -> Result<Self> {
        triangle("tril", &self.data.view(), k, false, true).map(|data| Self { data })
    }

    /// Keeps the elements on and above the `k`-th diagonal of the last two dimensions, as
    /// `torch.triu`.
    pub fn triu(&self, k: isize) -> Result<Self> {
        triangle("triu", &self.data.view(), k, false, false).map(|data| Self { data })
    }
}

impl<T: Float> Tensor<T> {
    /// `true` where `pred` holds for the element.
    pub fn to_mask(&self, pred: impl Fn(T) -> bool) -> BoolTensor {
        BoolTensor {
            data: self.data.mapv(pred),
        }
    }

    /// `self == value` elementwise, as `tensor == value`.
    pub fn eq_scalar(&self, value: T) -> BoolTensor {
        self.to_mask(|x| x == value)
    }

    /// `self > value` elementwise, as `tensor > value` (false for NaN).
    pub fn gt_scalar(&self, value: T) -> BoolTensor {
        self.to_mask(|x| x > value)
    }

    /// `self < value` elementwise, as `tensor < value` (false for NaN).
    pub fn lt_scalar(&self, value: T) -> BoolTensor {
        self.to_mask(|x| x < value)
    }

    /// `value` where `mask` is true, the element elsewhere, as `torch.masked_fill`. The mask
    /// and the tensor broadcast together; the result has their broadcast shape.
    pub fn masked_fill(&self, mask: &BoolTensor, value: T) -> Result<Self> {
        let fill = |m: &bool, x: &T| if *m { value } else { *x };
        if let (true, Some(m), Some(x)) = (mask.shape() == self.shape(), mask.data.as_slice(), self.data.as_slice()) {
            // Both row-major: one loop over the two slices, compiled by `wide` (ndarray's `Zip`
            // over dynamic dimensions went value by value), staged so that it vectorizes, in
            // blocks shared between threads only when there are many values (a small mask
            // shared took twice as long).
            // SAFETY: `zip_into` writes every value of each block.
            let out = unsafe {
                filled_vec(x.len(), KERNEL_BLOCK, KERNEL_BLOCK / CHEAP_VALUES_PER_WORK, |i, out| {
                    let at = i * KERNEL_BLOCK..i * KERNEL_BLOCK + out.len();
                    wide(
                        #[inline(always)]
                        // `move`: the value itself, not a reference read only where `m` holds
                        // (a gather per vector).
                        || zip_into(&m[at.clone()], &x[at], out, move |m, x| if m { value } else { x }),
                    )
                })
            };
            return Ok(Tensor::from_standard(out, self.shape()));
        }
        if mask.shape() == self.shape() {
            return Ok(Tensor::from_array(
                Zip::from(&mask.data).and(&self.data).map_collect(fill),
            ));
        }
        // A broadcast mask (a causal mask over a batch of attention scores): as 0 and 1 in
        // `T`, through the blocked broadcast loop of the arithmetic ops.
        broadcast_shape("masked_fill", self.shape(), mask.shape())?;
        let m = Tensor::from_array(mask.data.mapv(|m| if m { T::one() } else { T::zero() }));
        self.zip_map(&m, "masked_fill", move |x, m| if m == T::zero() { x } else { value })
    }

    /// `a` where `cond` is true and `b` elsewhere, as `torch.where(cond, a, b)`: the three
    /// broadcast together. (`where` is a Rust keyword, hence the underscore.)
    pub fn where_(cond: &BoolTensor, a: &Self, b: &Self) -> Result<Self> {
        let ab = broadcast_shape("where", a.shape(), b.shape())?;
        let shape = broadcast_shape("where", cond.shape(), &ab).map_err(|_| Error::Broadcast {
            op: "where",
            lhs: Shape(cond.shape().to_vec()),
            rhs: Shape(ab.clone()),
        })?;
        if let (true, Some(c), Some(a), Some(b)) = (
            cond.shape() == shape && a.shape() == shape,
            cond.data.as_slice(),
            a.data.as_slice(),
            b.data.as_slice().filter(|b| b.len() == a.numel()),
        ) {
            // All three row-major in the one shape: a loop over the slices, in blocks shared
            // between threads when there are many values.
            // SAFETY: each block's every value is written.
            let out = unsafe {
                filled_vec(a.len(), KERNEL_BLOCK, KERNEL_BLOCK / CHEAP_VALUES_PER_WORK, |i, out| {
                    let at = i * KERNEL_BLOCK..i * KERNEL_BLOCK + out.len();
                    let (c, a, b) = (&c[at.clone()], &a[at.clone()], &b[at]);
                    wide(
                        #[inline(always)]
                        || {
                            for (((o, &c), &a), &b) in out.iter_mut().zip(c).zip(a).zip(b) {
                                o.write(if c { a } else { b });
                            }
                        },
                    )
                })
            };
            return Ok(Tensor::from_standard(out, &shape));
        }
        let c = cond.data.broadcast(shape.clone()).expect("shape checked");
        let av = a.data.broadcast(shape.clone()).expect("shape checked");
        let bv = b.data.broadcast(shape).expect("shape checked");
        Ok(Tensor::from_array(
            Zip::from(&c)
                .and(&av)
                .and(&bv)
                .map_collect(|&c, &a, &b| if c { a } else { b }),
        ))
    }

    /// Keeps the elements on and below the `k`-th diagonal of the last two dimensions (each
    /// matrix of a batch) and zeroes the others, as `torch.tril`.
    pub fn tril(&self, k: isize) -> Result<Self> {
        self.triangle("tril", k, true)
    }

    /// Keeps the elements on and above the `k`-th diagonal of the last two dimensions and
    /// zeroes the others, as `torch.triu`.
    pub fn triu(&self, k: isize) -> Result<Self> {
        self.triangle("triu", k, false)
    }

    /// [`tril`](Tensor::tril) or [`triu`](Tensor::triu): each row of each matrix written once
    /// (zeros, the kept run, zeros), rows in blocks shared between threads when there are
    /// many values, into memory not cleared first.
    fn triangle(&self, op: &'static str, k: isize, lower: bool) -> Result<Self> {
        let (rows, cols) = matrix_sizes(op, self.shape())?;
        let values = self.row_major_values();
        // SAFETY: every value of each row is written: zeros, the kept run, zeros.
        let out = unsafe {
            segments_vec(self.numel() / cols.max(1), cols, |r, row| {
                let kept = kept_columns(r % rows, cols, k, lower);
                let (before, rest) = row.split_at_mut(kept.start);
                let (middle, after) = rest.split_at_mut(kept.len());
                before.fill(MaybeUninit::new(T::zero()));
                write_all(middle, &values[r * cols..][kept]);
                after.fill(MaybeUninit::new(T::zero()));
            })
        };
        Ok(Tensor::from_standard(out, self.shape()))
    }
}

/// The sizes of the matrices of `tril`/`triu` (the last two dimensions), or an error naming
/// `op` for fewer than two dimensions.
fn matrix_sizes(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [.., rows, cols] => Ok((*rows, *cols)),
        _ => Err(Error::invalid(
            op,
            format!(
                "input tensor must have at least 2 dimensions, but got shape {}",
                Shape(shape.to_vec())
            ),
        )),
    }
}

/// The columns that row `i` of a matrix of `cols` columns keeps: `j - i <= k` for `lower`,
/// `j - i >= k` otherwise, one run.
fn kept_columns(i: usize, cols: usize, k: isize, lower: bool) -> std::ops::Range<usize> {
    let edge = (i as isize + k).clamp(-1, cols as isize);
    match lower {
        true => 0..(edge + 1).min(cols as isize) as usize,
        false => edge.max(0) as usize..cols,
    }
}

/// `data` with the elements off the triangle set to `zero` (see [`kept_columns`]).
fn triangle<E: Copy>(op: &'static str, data: &ArrayViewD<'_, E>, k: isize, zero: E, lower: bool) -> Result<ArrayD<E>> {
    let (rows, cols) = matrix_sizes(op, data.shape())?;
    let mut values: Vec<E> = match data.as_slice() {
        Some(values) => values.to_vec(),
        None => data.iter().copied().collect(),
    };
    if rows * cols > 0 {
        for (r, row) in values.chunks_exact_mut(cols).enumerate() {
            let kept = kept_columns(r % rows, cols, k, lower);
            row[..kept.start].fill(zero);
            row[kept.end..].fill(zero);
        }
    }
    Ok(ArrayD::from_shape_vec(data.raw_dim(), values).expect("same element count"))
}
