//! The character MLP of makemore (three characters of context, embeddings, four tanh layers)
//! trained three ways, watched by a `Monitor`: weights drawn N(0, 1), Kaiming-scaled weights,
//! and Kaiming-scaled weights with BatchNorm before each tanh. For each it prints a table per
//! layer (saturation, std, gradient) and per parameter (update:data ratio), and the warnings:
//! the first run is flagged (saturated tanh units, updates far too large), the others are
//! healthy at the start. It writes the pictures of each run (activation and gradient
//! histograms at step 0, update:data ratios and gradient std per layer over the steps) and
//! one HTML report gathering them into `--out` (default `target/inspect_training`).
//!
//! ```text
//! cargo run --release --example inspect_training [-- --steps 15000 --every 10]
//! cargo run --release --example inspect_training -- --overhead --steps 2000   # the monitor's cost
//! ```
//! See docs/inspecting.md for how to read the tables.

use std::time::Instant;

use ferrograd::autograd::{no_grad, Var};
use ferrograd::nn::{
    BatchNorm1d, CrossEntropyLoss, Embedding, Flatten, Forward, Linear, Module, Optimizer, Sequential, Tanh, SGD,
};
use ferrograd::tensor::{IndexTensor, Result, Tensor};
use ferrograd_inspect::{plot, Monitor, MonitorOptions, Record, Report};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[allow(dead_code)] // the example uses the words and the vocabulary only
#[path = "char_lm/data.rs"]
mod data;

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

const CONTEXT: usize = 3;
const EMBED: usize = 10;
const HIDDEN: usize = 100;
const TANH_LAYERS: usize = 4;
const BATCH: usize = 32;

/// How the weights of a run are set.
#[derive(Clone, Copy, PartialEq)]
enum Init {
    /// Every weight N(0, 1), biases 0.
    Normal,
    /// Weights N(0, 1)·gain/√fan_in (Kaiming: gain 5/3 before a tanh, 1 for the last
    /// layer), biases 0.
    Kaiming,
    /// As `Kaiming`, with `Linear(bias = false) - BatchNorm1d - Tanh` blocks.
    KaimingBatchNorm,
}

impl Init {
    /// The start of the run's file names.
    fn slug(self) -> &'static str {
        match self {
            Init::Normal => "normal",
            Init::Kaiming => "kaiming",
            Init::KaimingBatchNorm => "batchnorm",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Init::Normal => "N(0, 1) weights",
            Init::Kaiming => "Kaiming-scaled weights",
            Init::KaimingBatchNorm => "Kaiming-scaled weights + BatchNorm",
        }
    }
}

/// A linear layer with weights drawn N(0, std²) (and a zero bias, if it has one).
fn linear(fan_in: usize, fan_out: usize, std: f64, bias: bool, rng: &mut StdRng) -> Result<Linear> {
    Ok(Linear {
        weight: Var::parameter(Tensor::normal(&[fan_out, fan_in], 0.0, std, rng)?),
        bias: bias.then(|| Var::parameter(Tensor::zeros(&[fan_out]))),
    })
}

fn model(init: Init, vocab: usize, rng: &mut StdRng) -> Result<Sequential> {
    let mut m = Sequential::new()
        .add(Embedding::with_rng(vocab, EMBED, rng))
        .add(Flatten::default());
    let mut fan_in = CONTEXT * EMBED;
    for _ in 0..TANH_LAYERS {
        let std = match init {
            Init::Normal => 1.0,
            Init::Kaiming | Init::KaimingBatchNorm => 5.0 / 3.0 / (fan_in as f64).sqrt(),
        };
        if init == Init::KaimingBatchNorm {
            m = m
                .add(linear(fan_in, HIDDEN, std, false, rng)?)
                .add(BatchNorm1d::new(HIDDEN));
        } else {
            m = m.add(linear(fan_in, HIDDEN, std, true, rng)?);
        }
        m = m.add(Tanh);
        fan_in = HIDDEN;
    }
    let std = match init {
        Init::Normal => 1.0,
        Init::Kaiming | Init::KaimingBatchNorm => 1.0 / (fan_in as f64).sqrt(),
    };
    Ok(m.add(linear(fan_in, vocab, std, true, rng)?))
}

/// Every (three characters, next character) pair of `words`, `.` (0) before and after each.
fn examples(words: &[String], vocab: &data::Vocab) -> (Vec<i64>, Vec<i64>) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for w in words {
        let mut context = [0i64; CONTEXT];
        for ix in w.chars().filter_map(|c| vocab.encode_char(c)).chain([0]) {
            xs.extend_from_slice(&context);
            ys.push(ix);
            context.rotate_left(1);
            context[CONTEXT - 1] = ix;
        }
    }
    (xs, ys)
}

fn batch(xs: &[i64], ys: &[i64], rows: &[usize]) -> Result<(IndexTensor, IndexTensor)> {
    let x = rows
        .iter()
        .flat_map(|&r| xs[r * CONTEXT..][..CONTEXT].iter().copied())
        .collect();
    let y = rows.iter().map(|&r| ys[r]).collect();
    Ok((
        IndexTensor::from_vec(x, &[rows.len(), CONTEXT])?,
        IndexTensor::from_vec(y, &[rows.len()])?,
    ))
}

