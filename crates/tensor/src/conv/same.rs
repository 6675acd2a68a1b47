//! im2col and col2im of a "same" window: stride 1 and as many windows as the plane has
//! elements (`OH = H`, `OW = W`), the geometry of most small convolutions.
//!
//! There, window `t` of a plane reads element `t + shift` of the same plane for a kernel
//! element, wherever it reads inside at all. A row of the columns (one channel, one kernel
//! element) holds the windows of the `N` samples one after the other, `N·L` of them; with the
//! channel's `N` planes laid one after the other too (`[C, N, L]`, the input's first two
//! dimensions swapped), window `j` of the row reads element `j + shift` of that run. So each
//! row is one loop over `N·L` values, a mask saying which windows read inside their own
//! plane, instead of a loop per plane: for planes of a few values (a 4x4 plane is 16), the
//! set-up of a loop per plane cost more than its copying.

use std::borrow::Cow;
use std::ops::Range;

use ndarray::{ArrayViewD, IxDyn};

use super::{add_selected, rows_of_columns, select, Runs, Window2d};
use crate::kernels::wide;
use crate::parallel::zeroed_blocks;
use crate::shape_ops::row_major;
use crate::tuning::SHIFTED_MAX_PLANE;
use crate::Float;

/// A mask's period is the fewest whole planes of at least this many windows: the loops over a
/// row restart at each period.
const MIN_PERIOD: usize = 1024;

/// The shift and mask of each kernel element of a "same" window over `len` windows (`N`
/// planes of `L`).
pub(super) struct Shifted {
    /// For kernel element `kk`: `None` if it reads only padding, else its shift and, for
    /// window `j`, whether it reads inside its own plane: `mask[j % period]`.
    taps: Vec<Option<(isize, Vec<bool>)>>,
    period: usize,
    /// Values of a plane, `L`.
    plane: usize,
    /// Windows of a row, `N·L`.
    len: usize,
}

impl Shifted {
    /// The shifts and masks of `window` over `samples` planes, if it is a "same" window and
    /// the planes are worth laying one after the other (see [`SHIFTED_MAX_PLANE`]).
    pub(super) fn new(window: &Window2d, runs: &Runs, samples: usize, channels: usize) -> Option<Shifted> {
        let l = window.output_numel();
        let same = window.stride == [1, 1] && window.output == window.input && l > 0;
        if !same || (channels > 1 && l > SHIFTED_MAX_PLANE) {
            return None;
        }
        let period = l * MIN_PERIOD.div_ceil(l);
        let taps = (0..window.kernel_numel())
            .map(|kk| {
                runs.block(kk).map(|block| {
                    let mut mask = vec![false; period];
                    for plane in mask.chunks_exact_mut(l) {
                        plane[block.t_lo..][..block.keep.len()].copy_from_slice(&block.keep);
                    }
                    (block.shift, mask)
                })
            })
            .collect();
        Some(Shifted {
            taps,
            period,
            plane: l,
            len: samples * l,
        })
    }

    /// Calls `f(windows, at, mask)` for kernel element `kk` over the windows `j` that read
    /// an element `j + shift` in `reads` (positions in the run of `len`), in pieces:
    /// `windows` a range of them, `at` the position the first one reads, `mask` one flag per
    /// window of the piece.
    #[inline(always)]
    fn pieces(&self, kk: usize, reads: Range<usize>, mut f: impl FnMut(Range<usize>, usize, &[bool])) {
        let Some((shift, mask)) = &self.taps[kk] else { return };
        let clip = |p: usize| (p as isize - shift).clamp(0, self.len as isize) as usize;
        let (mut j, end) = (clip(reads.start), clip(reads.end));
        while j < end {
            let m = j % self.period;
            let to = (j + self.period - m).min(end);
            f(j..to, (j as isize + shift) as usize, &mask[m..m + (to - j)]);
            j = to;
        }
    }
    /// im2col of `x` (`[N, C, L]`, the `N` of [`new`](Shifted::new)): each row of the
    /// columns one masked copy from its channel's planes.
    pub(super) fn im2col<T: Float>(&self, x: &[T], c: usize) -> Vec<T> {
        let (k, row_len) = (self.taps.len(), self.len);
        let planes = if c == 1 {
            Cow::Borrowed(x)
        } else {
            Cow::Owned(swap_leading(x, row_len / self.plane, c, self.plane))
        };
        rows_of_columns(
            c,
            k,
            row_len,
            #[inline(always)]
            |ci, kk, row| {
                let planes = &planes[ci * row_len..][..row_len];
                self.pieces(
                    kk,
                    0..row_len,
                    #[inline(always)]
                    |windows, at, mask| select(&mut row[windows], &planes[at..], mask),
                );
            },
        )
    }

    /// col2im of `cols` (`[C·K, N·L]`) into `[N, C, L]`: the sums made in the channels'
    /// planes laid one after the other, in blocks of positions shared between threads, each
    /// position's sum over the kernel elements in their order (as plane by plane).
    pub(super) fn col2im<T: Float>(&self, cols: &[T], c: usize) -> Vec<T> {
        let (k, row_len) = (self.taps.len(), self.len);
        let per = (crate::tuning::ROW_BLOCK_VALUES / k).max(1);
        let sums = zeroed_blocks(c * row_len, per, per * k, |i, block| {
            wide(
                #[inline(always)]
                || {
                    // A block may end one channel's planes and start the next one's.
                    let (mut from, mut rest) = (i * per, block);
                    while !rest.is_empty() {
                        let (ci, at) = (from / row_len, from % row_len);
                        let (sums, tail) = rest.split_at_mut((row_len - at).min(rest.len()));
                        for kk in 0..k {
                            let row = &cols[(ci * k + kk) * row_len..][..row_len];
                            self.pieces(
                                kk,
                                at..at + sums.len(),
                                #[inline(always)]
                                |windows, to, mask| add_selected(&mut sums[to - at..], &row[windows], mask),
                            );
                        }
                        from += sums.len();
                        rest = tail;
                    }
                },
            )
        });
        if c == 1 {
            sums
        } else {
            swap_leading(&sums, c, row_len / self.plane, self.plane)
        }
    }
}

/// `[A, B, L]` → `[B, A, L]`: the first two dimensions of `x` swapped, by the copy of a permuted
/// view (runs of `l`, in blocks shared between threads).
fn swap_leading<T: Float>(x: &[T], a: usize, b: usize, l: usize) -> Vec<T> {
    let view = ArrayViewD::from_shape(IxDyn(&[a, b, l]), x).expect("a·b·l values");
    row_major(&view.permuted_axes(IxDyn(&[1, 0, 2])))
}
