//! Times every path of a matrix product on the shapes of the examples' models, and prints
//! the table of docs/performance.md ("Matrix products"):
//!
//! ```text
//! cargo run --release --example matmul_paths
//! ```
//!
//! Paths: ferrograd's choice (`Tensor::mm`) on one and two threads, the hand-written f32
//! AVX-512 kernel on one and two threads, its dot products (`kernels/long_dots.rs`, for A's
//! rows and B's columns contiguous) on two, the plain loops of small products,
//! matrixmultiply (ndarray's `dot`), and the gemm crate on one thread and on rayon's two. Each cell is the
//! median over 15 rounds of the mean time of one product, in µs (two decimals below 10); `-` where a path cannot take
//! the operands. The operands are f32, laid out as the model's products lay them (`ᵀ`: a
//! transposed view, column-major).

use std::time::Instant;

use ferrograd_tensor::matmul_paths::{product, Path};
use ferrograd_tensor::ndarray::{Array2, ArrayView2};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// `(model, product, m, k, n, A transposed, B transposed)`.
type Case = (&'static str, &'static str, usize, usize, usize, bool, bool);

/// The products of one step of each model: the forward `x·Wᵀ`, then the backward `dY·W`
/// (the input's gradient) and `dYᵀ·x` (the weight's).
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut linear = |model, name, m, k, n| {
        cases.push((model, name, m, k, n, false, true)); // x [m, k] · Wᵀ, W [n, k]
        cases.push((model, name, m, n, k, false, false)); // dY [m, n] · W [n, k]
        cases.push((model, name, n, m, k, true, false)); // dYᵀ [n, m] · x [m, k]
    };
    // char transformer at the defaults: 32 words x 16 characters, n_embd 64, vocabulary 27.
    linear("transformer", "attn qkv", 512, 64, 192);
    linear("transformer", "attn proj", 512, 64, 64);
    linear("transformer", "mlp fc", 512, 64, 256);
    linear("transformer", "mlp proj", 512, 256, 64);
    linear("transformer", "lm head", 512, 64, 27);
    // char MLP: 16 characters of 64 each, hidden 64.
    linear("char mlp", "hidden", 512, 1024, 64);
    linear("char mlp", "logits", 512, 64, 27);
    // digits CNN (batch 64): its classifier here, its convolutions at the end.
    linear("digits", "linear", 64, 128, 10);
    // MLP benches (benches/workloads.rs).
    linear("mlp bench", "2-64", 128, 2, 64);
    linear("mlp bench", "784-128", 64, 784, 128);
    // Skinny products: the logits of the spiral classifier (2-64-64-3, batches of 32), and
    // products with 4 and 8 columns, where the plain loops and matrixmultiply trade places.
    linear("spiral", "64-3", 32, 64, 3);
    cases.push(("skinny", "n = 4", 4096, 16, 4, false, false));
    cases.push(("skinny", "n = 8", 4096, 16, 8, false, false));
    cases.push(("skinny", "k = 4", 1024, 4, 64, false, true));
    // Tiny products, where the plain loops meet matrixmultiply.
    cases.push(("tiny", "", 4, 4, 4, false, false));
    cases.push(("tiny", "", 8, 8, 8, false, false));
    cases.push(("tiny", "", 8, 16, 16, false, true));
    // Larger products, where the kernel (which does not block for caches) meets matrixmultiply.
    cases.push(("large", "", 256, 512, 256, false, true));
    cases.push(("large", "", 512, 1024, 256, false, true));
    cases.push(("large", "", 512, 256, 1024, false, false));
    cases.push(("large", "", 1024, 1024, 1024, false, true));
    // Attention's batched products, one head of one word: q·kᵀ and att·v.
    cases.push(("transformer", "q·kᵀ (x128)", 16, 16, 16, false, true));
    cases.push(("transformer", "att·v (x128)", 16, 16, 16, false, false));
    // digits CNN (batch 64, 8x8, padding 1): the flattened kernels W [C_out, C_in·9] times the
    // im2col columns [C_in·9, N·H·W], then the weight's gradient `dY·colsᵀ` and the columns'
    // `Wᵀ·dY` (none for conv1, whose input is the data).
    cases.push(("digits", "conv1", 16, 9, 4096, false, false));
    cases.push(("digits", "conv1", 16, 4096, 9, false, true));
    cases.push(("digits", "conv2", 32, 144, 1024, false, false));
    cases.push(("digits", "conv2", 32, 1024, 144, false, true));
    cases.push(("digits", "conv2", 144, 32, 1024, true, false));
    cases
}

