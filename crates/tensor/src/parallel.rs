//! Work split across threads (rayon) for big inputs only, and output buffers for big results.
//!
//! Each block of work writes its own part of the output, so results are the same whatever the
//! number of threads; a caller that reduces across blocks does so afterwards, in order.

use rayon::prelude::*;

use crate::Float;

/// Below this many elements of work a loop runs on the calling thread: handing blocks to other
/// threads costs a few microseconds.
pub const PARALLEL_MIN_WORK: usize = 1 << 15;

/// Calls `f(i, block)` for each block of `block_len` consecutive elements of `out` (the last
/// may be shorter), on several threads when there is at least [`PARALLEL_MIN_WORK`] work in
/// all, counting `work_per_block` for each block.
pub fn for_each_block_mut<U: Send>(
    out: &mut [U],
    block_len: usize,
    work_per_block: usize,
    f: impl Fn(usize, &mut [U]) + Sync + Send,
) {
    if out.is_empty() || block_len == 0 {
        return;
    }
    let blocks = out.len().div_ceil(block_len);
    let work = blocks.saturating_mul(work_per_block.max(1));
    if work < PARALLEL_MIN_WORK || rayon::current_num_threads() < 2 {
        out.chunks_mut(block_len).enumerate().for_each(|(i, b)| f(i, b));
        return;
    }
    let min_blocks = PARALLEL_MIN_WORK.div_ceil(work_per_block.max(1)).max(1);
    out.par_chunks_mut(block_len)
        .with_min_len(min_blocks)
        .enumerate()
        .for_each(|(i, b)| f(i, b));
}

/// A vector of `len` zeros for a big result that is about to be overwritten.
///
/// The zeros come from the allocator's fresh pages, untouched; on Linux a buffer of 4 MiB or
/// more is marked for transparent huge pages (`madvise(MADV_HUGEPAGE)`), so that writing it
/// faults in 2 MiB pages instead of 4 KiB ones (a 250 MiB gradient: 125 faults, not 64 000).
pub fn zeroed_vec<T: Float>(len: usize) -> Vec<T> {
    let v = vec![T::zero(); len];
    advise_huge_pages(&v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &[T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < 2 * HUGE {
        return;
    }
    let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside `v`'s allocation; MADV_HUGEPAGE only changes how the
        // kernel backs those pages, never their contents. Failure (no THP support) is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_: &[T]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_output_in_order_on_any_path() {
        for (len, block, work) in [(10, 3, 1), (100_000, 1000, 1000), (7, 7, 1 << 20), (0, 4, 1)] {
            let mut out = vec![0usize; len];
            for_each_block_mut(&mut out, block, work, |i, b| {
                for (j, v) in b.iter_mut().enumerate() {
                    *v = i * block + j;
                }
            });
            assert!(out.iter().enumerate().all(|(i, &v)| v == i), "{len} {block}");
        }
    }

    #[test]
    fn zeroed_vec_is_zeros() {
        let v = zeroed_vec::<f32>(3 << 20);
        assert_eq!(v.len(), 3 << 20);
        assert!(v.iter().step_by(4097).all(|&x| x == 0.0));
    }
}
