//! `cross_entropy_memory/2048x32000`: the peak resident memory of one cross-entropy forward +
//! backward on 2048x32000 float32 logits, beyond the logits and their gradient.
//!
//! ```text
//! cargo bench --bench ce_memory
//! ```
//!
//! Runs in its own process (a bench binary): after a small warm-up call it resets the peak
//! (`/proc/self/clear_refs`, Linux ≥ 4.0), reads `VmRSS`, runs the workload, reads `VmHWM`.
//! `benches/pytorch_reference.py` measures PyTorch the same way.

use ferrograd::prelude::*;
use rand::{Rng, SeedableRng};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

const MIB: f64 = 1024.0 * 1024.0;

/// A field of `/proc/self/status` in bytes.
fn status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"));
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn run(n: usize, c: usize) -> Var {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let target = IndexTensor::from_slice(&(0..n).map(|_| rng.random_range(0..c as i64)).collect::<Vec<_>>());
    let logits = Var::parameter(Tensor::<f32>::randn(&[n, c], 0));
    let reset = std::fs::write("/proc/self/clear_refs", "5");
    let base = status("VmRSS");
    cross_entropy(&logits, &target).unwrap().backward().unwrap();
    let peak = status("VmHWM");
    if reset.is_err() {
        eprintln!("could not reset the peak (/proc/self/clear_refs): the number includes setup");
    }
    let bytes = n * c * std::mem::size_of::<f32>();
    let extra = peak as f64 - base as f64 - bytes as f64; // the gradient is as big as the logits
    if n * c > 1_000_000 {
        println!(
            "{:<42} extra peak RSS {:8.1} MiB = {:.3} x logits ({:.1} MiB)",
            format!("cross_entropy_memory/{n}x{c}"),
            extra / MIB,
            extra / bytes as f64,
            bytes as f64 / MIB
        );
    }
    logits
}

fn main() {
    run(64, 1000); // warm-up: the code paths and any thread pool, outside the measurement
    run(2048, 32000);
}
