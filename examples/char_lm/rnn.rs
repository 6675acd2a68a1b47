//! The recurrent models: the embeddings fed step by step to a cell over the concatenation of
//! the input and the hidden state, from a learned start state, then a Linear head. The cells
//! are makemore's, written with Linear layers: `tanh(Linear([x, h]))` (RNN) and its GRU.

use ferrograd::autograd::Var;
use ferrograd::nn::{Embedding, Forward, Linear, Module};
use ferrograd::tensor::{IndexTensor, Result, Tensor};
use rand::Rng;

use crate::model::ModelConfig;

/// `h' = tanh(xh_to_h([x, h]))`.
#[derive(Debug, Module)]
pub struct RnnCell {
    /// `Linear(n_embd + n_embd2, n_embd2)`.
    pub xh_to_h: Linear<f32>,
}

/// makemore's GRU cell: `r = σ(xh_to_r([x, h]))`, `h̄ = tanh(xh_to_hbar([x, r·h]))`,
/// `z = σ(xh_to_z([x, h]))`, `h' = (1 - z)·h + z·h̄`.
#[derive(Debug, Module)]
pub struct GruCell {
    /// The update gate, `Linear(n_embd + n_embd2, n_embd2)`.
    pub xh_to_z: Linear<f32>,
    /// The reset gate.
    pub xh_to_r: Linear<f32>,
    /// The candidate state.
    pub xh_to_hbar: Linear<f32>,
}

/// One step of a cell: the input `[B, n_embd]` and the previous state `[B, n_embd2]`.
pub trait Cell: Module<f32> {
    /// The next hidden state.
    fn step(&self, x: &Var<f32>, h: &Var<f32>) -> Result<Var<f32>>;
}

impl Cell for RnnCell {
    fn step(&self, x: &Var<f32>, h: &Var<f32>) -> Result<Var<f32>> {
        Ok(self.xh_to_h.forward(&Var::concat(&[x.clone(), h.clone()], 1)?)?.tanh())
    }
}

impl Cell for GruCell {
    fn step(&self, x: &Var<f32>, h: &Var<f32>) -> Result<Var<f32>> {
        let xh = Var::concat(&[x.clone(), h.clone()], 1)?;
        let r = self.xh_to_r.forward(&xh)?.sigmoid();
        let xhr = Var::concat(&[x.clone(), r.try_mul(h)?], 1)?;
        let hbar = self.xh_to_hbar.forward(&xhr)?.tanh();
        let z = self.xh_to_z.forward(&xh)?.sigmoid();
        // (1 - z)·h + z·h̄ = h + z·(h̄ - h)
        h.try_add(&z.try_mul(&hbar.try_sub(h)?)?)
    }
}

/// makemore's `RNN`: `start`, `wte`, `cell`, `lm_head`.
#[derive(Module)]
pub struct Rnn {
    /// The learned first hidden state, `[1, n_embd2]`.
    pub start: Var<f32>,
    /// `[vocab_size, n_embd]`.
    pub wte: Embedding<f32>,
    /// The recurrent cell.
    pub cell: Box<dyn Cell>,
    /// `Linear(n_embd2, vocab_size)`.
    pub lm_head: Linear<f32>,
}

/// The RNN with the tanh cell.
pub fn rnn<R: Rng + ?Sized>(config: &ModelConfig, rng: &mut R) -> Rnn {
    let (e, h) = (config.n_embd, config.n_embd2);
    let wte = Embedding::with_rng(config.vocab_size, e, rng);
    let cell = RnnCell {
        xh_to_h: Linear::with_rng(e + h, h, true, rng),
    };
    Rnn::with_cell(config, wte, Box::new(cell), rng)
}

/// The RNN with the GRU cell.
pub fn gru<R: Rng + ?Sized>(config: &ModelConfig, rng: &mut R) -> Rnn {
    let (e, h) = (config.n_embd, config.n_embd2);
    let wte = Embedding::with_rng(config.vocab_size, e, rng);
    let cell = GruCell {
        xh_to_z: Linear::with_rng(e + h, h, true, rng),
        xh_to_r: Linear::with_rng(e + h, h, true, rng),
        xh_to_hbar: Linear::with_rng(e + h, h, true, rng),
    };
    Rnn::with_cell(config, wte, Box::new(cell), rng)
}

impl Rnn {
    fn with_cell<R: Rng + ?Sized>(config: &ModelConfig, wte: Embedding<f32>, cell: Box<dyn Cell>, rng: &mut R) -> Self {
        Rnn {
            start: Var::parameter(Tensor::zeros(&[1, config.n_embd2])),
            wte,
            cell,
            lm_head: Linear::with_rng(config.n_embd2, config.vocab_size, true, rng),
        }
    }
}

impl Forward<IndexTensor, f32> for Rnn {
    type Output = Var<f32>;

    /// `idx` `[B, T]` to logits `[B, T, vocab_size]`.
    fn forward(&self, idx: &IndexTensor) -> Result<Var<f32>> {
        let (b, t) = (idx.shape()[0], idx.shape()[1]);
        let e = self.wte.embedding_dim();
        let h_dim = self.start.shape()[1];
        // Time-major embeddings, [T, B, n_embd], so that each step's input is one narrow.
        let emb = self.wte.forward(idx)?.transpose(0, 1)?;
        let mut h = self.start.broadcast_to(&[b, h_dim])?;
        let mut hiddens = Vec::with_capacity(t);
        for i in 0..t {
            let x = emb.narrow(0, i, 1)?.reshape(&[b, e])?;
            h = self.cell.step(&x, &h)?;
            hiddens.push(h.clone());
        }
        let hidden = Var::stack(&hiddens, 1)?.reshape(&[b * t, h_dim])?;
        self.lm_head
            .forward(&hidden)?
            .reshape(&[b, t, self.wte.num_embeddings()])
    }
}
