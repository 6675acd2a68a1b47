//! Trains an MLP classifier with ferrograd: on a built-in 3-class spiral (default), on the
//! shipped Iris data, or on any CSV of numeric features and an integer label. Prints the loss
//! and accuracies per epoch under a progress bar, plots the loss curve and the decision
//! boundary (PNG), saves the model, and ends with `test accuracy: X`.
//!
//!     cargo run --release --example train_classifier
//!     cargo run --release --example train_classifier -- --dataset iris --optimizer sgd
//!     cargo run --release --example train_classifier -- --load target/models/spiral.safetensors --epochs 0
//!
//! Run with `--help` for every option. Any mistake (a missing file, a malformed CSV, an unknown
//! option) is reported as `error: ...` with a non-zero exit status.

mod args;
#[path = "../support/cli.rs"]
mod cli;
mod data;
mod model;
mod plot;
mod train;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ferrograd::nn::{DataLoader, Module, Sequential};
use indicatif::{ProgressBar, ProgressStyle};

use args::{Config, DatasetChoice};
use data::{Dataset, Standardizer};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// Iris (Fisher, 1936) as shipped in `examples/data`, compiled in so any working directory works.
const IRIS: &str = include_str!("../data/iris.csv");

/// The spiral: 3 arms of 300 points, angle noise 0.2 (CS231n's).
const SPIRAL_POINTS_PER_CLASS: usize = 300;
const SPIRAL_NOISE: f64 = 0.2;

/// The share of the rows held out for testing.
const TEST_FRACTION: f64 = 0.2;

fn main() -> ExitCode {
    cli::main_with(args::USAGE, args::parse_args, run)
}

fn run(config: &Config) -> Result<(), String> {
    let dataset = match &config.dataset {
        DatasetChoice::Spiral => data::spiral(SPIRAL_POINTS_PER_CLASS, 3, SPIRAL_NOISE, config.seed),
        DatasetChoice::Iris => data::parse_csv(IRIS).map_err(|e| format!("iris: {e}"))?,
        DatasetChoice::Csv(path) => data::load_csv(path)?,
    };
    let (train_raw, test_raw) = dataset.split(TEST_FRACTION, config.seed);
    println!(
        "data: {} ({} rows, {} features, {} classes): {} for training, {} for testing",
        config.dataset.name(),
        dataset.len(),
        dataset.n_features(),
        dataset.n_classes(),
        train_raw.len(),
        test_raw.len()
    );

    let (model, standardizer) = match &config.load {
        Some(path) => {
            let (model, standardizer) = model::load(path, dataset.n_features(), dataset.n_classes())?;
            println!("loaded {path}");
            (model, standardizer)
        }
        None => {
            let mut widths = vec![dataset.n_features()];
            widths.extend(&config.hidden);
            widths.push(dataset.n_classes());
            (model::mlp(&widths, config.seed), Standardizer::fit(&train_raw))
        }
    };
    let (train_set, test_set) = (standardizer.transform(&train_raw), standardizer.transform(&test_raw));
    let n_params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    println!("model: {} ({n_params} parameters)", describe(&model));

    let history = fit(config, &model, &train_set, &test_set)?;
    let (_, train_acc) = train::evaluate(&model, &train_set)?;
    let (_, test_acc) = train::evaluate(&model, &test_set)?;

    if let Some(dir) = &config.plot_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        plot::register_fonts()?;
        if !history.train_loss.is_empty() {
            let path = Path::new(dir).join("loss_curve.png");
            let title = format!("{}: cross-entropy per epoch", config.dataset.name());
            plot::loss_curve(&path, &title, &history.train_loss, &history.test_loss)?;
            println!("wrote {}", path.display());
        }
        let path = Path::new(dir).join("decision_boundary.png");
        if plot_boundary(&path, config, &model, &standardizer, &train_raw, &test_raw, test_acc)? {
            println!("wrote {}", path.display());
        }
    }
    if config.epochs > 0 || config.load.is_none() {
        model::save(&model, &standardizer, &config.save)?;
        println!("saved the model to {}", config.save);
    }
    println!("train accuracy: {train_acc:.4}");
    println!("test accuracy: {test_acc:.4}");
    Ok(())
}

/// The losses of every epoch.
struct History {
    train_loss: Vec<f64>,
    test_loss: Vec<f64>,
}

