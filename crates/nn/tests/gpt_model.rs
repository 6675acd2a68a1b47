//! The two-block GPT of `tests/fixtures/generate_models.py`, written as a PyTorch user writes
//! it: `#[derive(Module)]` structs whose field names give PyTorch's parameter names
//! (`transformer.h.0.attn.c_attn.weight`). Loaded from PyTorch's `gpt_model.safetensors`, it
//! reproduces PyTorch's logits, loss and every parameter gradient (`models_expected.json`).

use crate::common;

use common::fixture_path;
use common::fixtures::{models_expected, named_tensors, FixtureTensor, Tolerance};
use ferrograd_autograd::Var;
use ferrograd_nn::functional::{cross_entropy_with, scaled_dot_product_attention, CrossEntropyOptions};
use ferrograd_nn::{Embedding, Forward, LayerNorm, Linear, Module, StateDict, GELU};
use ferrograd_tensor::{IndexTensor, Result, Tensor};

const VOCAB: usize = 11;
const BLOCK: usize = 8;
const N_HEAD: usize = 2;
const N_EMBD: usize = 16;

#[derive(Module)]
struct CausalSelfAttention {
    c_attn: Linear,
    c_proj: Linear,
}

impl Forward<Var> for CausalSelfAttention {
    type Output = Var;

    fn forward(&self, x: &Var) -> Result<Var> {
        let [b, t, c] = x.shape()[..] else {
            unreachable!("a [B, T, C] input")
        };
        let qkv = self.c_attn.forward(x)?.split(N_EMBD, 2)?;
        // (B, T, nh, hs) -> (B, nh, T, hs)
        let heads = |v: &Var| v.reshape(&[b, t, N_HEAD, c / N_HEAD])?.transpose(1, 2);
        let (q, k, v) = (heads(&qkv[0])?, heads(&qkv[1])?, heads(&qkv[2])?);
        let y = scaled_dot_product_attention(&q, &k, &v, None, true, None)?;
        self.c_proj.forward(&y.transpose(1, 2)?.reshape(&[b, t, c])?)
    }
}

#[derive(Module)]
struct Mlp {
    c_fc: Linear,
    gelu: GELU,
    c_proj: Linear,
}

impl Forward<Var> for Mlp {
    type Output = Var;

    fn forward(&self, x: &Var) -> Result<Var> {
        self.c_proj.forward(&self.gelu.forward(&self.c_fc.forward(x)?)?)
    }
}

#[derive(Module)]
struct Block {
    ln_1: LayerNorm,
    attn: CausalSelfAttention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Forward<Var> for Block {
    type Output = Var;

    fn forward(&self, x: &Var) -> Result<Var> {
        let x = x.try_add(&self.attn.forward(&self.ln_1.forward(x)?)?)?;
        x.try_add(&self.mlp.forward(&self.ln_2.forward(&x)?)?)
    }
}

#[derive(Module)]
struct Transformer {
    wte: Embedding,
    wpe: Embedding,
    h: Vec<Block>,
    ln_f: LayerNorm,
}

#[derive(Module)]
struct Gpt {
    transformer: Transformer,
    lm_head: Linear,
}

impl Gpt {
    /// A freshly initialised model of the fixture's configuration.
    fn new(n_layer: usize) -> Gpt {
        let rng = &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
        let linear = |i, o, rng: &mut rand::rngs::StdRng| Linear::with_rng(i, o, true, rng);
        let h = (0..n_layer)
            .map(|_| Block {
                ln_1: LayerNorm::new(&[N_EMBD]),
                attn: CausalSelfAttention {
                    c_attn: linear(N_EMBD, 3 * N_EMBD, rng),
                    c_proj: linear(N_EMBD, N_EMBD, rng),
                },
                ln_2: LayerNorm::new(&[N_EMBD]),
                mlp: Mlp {
                    c_fc: linear(N_EMBD, 4 * N_EMBD, rng),
                    gelu: GELU::new("tanh").expect("a GELU form"),
                    c_proj: linear(4 * N_EMBD, N_EMBD, rng),
                },
            })
            .collect();
        Gpt {
            transformer: Transformer {
                wte: Embedding::with_rng(VOCAB, N_EMBD, rng),
                wpe: Embedding::with_rng(BLOCK, N_EMBD, rng),
                h,
                ln_f: LayerNorm::new(&[N_EMBD]),
            },
            lm_head: Linear::with_rng(N_EMBD, VOCAB, false, rng),
        }
    }

