//! `C = A·B` for `f32` matrices of middle size with AVX-512: the products of a small model's
//! training step (128x64x64, 64x784x128).
//!
//! matrixmultiply packs A and B into fresh buffers on every call and works in 8x8 blocks of
//! 256-bit registers that it shuffles. Here B is copied once into panels of [`NR`] columns
//! (`panel[p][0..NR] = B[p, j0..j0 + NR]`, zero past the last column) in a buffer each thread
//! keeps, starting on a cache line (or, when one kernel call reads each panel and B's rows are
//! contiguous, read where it lies), and A is read where it lies: each step of the kernel
//! broadcasts [`MR`] values of a column of A and multiplies them into two 512-bit rows of the
//! panel, so 8x32 of C stays in 16 registers for the whole sum.
//!
//! Every element of C is `Σ_p A[i, p]·B[p, j]` summed by fused multiply-adds in the order of
//! `p` from zero: the same whatever the blocking, so a product split across threads by rows
//! equals the product on one thread, bit for bit.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2};

use super::transpose::transpose_16x16;
use crate::tuning::GEMM_B_IN_PLACE_MAX_ROWS;
use crate::Float;

/// Rows of C per kernel call.
pub const MR: usize = 8;
/// Columns of C per kernel call: two 512-bit registers of `f32`.
pub const NR: usize = 32;
/// `f32` values per cache line.
const LINE: usize = 16;

thread_local! {
    /// The panels of B, kept between calls (most products of a training step fit the last
    /// one), and the product whose B they hold (0: none that [`with_packed_once`] may reuse).
    static PANELS: RefCell<(u64, Vec<f32>)> = const { RefCell::new((0, Vec::new())) };
}

/// The last number given to a product by [`product_id`].
static PRODUCTS: AtomicU64 = AtomicU64::new(0);

/// A number no other product gets, for [`with_packed_once`].
pub fn product_id() -> u64 {
    PRODUCTS.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether [`product`] can run here for `T`: `f32` on x86-64 with AVX-512F.
pub fn available<T: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    return T::DTYPE == crate::DType::F32 && crate::cpu::isa() >= crate::cpu::Isa::Avx512;
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `c = a·b` (`c` with contiguous rows); `a` and `b` may have any strides.
///
/// # Panics
/// If [`available`] is false, or the shapes do not match.
pub fn product<T: Float>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, mut c: ArrayViewMut2<'_, T>) {
    assert!(
        c.dim() == (a.nrows(), b.ncols()),
        "kernels::gemm::product: C is {:?}, not {}x{}",
        c.dim(),
        a.nrows(),
        b.ncols()
    );
    assert!(
        c.strides()[1] == 1 || c.ncols() <= 1,
        "kernels::gemm::product: C's rows must be contiguous"
    );
    // SAFETY: C's rows are in `c`, `ldc` apart, each with `n` contiguous elements.
    unsafe { product_to(a, b, None, c.as_mut_ptr(), c.strides()[0]) }
}

/// [`product`] into memory that may be uninitialized: row i of C is the `b.ncols()` values
/// from `c + i·ldc`. Every element is written once and none is read. With a `bias` (one
/// value per column) each element is the product plus its column's bias, added once the
/// product is summed, as a separate addition would.
///
/// # Safety
/// Those `a.nrows()` rows must be valid for writes and not accessed by anything else during
/// the call.
///
/// # Panics
/// If [`available`] is false, or the shapes do not match (before anything is written).
pub unsafe fn product_to<T: Float>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    bias: Option<&[T]>,
    c: *mut T,
    ldc: isize,
) {
    let ((m, k), (k2, _)) = (a.dim(), b.dim());
    assert!(k == k2, "kernels::gemm::product: {m}x{k} · {k2}x{}", b.ncols());
    // SAFETY: passed on from the caller.
    with_packed(b, m, |b| unsafe { product_packed(a, b, bias, c, ldc) })
}

/// B as panels of [`NR`] columns, ready for any number of [`product_packed`] calls, from any
/// thread: copied (see [`pack`]), or B itself when its rows are contiguous and few rows of A
/// will read each panel.
#[derive(Clone, Copy)]
pub struct Packed<'p> {
    /// Panel `jp` starts at `values[jp·step]`, and its row `p` is `stride` values after row
    /// `p - 1`; the values past B's last column are zeros (copied) or not read (B itself).
    values: &'p [f32],
    step: usize,
    stride: usize,
    k: usize,
    n: usize,
}

