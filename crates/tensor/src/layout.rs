//! Ops that cut, pad, shift, mirror or accumulate along dimensions: `split`, `chunk`, `pad`,
//! `roll`, `flip`, `cumsum`.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use crate::kernels::wide;
use crate::parallel::{filled_vec, segments_vec, write_all};
use crate::reduce::split_at_dim;
use crate::shape_ops::row_major;
use crate::tensor::checked_shape;
use crate::{normalize_dim, normalize_dims, Error, Float, Result, Shape, Tensor};

impl<T: Float> Tensor<T> {
    /// Pieces of `size` elements along `dim` (the last one smaller if `size` does not divide
    /// the dimension), as `torch.split(t, size, dim)`.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Self>> {
        split_ranges("split", self.shape(), size, dim)?
            .into_iter()
            .map(|(start, len)| self.narrow(dim, start, len))
            .collect()
    }

    /// `chunks` pieces of `ceil(n / chunks)` elements along `dim` (fewer pieces if the
    /// dimension runs out first), as `torch.chunk(t, chunks, dim)`.
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Self>> {
        self.split(chunk_size("chunk", self.shape(), chunks, dim)?, dim)
    }

    /// Pads the trailing dimensions with `value`, as `torch.nn.functional.pad(t, pad,
    /// value=value)` in constant mode: `pad[0]` is `(before, after)` for the last dimension,
    /// `pad[1]` for the one before it, and so on (F.pad's flat list, in pairs). A negative
    /// amount removes elements from that side.
    pub fn pad(&self, pad: &[(isize, isize)], value: T) -> Result<Self> {
        let plan = pad_plan(self.shape(), pad)?;
        let shape: Vec<usize> = plan.iter().map(|p| p.out).collect();
        checked_shape("pad", &shape)?;
        if let Some(values) = self.data.as_slice().filter(|_| self.ndim() > 0) {
            return Ok(Tensor::from_standard(pad_lanes(values, &plan, value), &shape));
        }
        let mut out = ArrayD::from_elem(IxDyn(&shape), value);
        if plan.iter().all(|p| p.len > 0) {
            out.slice_each_axis_mut(|ax| {
                let p = &plan[ax.axis.index()];
                Slice::from(p.dst..p.dst + p.len)
            })
            .assign(&self.data.slice_each_axis(|ax| {
                let p = &plan[ax.axis.index()];
                Slice::from(p.src..p.src + p.len)
            }));
        }
        Ok(Tensor::from_array(out))
    }

    /// Shifts the elements by `shifts[i]` along `dims[i]`, those pushed off the end coming
    /// back at the start, as `torch.roll`. With no `dims` the tensor is rolled as if flat
    /// (one shift).
    pub fn roll(&self, shifts: &[isize], dims: &[isize]) -> Result<Self> {
        if dims.is_empty() {
            if shifts.len() != 1 {
                return Err(roll_mismatch(shifts, dims));
            }
            let flat = self.reshape(&[self.numel()])?;
            return flat.roll(shifts, &[0])?.reshape(self.shape());
        }
        if shifts.len() != dims.len() {
            return Err(roll_mismatch(shifts, dims));
        }
        if let Some(values) = self.data.as_slice().filter(|_| self.ndim() > 0) {
            // The shift of each dimension (a dimension named twice moves by both), then each
            // lane of the last dimension from the input lane `shift` indices back, itself in
            // two pieces if the last dimension moves.
            let mut by = vec![0usize; self.ndim()];
            for (&shift, &dim) in shifts.iter().zip(dims) {
                let d = normalize_dim("roll", dim, self.ndim())?;
                let n = self.shape()[d].max(1) as isize;
                by[d] = (by[d] as isize + shift).rem_euclid(n) as usize;
            }
            let (outer, &[len]) = self.shape().split_at(self.ndim() - 1) else {
                unreachable!("at least one dimension")
            };
            let s = by[self.ndim() - 1];
            let out = remap_lanes(
                values,
                (outer, len),
                (outer, len),
                |d, i| Some((i + outer[d] - by[d]) % outer[d]),
                |lane, out| {
                    let lane = lane.expect("every index is inside");
                    let (head, tail) = out.split_at_mut(s);
                    write_all(head, &lane[len - s..]);
                    write_all(tail, &lane[..len - s]);
                },
            );
            return Ok(Tensor::from_standard(out, self.shape()));
        }
        let mut data = self.data.clone();
        for (&shift, &dim) in shifts.iter().zip(dims) {
            let d = normalize_dim("roll", dim, self.ndim())?;
            let n = self.shape()[d];
            if n == 0 {
                continue;
            }
            let s = shift.rem_euclid(n as isize) as usize;
            if s == 0 {
                continue;
            }
            let mut rolled = data.clone();
            rolled
                .slice_axis_mut(Axis(d), Slice::from(s..))
                .assign(&data.slice_axis(Axis(d), Slice::from(..n - s)));
            rolled
                .slice_axis_mut(Axis(d), Slice::from(..s))
                .assign(&data.slice_axis(Axis(d), Slice::from(n - s..)));
            data = rolled;
        }
        Ok(Tensor { data })
    }

    /// Reverses the order of the elements along each of `dims`, as `torch.flip`.
    pub fn flip(&self, dims: &[isize]) -> Result<Self> {
        if dims.is_empty() {
            return Ok(self.clone());
        }
        let flipped = normalize_dims("flip", dims, self.ndim())?;
        if let Some(values) = self.data.as_slice().filter(|_| self.ndim() > 0) {
            // Each lane of the last dimension from the input lane at the mirrored index,
            // reversed if the last dimension is flipped too.
            let (outer, &[len]) = self.shape().split_at(self.ndim() - 1) else {
                unreachable!("at least one dimension")
            };
            let reversed = flipped.contains(&(self.ndim() - 1));
            let out = remap_lanes(
                values,
                (outer, len),
                (outer, len),
                |d, i| Some(if flipped.contains(&d) { outer[d] - 1 - i } else { i }),
                |lane, out| {
                    let lane = lane.expect("every index is inside");
                    match reversed {
                        true => out.iter_mut().zip(lane.iter().rev()).for_each(|(o, &v)| _ = o.write(v)),
                        false => write_all(out, lane),
                    }
                },
            );
            return Ok(Tensor::from_standard(out, self.shape()));
        }
        let mut view = self.data.view();
        for d in flipped {
            view.invert_axis(Axis(d));
        }
        Ok(Tensor::from_standard(row_major(&view), self.shape()))
    }

    /// The running sum along `dim`: `out[i] = x[0] + ... + x[i]`, as `torch.cumsum`; each
    /// running sum kept in `f64` and written rounded, as PyTorch's CPU kernel does.
    ///
    /// Along the last dimension, rows go through a small tile in blocks of columns and 16
    /// running sums advance side by side (a running sum is a chain of additions, one row
    /// alone waits on each); along an earlier one, the lanes side by side. Blocks of rows are
    /// shared between threads.
    pub fn cumsum(&self, dim: isize) -> Result<Self> {
        self.scan("cumsum", dim, false)
    }

    /// The running sum along `dim` taken from the end: `out[i] = x[i] + ... + x[n - 1]`, the
    /// same additions in the same order as `x.flip(dim).cumsum(dim).flip(dim)` (PyTorch's
    /// `reversed_cumsum`, the gradient of `cumsum`) in one pass.
    pub fn reversed_cumsum(&self, dim: isize) -> Result<Self> {
        self.scan("reversed_cumsum", dim, true)
    }

    /// [`Tensor::cumsum`] from the start or, `reverse`, from the end.
    fn scan(&self, op: &'static str, dim: isize, reverse: bool) -> Result<Self> {
        let d = normalize_dim(op, dim, self.ndim().max(1))?;
        if self.ndim() == 0 || self.numel() == 0 {
            return Ok(self.clone());
        }
        let x = self.data.as_standard_layout();
        let x = x.as_slice().expect("a standard-layout array is one slice");
        let [_, n, inner] = split_at_dim(self.shape(), d);
        let block = n * inner * if inner == 1 { SCAN_ROWS } else { 1 };
        // SAFETY: both loops write every value of the block (whole rows, or whole lanes).
        let out = unsafe {
            filled_vec(x.len(), block, block, |b, out| {
                let x = &x[b * block..][..out.len()];
                if inner == 1 {
                    wide(
                        #[inline(always)]
                        || scan_rows(x, out, n, reverse),
                    );
                    return;
                }
                let mut sums = vec![0.0f64; inner];
                let mut step = |row: &[T], out: &mut [MaybeUninit<T>]| {
                    for ((sum, &v), o) in sums.iter_mut().zip(row).zip(out) {
                        *sum += v.f64();
                        o.write(T::of(*sum));
                    }
                };
                let pairs = x.chunks_exact(inner).zip(out.chunks_exact_mut(inner));
                wide(
                    #[inline(always)]
                    || match reverse {
                        false => pairs.for_each(|(row, out)| step(row, out)),
                        true => pairs.rev().for_each(|(row, out)| step(row, out)),
                    },
                )
            })
        };
        Ok(Tensor::from_standard(out, self.shape()))
    }
}

