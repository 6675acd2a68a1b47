//! [`Conv1d`] and [`Conv2d`], as `nn.Conv1d` / `nn.Conv2d`: thin modules over
//! [`functional::conv1d`](crate::functional::conv1d) / [`conv2d`](crate::functional::conv2d).

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};
use rand::SeedableRng;

use crate::functional::{conv1d, conv2d, ConvOptions, Dims};
use crate::{Forward, Module};

/// The parameters of a convolution initialised as PyTorch: weight `[out, in/groups, k...]` and
/// bias `[out]` uniform in `±1/√fan_in`, `fan_in = in/groups · prod(kernel)`; with PyTorch's
/// constructor checks.
fn init<T: Float, R: rand::Rng + ?Sized>(
    op: &'static str,
    in_channels: usize,
    out_channels: usize,
    kernel: &[usize],
    options: &ConvOptions,
    bias: bool,
    rng: &mut R,
) -> Result<(Var<T>, Option<Var<T>>)> {
    if options.groups == 0 {
        return Err(Error::invalid(op, "groups must be a positive integer"));
    }
    if !in_channels.is_multiple_of(options.groups) {
        return Err(Error::invalid(op, "in_channels must be divisible by groups"));
    }
    if !out_channels.is_multiple_of(options.groups) {
        return Err(Error::invalid(op, "out_channels must be divisible by groups"));
    }
    options.resolve(op, kernel)?;
    let mut shape = vec![out_channels, in_channels / options.groups];
    shape.extend(kernel);
    let fan_in: usize = shape[1..].iter().product();
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    let weight = Tensor::uniform(&shape, -bound, bound, rng)?;
    let bias = bias
        .then(|| Tensor::uniform(&[out_channels], -bound, bound, rng))
        .transpose()?;
    Ok((Var::parameter(weight), bias.map(Var::parameter)))
}

/// Checks `padding_mode`: only `"zeros"` is implemented.
fn check_padding_mode(op: &'static str, mode: &str) -> Result<()> {
    match mode {
        "zeros" => Ok(()),
        "reflect" | "replicate" | "circular" => Err(Error::invalid(
            op,
            format!("padding_mode='{mode}' is not implemented; only padding_mode='zeros' is"),
        )),
        other => Err(Error::invalid(
            op,
            format!(
                "padding_mode must be one of {{'circular', 'replicate', 'reflect', 'zeros'}}, but got padding_mode='{other}'"
            ),
        )),
    }
}

