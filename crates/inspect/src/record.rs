//! What a [`Monitor`](crate) records: plain data, serialisable with serde, that the tables,
//! the pictures and the HTML report are drawn from.
//!
//! One [`Record`] holds a whole run. Each recorded step is a [`StepRecord`] with one
//! [`LayerStats`] per module that produced an output (named by its path in the model, as in
//! `named_modules`: `"layers.0"`, `"embed"`) and one [`ParamStats`] per parameter (named as in
//! `named_parameters`: `"layers.0.weight"`). At the steps chosen for histograms each layer
//! also carries a [`Histogram`] of its activations and one of the gradient reaching its output.
//! [`Warning`]s name the step, the layer (or parameter) and what is wrong.
//!
//! Every statistic is a population statistic (divide by `n`, not `n - 1`) over all elements
//! of the tensor, computed in `f64`, except where a field says otherwise. A statistic that
//! could not be computed (no gradient reached the layer, or it was not measured at that step)
//! is `None`.
use serde::{Deserialize, Serialize};

/// A whole run: the steps recorded, in order, and every warning raised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The recorded steps, in increasing step order (not every step is recorded).
    pub steps: Vec<StepRecord>,
    /// Every warning raised so far, in the order raised.
    pub warnings: Vec<Warning>,
}

/// What was seen at one training step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step number, counted from 0 by the monitor (one per `step_begin`/`step_end`).
    pub step: usize,
    /// The loss at that step, when the training loop reported it.
    pub loss: Option<f64>,
    /// One entry per module whose output was seen, in the order the forward pass ran them.
    pub layers: Vec<LayerStats>,
    /// One entry per parameter, in `named_parameters` order.
    pub params: Vec<ParamStats>,
}

/// What a kind of layer does to its output, which decides what "saturated" and "dead" mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LayerKind {
    /// `Tanh`: saturated where `|y| > 0.97`.
    Tanh,
    /// `Sigmoid`: saturated where `y < 0.03` or `y > 0.97`.
    Sigmoid,
    /// `ReLU` (and kin that output exact zeros): a unit is dead when it outputs 0 for every
    /// example of the batch.
    Relu,
    /// Any other module (`Linear`, `Embedding`, `BatchNorm1d`, containers...): no saturation
    /// or dead fraction is computed.
    Other,
}

/// Statistics of one module's output (its activations) and of the gradient of the loss with
/// respect to that output, at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// The module's path in the model (`named_modules` name; `""` is the model itself).
    pub layer: String,
    /// The module's type name (`"Linear"`, `"Tanh"`...).
    pub module_type: String,
    /// What kind of output it has, deciding the saturated and dead fractions.
    pub kind: LayerKind,
    /// The output's shape.
    pub shape: Vec<usize>,
    /// Mean of the output's elements.
    pub mean: f64,
    /// Standard deviation (population) of the output's elements.
    pub std: f64,
    /// Fraction of output elements that are saturated (see [`LayerKind`]); `None` for kinds
    /// that do not saturate.
    pub saturated: Option<f64>,
    /// Fraction of units (features: all dimensions but the first, which is the batch) whose
    /// output is exactly 0 for the whole batch; `None` unless the kind is [`LayerKind::Relu`].
    pub dead: Option<f64>,
    /// Mean of the gradient of the loss with respect to this output (`None` if no gradient
    /// reached it, e.g. the step had no backward pass).
    pub grad_mean: Option<f64>,
    /// Standard deviation (population) of that gradient.
    pub grad_std: Option<f64>,
    /// Histogram of the output's elements, at histogram steps only.
    pub hist: Option<Histogram>,
    /// Histogram of the gradient with respect to the output, at histogram steps only.
    pub grad_hist: Option<Histogram>,
}

/// Statistics of one parameter, its gradient and its last update, at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamStats {
    /// The parameter's `named_parameters` name (`"layers.0.weight"`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Standard deviation (population) of the parameter's data, before the update.
    pub data_std: f64,
    /// Standard deviation (population) of its gradient (`None` if it had no gradient).
    pub grad_std: Option<f64>,
    /// `std(grad) / std(data)` (`None` without a gradient, or when `std(data)` is 0).
    pub grad_data_ratio: Option<f64>,
    /// `log10(std(Δθ) / std(θ))` where `Δθ` is the change the optimizer step made and `θ` the
    /// data before it; healthy near -3. `None` when the update was not observed or either
    /// standard deviation is 0.
    pub update_ratio_log10: Option<f64>,
}

/// A histogram of a tensor's elements, with the summary the pictures label it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// `counts.len() + 1` increasing bin edges; bin `i` is `[edges[i], edges[i + 1])`, the
    /// last bin also holds its right edge.
    pub edges: Vec<f64>,
    /// Number of elements in each bin (non-finite elements are left out).
    pub counts: Vec<u64>,
    /// Mean of the elements.
    pub mean: f64,
    /// Standard deviation (population) of the elements.
    pub std: f64,
    /// Saturated fraction, as in [`LayerStats::saturated`], when the layer saturates.
    pub saturated: Option<f64>,
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WarningKind {
    /// Too many saturated units in a tanh or sigmoid layer.
    Saturation,
    /// Too many ReLU units that output 0 for the whole batch.
    DeadUnits,
    /// The output gradient shrinks sharply from one layer to the one before it.
    VanishingGradient,
    /// The output gradient grows sharply from one layer to the one before it.
    ExplodingGradient,
    /// A parameter's update:data ratio is far from 1e-3 (too small or too large).
    UpdateRatio,
    /// A NaN or infinity in an activation, a gradient or a parameter.
    NonFinite,
}

/// A problem seen at one step in one layer or parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The step it was seen at.
    pub step: usize,
    /// The layer's path (or the parameter's name, for update-ratio warnings).
    pub layer: String,
    /// What is wrong.
    pub kind: WarningKind,
    /// One sentence for a person, naming the layer, the step and the values.
    pub message: String,
}
