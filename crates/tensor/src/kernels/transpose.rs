//! `[R, C]` → `[C, R]`: a matrix transposed into another buffer, by 16x16 blocks transposed
//! in AVX-512 registers where the CPU has them (`f32`), element by element elsewhere: max
//! pooling's planes laid side by side, a packed B read as its transpose.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use crate::Float;

/// `dst[j·R + i] = src[i·C + j]` for the row-major `src` `[R, C]` (`R = rows`, `C = cols`).
///
/// # Panics
/// If `src` or `dst` holds fewer than `R·C` values.
pub fn transpose<T: Float>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    transpose_into(src, rows, cols, super::map::as_uninit(dst))
}

/// [`transpose`] into memory that may be uninitialized: each of the first `R·C` values of
/// `dst` is written once, none is read.
///
/// # Panics
/// If `src` or `dst` holds fewer than `R·C` values.
pub fn transpose_into<T: Float>(src: &[T], rows: usize, cols: usize, dst: &mut [MaybeUninit<T>]) {
    let len = rows * cols;
    assert!(
        src.len() >= len && dst.len() >= len,
        "transpose: {rows}x{cols} from {} values into {}",
        src.len(),
        dst.len()
    );
    let (src, dst) = (&src[..len], &mut dst[..len]);
    // The whole blocks of 16x16 in registers (f32 with AVX-512), then the rest one by one.
    #[cfg(target_arch = "x86_64")]
    let done = if T::DTYPE == crate::DType::F32 && crate::cpu::isa() >= crate::cpu::Isa::Avx512 {
        // SAFETY: AVX-512F is there; T is f32, so `src` holds f32 values and `dst` places for
        // them; both hold R·C.
        unsafe { blocks_512(src.as_ptr().cast(), rows, cols, dst.as_mut_ptr().cast()) };
        [rows / 16 * 16, cols / 16 * 16]
    } else {
        [0, 0]
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = [0, 0];
    let each = |dst: &mut [MaybeUninit<T>], is: std::ops::Range<usize>, js: std::ops::Range<usize>| {
        for i in is {
            for j in js.clone() {
                dst[j * rows + i].write(src[i * cols + j]);
            }
        }
    };
    each(dst, 0..done[0], done[1]..cols);
    each(dst, done[0]..rows, 0..cols);
}

/// The blocks of 16 rows and 16 columns of `src` `[R, C]`, each transposed into `dst`.
///
/// # Safety
/// AVX-512F must be available; `src` and `dst` must hold `R·C` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn blocks_512(src: *const f32, rows: usize, cols: usize, dst: *mut f32) {
    for i0 in (0..rows / 16 * 16).step_by(16) {
        for j0 in (0..cols / 16 * 16).step_by(16) {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, r) in r.iter_mut().enumerate() {
                // SAFETY: row i0 + i < R, columns j0..j0 + 16 <= C.
                *r = unsafe { _mm512_loadu_ps(src.add((i0 + i) * cols + j0)) };
            }
            for (j, t) in transpose_16x16(r).iter().enumerate() {
                // SAFETY: row j0 + j < C of dst, columns i0..i0 + 16 <= R.
                unsafe { _mm512_storeu_ps(dst.add((j0 + j) * rows + i0), *t) };
            }
        }
    }
}

/// The transpose of 16 rows of 16 values: element `i` of result `j` is element `j` of row `i`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) fn transpose_16x16(r: [__m512; 16]) -> [__m512; 16] {
    let pd = _mm512_castps_pd;
    let ps = _mm512_castpd_ps;
    // Pairs of rows, 32-bit elements interleaved: t[2i] = (r[2i][0], r[2i+1][0], r[2i][1],
    // r[2i+1][1] | ...per 128-bit lane), t[2i + 1] the upper halves of each lane.
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Pairs of pairs, 64-bit elements interleaved: each 128-bit lane of u[4i + c] holds
    // column 4·lane + c of rows 4i..4i + 4.
    let mut u = [_mm512_setzero_ps(); 16];
    for i in 0..4 {
        let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
        u[4 * i] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
        u[4 * i + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
        u[4 * i + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
        u[4 * i + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
    }
    // 128-bit lanes: lanes 0 and 2 (0x88) or 1 and 3 (0xdd) of two registers, twice.
    let mut v = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        for h in 0..2 {
            let (a, b) = (u[8 * h + c], u[8 * h + 4 + c]);
            v[8 * h + c] = _mm512_shuffle_f32x4::<0x88>(a, b);
            v[8 * h + 4 + c] = _mm512_shuffle_f32x4::<0xdd>(a, b);
        }
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..8 {
        out[c] = _mm512_shuffle_f32x4::<0x88>(v[c], v[8 + c]);
        out[8 + c] = _mm512_shuffle_f32x4::<0xdd>(v[c], v[8 + c]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_whole_blocks_and_edges_as_element_by_element() {
        for (rows, cols) in [(1, 1), (16, 16), (33, 16), (16, 40), (37, 75), (5, 3), (64, 0)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let mut got = vec![-1.0; rows * cols];
            transpose(&src, rows, cols, &mut got);
            let want: Vec<f32> = (0..cols)
                .flat_map(|j| (0..rows).map(move |i| (i * cols + j) as f32))
                .collect();
            assert_eq!(got, want, "{rows}x{cols}");
            let src64: Vec<f64> = src.iter().map(|&v| f64::from(v)).collect();
            let mut got64 = vec![-1.0; rows * cols];
            transpose(&src64, rows, cols, &mut got64);
            assert!(
                got64.iter().zip(&want).all(|(&a, &b)| a == f64::from(b)),
                "f64 {rows}x{cols}"
            );
        }
    }
}
