//! Sliding windows over the last two dimensions, the kernels of convolution and pooling:
//! `im2col` (every window laid out as a column) and its adjoint `col2im` here; the argmax of
//! each window for max pooling, and a row-wise gather / scatter-add pair that routes values by
//! those indices, in [`pool`]; the layout of a convolution's output, in [`output`]; a whole
//! convolution in chunks of samples, forward and backward, in [`chunks`].
//!
//! A one-dimensional window is the same thing with a height of 1.

mod chunks;
mod output;
mod pool;
mod same;

pub use chunks::{ConvColumns, ConvGrads};

use same::Shifted;

use crate::kernels::wide;
use crate::parallel::zeroed_blocks;
use crate::{Error, Float, Result, Shape, Tensor};

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

    /// `[N, C, H, W]` of an input `shape` whose planes are this window's input, the window's
    /// sizes checked too; else an error of `op` that names them.
    fn input_of(&self, op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
        self.check(op)?;
        match *shape {
            [n, c, h, w] if [h, w] == self.input => Ok([n, c, h, w]),
            _ => Err(Error::invalid(
                op,
                format!(
                    "expected an input [N, C, {}, {}], got {}",
                    self.input[0],
                    self.input[1],
                    Shape(shape.to_vec())
                ),
            )),
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
        let [n, c, h, w] = window.input_of("im2col", self.shape())?;
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let (k, l) = (window.kernel_numel(), window.output_numel());
        Tensor::from_vec(im2col_values(x, [n, c, h, w], window), &[c * k, n * l])
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
        Tensor::from_vec(col2im_values(cols, n, c, window), &[n, c, h, w])
    }
}

