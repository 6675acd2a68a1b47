//! Training steps of the example models and forward + backward of the layers they are made of;
//! `benches/pytorch_reference.py` runs the same workloads in PyTorch under the same names.
//!
//! ```text
//! cargo bench --bench models                        # everything, a few minutes
//! cargo bench --bench models -- model_step          # one group
//! ```
//!
//! Every workload is float32. The models are the examples' own code (`examples/char_lm`,
//! `examples/digits`), included here, at their default sizes:
//!
//! - `model_step/char_{mlp,gru,transformer}`: one AdamW step (zero_grad, forward,
//!   cross-entropy with ignore_index -1, backward, step) on 32 words of `names.txt`
//!   (block size 16), as `char_lm --type T` trains;
//! - `model_step/digits_cnn`: one Adam step of the digits CNN on 64 images, in training mode;
//! - `layer_fwd_bwd/*`: one layer's forward, then backward from a fixed random output gradient
//!   to its parameters and its input (the input's gradient cleared first):
//!   `conv2d_16x16x8x8_k3` is `Conv2d(16, 16, 3, padding=1)` on `[N=16, C=16, H=8, W=8]`,
//!   `layernorm_512x64` is `LayerNorm(64)` on `[512, 64]`, `embedding_512x27x64` is 512 indices
//!   into a `27x64` table, `sdpa_causal_32x4x16x16` is causal attention with q, k, v of shape
//!   `[B=32, H=4, T=16, D=16]`, `batchnorm2d_64x16x8x8` is `BatchNorm2d(16)` in training mode on
//!   `[64, 16, 8, 8]`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrograd::autograd::Var;
use ferrograd::nn::functional::{scaled_dot_product_attention, ConvOptions};
use ferrograd::nn::{
    Adam, AdamW, BatchNorm2d, Conv2d, CrossEntropyLoss, Embedding, Forward, LayerNorm, Module, Optimizer,
};
use ferrograd::tensor::{IndexTensor, Tensor};
use rand::{Rng, SeedableRng};

// The char_lm example's modules, as its `main.rs` declares them (`crate::model`, `crate::data`).
#[allow(dead_code)]
#[path = "../examples/char_lm/bigram.rs"]
mod bigram;
#[allow(dead_code)]
#[path = "../examples/char_lm/bow.rs"]
mod bow;
#[allow(dead_code)]
#[path = "../examples/char_lm/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/char_lm/mlp.rs"]
mod mlp;
#[allow(dead_code)]
#[path = "../examples/char_lm/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../examples/char_lm/rnn.rs"]
mod rnn;
#[allow(dead_code)]
#[path = "../examples/char_lm/transformer.rs"]
mod transformer;

/// The digits example's data and model.
#[allow(dead_code)]
#[path = "../examples/digits"]
mod digits {
    #[path = "data.rs"]
    pub mod data;
    #[path = "model.rs"]
    pub mod model;
}

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

const WORDS: &str = include_str!("../examples/data/names.txt");
const DIGITS: &str = include_str!("../examples/data/digits.csv");
/// Batches cycled through by the char models' steps.
const BATCHES: usize = 16;

/// One AdamW step of each char model at `char_lm`'s defaults (lr 5e-4, weight decay 0.01,
/// betas (0.9, 0.99), eps 1e-8, batch 32), cycling through [`BATCHES`] fixed batches.
fn char_models(c: &mut Criterion) {
    let words: Vec<String> = WORDS
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    let vocab = data::Vocab::of(&words);
    let block_size = words.iter().map(|w| w.chars().count()).max().unwrap_or(0) + 1;
    let dataset = data::CharDataset::new(words, &vocab, block_size).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3407);
    let batches: Vec<_> = (0..BATCHES).map(|_| dataset.sample_batch(32, &mut rng)).collect();
    let config = model::ModelConfig {
        vocab_size: vocab.size(),
        block_size,
        n_layer: 4,
        n_head: 4,
        n_embd: 64,
        n_embd2: 64,
    };
    let mut group = c.benchmark_group("model_step");
    for kind in [
        model::ModelType::Mlp,
        model::ModelType::Gru,
        model::ModelType::Transformer,
    ] {
        let net = model::build(kind, &config, &mut rng).unwrap();
        let mut opt = AdamW::new(net.parameters(), 5e-4)
            .betas(0.9, 0.99)
            .eps(1e-8)
            .weight_decay(0.01);
        let mut i = 0;
        group.bench_function(format!("char_{}", kind.name()), |b| {
            b.iter(|| {
                let (x, y) = &batches[i % BATCHES];
                i += 1;
                opt.zero_grad();
                let loss = model::loss(&net, x, y).unwrap();
                loss.backward().unwrap();
                opt.step().unwrap();
                black_box(loss.item().unwrap())
            })
        });
    }
    group.finish();
}

