//! Work split across threads for big inputs only: with two threads, shared with a helper
//! thread that stays awake between pieces ([`join`], [`for_each_index`]), with more, by rayon;
//! and output buffers for big results.
//!
//! Each block of work writes its own part of the output, so results are the same whatever the
//! number of threads; a caller that reduces across blocks does so afterwards, in order.
//!
//! Big buffers are expensive to make: the kernel clears every page of a fresh one before the
//! first write (a 250 MiB gradient costs more to fault in than to fill). So a big gradient
//! cleared by `zero_grad` is [`recycle`]d, and the next big result of the same length
//! ([`output_vec`]) takes it over instead of asking for new pages, as in a training loop where
//! every step's gradient has the shape of the last. At most [`SPARE_MAX`] buffers and
//! [`SPARE_MAX_BYTES`] are kept; [`release_spare_buffers`] gives them back to the system.
//! Smaller buffers are reused by malloc itself, set up for it by [`memory`].

use std::any::Any;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::{Float, Tensor};

mod join;
pub mod memory;
pub use join::join;
pub use memory::{minor_page_faults, tune_allocator};

use crate::tuning::{
    CHEAP_VALUES_PER_WORK, HUGE_PAGE_MIN_BYTES, JOIN_RUNS, PARALLEL_MIN_WORK, SPARE_MAX, SPARE_MAX_BYTES,
    SPARE_MIN_BYTES,
};

/// Calls `f(i)` for every `i < count`, on this thread and `join`'s helper: this thread takes
/// indices from the front, the helper from the back, each the next one when done with the
/// last, until they meet. How fast either thread is decides how many it does, and two calls
/// over the same indices (a forward, then its backward) give each thread about the same
/// ones, whose data its core still holds.
pub fn for_each_index(count: usize, f: impl Fn(usize) + Sync) {
    // The indices not yet taken, `front..back`, in one word so both ends move atomically.
    let span = AtomicU64::new(count as u64);
    let take = |from_front: bool| {
        let mut cur = span.load(Ordering::Relaxed);
        loop {
            let (front, back) = (cur >> 32, cur & u32::MAX as u64);
            if front >= back {
                return None;
            }
            let (next, i) = if from_front {
                (cur + (1 << 32), front)
            } else {
                (cur - 1, back - 1)
            };
            match span.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(i as usize),
                Err(now) => cur = now,
            }
        }
    };
    let work = |from_front: bool| {
        while let Some(i) = take(from_front) {
            f(i);
        }
    };
    assert!(count <= u32::MAX as usize, "for_each_index: {count} indices");
    join(|| work(true), || work(false));
}

/// Calls `f(item)` for each of `items` (pieces of work the caller cut, such as blocks of
/// several tensors), on several threads when they come to at least `PARALLEL_MIN_WORK`
/// elements of `work` in all. With two threads, this thread takes items from the front and
/// `join`'s helper from the back (`for_each_index`).
pub fn for_each_item<I: Send>(items: Vec<I>, work: usize, f: impl Fn(I) + Sync + Send) {
    let threads = rayon::current_num_threads();
    if work < PARALLEL_MIN_WORK || threads < 2 || items.len() < 2 {
        items.into_iter().for_each(f);
    } else if threads == 2 {
        let slots: Vec<_> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
        for_each_index(slots.len(), |i| {
            let item = slots[i].lock().expect("an item is taken once").take();
            f(item.expect("an item is taken once"));
        });
    } else {
        items.into_par_iter().for_each(f);
    }
}

/// Calls `f(i, block)` for each block of `block_len` consecutive elements of `out` (the last
/// may be shorter), on several threads when there is at least `PARALLEL_MIN_WORK` work in
/// all, counting `work_per_block` for each block.
pub fn for_each_block_mut<U: Send>(
    out: &mut [U],
    block_len: usize,
    work_per_block: usize,
    f: impl Fn(usize, &mut [U]) + Sync + Send,
) {
    for_each_block_pair_mut(out, block_len, &mut [] as &mut [u8], 0, work_per_block, |i, a, _| {
        f(i, a)
    });
}

