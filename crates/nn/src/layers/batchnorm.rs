//! [`BatchNorm1d`] and [`BatchNorm2d`]: per-channel normalization with running statistics, as
//! `nn.BatchNorm1d` / `nn.BatchNorm2d`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Tensor};

use crate::checkpoint::StateValue;
use crate::functional::batch_norm;
use crate::{Buffer, Forward, Module, TrainingFlag};

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, $expected:literal, $ndims:pat) => {
        $(#[$doc])*
        #[derive(Debug, Module)]
        pub struct $name<T: Float = f32> {
            /// `[num_features]`, ones at first; absent with `affine(false)`.
            pub weight: Option<Var<T>>,
            /// `[num_features]`, zeros at first; absent with `affine(false)`.
            pub bias: Option<Var<T>>,
            /// `[num_features]`, zeros at first; absent with `track_running_stats(false)`.
            pub running_mean: Option<Buffer<T>>,
            /// `[num_features]`, ones at first; absent with `track_running_stats(false)`.
            pub running_var: Option<Buffer<T>>,
            /// The number of training forwards so far (int64, shape `[]`); absent with
            /// `track_running_stats(false)`.
            pub num_batches_tracked: Option<Buffer<T>>,
            /// The number of channels `C`.
            pub num_features: usize,
            /// Added to the variance inside the square root.
            pub eps: f64,
            /// The weight of a new batch in the running statistics; `None` for a cumulative
            /// average (`1/num_batches_tracked`).
            pub momentum: Option<f64>,
            training: TrainingFlag,
        }

        impl<T: Float> $name<T> {
            /// A layer over `num_features` channels with PyTorch's defaults: eps `1e-5`,
            /// momentum `Some(0.1)`, affine, tracking running statistics, in training mode.
            pub fn new(num_features: usize) -> Self {
                Self {
                    weight: Some(Var::parameter(Tensor::ones(&[num_features]))),
                    bias: Some(Var::parameter(Tensor::zeros(&[num_features]))),
                    running_mean: Some(Buffer::new(Tensor::zeros(&[num_features]))),
                    running_var: Some(Buffer::new(Tensor::ones(&[num_features]))),
                    num_batches_tracked: Some(Buffer::int(IndexTensor::scalar(0))),
                    num_features,
                    eps: 1e-5,
                    momentum: Some(0.1),
                    training: TrainingFlag::default(),
                }
            }

            /// Sets `eps`, added to the variance inside the square root.
            pub fn eps(mut self, eps: f64) -> Self {
                self.eps = eps;
                self
            }

            /// Sets `momentum`: `Some(m)` updates `running = (1 - m)·running + m·batch`,
            /// `None` keeps a cumulative average.
            pub fn momentum(mut self, momentum: Option<f64>) -> Self {
                self.momentum = momentum;
                self
            }

            /// `affine=false` drops `weight` and `bias`; `true` gives them back (ones, zeros).
            pub fn affine(mut self, affine: bool) -> Self {
                let c = self.num_features;
                if !affine {
                    self.weight = None;
                    self.bias = None;
                } else if self.weight.is_none() {
                    self.weight = Some(Var::parameter(Tensor::ones(&[c])));
                    self.bias = Some(Var::parameter(Tensor::zeros(&[c])));
                }
                self
            }

            /// `track_running_stats=false` drops the three buffers: the layer then normalizes
            /// with the batch's statistics in evaluation mode too.
            pub fn track_running_stats(mut self, track_running_stats: bool) -> Self {
                let c = self.num_features;
                if !track_running_stats {
                    self.running_mean = None;
                    self.running_var = None;
                    self.num_batches_tracked = None;
                } else if self.running_mean.is_none() {
                    self.running_mean = Some(Buffer::new(Tensor::zeros(&[c])));
                    self.running_var = Some(Buffer::new(Tensor::ones(&[c])));
                    self.num_batches_tracked = Some(Buffer::int(IndexTensor::scalar(0)));
                }
                self
            }

            /// Whether the layer is in training mode.
            pub fn is_training(&self) -> bool {
                self.training.get()
            }
        }

        impl<T: Float> Forward<Var<T>, T> for $name<T> {
            type Output = Var<T>;

            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                if !matches!(x.ndim(), $ndims) {
                    return Err(Error::invalid(
                        stringify!($name),
                        format!(concat!("expected ", $expected, " input (got {}D input)"), x.ndim()),
                    ));
                }
                forward(
                    x,
                    [&self.running_mean, &self.running_var, &self.num_batches_tracked],
                    self.weight.as_ref(),
                    self.bias.as_ref(),
                    self.training.get(),
                    self.momentum,
                    self.eps,
                )
            }
        }
    };
}

