//! The same seed gives bit-identical weights after training: on every run, and whatever the
//! number of threads the tensor kernels may use (rayon pools of 1 and 2 threads, and the
//! global pool). Three models: the spiral model of `train_classifier` (2-64-64-3, Adam, batches
//! of 32), a wide one whose batches (4,096 x 16 logits) are big enough for the kernels that
//! split work across threads, and a convolutional one whose convolution splits its batch.

#[allow(dead_code)]
#[path = "../examples/train_classifier/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "../examples/train_classifier/model.rs"]
mod model;

use ferrograd::autograd::Var;
use ferrograd::nn::functional::ConvOptions;
use ferrograd::nn::{
    Adam, Conv2d, CrossEntropyLoss, DataLoader, Flatten, Forward, Linear, Module, Optimizer, ReLU, Sequential, SGD,
};
use ferrograd::tensor::{IndexTensor, Tensor};

/// Every parameter's bits after training.
type Weights = Vec<(String, Vec<u32>)>;

fn weights(model: &dyn Forward<Var<f32>, f32, Output = Var<f32>>) -> Weights {
    model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.to_tensor().to_vec().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn train(
    model: &dyn Forward<Var<f32>, f32, Output = Var<f32>>,
    optimizer: &mut dyn Optimizer<f32>,
    loader: &DataLoader<f32>,
    steps: usize,
) {
    let loss_fn = CrossEntropyLoss::new();
    let mut step = 0;
    for epoch in 0.. {
        for (xb, yb) in loader.batches(epoch) {
            let loss = loss_fn.forward(&model.forward(&Var::new(xb)).unwrap(), &yb).unwrap();
            optimizer.zero_grad();
            loss.backward().unwrap();
            optimizer.step().unwrap();
            step += 1;
            if step == steps {
                return;
            }
        }
    }
}

/// The spiral model after 300 steps of Adam from seed 0.
fn spiral_run() -> Weights {
    let raw = data::spiral(300, 3, 0.2, 0);
    let d = data::Standardizer::fit(&raw).transform(&raw);
    let x = Tensor::from_vec(d.features.clone(), &[d.len(), 2]).unwrap();
    let y = IndexTensor::from_vec(d.labels.clone(), &[d.len()]).unwrap();
    let loader = DataLoader::new(x, y, 32, true, 0).unwrap();
    let model = model::mlp(&[2, 64, 64, 3], 0);
    let mut optimizer = Adam::new(model.parameters(), 0.01);
    train(&model, &mut optimizer, &loader, 300);
    weights(&model)
}

/// A 8-32-16 MLP after 6 steps of SGD on batches of 4,096 rows of seeded random data.
fn wide_run() -> Weights {
    let x = Tensor::randn(&[8192, 8], 1);
    let y = IndexTensor::from_vec((0..8192).map(|i| (i * 7 % 16) as i64).collect(), &[8192]).unwrap();
    let loader = DataLoader::new(x, y, 4096, true, 2).unwrap();
    let model = model::mlp(&[8, 32, 16], 3);
    let mut optimizer = SGD::new(model.parameters(), 0.1).momentum(0.9);
    train(&model, &mut optimizer, &loader, 6);
    weights(&model)
}

/// `Conv2d(16, 16, 3, padding=1)`, ReLU, a Linear to 10 classes.
fn cnn() -> Sequential {
    Sequential::new()
        .add(Conv2d::with_options(16, 16, 3, ConvOptions::default().padding(1), true, 4).unwrap())
        .add(ReLU)
        .add(Flatten::new(1, -1))
        .add(Linear::new(16 * 8 * 8, 10, 5))
}

/// The CNN after 4 steps of SGD on batches of 32 seeded random `[16, 8, 8]` inputs: each
/// convolution 4.7 M multiply-adds, enough to share its two chunks of samples between threads.
fn conv_run() -> Weights {
    let x = Tensor::randn(&[64, 16, 8, 8], 6);
    let y = IndexTensor::from_vec((0..64).map(|i| (i * 3 % 10) as i64).collect(), &[64]).unwrap();
    let loader = DataLoader::new(x, y, 32, true, 7).unwrap();
    let model = cnn();
    let mut optimizer = SGD::new(model.parameters(), 0.05).momentum(0.9);
    train(&model, &mut optimizer, &loader, 4);
    weights(&model)
}

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn the_same_seed_gives_bit_identical_weights_on_any_number_of_threads() {
    type Run = fn() -> Weights;
    let runs: [(&str, Run, Run); 3] = [
        ("spiral", spiral_run, || weights(&model::mlp(&[2, 64, 64, 3], 0))),
        ("wide", wide_run, || weights(&model::mlp(&[8, 32, 16], 3))),
        ("conv", conv_run, || weights(&cnn())),
    ];
    for (name, run, initial) in runs {
        let reference = run();
        assert_eq!(run(), reference, "{name}: a second run differs");
        assert_eq!(in_pool(1, run), reference, "{name}: one thread differs");
        assert_eq!(in_pool(2, run), reference, "{name}: two threads differ");
        assert_eq!(in_pool(2, run), reference, "{name}: two threads, again, differ");
        // And training did something: the weights are not the initial ones.
        assert_ne!(initial(), reference, "{name}: the weights moved");
    }
}
