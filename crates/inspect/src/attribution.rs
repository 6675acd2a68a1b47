//! Which input pixels a model's score for a class depends on: saliency and integrated
//! gradients, and a picture of them drawn over the input image.
//!
//! The model is any `Fn(&Var<T>) -> Result<Var<T>>` taking a batch `[n, ...]` and returning
//! scores `[n, classes]` (logits, before softmax, is what attribution papers explain). Example
//! `i` of the batch is explained for `classes[i]`, and each attribution has the input's shape.
//! Put a model with batch statistics (BatchNorm, Dropout) in evaluation mode first, so that
//! each example's score depends on that example alone.
//!
//! - [`saliency`]: `|∂ score[class] / ∂ input|` (Simonyan et al., 2013): where a small change
//!   of the input moves the score most.
//! - [`integrated_gradients`]: `(x − x') · ∫₀¹ ∂ score(x' + α (x − x')) / ∂x dα` (Sundararajan
//!   et al., 2017) from a baseline `x'` (zeros by default, a black image), by the trapezoid
//!   rule (or a Riemann sum) over `steps` points. Its attributions add up to
//!   `score(x) − score(x')` (completeness) up to the integration error, which
//!   [`IntegratedGradients::gap`] reports per example; the error falls as `1/steps²` with the
//!   trapezoid rule.
//!
//! [`overlay_png`] draws images with a map over them, as a grid of tiles.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_inspect::attribution::{integrated_gradients, saliency, IgOptions};
//! use ferrograd_tensor::Tensor;
//!
//! // score[0] = 2·x0 + x1², score[1] = x0·x1
//! let model = |x: &Var<f64>| {
//!     let (a, b) = (x.narrow(1, 0, 1)?, x.narrow(1, 1, 1)?);
//!     Var::concat(&[&a * 2.0 + &b * &b, &a * &b], 1)
//! };
//! let x = Tensor::from_vec(vec![1.0, 3.0], &[1, 2])?;
//! assert_eq!(saliency(&model, &x, &[0])?.to_vec(), vec![2.0, 6.0]);
//! let ig = integrated_gradients(&model, &x, &[0], &IgOptions::default())?;
//! let total: f64 = ig.attributions.to_vec().iter().sum();
//! assert!((total - 11.0).abs() < 1e-3 && ig.gap[0].abs() < 1e-3); // score(x) - score(0) = 2 + 9
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use ferrograd_autograd::{grad, Var};
use ferrograd_tensor::{Error, Float, Result, Tensor};
use plotters::prelude::*;

use crate::plot::draw_png;

/// How the path integral of [`integrated_gradients`] is approximated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integration {
    /// The trapezoid rule over `steps + 1` points `α = 0, 1/steps, ..., 1` (error ~ 1/steps²).
    Trapezoid,
    /// The left Riemann sum over `α = 0, ..., (steps − 1)/steps` (error ~ 1/steps).
    RiemannLeft,
    /// The right Riemann sum over `α = 1/steps, ..., 1` (error ~ 1/steps).
    RiemannRight,
    /// The midpoint Riemann sum over `α = (k + ½)/steps` (error ~ 1/steps², as captum's
    /// `riemann_middle`).
    RiemannMiddle,
}

/// Options of [`integrated_gradients`].
#[derive(Debug, Clone, PartialEq)]
pub struct IgOptions<T: Float> {
    /// Intervals of the integration (at least 1); 50 by default.
    pub steps: usize,
    /// The rule; the trapezoid rule by default.
    pub integration: Integration,
    /// The baseline `x'`, of the input's shape; zeros when `None` (the default).
    pub baseline: Option<Tensor<T>>,
}

impl<T: Float> Default for IgOptions<T> {
    fn default() -> Self {
        IgOptions {
            steps: 50,
            integration: Integration::Trapezoid,
            baseline: None,
        }
    }
}

/// The result of [`integrated_gradients`].
#[derive(Debug, Clone)]
pub struct IntegratedGradients<T: Float> {
    /// One attribution per input element, of the input's shape (signed).
    pub attributions: Tensor<T>,
    /// Per example: `Σ attributions − (score(x) − score(x'))`, the integration's error (0 for
    /// the exact integral).
    pub gap: Vec<f64>,
}

/// `|∂ score[classes[i]] / ∂ input[i]|` for every example `i` of the batch, of the input's
/// shape. Fails if the model fails, if its output is not `[n, classes]` with `n` the batch, or
/// if a class is out of range.
pub fn saliency<T: Float>(
    model: impl Fn(&Var<T>) -> Result<Var<T>>,
    input: &Tensor<T>,
    classes: &[usize],
) -> Result<Tensor<T>> {
    let (g, _) = class_gradient("saliency", &model, input, classes)?;
    Ok(g.abs())
}