/// One Adam step (lr 0.003) of the digits CNN on the first 64 images, in training mode.
fn digits_cnn(c: &mut Criterion) {
    let all = digits::data::parse_digits(DIGITS).unwrap();
    let batch = all.subset(&(0..64).collect::<Vec<_>>());
    let (x, y) = digits::model::tensors(&batch).unwrap();
    let x = Var::new(x);
    let net = digits::model::cnn(0).unwrap();
    net.train();
    let mut opt = Adam::new(net.parameters(), 0.003);
    let loss_fn = CrossEntropyLoss::new();
    let mut group = c.benchmark_group("model_step");
    group.bench_function("digits_cnn", |b| {
        b.iter(|| {
            opt.zero_grad();
            let loss = loss_fn.forward(&net.forward(&x).unwrap(), &y).unwrap();
            loss.backward().unwrap();
            opt.step().unwrap();
            black_box(loss.item().unwrap())
        })
    });
    group.finish();
}

/// A leaf of random normal values of `shape` that takes a gradient.
fn input(shape: &[usize], seed: u64) -> Var<f32> {
    Var::parameter(Tensor::randn(shape, seed))
}

/// Forward of `layer` on `x`, then backward from a fixed random gradient of the output's shape.
fn fwd_bwd(c: &mut Criterion, name: &str, x: &Var<f32>, params: &[Var<f32>], layer: impl Fn() -> Var<f32>) {
    let grad = Tensor::randn(&layer().shape(), 99);
    c.benchmark_group("layer_fwd_bwd").bench_function(name, |b| {
        b.iter(|| {
            x.zero_grad();
            params.iter().for_each(Var::zero_grad);
            layer().backward_with(&grad).unwrap();
        })
    });
    black_box(x.grad());
}

fn layers(c: &mut Criterion) {
    let x = input(&[16, 16, 8, 8], 0);
    let conv = Conv2d::<f32>::with_options(16, 16, 3, ConvOptions::default().padding(1), true, 1).unwrap();
    fwd_bwd(c, "conv2d_16x16x8x8_k3", &x, &conv.parameters(), || {
        conv.forward(&x).unwrap()
    });

    let x = input(&[512, 64], 2);
    let ln = LayerNorm::<f32>::new(&[64]);
    fwd_bwd(c, "layernorm_512x64", &x, &ln.parameters(), || ln.forward(&x).unwrap());

    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let idx = IndexTensor::from_vec((0..512).map(|_| rng.random_range(0..27)).collect(), &[512]).unwrap();
    let emb = Embedding::<f32>::new(27, 64, 4);
    let table = emb.parameters();
    fwd_bwd(c, "embedding_512x27x64", &table[0], &table, || {
        emb.forward(&idx).unwrap()
    });

    let (q, k, v) = (
        input(&[32, 4, 16, 16], 5),
        input(&[32, 4, 16, 16], 6),
        input(&[32, 4, 16, 16], 7),
    );
    let qkv = [q.clone(), k.clone(), v.clone()];
    fwd_bwd(c, "sdpa_causal_32x4x16x16", &q, &qkv, || {
        scaled_dot_product_attention(&q, &k, &v, None, true, None).unwrap()
    });

    let x = input(&[64, 16, 8, 8], 8);
    let bn = BatchNorm2d::<f32>::new(16);
    bn.train();
    fwd_bwd(c, "batchnorm2d_64x16x8x8", &x, &bn.parameters(), || {
        bn.forward(&x).unwrap()
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = char_models, digits_cnn, layers
}
criterion_main!(benches);