/// Calls `f` with B as panels for a product with `m` rows of A on this thread: read where it
/// lies when its rows are contiguous and `m` is at most [`GEMM_B_IN_PLACE_MAX_ROWS`] (packing
/// would copy B for one kernel call per panel); otherwise packed into this thread's panel
/// buffer, kept between calls (a product split into blocks of rows packs B once on each
/// thread: [`with_packed_once`]).
///
/// # Panics
/// If [`available`] is false.
pub fn with_packed<T: Float, R>(b: ArrayView2<'_, T>, m: usize, f: impl FnOnce(Packed<'_>) -> R) -> R {
    with_packed_once(0, b, m, f)
}

/// [`with_packed`] for one of the pieces of product `id` (from [`product_id`]; 0 for a
/// product in one piece) that run on this thread: the first packs B into this thread's panel
/// buffer, the others read it there.
///
/// Each thread packs its own copy, rather than all reading one packed by the caller: a
/// caller writing panels that the other thread read in the product before has to wait for
/// that thread's copies of them to be invalidated. Timed on 7 December (µs, two threads,
/// medians of 400, three runs; panels packed by the caller → by each thread): 512x64x256 63.4
/// → 46.5-54.6, 512x256x64 59.3 → 44.5-51.8, 512x64x192 46.9 → 35.4-39.8; on one thread
/// 91.2, 84.5 and 66.6.
///
/// # Panics
/// If [`available`] is false.
pub fn with_packed_once<T: Float, R>(id: u64, b: ArrayView2<'_, T>, m: usize, f: impl FnOnce(Packed<'_>) -> R) -> R {
    assert!(available::<T>(), "kernels::gemm::product needs f32 and AVX-512F");
    let (k, n) = b.dim();
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    let rows_apart = (k <= 1 || rsb >= n as isize) && (csb == 1 || n <= 1);
    if rows_apart && m <= GEMM_B_IN_PLACE_MAX_ROWS && k * n > 0 {
        let stride = if k <= 1 { n } else { rsb as usize };
        // SAFETY: T is f32 (asserted above); B's k rows of n contiguous values start `stride`
        // apart from its first element, so these values are all within B's buffer.
        let values = unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), (k - 1) * stride + n) };
        return f(Packed {
            values,
            step: NR,
            stride,
            k,
            n,
        });
    }
    PANELS.with_borrow_mut(|(holds, buf)| {
        let values = if id != 0 && *holds == id {
            &buf[panels_range(buf, k, n)]
        } else {
            *holds = id;
            pack(b, buf)
        };
        f(Packed {
            values,
            step: k * NR,
            stride: NR,
            k,
            n,
        })
    })
}

/// [`product_to`] with B already packed.
///
/// # Safety
/// As [`product_to`].
///
/// # Panics
/// If the shapes do not match (before anything is written).
pub unsafe fn product_packed<T: Float>(a: ArrayView2<'_, T>, b: Packed<'_>, bias: Option<&[T]>, c: *mut T, ldc: isize) {
    let ((m, k), n) = (a.dim(), b.n);
    assert!(k == b.k, "kernels::gemm::product: {m}x{k} · {}x{n}", b.k);
    assert!(available::<T>(), "kernels::gemm::product needs f32 and AVX-512F");
    assert!(
        bias.is_none_or(|b| b.len() == n),
        "kernels::gemm::product: a bias of {} values for {n} columns",
        bias.map_or(0, <[T]>::len)
    );
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = (a.strides()[0], a.strides()[1]);
    for jp in 0..n.div_ceil(NR) {
        let cols = (n - jp * NR).min(NR);
        for i0 in (0..m).step_by(MR) {
            let rows = (m - i0).min(MR);
            // SAFETY: AVX-512F is available (asserted above). Rows i0..i0 + rows of A and of C
            // exist, A's elements are at `rsa`/`csa` strides from its first one for every
            // p < k, the panel's k rows of `cols` values are in `b.values` (`Packed`'s
            // promise), and C's row i has `cols` elements from column jp·NR (the caller's).
            unsafe {
                let a0 = a.as_ptr().cast::<f32>().offset(i0 as isize * rsa);
                let c0 = c.cast::<f32>().offset(i0 as isize * ldc + (jp * NR) as isize);
                let panel = b.values.as_ptr().wrapping_add(jp * b.step);
                let bias = bias.map_or(std::ptr::null(), |b| b.as_ptr().cast::<f32>().add(jp * NR));
                block(
                    rows,
                    Block {
                        k,
                        a: a0,
                        rsa,
                        csa,
                        panel,
                        stride: b.stride,
                        bias,
                        c: c0,
                        ldc,
                        cols,
                    },
                );
            }
        }
    }
}

