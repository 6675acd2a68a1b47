//! One epoch of mini-batch training, and evaluation (loss and accuracy) of a classifier.

use ferrograd::autograd::{no_grad, Var};
use ferrograd::nn::{Adam, AdamW, CrossEntropyLoss, Forward, Optimizer, SGD};
use ferrograd::tensor::{IndexTensor, Tensor};

use crate::args::OptimizerChoice;

#[path = "../support/training.rs"]
mod training;
use crate::data::Dataset;

/// The features as a `[rows, features]` tensor and the labels as indices.
pub fn tensors(data: &Dataset) -> Result<(Tensor<f32>, IndexTensor), String> {
    let x = Tensor::from_vec(data.features.clone(), &[data.len(), data.n_features()]).map_err(|e| e.to_string())?;
    let y = IndexTensor::from_vec(data.labels.clone(), &[data.len()]).map_err(|e| e.to_string())?;
    Ok((x, y))
}

/// The optimizer chosen on the command line over `params`: SGD with momentum 0.9, Adam, or
/// AdamW (PyTorch's default weight decay 0.01).
pub fn optimizer(choice: OptimizerChoice, params: Vec<Var<f32>>, lr: f64) -> Box<dyn Optimizer<f32>> {
    match choice {
        OptimizerChoice::Sgd => Box::new(SGD::new(params, lr).momentum(0.9)),
        OptimizerChoice::Adam => Box::new(Adam::new(params, lr)),
        OptimizerChoice::AdamW => Box::new(AdamW::new(params, lr)),
    }
}

pub use training::train_epoch;

/// The mean cross-entropy and the accuracy of `model` on `data`.
pub fn evaluate(model: &dyn Forward<Var<f32>, f32, Output = Var<f32>>, data: &Dataset) -> Result<(f64, f64), String> {
    let _guard = no_grad();
    let (x, y) = tensors(data)?;
    let logits = model.forward(&Var::new(x)).map_err(|e| e.to_string())?;
    let loss = CrossEntropyLoss::new()
        .forward(&logits, &y)
        .and_then(|l| l.item())
        .map_err(|e| e.to_string())?;
    let predicted = logits.value().argmax(1, false).map_err(|e| e.to_string())?;
    let correct = predicted
        .to_vec()
        .iter()
        .zip(&data.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok((loss as f64, correct as f64 / data.len().max(1) as f64))
}

/// The class `model` gives each row of `features` (`[rows, n_features]`, standardized).
pub fn predict(
    model: &dyn Forward<Var<f32>, f32, Output = Var<f32>>,
    features: Vec<f32>,
    n_features: usize,
) -> Result<Vec<usize>, String> {
    let _guard = no_grad();
    let rows = features.len() / n_features.max(1);
    let x = Tensor::from_vec(features, &[rows, n_features]).map_err(|e| e.to_string())?;
    let logits = model.forward(&Var::new(x)).map_err(|e| e.to_string())?;
    let classes = logits.value().argmax(1, false).map_err(|e| e.to_string())?;
    Ok(classes.to_vec().into_iter().map(|c| c as usize).collect())
}
