//! The command line of `char_lm`, parsed with `lexopt`: every mistake is an error message,
//! never a panic.

use std::ffi::OsString;
use std::str::FromStr;

use crate::model::ModelType;

pub const USAGE: &str = "\
Trains a character-level language model on a list of words (one per line) and samples new ones.

Usage: cargo run --release --example char_lm -- [OPTIONS]

Options:
  --type NAME            bigram, mlp, rnn, gru, bow or transformer [default: transformer]
  --input-file PATH      one word per line [default: examples/data/names.txt]
  --work-dir DIR         where the best model (model.safetensors), loss.png and the held-out
                         words (test_words.txt) go
                         [default: target/char_lm/TYPE]
  --test-words PATH      hold out these words (one per line, each in the input; e.g. the
                         test_words.txt of another run or of benches/char_lm_pytorch.py)
                         instead of the seeded split's
  --sample-only          load DIR/model.safetensors and print samples, no training
  --max-steps N          training steps [default: 3000]
  --seed N               seeds the split, the weights, the batches and the samples [default: 3407]
  --batch-size N         words per step, drawn with replacement [default: 32]
  --learning-rate F      AdamW's learning rate [default: 5e-4]
  --weight-decay F       AdamW's weight decay [default: 0.01]
  --top-k N              sample only from the N likeliest characters (0: all) [default: 0]
  --n-layer N            transformer blocks [default: 4]
  --n-head N             attention heads [default: 4]
  --n-embd N             embedding size [default: 64]
  --n-embd2 N            hidden size of mlp, rnn, gru and bow [default: 64]
  --eval-every N         steps between evaluations and checkpoints [default: 500]
  --sample-every N       steps between printed samples [default: 200]
  --no-plot              write no loss.png
  -h, --help             print this help";

/// Everything the command line chose, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub kind: ModelType,
    pub input_file: String,
    pub work_dir: String,
    pub test_words: Option<String>,
    pub sample_only: bool,
    pub max_steps: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub top_k: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub n_embd2: usize,
    pub eval_every: usize,
    pub sample_every: usize,
    pub plot: bool,
}

/// The shipped names, wherever the program is run from.
pub const DEFAULT_INPUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/names.txt");

/// Parses the arguments (without the program name). `Ok(None)` means help was asked for.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Config>, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut c = Config {
        kind: ModelType::Transformer,
        input_file: DEFAULT_INPUT.to_string(),
        work_dir: String::new(),
        test_words: None,
        sample_only: false,
        max_steps: 3000,
        seed: 3407,
        batch_size: 32,
        learning_rate: 5e-4,
        weight_decay: 0.01,
        top_k: 0,
        n_layer: 4,
        n_head: 4,
        n_embd: 64,
        n_embd2: 64,
        eval_every: 500,
        sample_every: 200,
        plot: true,
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("type") => {
                let name = text(&mut parser, "--type")?;
                c.kind = ModelType::parse(&name)
                    .ok_or_else(|| format!("--type {name:?}: expected bigram, mlp, rnn, gru, bow or transformer"))?;
            }
            Long("input-file") => c.input_file = text(&mut parser, "--input-file")?,
            Long("work-dir") => c.work_dir = text(&mut parser, "--work-dir")?,
            Long("test-words") => c.test_words = Some(text(&mut parser, "--test-words")?),
            Long("sample-only") => c.sample_only = true,
            Long("max-steps") => c.max_steps = number(&mut parser, "--max-steps")?,
            Long("seed") => c.seed = number(&mut parser, "--seed")?,
            Long("batch-size") => c.batch_size = positive(&mut parser, "--batch-size")?,
            Long("learning-rate") => c.learning_rate = rate(&mut parser, "--learning-rate")?,
            Long("weight-decay") => c.weight_decay = rate(&mut parser, "--weight-decay")?,
            Long("top-k") => c.top_k = number(&mut parser, "--top-k")?,
            Long("n-layer") => c.n_layer = number(&mut parser, "--n-layer")?,
            Long("n-head") => c.n_head = positive(&mut parser, "--n-head")?,
            Long("n-embd") => c.n_embd = positive(&mut parser, "--n-embd")?,
            Long("n-embd2") => c.n_embd2 = positive(&mut parser, "--n-embd2")?,
            Long("eval-every") => c.eval_every = positive(&mut parser, "--eval-every")?,
            Long("sample-every") => c.sample_every = positive(&mut parser, "--sample-every")?,
            Long("no-plot") => c.plot = false,
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    if c.work_dir.is_empty() {
        c.work_dir = format!("target/char_lm/{}", c.kind.name());
    }
    Ok(Some(c))
}

fn text(parser: &mut lexopt::Parser, option: &str) -> Result<String, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .into_string()
        .map_err(|v| format!("{option} {v:?}: not valid UTF-8"))
}

fn number<N: FromStr>(parser: &mut lexopt::Parser, option: &str) -> Result<N, String> {
    let value = text(parser, option)?;
    value
        .parse()
        .map_err(|_| format!("{option} {value:?}: expected a whole number"))
}

fn positive(parser: &mut lexopt::Parser, option: &str) -> Result<usize, String> {
    let n: usize = number(parser, option)?;
    if n == 0 {
        return Err(format!("{option} 0: must be at least 1"));
    }
    Ok(n)
}

fn rate(parser: &mut lexopt::Parser, option: &str) -> Result<f64, String> {
    let value = text(parser, option)?;
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{option} {value:?}: expected a non-negative number, as 5e-4")),
    }
}
