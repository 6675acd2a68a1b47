//! `C = A·Xᵀ` for `f32` with AVX-512 when C is small and the sums are long: every element of C
//! is the dot product of a row of A and a row of X, both contiguous. A convolution's weight
//! gradient with few channels is such a product (`g · columnsᵀ`, `[6, 36864] · [36864, 25]` for
//! LeNet's first layer): the packing kernel would copy all of X for 25 columns, and
//! matrixmultiply packs both operands and pads C to 8x8 tiles.
//!
//! Here a tile of [`TILE_ROWS`] rows of A and [`TILE_COLUMNS`] rows of X is read once, 16
//! terms at a time, into one vector of 16 running sums per element of the tile (12 registers),
//! each added up across its lanes at the end. An element's sum depends only on `k`, not on the
//! tile it falls in or the thread that computes it.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::parallel::for_each_block_mut;
use crate::{DType, Float};

/// Rows of A in a tile.
pub const TILE_ROWS: usize = 3;
/// Rows of X (columns of C) in a tile.
pub const TILE_COLUMNS: usize = 4;

/// Whether [`product`] can run here: x86-64 with AVX-512F.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::cpu::isa() >= crate::cpu::Isa::Avx512;
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Multiply-adds in a block of rows of C when A is the larger operand (see [`product`]).
const ROW_BLOCK_WORK: usize = 1 << 18;

/// `C[i][j] = Σ_p a[i·k + p]·x[j·k + p]` for row-major `a` `[m, k]` and `x` `[n, k]`, into a
/// new row-major `[m, n]`, in blocks shared between threads.
///
/// The blocks are of the larger operand, each read once against all of the smaller, which
/// stays in cache: blocks of columns of C (rows of X) when X is the larger, as for a weight
/// gradient with few channels; blocks of rows of C (rows of A, about [`ROW_BLOCK_WORK`]
/// multiply-adds each) when A is, as for a classifier's logits `x·Wᵀ` over a big batch.
/// Reading A once per column block instead, 32768x256x10 took 5.1 ms against 2.0 for the plain
/// loops on one thread, with A (32 MiB) past the L3 cache; 16384x256x10, 0.65 ms.
///
/// # Panics
/// If [`available`] is false, `T` is not `f32`, or `a` or `x` holds fewer than `m·k` or `n·k`
/// values.
pub fn product<T: Float>(a: &[T], x: &[T], m: usize, n: usize, k: usize) -> Vec<T> {
    assert!(
        available() && T::DTYPE == DType::F32,
        "kernels::long_dots needs f32 and AVX-512F"
    );
    assert!(
        a.len() >= m * k && x.len() >= n * k,
        "kernels::long_dots: [{m}, {k}] · [{n}, {k}]ᵀ from {} and {} values",
        a.len(),
        x.len()
    );
    if m == 0 || n == 0 {
        return vec![T::zero(); m * n];
    }
    if m > n {
        // Blocks of rows of C: each a contiguous piece of C itself.
        let rows = (ROW_BLOCK_WORK / (n * k).max(1))
            .max(1)
            .next_multiple_of(TILE_ROWS)
            .min(m);
        let mut c = vec![T::zero(); m * n];
        for_each_block_mut(&mut c, rows * n, rows * n * k, |block, c| {
            let a = &a[block * rows * k..][..c.len() / n * k];
            tiles(a, x, c.len() / n, n, k, |i, j, sum| c[i * n + j] = sum);
        });
        return c;
    }
    // Blocks of rows of Cᵀ (columns of C), each a contiguous piece of Cᵀ.
    let mut ct = vec![T::zero(); n * m];
    for_each_block_mut(&mut ct, TILE_COLUMNS * m, TILE_COLUMNS * m * k, |block, ct| {
        let x = &x[block * TILE_COLUMNS * k..][..ct.len() / m * k];
        tiles(a, x, m, ct.len() / m, k, |i, j, sum| ct[j * m + i] = sum);
    });
    // Cᵀ back to C: a few values.
    let mut c = vec![T::zero(); m * n];
    crate::kernels::transpose::transpose(&ct, n, m, &mut c);
    c
}