macro_rules! conv_layer {
    ($name:ident, $dims:expr, $function:ident, $doc:expr, $example:expr) => {
        #[doc = $doc]
        ///
        /// ```
        #[doc = $example]
        /// # Ok::<(), ferrograd_tensor::Error>(())
        /// ```
        #[derive(Debug, Module)]
        pub struct $name<T: Float = f32> {
            /// `[out_channels, in_channels/groups, kernel...]`.
            pub weight: Var<T>,
            /// `[out_channels]`, if the layer has a bias.
            pub bias: Option<Var<T>>,
            /// Stride, padding, dilation and groups.
            #[module(skip)]
            pub options: ConvOptions,
        }

        impl<T: Float> $name<T> {
            /// A layer with PyTorch's default options (stride 1, no padding, dilation 1, one
            /// group, a bias), initialised as PyTorch from a seed.
            pub fn new(
                in_channels: usize,
                out_channels: usize,
                kernel_size: impl Into<Dims>,
                seed: u64,
            ) -> Result<Self> {
                Self::with_options(
                    in_channels,
                    out_channels,
                    kernel_size,
                    ConvOptions::default(),
                    true,
                    seed,
                )
            }

            /// A layer with the given options, with or without a bias, initialised from a seed.
            pub fn with_options(
                in_channels: usize,
                out_channels: usize,
                kernel_size: impl Into<Dims>,
                options: ConvOptions,
                bias: bool,
                seed: u64,
            ) -> Result<Self> {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                Self::with_rng(in_channels, out_channels, kernel_size, options, bias, &mut rng)
            }

            /// A layer initialised as PyTorch with the given generator: weight and bias uniform
            /// in `±1/√fan_in`, `fan_in = in_channels/groups · prod(kernel_size)`. Errors, in
            /// PyTorch's words, for channels not divisible by `groups` and `padding="same"`
            /// with a stride.
            pub fn with_rng<R: rand::Rng + ?Sized>(
                in_channels: usize,
                out_channels: usize,
                kernel_size: impl Into<Dims>,
                options: ConvOptions,
                bias: bool,
                rng: &mut R,
            ) -> Result<Self> {
                let op = stringify!($name);
                let kernel = kernel_size.into().expand(op, "kernel_size", $dims)?;
                let (weight, bias) = init(op, in_channels, out_channels, &kernel, &options, bias, rng)?;
                Ok(Self {
                    weight,
                    bias,
                    options,
                })
            }

            /// A layer with the given weight `[out, in/groups, kernel...]` and optional bias `[out]`.
            pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>, options: ConvOptions) -> Result<Self> {
                let op = stringify!($name);
                if weight.ndim() != $dims + 2 || bias.as_ref().is_some_and(|b| b.shape() != [weight.shape()[0]]) {
                    return Err(Error::invalid(
                        op,
                        format!(
                            "weight must be [out, in/groups, {} kernel sizes] and bias [out], got {:?} and {:?}",
                            $dims,
                            weight.shape(),
                            bias.as_ref().map(|b| b.shape().to_vec())
                        ),
                    ));
                }
                if options.groups == 0 || weight.shape()[0] % options.groups != 0 {
                    return Err(Error::invalid(op, "out_channels must be divisible by groups"));
                }
                options.resolve(op, &weight.shape()[2..])?;
                Ok(Self {
                    weight: Var::parameter(weight),
                    bias: bias.map(Var::parameter),
                    options,
                })
            }

            /// Only `"zeros"` (the default) is implemented; `"reflect"`, `"replicate"` and
            /// `"circular"` are refused with an error saying so.
            pub fn padding_mode(self, mode: &str) -> Result<Self> {
                check_padding_mode(stringify!($name), mode)?;
                Ok(self)
            }

            /// The number of input channels (`in_channels`).
            pub fn in_channels(&self) -> usize {
                self.weight.shape()[1] * self.options.groups
            }

            /// The number of output channels (`out_channels`).
            pub fn out_channels(&self) -> usize {
                self.weight.shape()[0]
            }
        }

        impl<T: Float> Forward<Var<T>, T> for $name<T> {
            type Output = Var<T>;

            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                $function(x, &self.weight, self.bias.as_ref(), &self.options)
            }
        }
    };
}

conv_layer!(
    Conv1d,
    1,
    conv1d,
    "A 1-D convolution over `[N, C_in, L]` (or `[C_in, L]`) inputs, as `nn.Conv1d`.",
    "use ferrograd_nn::{functional::ConvOptions, Conv1d, Forward};
use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;
let conv = Conv1d::<f32>::with_options(3, 4, 3, ConvOptions::default().padding(1), true, 0)?;
assert_eq!(conv.forward(&Var::new(Tensor::zeros(&[2, 3, 9])))?.shape(), [2, 4, 9]);"
);

conv_layer!(
    Conv2d,
    2,
    conv2d,
    "A 2-D convolution over `[N, C_in, H, W]` (or `[C_in, H, W]`) inputs, as `nn.Conv2d`.",
    "use ferrograd_nn::{functional::{ConvOptions, Padding}, Conv2d, Forward, Module};
use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;
let conv = Conv2d::<f32>::with_options(3, 6, [3, 2], ConvOptions::default().padding(Padding::Same).groups(3), true, 0)?;
assert_eq!(conv.weight.shape(), [6, 1, 3, 2]);
assert_eq!(conv.forward(&Var::new(Tensor::zeros(&[2, 3, 7, 5])))?.shape(), [2, 6, 7, 5]);
assert_eq!(conv.named_parameters().len(), 2);"
);