/// [`for_each_block_mut`] over two outputs at once: `f(i, a_block, b_block)` gets the `i`-th
/// block of each (`a_len` and `b_len` long). An empty `b` gives empty `b_block`s.
pub fn for_each_block_pair_mut<U: Send, V: Send>(
    a: &mut [U],
    a_len: usize,
    b: &mut [V],
    b_len: usize,
    work_per_block: usize,
    f: impl Fn(usize, &mut [U], &mut [V]) + Sync + Send,
) {
    if a.is_empty() || a_len == 0 {
        return;
    }
    let blocks = a.len().div_ceil(a_len);
    assert!(
        b.is_empty() || (b_len > 0 && b.len().div_ceil(b_len) == blocks),
        "for_each_block_pair_mut: {} blocks of {a_len} and {} values in blocks of {b_len}",
        blocks,
        b.len()
    );
    let work = blocks.saturating_mul(work_per_block.max(1));
    tune_allocator();
    let threads = rayon::current_num_threads();
    let serial = work < PARALLEL_MIN_WORK || threads < 2;
    if !serial && threads == 2 && blocks >= 2 {
        // Two threads: runs of blocks shared with `join`'s helper by `for_each_index` (this
        // thread from the front, the helper from the back), so a helper slowed down by the
        // host leaves more runs to this thread instead of keeping it waiting.
        let per_run = blocks.div_ceil(blocks.min(JOIN_RUNS));
        let runs: Vec<_> = a
            .chunks_mut(per_run * a_len)
            .zip(blocks_of(b, per_run * b_len))
            .enumerate()
            .collect();
        for_each_item(runs, work, |(r, (a, b))| {
            for (i, (x, y)) in a.chunks_mut(a_len).zip(blocks_of(b, b_len)).enumerate() {
                f(r * per_run + i, x, y);
            }
        });
        return;
    }
    let min_blocks = PARALLEL_MIN_WORK.div_ceil(work_per_block.max(1)).max(1);
    if serial {
        for (i, (x, y)) in a.chunks_mut(a_len).zip(blocks_of(b, b_len)).enumerate() {
            f(i, x, y);
        }
    } else if b.is_empty() {
        a.par_chunks_mut(a_len)
            .with_min_len(min_blocks)
            .enumerate()
            .for_each(|(i, x)| f(i, x, &mut []));
    } else {
        a.par_chunks_mut(a_len)
            .zip(b.par_chunks_mut(b_len))
            .with_min_len(min_blocks)
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y));
    }
}

/// `b` in blocks of `len`, then empty blocks without end: zipped with the blocks of another
/// slice, an empty `b` gives an empty block to each.
fn blocks_of<V>(b: &mut [V], len: usize) -> impl Iterator<Item = &mut [V]> {
    b.chunks_mut(len.max(1)).chain(std::iter::repeat_with(|| &mut [][..]))
}

/// A vector of `len` zeros for a big result that is about to be overwritten.
///
/// The zeros come from the allocator's fresh pages, untouched; on Linux a buffer of
/// [`HUGE_PAGE_MIN_BYTES`] or more is marked for transparent huge pages (`madvise(MADV_HUGEPAGE)`), so that writing it
/// faults in 2 MiB pages instead of 4 KiB ones (a 250 MiB gradient: 125 faults, not 64 000).
pub fn zeroed_vec<T: Float>(len: usize) -> Vec<T> {
    tune_allocator();
    let v = vec![T::zero(); len];
    advise_huge_pages(&v);
    v
}

/// A spare buffer: its size in bytes and the `Vec<T>` of some `Float` type.
type Spare = (usize, Box<dyn Any + Send>);

/// Spare buffers, oldest first.
static SPARE: Mutex<Vec<Spare>> = Mutex::new(Vec::new());

fn spare() -> std::sync::MutexGuard<'static, Vec<Spare>> {
    // The list is valid whatever a panicking holder did: every change is a single push or remove.
    SPARE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps the buffer of a big tensor that is no longer needed for the next [`output_vec`] of the
/// same length; small tensors and views into a larger buffer are simply dropped.
pub fn recycle<T: Float>(t: Tensor<T>) {
    let len = t.numel();
    let bytes = len * std::mem::size_of::<T>();
    if !(SPARE_MIN_BYTES..=SPARE_MAX_BYTES).contains(&bytes) || t.is_shared() {
        return;
    }
    let (v, offset) = t.into_array().into_raw_vec_and_offset();
    if offset != Some(0) || v.len() != len {
        return;
    }
    let mut spare = spare();
    spare.push((bytes, Box::new(v)));
    while spare.len() > SPARE_MAX || spare.iter().map(|(b, _)| b).sum::<usize>() > SPARE_MAX_BYTES {
        spare.remove(0);
    }
}

