//! Matrix products: 2-D, batched with broadcast batch dimensions, and PyTorch's 1-D rules.

use ndarray::{s, Array2, ArrayD, ArrayView2, Ix2, IxDyn};

use crate::{broadcast_shape, Error, Float, Result, Shape, Tensor};

impl<T: Float> Tensor<T> {
    /// The matrix product, as `torch.matmul`: 1-D operands are treated as a row (left) or column
    /// (right) vector and that dimension is removed from the result; leading batch dimensions
    /// broadcast.
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        let (a1, b1) = (self.ndim() == 1, other.ndim() == 1);
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(Error::invalid(
                "matmul",
                format!(
                    "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                    self.ndim(),
                    other.ndim()
                ),
            ));
        }
        let a = if a1 { self.unsqueeze(0)? } else { self.clone() };
        let b = if b1 { other.unsqueeze(1)? } else { other.clone() };
        let mut out = a.matmul_nd(&b)?;
        // The row first: for 1-D @ 1-D the result [1, 1] becomes [1] and then [].
        if a1 {
            out = out.squeeze(-2)?;
        }
        if b1 {
            out = out.squeeze(-1)?;
        }
        Ok(out)
    }

    /// The product of two tensors of at least 2 dimensions, batch dimensions broadcasting.
    fn matmul_nd(&self, other: &Self) -> Result<Self> {
        let (sa, sb) = (self.shape(), other.shape());
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: Shape(sa.to_vec()),
                rhs: Shape(sb.to_vec()),
                reason: format!("mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"),
            });
        }
        if sa.len() == 2 && sb.len() == 2 {
            return self.mm(other, false, false);
        }
        let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
        let batch = broadcast_shape("matmul", ba, bb).map_err(|_| Error::ShapeMismatch {
            op: "matmul",
            lhs: Shape(sa.to_vec()),
            rhs: Shape(sb.to_vec()),
            reason: format!(
                "batch dimensions {} and {} cannot be broadcast together",
                Shape(ba.to_vec()),
                Shape(bb.to_vec())
            ),
        })?;
        let nb: usize = batch.iter().product();
        let a = broadcast_batch(&self.data, &batch, m, k);
        let b = broadcast_batch(&other.data, &batch, k, n);
        let mut out = ndarray::Array3::<T>::zeros((nb, m, n));
        for i in 0..nb {
            let r: Array2<T> = a.slice(s![i, .., ..]).dot(&b.slice(s![i, .., ..]));
            out.slice_mut(s![i, .., ..]).assign(&r);
        }
        let mut shape = batch;
        shape.extend([m, n]);
        Ok(Tensor {
            data: out
                .into_shape_with_order(IxDyn(&shape))
                .expect("element count")
                .into_dyn(),
        })
    }
}

impl<T: Float> Tensor<T> {
    /// `op(self) · op(other)` for 2-D tensors, where `op` transposes its operand when the flag
    /// says so: `a.mm(&b, false, true)` is `a · bᵀ`. The transposes are strided views, nothing
    /// is copied; large products go to ndarray's `dot` (matrixmultiply), tiny ones to a loop.
    pub fn mm(&self, other: &Self, transpose_self: bool, transpose_other: bool) -> Result<Self> {
        if self.ndim() != 2 || other.ndim() != 2 {
            return Err(Error::invalid(
                "mm",
                format!(
                    "expected 2-D operands, got shapes {} and {}",
                    Shape(self.shape().to_vec()),
                    Shape(other.shape().to_vec())
                ),
            ));
        }
        let (a, b) = (view_2d(self, transpose_self), view_2d(other, transpose_other));
        let ((m, k), (k2, n)) = (a.dim(), b.dim());
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: Shape(self.shape().to_vec()),
                rhs: Shape(other.shape().to_vec()),
                reason: format!("mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"),
            });
        }
        Ok(Tensor {
            data: gemm(a, b).into_dyn(),
        })
    }
}

/// A 2-D tensor as a matrix view, transposed (a strided view) if asked.
fn view_2d<T: Float>(t: &Tensor<T>, transpose: bool) -> ArrayView2<'_, T> {
    let v = t.data.view().into_dimensionality::<Ix2>().expect("2-D");
    if transpose {
        v.reversed_axes()
    } else {
        v
    }
}

/// Products with at most this many multiply-adds skip matrixmultiply, whose packing costs more
/// than the arithmetic at this size.
const SMALL_GEMM: usize = 1 << 12;

/// Products with at least this many multiply-adds are split by rows across threads.
const PARALLEL_GEMM: usize = 1 << 22;

fn gemm<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let threads = rayon::current_num_threads();
    if m * n * k >= PARALLEL_GEMM && threads > 1 && m >= 2 * threads && n > 0 {
        // Each block of rows of C is one product over the whole of k, so every element is
        // computed exactly as without threads.
        let rows = m.div_ceil(threads);
        let mut c = vec![T::zero(); m * n];
        crate::parallel::for_each_block_mut(&mut c, rows * n, rows * n * k, |i, block| {
            let a = a.slice(s![i * rows..(i * rows + block.len() / n), ..]);
            let mut c = ndarray::ArrayViewMut2::from_shape((block.len() / n, n), block).expect("rows of C");
            ndarray::linalg::general_mat_mul(T::one(), &a, &b, T::zero(), &mut c);
        });
        return Array2::from_shape_vec((m, n), c).expect("m·n elements");
    }
    if m * n * k > SMALL_GEMM {
        return a.dot(&b);
    }
    // Row-major copies of tiny operands make every inner loop a contiguous, vectorizable one.
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let (a, b) = (a.as_slice().expect("standard"), b.as_slice().expect("standard"));
    let mut c = vec![T::zero(); m * n];
    if n > 0 {
        for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.chunks_exact(k.max(1))) {
            for (&aip, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                c_row.iter_mut().zip(b_row).for_each(|(c, &b)| *c += aip * b);
            }
        }
    }
    Array2::from_shape_vec((m, n), c).expect("m·n elements")
}

fn broadcast_batch<T: Float>(a: &ArrayD<T>, batch: &[usize], r: usize, c: usize) -> ndarray::Array3<T> {
    let mut full = batch.to_vec();
    full.extend([r, c]);
    let v = a.broadcast(IxDyn(&full)).expect("batch shape checked").to_owned();
    v.into_shape_with_order((batch.iter().product(), r, c))
        .expect("element count")
}
