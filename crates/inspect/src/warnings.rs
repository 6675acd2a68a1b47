//! When a recorded step's statistics raise a [`Warning`], and its words.

use ferrograd_autograd::{is_anomaly_enabled, take_forward_anomaly};

use crate::record::{LayerKind, StepRecord, Warning, WarningKind};

/// When a statistic raises a warning. The defaults follow the usual rules of thumb: a few
/// percent of saturated units is normal (a fifth in the first tanh layer of a Kaiming-scaled
/// network is common), a quarter is not; a tenth of dead ReLU units is too many; gradients
/// should keep their size from one nonlinearity to the next within a factor of ten; updates
/// should be about a thousandth of the data (`log10` near -3), within a factor of ten.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// A tanh or sigmoid layer with more saturated units than this fraction (default 0.25).
    pub saturated: f64,
    /// A ReLU layer with more dead units than this fraction (default 0.1).
    pub dead: f64,
    /// The factor by which the std of the gradient reaching a nonlinearity (tanh, sigmoid,
    /// ReLU) may change from one to the previous one of the same type (default 10: below a
    /// tenth is vanishing, above ten exploding).
    pub grad_change: f64,
    /// The lowest healthy `log10(std(Δθ)/std(θ))` (default -4). Update ratios are checked on
    /// weights (parameters of two dimensions or more) only: biases and normalisation scales
    /// start at 0 or 1 with little spread, so their ratio says little.
    pub update_low: f64,
    /// The highest healthy `log10(std(Δθ)/std(θ))` (default -2).
    pub update_high: f64,
    /// How many recorded steps the update ratio is averaged over (in `log10`) before it is
    /// compared with `update_low` and `update_high` (default 10): one step's update is noisy,
    /// and the first steps' are often large while the loss falls from its initial value.
    pub update_window: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            saturated: 0.25,
            dead: 0.1,
            grad_change: 10.0,
            update_low: -4.0,
            update_high: -2.0,
            update_window: 10,
        }
    }
}

/// The warnings of one recorded step; `earlier` are the steps recorded before it, in order.
pub fn check(step: &StepRecord, earlier: &[StepRecord], t: &Thresholds) -> Vec<Warning> {
    let s = step.step;
    let mut out = Vec::new();
    let mut warn = |layer: &str, kind, message: String| {
        out.push(Warning {
            step: s,
            layer: layer.to_string(),
            kind,
            message: format!("step {s}: {message}"),
        })
    };
    for l in &step.layers {
        let name = format!("layer {:?} ({})", l.layer, l.module_type);
        if !(l.mean.is_finite() && l.std.is_finite()) {
            warn(
                &l.layer,
                WarningKind::NonFinite,
                format!("{name} output holds NaN or infinity{}", anomaly_note()),
            );
        }
        if l.grad_mean.is_some_and(|m| !m.is_finite()) || l.grad_std.is_some_and(|m| !m.is_finite()) {
            warn(
                &l.layer,
                WarningKind::NonFinite,
                format!(
                    "the gradient of {name}'s output holds NaN or infinity{}",
                    anomaly_note()
                ),
            );
        }
        if let Some(sat) = l.saturated.filter(|&f| f > t.saturated) {
            warn(
                &l.layer,
                WarningKind::Saturation,
                format!(
                    "{name}: {:.1}% of outputs are saturated (above {:.0}%): their gradient is near 0; scale the layer before it down (Kaiming-scaled init) or normalise its input",
                    100.0 * sat,
                    100.0 * t.saturated
                ),
            );
        }
        if let Some(dead) = l.dead.filter(|&f| f > t.dead) {
            warn(
                &l.layer,
                WarningKind::DeadUnits,
                format!(
                    "{name}: {:.1}% of units output 0 for the whole batch (above {:.0}%): they get no gradient and stop learning",
                    100.0 * dead,
                    100.0 * t.dead
                ),
            );
        }
    }
    // Gradient flow: each nonlinearity against the next one of the same type, in forward order.
    for (i, l) in step.layers.iter().enumerate() {
        let Some(g) = l.grad_std.filter(|_| l.kind != LayerKind::Other) else {
            continue;
        };
        let Some(next) = step.layers[i + 1..].iter().find(|n| n.module_type == l.module_type) else {
            continue;
        };
        let Some(gn) = next.grad_std.filter(|g| *g > 0.0 && g.is_finite()) else {
            continue;
        };
        let ratio = g / gn;
        let kind = if ratio < 1.0 / t.grad_change {
            WarningKind::VanishingGradient
        } else if ratio > t.grad_change {
            WarningKind::ExplodingGradient
        } else {
            continue;
        };
        warn(
            &l.layer,
            kind,
            format!(
                "the gradient reaching layer {:?} ({}) has std {g:.3e}, {ratio:.3}× that reaching the next {} layer {:?} ({gn:.3e}): it {} on the way back",
                l.layer,
                l.module_type,
                l.module_type,
                next.layer,
                if kind == WarningKind::VanishingGradient { "vanishes" } else { "explodes" }
            ),
        );
    }
    let window = t.update_window.max(1);
    let recent = &earlier[earlier.len().saturating_sub(window - 1)..];
    for (i, p) in step.params.iter().enumerate() {
        if !p.data_std.is_finite() || p.grad_std.is_some_and(|g| !g.is_finite()) {
            warn(
                &p.name,
                WarningKind::NonFinite,
                format!(
                    "parameter {:?} or its gradient holds NaN or infinity{}",
                    p.name,
                    anomaly_note()
                ),
            );
        }
        let ratios: Vec<f64> = recent
            .iter()
            .filter_map(|s| {
                s.params
                    .get(i)
                    .filter(|q| q.name == p.name)
                    .and_then(|q| q.update_ratio_log10)
            })
            .chain(p.update_ratio_log10)
            .collect();
        // Weights only (see `update_low`), once the window is full.
        let mean = (p.shape.len() >= 2 && ratios.len() == window).then(|| ratios.iter().sum::<f64>() / window as f64);
        if let Some(r) = mean.filter(|r| *r < t.update_low || *r > t.update_high) {
            warn(
                &p.name,
                WarningKind::UpdateRatio,
                format!(
                    "parameter {:?}: update:data ratio 10^{r:.2} (mean over the last {window} recorded steps) is far from 10^-3 (healthy between 10^{} and 10^{}): the learning rate is too {} for it",
                    p.name,
                    t.update_low,
                    t.update_high,
                    if r < t.update_low { "low" } else { "high" }
                ),
            );
        }
    }
    out
}

/// Where the NaN came from, when anomaly mode saw it; else how to find out.
fn anomaly_note() -> String {
    if is_anomaly_enabled() {
        match take_forward_anomaly() {
            Some(a) => format!(" (anomaly mode: {a})"),
            None => String::new(),
        }
    } else {
        " (run the step under `detect_anomaly()` to find the op that made it)".to_string()
    }
}