/// A vector of `len` values for a big result that is about to be overwritten in full: a
/// [`recycle`]d buffer of that length if there is one (its old values still in it), else
/// `zeroed_vec`.
pub fn output_vec<T: Float>(len: usize) -> Vec<T> {
    take_spare(len).unwrap_or_else(|| zeroed_vec(len))
}

/// A vector of `len` values written by `fill`, block by block as [`for_each_block_mut`] hands
/// them out (`fill(i, block)` for the `i`-th block of `block_len` values), in memory that is
/// not cleared first: a [`recycle`]d buffer of that length if there is one, else memory fresh
/// from the allocator.
///
/// Clearing a buffer only to overwrite it is one more pass over memory, as long as the writing
/// itself: on the Intel machine of docs/performance.md, a map of 1M `f32` into a buffer that
/// exists takes 286 µs, into a new cleared one (`calloc`, which clears memory malloc reuses)
/// 432 µs.
///
/// # Safety
/// `fill` must write every element of each block it is given (a panic in `fill` is fine: the
/// buffer is then dropped without being read).
pub(crate) unsafe fn filled_vec<T: Float>(
    len: usize,
    block_len: usize,
    work_per_block: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let mut v = output_buffer(len);
    for_each_block_mut(
        &mut v.spare_capacity_mut()[..len],
        block_len.max(1),
        work_per_block,
        fill,
    );
    // SAFETY: the blocks cover `0..len`, and the caller's `fill` wrote every element of each.
    unsafe { v.set_len(len) };
    v
}

/// `len` copies of `value`, written in blocks shared between threads when there are many
/// (a sum's gradient broadcast to its input's shape), into memory not cleared first.
pub(crate) fn full_vec<T: Float>(len: usize, value: T) -> Vec<T> {
    let block = crate::kernels::KERNEL_BLOCK;
    // SAFETY: `fill` writes every element of each block.
    unsafe {
        filled_vec(len, block, block / CHEAP_VALUES_PER_WORK, |_, out| {
            out.fill(MaybeUninit::new(value))
        })
    }
}

/// `outer` segments of `len` values, segment `o` written by `fill(o, segment)`, in blocks of
/// whole segments shared between threads when there are many values, into memory not cleared
/// first: the copies of `narrow` and of its gradient (one segment per index of the dimensions
/// before the sliced one), the rows of `tril` and `triu`, the lanes of `pad`, `flip` and
/// `roll`.
///
/// # Safety
/// `fill` must write every value of the segment it is given.
pub(crate) unsafe fn segments_vec<T: Float>(
    outer: usize,
    len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    if outer * len == 0 {
        return Vec::new();
    }
    let per_block = (crate::kernels::KERNEL_BLOCK / len).max(1);
    let block_len = per_block * len;
    // SAFETY: a block is whole segments, each written in full by `fill` (the caller's word).
    unsafe {
        filled_vec(outer * len, block_len, block_len / CHEAP_VALUES_PER_WORK, |b, block| {
            for (j, segment) in block.chunks_exact_mut(len).enumerate() {
                fill(b * per_block + j, segment);
            }
        })
    }
}

/// Writes `values` into `out`, of the same length.
pub(crate) fn write_all<T: Copy>(out: &mut [MaybeUninit<T>], values: &[T]) {
    for (o, &v) in out.iter_mut().zip(values) {
        o.write(v);
    }
}

/// `f` of every value of `x`, in a new vector built by blocks of `block_len` values as
/// [`for_each_block_mut`] hands them out (`work_per_block` each), in memory not cleared first:
/// the map of `Tensor::map`, compiled for the widest vectors the CPU has.
pub(crate) fn mapped_vec<T: Float>(
    x: &[T],
    block_len: usize,
    work_per_block: usize,
    f: impl Fn(T) -> T + Sync + Send,
) -> Vec<T> {
    let block_len = block_len.max(1);
    // SAFETY: each block's loop writes every element of it (`out` and its part of `x` have
    // the same length).
    unsafe {
        filled_vec(x.len(), block_len, work_per_block, |i, out| {
            let x = &x[i * block_len..][..out.len()];
            crate::kernels::wide(
                #[inline(always)]
                || crate::kernels::map_into(x, out, &f),
            );
        })
    }
}