batch_norm_layer!(
    /// Batch normalization of `(N, C)` or `(N, C, L)` inputs over every dimension but the
    /// channels, as `nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    /// track_running_stats=True)`; see [`batch_norm`] for the formula.
    ///
    /// In training mode it normalizes with the batch's mean and biased variance and updates
    /// `running_mean` / `running_var` (with the unbiased variance) and `num_batches_tracked`;
    /// in evaluation mode it uses the running statistics. `state_dict` holds `weight, bias,
    /// running_mean, running_var, num_batches_tracked`, as PyTorch's. A failed forward
    /// changes nothing.
    ///
    /// ```
    /// use ferrograd_autograd::Var;
    /// use ferrograd_nn::{BatchNorm1d, Forward, Module};
    /// use ferrograd_tensor::Tensor;
    ///
    /// let bn = BatchNorm1d::<f32>::new(3);
    /// let y = bn.forward(&Var::new(Tensor::randn(&[8, 3], 0)))?;
    /// assert_eq!(y.shape(), [8, 3]);
    /// let names: Vec<_> = bn.state_dict().names().map(String::from).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// bn.eval();
    /// assert!(bn.forward(&Var::new(Tensor::randn(&[1, 3], 1))).is_ok());
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    BatchNorm1d,
    "2D or 3D",
    2 | 3
);

batch_norm_layer!(
    /// Batch normalization of `(N, C, H, W)` inputs over `N`, `H` and `W`, as
    /// `nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True,
    /// track_running_stats=True)`; the same as [`BatchNorm1d`] otherwise.
    ///
    /// ```
    /// use ferrograd_autograd::Var;
    /// use ferrograd_nn::{BatchNorm2d, Forward};
    /// use ferrograd_tensor::Tensor;
    ///
    /// let bn = BatchNorm2d::<f32>::new(4).momentum(None);
    /// let y = bn.forward(&Var::new(Tensor::randn(&[2, 4, 5, 5], 0)))?;
    /// assert_eq!(y.shape(), [2, 4, 5, 5]);
    /// assert!(bn.forward(&Var::new(Tensor::randn(&[4, 5, 5], 0))).is_err());
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    BatchNorm2d,
    "4D",
    4
);

/// The forward shared by the batch norm layers: [`batch_norm`] on copies of the running
/// statistics, written back (and `num_batches_tracked` counted) only when it succeeds.
fn forward<T: Float>(
    x: &Var<T>,
    [mean_buf, var_buf, count_buf]: [&Option<Buffer<T>>; 3],
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    training: bool,
    momentum: Option<f64>,
    eps: f64,
) -> Result<Var<T>> {
    let (Some(mean_buf), Some(var_buf)) = (mean_buf, var_buf) else {
        // No running statistics: batch statistics in both modes, as PyTorch.
        return batch_norm(x, None, None, weight, bias, true, 0.0, eps);
    };
    let (mut mean, mut var) = (mean_buf.tensor()?, var_buf.tensor()?);
    let count = match count_buf.as_ref().map(|b| b.value().clone()) {
        Some(StateValue::Int(t)) => t.to_vec().first().copied().unwrap_or(0),
        _ => 0,
    };
    let factor = match momentum {
        Some(m) => m,
        None => 1.0 / (count + 1) as f64,
    };
    let y = batch_norm(x, Some(&mut mean), Some(&mut var), weight, bias, training, factor, eps)?;
    if training {
        mean_buf.set(mean)?;
        var_buf.set(var)?;
        if let Some(count_buf) = count_buf {
            count_buf.set(IndexTensor::scalar(count + 1))?;
        }
    }
    Ok(y)
}