/// Rows of a running sum along the last dimension summed side by side.
const SCAN_ROWS: usize = 16;
/// Columns of those rows copied into the tile at a time.
const SCAN_COLUMNS: usize = 64;

/// Running sums of up to [`SCAN_ROWS`] rows of `n` values (`x` and `out` hold whole rows),
/// from the start or, `reverse`, from the end. A block of columns of every row is copied in
/// `f64` into a tile, read row by row; the sums advance there column by column, side by side,
/// and the tile is written back row by row. Reading the rows column by column in place would
/// put every row's loads and stores at the same offset in their pages when the row length is a
/// multiple of 1024, which stalls the loads.
#[inline(always)]
fn scan_rows<T: Float>(x: &[T], out: &mut [MaybeUninit<T>], n: usize, reverse: bool) {
    let rows = x.len() / n;
    let mut sums = [0.0f64; SCAN_ROWS];
    let mut tile = [[0.0f64; SCAN_COLUMNS]; SCAN_ROWS];
    let tiles = n.div_ceil(SCAN_COLUMNS);
    for t in 0..tiles {
        let start = if reverse { tiles - 1 - t } else { t } * SCAN_COLUMNS;
        let width = SCAN_COLUMNS.min(n - start);
        for (r, lane) in tile[..rows].iter_mut().enumerate() {
            for (l, &v) in lane.iter_mut().zip(&x[r * n + start..][..width]) {
                *l = v.f64();
            }
        }
        for j in 0..width {
            let j = if reverse { width - 1 - j } else { j };
            for (sum, lane) in sums.iter_mut().zip(&mut tile) {
                *sum += lane[j];
                lane[j] = *sum;
            }
        }
        for (r, lane) in tile[..rows].iter().enumerate() {
            for (o, &l) in out[r * n + start..][..width].iter_mut().zip(lane) {
                o.write(T::of(l));
            }
        }
    }
}

