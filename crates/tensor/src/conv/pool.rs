//! Max pooling's window maxima and their positions, and the row-wise gather / scatter-add
//! pair that routes values by those positions (max pooling's gradient); and the batched
//! transpose that separable pooling uses.

use super::Window2d;
use crate::kernels::transpose::transpose;
use crate::kernels::wide;
use crate::parallel::for_each_block_pair_mut;
use crate::{Error, Float, IndexTensor, Result, Shape, Tensor};

impl Window2d {
    /// For each window along `axis`: the range of kernel elements that fall inside the plane
    /// and the input position of element 0 (`o·stride − padding`, possibly negative), so the
    /// loops over a window need no bounds test per element.
    fn spans(&self, axis: usize) -> Vec<Span> {
        let (s, d, p) = (self.stride[axis], self.dilation[axis], self.padding[axis] as isize);
        let (n, k) = (self.input[axis] as isize, self.kernel[axis]);
        (0..self.output[axis])
            .map(|o| {
                let start = (o * s) as isize - p;
                // start + kx·d in [0, n)  ⇔  kx in [ceil(-start/d), ceil((n-start)/d))
                let lo = if start >= 0 { 0 } else { (-start as usize).div_ceil(d) };
                let hi = if n > start {
                    ((n - start) as usize).div_ceil(d).min(k)
                } else {
                    0
                };
                Span {
                    lo: lo.min(hi),
                    hi,
                    start,
                }
            })
            .collect()
    }
}

/// The kernel elements `lo..hi` of one window that read inside the plane, and the input
/// position of element 0.
#[derive(Clone, Copy)]
struct Span {
    lo: usize,
    hi: usize,
    start: isize,
}

impl Span {
    /// The input position of kernel element `k` (one of `lo..hi`).
    #[inline]
    fn at(&self, k: usize, dilation: usize) -> usize {
        (self.start + (k * dilation) as isize) as usize
    }
}

/// Each window's positions inside the plane, in row-major window order, for max pooling over
/// planes laid side by side: `at[from[i]..from[i + 1]]` for window `i`. The first is the
/// answer if every value is -inf; a window with none (all padding) answers 0.
struct Taps {
    at: Vec<usize>,
    from: Vec<usize>,
    plane: usize,
    windows: usize,
}

impl Taps {
    fn new(window: &Window2d) -> Taps {
        let (ys, xs) = (window.spans(0), window.spans(1));
        let ([dy, dx], w) = (window.dilation, window.input[1]);
        let (mut at, mut from) = (Vec::new(), vec![0]);
        for y in &ys {
            for x in &xs {
                at.extend((y.lo..y.hi).flat_map(|ky| (x.lo..x.hi).map(move |kx| y.at(ky, dy) * w + x.at(kx, dx))));
                from.push(at.len());
            }
        }
        Taps {
            at,
            from,
            plane: window.input[0] * w,
            windows: window.output_numel(),
        }
    }

    /// The maxima of `planes` planes (`x`, one after the other) into `values` and their
    /// positions into `indices` (`planes` rows of one per window), [`LANES`] planes at a time.
    /// Those planes are laid side by side first (`side[at·LANES + j]` is plane j's value at
    /// `at`), so that a window's running maximum, tap by tap, is one vector held in registers;
    /// the windows' answers for those planes are kept in a small tile and written out plane by
    /// plane, each a contiguous row.
    fn maxima<T: Float>(&self, x: &[T], planes: usize, indices: &mut [i64], values: &mut [T]) {
        let plane = self.plane;
        let mut side = vec![T::zero(); LANES * plane];
        // The last planes, when fewer than LANES, padded to LANES (the padding's answers are
        // not written).
        let mut padded = Vec::new();
        let mut tile = vec![([0u32; LANES], [T::zero(); LANES]); self.windows];
        wide(
            #[inline(always)]
            || {
                for c in (0..planes).step_by(LANES) {
                    let lanes = LANES.min(planes - c);
                    let mut src = &x[c * plane..][..lanes * plane];
                    if lanes < LANES {
                        padded.resize(LANES * plane, T::zero());
                        padded[..src.len()].copy_from_slice(src);
                        src = &padded;
                    }
                    transpose(src, LANES, plane, &mut side);
                    for (answer, bounds) in tile.iter_mut().zip(self.from.windows(2)) {
                        *answer = window_max(&side, &self.at[bounds[0]..bounds[1]]);
                    }
                    let rows = indices[c * self.windows..]
                        .chunks_exact_mut(self.windows)
                        .zip(values[c * self.windows..].chunks_exact_mut(self.windows));
                    for (l, (index_row, value_row)) in rows.take(lanes).enumerate() {
                        for ((i, v), (best, max)) in index_row.iter_mut().zip(value_row.iter_mut()).zip(&tile) {
                            *i = i64::from(best[l]);
                            *v = max[l];
                        }
                    }
                }
            },
        );
    }
}

