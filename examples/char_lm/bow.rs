//! The bag-of-words model: token and position embeddings, the causal average of the
//! preceding positions added, a residual tanh MLP, a Linear head.

use ferrograd::autograd::Var;
use ferrograd::nn::{Embedding, Forward, Linear, Module};
use ferrograd::tensor::{IndexTensor, Result, Tensor};
use rand::Rng;

use crate::model::ModelConfig;

/// `mlp.c_fc` and `mlp.c_proj`, as makemore's `ModuleDict(c_fc=..., c_proj=...)`.
#[derive(Debug, Module)]
pub struct BowMlp {
    /// `Linear(n_embd, n_embd2)`.
    pub c_fc: Linear<f32>,
    /// `Linear(n_embd2, n_embd)`.
    pub c_proj: Linear<f32>,
}

/// `x + cbow(x)`, then `x + c_proj(tanh(c_fc(x)))`, where `cbow(x)` at position `t` is the
/// mean of `x` over positions `0..=t`.
#[derive(Debug, Module)]
pub struct BowBlock {
    /// The residual MLP.
    pub mlp: BowMlp,
}

/// makemore's `BoW`: `wte`, `wpe`, `context_block`, `lm_head`.
#[derive(Debug, Module)]
pub struct Bow {
    /// `[vocab_size, n_embd]`.
    pub wte: Embedding<f32>,
    /// `[block_size, n_embd]`.
    pub wpe: Embedding<f32>,
    /// The averaging block.
    pub context_block: BowBlock,
    /// `Linear(n_embd, vocab_size)`.
    pub lm_head: Linear<f32>,
}

impl Bow {
    /// Initialised as PyTorch's layers are, from `rng`.
    pub fn new<R: Rng + ?Sized>(config: &ModelConfig, rng: &mut R) -> Self {
        let (v, e, h) = (config.vocab_size, config.n_embd, config.n_embd2);
        Bow {
            wte: Embedding::with_rng(v, e, rng),
            wpe: Embedding::with_rng(config.block_size, e, rng),
            context_block: BowBlock {
                mlp: BowMlp {
                    c_fc: Linear::with_rng(e, h, true, rng),
                    c_proj: Linear::with_rng(h, e, true, rng),
                },
            },
            lm_head: Linear::with_rng(e, v, true, rng),
        }
    }
}

impl Forward<Var<f32>, f32> for BowBlock {
    type Output = Var<f32>;

    /// `x` `[B, T, C]`.
    fn forward(&self, x: &Var<f32>) -> Result<Var<f32>> {
        let (b, t, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        // The causal average: the running sum over positions divided by 1, 2, ..., T.
        let counts = Tensor::from_vec((1..=t).map(|n| 1.0 / n as f32).collect(), &[1, t, 1])?;
        let x = x.try_add(&x.cumsum(1)?.try_mul(&Var::new(counts))?)?;
        let flat = x.reshape(&[b * t, c])?;
        let m = self.mlp.c_proj.forward(&self.mlp.c_fc.forward(&flat)?.tanh())?;
        x.try_add(&m.reshape(&[b, t, c])?)
    }
}

impl Forward<IndexTensor, f32> for Bow {
    type Output = Var<f32>;

    /// `idx` `[B, T]` to logits `[B, T, vocab_size]`.
    fn forward(&self, idx: &IndexTensor) -> Result<Var<f32>> {
        let (b, t) = (idx.shape()[0], idx.shape()[1]);
        let pos = IndexTensor::from_vec((0..t as i64).collect(), &[t])?;
        let x = self.wte.forward(idx)?.try_add(&self.wpe.forward(&pos)?)?;
        let x = self.context_block.forward(&x)?;
        let c = x.shape()[2];
        self.lm_head
            .forward(&x.reshape(&[b * t, c])?)?
            .reshape(&[b, t, self.wte.num_embeddings()])
    }
}