/// `(start, length)` of each piece of `torch.split(t, size, dim)`.
pub fn split_ranges(op: &'static str, shape: &[usize], size: usize, dim: isize) -> Result<Vec<(usize, usize)>> {
    let d = normalize_dim(op, dim, shape.len())?;
    let n = shape[d];
    if size == 0 {
        if n == 0 {
            return Ok(vec![(0, 0)]);
        }
        return Err(Error::invalid(
            op,
            format!("split_size can only be 0 if dimension size is 0, but got dimension size of {n}"),
        ));
    }
    if n == 0 {
        return Ok(vec![(0, 0)]);
    }
    Ok((0..n).step_by(size).map(|start| (start, size.min(n - start))).collect())
}

/// The piece size of `torch.chunk(t, chunks, dim)`: `ceil(n / chunks)`.
pub fn chunk_size(op: &'static str, shape: &[usize], chunks: usize, dim: isize) -> Result<usize> {
    if chunks == 0 {
        return Err(Error::invalid(
            op,
            format!("chunk expects `chunks` to be greater than 0, got: {chunks}"),
        ));
    }
    let d = normalize_dim(op, dim, shape.len())?;
    Ok(shape[d].div_ceil(chunks))
}

/// Where one dimension's elements go when padding: `len` elements from `src` in an input of
/// `input` elements to `dst` in an output of `out` elements.
struct AxisPad {
    input: usize,
    out: usize,
    src: usize,
    dst: usize,
    len: usize,
}

