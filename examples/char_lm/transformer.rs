//! The GPT-style transformer: token and position embeddings added, `n_layer` pre-LayerNorm
//! blocks (causal multi-head self-attention, an MLP of width 4·n_embd with the
//! tanh-approximated GELU, each with a residual), a final LayerNorm, a Linear head without
//! bias. The names are PyTorch's (`transformer.h.0.attn.c_attn.weight`, `lm_head.weight`).

use ferrograd::autograd::Var;
use ferrograd::nn::functional::scaled_dot_product_attention;
use ferrograd::nn::{Embedding, Forward, LayerNorm, Linear, Module};
use ferrograd::tensor::{IndexTensor, Result};
use rand::Rng;

use crate::model::ModelConfig;

/// Causal multi-head self-attention: one Linear to q, k, v, an output Linear.
#[derive(Debug, Module)]
pub struct CausalSelfAttention {
    /// `Linear(n_embd, 3·n_embd)`: q, k and v.
    pub c_attn: Linear<f32>,
    /// `Linear(n_embd, n_embd)`.
    pub c_proj: Linear<f32>,
    #[module(skip)]
    n_head: usize,
}

impl Forward<Var<f32>, f32> for CausalSelfAttention {
    type Output = Var<f32>;

    /// `x` `[B, T, C]` to `[B, T, C]`.
    fn forward(&self, x: &Var<f32>) -> Result<Var<f32>> {
        let (b, t, c) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let (nh, hs) = (self.n_head, c / self.n_head);
        let qkv = self.c_attn.forward(x)?; // [B, T, 3C]
        let heads = |v: &Var<f32>| v.reshape(&[b, t, nh, hs])?.transpose(1, 2);
        let parts = qkv.split(c, 2)?;
        let (q, k, v) = (heads(&parts[0])?, heads(&parts[1])?, heads(&parts[2])?);
        // softmax(q·kᵀ/√hs, the future masked)·v
        let y = scaled_dot_product_attention(&q, &k, &v, None, true, None)?;
        let y = y.transpose(1, 2)?.reshape(&[b, t, c])?;
        self.c_proj.forward(&y)
    }
}

/// The block's MLP: `c_proj(gelu_tanh(c_fc(x)))`.
#[derive(Debug, Module)]
pub struct Mlp {
    /// `Linear(n_embd, 4·n_embd)`.
    pub c_fc: Linear<f32>,
    /// `Linear(4·n_embd, n_embd)`.
    pub c_proj: Linear<f32>,
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Debug, Module)]
pub struct Block {
    /// Before the attention.
    pub ln_1: LayerNorm,
    /// The attention.
    pub attn: CausalSelfAttention,
    /// Before the MLP.
    pub ln_2: LayerNorm,
    /// The MLP.
    pub mlp: Mlp,
}

impl Forward<Var<f32>, f32> for Block {
    type Output = Var<f32>;

    fn forward(&self, x: &Var<f32>) -> Result<Var<f32>> {
        let x = x.try_add(&self.attn.forward(&self.ln_1.forward(x)?)?)?;
        let h = self.ln_2.forward(&x)?;
        x.try_add(&self.mlp.c_proj.forward(&self.mlp.c_fc.forward(&h)?.gelu("tanh")?)?)
    }
}

/// `transformer.wte`, `.wpe`, `.h`, `.ln_f`, as the `nn.ModuleDict` of PyTorch's GPT.
#[derive(Debug, Module)]
pub struct Body {
    /// `[vocab_size, n_embd]`.
    pub wte: Embedding<f32>,
    /// `[block_size, n_embd]`.
    pub wpe: Embedding<f32>,
    /// The blocks.
    pub h: Vec<Block>,
    /// The final LayerNorm.
    pub ln_f: LayerNorm,
}

/// The transformer: `transformer` and `lm_head`.
#[derive(Debug, Module)]
pub struct Transformer {
    /// Embeddings, blocks, final LayerNorm.
    pub transformer: Body,
    /// `Linear(n_embd, vocab_size, bias=False)`.
    pub lm_head: Linear<f32>,
}

impl Transformer {
    /// Initialised as PyTorch's layers are, from `rng`. `n_embd` must be a multiple of `n_head`.
    pub fn new<R: Rng + ?Sized>(config: &ModelConfig, rng: &mut R) -> std::result::Result<Self, String> {
        let (v, e) = (config.vocab_size, config.n_embd);
        if config.n_head == 0 || e % config.n_head != 0 {
            return Err(format!("--n-embd {e} must be a multiple of --n-head {}", config.n_head));
        }
        let wte = Embedding::with_rng(v, e, rng);
        let wpe = Embedding::with_rng(config.block_size, e, rng);
        let h = (0..config.n_layer)
            .map(|_| Block {
                ln_1: LayerNorm::new(&[e]),
                attn: CausalSelfAttention {
                    c_attn: Linear::with_rng(e, 3 * e, true, rng),
                    c_proj: Linear::with_rng(e, e, true, rng),
                    n_head: config.n_head,
                },
                ln_2: LayerNorm::new(&[e]),
                mlp: Mlp {
                    c_fc: Linear::with_rng(e, 4 * e, true, rng),
                    c_proj: Linear::with_rng(4 * e, e, true, rng),
                },
            })
            .collect();
        Ok(Transformer {
            transformer: Body {
                wte,
                wpe,
                h,
                ln_f: LayerNorm::new(&[e]),
            },
            lm_head: Linear::with_rng(e, v, false, rng),
        })
    }
}

impl Forward<IndexTensor, f32> for Transformer {
    type Output = Var<f32>;

    /// `idx` `[B, T]` to logits `[B, T, vocab_size]`.
    fn forward(&self, idx: &IndexTensor) -> Result<Var<f32>> {
        let t = idx.shape()[1];
        let body = &self.transformer;
        let pos = IndexTensor::from_vec((0..t as i64).collect(), &[t])?;
        let mut x = body.wte.forward(idx)?.try_add(&body.wpe.forward(&pos)?)?;
        for block in &body.h {
            x = block.forward(&x)?;
        }
        self.lm_head.forward(&body.ln_f.forward(&x)?)
    }
}
