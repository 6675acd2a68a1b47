//! Training steps, evaluation on random batches, and sampling words from a model.

use ferrograd::autograd::no_grad;
use ferrograd::nn::{AdamW, Optimizer};
use ferrograd::tensor::{IndexTensor, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::data::{CharDataset, Vocab};
use crate::model::{self, Model};

/// AdamW over the model's parameters with the reference setup's betas (0.9, 0.99) and eps 1e-8.
pub fn optimizer(model: &Model, learning_rate: f64, weight_decay: f64) -> AdamW<f32> {
    AdamW::new(model.parameters(), learning_rate)
        .betas(0.9, 0.99)
        .eps(1e-8)
        .weight_decay(weight_decay)
}

/// One step on `batch_size` words drawn with replacement; returns the batch loss.
pub fn step<R: Rng + ?Sized>(
    model: &Model,
    optimizer: &mut AdamW<f32>,
    data: &CharDataset,
    batch_size: usize,
    rng: &mut R,
) -> Result<f64, String> {
    let (x, y) = data.sample_batch(batch_size, rng);
    let loss = model::loss(model, &x, &y).map_err(|e| e.to_string())?;
    optimizer.zero_grad();
    loss.backward().map_err(|e| e.to_string())?;
    optimizer.step().map_err(|e| e.to_string())?;
    let value = loss.item().map_err(|e| e.to_string())? as f64;
    if !value.is_finite() {
        return Err(format!("the loss became {value}: try a smaller --learning-rate"));
    }
    Ok(value)
}

/// The mean loss over up to `max_batches` batches of `batch_size` words, in a random order
/// without repeats (fewer when the set is smaller), as the reference's evaluation.
pub fn evaluate<R: Rng + ?Sized>(
    model: &Model,
    data: &CharDataset,
    batch_size: usize,
    max_batches: usize,
    rng: &mut R,
) -> Result<f64, String> {
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(rng);
    let losses: Vec<f64> = order
        .chunks(batch_size)
        .take(max_batches)
        .map(|rows| {
            let (x, y) = data.batch(rows);
            model::eval_loss(model, &x, &y)
        })
        .collect::<Result<_, _>>()?;
    Ok(losses.iter().sum::<f64>() / losses.len().max(1) as f64)
}

/// The loss over the whole of `data`, each word weighted by its number of characters + 1.
pub fn full_loss(model: &Model, data: &CharDataset) -> Result<f64, String> {
    let rows: Vec<usize> = (0..data.len()).collect();
    let (x, y) = data.batch(&rows);
    model::eval_loss(model, &x, &y)
}

/// `num` words sampled from the model, one character at a time from the start token, at
/// most `block_size - 1` characters each; `top_k > 0` keeps only the `top_k` likeliest
/// characters at each step.
pub fn sample<R: Rng + ?Sized>(
    model: &Model,
    vocab: &Vocab,
    block_size: usize,
    num: usize,
    top_k: usize,
    rng: &mut R,
) -> Result<Vec<String>, String> {
    let _guard = no_grad();
    let fail = |e: ferrograd::tensor::Error| format!("sampling failed: {e}");
    let v = vocab.size();
    let mut rows: Vec<Vec<i64>> = vec![vec![0]; num];
    for t in 1..block_size {
        let flat: Vec<i64> = rows.iter().flatten().copied().collect();
        let idx = IndexTensor::from_vec(flat, &[num, t]).map_err(fail)?;
        let logits = model.forward(&idx).map_err(fail)?;
        let last = logits
            .value()
            .narrow(1, t - 1, 1)
            .and_then(|l| l.reshape(&[num, v]))
            .map_err(fail)?;
        let last = if top_k > 0 && top_k < v {
            let (top, _) = last.topk(top_k, 1, true, true).map_err(fail)?;
            let floor = top.narrow(1, top_k - 1, 1).map_err(fail)?.to_vec();
            let mut values = last.to_vec();
            for (row, &f) in values.chunks_mut(v).zip(&floor) {
                row.iter_mut().filter(|x| **x < f).for_each(|x| *x = f32::NEG_INFINITY);
            }
            Tensor::from_vec(values, &[num, v]).map_err(fail)?
        } else {
            last
        };
        let probs = last.softmax(1).map_err(fail)?;
        let next = probs.multinomial(1, true, rng).map_err(fail)?.to_vec();
        for (row, n) in rows.iter_mut().zip(next) {
            row.push(n);
        }
    }
    Ok(rows.iter().map(|r| vocab.decode(&r[1..])).collect())
}
