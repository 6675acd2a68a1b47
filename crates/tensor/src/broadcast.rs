//! Binary ops over broadcast operands without ndarray's element-by-element iteration over
//! dynamic dimensions: each operand's reads over the result's last dimensions form one run.

use crate::kernels::wide;
use crate::parallel::output_buffer;
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
/// `[1, C, 1, 1]` to `[N, C, H, W]`, is `C` or `N·C` loops of `N` or `H·W` values.
pub(crate) fn zip<T: Float>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    shape: &[usize],
    f: &impl Fn(T, T) -> T,
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
    let mut out = output_buffer(total);
    let (outer, mut index) = (&shape[..dims], vec![0usize; dims]);
    let (mut at_a, mut at_b) = (0isize, 0isize);
    wide(
        #[inline(always)]
        || {
            for _ in 0..total.checked_div(len).unwrap_or(0) {
                let (x, y) = (&a[at_a as usize..], &b[at_b as usize..]);
                match (ka.unwrap_or(Run::Same), kb.unwrap_or(Run::Same)) {
                    (Run::Slice, Run::Slice) => out.extend(x[..len].iter().zip(&y[..len]).map(|(&x, &y)| f(x, y))),
                    (Run::Slice, Run::Same) => out.extend(x[..len].iter().map(|&x| f(x, y[0]))),
                    (Run::Same, Run::Slice) => out.extend(y[..len].iter().map(|&y| f(x[0], y))),
                    (Run::Same, Run::Same) => out.extend(std::iter::repeat_n(f(x[0], y[0]), len)),
                }
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
    );
    out
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
