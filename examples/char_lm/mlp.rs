//! Bengio et al.'s MLP (2003): the embeddings of the previous `block_size` characters
//! concatenated, `Linear(block_size·n_embd, n_embd2)`, tanh, `Linear(n_embd2, vocab)`.

use ferrograd::autograd::Var;
use ferrograd::nn::{Embedding, Forward, Linear, Module, Sequential, Tanh};
use ferrograd::tensor::{IndexTensor, Result};
use rand::Rng;

use crate::model::ModelConfig;

/// As makemore's `MLP`: `wte` has one extra row, the "blank" token of the positions before
/// the start; `mlp` is `Sequential(Linear, Tanh, Linear)`.
#[derive(Module)]
pub struct Mlp {
    /// `[vocab_size + 1, n_embd]`; row `vocab_size` is the blank token.
    pub wte: Embedding<f32>,
    /// `Linear(block_size·n_embd, n_embd2) - Tanh - Linear(n_embd2, vocab_size)`.
    pub mlp: Sequential<f32>,
    /// How many previous characters the model sees.
    #[module(skip)]
    pub block_size: usize,
    #[module(skip)]
    vocab_size: usize,
}

impl Mlp {
    /// Initialised as PyTorch's layers are, from `rng`.
    pub fn new<R: Rng + ?Sized>(config: &ModelConfig, rng: &mut R) -> Self {
        let (v, e, h) = (config.vocab_size, config.n_embd, config.n_embd2);
        let wte = Embedding::with_rng(v + 1, e, rng);
        let mlp = Sequential::new()
            .add(Linear::with_rng(config.block_size * e, h, true, rng))
            .add(Tanh)
            .add(Linear::with_rng(h, v, true, rng));
        Mlp {
            wte,
            mlp,
            block_size: config.block_size,
            vocab_size: v,
        }
    }
}

impl Forward<IndexTensor, f32> for Mlp {
    type Output = Var<f32>;

    /// `idx` `[B, T]` to logits `[B, T, vocab_size]`: at position `t`, the characters at
    /// `t, t-1, ..., t-block_size+1` (the blank token before the start), in that order.
    fn forward(&self, idx: &IndexTensor) -> Result<Var<f32>> {
        let (b, t) = (idx.shape()[0], idx.shape()[1]);
        let k = self.block_size;
        let values = idx.to_vec();
        let blank = self.vocab_size as i64;
        let mut context = Vec::with_capacity(b * t * k);
        for row in values.chunks(t.max(1)) {
            for pos in 0..t {
                context.extend((0..k).map(|j| if j <= pos { row[pos - j] } else { blank }));
            }
        }
        let emb = self.wte.forward(&IndexTensor::from_vec(context, &[b, t, k])?)?;
        self.mlp.forward(&emb.reshape(&[b, t, k * self.wte.embedding_dim()])?)
    }
}