/// Every sum of `a` `[m, k]` against `x` `[n, k]`, a tile at a time, rows of A outer: `put(i,
/// j, sum)` for each element of the `m x n` result.
#[inline(always)]
fn tiles<T: Float>(a: &[T], x: &[T], m: usize, n: usize, k: usize, mut put: impl FnMut(usize, usize, T)) {
    // T is f32 (asserted by `product`): the rows are read as f32.
    let row = |v: &[T], i: usize| -> *const f32 { v[i * k..][..k].as_ptr().cast() };
    for i0 in (0..m).step_by(TILE_ROWS) {
        let rows = TILE_ROWS.min(m - i0);
        for j0 in (0..n).step_by(TILE_COLUMNS) {
            let columns = TILE_COLUMNS.min(n - j0);
            // A tile past the last row or column reads that row again; its sums are dropped.
            let a_rows = std::array::from_fn(|r| row(a, i0 + r.min(rows - 1)));
            let x_rows = std::array::from_fn(|c| row(x, j0 + c.min(columns - 1)));
            // SAFETY: AVX-512F is available (asserted by `product`); every row holds k f32
            // values.
            let sums = unsafe { tile(a_rows, x_rows, k) };
            // Value by value: as a loop over the rows' few values, the compiler made each
            // column a call to `memcpy`, a fifth of the time of 64x256x10 (2.6 µs).
            for (c, sums) in sums.iter().enumerate().take(columns) {
                for (r, &sum) in sums.iter().enumerate().take(rows) {
                    put(i0 + r, j0 + c, T::of(f64::from(sum)));
                }
            }
        }
    }
}

/// The sums of one tile: `out[c][r] = Σ_p a[r][p]·x[c][p]`.
///
/// # Safety
/// AVX-512F must be available; every row must hold `k` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile(
    a: [*const f32; TILE_ROWS],
    x: [*const f32; TILE_COLUMNS],
    k: usize,
) -> [[f32; TILE_ROWS]; TILE_COLUMNS] {
    let mut acc = [[_mm512_setzero_ps(); TILE_ROWS]; TILE_COLUMNS];
    let load = |row: *const f32, p: usize, mask: __mmask16| {
        // SAFETY: the lanes of `mask` are values p.. of the row, inside its k (the caller's word).
        unsafe { _mm512_maskz_loadu_ps(mask, row.add(p)) }
    };
    for p in (0..k).step_by(16) {
        // The last step reads only the values left.
        let mask = if k - p >= 16 {
            !0
        } else {
            ((1u32 << (k - p)) - 1) as __mmask16
        };
        // Plain loops, not `array::from_fn`: a closure left out of line would lose this
        // function's AVX-512 (as happened to attention's product in the char transformer).
        let mut av = [_mm512_setzero_ps(); TILE_ROWS];
        for (av, &row) in av.iter_mut().zip(&a) {
            *av = load(row, p, mask);
        }
        for (acc, &row) in acc.iter_mut().zip(&x) {
            let xv = load(row, p, mask);
            for (acc, &av) in acc.iter_mut().zip(&av) {
                *acc = _mm512_fmadd_ps(av, xv, *acc);
            }
        }
    }
    // Plain loops here too: `acc.map(|column| column.map(_mm512_reduce_add_ps))` left the
    // closures out of line, and each sum went through memory (a store of 64 bytes read back in
    // halves): 64x256x10 took 10.2 µs on one thread that way, against 3.7 for the plain loops
    // of small products.
    let mut out = [[0.0; TILE_ROWS]; TILE_COLUMNS];
    for (out, acc) in out.iter_mut().zip(&acc) {
        for (sum, &v) in out.iter_mut().zip(acc) {
            *sum = _mm512_reduce_add_ps(v);
        }
    }
    out
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile(
    _: [*const f32; TILE_ROWS],
    _: [*const f32; TILE_COLUMNS],
    _: usize,
) -> [[f32; TILE_ROWS]; TILE_COLUMNS] {
    unreachable!("kernels::long_dots needs x86-64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_its_dot_product_at_edges_and_tails() {
        if !available() {
            return;
        }
        // Partial tiles of rows and columns, k with and without a tail of fewer than 16.
        for (m, n, k) in [
            (1, 1, 1),
            (3, 4, 16),
            (6, 25, 100),
            (16, 9, 4096),
            (5, 7, 33),
            (700, 10, 40),
            (97, 3, 17),
            (2, 1, 300),
        ] {
            // Small integers: every order of the sums gives the exact result.
            let a: Vec<f32> = (0..m * k).map(|v| ((v * 7) % 11) as f32 - 5.0).collect();
            let x: Vec<f32> = (0..n * k).map(|v| ((v * 5) % 13) as f32 - 6.0).collect();
            let want: Vec<f32> = (0..m * n)
                .map(|e| (0..k).map(|p| a[(e / n) * k + p] * x[(e % n) * k + p]).sum())
                .collect();
            assert_eq!(product(&a, &x, m, n, k), want, "{m}x{k}x{n}");
        }
    }
}