/// Integrated gradients of `score[classes[i]]` for every example `i` of the batch, from the
/// baseline of `options` (zeros by default); see the module page. Runs the model `steps + 1`
/// times (`steps` for the Riemann sums) on the whole batch, plus twice for the gap.
pub fn integrated_gradients<T: Float>(
    model: impl Fn(&Var<T>) -> Result<Var<T>>,
    input: &Tensor<T>,
    classes: &[usize],
    options: &IgOptions<T>,
) -> Result<IntegratedGradients<T>> {
    let op = "integrated_gradients";
    if options.steps == 0 {
        return Err(Error::invalid(op, "steps must be at least 1, got 0"));
    }
    let baseline = match &options.baseline {
        Some(b) if b.shape() != input.shape() => {
            return Err(Error::invalid(
                op,
                format!(
                    "the baseline's shape {:?} differs from the input's {:?}",
                    b.shape(),
                    input.shape()
                ),
            ))
        }
        Some(b) => b.clone(),
        None => input.zeros_like(),
    };
    let diff = input.sub(&baseline)?;
    let m = options.steps;
    // (α, weight) pairs whose weighted sum of gradients approximates the mean over the path.
    let points: Vec<(f64, f64)> = match options.integration {
        Integration::Trapezoid => (0..=m)
            .map(|k| (k as f64 / m as f64, if k == 0 || k == m { 0.5 } else { 1.0 } / m as f64))
            .collect(),
        Integration::RiemannLeft => (0..m).map(|k| (k as f64 / m as f64, 1.0 / m as f64)).collect(),
        Integration::RiemannRight => (1..=m).map(|k| (k as f64 / m as f64, 1.0 / m as f64)).collect(),
        Integration::RiemannMiddle => (0..m).map(|k| ((k as f64 + 0.5) / m as f64, 1.0 / m as f64)).collect(),
    };
    let mut mean_grad = input.zeros_like();
    for (alpha, weight) in points {
        let x = baseline.add(&diff.mul_scalar(T::of(alpha)))?;
        let (g, _) = class_gradient(op, &model, &x, classes)?;
        mean_grad = mean_grad.add(&g.mul_scalar(T::of(weight)))?;
    }
    let attributions = diff.mul(&mean_grad)?;

    let at_input = class_scores(op, &model, input, classes)?;
    let at_baseline = class_scores(op, &model, &baseline, classes)?;
    let per_example = input.numel() / classes.len().max(1);
    let values = attributions.to_vec();
    let gap = values
        .chunks(per_example.max(1))
        .zip(at_input.iter().zip(&at_baseline))
        .map(|(a, (s, s0))| a.iter().map(|v| v.f64()).sum::<f64>() - (s - s0))
        .collect();
    Ok(IntegratedGradients { attributions, gap })
}

/// The gradient of `Σᵢ score[i, classes[i]]` with respect to the input, and those scores.
fn class_gradient<T: Float>(
    op: &'static str,
    model: &impl Fn(&Var<T>) -> Result<Var<T>>,
    input: &Tensor<T>,
    classes: &[usize],
) -> Result<(Tensor<T>, Vec<f64>)> {
    let x = Var::parameter(input.clone());
    let scores = model(&x)?;
    let picked = pick(op, &scores, input.shape(), classes)?;
    let gradient = grad(&[picked.0], &[x], None, false)?
        .into_iter()
        .next()
        .flatten()
        .map(|g| g.to_tensor())
        .unwrap_or_else(|| input.zeros_like()); // the scores do not depend on the input
    Ok((gradient, picked.1))
}

/// The scores `score[i, classes[i]]` at `input`, without recording a graph.
fn class_scores<T: Float>(
    op: &'static str,
    model: &impl Fn(&Var<T>) -> Result<Var<T>>,
    input: &Tensor<T>,
    classes: &[usize],
) -> Result<Vec<f64>> {
    let _guard = ferrograd_autograd::no_grad();
    let scores = model(&Var::new(input.clone()))?;
    Ok(pick(op, &scores, input.shape(), classes)?.1)
}

/// `Σᵢ score[i, classes[i]]` as a `Var`, and each of the picked scores, after checking shapes.
fn pick<T: Float>(
    op: &'static str,
    scores: &Var<T>,
    input_shape: &[usize],
    classes: &[usize],
) -> Result<(Var<T>, Vec<f64>)> {
    let shape = scores.shape();
    let n = input_shape.first().copied().unwrap_or(0);
    if shape.len() != 2 || shape[0] != n {
        return Err(Error::invalid(
            op,
            format!("expected the model to return scores of shape [{n}, classes] for an input of shape {input_shape:?}, got {shape:?}"),
        ));
    }
    if classes.len() != n {
        return Err(Error::invalid(
            op,
            format!(
                "expected one class per example: {n} examples, {} classes given",
                classes.len()
            ),
        ));
    }
    if let Some(&c) = classes.iter().find(|&&c| c >= shape[1]) {
        return Err(Error::invalid(
            op,
            format!("class {c} is out of bounds for scores with {} classes", shape[1]),
        ));
    }
    let mut mask = vec![T::zero(); n * shape[1]];
    for (i, &c) in classes.iter().enumerate() {
        mask[i * shape[1] + c] = T::one();
    }
    let values = scores.to_tensor().to_vec();
    let picked = classes
        .iter()
        .enumerate()
        .map(|(i, &c)| values[i * shape[1] + c].f64())
        .collect();
    let total = scores.try_mul(&Var::new(Tensor::from_vec(mask, &shape)?))?.sum();
    Ok((total, picked))
}