/// The lanes of the last dimension of a row-major output whose dimensions before the last are
/// `outer_out`, each `out_len` long, built from the row-major `values` of an input whose
/// dimensions before the last are `outer_in`, with lanes `in_len` long: the output lane at
/// index `i` along each dimension `d` reads the input lane at index `index(d, i)` (none if
/// any is `None`), and `fill(input_lane, output_lane)` writes every value of the output lane.
/// Lanes go in blocks shared between threads, into memory not cleared first: `pad`, `flip`
/// and `roll` of a row-major tensor, and `broadcast_to`.
pub(crate) fn remap_lanes<T: Float>(
    values: &[T],
    (outer_in, in_len): (&[usize], usize),
    (outer_out, out_len): (&[usize], usize),
    index: impl Fn(usize, usize) -> Option<usize> + Sync + Send,
    fill: impl Fn(Option<&[T]>, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    // The input's row-major strides of the dimensions before the last, in values.
    let mut strides = vec![0; outer_in.len()];
    let mut stride = in_len;
    for (d, &n) in outer_in.iter().enumerate().rev() {
        strides[d] = stride;
        stride *= n;
    }
    let lanes = outer_out.iter().product();
    // SAFETY: `fill` writes every value of each lane (the callers' word, below).
    unsafe {
        segments_vec(lanes, out_len, |lane, out| {
            let (mut rest, mut from) = (lane, Some(0));
            for (d, &n) in outer_out.iter().enumerate().rev() {
                let i = rest % n;
                rest /= n;
                from = from.and_then(|f| index(d, i).map(|j| f + j * strides[d]));
            }
            fill(from.map(|f| &values[f..f + in_len]), out)
        })
    }
}

/// [`Tensor::pad`] of row-major `values`, one lane of the last dimension at a time: `value`s,
/// the input lane's kept part, `value`s; or all `value`s for a lane that a padded dimension
/// before the last puts outside the input.
fn pad_lanes<T: Float>(values: &[T], plan: &[AxisPad], value: T) -> Vec<T> {
    let (outer, last) = plan.split_at(plan.len() - 1);
    let last = &last[0];
    let sizes = |f: fn(&AxisPad) -> usize| outer.iter().map(f).collect::<Vec<_>>();
    let (outer_in, outer_out) = (sizes(|p| p.input), sizes(|p| p.out));
    remap_lanes(
        values,
        (&outer_in, last.input),
        (&outer_out, last.out),
        |d, i| {
            let p = &outer[d];
            (p.dst..p.dst + p.len).contains(&i).then(|| i - p.dst + p.src)
        },
        |lane, out| {
            let (head, rest) = out.split_at_mut(last.dst);
            head.fill(MaybeUninit::new(value));
            match lane {
                Some(lane) => {
                    let (kept, tail) = rest.split_at_mut(last.len);
                    write_all(kept, &lane[last.src..last.src + last.len]);
                    tail.fill(MaybeUninit::new(value));
                }
                None => rest.fill(MaybeUninit::new(value)),
            }
        },
    )
}

fn pad_plan(shape: &[usize], pad: &[(isize, isize)]) -> Result<Vec<AxisPad>> {
    if pad.len() > shape.len() {
        return Err(Error::invalid(
            "pad",
            format!(
                "Padding length should be less than or equal to two times the input dimension but got padding length {} and input of dimension {}",
                2 * pad.len(),
                shape.len()
            ),
        ));
    }
    let first_padded = shape.len() - pad.len();
    (0..shape.len())
        .map(|d| {
            let n = shape[d] as isize;
            let (before, after) = if d < first_padded {
                (0, 0)
            } else {
                pad[shape.len() - 1 - d]
            };
            let out = n + before + after;
            if out < 0 {
                return Err(Error::invalid(
                    "pad",
                    format!(
                        "The input size {n}, plus negative padding {before} and {after} resulted in a negative output size, which is invalid. Check dimension {d} of your input (shape {}).",
                        Shape(shape.to_vec())
                    ),
                ));
            }
            let src = (-before).max(0);
            let dst = before.max(0);
            let len = (n - src - (-after).max(0)).max(0).min(out);
            Ok(AxisPad {
                input: n as usize,
                out: out as usize,
                src: src.min(n) as usize,
                dst: dst.min(out) as usize,
                len: len as usize,
            })
        })
        .collect()
}

fn roll_mismatch(shifts: &[isize], dims: &[isize]) -> Error {
    Error::invalid(
        "roll",
        format!(
            "shifts and dimensions must align. shifts: {}, dims:{}",
            shifts.len(),
            dims.len()
        ),
    )
}
