//! Plain loops compiled for the widest vectors the CPU has.
//!
//! The crate is built for the x86-64 baseline (SSE2, 4 `f32` lanes). [`wide`] runs a closure
//! inside a function compiled for AVX-512 (or AVX2), chosen at run time; the closure is inlined
//! there, so its loops are vectorized for that width. Give the closure `#[inline(always)]`:
//! it is called from three places (one per width), so the compiler inlines only a short one by
//! itself, and a closure left out of line is compiled for the baseline (im2col's loops ran
//! on 4 lanes that way, 30-45% slower). No fused multiply-adds are formed (Rust
//! never contracts `a * b + c`), so every result is bit for bit the baseline's.

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
