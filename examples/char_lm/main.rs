//! Character-level language models on a list of words, from a bigram table to a small
//! transformer, in the reference setup of the well-known course (makemore): trains with
//! AdamW, evaluates every 500 steps, keeps the best model as safetensors under PyTorch's
//! names, prints samples every 200 steps, plots the loss curves, and ends with
//! `test loss: X`.
//!
//!     cargo run --release --example char_lm -- --type transformer
//!     cargo run --release --example char_lm -- --type mlp --max-steps 1000
//!     cargo run --release --example char_lm -- --type transformer --sample-only --top-k 5
//!
//! Run with `--help` for every option. Any mistake (a missing or malformed file, an unknown
//! option) is reported as `error: ...` with a non-zero exit status.

mod args;
mod bigram;
mod bow;
#[path = "../support/cli.rs"]
mod cli;
mod data;
mod mlp;
mod model;
mod plot;
mod rnn;
mod train;
mod transformer;

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::SeedableRng;

use args::Config;
use data::{CharDataset, Vocab};
use model::{Model, ModelConfig};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// Steps before the page faults of a step are counted: the first steps make the buffers
/// that the later ones reuse.
const WARM_UP: usize = 10;

/// Words sampled at each sampling step.
const N_SAMPLES: usize = 10;
/// Evaluation: up to this many batches of this many words.
const EVAL_BATCHES: usize = 10;
const EVAL_BATCH_SIZE: usize = 100;

fn main() -> ExitCode {
    cli::main_with(args::USAGE, args::parse_args, run)
}

/// The words, split and encoded, with the vocabulary and model sizes they give.
struct Corpus {
    vocab: Vocab,
    train: CharDataset,
    test: CharDataset,
    model_config: ModelConfig,
}

fn corpus(config: &Config, rng: &mut StdRng) -> Result<Corpus, String> {
    let words = data::read_words(&config.input_file)?;
    let vocab = Vocab::of(&words);
    let longest = words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
    let block_size = longest + 1;
    let (train_words, test_words) = match &config.test_words {
        Some(path) => {
            let test = data::read_words(path)?;
            data::split_given(&words, test, rng).map_err(|e| format!("{path}: {e}"))?
        }
        None => data::split(&words, rng).map_err(|e| format!("{}: {e}", config.input_file))?,
    };
    println!(
        "data: {} words from {}; {} characters + the start/stop token; block size {block_size}; {} for training, {} for testing",
        words.len(),
        config.input_file,
        vocab.chars.len(),
        train_words.len(),
        test_words.len()
    );
    let model_config = ModelConfig {
        vocab_size: vocab.size(),
        block_size,
        n_layer: config.n_layer,
        n_head: config.n_head,
        n_embd: config.n_embd,
        n_embd2: config.n_embd2,
    };
    Ok(Corpus {
        train: CharDataset::new(train_words, &vocab, block_size)?,
        test: CharDataset::new(test_words, &vocab, block_size)?,
        vocab,
        model_config,
    })
}