/// Trains for `config.epochs` epochs, printing one line per epoch under a progress bar.
fn fit(config: &Config, model: &Sequential<f32>, train_set: &Dataset, test_set: &Dataset) -> Result<History, String> {
    let mut history = History {
        train_loss: Vec::new(),
        test_loss: Vec::new(),
    };
    if config.epochs == 0 {
        return Ok(history);
    }
    let (x, y) = train::tensors(train_set)?;
    let loader = DataLoader::new(x, y, config.batch_size, true, config.seed).map_err(|e| e.to_string())?;
    let mut optimizer = train::optimizer(config.optimizer, model.parameters(), config.lr);
    println!(
        "training: {}, lr {}, batch size {}, {} epochs",
        config.optimizer.name(),
        config.lr,
        config.batch_size,
        config.epochs
    );
    let bar = ProgressBar::new(config.epochs as u64).with_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} epochs [{elapsed_precise}] {msg}")
            .map_err(|e| e.to_string())?,
    );
    let start = Instant::now();
    for epoch in 0..config.epochs {
        let train_loss = train::train_epoch(model, optimizer.as_mut(), &loader, epoch as u64)?;
        let (_, train_acc) = train::evaluate(model, train_set)?;
        let (test_loss, test_acc) = train::evaluate(model, test_set)?;
        history.train_loss.push(train_loss);
        history.test_loss.push(test_loss);
        bar.suspend(|| {
            println!(
                "epoch {:>4}  loss {train_loss:.4}  test loss {test_loss:.4}  train acc {train_acc:.4}  test acc {test_acc:.4}",
                epoch + 1
            )
        });
        bar.set_message(format!("loss {train_loss:.4}, test acc {test_acc:.4}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "trained {} epochs in {:.2} s",
        config.epochs,
        start.elapsed().as_secs_f64()
    );
    Ok(history)
}

/// `Linear(2, 64) - ReLU - Linear(64, 64) - ReLU - Linear(64, 3)`.
fn describe(model: &Sequential<f32>) -> String {
    let layers: Vec<String> = model
        .named_parameters()
        .iter()
        .filter(|(name, _)| name.ends_with("weight"))
        .map(|(_, w)| format!("Linear({}, {})", w.shape()[1], w.shape()[0]))
        .collect();
    layers.join(" - ReLU - ")
}

/// Draws the decision boundary in the plane of two features: the only two, or the two the
/// first layer weighs most, the others held at their training mean. Returns whether it drew
/// (a single feature gives no plane).
fn plot_boundary(
    path: &Path,
    config: &Config,
    model: &Sequential<f32>,
    standardizer: &Standardizer,
    train_raw: &Dataset,
    test_raw: &Dataset,
    test_acc: f64,
) -> Result<bool, String> {
    let d = train_raw.n_features();
    if d < 2 {
        println!("no decision boundary plot: the data has a single feature");
        return Ok(false);
    }
    let (fx, fy) = plane_features(model, d);
    let points = |data: &Dataset| -> Vec<plot::Point> {
        (0..data.len())
            .map(|i| plot::Point {
                x: data.row(i)[fx] as f64,
                y: data.row(i)[fy] as f64,
                class: data.labels[i] as usize,
            })
            .collect()
    };
    let (train_points, test_points) = (points(train_raw), points(test_raw));
    let mut title = format!(
        "{}: decision boundary, test accuracy {test_acc:.4}",
        config.dataset.name()
    );
    if d > 2 {
        title.push_str(" (other features at their mean)");
    }
    let what = plot::Boundary {
        title: &title,
        x_name: &train_raw.feature_names[fx],
        y_name: &train_raw.feature_names[fy],
        class_names: &train_raw.class_names,
        train: &train_points,
        test: &test_points,
    };
    plot::decision_boundary(path, &what, |grid| {
        let mut rows = Vec::with_capacity(grid.len() * d);
        for &(x, y) in grid {
            let mut raw = standardizer.mean.clone();
            raw[fx] = x as f32;
            raw[fy] = y as f32;
            rows.extend(standardizer.transform_row(&raw));
        }
        train::predict(model, rows, d)
    })?;
    Ok(true)
}

/// The two features whose columns of the first weight matrix have the largest norms, in order.
fn plane_features(model: &Sequential<f32>, d: usize) -> (usize, usize) {
    if d == 2 {
        return (0, 1);
    }
    let Some((_, w)) = model.named_parameters().into_iter().next() else {
        return (0, 1);
    };
    let w = w.to_tensor();
    let out = w.shape()[0];
    let values = w.to_vec();
    let mut norms: Vec<(usize, f32)> = (0..d)
        .map(|j| (j, (0..out).map(|i| values[i * d + j].powi(2)).sum::<f32>()))
        .collect();
    norms.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (a, b) = (norms[0].0, norms[1].0);
    (a.min(b), a.max(b))
}
