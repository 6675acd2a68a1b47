//! ferrograd's side of the benchmarks in `docs/performance.md`; `benches/pytorch_reference.py`
//! runs the same workloads in PyTorch and prints the same names.
//!
//! ```text
//! cargo bench --bench workloads                      # everything, a few minutes
//! cargo bench --bench workloads -- cross_entropy     # one group
//! cargo bench --bench workloads -- elementwise/tanh_1M
//! ```
//!
//! Every workload is float32. Times are per call of the closure; `autograd_overhead/chain_1000`
//! also reports a throughput in ops (2000 per call: 1000 multiplications, 1000 additions).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrograd::prelude::*;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

const CHAIN: usize = 1000;

/// `n` random class indices in `0..c`.
fn targets(n: usize, c: usize, seed: u64) -> IndexTensor {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    IndexTensor::from_slice(&(0..n).map(|_| rng.random_range(0..c as i64)).collect::<Vec<_>>())
}

/// Random normal logits `[n, c]`, random targets, `reduction = mean`: forward, then backward
/// to the logits' gradient (cleared first, as `logits.grad = None`).
fn cross_entropy_fwd_bwd(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_entropy_fwd_bwd");
    for (n, classes) in [(64, 4), (4096, 1000), (2048, 32000)] {
        if n * classes >= 10_000_000 {
            group.sample_size(20);
        }
        let logits = Var::parameter(Tensor::<f32>::randn(&[n, classes], 0));
        let target = targets(n, classes, 1);
        let options = CrossEntropyOptions::default();
        group.bench_function(BenchmarkId::from_parameter(format!("{n}x{classes}")), |b| {
            b.iter(|| {
                logits.zero_grad();
                cross_entropy_with(&logits, &target, &options)
                    .unwrap()
                    .backward()
                    .unwrap();
            })
        });
        black_box(logits.grad());
    }
    group.finish();
}

/// Linear-ReLU-Linear-ReLU-Linear, cross-entropy, backward, SGD with momentum 0.9.
fn mlp_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp_step");
    for (label, sizes, batch) in [
        ("2-64-64-3_b128", [2, 64, 64, 3], 128),
        ("784-128-128-10_b64", [784, 128, 128, 10], 64),
    ] {
        let model: Sequential = Sequential::new()
            .add(Linear::new(sizes[0], sizes[1], 0))
            .add(ReLU)
            .add(Linear::new(sizes[1], sizes[2], 1))
            .add(ReLU)
            .add(Linear::new(sizes[2], sizes[3], 2));
        let x = Var::new(Tensor::<f32>::randn(&[batch, sizes[0]], 3));
        let y = targets(batch, sizes[3], 4);
        let mut opt = SGD::new(model.parameters(), 0.01).momentum(0.9);
        let loss_fn = CrossEntropyLoss::new();
        group.bench_function(label, |b| {
            b.iter(|| {
                opt.zero_grad();
                let loss = loss_fn.forward(&model.forward(&x).unwrap(), &y).unwrap();
                loss.backward().unwrap();
                opt.step().unwrap();
            })
        });
    }
    group.finish();
}

/// On a 4-element tensor, `CHAIN` times `z = z * 1.0001 + 0.0001`, then `z.sum().backward()`.
fn autograd_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("autograd_overhead");
    group.throughput(Throughput::Elements(2 * CHAIN as u64)); // ops per call
    let z0 = Var::parameter(Tensor::<f32>::ones(&[4]));
    group.bench_function(format!("chain_{CHAIN}"), |b| {
        b.iter(|| {
            z0.zero_grad();
            let mut z = z0.clone();
            for _ in 0..CHAIN {
                z = &z * 1.0001 + 0.0001;
            }
            z.sum().backward().unwrap();
        })
    });
    black_box(z0.grad());
    group.finish();
}

/// One copy of the 2048x32000 logits into a buffer that exists (`memcpy` on one thread,
/// `memcpy_parallel` split across rayon's threads, as PyTorch's `copy_` is) and into a new
/// allocation (`memcpy_alloc`; mimalloc, this program's allocator, hands back the block the
/// last call freed, where glibc's malloc maps and faults in fresh pages): the yardstick for
/// the big cross-entropy.
fn memcpy(c: &mut Criterion) {
    let src = Tensor::<f32>::randn(&[2048, 32000], 0)
        .into_array()
        .into_raw_vec_and_offset()
        .0;
    let mut dst = vec![0.0f32; src.len()];
    let mut group = c.benchmark_group("memcpy");
    group.sample_size(20);
    group.bench_function("2048x32000", |b| b.iter(|| dst.copy_from_slice(black_box(&src))));
    group.finish();
    let mut group = c.benchmark_group("memcpy_parallel");
    group.sample_size(20);
    group.bench_function("2048x32000", |b| {
        b.iter(|| {
            let chunk = src.len().div_ceil(rayon::current_num_threads());
            dst.par_chunks_mut(chunk)
                .zip(black_box(&src).par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
        })
    });
    group.finish();
    let mut group = c.benchmark_group("memcpy_alloc");
    group.sample_size(20);
    group.bench_function("2048x32000", |b| b.iter(|| black_box(src.clone())));
    group.finish();
}

/// Values in each `elementwise` workload: 1,048,576 `f32`.
const ELEMENTWISE: usize = 1 << 20;

/// On a leaf of `ELEMENTWISE` random normal values: `y = op(x)`, then `y.backward(g)` with a
/// gradient of ones (the leaf's gradient cleared first), as PyTorch's
/// `y = torch.tanh(x); y.backward(g)`; and `memcpy_1M`, one copy of the same bytes into a
/// buffer that exists, the yardstick (one read and one write of 4 MiB).
fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise");
    group.throughput(Throughput::Elements(ELEMENTWISE as u64));
    let x = Var::parameter(Tensor::<f32>::randn(&[ELEMENTWISE], 0));
    let ones = Tensor::<f32>::ones(&[ELEMENTWISE]);
    type Op = fn(&Var<f32>) -> Var<f32>;
    let ops: [(&str, Op); 6] = [
        ("tanh_1M", |x| x.tanh()),
        ("gelu_tanh_1M", |x| x.gelu("tanh").expect("a known form")),
        ("sigmoid_1M", |x| x.sigmoid()),
        ("gelu_1M", |x| x.gelu("none").expect("a known form")),
        ("silu_1M", |x| x.silu()),
        ("softplus_1M", |x| x.softplus(1.0, 20.0)),
    ];
    for (name, op) in ops {
        group.bench_function(name, |b| {
            b.iter(|| {
                x.zero_grad();
                op(&x).backward_with(&ones).expect("same shape");
            })
        });
    }
    let src = Tensor::<f32>::randn(&[ELEMENTWISE], 1)
        .into_array()
        .into_raw_vec_and_offset()
        .0;
    let mut dst = vec![0.0f32; src.len()];
    group.bench_function("memcpy_1M", |b| b.iter(|| dst.copy_from_slice(black_box(&src))));
    black_box(x.grad());
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = cross_entropy_fwd_bwd, mlp_step, autograd_overhead, memcpy, elementwise
}
criterion_main!(benches);
