//! Long training runs do not leak or slow down: the spiral model of `train_classifier`
//! (a 2-64-64-3 MLP, Adam, batches of 32) trained step after step keeps its resident memory
//! (VmRSS) within 5% of what it was after 1,000 steps, the median time of its last steps
//! within 2x of steps 5,000-6,000 (thread CPU time, each side the better of two 1,000-step
//! windows), and frees the graph of every step when its loss is dropped: the count of
//! live graph nodes (`ferrograd::autograd::live_nodes`) is back to the model's parameters
//! after every step.
//!
//! The 20,000 steps take 6-8 s at the test profile's opt-level 1 (about 0.3 ms a step), so
//! CI runs them all; `cargo test --test long_run -- --nocapture` prints the figures.

#[allow(dead_code)]
#[path = "../examples/train_classifier/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/train_classifier/model.rs"]
mod model;

use std::time::Instant;

use ferrograd::autograd::{live_nodes, Var};
use ferrograd::nn::{Adam, CrossEntropyLoss, DataLoader, Forward, Module, Optimizer};
use ferrograd::tensor::{IndexTensor, Tensor};

/// The resident memory of this process, in KiB, from `/proc/self/status`.
fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The CPU time this thread has used, in seconds (`CLOCK_THREAD_CPUTIME_ID`): unlike the wall
/// clock, it does not count the time other processes on a shared 2-core machine take.
fn thread_cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    let ok = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(ok, 0, "clock_gettime");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What a run measured.
struct Run {
    /// Seconds of this thread's CPU time per step.
    step_time: Vec<f64>,
    /// Seconds of wall-clock time per step.
    step_wall: Vec<f64>,
    /// (step, VmRSS in KiB) after every 1,000 steps.
    rss: Vec<(usize, u64)>,
    /// Live graph nodes after each step, and before training (the parameters).
    live_after_step: Vec<usize>,
    live_before: usize,
    /// Live nodes in the middle of the first step, while its loss is alive.
    live_during_first_step: usize,
}

fn train(steps: usize) -> Run {
    let raw = data::spiral(300, 3, 0.2, 0);
    let standardized = data::Standardizer::fit(&raw).transform(&raw);
    let x = Tensor::from_vec(standardized.features.clone(), &[standardized.len(), 2]).unwrap();
    let y = IndexTensor::from_vec(standardized.labels.clone(), &[standardized.len()]).unwrap();
    let loader = DataLoader::new(x, y, 32, true, 0).unwrap();
    let model = model::mlp(&[2, 64, 64, 3], 0);
    let mut optimizer = Adam::new(model.parameters(), 0.01);
    let loss_fn = CrossEntropyLoss::new();
    let live_before = live_nodes();
    // The records are written now, so that their pages are resident before the first
    // measurement: filling them step by step would itself grow VmRSS by 16 bytes a step.
    let mut run = Run {
        step_time: vec![f64::NAN; steps],
        step_wall: vec![f64::NAN; steps],
        rss: Vec::with_capacity(steps / 1000 + 1),
        live_after_step: vec![usize::MAX; steps],
        live_before,
        live_during_first_step: 0,
    };
    let mut step = 0;
    for epoch in 0.. {
        for (xb, yb) in loader.batches(epoch) {
            let (start, start_cpu) = (Instant::now(), thread_cpu_seconds());
            {
                let loss = loss_fn.forward(&model.forward(&Var::new(xb)).unwrap(), &yb).unwrap();
                optimizer.zero_grad();
                loss.backward().unwrap();
                optimizer.step().unwrap();
                if step == 0 {
                    run.live_during_first_step = live_nodes();
                }
            } // the loss, and with it the step's graph, is dropped here
            run.step_time[step] = thread_cpu_seconds() - start_cpu;
            run.step_wall[step] = start.elapsed().as_secs_f64();
            run.live_after_step[step] = live_nodes();
            step += 1;
            if step % 1000 == 0 {
                run.rss.push((step, vm_rss_kib()));
            }
            if step == steps {
                return run;
            }
        }
    }
    unreachable!("the loader never runs out of epochs")
}

