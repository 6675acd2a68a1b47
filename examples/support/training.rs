//! One epoch of mini-batch training of a classifier with cross-entropy, shared by the
//! `train_classifier` and `digits` examples.

use ferrograd::autograd::Var;
use ferrograd::nn::{CrossEntropyLoss, DataLoader, Forward, Optimizer};

/// One pass over `loader`'s batches of `epoch`; returns the mean training loss over the rows.
/// A loss that is not finite stops it with a message that says what to try.
pub fn train_epoch(
    model: &dyn Forward<Var<f32>, f32, Output = Var<f32>>,
    optimizer: &mut dyn Optimizer<f32>,
    loader: &DataLoader<f32>,
    epoch: u64,
) -> Result<f64, String> {
    let loss_fn = CrossEntropyLoss::new();
    let (mut total, mut rows) = (0.0, 0);
    for (x, y) in loader.batches(epoch) {
        let loss = model
            .forward(&Var::new(x))
            .and_then(|logits| loss_fn.forward(&logits, &y))
            .map_err(|e| e.to_string())?;
        optimizer.zero_grad();
        loss.backward().map_err(|e| e.to_string())?;
        optimizer.step().map_err(|e| e.to_string())?;
        let value = loss.item().map_err(|e| e.to_string())? as f64;
        if !value.is_finite() {
            return Err(format!(
                "the loss became {value} in epoch {}: try a smaller --lr",
                epoch + 1
            ));
        }
        total += value * y.numel() as f64;
        rows += y.numel();
    }
    Ok(total / rows.max(1) as f64)
}