/// Planes whose windows [`Taps::maxima`] takes at once: one AVX-512 vector of `f32`.
const LANES: usize = 16;

/// The maximum of one window (positions `taps`) in each of [`LANES`] planes laid side by side
/// (`side[at·LANES + j]`), and its first position: a NaN wins, and a later NaN replaces an
/// earlier one; the first tap if every value is -inf. A window with no taps (only padding)
/// answers position 0 and the value there.
#[inline(always)]
fn window_max<T: Float>(side: &[T], taps: &[usize]) -> ([u32; LANES], [T; LANES]) {
    let Some(&first) = taps.first() else {
        let mut at_zero = [T::zero(); LANES];
        at_zero.copy_from_slice(&side[..LANES]);
        return ([0; LANES], at_zero);
    };
    let mut max = [T::neg_infinity(); LANES];
    let mut best = [first as u32; LANES];
    for &at in taps {
        let values = &side[at * LANES..][..LANES];
        for l in 0..LANES {
            let v = values[l];
            // Selects, not a branch: which value wins is data.
            let take = (v > max[l]) | v.is_nan();
            max[l] = if take { v } else { max[l] };
            best[l] = if take { at as u32 } else { best[l] };
        }
    }
    (best, max)
}

/// The maxima of one plane's windows into `values` and their positions into `indices`, window
/// by window: for few planes, where laying them side by side leaves the vectors mostly empty.
fn plane_maxima<T: Float>(plane: &[T], window: &Window2d, indices: &mut [i64], values: &mut [T]) {
    let (ys, xs) = (window.spans(0), window.spans(1));
    let ([dy, dx], w) = (window.dilation, window.input[1]);
    let mut out = indices.iter_mut().zip(values.iter_mut());
    for y in &ys {
        for xw in &xs {
            // The first position inside the plane, the answer if every value is -inf.
            let inside = y.lo < y.hi && xw.lo < xw.hi;
            let mut best = if inside {
                y.at(y.lo, dy) * w + xw.at(xw.lo, dx)
            } else {
                0
            };
            let mut max = T::neg_infinity();
            for ky in y.lo..y.hi {
                let row = y.at(ky, dy) * w;
                for kx in xw.lo..xw.hi {
                    let at = row + xw.at(kx, dx);
                    let v = plane[at];
                    // Selects, not a branch: which value wins is data, and a mispredicted
                    // branch per element cost more than the pooling.
                    let take = v > max || v.is_nan();
                    max = if take { v } else { max };
                    best = if take { at } else { best };
                }
            }
            let (index, value) = out.next().expect("one answer per window");
            *index = best as i64;
            *value = plane[best];
        }
    }
}

