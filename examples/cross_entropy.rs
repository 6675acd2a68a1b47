//! The seed example: the categorical cross-entropy of one 3x4 batch of logits computed three
//! ways (paper and pencil, a naive NumPy-style loop, ferrograd's `cross_entropy`), agreeing
//! apart from rounding.
//!
//!     cargo run --release --example cross_entropy
//!
//! With `--cases FILE.json` it is the conformance runner instead: it reads cross-entropy cases
//! and prints ferrograd's loss and gradients as JSON (see `ferrograd::conformance`).
//!
//!     cargo run --release --example cross_entropy -- --cases tests/fixtures/cross_entropy_cases.json

use std::process::ExitCode;

#[path = "support/numpy_f32.rs"]
mod numpy_f32;

use ferrograd::conformance::{parse_cases, run_cases};
use ferrograd::prelude::*;

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// The seed's logits: 3 samples (rows) x 4 categories (columns), and the true classes.
const LOGITS: [[f64; 4]; 3] = [[1.0, 4.0, 1.0, 1.0], [5.0, 1.0, 2.0, 1.0], [1.0, 2.0, 5.0, 1.0]];
const TARGETS: [usize; 3] = [1, 0, 2];

/// What the seed's NumPy loop printed.
const SEED_NUMPY_LOSS: f64 = 0.10165966302156448;

/// PyTorch 2.15, `F.cross_entropy(preds, gndTrs)` in float32: `repr(loss.item())`.
const PYTORCH_LOSS_F32: f64 = 0.10165968537330627;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [] => seed_example(),
        [flag, path] if flag == "--cases" => conformance(path),
        _ => Err(Error::invalid(
            "cross_entropy example",
            format!("unexpected arguments {args:?}; usage: cross_entropy [--cases FILE.json]"),
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn conformance(path: &str) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        op: "--cases",
        path: path.into(),
        message: e.to_string(),
    })?;
    let results = run_cases(&parse_cases(&text)?);
    println!("{}", serde_json::to_string_pretty(&results).expect("results serialize"));
    Ok(())
}

fn seed_example() -> Result<()> {
    let paper = paper_and_pencil();
    let numpy = numpy_loop();
    let ours = ferrograd_f32()?;
    let values = [
        ("paper and pencil", paper),
        ("NumPy-style loop", numpy),
        ("ferrograd", ours),
    ];
    let mut worst = (0.0f64, "", "");
    for (i, a) in values.iter().enumerate() {
        for b in &values[i + 1..] {
            let d = (a.1 - b.1).abs();
            if d > worst.0 {
                worst = (d, a.0, b.0);
            }
        }
    }
    println!("\n## 4. Agreement");
    println!(
        "largest difference between the three results: {:.3e} ({} vs {}), ferrograd vs PyTorch: {:.3e}",
        worst.0,
        worst.1,
        worst.2,
        (ours - PYTORCH_LOSS_F32).abs()
    );
    Ok(())
}

/// Way 1: the softmax of each row written out, then the mean of -ln of the true class's
/// probability, with a calculator's double precision.
fn paper_and_pencil() -> f64 {
    println!("## 1. Paper and pencil");
    let mut table = Vec::new();
    for row in LOGITS {
        let terms: Vec<String> = row.iter().map(|v| format!("e^{v}")).collect();
        let denominator: f64 = row.iter().map(|v| v.exp()).sum();
        let cells: Vec<String> = row
            .iter()
            .map(|v| format!("e^{v}/({}) = {:.5}", terms.join("+"), v.exp() / denominator))
            .collect();
        println!("  {}", cells.join(", "));
        table.push(row.map(|v| v.exp() / denominator));
    }
    println!("softmax, rounded to 5 decimals:");
    for row in &table {
        println!(
            "  {}",
            row.iter().map(|p| format!("{p:.5}")).collect::<Vec<_>>().join(", ")
        );
    }
    let terms: Vec<f64> = table.iter().zip(TARGETS).map(|(row, y)| -row[y].ln()).collect();
    let loss = terms.iter().sum::<f64>() / terms.len() as f64;
    let shown: Vec<String> = table
        .iter()
        .zip(TARGETS)
        .map(|(row, y)| format!("-ln({:.5})", row[y]))
        .collect();
    println!("loss = ({}) / 3", shown.join(" + "));
    println!(
        "     = ({}) / 3",
        terms.iter().map(|t| format!("{t:.5}")).collect::<Vec<_>>().join(" + ")
    );
    println!("     = {loss:.5}");
    loss
}

/// Way 2: the seed's NumPy loop: a float32 softmax row by row (no max subtraction), the
/// float32 `-ln` of the true class's probability, summed into a float64 and divided by 3,
/// with NumPy's own float32 `exp` and `log` (its SIMD kernels, `support/numpy_f32.rs`), so
/// that it prints the seed's number bit for bit.
fn numpy_loop() -> f64 {
    println!("\n## 2. The NumPy-style loop (float32 softmax, float64 sum)");
    let mut sum = 0.0f64;
    for (row, y) in LOGITS.iter().zip(TARGETS) {
        let e: Vec<f32> = row.iter().map(|&v| numpy_f32::exp(v as f32)).collect();
        let total: f32 = e.iter().sum();
        let p = e[y] / total;
        sum += (-numpy_f32::ln(p)) as f64;
    }
    let loss = sum / LOGITS.len() as f64;
    println!("NumPy loss = {loss}");
    println!(
        "(the seed printed {SEED_NUMPY_LOSS}{}: NumPy's float32 exp returns e^1 as {}, one ulp above the\n correctly rounded {} of Rust's f32::exp; with Rust's exp and ln the loop gives {})",
        if loss == SEED_NUMPY_LOSS { ", the same bits" } else { ", NOT the same bits" },
        numpy_f32::exp(1.0) as f64,
        1f32.exp() as f64,
        rust_loop()
    );
    loss
}

/// The same loop with Rust's correctly rounded `f32::exp` and `f32::ln`.
fn rust_loop() -> f64 {
    let mut sum = 0.0f64;
    for (row, y) in LOGITS.iter().zip(TARGETS) {
        let e: Vec<f32> = row.iter().map(|&v| (v as f32).exp()).collect();
        sum += (-(e[y] / e.iter().sum::<f32>()).ln()) as f64;
    }
    sum / LOGITS.len() as f64
}

/// Way 3: ferrograd's `cross_entropy` in float32, and its gradient (softmax - one-hot) / 3.
fn ferrograd_f32() -> Result<f64> {
    println!("\n## 3. ferrograd: cross_entropy in float32");
    let data: Vec<f32> = LOGITS.iter().flatten().map(|&v| v as f32).collect();
    let logits = Var::parameter(Tensor::from_vec(data, &[3, 4])?);
    let target = IndexTensor::from_slice(&TARGETS.map(|y| y as i64));
    let loss = cross_entropy(&logits, &target)?;
    loss.backward()?;
    let value = loss.item()?;
    println!("loss = {loss}");
    println!(
        "loss.item() = {} (f32 bits 0x{:08x}; PyTorch: {PYTORCH_LOSS_F32}, 0x3dd032f4)",
        value as f64,
        value.to_bits()
    );
    println!("gradient d loss / d logits = (softmax - one_hot) / 3:");
    println!("{}", logits.grad().expect("backward ran"));
    Ok(value as f64)
}
