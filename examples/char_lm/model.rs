//! The six model types behind one interface: built from a [`ModelConfig`], run on `[B, T]`
//! token indices to `[B, T, vocab_size]` logits, saved and loaded as safetensors under
//! PyTorch's names.

use std::path::Path;

use ferrograd::autograd::{no_grad, Var};
use ferrograd::nn::functional::{cross_entropy_with, CrossEntropyOptions};
use ferrograd::nn::{Forward, StateDict};
use ferrograd::tensor::IndexTensor;
use rand::Rng;

use crate::data::IGNORE;
use crate::{bigram, bow, mlp, rnn, transformer};

/// A language model: token indices `[B, T]` to logits `[B, T, vocab_size]`.
pub type Model = Box<dyn Forward<IndexTensor, f32, Output = Var<f32>>>;

/// Which model to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelType {
    Bigram,
    Mlp,
    Rnn,
    Gru,
    Bow,
    Transformer,
}

impl ModelType {
    /// Every type, in the order of the help text.
    pub const ALL: [ModelType; 6] = [
        ModelType::Bigram,
        ModelType::Mlp,
        ModelType::Rnn,
        ModelType::Gru,
        ModelType::Bow,
        ModelType::Transformer,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelType::Bigram => "bigram",
            ModelType::Mlp => "mlp",
            ModelType::Rnn => "rnn",
            ModelType::Gru => "gru",
            ModelType::Bow => "bow",
            ModelType::Transformer => "transformer",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The sizes of a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConfig {
    /// Tokens: the characters and the start/stop token.
    pub vocab_size: usize,
    /// The longest sequence: the longest word + 1.
    pub block_size: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Embedding size.
    pub n_embd: usize,
    /// Hidden size of the mlp, rnn, gru and bow models.
    pub n_embd2: usize,
}

/// A model of type `kind`, initialised from `rng`.
pub fn build<R: Rng + ?Sized>(kind: ModelType, config: &ModelConfig, rng: &mut R) -> Result<Model, String> {
    Ok(match kind {
        ModelType::Bigram => Box::new(bigram::Bigram::new(config)),
        ModelType::Mlp => Box::new(mlp::Mlp::new(config, rng)),
        ModelType::Rnn => Box::new(rnn::rnn(config, rng)),
        ModelType::Gru => Box::new(rnn::gru(config, rng)),
        ModelType::Bow => Box::new(bow::Bow::new(config, rng)),
        ModelType::Transformer => Box::new(transformer::Transformer::new(config, rng)?),
    })
}

/// The mean cross-entropy of the logits of `x` against `y`, the `-1` positions left out, as
/// `F.cross_entropy(logits.view(-1, V), y.view(-1), ignore_index=-1)`.
pub fn loss(model: &Model, x: &IndexTensor, y: &IndexTensor) -> ferrograd::tensor::Result<Var<f32>> {
    let logits = model.forward(x)?;
    let v = *logits.shape().last().unwrap_or(&1);
    let flat = logits.reshape(&[y.numel(), v])?;
    let options = CrossEntropyOptions {
        ignore_index: IGNORE,
        ..Default::default()
    };
    cross_entropy_with(&flat, &y.reshape(&[y.numel()])?, &options)
}

/// The mean loss of `model` on `x`, `y`, without recording a graph.
pub fn eval_loss(model: &Model, x: &IndexTensor, y: &IndexTensor) -> Result<f64, String> {
    let _guard = no_grad();
    let value = loss(model, x, y).and_then(|l| l.item()).map_err(|e| e.to_string())?;
    Ok(value as f64)
}

/// Saves the parameters as safetensors with PyTorch's names, creating the directory.
pub fn save(model: &Model, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    model
        .state_dict()
        .save_safetensors(path)
        .map_err(|e| format!("cannot save {}: {e}", path.display()))
}

/// Loads parameters saved by [`save`] into `model` (every name and shape must match).
pub fn load(model: &Model, path: &Path) -> Result<(), String> {
    let sd = StateDict::<f32>::load_safetensors(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    model.load_state_dict(&sd).map_err(|e| {
        format!(
            "{}: {e} (was it saved with the same --type, sizes and input file?)",
            path.display()
        )
    })
}

/// The number of scalar parameters.
pub fn n_params(model: &Model) -> usize {
    model.parameters().iter().map(|p| p.numel()).sum()
}