/// Checks the promises on a run and prints its figures.
fn check(run: &Run, steps: usize) {
    // The graph of a step is freed with its loss.
    // During the step the graph holds exactly 7 more nodes: the input batch, one node per
    // Linear (x·Wᵀ + b is a single op), one per ReLU (two) and the loss.
    assert!(
        run.live_during_first_step == run.live_before + 7,
        "the counter sees the graph: {} nodes during a step, {} before",
        run.live_during_first_step,
        run.live_before
    );
    assert!(
        run.live_after_step.iter().all(|&n| n == run.live_before),
        "live nodes after a step: {:?} (expected {})",
        run.live_after_step
            .iter()
            .filter(|&&n| n != run.live_before)
            .take(5)
            .collect::<Vec<_>>(),
        run.live_before
    );
    // Memory: no growth beyond 5% after the first 1,000 steps.
    let (_, at_1000) = run.rss[0];
    let (last_step, at_end) = *run.rss.last().unwrap();
    let peak = run.rss.iter().map(|&(_, r)| r).max().unwrap();
    let growth = at_end as f64 / at_1000 as f64;
    assert!(
        peak as f64 <= at_1000 as f64 * 1.05,
        "VmRSS grew from {at_1000} KiB at step 1000 to {peak} KiB: {:?}",
        run.rss
    );
    // Time: the median step of the last 1,000 within 2x of steps 5,000-6,000, in the CPU
    // time of this thread. Each side takes the better of two 1,000-step windows (5,000-6,000
    // and 6,000-7,000; the last two), as a machine shared with other work slows whole windows
    // now and then (seen: 1.7x for 2,000 steps), while a real drift would slow both.
    //
    // Not from steps 1,000-2,000: as the model fits, some of Adam's moment values shrink into
    // the subnormal numbers (PyTorch's arithmetic, kept), and every vector of the update that
    // holds one costs the CPU a microcode assist. The steps slow down for that alone, by
    // thousands of steps. Four runs in this profile, medians by 1,000 steps: 148-182 µs at
    // steps 1,000-3,000, 187-215 at 5,000-9,000, 286-308 at the end (the ratio against steps
    // 1,000-3,000 1.78-2.0, against 5,000-7,000 1.42-1.59). At opt-level 3 the same loop
    // went from 44 to 62 µs, and with flush-to-zero set stayed at 20-23 µs throughout.
    let window = |from: usize| median(&run.step_time[from..from + 1000]);
    let early = window(5000).min(window(6000));
    let late = window(steps - 1000).min(window(steps - 2000));
    let ratio = late / early;
    let wall_ratio = median(&run.step_wall[steps - 1000..]) / median(&run.step_wall[5000..6000]);
    let windows: Vec<String> = run
        .step_time
        .chunks(1000)
        .map(|w| format!("{:.0}", median(w) * 1e6))
        .collect();
    println!("median CPU µs per step, by 1,000 steps: {}", windows.join(" "));
    assert!(
        // Measured 1.42-1.59 here (above); a graph or buffer that grows with the steps would push it
        // far past 2 over 20,000 steps, while 2 leaves room for a loaded machine.
        ratio <= 2.0,
        "median step time {early:.3e} s at steps 5000-7000, {late:.3e} s at the end"
    );
    println!(
        "{steps} steps: VmRSS {at_1000} KiB at step 1000, {at_end} KiB at step {last_step} (x{growth:.4}, peak {peak} KiB); \
         median step {:.1} µs CPU at steps 5000-7000, {:.1} µs in the last 2000 (better 1,000-step window each; ratio {ratio:.3}; wall clock {wall_ratio:.3}); \
         live nodes {} before, {} during step 1, {} after every step; total {:.1} s",
        early * 1e6,
        late * 1e6,
        run.live_before,
        run.live_during_first_step,
        run.live_after_step[steps - 1],
        run.step_wall.iter().sum::<f64>()
    );
}

#[test]
fn twenty_thousand_steps_keep_memory_time_and_nodes_flat() {
    // The only test of this binary: VmRSS is the whole process's.
    let run = train(20_000);
    check(&run, 20_000);
}