/// [`mapped_vec`] of two slices of the same length: `f(a[i], b[i])` for every `i`, the
/// elementwise op of two tensors of one shape.
pub(crate) fn zipped_vec<T: Float>(
    a: &[T],
    b: &[T],
    block_len: usize,
    work_per_block: usize,
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    assert_eq!(
        a.len(),
        b.len(),
        "zipped_vec: slices of {} and {} values",
        a.len(),
        b.len()
    );
    let block_len = block_len.max(1);
    // SAFETY: each block's loop writes every element of it (`out` and its parts of `a` and
    // `b` have the same length).
    unsafe {
        filled_vec(a.len(), block_len, work_per_block, |i, out| {
            let at = i * block_len..i * block_len + out.len();
            crate::kernels::wide(
                #[inline(always)]
                || crate::kernels::zip_into(&a[at.clone()], &b[at.clone()], out, &f),
            );
        })
    }
}

/// A vector of `len` values built block by block as [`for_each_block_mut`] hands them out, each
/// block cleared to zeros by the thread that then passes it to `f(i, block)`: for results that
/// are sums, or that leave some elements zero (im2col's padding), the clearing is shared
/// between the threads and done where the block is written next, in cache, instead of one pass
/// over the whole buffer on this thread first.
pub fn zeroed_blocks<T: Float>(
    len: usize,
    block_len: usize,
    work_per_block: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    zeroed_block_pairs(len, block_len, 0, 0, work_per_block, |i, a, _| f(i, a)).0
}

/// [`zeroed_blocks`] of two vectors at once, as [`for_each_block_pair_mut`]: `f(i, a_block,
/// b_block)` gets the `i`-th block of each (`a_block_len` and `b_block_len` long), both cleared.
/// A `b_len` of 0 gives empty `b_block`s.
pub fn zeroed_block_pairs<T: Float>(
    a_len: usize,
    a_block_len: usize,
    b_len: usize,
    b_block_len: usize,
    work_per_block: usize,
    f: impl Fn(usize, &mut [T], &mut [T]) + Sync + Send,
) -> (Vec<T>, Vec<T>) {
    if a_len == 0 {
        // No blocks to hand out: `b`, if any, is left zeros.
        return (Vec::new(), vec![T::zero(); b_len]);
    }
    let (mut a, mut b) = (output_buffer::<T>(a_len), output_buffer::<T>(b_len));
    let (a_out, b_out) = (
        &mut a.spare_capacity_mut()[..a_len],
        &mut b.spare_capacity_mut()[..b_len],
    );
    for_each_block_pair_mut(
        a_out,
        a_block_len.max(1),
        b_out,
        b_block_len,
        work_per_block,
        |i, x, y| f(i, zeroed(x), zeroed(y)),
    );
    // SAFETY: the blocks cover `0..a_len` and `0..b_len` (`for_each_block_pair_mut` checks
    // that the two have as many), and `zeroed` wrote every element of each.
    unsafe {
        a.set_len(a_len);
        b.set_len(b_len);
    }
    (a, b)
}

