//! Sliding windows over the last two dimensions, the kernels of convolution and pooling:
//! `im2col` (every window laid out as a column) and its adjoint `col2im`, the argmax of each
//! window for max pooling, and a row-wise gather / scatter-add pair that routes values by
//! those indices.
//!
//! A one-dimensional window is the same thing with a height of 1.

use crate::kernels::wide;
use crate::parallel::{for_each_block_mut, zeroed_blocks};
use crate::{Error, Float, IndexTensor, Result, Shape, Tensor};

/// The geometry of a sliding window over an `H × W` plane: where each of the `OH × OW`
/// windows starts and which elements it reads. Positions outside the plane (padding) read 0.
///
/// Only the padding before each dimension (top, left) places the windows; the padding after
/// (bottom, right, or the extra windows of `ceil_mode`) only changes `output`, which the caller
/// computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window2d {
    /// `[H, W]` of the input plane.
    pub input: [usize; 2],
    /// `[OH, OW]`: the number of windows along each dimension.
    pub output: [usize; 2],
    /// `[KH, KW]`: the window's size in elements.
    pub kernel: [usize; 2],
    /// The step between windows.
    pub stride: [usize; 2],
    /// The step between the elements of a window.
    pub dilation: [usize; 2],
    /// Padding before each dimension (top, left).
    pub padding: [usize; 2],
}

impl Window2d {
    /// Elements of one window, `KH · KW`.
    pub fn kernel_numel(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Windows per plane, `OH · OW`.
    pub fn output_numel(&self) -> usize {
        self.output[0] * self.output[1]
    }

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

    /// For each kernel element `kk` along `axis`: the windows `lo..hi` for which it reads
    /// inside the plane, and the input position it reads for window `lo` (the next window's is
    /// `stride` further on).
    fn inside(&self, axis: usize) -> Vec<(usize, usize, usize)> {
        let (s, p) = (self.stride[axis], self.padding[axis]);
        (0..self.kernel[axis])
            .map(|kk| {
                let (n, off) = (self.input[axis], kk * self.dilation[axis]);
                // o·s + off - p in [0, n)  ⇔  o in [ceil((p - off)/s), ceil((n + p - off)/s))
                let lo = p.saturating_sub(off).div_ceil(s);
                let hi = (n + p).saturating_sub(off).div_ceil(s).min(self.output[axis]);
                let lo = lo.min(hi);
                (lo, hi, (lo * s + off).saturating_sub(p))
            })
            .collect()
    }

    /// What im2col copies of one channel and col2im adds back, as [`Runs`].
    fn runs(&self) -> Runs {
        Runs {
            ys: self.inside(0),
            xs: self.inside(1),
            window: *self,
        }
    }

    fn check(&self, op: &'static str) -> Result<()> {
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::invalid(
                op,
                format!(
                    "kernel {:?}, stride {:?} and dilation {:?} must be positive",
                    self.kernel, self.stride, self.dilation
                ),
            ));
        }
        Ok(())
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

    /// The indices of `planes` planes (`x`, one after the other) into `out` (`planes` rows of
    /// one index per window). The planes are laid side by side first (`side[at·planes + j]`
    /// is plane j's value at `at`), so that each window's running maximum, tap by tap, is
    /// one contiguous loop over the planes.
    fn max_indices<T: Float>(&self, x: &[T], planes: usize, out: &mut [i64]) {
        // Written in order, read across the planes (each plane's lines stay in cache).
        let mut side: Vec<T> = Vec::with_capacity(planes * self.plane);
        for at in 0..self.plane {
            side.extend(x.iter().skip(at).step_by(self.plane).copied());
        }
        // Positions as u32, as wide as the values: one vector of each per step.
        let (mut max, mut best) = (vec![T::neg_infinity(); planes], vec![0u32; planes]);
        wide(
            #[inline(always)]
            || {
                for (window, bounds) in self.from.windows(2).enumerate() {
                    let taps = &self.at[bounds[0]..bounds[1]];
                    max.fill(T::neg_infinity());
                    best.fill(taps.first().map_or(0, |&at| at as u32));
                    for &at in taps {
                        let values = &side[at * planes..][..planes];
                        for ((&v, max), best) in values.iter().zip(&mut max).zip(&mut best) {
                            // Selects, not a branch: which value wins is data.
                            let take = (v > *max) | v.is_nan();
                            *max = if take { v } else { *max };
                            *best = if take { at as u32 } else { *best };
                        }
                    }
                    for (j, &b) in best.iter().enumerate() {
                        out[j * self.windows + window] = i64::from(b);
                    }
                }
            },
        );
    }
}

