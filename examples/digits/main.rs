//! Trains a small CNN (two Conv2d-BatchNorm2d-ReLU-MaxPool2d blocks, then Linear) on the UCI
//! 8x8 handwritten digits shipped in `examples/data/digits.csv`. Prints each epoch's loss and
//! test accuracy, saves the model as safetensors with PyTorch's names (`0.weight`,
//! `1.running_mean`, ...) and the test split's indices next to it (for
//! `examples/digits/check_pytorch.py`), draws the confusion matrix and the misclassified test
//! digits, and ends with `test accuracy: X`. With `--saliency` it also draws, for a few test
//! digits, which pixels the score of the true digit depends on (saliency and integrated
//! gradients, `saliency.png`).
//!
//!     cargo run --release --example digits
//!     cargo run --release --example digits -- --epochs 20 --lr 0.005 --seed 3 --out target/digits
//!     cargo run --release --example digits -- --saliency
//!
//! Any mistake (an unknown option, a malformed CSV) is reported as `error: ...` with a
//! non-zero exit status.

#[path = "../support/cli.rs"]
mod cli;
mod data;
mod model;
mod plot;
mod saliency;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ferrograd::nn::{Adam, DataLoader, Module};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// The data set, compiled in so any working directory works.
const DIGITS: &str = include_str!("../data/digits.csv");

/// The share of the images held out for testing.
const TEST_FRACTION: f64 = 0.2;

const USAGE: &str = "\
Trains a small CNN on the 8x8 handwritten digits with ferrograd.

Usage: cargo run --release --example digits -- [OPTIONS]

Options:
  --epochs N        passes over the training set [default: 25]
  --lr F            Adam's learning rate [default: 0.003]
  --seed N          seeds the split, the weights and the shuffling [default: 0]
  --batch-size N    images per step [default: 64]
  --out DIR         where to write the model, the test indices and the plots
                    [default: target/digits]
  --saliency        also draw saliency and integrated-gradient maps of a few test
                    digits (saliency.png)
  -h, --help        print this help";

/// The command line, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    epochs: usize,
    lr: f64,
    seed: u64,
    batch_size: usize,
    out: String,
    saliency: bool,
}

fn main() -> ExitCode {
    cli::main_with(USAGE, parse_args, run)
}

fn run(config: &Config) -> Result<(), String> {
    let digits = data::parse_digits(DIGITS).map_err(|e| format!("digits.csv: {e}"))?;
    let (train_idx, test_idx) = data::split(digits.len(), TEST_FRACTION, config.seed);
    let (train_set, test_set) = (digits.subset(&train_idx), digits.subset(&test_idx));
    println!(
        "data: {} digits: {} for training, {} for testing",
        digits.len(),
        train_set.len(),
        test_set.len()
    );
    let model = model::cnn(config.seed)?;
    let n_params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    println!("model: Conv2d(1,16,3)-BatchNorm2d-ReLU-MaxPool2d(2)-Conv2d(16,32,3)-BatchNorm2d-ReLU-MaxPool2d(2)-Flatten-Linear(128,10) ({n_params} parameters)");

    let (x, y) = model::tensors(&train_set)?;
    let loader = DataLoader::new(x, y, config.batch_size, true, config.seed).map_err(|e| e.to_string())?;
    let mut optimizer = Adam::new(model.parameters(), config.lr);
    println!(
        "training: adam, lr {}, batch size {}, {} epochs",
        config.lr, config.batch_size, config.epochs
    );
    let start = Instant::now();
    // Minor page faults in the training steps of every epoch but the first (steady state).
    let (mut faults, mut steps) = (0u64, 0usize);
    for epoch in 0..config.epochs {
        let faults_before = ferrograd_tensor::minor_page_faults();
        let loss = model::train_epoch(&model, &mut optimizer, &loader, epoch as u64)?;
        if let (Some(before), Some(after)) = (faults_before, ferrograd_tensor::minor_page_faults()) {
            if epoch > 0 {
                faults += after - before;
                steps += loader.len();
            }
        }
        let (_, acc) = model::evaluate(&model, &test_set)?;
        println!("epoch {:>3}  loss {loss:.4}  test acc {acc:.4}", epoch + 1);
    }
    println!(
        "trained {} epochs in {:.2} s",
        config.epochs,
        start.elapsed().as_secs_f64()
    );
    if steps > 0 {
        println!(
            "minor page faults per training step after the first epoch: {:.1}",
            faults as f64 / steps as f64
        );
    }
    let (predicted, test_acc) = model::evaluate(&model, &test_set)?;

    let out = Path::new(&config.out);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let model_path = out.join("digits.safetensors");
    model
        .state_dict()
        .save_safetensors(&model_path)
        .map_err(|e| e.to_string())?;
    println!("saved the model to {}", model_path.display());
    let indices_path = out.join("test_indices.txt");
    let lines: Vec<String> = test_idx.iter().map(|i| i.to_string()).collect();
    std::fs::write(&indices_path, lines.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", indices_path.display()))?;
    println!("wrote {} (0-based rows of digits.csv)", indices_path.display());

    plot::register_fonts()?;
    let path = out.join("confusion_matrix.png");
    let title = format!("digits: test confusion matrix, accuracy {test_acc:.4}");
    plot::confusion_matrix(&path, &title, &plot::confusion(&test_set.labels, &predicted))?;
    println!("wrote {}", path.display());
    let path = out.join("misclassified.png");
    let n = plot::misclassified(&path, &test_set, &predicted, 48)?;
    println!("wrote {} ({n} digits)", path.display());
    if config.saliency {
        let path = out.join("saliency.png");
        let gap = saliency::maps(&path, &model, &test_set, &predicted)?;
        println!(
            "wrote {} ({} test digits; integrated gradients add up to the score's change within {gap:.1e})",
            path.display(),
            saliency::SHOWN.min(test_set.len())
        );
    }
    println!("test accuracy: {test_acc:.4}");
    Ok(())
}

/// Parses the arguments (without the program name). `Ok(None)` means help was asked for.
fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Option<Config>, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut config = Config {
        epochs: 25,
        lr: 0.003,
        seed: 0,
        batch_size: 64,
        out: "target/digits".into(),
        saliency: false,
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("epochs") => config.epochs = number(&mut parser, "--epochs", "a whole number")?,
            Long("lr") => {
                let v: f64 = number(&mut parser, "--lr", "a number, as 0.003")?;
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("--lr {v}: the learning rate must be a positive number"));
                }
                config.lr = v;
            }
            Long("seed") => config.seed = number(&mut parser, "--seed", "a whole number")?,
            Long("batch-size") => {
                config.batch_size = number(&mut parser, "--batch-size", "a whole number")?;
                if config.batch_size == 0 {
                    return Err("--batch-size 0: a batch needs at least one image".into());
                }
            }
            Long("out") => config.out = text(&mut parser, "--out")?,
            Long("saliency") => config.saliency = true,
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Some(config))
}

/// The value of an option as UTF-8 text.
fn text(parser: &mut lexopt::Parser, option: &str) -> Result<String, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .into_string()
        .map_err(|v| format!("{option} {v:?}: not valid UTF-8"))
}

/// The value of an option as a number; `expected` says what kind, for the error.
fn number<N: std::str::FromStr>(parser: &mut lexopt::Parser, option: &str, expected: &str) -> Result<N, String> {
    let value = text(parser, option)?;
    value
        .trim()
        .parse()
        .map_err(|_| format!("{option} {value:?}: expected {expected}"))
}
