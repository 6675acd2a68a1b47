//! Binary ops over broadcast operands without ndarray's element-by-element iteration over
//! dynamic dimensions: each operand's reads over the result's last dimensions form one run.

use crate::kernels::{map_into, wide, zip_into, KERNEL_BLOCK};
use crate::parallel::filled_vec;
use crate::tuning::CHEAP_VALUES_PER_WORK;
use crate::Float;

/// How one operand of a broadcast op is read over the last dimensions of the result.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    /// One value for all of them (broadcast).
    Same,
    /// As many values, contiguous.
    Slice,
}

/// `f(a, b)` over `shape` for two row-major operands broadcast to it: the result's last
/// dimensions over which each operand is either one value or contiguous are one run, and
/// each run is one loop over slices (or a slice and a value), compiled by `wide`; only the
/// dimensions before it are counted one by one. A bias `[C, 1]` added to `[C, N]`, or
/// `[1, C, 1, 1]` to `[N, C, H, W]`, is `C` or `N·C` loops of `N` or `H·W` values. The result
/// is filled in blocks, shared between threads when it is big.
pub(crate) fn zip<T: Float>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    shape: &[usize],
    f: &(impl Fn(T, T) -> T + Sync),
) -> Vec<T> {
    let (sa, sb) = (broadcast_strides(a_shape, shape), broadcast_strides(b_shape, shape));
    // The run: the last dimensions while each operand keeps to one kind of read.
    let (mut dims, mut len) = (shape.len(), 1usize);
    let (mut ka, mut kb): (Option<Run>, Option<Run>) = (None, None);
    let kind = |stride: isize, len: usize| match stride {
        0 => Some(Run::Same),
        s if s == len as isize => Some(Run::Slice),
        _ => None,
    };
    while dims > 0 {
        let d = dims - 1;
        if shape[d] != 1 {
            let (na, nb) = (kind(sa[d], len), kind(sb[d], len));
            let fits = |k: Option<Run>, n: Option<Run>| n.is_some() && (k.is_none() || k == n);
            if !(fits(ka, na) && fits(kb, nb)) {
                break;
            }
            (ka, kb) = (na, nb);
            len *= shape[d];
        }
        dims -= 1;
    }
    let total: usize = shape.iter().product();
    if total == 0 {
        return Vec::new();
    }
    let (outer, ka, kb) = (&shape[..dims], ka.unwrap_or(Run::Same), kb.unwrap_or(Run::Same));
    // Blocks of `KERNEL_BLOCK` values, shared between threads when the result is big (as
    // `map`'s are); a block may start or end inside a run.
    let work = KERNEL_BLOCK / CHEAP_VALUES_PER_WORK;
    // SAFETY: the loop below writes every value of each block, run piece by run piece.
    unsafe {
        filled_vec(total, KERNEL_BLOCK, work, |block, mut out| {
            let first = block * KERNEL_BLOCK;
            // The position of the block's first run in the dimensions before the run, and
            // where in that run the block starts.
            let (mut index, mut run, mut from) = (vec![0usize; dims], first / len, first % len);
            let (mut at_a, mut at_b) = (0isize, 0isize);
            for d in (0..dims).rev() {
                index[d] = run % outer[d];
                run /= outer[d];
                at_a += sa[d] * index[d] as isize;
                at_b += sb[d] * index[d] as isize;
            }
            wide(
                #[inline(always)]
                || {
                    while !out.is_empty() {
                        let n = (len - from).min(out.len());
                        let (piece, rest) = std::mem::take(&mut out).split_at_mut(n);
                        let (x, y) = (&a[at_a as usize..], &b[at_b as usize..]);
                        match (ka, kb) {
                            (Run::Slice, Run::Slice) => zip_into(&x[from..from + n], &y[from..from + n], piece, f),
                            (Run::Slice, Run::Same) => {
                                let y = y[0];
                                map_into(&x[from..from + n], piece, |x| f(x, y))
                            }
                            (Run::Same, Run::Slice) => {
                                let x = x[0];
                                map_into(&y[from..from + n], piece, |y| f(x, y))
                            }
                            (Run::Same, Run::Same) => {
                                let v = f(x[0], y[0]);
                                piece.iter_mut().for_each(|o| {
                                    o.write(v);
                                });
                            }
                        }
                        (out, from) = (rest, 0);
                        // The next position of the dimensions before the run, the last fastest.
                        for d in (0..outer.len()).rev() {
                            index[d] += 1;
                            at_a += sa[d];
                            at_b += sb[d];
                            if index[d] < outer[d] {
                                break;
                            }
                            at_a -= sa[d] * outer[d] as isize;
                            at_b -= sb[d] * outer[d] as isize;
                            index[d] = 0;
                        }
                    }
                },
            )
        })
    }
}

/// The strides, in elements, of a row-major operand of `shape` read as broadcast to `to`: 0
/// along the dimensions it is broadcast over (missing or of size 1).
fn broadcast_strides(shape: &[usize], to: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; to.len()];
    let mut step = 1isize;
    for (i, &n) in shape.iter().enumerate().rev() {
        let d = to.len() - shape.len() + i;
        strides[d] = if n == 1 { 0 } else { step };
        step *= n as isize;
    }
    strides
}

#[cfg(test)]
mod tests {
    use ndarray::Zip;

    use crate::Tensor;

    /// Every pair of broadcast shapes gives what ndarray's broadcasting iteration gives.
    #[test]
    fn runs_give_the_values_of_elementwise_broadcasting() {
        let cases: [(&[usize], &[usize]); 10] = [
            (&[3, 4], &[3, 1]),
            (&[3, 4], &[4]),
            (&[3, 1], &[1, 4]),
            (&[2, 3, 4, 5], &[1, 3, 1, 1]),
            (&[2, 3, 4, 5], &[2, 1, 4, 5]),
            (&[1], &[2, 3]),
            (&[], &[2, 2]),
            (&[2, 1, 3], &[4, 1]),
            (&[0, 3], &[3]),
            (&[5, 1, 1], &[1, 1, 6]),
        ];
        for (sa, sb) in cases {
            for (sa, sb) in [(sa, sb), (sb, sa)] {
                let a = Tensor::<f64>::randn(sa, 1);
                let b = Tensor::<f64>::randn(sb, 2);
                let got = a.zip_map(&b, "test", |x, y| x * 2.0 - y).unwrap();
                let shape = got.shape().to_vec();
                let (x, y) = (
                    a.data.broadcast(shape.clone()).unwrap(),
                    b.data.broadcast(shape).unwrap(),
                );
                let want = Zip::from(&x).and(&y).map_collect(|&x, &y| x * 2.0 - y);
                assert_eq!(got.array(), &want, "{sa:?} with {sb:?}");
            }
        }
    }
}