impl<T: Float> Tensor<T> {
    /// For each window of each `[H, W]` plane of a `[R, H, W]` tensor, its maximum and the
    /// position of that maximum within the plane (`iy·W + ix`), each `[R, OH, OW]`, as max
    /// pooling's output and `return_indices`. The first maximum in row-major window order
    /// wins; a NaN is the maximum (a later NaN replaces an earlier one, as PyTorch's kernel);
    /// padding never wins.
    pub fn max_pool2d(&self, window: &Window2d) -> Result<(Self, IndexTensor)> {
        let op = "max_pool2d";
        window.check(op)?;
        let [r, h, w] = match *self.shape() {
            [r, h, w] if [h, w] == window.input => [r, h, w],
            _ => {
                return Err(Error::invalid(
                    op,
                    format!(
                        "expected planes [R, {}, {}], got {}",
                        window.input[0],
                        window.input[1],
                        Shape(self.shape().to_vec())
                    ),
                ))
            }
        };
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let [oh, ow] = window.output;
        let (plane_out, plane_in) = (oh * ow, h * w);
        if u32::try_from(plane_in).is_err() {
            return Err(Error::invalid(
                op,
                format!("planes of {h} x {w} have more than 2³² elements, too many to index"),
            ));
        }
        if plane_in == 0 && r * plane_out > 0 {
            return Err(Error::invalid(
                op,
                format!("planes of {h} x {w} have no values to pool"),
            ));
        }
        let (mut indices, mut values) = (vec![0i64; r * plane_out], vec![T::zero(); r * plane_out]);
        // Blocks of planes shared between threads. With a vector's worth of planes or more,
        // the planes of a block are laid side by side, so each window's running maximum is
        // one loop over them at full vector width; fewer are taken one by one.
        const SIDE_BY_SIDE: usize = 16;
        let work = |planes: usize| planes * plane_in / crate::tuning::CHEAP_VALUES_PER_WORK;
        if r >= SIDE_BY_SIDE {
            let per = (crate::tuning::ROW_BLOCK_VALUES / plane_in).clamp(SIDE_BY_SIDE, r);
            let taps = Taps::new(window);
            let len = per * plane_out;
            for_each_block_pair_mut(&mut indices, len, &mut values, len, work(per), |i, idx, val| {
                let planes = idx.len() / plane_out;
                taps.maxima(&x[i * per * plane_in..][..planes * plane_in], planes, idx, val);
            });
        } else {
            let per = (crate::tuning::ROW_BLOCK_VALUES / plane_out).max(1);
            let len = per * plane_out;
            for_each_block_pair_mut(&mut indices, len, &mut values, len, work(per), |i, idx, val| {
                let x = &x[i * per * plane_in..];
                let outs = idx.chunks_exact_mut(plane_out).zip(val.chunks_exact_mut(plane_out));
                for (plane, (idx, val)) in x.chunks_exact(plane_in).zip(outs) {
                    plane_maxima(plane, window, idx, val);
                }
            });
        }
        Ok((
            Tensor::from_vec(values, &[r, oh, ow])?,
            IndexTensor::from_vec(indices, &[r, oh, ow])?,
        ))
    }

    /// `out[i][j] = self[i][index[i][j]]` for a 2-D `self` `[R, M]` and `index` `[R, J]`:
    /// `torch.gather(self, 1, index)` over contiguous rows.
    pub fn gather_rows(&self, index: &IndexTensor) -> Result<Self> {
        let op = "gather_rows";
        let (rows, m) = rows_shape(op, self.shape(), index.shape())?;
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let idx = index.data.as_standard_layout();
        let idx = idx.as_slice().expect("standard layout");
        let j = index.shape()[1];
        check_columns(op, idx, m)?;
        let mut out = Vec::with_capacity(rows * j);
        for (r, ix) in idx.chunks_exact(j.max(1)).enumerate().take(rows) {
            let row = &x[r * m..][..m];
            out.extend(ix.iter().map(|&i| row[i as usize]));
        }
        Tensor::from_vec(out, index.shape())
    }

    /// The adjoint of [`gather_rows`](Tensor::gather_rows): zeros `[R, columns]` with each
    /// element of `self` `[R, J]` added at column `index[i][j]` of its row.
    pub fn scatter_add_rows(&self, index: &IndexTensor, columns: usize) -> Result<Self> {
        let op = "scatter_add_rows";
        if self.shape() != index.shape() || self.ndim() != 2 {
            return Err(Error::ShapeMismatch {
                op,
                lhs: Shape(index.shape().to_vec()),
                rhs: Shape(self.shape().to_vec()),
                reason: "index and src must be 2-D of the same shape".into(),
            });
        }
        let (rows, j) = (self.shape()[0], self.shape()[1]);
        let src = self.data.as_standard_layout();
        let src = src.as_slice().expect("standard layout");
        let idx = index.data.as_standard_layout();
        let idx = idx.as_slice().expect("standard layout");
        check_columns(op, idx, columns)?;
        let mut out = vec![T::zero(); rows * columns];
        if j > 0 && columns > 0 {
            let sources = idx.chunks_exact(j).zip(src.chunks_exact(j));
            for (row, (ix, values)) in out.chunks_exact_mut(columns).zip(sources) {
                ix.iter().zip(values).for_each(|(&i, &v)| row[i as usize] += v);
            }
        }
        Tensor::from_vec(out, &[rows, columns])
    }
}