/// Copies B into the start of `packed` (grown if too short), which it returns: panels of
/// [`NR`] columns, `k` rows of `NR` values each, with zeros past B's last column.
fn pack<'p, T: Float>(b: ArrayView2<'_, T>, packed: &'p mut Vec<f32>) -> &'p [f32] {
    let (k, n) = b.dim();
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    // Every value is written below; only a longer buffer than any before is cleared first.
    // The panels start on a cache line, so that no row of a panel straddles two (a buffer
    // as malloc aligns it made the kernel up to 10% slower, depending on its address).
    let len = n.div_ceil(NR) * k * NR;
    if packed.len() < len + LINE {
        packed.resize(len + LINE, 0.0);
    }
    let range = panels_range(packed, k, n);
    let packed = &mut packed[range];
    let b = b.as_ptr().cast::<f32>(); // T is f32 (checked by the caller)
    for (jp, panel) in packed.chunks_exact_mut(k * NR).enumerate() {
        let (j0, width) = (jp * NR, (n - jp * NR).min(NR));
        // SAFETY: B[p, j] is at p·rsb + j·csb from its first element for p < k, j < n.
        let at = |p: usize, j: usize| unsafe { *b.offset(p as isize * rsb + j as isize * csb) };
        if csb == 1 {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                // SAFETY: row p of B has `width` contiguous values from column j0.
                let src = unsafe { std::slice::from_raw_parts(b.offset(p as isize * rsb + j0 as isize), width) };
                match (<&mut [f32; NR]>::try_from(row), <&[f32; NR]>::try_from(src)) {
                    // A whole row of the panel: a copy of known length, inlined (a call of
                    // `memcpy` per 128 bytes cost more than the copy).
                    (Ok(row), Ok(src)) => *row = *src,
                    (Ok(row), Err(_)) => row[..width].copy_from_slice(src),
                    (Err(_), _) => unreachable!("rows of the panel are NR long"),
                }
            }
        } else {
            // A transposed view (each column of B contiguous): blocks of 16x16 transposed in
            // registers, for the rows and columns of the panel they cover.
            #[cfg(target_arch = "x86_64")]
            let (rows, halves) = if rsb == 1 {
                // SAFETY: AVX-512F is there (the kernel's callers check `available`); columns
                // j0..j0 + width of B are contiguous from `b + j·csb` for their k values.
                unsafe { pack_transposed(b.offset(j0 as isize * csb), csb, k, width, panel) }
            } else {
                (0, 0)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let (rows, halves) = (0, 0);
            // The rest element by element, row by row of the panel, reading `width` columns of
            // B side by side: for a transposed view that is `width` streams through memory,
            // each read in order.
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let from = if p < rows { halves * 16 } else { 0 };
                row[from..width]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, v)| *v = at(p, j0 + from + j));
            }
        }
        if width < NR {
            panel.chunks_exact_mut(NR).for_each(|row| row[width..].fill(0.0));
        }
    }
    packed
}

/// Where in `buf` (at least `LINE` values longer than they) the panels of a `k x n` B lie:
/// from the first cache line.
fn panels_range(buf: &[f32], k: usize, n: usize) -> std::ops::Range<usize> {
    let start = buf.as_ptr().align_offset(LINE * size_of::<f32>()).min(LINE);
    start..start + n.div_ceil(NR) * k * NR
}

