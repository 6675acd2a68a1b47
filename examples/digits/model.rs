//! The CNN of `digits` as a `Sequential` with PyTorch's layer numbering, one epoch of training,
//! and evaluation.

use ferrograd::autograd::{no_grad, Var};
use ferrograd::nn::functional::ConvOptions;
use ferrograd::nn::{
    BatchNorm2d, Conv2d, DataLoader, Flatten, Forward, Linear, MaxPool2d, Module, Optimizer, ReLU, Sequential,
};
use ferrograd::tensor::{IndexTensor, Tensor};

use super::data::{Digits, CLASSES, PIXELS, SIDE};

#[path = "../support/training.rs"]
mod training;

/// `nn.Sequential(Conv2d(1, 16, 3, padding=1), BatchNorm2d(16), ReLU(), MaxPool2d(2),
/// Conv2d(16, 32, 3, padding=1), BatchNorm2d(32), ReLU(), MaxPool2d(2), Flatten(),
/// Linear(32*2*2, 10))`; the layers are initialised from `seed`, `seed + 1`, `seed + 2`.
pub fn cnn(seed: u64) -> Result<Sequential<f32>, String> {
    let conv = |cin, cout, seed| {
        Conv2d::with_options(cin, cout, 3, ConvOptions::default().padding(1), true, seed).map_err(|e| e.to_string())
    };
    Ok(Sequential::new()
        .add(conv(1, 16, seed)?)
        .add(BatchNorm2d::new(16))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(conv(16, 32, seed.wrapping_add(1))?)
        .add(BatchNorm2d::new(32))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::default())
        .add(Linear::new(32 * 2 * 2, CLASSES, seed.wrapping_add(2))))
}

/// The images as `[n, 1, 8, 8]` and the labels as indices.
pub fn tensors(data: &Digits) -> Result<(Tensor<f32>, IndexTensor), String> {
    let x = Tensor::from_vec(data.pixels.clone(), &[data.len(), 1, SIDE, SIDE]).map_err(|e| e.to_string())?;
    let y = IndexTensor::from_vec(data.labels.clone(), &[data.len()]).map_err(|e| e.to_string())?;
    debug_assert_eq!(data.pixels.len(), data.len() * PIXELS);
    Ok((x, y))
}

/// One pass over the batches of `epoch` in training mode; returns the mean loss over the images.
pub fn train_epoch(
    model: &Sequential<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    loader: &DataLoader<f32>,
    epoch: u64,
) -> Result<f64, String> {
    model.train();
    training::train_epoch(model, optimizer, loader, epoch)
}

/// The logits of `data` in evaluation mode (running statistics), `[n, 10]` row by row.
pub fn logits(model: &Sequential<f32>, data: &Digits) -> Result<Vec<f32>, String> {
    model.eval();
    let _guard = no_grad();
    let (x, _) = tensors(data)?;
    let out = model.forward(&Var::new(x)).map_err(|e| e.to_string())?;
    Ok(out.to_tensor().to_vec())
}

/// The predicted digit of every image of `data` and the accuracy, in evaluation mode.
pub fn evaluate(model: &Sequential<f32>, data: &Digits) -> Result<(Vec<usize>, f64), String> {
    let logits = logits(model, data)?;
    let predicted: Vec<usize> = logits
        .chunks(CLASSES)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                )
                .0
        })
        .collect();
    let correct = predicted
        .iter()
        .zip(&data.labels)
        .filter(|(&p, &l)| p as i64 == l)
        .count();
    Ok((predicted, correct as f64 / data.len().max(1) as f64))
}
