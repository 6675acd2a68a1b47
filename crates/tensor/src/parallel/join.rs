//! [`join`]: two pieces of work at once, the second on a helper thread that stays awake
//! between pieces.
//!
//! rayon's idle threads go to sleep within microseconds, and waking one costs tens of
//! microseconds on a shared virtual machine: more than a 128x64x64 product takes. A training
//! step of a small model hands out a piece every few microseconds, so the helper here spins
//! for a while ([`SPIN`]) after each piece, as OpenMP's threads (PyTorch's) do, then naps in
//! short timed sleeps ([`NAP`]), which a caller need not wake, and parks only when no piece
//! came for [`DOZE`]. Nothing waits on it blindly: a piece it has not started when the caller
//! is done with its own is taken back and run on the caller, so a descheduled helper costs no
//! more than running both pieces in turn.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::Instant;

use crate::tuning::{DOZE, NAP, SPIN};

const EMPTY: u8 = 0;
const POSTED: u8 = 1;
const TAKEN: u8 = 2;
const DONE: u8 = 3;

/// The piece handed to the helper: a type-erased `Option<B>` and the function that runs it.
#[derive(Clone, Copy)]
struct Job {
    data: *mut (),
    run: unsafe fn(*mut ()),
}

struct Helper {
    /// Set while a caller owns the slot; another caller runs both of its pieces itself.
    owner: AtomicBool,
    state: AtomicU8,
    /// Set when a caller took back a piece the helper had not started.
    missed: AtomicBool,
    job: UnsafeCell<Option<Job>>,
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
    thread: OnceLock<Option<Thread>>,
}

// SAFETY: `job` is written only by the owning caller while `state` is EMPTY and read by the
// helper only after it moved `state` from POSTED to TAKEN (acquire/release pairs order them);
// `panic` is written by the helper before it stores DONE and read by the caller after it sees
// DONE. The pointer in `job` is used only while the caller waits in `join`.
unsafe impl Sync for Helper {}

static HELPER: Helper = Helper {
    owner: AtomicBool::new(false),
    state: AtomicU8::new(EMPTY),
    missed: AtomicBool::new(false),
    job: UnsafeCell::new(None),
    panic: UnsafeCell::new(None),
    thread: OnceLock::new(),
};

/// Runs `a` on the calling thread and `b` on the helper thread at the same time, and returns
/// when both are done. If either panics, the panic is passed on once both have finished.
///
/// Both run on the caller, `a` first, when rayon's pool has one thread (so a pool of one
/// thread means one thread here too), when the helper is busy with another caller's piece, or
/// when no helper thread could be started.
pub fn join<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) {
    let helper = &HELPER;
    let thread = helper.thread.get_or_init(spawn_helper);
    let Some(thread) = thread.as_ref().filter(|_| rayon::current_num_threads() > 1) else {
        return serial(a, b);
    };
    if helper
        .owner
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return serial(a, b);
    }
    let mut b = Some(b);
    // SAFETY: the slot is ours (owner) and EMPTY, so the helper does not read `job` now.
    unsafe {
        *helper.job.get() = Some(Job {
            data: (&raw mut b).cast(),
            run: run_once::<B>,
        })
    };
    helper.state.store(POSTED, Ordering::Release);
    thread.unpark();
    let a_result = catch_unwind(AssertUnwindSafe(a));
    let b_result = if helper
        .state
        .compare_exchange(POSTED, EMPTY, Ordering::Acquire, Ordering::Acquire)
        .is_ok()
    {
        // The helper never started `b`: run it here.
        // SAFETY: the slot is ours and EMPTY again.
        unsafe { *helper.job.get() = None };
        helper.missed.store(true, Ordering::Relaxed);
        catch_unwind(AssertUnwindSafe(|| b.take().expect("not run")()))
    } else {
        wait_for_done(helper);
        // SAFETY: DONE was stored after the helper wrote `panic`; it no longer touches it.
        let panic = unsafe { (*helper.panic.get()).take() };
        helper.state.store(EMPTY, Ordering::Relaxed);
        panic.map_or(Ok(()), Err)
    };
    helper.owner.store(false, Ordering::Release);
    if let Err(p) = a_result.and(b_result) {
        resume_unwind(p);
    }
}

/// Both pieces on this thread, with the threaded path's promise: `b` runs even if `a`
/// panics, and a panic reaches the caller after both finished (`a`'s first).
fn serial<A: FnOnce(), B: FnOnce()>(a: A, b: B) {
    let a_result = catch_unwind(AssertUnwindSafe(a));
    let b_result = catch_unwind(AssertUnwindSafe(b));
    if let Err(p) = a_result.and(b_result) {
        resume_unwind(p);
    }
}