struct Args {
    /// Where the pictures and the report go.
    out: String,
    steps: usize,
    every: usize,
    /// Time the Kaiming run unwatched and watched instead (the monitor's cost per step).
    overhead: bool,
}

fn args() -> std::result::Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut a = Args {
        out: "target/inspect_training".to_string(),
        steps: 15000,
        every: 10,
        overhead: false,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("steps") => a.steps = parser.value()?.parse()?,
            Long("every") => a.every = parser.value()?.parse()?,
            Long("overhead") => a.overhead = true,
            Long("out") => a.out = parser.value()?.string()?,
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(a)
}

/// Trains one model for `steps` steps of SGD, watched every `every` steps (not at all if
/// `None`); returns the record, the validation loss and the training time per step in ms.
fn run(
    init: Init,
    steps: usize,
    every: Option<usize>,
    train: &Examples,
    val: &Examples,
    vocab: usize,
) -> Result<(Record, f32, f64)> {
    let mut rng = StdRng::seed_from_u64(42);
    let model = model(init, vocab, &mut rng)?;
    let mut opt = SGD::new(model.parameters(), 0.1);
    let mut mon = every.map(|every| {
        let options = MonitorOptions {
            every,
            histogram_steps: vec![0, steps - 1],
            ..MonitorOptions::default()
        };
        Monitor::attach(&model, options)
    });
    let n = train.1.len();
    let start = Instant::now();
    for _ in 0..steps {
        let rows: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..n)).collect();
        let (x, y) = batch(&train.0, &train.1, &rows)?;
        let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
        opt.zero_grad();
        loss.backward()?;
        match &mut mon {
            Some(mon) => mon.step(&mut opt, loss.item()? as f64)?,
            None => opt.step()?,
        }
    }
    let ms_per_step = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    model.eval();
    let _no_grad = no_grad();
    let rows: Vec<usize> = (0..val.1.len()).collect();
    let (x, y) = batch(&val.0, &val.1, &rows)?;
    let val_loss = CrossEntropyLoss::new().forward(&model.forward(&x)?, &y)?.item()?;
    Ok((mon.map(Monitor::into_record).unwrap_or_default(), val_loss, ms_per_step))
}

/// The training time per step unwatched, watched every 10 steps and every step: the median
/// of 5 alternating runs of each.
fn overhead(steps: usize, train: &Examples, val: &Examples, vocab: usize) -> Result<()> {
    let watches = [None, Some(10), Some(1)];
    let mut times = vec![Vec::new(); watches.len()];
    for _ in 0..5 {
        for (w, t) in watches.iter().zip(&mut times) {
            t.push(run(Init::Kaiming, steps, *w, train, val, vocab)?.2);
        }
    }
    for (w, t) in watches.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        let label = w.map_or("unwatched".to_string(), |e| format!("watched every {e}"));
        println!("{label:<18} {:.3} ms/step (median of 5 runs of {steps} steps)", t[2]);
    }
    Ok(())
}

/// `(x, y)`: `CONTEXT` character indices per example, and the next character.
type Examples = (Vec<i64>, Vec<i64>);

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    if args.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/names.txt");
    let mut words = data::read_words(path)?;
    let vocab = data::Vocab::of(&words);
    words.shuffle(&mut StdRng::seed_from_u64(0));
    let cut = words.len() * 9 / 10;
    let (train, val) = (examples(&words[..cut], &vocab), examples(&words[cut..], &vocab));
    println!(
        "{} words, {} training and {} validation examples; {} steps of SGD (lr 0.1, batch {BATCH}), recorded every {}\n",
        words.len(),
        train.1.len(),
        val.1.len(),
        args.steps,
        args.every
    );
    if args.overhead {
        return Ok(overhead(args.steps, &train, &val, vocab.size())?);
    }
    std::fs::create_dir_all(&args.out)?;
    let mut report = Report::new("The character MLP trained three ways");
    report.paragraph(&format!(
        "Four tanh layers of {HIDDEN} units over {CONTEXT} characters of context ({EMBED}-dimensional embeddings), {} steps of SGD (lr 0.1, batch {BATCH}), recorded every {} steps.",
        args.steps, args.every
    ));
    for init in [Init::Normal, Init::Kaiming, Init::KaimingBatchNorm] {
        let (record, val_loss, ms) = run(init, args.steps, Some(args.every), &train, &val, vocab.size())?;
        let pictures = [
            ("activations_step0", plot::activation_histograms(&record, Some(0))?),
            ("gradients_step0", plot::gradient_histograms(&record, Some(0))?),
            ("update_ratios", plot::update_ratios(&record)?),
            ("grad_stds", plot::grad_stds(&record)?),
        ];
        for (what, png) in &pictures {
            plot::write_png(format!("{}/{}_{what}.png", args.out, init.slug()), png)?;
        }
        report.record(init.name(), &record)?;
        let last = record.steps.last().and_then(|s| s.loss).unwrap_or(f64::NAN);
        println!(
            "=== {} === last training loss {last:.3}, validation loss {val_loss:.3}, {ms:.2} ms/step",
            init.name()
        );
        print!("{}\n{}", record.layer_table(), record.param_table());
        if record.warnings.is_empty() {
            println!("no warnings\n");
        } else {
            println!("{}", record.warning_lines());
        }
    }
    let path = format!("{}/report.html", args.out);
    report.write(&path)?;
    println!("pictures and {path} written");
    Ok(())
}
