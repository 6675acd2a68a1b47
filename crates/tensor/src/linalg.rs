//! Matrix products: 2-D, batched with broadcast batch dimensions, and PyTorch's 1-D rules.

use ndarray::{s, Array2, ArrayD, Ix2, IxDyn};

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
            let a = self.data.view().into_dimensionality::<Ix2>().expect("2-D");
            let b = other.data.view().into_dimensionality::<Ix2>().expect("2-D");
            return Ok(Tensor {
                data: a.dot(&b).into_dyn(),
            });
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

fn broadcast_batch<T: Float>(a: &ArrayD<T>, batch: &[usize], r: usize, c: usize) -> ndarray::Array3<T> {
    let mut full = batch.to_vec();
    full.extend([r, c]);
    let v = a.broadcast(IxDyn(&full)).expect("batch shape checked").to_owned();
    v.into_shape_with_order((batch.iter().product(), r, c))
        .expect("element count")
}