/// Writes rows `0..rows` of a panel (`rows` = `k` rounded down to 16) at columns
/// `0..halves·16` (`halves` = `width / 16`) from the `width` columns of a column-major B, the
/// first at `b` and each `csb` after the one before, by transposing blocks of 16x16 values in
/// registers; returns `(rows, halves)`. The rest of the panel is left to the caller.
///
/// The transpose interleaves 32-bit, then 64-bit elements of pairs of registers, then moves
/// 128-bit lanes twice: four rounds of 16 shuffles for 256 values, where one value at a time
/// costs a load and a store each.
///
/// # Safety
/// AVX-512F must be available; column `j < width` of B must have `k` contiguous values at
/// `b + j·csb`, and `panel` must hold `k` rows of `NR`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_transposed(b: *const f32, csb: isize, k: usize, width: usize, panel: &mut [f32]) -> (usize, usize) {
    let (rows, halves) = (k / 16 * 16, width / 16);
    assert!(panel.len() >= k * NR && halves <= NR / 16);
    for half in 0..halves {
        for p0 in (0..rows).step_by(16) {
            let mut r = [_mm512_setzero_ps(); 16];
            for (j, r) in r.iter_mut().enumerate() {
                // SAFETY: values p0..p0 + 16 of column half·16 + j, inside B (the caller's word).
                *r = unsafe { _mm512_loadu_ps(b.offset((half * 16 + j) as isize * csb + p0 as isize)) };
            }
            let t = transpose_16x16(r);
            for (p, t) in t.iter().enumerate() {
                // SAFETY: row p0 + p < k of the panel, columns half·16..half·16 + 16 < NR.
                unsafe { _mm512_storeu_ps(panel.as_mut_ptr().add((p0 + p) * NR + half * 16), *t) };
            }
        }
    }
    (rows, halves)
}

/// One call of the kernel: rows of A from `a` (`rsa`/`csa` apart), a panel of `k` rows of
/// `cols` values from `panel` (`stride` apart), `cols` values of bias from `bias` (or null),
/// and `cols` columns of C to write from `c` (rows `ldc` apart).
#[derive(Clone, Copy)]
struct Block {
    k: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    panel: *const f32,
    stride: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: isize,
    cols: usize,
}

