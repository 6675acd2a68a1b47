//! `cross_entropy` and `nll_loss` with every argument of PyTorch's `F.cross_entropy` /
//! `F.nll_loss`: class-index or class-probability targets, `(C)`, `(N, C)` and
//! `(N, C, d1, ..., dk)` input, `weight`, `ignore_index`, `reduction`, `label_smoothing`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Tensor};

use super::checks::{check_index_target, check_label_smoothing, check_probability_target, float_name, invalid, Layout};
use super::class_loss::{apply, ClassLoss, Classes};
use crate::Reduction;

/// The target of a classification loss.
///
/// As in PyTorch, the kind is decided by shape: a target with exactly the input's shape holds
/// class probabilities; any other shape holds class indices.
#[derive(Clone, Copy)]
pub enum Target<'a, T: Float = f32> {
    /// Class indices (`torch.long`): `()` for `(C)` input, `(N)` for `(N, C)`, `(N, d1..dk)`
    /// for `(N, C, d1..dk)`.
    Indices(&'a IndexTensor),
    /// Class probabilities with the input's shape; differentiable.
    Probabilities(&'a Var<T>),
}

impl<'a, T: Float> From<&'a IndexTensor> for Target<'a, T> {
    fn from(t: &'a IndexTensor) -> Self {
        Target::Indices(t)
    }
}

impl<'a, T: Float> From<&'a Var<T>> for Target<'a, T> {
    fn from(t: &'a Var<T>) -> Self {
        Target::Probabilities(t)
    }
}

impl<T: Float> Target<'_, T> {
    fn shape(&self) -> Vec<usize> {
        match self {
            Target::Indices(t) => t.shape().to_vec(),
            Target::Probabilities(t) => t.shape(),
        }
    }
}

/// The options of [`cross_entropy`], with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyOptions<T: Float = f32> {
    /// A rescaling weight per class, shape `(C)`.
    pub weight: Option<Tensor<T>>,
    /// A class-index target value whose positions are left out (default -100). Only negative
    /// values are allowed with probability targets.
    pub ignore_index: i64,
    /// `none`, `mean` (default) or `sum`.
    pub reduction: Reduction,
    /// Label smoothing ε in `[0, 1]`; negative or NaN counts as 0, above 1 is an error.
    pub label_smoothing: f64,
}