fn run(config: &Config) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let corpus = corpus(config, &mut rng)?;
    let model = model::build(config.kind, &corpus.model_config, &mut rng)?;
    println!("model: {} ({} parameters)", config.kind.name(), model::n_params(&model));
    let work_dir = Path::new(&config.work_dir);
    let checkpoint = work_dir.join("model.safetensors");
    if !config.sample_only {
        // Which words were held out, for comparing test losses on the same words elsewhere.
        let path = work_dir.join("test_words.txt");
        std::fs::create_dir_all(work_dir)
            .and_then(|()| std::fs::write(&path, corpus.test.words.join("\n") + "\n"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }

    if config.sample_only {
        model::load(&model, &checkpoint)?;
        println!("loaded {}", checkpoint.display());
        print_samples(config, &corpus, &model, &mut rng, None)?;
        let test_loss = train::full_loss(&model, &corpus.test)?;
        println!("test loss: {test_loss:.4}");
        return Ok(());
    }

    let history = fit(config, &corpus, &model, &checkpoint, &mut rng)?;
    if config.plot && !history.test.is_empty() {
        let path = work_dir.join("loss.png");
        let title = format!(
            "{} on {} words: cross-entropy",
            config.kind.name(),
            corpus.train.len() + corpus.test.len()
        );
        plot::loss_curves(&path, &title, &history.train, &history.test)?;
        println!("wrote {}", path.display());
    }
    // The best model, on every test word (with --max-steps 0, the untrained one).
    if let Some(step) = history.best_step {
        model::load(&model, &checkpoint)?;
        println!("best model: {} (step {step})", checkpoint.display());
    }
    let test_loss = train::full_loss(&model, &corpus.test)?;
    println!("test loss: {test_loss:.4}");
    Ok(())
}

/// The evaluated losses, as `(step, loss)`, and the step of the best model.
struct History {
    train: Vec<(f64, f64)>,
    test: Vec<(f64, f64)>,
    best_step: Option<usize>,
}

fn fit(
    config: &Config,
    corpus: &Corpus,
    model: &Model,
    checkpoint: &Path,
    rng: &mut StdRng,
) -> Result<History, String> {
    let mut optimizer = train::optimizer(model, config.learning_rate, config.weight_decay);
    println!(
        "training: AdamW lr {}, weight decay {}, betas (0.9, 0.99), batch size {}, {} steps",
        config.learning_rate, config.weight_decay, config.batch_size, config.max_steps
    );
    let mut history = History {
        train: Vec::new(),
        test: Vec::new(),
        best_step: None,
    };
    let bar = ProgressBar::new(config.max_steps as u64).with_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} steps [{elapsed_precise}] {per_sec} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let mut best = f64::INFINITY;
    let start = Instant::now();
    // The time spent in training steps, without evaluation and sampling.
    let mut step_time = 0.0;
    // Minor page faults in the training steps after the first WARM_UP (steady state).
    let (mut faults, mut counted) = (0u64, 0usize);
    for step in 0..config.max_steps {
        let step_start = Instant::now();
        let faults_before = ferrograd_tensor::minor_page_faults();
        let loss = train::step(model, &mut optimizer, &corpus.train, config.batch_size, rng)?;
        step_time += step_start.elapsed().as_secs_f64();
        if let (Some(before), Some(after)) = (faults_before, ferrograd_tensor::minor_page_faults()) {
            if step >= WARM_UP {
                faults += after - before;
                counted += 1;
            }
        }
        bar.inc(1);
        bar.set_message(format!("loss {loss:.4}"));
        let last = step + 1 == config.max_steps;
        if (step > 0 && step % config.eval_every == 0) || last {
            let train_loss = train::evaluate(model, &corpus.train, EVAL_BATCH_SIZE, EVAL_BATCHES, rng)?;
            let test_loss = train::evaluate(model, &corpus.test, EVAL_BATCH_SIZE, EVAL_BATCHES, rng)?;
            history.train.push((step as f64, train_loss));
            history.test.push((step as f64, test_loss));
            let mut line = format!("step {step} train loss: {train_loss:.4} test loss: {test_loss:.4}");
            if test_loss < best {
                best = test_loss;
                history.best_step = Some(step);
                model::save(model, checkpoint)?;
                line.push_str(&format!("; best so far, saved to {}", checkpoint.display()));
            }
            bar.suspend(|| println!("{line}"));
        }
        if step > 0 && step % config.sample_every == 0 {
            bar.suspend(|| print_samples(config, corpus, model, rng, Some(step)))?;
        }
    }
    bar.finish_and_clear();
    println!(
        "trained {} steps in {:.1} s; the training steps alone: {:.1} steps/s ({:.2} ms per step)",
        config.max_steps,
        start.elapsed().as_secs_f64(),
        config.max_steps as f64 / step_time.max(1e-9),
        1000.0 * step_time / config.max_steps.max(1) as f64
    );
    if counted > 0 {
        println!(
            "minor page faults per training step after the first {WARM_UP}: {:.1}",
            faults as f64 / counted as f64
        );
    }
    Ok(history)
}

/// Prints [`N_SAMPLES`] sampled words, each marked as a training word, a test word or new.
fn print_samples(
    config: &Config,
    corpus: &Corpus,
    model: &Model,
    rng: &mut StdRng,
    step: Option<usize>,
) -> Result<(), String> {
    let words = train::sample(
        model,
        &corpus.vocab,
        corpus.train.block_size,
        N_SAMPLES,
        config.top_k,
        rng,
    )?;
    let train: HashSet<&str> = corpus.train.words.iter().map(String::as_str).collect();
    let test: HashSet<&str> = corpus.test.words.iter().map(String::as_str).collect();
    match step {
        Some(step) => println!("samples at step {step}:"),
        None => println!("samples:"),
    }
    for word in &words {
        println!("  {:<9} {word}", data::provenance(word, &train, &test));
    }
    Ok(())
}
