//! Shape arithmetic shared by every op: broadcasting and dimension normalisation.

use crate::{Error, Result, Shape};

/// The NumPy broadcast of two shapes: align from the right, sizes equal or one of them 1.
///
/// ```
/// use ferrograd_tensor::broadcast_shape;
/// assert_eq!(broadcast_shape("add", &[3, 1], &[4]).unwrap(), vec![3, 4]);
/// assert!(broadcast_shape("add", &[3], &[4]).is_err());
/// ```
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() { 1 } else { a[i - (n - a.len())] };
        let db = if i < n - b.len() { 1 } else { b[i - (n - b.len())] };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::Broadcast {
                    op,
                    lhs: Shape(a.to_vec()),
                    rhs: Shape(b.to_vec()),
                })
            }
        };
    }
    Ok(out)
}

/// A PyTorch dimension (negative counts from the end) as an index into a shape of `ndim` dims.
pub fn normalize_dim(op: &'static str, dim: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::DimOutOfRange { op, dim, ndim });
    }
    Ok(d as usize)
}

/// The dimensions along which a gradient of shape `from` must be summed to give shape `to`,
/// when `to` was broadcast to `from`: the leading extra dimensions, then those where `to` has 1.
pub fn broadcast_reduction_axes(from: &[usize], to: &[usize]) -> Vec<usize> {
    let lead = from.len() - to.len();
    (0..from.len())
        .filter(|&i| i < lead || (to[i - lead] == 1 && from[i] != 1))
        .collect()
}
