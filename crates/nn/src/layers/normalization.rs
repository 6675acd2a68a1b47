//! [`LayerNorm`]: normalization over the trailing dimensions, as `nn.LayerNorm`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result, Tensor};

use crate::functional::layer_norm;
use crate::{Forward, Module};

/// `(x - mean) / √(var + eps) · weight + bias` over the last `normalized_shape.len()`
/// dimensions, with the biased variance, as `nn.LayerNorm(normalized_shape, eps=1e-5,
/// elementwise_affine=True, bias=True)`.
///
/// `weight` starts at ones and `bias` at zeros, both of shape `normalized_shape`;
/// `state_dict` holds `weight` and `bias` (only `weight` with `bias(false)`, nothing with
/// `elementwise_affine(false)`).
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::{Forward, LayerNorm, Module};
/// use ferrograd_tensor::Tensor;
///
/// let ln = LayerNorm::<f32>::new(&[4]).eps(1e-6);
/// let y = ln.forward(&Var::new(Tensor::randn(&[2, 3, 4], 0)))?;
/// assert_eq!(y.shape(), [2, 3, 4]);
/// assert_eq!(ln.state_dict().names().collect::<Vec<_>>(), ["weight", "bias"]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Module)]
pub struct LayerNorm<T: Float = f32> {
    /// `normalized_shape`, if the layer is elementwise affine.
    pub weight: Option<Var<T>>,
    /// `normalized_shape`, if the layer is elementwise affine and has a bias.
    pub bias: Option<Var<T>>,
    /// The trailing dimensions normalized over.
    #[module(skip)]
    pub normalized_shape: Vec<usize>,
    /// Added to the variance inside the square root.
    pub eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// A layer over the trailing dimensions `normalized_shape`, with PyTorch's defaults: eps
    /// `1e-5`, weight ones and bias zeros.
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self {
            weight: Some(Var::parameter(Tensor::ones(normalized_shape))),
            bias: Some(Var::parameter(Tensor::zeros(normalized_shape))),
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
        }
    }

    /// Sets `eps`, added to the variance inside the square root.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// `elementwise_affine=false` drops both `weight` and `bias`.
    pub fn elementwise_affine(mut self, elementwise_affine: bool) -> Self {
        if !elementwise_affine {
            self.weight = None;
            self.bias = None;
        } else if self.weight.is_none() {
            self = Self::new(&self.normalized_shape).eps(self.eps);
        }
        self
    }

    /// `bias=false` drops the bias (the weight stays).
    pub fn bias(mut self, bias: bool) -> Self {
        if !bias {
            self.bias = None;
        } else if self.bias.is_none() && self.weight.is_some() {
            self.bias = Some(Var::parameter(Tensor::zeros(&self.normalized_shape)));
        }
        self
    }
}

impl<T: Float> Forward<Var<T>, T> for LayerNorm<T> {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        layer_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
}
