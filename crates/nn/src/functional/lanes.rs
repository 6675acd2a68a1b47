//! Sums over a row in side-by-side partial sums, for the fused normalization ops: a single
//! running sum keeps the order of its additions and runs one value at a time, these
//! vectorise. The order is fixed, so a result never depends on anything but the row.

use ferrograd_tensor::Float;

/// Partial sums kept side by side.
const LANES: usize = 16;

/// `Σ f(v)` over `values`, in [`LANES`] partial sums added up in a fixed order.
#[inline(always)]
pub(crate) fn lane_sum<T: Float>(values: &[T], f: impl Fn(T) -> T) -> T {
    lane_sum_rows(std::iter::once(values), f)
}

/// `Σ f(v)` over every value of several rows, in the same
/// [`LANES`] partial sums for all of them: one reduction of the partial sums in all, not one
/// per row. Each row's values past its last full group of `LANES` go to one running sum.
#[inline(always)]
pub(crate) fn lane_sum_rows<'a, T: Float + 'a>(rows: impl Iterator<Item = &'a [T]>, f: impl Fn(T) -> T) -> T {
    lane_sum2_rows(rows.map(|r| (r, r)), |v, _| f(v))
}

/// `Σ f(a, b)` over two rows of one length, as [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_sum2<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    lane_sum2_rows(std::iter::once((a, b)), f)
}

/// `Σ f(a, b)` over pairs of rows, each pair of one length, as [`lane_sum_rows`].
#[inline(always)]
pub(crate) fn lane_sum2_rows<'a, T: Float + 'a>(
    rows: impl Iterator<Item = (&'a [T], &'a [T])>,
    f: impl Fn(T, T) -> T,
) -> T {
    let mut acc = [T::zero(); LANES];
    let mut rest = T::zero();
    for (a, b) in rows {
        let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        for (x, y) in (&mut ca).zip(&mut cb) {
            for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
                *s += f(x, y);
            }
        }
        rest = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .fold(rest, |s, (&x, &y)| s + f(x, y));
    }
    acc.iter().fold(T::zero(), |s, &x| s + x) + rest
}