impl<T: Float> Tensor<T> {
    /// `[B, R, C]` → `[B, C, R]`: each matrix of a batch transposed, as `x.transpose(1, 2)`,
    /// by blocks of 16x16 transposed in registers, the matrices shared between threads.
    pub fn batch_transpose(&self) -> Result<Self> {
        if self.ndim() != 3 {
            return Err(Error::invalid(
                "batch_transpose",
                format!("expected a 3-D tensor, got {}", Shape(self.shape().to_vec())),
            ));
        }
        // `transpose`'s copy of the last two dimensions swapped is this loop.
        self.transpose(1, 2)
    }
}

fn rows_shape(op: &'static str, shape: &[usize], index: &[usize]) -> Result<(usize, usize)> {
    match (shape, index) {
        ([r, m], [ri, _]) if r == ri => Ok((*r, *m)),
        _ => Err(Error::ShapeMismatch {
            op,
            lhs: Shape(shape.to_vec()),
            rhs: Shape(index.to_vec()),
            reason: "expected a 2-D input and a 2-D index with the same number of rows".into(),
        }),
    }
}

/// Every index a column of a row of `size` values, else an error naming the first that is not:
/// one pass before the loops that use them, which then index without a `Result` per value.
fn check_columns(op: &'static str, index: &[i64], size: usize) -> Result<()> {
    // The smallest and largest, one loop without an early exit (vectorized); the first
    // index at fault only when there is one.
    let (lo, hi) = wide(
        #[inline(always)]
        || {
            index
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &i| (lo.min(i), hi.max(i)))
        },
    );
    if index.is_empty() || (lo >= 0 && (hi as u64) < size as u64) {
        return Ok(());
    }
    match index
        .iter()
        .find(|&&i| usize::try_from(i).map_or(true, |at| at >= size))
    {
        None => Ok(()),
        Some(&index) => Err(Error::IndexOutOfBounds {
            op,
            index,
            dim: 1,
            size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::tests::{geometry, window};

    #[test]
    fn batch_transpose_is_transpose_1_2() {
        // Whole 16x16 blocks and edges, element by element from the definition (transpose
        // itself copies through the same kernel, so it would not tell); [80, 40, 41] has
        // enough matrices to share them between threads.
        for [b, r, c] in [[3, 17, 5], [2, 32, 48], [1, 33, 16], [80, 40, 41]] {
            let x = Tensor::<f32>::randn(&[b, r, c], 4);
            let t = x.batch_transpose().unwrap();
            assert_eq!(t.shape(), [b, c, r]);
            let (xv, tv) = (x.to_vec(), t.to_vec());
            for (m, i, j) in (0..b).flat_map(|m| (0..r).flat_map(move |i| (0..c).map(move |j| (m, i, j)))) {
                assert_eq!(
                    tv[(m * c + j) * r + i],
                    xv[(m * r + i) * c + j],
                    "[{b}, {r}, {c}] at ({m}, {i}, {j})"
                );
            }
        }
        assert!(Tensor::<f32>::zeros(&[2, 2]).batch_transpose().is_err());
    }

    /// Max pooling's indices from the definition: each window's positions inside the plane in
    /// row-major order, the first maximum or the last NaN, else the first position (or 0).
    fn naive_max_indices(x: &Tensor<f32>, win: &Window2d) -> Vec<i64> {
        let [r, h, w] = *x.shape() else { unreachable!() };
        let x = x.to_vec();
        let mut out = vec![];
        for p in 0..r {
            for oy in 0..win.output[0] {
                for ox in 0..win.output[1] {
                    let (mut best, mut max) = (None, f32::NEG_INFINITY);
                    for ky in 0..win.kernel[0] {
                        for kx in 0..win.kernel[1] {
                            let iy = (oy * win.stride[0] + ky * win.dilation[0]) as isize - win.padding[0] as isize;
                            let ix = (ox * win.stride[1] + kx * win.dilation[1]) as isize - win.padding[1] as isize;
                            if !(0..h as isize).contains(&iy) || !(0..w as isize).contains(&ix) {
                                continue;
                            }
                            let at = iy as usize * w + ix as usize;
                            let v = x[p * h * w + at];
                            if best.is_none() || v > max || v.is_nan() {
                                (best, max) = (Some(at), v);
                            }
                        }
                    }
                    out.push(best.unwrap_or(0) as i64);
                }
            }
        }
        out
    }

    #[test]
    fn maxima_and_their_indices_match_the_definition_with_ties_nans_and_padding() {
        for (input, kernel, stride, dilation, padding, planes) in [
            ([8, 8], [2, 2], [2, 2], [1, 1], [0, 0], 300),
            ([5, 7], [3, 2], [2, 1], [1, 2], [1, 1], 7),
            ([4, 4], [3, 3], [1, 1], [1, 1], [1, 1], 70),
            ([6, 5], [2, 3], [3, 2], [2, 1], [1, 0], 3),
        ] {
            let win = geometry(input, kernel, stride, dilation, padding);
            // Few distinct values (many ties), some NaNs, some -inf.
            let n = planes * input[0] * input[1];
            let values = (0..n)
                .map(|i| match (i * 7919) % 23 {
                    0 => f32::NAN,
                    1 => f32::NEG_INFINITY,
                    k => (k % 4) as f32,
                })
                .collect();
            let x = Tensor::from_vec(values, &[planes, input[0], input[1]]).unwrap();
            let all_low = Tensor::from_vec(vec![f32::NEG_INFINITY; n], x.shape()).unwrap();
            for x in [x, all_low] {
                let (values, indices) = x.max_pool2d(&win).unwrap();
                let indices = indices.to_vec();
                assert_eq!(indices, naive_max_indices(&x, &win), "{win:?}");
                // Each value is the one at its index, bit for bit (NaNs included).
                let (xv, plane, per) = (x.to_vec(), input[0] * input[1], win.output_numel());
                let at = |k: usize| xv[k / per * plane + indices[k] as usize].to_bits();
                let bits: Vec<u32> = values.to_vec().iter().map(|v| v.to_bits()).collect();
                assert_eq!(bits, (0..bits.len()).map(at).collect::<Vec<_>>(), "{win:?}");
            }
        }
    }

    #[test]
    fn max_indices_take_the_first_maximum_and_nan() {
        let x = Tensor::<f32>::from_vec(vec![1., 1., 1., 1.], &[1, 2, 2]).unwrap();
        let win = window([2, 2], [2, 2], 1, 0);
        assert_eq!(x.max_pool2d(&win).unwrap().1.to_vec(), [0]);
        let x = Tensor::<f32>::from_vec(vec![1., f32::NAN, 5., 1.], &[1, 2, 2]).unwrap();
        let (values, indices) = x.max_pool2d(&win).unwrap();
        assert_eq!(indices.to_vec(), [1]);
        assert!(values.to_vec()[0].is_nan());
    }

    #[test]
    fn empty_planes_with_windows_are_an_error_and_no_planes_give_empty_results() {
        // Planes of 0 x 3 whose padding makes one window: nothing to take the maximum of.
        let win = Window2d {
            input: [0, 3],
            output: [1, 1],
            kernel: [1, 3],
            stride: [1, 1],
            dilation: [1, 1],
            padding: [1, 0],
        };
        let err = Tensor::<f32>::zeros(&[2, 0, 3])
            .max_pool2d(&win)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_pool2d") && err.contains("0 x 3"), "{err}");
        let (values, indices) = Tensor::<f32>::zeros(&[0, 2, 2])
            .max_pool2d(&window([2, 2], [2, 2], 1, 0))
            .unwrap();
        assert_eq!((values.shape(), indices.shape()), (&[0, 1, 1][..], &[0, 1, 1][..]));
    }

    #[test]
    fn gather_and_scatter_rows_are_adjoint_and_check_indices() {
        let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let idx = IndexTensor::from_vec(vec![2, 2, 0, 1], &[2, 2]).unwrap();
        let g = x.gather_rows(&idx).unwrap();
        assert_eq!(g.to_vec(), [3., 3., 4., 5.]);
        assert_eq!(g.scatter_add_rows(&idx, 3).unwrap().to_vec(), [0., 0., 6., 4., 5., 0.]);
        for bad in [vec![0, 0, 0, 3], vec![0, -1, 0, 0]] {
            let at = bad.iter().find(|&&i| !(0..3).contains(&i)).copied().unwrap();
            let bad = IndexTensor::from_vec(bad, &[2, 2]).unwrap();
            for err in [
                x.gather_rows(&bad).unwrap_err(),
                g.scatter_add_rows(&bad, 3).unwrap_err(),
            ] {
                assert!(err.to_string().contains(&at.to_string()), "{err}");
            }
        }
    }
}
