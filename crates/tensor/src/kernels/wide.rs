//! Plain loops compiled for the widest vectors the CPU has.
//!
//! The crate is built for the x86-64 baseline (SSE2, 4 `f32` lanes). [`wide`] runs a closure
//! inside a function compiled for AVX-512 (or AVX2), chosen at run time; the closure is inlined
//! there, so its loops are vectorized for that width. Give the closure `#[inline(always)]`:
//! it is called from three places (one per width), so the compiler inlines only a short one by
//! itself, and a closure left out of line is compiled for the baseline (im2col's loops ran
//! on 4 lanes that way, 30-45% slower). No fused multiply-adds are formed (Rust
//! never contracts `a * b + c`), so every result is bit for bit the baseline's.

use std::mem::MaybeUninit;

/// `f()`, its loops compiled for AVX-512 or AVX2 when the CPU has them.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if super::x86::has_avx512() {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512(f) };
        }
        if super::x86::has_avx2_fma() {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Values of [`map_into`]'s local block: four 512-bit registers of `f32`.
const STAGE: usize = 64;

/// `out[i] = f(x[i])` for every `i`, vectorized whatever `f` reads; call it inside [`wide`].
///
/// A closure such as `|x| x * s` reads `s` through a reference it captured, and a store into
/// `out` might, for all the compiler knows, change `s`: a plain loop reloads it for every
/// element and stays scalar (`Tensor::mul_scalar` on 128 K values took 55-77 µs that way,
/// against 19 for an addition of two tensors). Here each block of [`STAGE`] values is
/// computed into a local array, which nothing else can see, then copied out; whole blocks
/// have a length known at compile time, so the copy is a few vector moves, not a call.
///
/// # Panics
/// If `out` and `x` differ in length.
#[inline(always)]
pub fn map_into<T: Copy + Default>(x: &[T], out: &mut [MaybeUninit<T>], f: impl Fn(T) -> T) {
    assert_eq!(x.len(), out.len(), "map_into: {} values into {}", x.len(), out.len());
    let (xs, x_rest) = x.as_chunks::<STAGE>();
    let (outs, out_rest) = out.as_chunks_mut::<STAGE>();
    for (x, out) in xs.iter().zip(outs) {
        let stage: [T; STAGE] = std::array::from_fn(|i| f(x[i]));
        for (o, s) in out.iter_mut().zip(stage) {
            o.write(s);
        }
    }
    for (o, &v) in out_rest.iter_mut().zip(x_rest) {
        o.write(f(v));
    }
}

/// [`map_into`] in place: `values[i] = f(values[i])`.
#[inline(always)]
pub fn map_in_place<T: Copy + Default>(values: &mut [T], f: impl Fn(T) -> T) {
    let (blocks, rest) = values.as_chunks_mut::<STAGE>();
    for block in blocks {
        let stage: [T; STAGE] = std::array::from_fn(|i| f(block[i]));
        *block = stage;
    }
    rest.iter_mut().for_each(|v| *v = f(*v));
}

/// [`map_into`] of two slices: `out[i] = f(a[i], b[i])`.
///
/// # Panics
/// If the three differ in length.
#[inline(always)]
pub fn zip_into<A: Copy, B: Copy, T: Copy + Default>(
    a: &[A],
    b: &[B],
    out: &mut [MaybeUninit<T>],
    f: impl Fn(A, B) -> T,
) {
    assert!(
        a.len() == b.len() && a.len() == out.len(),
        "zip_into: {} and {} values into {}",
        a.len(),
        b.len(),
        out.len()
    );
    let (a_blocks, a_rest) = a.as_chunks::<STAGE>();
    let (b_blocks, b_rest) = b.as_chunks::<STAGE>();
    let (outs, out_rest) = out.as_chunks_mut::<STAGE>();
    for ((a, b), out) in a_blocks.iter().zip(b_blocks).zip(outs) {
        let stage: [T; STAGE] = std::array::from_fn(|i| f(a[i], b[i]));
        for (o, s) in out.iter_mut().zip(stage) {
            o.write(s);
        }
    }
    for ((o, &a), &b) in out_rest.iter_mut().zip(a_rest).zip(b_rest) {
        o.write(f(a, b));
    }
}

/// `step` folded over `values` in `SIDE` accumulators side by side, each value going to the
/// accumulator of its place modulo `SIDE` (a loop the compiler vectorizes; call it inside
/// [`wide`]); returns the accumulators and the values after the last whole group of `SIDE`,
/// which the caller combines in the order it needs.
#[inline(always)]
pub fn side_by_side<T: Copy, A: Copy, const SIDE: usize>(
    values: &[T],
    init: A,
    step: impl Fn(A, T) -> A,
) -> ([A; SIDE], &[T]) {
    let mut acc = [init; SIDE];
    let (groups, rest) = values.as_chunks::<SIDE>();
    for group in groups {
        for (a, &v) in acc.iter_mut().zip(group) {
            *a = step(*a, v);
        }
    }
    (acc, rest)
}

/// The values of `lanes` combined by `f` in halves (lane `i` with lane `i + N/2`, then the
/// first half's halves, ...): a chain of log₂ N steps the compiler keeps in vector registers,
/// where folding them one by one is a chain of N. `N` must be a power of two.
#[inline(always)]
pub fn fold_halves<A: Copy, const N: usize>(mut lanes: [A; N], f: impl Fn(A, A) -> A) -> A {
    const { assert!(N.is_power_of_two()) };
    let mut width = N;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = f(lanes[i], lanes[i + width]);
        }
    }
    lanes[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths around the local block: none, part of one, one, one and a part, several.
    const LENGTHS: [usize; 7] = [0, 1, STAGE - 1, STAGE, STAGE + 1, 3 * STAGE + 5, 1000];

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i * 37 + seed) % 101) as f32 / 7.0 - 5.0)
            .collect()
    }

    #[test]
    fn the_staged_loops_give_every_value_as_the_plain_ones() {
        let (s, t) = (1.5f32, -0.25f32); // captured by reference, as in `|x| x * s`
        for len in LENGTHS {
            let (x, y) = (values(len, 3), values(len, 11));
            let mut out = vec![MaybeUninit::new(f32::NAN); len];
            wide(|| map_into(&x, &mut out, |v| v * s + t));
            // SAFETY: every element was initialized above.
            let out: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
            let want: Vec<f32> = x.iter().map(|&v| v * s + t).collect();
            assert_eq!(out, want, "map_into, {len} values");

            let mut got = x.clone();
            wide(|| map_in_place(&mut got, |v| v * s + t));
            assert_eq!(got, want, "map_in_place, {len} values");

            let mut out = vec![MaybeUninit::new(f32::NAN); len];
            wide(|| zip_into(&x, &y, &mut out, |a, b| a - s * b));
            // SAFETY: every element was initialized above.
            let out: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
            let want: Vec<f32> = x.iter().zip(&y).map(|(&a, &b)| a - s * b).collect();
            assert_eq!(out, want, "zip_into, {len} values");
        }
    }
}
