//! Pooling layers, as torch.nn: [`MaxPool1d`], [`MaxPool2d`], [`AvgPool2d`],
//! [`AdaptiveAvgPool2d`]; thin modules over the functions of
//! [`functional`](crate::functional) of the same names.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, IndexTensor, Result};

use crate::functional::{
    adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool1d_with_indices, max_pool2d, max_pool2d_with_indices,
    AdaptiveSize, AvgPoolOptions, Dims, MaxPoolOptions,
};
use crate::{Forward, Module};

macro_rules! max_pool_layer {
    ($name:ident, $function:ident, $with_indices:ident, $doc:expr) => {
        #[doc = $doc]
        ///
        /// [`forward_with_indices`](Self::forward_with_indices) also returns the position of
        /// each maximum, as `return_indices=True`.
        #[derive(Debug, Clone, PartialEq, Eq, Module)]
        #[module(any_float)]
        pub struct $name {
            /// Kernel size, stride, padding, dilation and ceil mode.
            #[module(skip)]
            pub options: MaxPoolOptions,
        }

        impl $name {
            /// Windows of `kernel_size`, stride `kernel_size`, no padding.
            pub fn new(kernel_size: impl Into<Dims>) -> Self {
                Self::with_options(MaxPoolOptions::new(kernel_size))
            }

            /// A layer with the given options.
            pub fn with_options(options: MaxPoolOptions) -> Self {
                Self { options }
            }

            /// The pooled values and the position of each maximum, as `return_indices=True`.
            pub fn forward_with_indices<T: Float>(&self, x: &Var<T>) -> Result<(Var<T>, IndexTensor)> {
                $with_indices(x, &self.options)
            }
        }

        impl<T: Float> Forward<Var<T>, T> for $name {
            type Output = Var<T>;

            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                $function(x, &self.options)
            }
        }
    };
}

max_pool_layer!(
    MaxPool1d,
    max_pool1d,
    max_pool1d_with_indices,
    "The maximum of each window over `[N, C, L]` (or `[C, L]`) inputs, as `nn.MaxPool1d`; its gradient goes to the first maximum of the window."
);

max_pool_layer!(
    MaxPool2d,
    max_pool2d,
    max_pool2d_with_indices,
    "The maximum of each window over `[N, C, H, W]` (or `[C, H, W]`) inputs, as `nn.MaxPool2d`; its gradient goes to the first maximum in row-major window order."
);

/// The mean of each window over `[N, C, H, W]` (or `[C, H, W]`) inputs, as `nn.AvgPool2d`.
///
/// ```
/// use ferrograd_nn::{functional::AvgPoolOptions, AvgPool2d, Forward};
/// use ferrograd_autograd::Var;
/// use ferrograd_tensor::Tensor;
///
/// let pool = AvgPool2d::with_options(AvgPoolOptions::new(3).stride(2).padding(1).ceil_mode(true));
/// let y = pool.forward(&Var::new(Tensor::<f64>::ones(&[1, 1, 5, 5])))?;
/// assert_eq!(y.to_tensor().to_vec()[..3], [4.0 / 9.0, 6.0 / 9.0, 4.0 / 9.0]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Module)]
#[module(any_float)]
pub struct AvgPool2d {
    /// Kernel size, stride, padding, ceil mode, `count_include_pad`, `divisor_override`.
    #[module(skip)]
    pub options: AvgPoolOptions,
}

impl AvgPool2d {
    /// Windows of `kernel_size`, stride `kernel_size`, no padding.
    pub fn new(kernel_size: impl Into<Dims>) -> Self {
        Self::with_options(AvgPoolOptions::new(kernel_size))
    }

    /// A layer with the given options.
    pub fn with_options(options: AvgPoolOptions) -> Self {
        Self { options }
    }
}

impl<T: Float> Forward<Var<T>, T> for AvgPool2d {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        avg_pool2d(x, &self.options)
    }
}

/// The mean of `output_size` bins over `[N, C, H, W]` (or `[C, H, W]`) inputs, as
/// `nn.AdaptiveAvgPool2d`; bin `i` of `out` over `in` elements spans
/// `⌊i·in/out⌋ .. ⌈(i+1)·in/out⌉`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Module)]
#[module(any_float)]
pub struct AdaptiveAvgPool2d {
    /// `[OH, OW]`; `None` keeps the input's size.
    #[module(skip)]
    pub output_size: AdaptiveSize,
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` (`7`, `[3, 2]`, `[None, Some(2)]`).
    pub fn new(output_size: impl Into<AdaptiveSize>) -> Self {
        Self {
            output_size: output_size.into(),
        }
    }
}

impl<T: Float> Forward<Var<T>, T> for AdaptiveAvgPool2d {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        adaptive_avg_pool2d(x, self.output_size)
    }
}