/// `block` with every element set to zero, seen as initialized.
fn zeroed<T: Float>(block: &mut [MaybeUninit<T>]) -> &mut [T] {
    block.iter_mut().for_each(|v| _ = v.write(T::zero()));
    // SAFETY: every element was just initialized; `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(block as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// An empty vector with room for `len` values, for a big result about to be written in full
/// (by `extend`, or as the elementwise kernels fill theirs): a [`recycle`]d buffer of that
/// length if there is one, else memory fresh from the allocator, in neither case cleared first.
pub fn output_buffer<T: Float>(len: usize) -> Vec<T> {
    let mut v = take_spare(len).unwrap_or_else(|| {
        tune_allocator();
        let mut v = Vec::with_capacity(len);
        advise_huge_pages(v.spare_capacity_mut());
        v
    });
    v.clear();
    v
}

/// A [`recycle`]d buffer of `len` values, if there is one.
fn take_spare<T: Float>(len: usize) -> Option<Vec<T>> {
    if len * std::mem::size_of::<T>() < SPARE_MIN_BYTES {
        return None;
    }
    let mut spare = spare();
    let found = spare
        .iter()
        .rposition(|(_, b)| b.downcast_ref::<Vec<T>>().is_some_and(|v| v.len() == len))?;
    Some(*spare.remove(found).1.downcast::<Vec<T>>().expect("checked type"))
}

/// Drops the spare buffers and gives free memory at the top of malloc's heap back to the
/// system (as `torch.cuda.empty_cache()`).
pub fn release_spare_buffers() {
    spare().clear();
    memory::trim();
}

#[cfg(all(target_os = "linux", not(miri)))]
fn advise_huge_pages<T>(v: &[T]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(v);
    if bytes < HUGE_PAGE_MIN_BYTES {
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

/// Elsewhere, and under Miri (which cannot call `madvise`), no advice is given.
#[cfg(not(all(target_os = "linux", not(miri))))]
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

    /// Held by the tests that fill or clear the spare buffers, which are shared by the whole
    /// process: one test's `release_spare_buffers` must not empty the list under another.
    static SPARE_TESTS: Mutex<()> = Mutex::new(());

    #[test]
    fn a_recycled_buffer_is_reused_once_for_the_same_length_only() {
        let _spare = SPARE_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        let len = 3 << 20;
        let t = Tensor::from_vec(vec![7.0f32; len], &[len]).unwrap();
        let ptr = t.array().as_ptr() as usize;
        recycle(t);
        // Another length or type does not take it (other tests may have left buffers too).
        assert!(output_vec::<f32>(len + 1).iter().step_by(4097).all(|&x| x == 0.0));
        let other_type = output_vec::<f64>(len);
        assert_ne!(other_type.as_ptr() as usize, ptr);
        let v = output_vec::<f32>(len);
        assert_eq!((v.as_ptr() as usize, v.len(), v[5]), (ptr, len, 7.0));
        let again = output_vec::<f32>(len);
        assert_ne!(again.as_ptr() as usize, ptr);
        release_spare_buffers();
    }

    #[test]
    fn filled_and_zeroed_buffers_hold_what_was_written_even_in_a_recycled_buffer() {
        // Big enough to be shared between threads and kept by `recycle`: the second round
        // takes over the first round's buffer, old values and all. (Under Miri, which would
        // take an hour over that many values, small fresh buffers only.)
        let _spare = SPARE_TESTS.lock().unwrap_or_else(|p| p.into_inner());
        let len = if cfg!(miri) { 3005 } else { (1 << 18) + 5 };
        for round in 0..2 {
            // SAFETY: every element of each block is written.
            let v: Vec<f32> = unsafe {
                filled_vec(len, 1000, 1000, |i, block| {
                    for (j, x) in block.iter_mut().enumerate() {
                        x.write((i * 1000 + j) as f32);
                    }
                })
            };
            assert_eq!(v.len(), len);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32), "round {round}");
            recycle(Tensor::from_vec(v, &[len]).unwrap());
            // Only every third element written: the others are zeros, not the old values.
            let z: Vec<f32> = zeroed_blocks(len, 999, 999, |i, block| {
                block.iter_mut().step_by(3).for_each(|x| *x = i as f32 + 1.0);
            });
            let want = |k: usize| {
                if (k % 999).is_multiple_of(3) {
                    (k / 999) as f32 + 1.0
                } else {
                    0.0
                }
            };
            assert!(z.iter().enumerate().all(|(k, &x)| x == want(k)), "round {round}");
            recycle(Tensor::from_vec(z, &[len]).unwrap());
        }
        let empty: Vec<f64> = zeroed_blocks(0, 4, 1, |_, _| unreachable!("no blocks"));
        assert!(empty.is_empty());
        release_spare_buffers();
    }

    #[test]
    fn every_index_runs_once_on_either_thread() {
        for count in [0, 1, 2, 33, 1000] {
            let seen: Vec<std::sync::atomic::AtomicUsize> = (0..count).map(|_| Default::default()).collect();
            for_each_index(count, |i| {
                seen[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1), "{count}");
        }
    }

    #[test]
    fn block_pairs_line_up() {
        for (blocks, work) in [(5, 1), (3000, 1000)] {
            let (mut a, mut b) = (vec![0usize; blocks], vec![0usize; blocks * 3]);
            for_each_block_pair_mut(&mut a, 1, &mut b, 3, work, |i, x, y| {
                x[0] = i;
                y.iter_mut().for_each(|v| *v = i);
            });
            assert!(a.iter().enumerate().all(|(i, &v)| v == i));
            assert!(b.iter().enumerate().all(|(j, &v)| v == j / 3));
        }
    }

    #[test]
    fn zeroed_vec_is_zeros() {
        let v = zeroed_vec::<f32>(3 << 20);
        assert_eq!(v.len(), 3 << 20);
        assert!(v.iter().step_by(4097).all(|&x| x == 0.0));
    }
}