/// One tile of [`overlay_png`]: a grey image, optionally a map drawn over it, and a caption.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The image's pixels, row by row, any range (drawn from its minimum, white, to its
    /// maximum, black).
    pub image: Vec<f64>,
    /// A map of the same size (saliency, attributions): its magnitudes, scaled by the tile's
    /// largest, are drawn in red over the image, opaque where largest. `None` draws the image
    /// alone.
    pub map: Option<Vec<f64>>,
    /// The caption under the tile.
    pub caption: String,
}

/// A grid of `height` x `width` images, each pixel drawn `scale` pixels wide, `columns` tiles
/// a row, under a title, as a PNG. Fails if a tile's image or map does not have
/// `height * width` values, or if a size is 0. Non-finite values are drawn as 0.
pub fn overlay_png(
    title: &str,
    tiles: &[Tile],
    (height, width): (usize, usize),
    columns: usize,
    scale: u32,
) -> Result<Vec<u8>> {
    let op = "overlay_png";
    if height == 0 || width == 0 || columns == 0 || scale == 0 || tiles.is_empty() {
        return Err(Error::invalid(
            op,
            format!("expected a nonzero image size, column count, scale and tile count, got {height}x{width}, {columns} columns, scale {scale}, {} tiles", tiles.len()),
        ));
    }
    for (i, t) in tiles.iter().enumerate() {
        let map_len = t.map.as_ref().map_or(height * width, Vec::len);
        if t.image.len() != height * width || map_len != height * width {
            return Err(Error::invalid(
                op,
                format!(
                    "tile {i} ({:?}): expected {height}x{width} = {} values, got an image of {} and a map of {map_len}",
                    t.caption,
                    height * width,
                    t.image.len()
                ),
            ));
        }
    }
    let s = scale as i32;
    let (tile_w, tile_h) = (width as i32 * s + 20, height as i32 * s + 34);
    let rows = tiles.len().div_ceil(columns);
    let size = (
        (tile_w * columns.min(tiles.len()) as i32 + 20).max(9 * title.chars().count() as i32 + 20) as u32,
        (tile_h * rows as i32 + 50) as u32,
    );
    draw_png(op, size, |root| {
        let fail = |e: String| Error::invalid(op, format!("drawing failed: {e}"));
        root.draw_text(title, &("sans-serif", 18).into_font().color(&BLACK), (10, 12))
            .map_err(|e| fail(e.to_string()))?;
        for (k, tile) in tiles.iter().enumerate() {
            let (x0, y0) = (10 + (k % columns) as i32 * tile_w, 45 + (k / columns) as i32 * tile_h);
            let image = scaled(&tile.image, false);
            let map = tile.map.as_ref().map(|m| scaled(m, true));
            for (j, &v) in image.iter().enumerate() {
                // The image in grey, faded under a map so the map reads first; over it, red
                // with opacity growing with the map's magnitude.
                let grey = if map.is_some() {
                    255.0 * (1.0 - 0.45 * v)
                } else {
                    255.0 * (1.0 - v)
                };
                let heat = map.as_ref().map_or(0.0, |m| m[j].powf(0.7));
                let r = grey + (215.0 - grey) * heat;
                let g = grey + (25.0 - grey) * heat;
                let b = grey + (30.0 - grey) * heat;
                let (x, y) = (x0 + (j % width) as i32 * s, y0 + (j / width) as i32 * s);
                root.draw(&Rectangle::new(
                    [(x, y), (x + s, y + s)],
                    RGBColor(r as u8, g as u8, b as u8).filled(),
                ))
                .map_err(|e| fail(e.to_string()))?;
            }
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + width as i32 * s, y0 + height as i32 * s)],
                RGBColor(180, 180, 180),
            ))
            .map_err(|e| fail(e.to_string()))?;
            root.draw_text(
                &tile.caption,
                &("sans-serif", 13).into_font().color(&BLACK),
                (x0, y0 + height as i32 * s + 6),
            )
            .map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    })
}

/// Values mapped to [0, 1]: from min to max, or (for a map) magnitude over the largest one.
fn scaled(values: &[f64], magnitude: bool) -> Vec<f64> {
    let clean: Vec<f64> = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                if magnitude {
                    v.abs()
                } else {
                    v
                }
            } else {
                0.0
            }
        })
        .collect();
    let lo = if magnitude {
        0.0
    } else {
        clean.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let hi = clean.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi > lo {
        clean.iter().map(|v| (v - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; clean.len()]
    }
}
