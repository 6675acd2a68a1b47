//! The bigram model: a learned `vocab × vocab` table of logits, row = the previous character.

use ferrograd::autograd::Var;
use ferrograd::nn::functional::embedding;
use ferrograd::nn::{Forward, Module};
use ferrograd::tensor::{IndexTensor, Result, Tensor};

use crate::model::ModelConfig;

/// `logits[idx]`, as makemore's `Bigram` (`self.logits = nn.Parameter(torch.zeros(n, n))`).
#[derive(Debug, Module)]
pub struct Bigram {
    /// `[vocab_size, vocab_size]`: the logits of the next character given the current one.
    pub logits: Var<f32>,
}

impl Bigram {
    /// A table of zeros (every next character equally likely).
    pub fn new(config: &ModelConfig) -> Self {
        let v = config.vocab_size;
        Bigram {
            logits: Var::parameter(Tensor::zeros(&[v, v])),
        }
    }
}

impl Forward<IndexTensor, f32> for Bigram {
    type Output = Var<f32>;

    /// `idx` `[B, T]` to logits `[B, T, vocab_size]`.
    fn forward(&self, idx: &IndexTensor) -> Result<Var<f32>> {
        embedding(idx, &self.logits, None)
    }
}