/// The indices of one plane's windows into `out`, window by window: for few planes, where
/// laying them side by side leaves the vectors mostly empty.
fn max_indices_of_plane<T: Float>(plane: &[T], window: &Window2d, out: &mut [i64]) {
    let (ys, xs) = (window.spans(0), window.spans(1));
    let ([dy, dx], w) = (window.dilation, window.input[1]);
    let mut out = out.iter_mut();
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
            *out.next().expect("one index per window") = best as i64;
        }
    }
}

/// The elements im2col copies from one channel's plane, grouped in runs: one kernel element
/// `(ky, kx)` and one row of windows `oy`, over the windows `ox` for which it reads inside
/// the plane (padding is read as zero and never visited).
struct Runs {
    ys: Vec<(usize, usize, usize)>,
    xs: Vec<(usize, usize, usize)>,
    window: Window2d,
}

/// One run of [`Runs`]: `len` elements, the first at `at_plane` in the plane and the next
/// `plane_step` further on each; in a row of the columns, the windows `window..window + len`.
struct Run {
    at_plane: usize,
    plane_step: usize,
    window: usize,
    len: usize,
}

/// The windows of one kernel element as one block, when the stride is 1 and there are as many
/// windows per row as the plane has columns (a "same" convolution): the element window
/// `t = oy·OW + ox` reads is then `t + shift` in the plane, for every window whose read is
/// inside. `t_lo..t_hi` are the windows of the rows that read inside whose `t + shift` is in
/// the plane; those among them in columns outside the kernel element's range read across the
/// edge of a row, not what the kernel element reads: `keep` is false for them (im2col writes
/// zeros there, col2im leaves them out). One loop over the block instead of a run per row: a
/// few runs of a few values cost more in loop set-up than in copying.
struct Block {
    t_lo: usize,
    shift: isize,
    keep: Vec<bool>,
}

impl Block {
    /// The block's first position in the plane.
    fn at_plane(&self) -> usize {
        (self.t_lo as isize + self.shift) as usize
    }
}

impl Runs {
    /// Kernel element `kk`'s windows as one [`Block`], if the window's geometry allows it and
    /// the element reads inside the plane at all.
    fn block(&self, kk: usize) -> Option<Block> {
        let win = &self.window;
        let (w, ow) = (win.input[1], win.output[1]);
        if win.stride != [1, 1] || w != ow {
            return None;
        }
        let kw = win.kernel[1];
        let ((oy_lo, oy_hi, iy_lo), (ox_lo, ox_hi, ix_lo)) = (self.ys[kk / kw], self.xs[kk % kw]);
        if oy_lo == oy_hi || ox_lo == ox_hi {
            return None;
        }
        let shift = (iy_lo * w + ix_lo) as isize - (oy_lo * ow + ox_lo) as isize;
        let plane = (win.input[0] * w) as isize;
        let t_lo = ((oy_lo * ow) as isize).max(-shift) as usize;
        let t_hi = ((oy_hi * ow) as isize).min(plane - shift).max(t_lo as isize) as usize;
        let keep = (t_lo..t_hi).map(|t| (ox_lo..ox_hi).contains(&(t % ow))).collect();
        Some(Block { t_lo, shift, keep })
    }