/// A `rows x cols` operand, or the transposed view of a `cols x rows` one.
fn operand(rows: usize, cols: usize, transposed: bool, seed: usize) -> Array2<f32> {
    let f = |i: usize, j: usize| ((i * 7 + j * 3 + seed) % 23) as f32 / 11.0 - 1.0;
    if transposed {
        Array2::from_shape_fn((cols, rows), |(j, i)| f(i, j))
    } else {
        Array2::from_shape_fn((rows, cols), |(i, j)| f(i, j))
    }
}

fn view(a: &Array2<f32>, transposed: bool) -> ArrayView2<'_, f32> {
    if transposed {
        a.t()
    } else {
        a.view()
    }
}

/// `A·B` by the gemm crate into a new row-major C.
fn gemm_crate(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, threads: usize) -> Array2<f32> {
    let ((m, k), n) = (a.dim(), b.ncols());
    let mut c = Array2::<f32>::zeros((m, n));
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (sa, sb) = (a.strides(), b.strides());
    // SAFETY: the pointers and strides describe the three arrays, which live through the call;
    // C is not read (read_dst false) and is written only in its m x n elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    };
    c
}

/// The median over rounds of µs per call of `f`, each round ~2 ms of calls.
fn time(mut f: impl FnMut() -> Option<Array2<f32>>) -> Option<f64> {
    let start = Instant::now();
    std::hint::black_box(f()?);
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let reps = ((2e-3 / once) as usize).clamp(1, 10_000);
    let mut rounds: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                std::hint::black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    Some(rounds[rounds.len() / 2])
}

fn main() {
    let pools: Vec<rayon::ThreadPool> = [1, 2]
        .map(|t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("a thread pool")
        })
        .into();
    println!(
        "instruction set: {} (FERROGRAD_ISA lowers it)\n",
        ferrograd_tensor::cpu::isa().name()
    );
    println!("| model | product | m x k x n | chosen 1t | chosen 2t | kernel 1t | kernel 2t | long dots 2t | small_gemm | matrixmultiply | gemm 1t | gemm 2t |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (model, name, m, k, n, ta, tb) in cases() {
        let (a, b) = (operand(m, k, ta, 1), operand(k, n, tb, 2));
        let (a, b) = (view(&a, ta), view(&b, tb));
        let want = a.dot(&b);
        let by = |path, pool: &rayon::ThreadPool| pool.install(|| time(|| product(path, a, b)));
        let crate_in = |threads, pool: &rayon::ThreadPool| {
            let c = gemm_crate(a, b, threads);
            assert!(c
                .iter()
                .zip(&want)
                .all(|(x, y)| (x - y).abs() <= 1e-3 * y.abs().max(1.0)));
            pool.install(|| time(|| Some(gemm_crate(a, b, threads))))
        };
        let cells = [
            by(Path::Chosen, &pools[0]),
            by(Path::Chosen, &pools[1]),
            by(Path::Kernel, &pools[0]),
            by(Path::Kernel, &pools[1]),
            by(Path::LongDots, &pools[1]),
            by(Path::SmallGemm, &pools[0]),
            by(Path::MatrixMultiply, &pools[0]),
            crate_in(1, &pools[0]),
            crate_in(2, &pools[1]),
        ];
        let shape = format!(
            "{m}{} x {k} x {n}{}",
            if ta { "ᵀ" } else { "" },
            if tb { "ᵀ" } else { "" }
        );
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.map_or("-".into(), |us| format!("{us:.*}", if us < 10.0 { 2 } else { 1 })))
            .collect();
        println!("| {model} | {name} | {shape} | {} |", cells.join(" | "));
    }
}