    /// Logits `[B, T, vocab]` and the mean cross-entropy over the targets that are not -1.
    fn forward(&self, idx: &IndexTensor, targets: &IndexTensor) -> Result<(Var, Var)> {
        let t = idx.shape()[1];
        let pos = IndexTensor::from_vec((0..t as i64).collect(), &[t])?;
        let tr = &self.transformer;
        let mut x = tr.wte.forward(idx)?.try_add(&tr.wpe.forward(&pos)?)?;
        for block in &tr.h {
            x = block.forward(&x)?;
        }
        let logits = self.lm_head.forward(&tr.ln_f.forward(&x)?)?;
        let options = CrossEntropyOptions {
            ignore_index: -1,
            ..Default::default()
        };
        let flat_targets = targets.reshape(&[targets.numel()])?;
        let loss = cross_entropy_with(&logits.reshape(&[idx.numel(), VOCAB])?, &flat_targets, &options)?;
        Ok((logits, loss))
    }
}

#[test]
fn gpt_reproduces_pytorchs_logits_loss_and_gradients() -> Result<()> {
    // tests/fixtures/generate_models.py, gpt(): logits, loss = model(idx, targets); loss.backward()
    let expected = &models_expected()["gpt"];
    let config = &expected["config"];
    assert_eq!(
        (
            config["vocab_size"].as_u64(),
            config["block_size"].as_u64(),
            config["n_head"].as_u64()
        ),
        (Some(VOCAB as u64), Some(BLOCK as u64), Some(N_HEAD as u64))
    );
    assert_eq!(config["n_embd"].as_u64(), Some(N_EMBD as u64));
    assert_eq!(config["layer_norm_eps"].as_f64(), Some(1e-5));
    let model = Gpt::new(config["n_layer"].as_u64().expect("n_layer") as usize);
    model.load_state_dict(&StateDict::load_safetensors(fixture_path("gpt_model.safetensors"))?)?;

    let idx = FixtureTensor::from_json(&expected["idx"]).index_tensor();
    let targets = FixtureTensor::from_json(&expected["targets"]).index_tensor();
    let (logits, loss) = model.forward(&idx, &targets)?;
    loss.backward()?;

    let mut worst = (0.0f64, String::new());
    let mut check = |what: &str, got: &Tensor<f32>, want: &FixtureTensor, tol: Tolerance| {
        assert_eq!(got.shape(), want.shape.as_slice(), "{what}: shape");
        for (i, (g, w)) in got.to_vec().into_iter().zip(want.values()).enumerate() {
            let (dev, allowed) = ((g as f64 - w).abs(), tol.atol + tol.rtol * w.abs());
            assert!(dev <= allowed, "{what}[{i}]: ferrograd {g:e}, PyTorch {w:e}");
            if dev / allowed > worst.0 {
                worst = (dev / allowed, format!("{what}[{i}]: |diff| {dev:e}"));
            }
        }
    };
    let tol = Tolerance::for_dtype("float32");
    check(
        "logits",
        &logits.to_tensor(),
        &FixtureTensor::from_json(&expected["logits"]),
        tol,
    );
    check(
        "loss",
        &loss.to_tensor(),
        &FixtureTensor::from_json(&expected["loss"]),
        tol,
    );
    let grads = named_tensors(&expected["grads"], "gpt grads");
    let params = model.named_parameters();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = grads.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, want_names, "PyTorch's names, in PyTorch's order");
    for ((name, p), (_, want)) in params.iter().zip(&grads) {
        check(&format!("{name} grad"), &p.grad().expect("a gradient"), want, tol);
    }
    println!(
        "GPT: logits, loss and {} parameter gradients match; largest deviation {:.3} of the tolerance at {}",
        params.len(),
        worst.0,
        worst.1
    );
    Ok(())
}
