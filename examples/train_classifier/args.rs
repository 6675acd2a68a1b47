//! The command line of `train_classifier`, parsed with `lexopt`: every mistake is an error
//! message, never a panic.

use std::ffi::OsString;
use std::str::FromStr;

pub const USAGE: &str = "\
Trains a small MLP classifier with ferrograd and plots what it learned.

Usage: cargo run --release --example train_classifier -- [OPTIONS]

Options:
  --dataset NAME      spiral (built in, 3 classes), iris (shipped), or PATH.csv:
                      numeric feature columns, then an integer label; header optional
                      [default: spiral]
  --epochs N          passes over the training set [default: 60 spiral, 100 otherwise]
  --lr F              learning rate [default: 0.01 adam/adamw, 0.1 sgd]
  --optimizer NAME    sgd (momentum 0.9), adam or adamw [default: adam]
  --batch-size N      rows per step [default: 32]
  --hidden N,N,...    hidden layer widths [default: 64,64 spiral, 16 otherwise]
  --seed N            seeds the data, the split, the weights and the shuffling [default: 0]
  --save PATH         where to save the model: safetensors if PATH ends in .safetensors,
                      JSON otherwise [default: target/models/DATASET.safetensors]
  --load PATH         start from a saved model (with --epochs 0: only evaluate it)
  --plot DIR          where to write loss_curve.png and decision_boundary.png
                      [default: target/plots]
  --no-plot           write no plots
  -h, --help          print this help";

/// Which data to train on.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetChoice {
    Spiral,
    Iris,
    Csv(String),
}

impl DatasetChoice {
    /// A short name for file names and messages.
    pub fn name(&self) -> String {
        match self {
            DatasetChoice::Spiral => "spiral".into(),
            DatasetChoice::Iris => "iris".into(),
            DatasetChoice::Csv(path) => std::path::Path::new(path)
                .file_stem()
                .map_or("csv".into(), |s| s.to_string_lossy().into_owned()),
        }
    }
}

/// Which optimizer updates the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerChoice {
    Sgd,
    Adam,
    AdamW,
}

impl OptimizerChoice {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerChoice::Sgd => "sgd",
            OptimizerChoice::Adam => "adam",
            OptimizerChoice::AdamW => "adamw",
        }
    }
}

/// Everything the command line chose, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub dataset: DatasetChoice,
    pub epochs: usize,
    pub lr: f64,
    pub optimizer: OptimizerChoice,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub seed: u64,
    pub save: String,
    pub load: Option<String>,
    pub plot_dir: Option<String>,
}

/// Parses the arguments (without the program name). `Ok(None)` means help was asked for.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Config>, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut dataset = DatasetChoice::Spiral;
    let (mut epochs, mut lr, mut hidden, mut save) = (None, None, None, None);
    let mut optimizer = OptimizerChoice::Adam;
    let mut batch_size = 32;
    let mut seed = 0;
    let mut load = None;
    let mut plot_dir = Some("target/plots".to_string());
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("dataset") => {
                dataset = match text(&mut parser, "--dataset")?.as_str() {
                    "spiral" => DatasetChoice::Spiral,
                    "iris" => DatasetChoice::Iris,
                    path if path.to_ascii_lowercase().ends_with(".csv") => DatasetChoice::Csv(path.to_string()),
                    other => {
                        return Err(format!(
                            "--dataset {other:?}: expected spiral, iris or a path ending in .csv"
                        ))
                    }
                }
            }
            Long("epochs") => epochs = Some(number(&mut parser, "--epochs", "a whole number")?),
            Long("lr") => {
                let v: f64 = number(&mut parser, "--lr", "a number, as 0.01")?;
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("--lr {v}: the learning rate must be a positive number"));
                }
                lr = Some(v);
            }
            Long("optimizer") => {
                optimizer = match text(&mut parser, "--optimizer")?.to_ascii_lowercase().as_str() {
                    "sgd" => OptimizerChoice::Sgd,
                    "adam" => OptimizerChoice::Adam,
                    "adamw" => OptimizerChoice::AdamW,
                    other => return Err(format!("--optimizer {other:?}: expected sgd, adam or adamw")),
                }
            }
            Long("batch-size") => {
                batch_size = number(&mut parser, "--batch-size", "a whole number")?;
                if batch_size == 0 {
                    return Err("--batch-size 0: a batch needs at least one row".into());
                }
            }
            Long("hidden") => {
                let spec = text(&mut parser, "--hidden")?;
                let widths = spec
                    .split(',')
                    .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        format!("--hidden {spec:?}: expected positive widths separated by commas, as 64,64")
                    })?;
                hidden = Some(widths);
            }
            Long("seed") => seed = number(&mut parser, "--seed", "a whole number")?,
            Long("save") => save = Some(text(&mut parser, "--save")?),
            Long("load") => load = Some(text(&mut parser, "--load")?),
            Long("plot") => plot_dir = Some(text(&mut parser, "--plot")?),
            Long("no-plot") => plot_dir = None,
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let spiral = dataset == DatasetChoice::Spiral;
    Ok(Some(Config {
        epochs: epochs.unwrap_or(if spiral { 60 } else { 100 }),
        lr: lr.unwrap_or(match optimizer {
            OptimizerChoice::Sgd => 0.1,
            OptimizerChoice::Adam | OptimizerChoice::AdamW => 0.01,
        }),
        hidden: hidden.unwrap_or(if spiral { vec![64, 64] } else { vec![16] }),
        save: save.unwrap_or_else(|| format!("target/models/{}.safetensors", dataset.name())),
        dataset,
        optimizer,
        batch_size,
        seed,
        load,
        plot_dir,
    }))
}

/// The value of an option as UTF-8 text.
fn text(parser: &mut lexopt::Parser, option: &str) -> Result<String, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .into_string()
        .map_err(|v| format!("{option} {v:?}: not valid UTF-8"))
}

/// The value of an option as a number; `expected` says what kind, for the error.
fn number<N: FromStr>(parser: &mut lexopt::Parser, option: &str, expected: &str) -> Result<N, String> {
    let value = text(parser, option)?;
    value
        .trim()
        .parse()
        .map_err(|_| format!("{option} {value:?}: expected {expected}"))
}
