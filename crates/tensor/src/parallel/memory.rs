//! How the process gets its memory: glibc's malloc set up once for a training loop, and the
//! count of page faults that tells whether it works.
//!
//! Every op makes a new result and every backward new gradients; in a training loop each
//! step asks for buffers of the same sizes as the last. Memory the allocator reuses costs
//! nothing more; memory it maps fresh from the kernel costs a page fault and the clearing of
//! a page for every 4 KiB written. glibc maps every block above its mmap threshold (128 KiB at
//! first) fresh, and gives back free memory at the top of its heap past its trim threshold, so
//! a model whose activations are 128 KiB-2 MiB faulted in thousands of pages per step.
//!
//! So the first time the library makes a matrix product or a big buffer, it sets glibc's
//! thresholds ([`crate::tuning::MMAP_THRESHOLD`],
//! [`crate::tuning::TRIM_THRESHOLD`]) with `mallopt`: blocks up
//! to 32 MiB come from the heap and are reused. Only where memory comes from changes, never
//! what is computed. A program that sets up malloc itself can keep its own settings by
//! setting the environment variable `FERROGRAD_MALLOPT=0` (or `off`) before the first op.
//! Elsewhere than on glibc nothing is changed; an allocator crate (jemalloc, mimalloc) as the
//! program's global allocator reuses memory by itself.

use std::sync::Once;

/// Sets glibc's malloc up for a training loop, once per process (see the module's page).
/// Cheap after the first call: every op that makes a big result calls it.
pub fn tune_allocator() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let off = std::env::var("FERROGRAD_MALLOPT")
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "false" | "no"));
        if !off {
            set_thresholds();
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
fn set_thresholds() {
    // SAFETY: mallopt only changes malloc's parameters (it takes malloc's lock); a value it
    // refuses leaves the old one, which is harmless.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, crate::tuning::MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, crate::tuning::TRIM_THRESHOLD as libc::c_int);
    }
}

/// Elsewhere than on glibc (and under Miri) malloc is left as it is.
#[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
fn set_thresholds() {}

/// Gives free memory at the top of malloc's heap back to the system (glibc's `malloc_trim`).
pub(crate) fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The number of minor page faults of this process so far (`getrusage(RUSAGE_SELF)`'s
/// `ru_minflt`): pages the kernel mapped, and for fresh memory cleared, at their first touch.
/// Read before and after some training steps, it tells whether a step reuses its memory
/// (fewer than 10 per step in the examples' models) or maps fresh pages (thousands).
/// `None` where the count is not read (outside Linux, or under Miri).
pub fn minor_page_faults() -> Option<u64> {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: `rusage` is plain integers, for which all zeros is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid `rusage` for getrusage to fill.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        if rc == 0 {
            return u64::try_from(usage.ru_minflt).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn touching_fresh_pages_counts_faults() {
        let before = minor_page_faults().expect("getrusage on Linux");
        // 64 MiB mapped fresh (above the mmap threshold), one write per 4 KiB page.
        let mut v = vec![0u8; 64 << 20];
        v.iter_mut().step_by(4096).for_each(|x| *x = 1);
        std::hint::black_box(&v);
        let after = minor_page_faults().expect("getrusage on Linux");
        // At least one fault per 2 MiB page (if the kernel backed it with huge pages).
        assert!(after - before >= 32, "{before} -> {after}");
    }
}