/// Runs the kernel compiled for `rows` (1..=MR) rows.
///
/// # Safety
/// As [`kernel`].
unsafe fn block(rows: usize, b: Block) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: passed on from the caller.
    unsafe {
        match rows {
            8 => kernel::<8>(b),
            7 => kernel::<7>(b),
            6 => kernel::<6>(b),
            5 => kernel::<5>(b),
            4 => kernel::<4>(b),
            3 => kernel::<3>(b),
            2 => kernel::<2>(b),
            _ => kernel::<1>(b),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("kernels::gemm needs x86-64 ({rows} rows, {} columns)", b.cols);
}

/// `C[r, 0..cols] = Σ_p A[r, p]·panel[p] (+ bias[0..cols])` for `r < R`.
///
/// # Safety
/// The CPU must have AVX-512F; `a.offset(r·rsa + p·csa)` must be readable for `r < R`, `p < k`;
/// `cols` values from `panel + p·stride` must be readable for `p < k` (the masked loads read
/// nothing past them); `bias` must be null or hold `cols` values;
/// `c.offset(r·ldc + j)` must be writable for `r < R`, `j < cols`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize>(
    Block {
        k,
        a,
        rsa,
        csa,
        panel,
        stride,
        bias,
        c,
        ldc,
        cols,
    }: Block,
) {
    let mut lo = [_mm512_setzero_ps(); R];
    let mut hi = [_mm512_setzero_ps(); R];
    let mask = |from: usize| -> __mmask16 { ((1u32 << cols.saturating_sub(from).min(16)) - 1) as __mmask16 };
    let (m0, m1) = (mask(0), mask(16));
    // SAFETY: every offset read or written stays within the ranges the caller vouches for;
    // the masked loads and stores touch only the first `cols` values of a row.
    unsafe {
        for p in 0..k {
            let row = panel.wrapping_add(p * stride);
            // A whole panel's rows by plain loads: masked ones made the loop up to a tenth slower.
            let (b0, b1) = if cols == NR {
                (_mm512_loadu_ps(row), _mm512_loadu_ps(row.wrapping_add(16)))
            } else {
                (
                    _mm512_maskz_loadu_ps(m0, row),
                    _mm512_maskz_loadu_ps(m1, row.wrapping_add(16)),
                )
            };
            let ap = a.offset(p as isize * csa);
            for r in 0..R {
                let x = _mm512_set1_ps(*ap.offset(r as isize * rsa));
                lo[r] = _mm512_fmadd_ps(x, b0, lo[r]);
                hi[r] = _mm512_fmadd_ps(x, b1, hi[r]);
            }
        }
        if !bias.is_null() {
            // Masked loads: nothing past the bias's `cols` values is read.
            let (b0, b1) = (_mm512_maskz_loadu_ps(m0, bias), _mm512_maskz_loadu_ps(m1, bias.add(16)));
            for r in 0..R {
                lo[r] = _mm512_add_ps(lo[r], b0);
                hi[r] = _mm512_add_ps(hi[r], b1);
            }
        }
        for r in 0..R {
            let row = c.offset(r as isize * ldc);
            _mm512_mask_storeu_ps(row, m0, lo[r]);
            _mm512_mask_storeu_ps(row.add(16), m1, hi[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn a_transposed_b_packs_as_the_element_by_element_copy() {
        if !available::<f32>() {
            return;
        }
        // Whole blocks of 16x16, rows and columns past them, a narrow last panel.
        for (k, n) in [(16, 32), (37, 75), (15, 40), (64, 17), (33, 140)] {
            let b = ndarray::Array2::from_shape_fn((n, k), |(j, p)| (p * 1000 + j) as f32);
            let b = b.t(); // [k, n], each column contiguous
            let mut packed = Vec::new();
            let got = pack(b, &mut packed).to_vec();
            let want: Vec<f32> = (0..n.div_ceil(NR))
                .flat_map(|jp| (0..k).flat_map(move |p| (0..NR).map(move |j| (p, jp * NR + j))))
                .map(|(p, j)| if j < n { b[[p, j]] } else { 0.0 })
                .collect();
            assert_eq!(got, want, "k {k}, n {n}");
        }
    }

    #[test]
    fn every_shape_edge_and_layout_gives_the_product() {
        if !available::<f32>() {
            return;
        }
        for (m, k, n) in [
            (1, 1, 1),
            (7, 3, 31),
            (8, 16, 32),
            (9, 17, 33),
            (16, 64, 64),
            (13, 100, 70),
            // Packs less of B than the one before: the thread's buffer is longer than needed.
            (8, 130, 16),
            // B read in place (few rows of A) and packed, each with a narrow last panel.
            (3, 20, 1100),
            (40, 20, 1100),
        ] {
            let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p * 3) % 11) as f32 / 4.0 - 1.25);
            let b = Array2::from_shape_fn((k, n), |(p, j)| ((p * 5 + j * 2) % 13) as f32 / 8.0 - 0.75);
            // The transposes, stored row-major: their transposed views are A and B column-major.
            let (at, bt) = (
                a.t().as_standard_layout().into_owned(),
                b.t().as_standard_layout().into_owned(),
            );
            let want = Array2::from_shape_fn((m, n), |(i, j)| {
                (0..k).map(|p| a[[i, p]] as f64 * b[[p, j]] as f64).sum::<f64>()
            });
            for (a, b) in [
                (a.view(), b.view()),
                (at.t(), b.view()),
                (a.view(), bt.t()),
                (at.t(), bt.t()),
            ] {
                let mut c = Array2::from_elem((m, n + 3), f32::NAN); // rows wider than C: ldc > n
                product(a, b, c.slice_mut(ndarray::s![.., ..n]));
                // Values in quarters and eighths: every partial sum is exact in f32.
                assert!(
                    c.slice(ndarray::s![.., ..n])
                        .iter()
                        .zip(&want)
                        .all(|(&x, &y)| x as f64 == y),
                    "{m}x{k}x{n}"
                );
                assert!(
                    c.slice(ndarray::s![.., n..]).iter().all(|x| x.is_nan()),
                    "wrote past C's columns"
                );
                // With a bias: the product, then the bias added, bit for bit.
                let bias: Vec<f32> = (0..n).map(|j| 1.0 / (j + 3) as f32).collect();
                let mut cb = Array2::from_elem((m, n), f32::NAN);
                // SAFETY: `cb` has m rows of n contiguous values.
                unsafe { product_to(a, b, Some(&bias), cb.as_mut_ptr(), n as isize) };
                let plus = |(i, j): (usize, usize)| (c[[i, j]] + bias[j]).to_bits();
                assert!(
                    cb.indexed_iter().all(|(ij, v)| v.to_bits() == plus(ij)),
                    "{m}x{k}x{n} with a bias"
                );
            }
        }
    }
}
