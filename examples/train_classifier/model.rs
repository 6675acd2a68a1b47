//! The MLP of `train_classifier`: built from layer widths, saved with the standardization it
//! was trained with, and rebuilt from a saved file (its widths read off the weight shapes).

use std::path::Path;

use ferrograd::nn::{Linear, Module, ReLU, Sequential, StateDict, StateValue};
use ferrograd::tensor::Tensor;

use crate::data::Standardizer;

/// The state-dict entries that hold the standardization next to the weights.
const MEAN: &str = "standardize.mean";
const STD: &str = "standardize.std";

/// `Linear(widths[0], widths[1]) - ReLU - ... - Linear(.., widths[last])`; layer `i` is
/// initialised from `seed + i`.
pub fn mlp(widths: &[usize], seed: u64) -> Sequential<f32> {
    let mut model = Sequential::new();
    for (i, pair) in widths.windows(2).enumerate() {
        if i > 0 {
            model = model.add(ReLU);
        }
        model = model.add(Linear::new(pair[0], pair[1], seed.wrapping_add(i as u64)));
    }
    model
}

/// The layer widths of an [`mlp`] whose parameters are `sd`: `0.weight` is `[w1, w0]`,
/// `2.weight` is `[w2, w1]`, and so on.
fn widths_of(sd: &StateDict<f32>) -> Result<Vec<usize>, String> {
    let mut widths = Vec::new();
    for layer in (0..).step_by(2) {
        let Some(w) = sd.get(&format!("{layer}.weight")) else {
            break;
        };
        let &[out, inp] = w.shape() else {
            return Err(format!("{layer}.weight has shape {:?}, expected [out, in]", w.shape()));
        };
        match widths.last() {
            None => widths.push(inp),
            Some(&prev) if prev != inp => {
                return Err(format!(
                    "{layer}.weight takes {inp} inputs but the layer before gives {prev}"
                ))
            }
            Some(_) => {}
        }
        widths.push(out);
    }
    if widths.is_empty() {
        return Err("no 0.weight: not a model saved by train_classifier".into());
    }
    Ok(widths)
}

/// Saves the model's parameters and the standardization: safetensors if `path` ends in
/// `.safetensors`, JSON otherwise.
pub fn save(model: &Sequential<f32>, standardizer: &Standardizer, path: &str) -> Result<(), String> {
    let mut sd = model.state_dict();
    let vector = |v: &[f32]| Tensor::from_vec(v.to_vec(), &[v.len()]).map_err(|e| e.to_string());
    sd.insert(MEAN, vector(&standardizer.mean)?);
    sd.insert(STD, vector(&standardizer.std)?);
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let saved = if path.ends_with(".safetensors") {
        sd.save_safetensors(path)
    } else {
        sd.save_json(path)
    };
    saved.map_err(|e| e.to_string())
}

/// Loads a model saved by [`save`] (safetensors if `path` ends in `.safetensors`, JSON
/// otherwise), checking that it fits `n_features` inputs and `n_classes` outputs.
pub fn load(path: &str, n_features: usize, n_classes: usize) -> Result<(Sequential<f32>, Standardizer), String> {
    let mut sd = if path.ends_with(".safetensors") {
        StateDict::<f32>::load_safetensors(path)
    } else {
        StateDict::<f32>::load_json(path)
    }
    .map_err(|e| e.to_string())?;
    let mut float = |name| sd.remove(name).and_then(StateValue::into_float);
    let (mean, std) = match (float(MEAN), float(STD)) {
        (Some(m), Some(s)) if m.shape() == [n_features] && s.shape() == [n_features] => (m.to_vec(), s.to_vec()),
        (Some(m), Some(_)) => {
            return Err(format!(
                "{path}: the model was trained on {} features, this data set has {n_features}",
                m.numel()
            ))
        }
        _ => {
            return Err(format!(
                "{path}: no {MEAN} / {STD}: not a model saved by train_classifier"
            ))
        }
    };
    let widths = widths_of(&sd).map_err(|e| format!("{path}: {e}"))?;
    let (first, last) = (widths[0], widths[widths.len() - 1]);
    if first != n_features || last != n_classes {
        return Err(format!(
            "{path}: the model maps {first} features to {last} classes, this data set has {n_features} features and {n_classes} classes"
        ));
    }
    let model = mlp(&widths, 0);
    model.load_state_dict(&sd).map_err(|e| format!("{path}: {e}"))?;
    Ok((model, Standardizer { mean, std }))
}