    /// Calls `f` with every run of kernel element `kk = ky·KW + kx`, row of windows by row.
    #[inline(always)]
    fn each_of(&self, kk: usize, mut f: impl FnMut(Run)) {
        let (w, kw, ow) = (self.window.input[1], self.window.kernel[1], self.window.output[1]);
        let [sy, sx] = self.window.stride;
        let (oy_lo, oy_hi, iy_lo) = self.ys[kk / kw];
        let (ox_lo, ox_hi, ix_lo) = self.xs[kk % kw];
        if ox_lo == ox_hi {
            return; // this element reads padding in every window
        }
        for (oy, iy) in (oy_lo..oy_hi).zip((iy_lo..).step_by(sy)) {
            f(Run {
                at_plane: iy * w + ix_lo,
                plane_step: sx,
                window: oy * ow + ox_lo,
                len: ox_hi - ox_lo,
            });
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Every window of a `[N, C, H, W]` tensor as a column: a 2-D tensor `[C·KH·KW, N·OH·OW]`
    /// whose row `(c, ky, kx)` holds, for each sample `n` and window `(oy, ox)`, the element
    /// that kernel element `(ky, kx)` of channel `c` reads; padding reads 0. This is
    /// `F.unfold`'s layout with the samples side by side, so a convolution is one product
    /// `weight · columns` per group (the rows of a group's channels are one block), whose
    /// result `[C_out, N·OH·OW]` has each output plane as a contiguous run (im2col).
    ///
    /// Each row is written in order, in runs of one row of windows (contiguous in the plane
    /// as well when the stride is 1).
    pub fn im2col(&self, window: &Window2d) -> Result<Self> {
        let op = "im2col";
        window.check(op)?;
        let [n, c, h, w] = match *self.shape() {
            [n, c, h, w] if [h, w] == window.input => [n, c, h, w],
            _ => {
                return Err(Error::invalid(
                    op,
                    format!(
                        "expected an input [N, C, {}, {}], got {}",
                        window.input[0],
                        window.input[1],
                        Shape(self.shape().to_vec())
                    ),
                ))
            }
        };
        let (k, l) = (window.kernel_numel(), window.output_numel());
        let row_len = n * l;
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let runs = window.runs();
        let blocks: Vec<Option<Block>> = (0..k).map(|kk| runs.block(kk)).collect();
        // Blocks of whole rows shared between threads; zeros where a window reads padding.
        let per = (crate::tuning::ROW_BLOCK_VALUES / row_len.max(1)).max(1);
        let out = zeroed_blocks(c * k * row_len, per * row_len, per * row_len, |i, block| {
            // The selects and sums at the vector width the CPU has.
            wide(|| {
                for (r, row) in block.chunks_exact_mut(row_len).enumerate() {
                    let (ci, kk) = ((i * per + r) / k, (i * per + r) % k);
                    let block = &blocks[kk];
                    for (b, row) in row.chunks_exact_mut(l).enumerate() {
                        let plane = &x[(b * c + ci) * h * w..][..h * w];
                        if let Some(block) = block {
                            // Selects, not a copy and then zeros: one pass, no call of `memcpy`.
                            let to = &mut row[block.t_lo..][..block.keep.len()];
                            let from = &plane[block.at_plane()..][..block.keep.len()];
                            for ((t, &v), &keep) in to.iter_mut().zip(from).zip(&block.keep) {
                                *t = if keep { v } else { T::zero() };
                            }
                            continue;
                        }
                        runs.each_of(kk, |run| {
                            // Plain indices: a run is a few values, less than a call of `memcpy`
                            // (which `copy_from_slice` is) or `step_by`'s set-up.
                            let (to, from) = (&mut row[run.window..][..run.len], &plane[run.at_plane..]);
                            for (j, t) in to.iter_mut().enumerate() {
                                *t = from[j * run.plane_step];
                            }
                        });
                    }
                }
            })
        });
        Tensor::from_vec(out, &[c * k, row_len])
    }

    /// The adjoint of [`im2col`](Tensor::im2col): adds each element of a `[C·KH·KW,
    /// N·OH·OW]` tensor back into the `[N, C, H, W]` position it was read from (col2im);
    /// elements read from padding are dropped.
    pub fn col2im(&self, window: &Window2d) -> Result<Self> {
        let op = "col2im";
        window.check(op)?;
        let (k, l) = (window.kernel_numel(), window.output_numel());
        let [rows, row_len] = match *self.shape() {
            [rows, row_len] if l > 0 && rows % k == 0 && row_len % l == 0 => [rows, row_len],
            _ => {
                return Err(Error::invalid(
                    op,
                    format!("expected columns [C·{k}, N·{l}], got {}", Shape(self.shape().to_vec())),
                ))
            }
        };
        let (n, c) = (row_len / l, rows / k);
        let [h, w] = window.input;
        let cols = self.data.as_standard_layout();
        let cols = cols.as_slice().expect("standard layout");
        let runs = window.runs();
        // One block per sample (its planes), shared between threads.
        let blocks: Vec<Option<Block>> = (0..k).map(|kk| runs.block(kk)).collect();
        let out = zeroed_blocks(n * c * h * w, c * h * w, c * k * l, |b, sample| {
            // The selects and sums at the vector width the CPU has.
            wide(|| {
                let mut scratch = Vec::new();
                for (ci, plane) in sample.chunks_exact_mut(h * w).enumerate() {
                    for (kk, block) in blocks.iter().enumerate() {
                        let row = &cols[(ci * k + kk) * row_len + b * l..][..l];
                        if let Some(block) = block {
                            // The block's values, -0 for the edge-crossing windows (it adds
                            // nothing, not even to a -0), then one sum.
                            scratch.clear();
                            let from = row[block.t_lo..].iter().zip(&block.keep);
                            scratch.extend(from.map(|(&v, &keep)| if keep { v } else { -T::zero() }));
                            let to = &mut plane[block.at_plane()..][..scratch.len()];
                            to.iter_mut().zip(&scratch).for_each(|(t, &v)| *t += v);
                            continue;
                        }
                        runs.each_of(kk, |run| {
                            let (from, to) = (&row[run.window..][..run.len], &mut plane[run.at_plane..]);
                            for (j, &v) in from.iter().enumerate() {
                                to[j * run.plane_step] += v;
                            }
                        });
                    }
                }
            })
        });
        Tensor::from_vec(out, &[n, c, h, w])
    }

    /// For each window of each `[H, W]` plane of a `[R, H, W]` tensor, the position of its
    /// maximum within the plane (`iy·W + ix`), shape `[R, OH, OW]`, as max pooling's
    /// `return_indices`. The first maximum in row-major window order wins; a NaN is the
    /// maximum (a later NaN replaces an earlier one, as PyTorch's kernel); padding never wins.
    pub fn max_pool2d_indices(&self, window: &Window2d) -> Result<IndexTensor> {
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
        let mut out = vec![0i64; r * plane_out];
        if plane_in == 0 || plane_out == 0 {
            // Every window reads only padding (or there are none): index 0, as below.
            return IndexTensor::from_vec(out, &[r, oh, ow]);
        }
        // Blocks of planes shared between threads. With a vector's worth of planes or more,
        // the planes of a block are laid side by side, so each window's running maximum is
        // one loop over them at full vector width; fewer are taken one by one.
        const SIDE_BY_SIDE: usize = 16;
        let work = |planes: usize| planes * plane_out * window.kernel_numel();
        if r >= SIDE_BY_SIDE {
            let per = (crate::tuning::ROW_BLOCK_VALUES / plane_in).clamp(SIDE_BY_SIDE, r);
            let taps = Taps::new(window);
            for_each_block_mut(&mut out, per * plane_out, work(per), |i, block| {
                let planes = block.len() / plane_out;
                taps.max_indices(&x[i * per * plane_in..][..planes * plane_in], planes, block);
            });
        } else {
            let per = (crate::tuning::ROW_BLOCK_VALUES / plane_out).max(1);
            for_each_block_mut(&mut out, per * plane_out, work(per), |i, block| {
                let x = &x[i * per * plane_in..];
                for (plane, out) in x.chunks_exact(plane_in).zip(block.chunks_exact_mut(plane_out)) {
                    max_indices_of_plane(plane, window, out);
                }
            });
        }
        IndexTensor::from_vec(out, &[r, oh, ow])
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
        let mut out = Vec::with_capacity(rows * j);
        for (r, ix) in idx.chunks_exact(j.max(1)).enumerate().take(rows) {
            let row = &x[r * m..][..m];
            for &i in ix {
                out.push(row[check_column(op, i, m)?]);
            }
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
        let mut out = vec![T::zero(); rows * columns];
        for r in 0..rows {
            let row = &mut out[r * columns..][..columns];
            for (&i, &v) in idx[r * j..][..j].iter().zip(&src[r * j..][..j]) {
                row[check_column(op, i, columns)?] += v;
            }
        }
        Tensor::from_vec(out, &[rows, columns])
    }
}

impl<T: Float> Tensor<T> {
    /// `[B, R, C]` → `[B, C, R]`: each matrix of a batch transposed, as `x.transpose(1, 2)`,
    /// written in tiles so that reads and writes stay within a few cache lines, the matrices
    /// shared between threads.
    pub fn batch_transpose(&self) -> Result<Self> {
        const TILE: usize = 16;
        let [b, r, c] = match *self.shape() {
            [b, r, c] => [b, r, c],
            _ => {
                return Err(Error::invalid(
                    "batch_transpose",
                    format!("expected a 3-D tensor, got {}", Shape(self.shape().to_vec())),
                ))
            }
        };
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let out = zeroed_blocks(b * r * c, r * c, r * c, |m, dst| {
            let src = &x[m * r * c..][..r * c];
            for i0 in (0..r).step_by(TILE) {
                for j0 in (0..c).step_by(TILE) {
                    for i in i0..(i0 + TILE).min(r) {
                        for j in j0..(j0 + TILE).min(c) {
                            dst[j * r + i] = src[i * c + j];
                        }
                    }
                }
            }
        });
        Tensor::from_vec(out, &[b, c, r])
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

fn check_column(op: &'static str, i: i64, size: usize) -> Result<usize> {
    // A branch, not `ok_or(Error)`: that built (and dropped) an error for every index, 6% of
    // a CNN step in perf.
    match usize::try_from(i) {
        Ok(at) if at < size => Ok(at),
        _ => Err(Error::IndexOutOfBounds {
            op,
            index: i,
            dim: 1,
            size,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(input: [usize; 2], kernel: [usize; 2], stride: usize, padding: usize) -> Window2d {
        let out = |a: usize| (input[a] + 2 * padding - kernel[a]) / stride + 1;
        Window2d {
            input,
            output: [out(0), out(1)],
            kernel,
            stride: [stride; 2],
            dilation: [1; 2],
            padding: [padding; 2],
        }
    }

    /// The window of the given sizes over `input`, with as many windows as fit.
    fn geometry(
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: [usize; 2],
    ) -> Window2d {
        let out = |a: usize| (input[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) / stride[a] + 1;
        Window2d {
            input,
            output: [out(0), out(1)],
            kernel,
            stride,
            dilation,
            padding,
        }
    }

    /// Every window of every sample, element by element, from the definition, in the
    /// columns layout: row `(c, ky, kx)`, column `(n, oy, ox)`.
    fn naive_im2col(x: &Tensor<f64>, win: &Window2d) -> Vec<f64> {
        let [n, c, h, w] = *x.shape() else { unreachable!() };
        let x = x.to_vec();
        let mut out = vec![];
        for ci in 0..c {
            for ky in 0..win.kernel[0] {
                for kx in 0..win.kernel[1] {
                    for b in 0..n {
                        for oy in 0..win.output[0] {
                            for ox in 0..win.output[1] {
                                let iy = (oy * win.stride[0] + ky * win.dilation[0]) as isize - win.padding[0] as isize;
                                let ix = (ox * win.stride[1] + kx * win.dilation[1]) as isize - win.padding[1] as isize;
                                let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                                let at = (((b * c + ci) * h) as isize + iy) * w as isize + ix;
                                out.push(if inside { x[at as usize] } else { 0.0 });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// `<im2col(x), y> = <x, col2im(y)>` for a random `y`: col2im is im2col's adjoint.
    fn assert_adjoint(x: &Tensor<f64>, win: &Window2d) {
        let cols = x.im2col(win).unwrap();
        let y = Tensor::<f64>::randn(cols.shape(), 8);
        let back = y.col2im(win).unwrap();
        assert_eq!(back.shape(), x.shape());
        let lhs: f64 = cols.to_vec().iter().zip(y.to_vec()).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.to_vec().iter().zip(back.to_vec()).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0), "{win:?}: {lhs} {rhs}");
    }

    #[test]
    fn im2col_matches_the_definition_with_stride_dilation_and_wide_padding() {
        // Kernel elements that read padding in every window, strides that skip columns,
        // windows wider than the plane, more rows than one block of the threads holds.
        for (input, kernel, stride, dilation, padding, samples) in [
            ([2, 2], [3, 3], [1, 1], [2, 2], [2, 2], 2),
            ([5, 7], [3, 2], [2, 3], [1, 2], [1, 0], 2),
            ([1, 1], [3, 3], [1, 1], [1, 1], [1, 1], 2),
            ([6, 4], [2, 3], [3, 1], [2, 1], [0, 2], 2),
            ([8, 8], [3, 3], [1, 1], [1, 1], [1, 1], 70),
        ] {
            let win = geometry(input, kernel, stride, dilation, padding);
            let x = Tensor::<f64>::randn(&[samples, 4, input[0], input[1]], 7);
            assert_eq!(x.im2col(&win).unwrap().to_vec(), naive_im2col(&x, &win), "{win:?}");
            assert_adjoint(&x, &win);
        }
    }

    #[test]
    fn im2col_lays_out_each_window_and_col2im_is_its_adjoint() {
        let x = Tensor::<f64>::from_vec((1..=9).map(f64::from).collect(), &[1, 1, 3, 3]).unwrap();
        let win = window([3, 3], [2, 2], 1, 0);
        let cols = x.im2col(&win).unwrap();
        assert_eq!(cols.shape(), [4, 4]);
        // Row (ky, kx), the element each of the four windows reads there.
        assert_eq!(
            cols.to_vec(),
            [1., 2., 4., 5., 2., 3., 5., 6., 4., 5., 7., 8., 5., 6., 8., 9.]
        );
        assert_adjoint(&Tensor::<f64>::randn(&[2, 4, 5, 4], 1), &window([5, 4], [3, 2], 2, 1));
        // Shapes that do not fit are errors that name them.
        let err = cols.col2im(&window([3, 3], [2, 3], 1, 0)).unwrap_err().to_string();
        assert!(err.contains("col2im") && err.contains("[4, 4]"), "{err}");
        let err = x.im2col(&window([4, 3], [2, 2], 1, 0)).unwrap_err().to_string();
        assert!(err.contains("im2col") && err.contains("[1, 1, 3, 3]"), "{err}");
    }

    #[test]
    fn batch_transpose_is_transpose_1_2() {
        let x = Tensor::<f32>::randn(&[3, 17, 5], 4);
        assert_eq!(x.batch_transpose().unwrap(), x.transpose(1, 2).unwrap());
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
    fn max_indices_match_the_definition_with_ties_nans_and_padding() {
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
            assert_eq!(
                x.max_pool2d_indices(&win).unwrap().to_vec(),
                naive_max_indices(&x, &win),
                "{win:?}"
            );
            let all_low = Tensor::from_vec(vec![f32::NEG_INFINITY; n], x.shape()).unwrap();
            assert_eq!(
                all_low.max_pool2d_indices(&win).unwrap().to_vec(),
                naive_max_indices(&all_low, &win)
            );
        }
    }

    #[test]
    fn max_indices_take_the_first_maximum_and_nan() {
        let x = Tensor::<f32>::from_vec(vec![1., 1., 1., 1.], &[1, 2, 2]).unwrap();
        let win = window([2, 2], [2, 2], 1, 0);
        assert_eq!(x.max_pool2d_indices(&win).unwrap().to_vec(), [0]);
        let x = Tensor::<f32>::from_vec(vec![1., f32::NAN, 5., 1.], &[1, 2, 2]).unwrap();
        assert_eq!(x.max_pool2d_indices(&win).unwrap().to_vec(), [1]);
    }

    #[test]
    fn gather_and_scatter_rows_are_adjoint_and_check_indices() {
        let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let idx = IndexTensor::from_vec(vec![2, 2, 0, 1], &[2, 2]).unwrap();
        let g = x.gather_rows(&idx).unwrap();
        assert_eq!(g.to_vec(), [3., 3., 4., 5.]);
        assert_eq!(g.scatter_add_rows(&idx, 3).unwrap().to_vec(), [0., 0., 6., 4., 5., 0.]);
        let bad = IndexTensor::from_vec(vec![3, 0, 0, 0], &[2, 2]).unwrap();
        assert!(x.gather_rows(&bad).is_err());
        assert!(g.scatter_add_rows(&bad, 3).is_err());
    }
}
