//! `--saliency`: which pixels the trained CNN's score for the true digit depends on, for a few
//! test digits, as saliency (|∂ score / ∂ pixel|) and integrated gradients from a black image,
//! drawn over each digit in one PNG grid: the digit, its saliency, its integrated gradients
//! (two digits a row).

use std::path::Path;

use ferrograd::autograd::Var;
use ferrograd::nn::{Forward, Module, Sequential};
use ferrograd::tensor::Tensor;
use ferrograd_inspect::attribution::{integrated_gradients, overlay_png, saliency, IgOptions, Tile};

use crate::data::{Digits, PIXELS, SIDE};

/// How many test digits are explained.
pub const SHOWN: usize = 6;

/// Writes the grid for [`SHOWN`] test digits (the first of each digit, in test order) to
/// `path`; returns the largest completeness gap of the integrated gradients (their sum against
/// score(x) − score(black)).
pub fn maps(path: &Path, model: &Sequential<f32>, test: &Digits, predicted: &[usize]) -> Result<f64, String> {
    model.eval(); // running statistics: each digit's score depends on that digit alone
    let mut chosen: Vec<usize> = Vec::new();
    for i in 0..test.len() {
        if chosen.len() < SHOWN && chosen.iter().all(|&j| test.labels[j] != test.labels[i]) {
            chosen.push(i);
        }
    }
    let n = chosen.len();
    let pixels: Vec<f32> = chosen.iter().flat_map(|&i| test.image(i).to_vec()).collect();
    let x = Tensor::from_vec(pixels, &[n, 1, SIDE, SIDE]).map_err(|e| e.to_string())?;
    let classes: Vec<usize> = chosen.iter().map(|&i| test.labels[i] as usize).collect();
    let forward = |x: &Var<f32>| model.forward(x);
    let s = saliency(forward, &x, &classes).map_err(|e| e.to_string())?.to_vec();
    let options = IgOptions {
        steps: 64,
        ..IgOptions::default()
    };
    let ig = integrated_gradients(forward, &x, &classes, &options).map_err(|e| e.to_string())?;
    let a = ig.attributions.to_vec();
    let wide = |v: &[f32]| v.iter().map(|&p| p as f64).collect::<Vec<f64>>();
    let mut tiles = Vec::new();
    for (i, &k) in chosen.iter().enumerate() {
        let image = wide(test.image(k));
        let part = |v: &[f32]| wide(&v[i * PIXELS..(i + 1) * PIXELS]);
        tiles.push(Tile {
            image: image.clone(),
            map: None,
            caption: format!("{} (predicted {})", classes[i], predicted[k]),
        });
        tiles.push(Tile {
            image: image.clone(),
            map: Some(part(&s)),
            caption: "saliency".into(),
        });
        tiles.push(Tile {
            image,
            map: Some(part(&a)),
            caption: "integrated grad.".into(),
        });
    }
    let title = "test digits: |d score / d pixel| and integrated gradients for the true digit";
    let png = overlay_png(title, &tiles, (SIDE, SIDE), 6, 14).map_err(|e| e.to_string())?;
    std::fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(ig.gap.iter().map(|g| g.abs()).fold(0.0, f64::max))
}