/// [`Tensor::im2col`] of the values of a `[N, C, H, W]` input (`[H, W]` the window's input,
/// checked by the caller): the columns `[C·K, N·L]`.
pub(crate) fn im2col_values<T: Float>(x: &[T], [n, c, h, w]: [usize; 4], window: &Window2d) -> Vec<T> {
    let (k, l) = (window.kernel_numel(), window.output_numel());
    let row_len = n * l;
    let runs = window.runs();
    if let Some(same) = Shifted::new(window, &runs, n, c) {
        return same.im2col(x, c);
    }
    let blocks: Vec<Option<Block>> = (0..k).map(|kk| runs.block(kk)).collect();
    rows_of_columns(
        c,
        k,
        row_len,
        #[inline(always)]
        |ci, kk, row| {
            for (b, row) in row.chunks_exact_mut(l).enumerate() {
                let plane = &x[(b * c + ci) * h * w..][..h * w];
                if let Some(block) = &blocks[kk] {
                    let len = block.keep.len();
                    select(&mut row[block.t_lo..][..len], &plane[block.at_plane()..], &block.keep);
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
        },
    )
}

/// [`Tensor::col2im`] of the values of columns `[C·K, N·L]`: the sums `[N, C, H, W]`.
pub(crate) fn col2im_values<T: Float>(cols: &[T], n: usize, c: usize, window: &Window2d) -> Vec<T> {
    let (k, l) = (window.kernel_numel(), window.output_numel());
    let row_len = n * l;
    let [h, w] = window.input;
    let runs = window.runs();
    if let Some(same) = Shifted::new(window, &runs, n, c) {
        return same.col2im(cols, c);
    }
    // One block per sample (its planes), shared between threads.
    let blocks: Vec<Option<Block>> = (0..k).map(|kk| runs.block(kk)).collect();
    zeroed_blocks(n * c * h * w, c * h * w, c * k * l, |b, sample| {
        // The selects and sums at the vector width the CPU has.
        wide(
            #[inline(always)]
            || {
                for (ci, plane) in sample.chunks_exact_mut(h * w).enumerate() {
                    for (kk, block) in blocks.iter().enumerate() {
                        let row = &cols[(ci * k + kk) * row_len + b * l..][..l];
                        if let Some(block) = block {
                            let len = block.keep.len();
                            add_selected(&mut plane[block.at_plane()..][..len], &row[block.t_lo..], &block.keep);
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
            },
        )
    })
}

/// `f(c, kk, row)` for each row of columns `[C·K, row_len]` (channel `c`, kernel element
/// `kk`), each row cleared first: blocks of whole rows shared between threads, the loops
/// compiled for the CPU's vector width.
fn rows_of_columns<T: Float>(
    c: usize,
    k: usize,
    row_len: usize,
    f: impl Fn(usize, usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let per = (crate::tuning::ROW_BLOCK_VALUES / row_len.max(1)).max(1);
    zeroed_blocks(c * k * row_len, per * row_len, per * row_len, |i, block| {
        wide(
            #[inline(always)]
            || {
                for (r, row) in block.chunks_exact_mut(row_len).enumerate() {
                    f((i * per + r) / k, (i * per + r) % k, row);
                }
            },
        )
    })
}

/// `to[i] = from[i]` where `keep[i]`, else 0: im2col's windows that read across a row's
/// edge. Selects, not a copy and then zeros: one pass, no call of `memcpy`.
#[inline(always)]
fn select<T: Float>(to: &mut [T], from: &[T], keep: &[bool]) {
    for ((t, &v), &keep) in to.iter_mut().zip(from).zip(keep) {
        *t = if keep { v } else { T::zero() };
    }
}

/// `to[i] += from[i]` where `keep[i]`, else `+= -0`, which adds nothing (not even to a -0):
/// col2im's sums, one loop without a branch.
#[inline(always)]
fn add_selected<T: Float>(to: &mut [T], from: &[T], keep: &[bool]) {
    for ((t, &v), &keep) in to.iter_mut().zip(from).zip(keep) {
        *t += if keep { v } else { -T::zero() };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn window(input: [usize; 2], kernel: [usize; 2], stride: usize, padding: usize) -> Window2d {
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
    pub(crate) fn geometry(
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

    /// The input position (`None` for padding) each element of the columns reads, from the
    /// definition, element by element in the columns' order: row `(c, ky, kx)`, column
    /// `(n, oy, ox)`.
    fn reads(shape: [usize; 4], win: &Window2d) -> Vec<Option<usize>> {
        let [n, c, h, w] = shape;
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
                                out.push(inside.then_some(at as usize));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// im2col from the definition.
    fn naive_im2col(x: &Tensor<f64>, win: &Window2d) -> Vec<f64> {
        let [n, c, h, w] = *x.shape() else { unreachable!() };
        let x = x.to_vec();
        reads([n, c, h, w], win)
            .iter()
            .map(|at| at.map_or(0.0, |at| x[at]))
            .collect()
    }

    /// col2im from the definition: each element of `cols` added into the position it read,
    /// row by row, so each position's sum is in kernel-element order.
    fn naive_col2im(cols: &Tensor<f64>, win: &Window2d, shape: [usize; 4]) -> Vec<f64> {
        let mut out = vec![0.0; shape.iter().product()];
        for (at, v) in reads(shape, win).into_iter().zip(cols.to_vec()) {
            if let Some(at) = at {
                out[at] += v;
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
            // "Same" windows over planes of a few values, many samples, one channel or several;
            // over planes of more values than `SHIFTED_MAX_PLANE`, taken plane by plane.
            ([9, 8], [3, 3], [1, 1], [1, 1], [1, 1], 5),
            ([4, 4], [3, 3], [1, 1], [1, 1], [1, 1], 90),
            ([3, 5], [3, 5], [1, 1], [1, 1], [1, 2], 300),
            ([4, 3], [2, 3], [1, 1], [2, 1], [1, 1], 7),
        ] {
            let win = geometry(input, kernel, stride, dilation, padding);
            for channels in [1, 4] {
                let x = Tensor::<f64>::randn(&[samples, channels, input[0], input[1]], 7);
                assert_eq!(x.im2col(&win).unwrap().to_vec(), naive_im2col(&x, &win), "{win:?}");
                assert_adjoint(&x, &win);
                let cols = Tensor::<f64>::randn(&[channels * win.kernel_numel(), samples * win.output_numel()], 3);
                let want = naive_col2im(&cols, &win, [samples, channels, input[0], input[1]]);
                assert_eq!(cols.col2im(&win).unwrap().to_vec(), want, "{win:?}");
            }
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
}