/// Runs the `Option<B>` behind `data` once.
///
/// # Safety
/// `data` must point to a live `Option<B>` that nothing else touches during the call.
unsafe fn run_once<B: FnOnce()>(data: *mut ()) {
    let b = unsafe { &mut *data.cast::<Option<B>>() };
    b.take().expect("run once")();
}

fn wait_for_done(helper: &Helper) {
    let mut spins = 0u32;
    while helper.state.load(Ordering::Acquire) != DONE {
        spins += 1;
        if spins < 1 << 12 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

fn spawn_helper() -> Option<Thread> {
    let handle = thread::Builder::new()
        .name("ferrograd-join".into())
        .spawn(helper_loop)
        .ok()?;
    Some(handle.thread().clone())
}

/// After [`SPIN`], the helper naps ([`NAP`] at a time) until no piece came for [`DOZE`], then
/// parks. A caller posting a piece during a nap makes no system call: its `unpark` only leaves
/// a token, and it takes the piece back if the helper is still asleep when its own is done,
/// marking it missed; a helper waking from a nap to a missed piece spins again.
fn helper_loop() {
    let helper = &HELPER;
    let mut started = Instant::now();
    loop {
        let mut spins = 0u32;
        while helper.state.load(Ordering::Relaxed) != POSTED {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) {
                std::hint::spin_loop();
                continue;
            }
            let idle = started.elapsed();
            if idle <= SPIN {
                continue;
            }
            if idle <= DOZE {
                thread::sleep(NAP);
            } else {
                // A POSTED store before this park is not missed: its unpark leaves a token.
                thread::park();
            }
            if helper.missed.swap(false, Ordering::Relaxed) {
                started = Instant::now();
            }
        }
        if helper
            .state
            .compare_exchange(POSTED, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            continue; // the caller took it back
        }
        // SAFETY: TAKEN is ours; the caller wrote `job` before POSTED and waits for DONE.
        let job = unsafe { (*helper.job.get()).take() }.expect("a posted job");
        let result = catch_unwind(AssertUnwindSafe(|| unsafe { (job.run)(job.data) }));
        // SAFETY: as above, until DONE is stored.
        unsafe { *helper.panic.get() = result.err() };
        helper.state.store(DONE, Ordering::Release);
        started = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pieces_run_whoever_runs_them() {
        for _ in 0..1000 {
            let (mut x, mut y) = (0, 0);
            join(|| x += 1, || y += 2);
            assert_eq!((x, y), (1, 2));
        }
    }

    #[test]
    fn callers_on_many_threads_each_get_their_results() {
        thread::scope(|s| {
            for t in 0..4usize {
                s.spawn(move || {
                    for i in 0..2000usize {
                        let (mut x, mut y) = (vec![0usize; 16], vec![0usize; 16]);
                        join(
                            || x.iter_mut().for_each(|v| *v = t + i),
                            || y.iter_mut().for_each(|v| *v = t * i),
                        );
                        assert!(x.iter().all(|&v| v == t + i) && y.iter().all(|&v| v == t * i));
                    }
                });
            }
        });
    }

    #[test]
    fn on_one_thread_too_a_panic_in_a_still_lets_b_run() {
        // The path taken without a helper (one thread, or the helper busy): found under Miri,
        // whose single-threaded rayon pool takes it.
        let mut other_ran = false;
        let r = catch_unwind(AssertUnwindSafe(|| serial(|| panic!("in a"), || other_ran = true)));
        assert!(r.is_err() && other_ran);
        let r = catch_unwind(AssertUnwindSafe(|| serial(|| panic!("first"), || panic!("second"))));
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"first"));
    }

    #[test]
    fn a_panic_in_either_piece_reaches_the_caller_after_both_finish() {
        let mut other_ran = false;
        let r = catch_unwind(AssertUnwindSafe(|| join(|| other_ran = true, || panic!("in b"))));
        assert!(r.is_err() && other_ran);
        let mut other_ran = false;
        let r = catch_unwind(AssertUnwindSafe(|| join(|| panic!("in a"), || other_ran = true)));
        assert!(r.is_err() && other_ran);
        let (mut x, mut y) = (0, 0);
        join(|| x = 1, || y = 1);
        assert_eq!((x, y), (1, 1), "the helper still works");
    }
}
