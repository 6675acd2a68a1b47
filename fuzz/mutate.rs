//! A small mutation fuzzer on stable Rust, for machines without nightly and `cargo fuzz`: runs
//! a fuzz target's body (`bodies.rs`) over its committed corpus (`fuzz/corpus/<target>/`),
//! then over seeded random mutations of it: bit flips, interesting bytes and numbers,
//! dictionary tokens (`1e400`, `"nan"`, `18446744073709551615`, ...), insertions, deletions,
//! duplications and splices of two inputs. Mutants that the loader accepts join the pool, so
//! later mutations start from deeper inputs. No coverage feedback: libFuzzer does that.
//!
//! It also watches memory: a binary that includes this file gets its counting global
//! allocator, which records the largest single allocation, and every execution must stay below
//! [`allocation_limit`] of its input's length: a loader that allocates what a file declares
//! before checking it fails here even when the allocation would have succeeded.
//!
//! Used by `examples/fuzz_loaders.rs` (long runs) and the root package's `tests/main.rs` (CI:
//! `fuzz_loaders` and `prop_loaders`), which include it with `#[path]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The system allocator, recording per thread the largest single request.
pub struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

fn note(size: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

/// Resets the largest single allocation seen on this thread, returning the previous one.
pub fn take_largest_allocation() -> usize {
    LARGEST.with(|l| l.replace(0))
}

/// The largest single allocation an input of `len` bytes may cause: 64 bytes per input byte
/// (a parsed number, its tensor element, its gradient, its JSON output) plus 1 MiB. A
/// declared size is never this small unless the file really holds that much data.
pub fn allocation_limit(len: usize) -> usize {
    64 * len + (1 << 20)
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Executions of the body: corpus files and mutants.
    pub executions: u64,
    /// Inputs in the pool at the end (corpus plus accepted mutants).
    pub pool: usize,
    /// The largest single allocation of any execution, in bytes.
    pub largest_allocation: usize,
}

/// A failed execution: the input, and what went wrong.
#[derive(Debug)]
pub struct Failure {
    pub input: Vec<u8>,
    pub message: String,
}

/// Tokens that make loaders take unusual paths.
const DICTIONARY: &[&str] = &[
    "1e400",
    "-1e400",
    "1e39",
    "-0",
    "0",
    "1",
    "-1",
    "2",
    "3",
    "nan",
    "\"nan\"",
    "\"inf\"",
    "\"-inf\"",
    "null",
    "true",
    "[]",
    "{}",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\u0000",
    "\"shape\"",
    "\"data\"",
    "\"data_offsets\"",
    "\"dtype\"",
    "\"F32\"",
    "\"F64\"",
    "\"I64\"",
    "\"float32\"",
    "\"float64\"",
    "\"tensors\"",
    "\"format\"",
    "\"cases\"",
    "\"indices\"",
    "\"probabilities\"",
    "\"none\"",
    "\"sum\"",
    "\"mean\"",
    "\"ignore_index\"",
    "\"label_smoothing\"",
    "\"weight\"",
    "\"__metadata__\"",
    "\"0.weight\"",
    "\"0.bias\"",
    "\"2.weight\"",
    "\"2.bias\"",
    "4294967296",
    "1099511627776",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1.5",
    "0.5",
    "\n",
    "\r\n",
    ",,",
    "inf",
    "-inf",
    "1e15",
    "x,y,label",
];

const INTERESTING_U64: &[u64] = &[
    0,
    1,
    7,
    8,
    255,
    4096,
    1 << 31,
    1 << 32,
    (1 << 32) - 1,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
];

fn mutate(rng: &mut StdRng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.random_range(0..4);
    for _ in 0..rounds {
        let len = out.len();
        match rng.random_range(0..10) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] = [0u8, 0xff, 0x7f, 0x80, b'0', b'9', b'-', b'.', b'e', b'"', b','][rng.random_range(0..11)];
            }
            2 | 3 => {
                let token = DICTIONARY[rng.random_range(0..DICTIONARY.len())].as_bytes();
                let i = rng.random_range(0..=len);
                if rng.random_bool(0.5) && len > 0 {
                    // replace a run of digits (a number) or a few bytes with the token
                    let mut end = i.min(len - 1);
                    while end < len && (out[end].is_ascii_digit() || out[end] == b'.' || out[end] == b'-') {
                        end += 1;
                    }
                    let end = end.max((i + 1).min(len));
                    out.splice(i.min(end)..end, token.iter().copied());
                } else {
                    out.splice(i..i, token.iter().copied());
                }
            }
            4 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + 1 + rng.random_range(0..16)).min(len);
                out.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + 1 + rng.random_range(0..32)).min(len);
                let chunk = out[a..b].to_vec();
                let at = rng.random_range(0..=len);
                out.splice(at..at, chunk);
            }
            6 if len >= 8 => {
                // an interesting little-endian u64 (a safetensors header length, say)
                let v = INTERESTING_U64[rng.random_range(0..INTERESTING_U64.len())];
                let at = if rng.random_bool(0.5) {
                    0
                } else {
                    rng.random_range(0..=len - 8)
                };
                out[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            7 if !pool.is_empty() => {
                let other = &pool[rng.random_range(0..pool.len())];
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            8 => {
                let n = rng.random_range(1..8);
                let at = rng.random_range(0..=len);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                out.splice(at..at, bytes);
            }
            _ if len > 0 => out.truncate(rng.random_range(0..len)),
            _ => {}
        }
    }
    out.truncate(1 << 16);
    out
}

/// The committed corpus of `target` (files sorted by name).
pub fn corpus(dir: &Path, target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.into_iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Runs `body` on one input, catching a panic and checking the largest allocation.
pub fn execute(body: fn(&[u8]), input: &[u8], stats: &mut Stats) -> Result<(), Failure> {
    take_largest_allocation();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(input)));
    let largest = take_largest_allocation();
    stats.executions += 1;
    stats.largest_allocation = stats.largest_allocation.max(largest);
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        return Err(Failure {
            input: input.to_vec(),
            message: format!("panicked: {message}"),
        });
    }
    if largest > allocation_limit(input.len()) {
        return Err(Failure {
            input: input.to_vec(),
            message: format!(
                "allocated {largest} bytes at once for an input of {} bytes (limit {})",
                input.len(),
                allocation_limit(input.len())
            ),
        });
    }
    Ok(())
}

/// Runs `body` over the corpus, then `iterations` mutants from `seed`. `accepts` tells
/// whether an input is worth keeping in the pool (the loader read it).
pub fn run(
    body: fn(&[u8]),
    accepts: impl Fn(&[u8]) -> bool,
    corpus: Vec<Vec<u8>>,
    iterations: u64,
    seed: u64,
) -> Result<Stats, Failure> {
    let mut stats = Stats::default();
    let mut pool = corpus;
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    for input in &pool {
        execute(body, input, &mut stats)?;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..iterations {
        let parent = &pool[rng.random_range(0..pool.len())];
        let child = mutate(&mut rng, parent, &pool);
        execute(body, &child, &mut stats)?;
        if pool.len() < 4096 && accepts(&child) {
            pool.push(child);
        }
    }
    stats.pool = pool.len();
    Ok(stats)
}