impl<T: Float> Default for CrossEntropyOptions<T> {
    fn default() -> Self {
        Self {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

/// The options of [`nll_loss`], with PyTorch's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NllLossOptions<T: Float = f32> {
    /// A rescaling weight per class, shape `(C)`.
    pub weight: Option<Tensor<T>>,
    /// A target value whose positions are left out (default -100).
    pub ignore_index: i64,
    /// `none`, `mean` (default) or `sum`.
    pub reduction: Reduction,
}

impl<T: Float> Default for NllLossOptions<T> {
    fn default() -> Self {
        Self {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

fn weights<T: Float>(w: &Option<Tensor<T>>) -> Option<Vec<f64>> {
    w.as_ref().map(|w| w.to_vec().iter().map(|v| v.f64()).collect())
}

fn index_none_shape(input: &[usize], target: &IndexTensor) -> Vec<usize> {
    if input.len() == 1 {
        vec![]
    } else {
        target.shape().to_vec()
    }
}

/// The cross-entropy between logits `input` and `target` (class indices or probabilities),
/// as `F.cross_entropy(input, target)` with the default options: the mean over the batch.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::functional::{cross_entropy, cross_entropy_with, CrossEntropyOptions};
/// use ferrograd_tensor::{IndexTensor, Tensor};
///
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f32, 4., 1., 1., 5., 1., 2., 1., 1., 2., 5., 1.], &[3, 4])?);
/// let y = IndexTensor::from_slice(&[1, 0, 2]);
/// let loss = cross_entropy(&x, &y)?;
/// assert_eq!(loss.item()?, 0.10165968537330627f64 as f32); // PyTorch's value
/// loss.backward()?;
///
/// // F.cross_entropy(x, y, ignore_index=-1, label_smoothing=0.1)
/// let options = CrossEntropyOptions { ignore_index: -1, label_smoothing: 0.1, ..Default::default() };
/// let smoothed = cross_entropy_with(&x, &y, &options)?;
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn cross_entropy<'a, T: Float>(input: &Var<T>, target: impl Into<Target<'a, T>>) -> Result<Var<T>> {
    cross_entropy_with(input, target, &CrossEntropyOptions::default())
}

/// [`cross_entropy`] with options, as `F.cross_entropy(input, target, weight=..., ignore_index=...,
/// reduction=..., label_smoothing=...)`: the values, gradients and errors of PyTorch, including
/// the mean over weighted targets, ignored positions, label smoothing, probability targets and
/// K-dimensional input.
pub fn cross_entropy_with<'a, T: Float>(
    input: &Var<T>,
    target: impl Into<Target<'a, T>>,
    options: &CrossEntropyOptions<T>,
) -> Result<Var<T>> {
    const OP: &str = "cross_entropy";
    let target = target.into();
    let shape = input.shape();
    let eps = if options.label_smoothing > 0.0 {
        options.label_smoothing
    } else {
        0.0
    };
    let weight = weights(&options.weight);
    if target.shape() == shape {
        let Target::Probabilities(target) = target else {
            return Err(invalid(
                OP,
                "Expected floating point type for target with class probabilities, got Long",
            ));
        };
        let layout = check_probability_target(OP, &shape, options.ignore_index, options.weight.as_ref())?;
        check_label_smoothing(OP, eps)?;
        let mut none_shape = shape.clone();
        none_shape.remove(layout.class_dim);
        let t = target.value().array().as_standard_layout().into_owned();
        let loss = ClassLoss {
            op: OP,
            layout,
            classes: Classes::Probabilities(Tensor::from_array(t)),
            weight,
            reduction: options.reduction,
            eps,
            softmax: true,
            input_shape: shape,
            none_shape,
            backward_error: None,
        };
        return apply(loss, input, Some(target));
    }
    check_label_smoothing(OP, eps)?;
    if shape.is_empty() {
        return Err(invalid(
            OP,
            "Dimension out of range (expected to be in range of [-1, 0], but got 1)",
        ));
    }
    let (indices, float_target) = match target {
        Target::Indices(t) => (Some(t), None),
        Target::Probabilities(_) => (None, Some(float_name::<T>())),
    };
    let layout = check_index_target(OP, &shape, &target.shape(), float_target, options.weight.as_ref())?;
    let indices = indices.expect("a float target fails the index checks");
    let one_of_one = shape.len() == 1 && indices.shape() == [1];
    if one_of_one && eps > 0.0 {
        return Err(invalid(
            OP,
            "output with shape [] doesn't match the broadcast shape [1]",
        ));
    }
    let loss = index_loss(
        OP,
        layout,
        indices,
        weight,
        options.ignore_index,
        options.reduction,
        eps,
        true,
        &shape,
    );
    apply(loss, input, None)
}

/// The negative log-likelihood of class-index targets given log-probabilities `input`, as
/// `F.nll_loss(input, target)`; `cross_entropy` without label smoothing is
/// `nll_loss(log_softmax(x))`.
pub fn nll_loss<T: Float>(input: &Var<T>, target: &IndexTensor) -> Result<Var<T>> {
    nll_loss_with(input, target, &NllLossOptions::default())
}

/// [`nll_loss`] with options (`weight`, `ignore_index`, `reduction`), as `F.nll_loss`.
pub fn nll_loss_with<T: Float>(input: &Var<T>, target: &IndexTensor, options: &NllLossOptions<T>) -> Result<Var<T>> {
    const OP: &str = "nll_loss";
    let shape = input.shape();
    let layout = check_index_target(OP, &shape, target.shape(), None, options.weight.as_ref())?;
    let loss = index_loss(
        OP,
        layout,
        target,
        weights(&options.weight),
        options.ignore_index,
        options.reduction,
        0.0,
        false,
        &shape,
    );
    apply(loss, input, None)
}

#[allow(clippy::too_many_arguments)]
fn index_loss<T: Float>(
    op: &'static str,
    layout: Layout,
    target: &IndexTensor,
    weight: Option<Vec<f64>>,
    ignore_index: i64,
    reduction: Reduction,
    eps: f64,
    softmax: bool,
    shape: &[usize],
) -> ClassLoss<T> {
    let backward_error = (shape.len() == 1 && target.shape() == [1])
        .then(|| Error::invalid(op, format!("size mismatch (got input: {:?}, target: [1])", shape)));
    ClassLoss {
        op,
        layout,
        classes: Classes::Indices {
            targets: target.to_vec(),
            ignore_index,
        },
        weight,
        reduction,
        eps,
        softmax,
        input_shape: shape.to_vec(),
        none_shape: index_none_shape(shape, target),
        backward_error,
    }
}
