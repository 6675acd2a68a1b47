//! Pooling, as `torch.nn.functional`: `max_pool1d` / `max_pool2d` (the argmax of each window
//! found once, the values and the gradient routed by it), `avg_pool2d` (windows laid out by
//! `im2col`, summed, divided by PyTorch's divisor) and `adaptive_avg_pool2d` (two products
//! with bin-averaging matrices).

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Shape, Tensor, Window2d};

use super::conv::Dims;

/// The options of `max_pool1d` / `max_pool2d`, with PyTorch's defaults: stride = kernel size,
/// no padding, dilation 1, floor mode.
///
/// ```
/// use ferrograd_nn::functional::MaxPoolOptions;
/// let opts = MaxPoolOptions::new(3).stride(2).padding(1).ceil_mode(true);
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxPoolOptions {
    /// The window's size.
    pub kernel_size: Dims,
    /// The step between windows; `None`: the kernel size.
    pub stride: Option<Dims>,
    /// Implicit `-inf` padding on both sides, at most half the effective kernel size.
    pub padding: Dims,
    /// The step between the elements of a window.
    pub dilation: Dims,
    /// Count a last, partial window (starting inside the input or its left padding).
    pub ceil_mode: bool,
}

impl MaxPoolOptions {
    /// Windows of `kernel_size`, PyTorch's defaults for the rest.
    pub fn new(kernel_size: impl Into<Dims>) -> Self {
        Self {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: Dims(vec![0]),
            dilation: Dims(vec![1]),
            ceil_mode: false,
        }
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl Into<Dims>) -> Self {
        self.stride = Some(stride.into());
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: impl Into<Dims>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Sets the dilation.
    pub fn dilation(mut self, dilation: impl Into<Dims>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
}

/// The options of `avg_pool2d`, with PyTorch's defaults: stride = kernel size, no padding,
/// floor mode, padding counted in the divisor, no divisor override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvgPoolOptions {
    /// The window's size.
    pub kernel_size: Dims,
    /// The step between windows; `None`: the kernel size.
    pub stride: Option<Dims>,
    /// Implicit zero padding on both sides, at most half the kernel size.
    pub padding: Dims,
    /// Count a last, partial window (starting inside the input or its left padding).
    pub ceil_mode: bool,
    /// Divide by the window clipped to the padded input (`true`) or to the input (`false`).
    pub count_include_pad: bool,
    /// Divide every window by this instead.
    pub divisor_override: Option<usize>,
}

impl AvgPoolOptions {
    /// Windows of `kernel_size`, PyTorch's defaults for the rest.
    pub fn new(kernel_size: impl Into<Dims>) -> Self {
        Self {
            kernel_size: kernel_size.into(),
            stride: None,
            padding: Dims(vec![0]),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl Into<Dims>) -> Self {
        self.stride = Some(stride.into());
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: impl Into<Dims>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// Sets `count_include_pad`.
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// Sets `divisor_override`.
    pub fn divisor_override(mut self, divisor: usize) -> Self {
        self.divisor_override = Some(divisor);
        self
    }
}

/// PyTorch's pooling output size: `⌊(in + 2p − d·(k−1) − 1)/s⌋ + 1` (or `⌈…⌉` in ceil mode,
/// minus one if the last window would start in the right padding); may be 0 or negative.
fn pooling_output_size(input: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> i64 {
    let (input, k, s, p, d) = (input as i64, k as i64, s as i64, p as i64, d as i64);
    let num = input + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    if ceil && (out - 1) * s >= input + p {
        out -= 1;
    }
    out
}

/// A pooling input `[N, C, spatial...]` or `[C, spatial...]` as `(batched, [N, C, H, W])`, a
/// 1-D input as a plane of height 1.
fn planes(shape: &[usize], dims: usize, ndim_error: impl Fn() -> Error) -> Result<(bool, [usize; 4])> {
    let batched = match shape.len() {
        n if n == dims + 2 => true,
        n if n == dims + 1 => false,
        _ => return Err(ndim_error()),
    };
    let s = if batched {
        shape.to_vec()
    } else {
        [&[1], shape].concat()
    };
    Ok(match dims {
        1 => (batched, [s[0], s[1], 1, s[2]]),
        _ => (batched, [s[0], s[1], s[2], s[3]]),
    })
}

/// The window of a pooling: kernel, stride, padding and dilation checked in PyTorch's words,
/// the output size computed and checked.
#[allow(clippy::too_many_arguments)]
fn pool_window(
    op: &'static str,
    dims: usize,
    nchw: [usize; 4],
    kernel: &Dims,
    stride: Option<&Dims>,
    padding: &Dims,
    dilation: &Dims,
    ceil: bool,
) -> Result<Window2d> {
    let kernel = kernel.expand(op, "kernel_size", dims)?;
    let stride = stride.map_or(Ok(kernel.clone()), |s| s.expand(op, "stride", dims))?;
    let padding = padding.expand(op, "padding", dims)?;
    let dilation = dilation.expand(op, "dilation", dims)?;
    if kernel.contains(&0) {
        return Err(Error::invalid(op, "kernel_size must be greater than zero"));
    }
    if stride.contains(&0) {
        return Err(Error::invalid(op, "stride should not be zero"));
    }
    if dilation.contains(&0) {
        return Err(Error::invalid(op, "dilation must be greater than zero"));
    }
    for i in 0..dims {
        let (k, p, d) = (kernel[i], padding[i], dilation[i]);
        // Half the effective kernel d·(k−1)+1, rounded down.
        if p > (d * (k - 1)).div_ceil(2) {
            let message = if dims == 1 {
                format!("max_pool1d() padding should be at most half of kernel size, but got padding={p} and kernel_size={k}")
            } else {
                format!("pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}")
            };
            return Err(Error::invalid(op, message));
        }
    }
    let input = &nchw[4 - dims..];
    let out: Vec<i64> = (0..dims)
        .map(|i| pooling_output_size(input[i], kernel[i], stride[i], padding[i], dilation[i], ceil))
        .collect();
    if out.iter().any(|&o| o < 1) {
        let message = if dims == 1 {
            format!("max_pool1d() Invalid computed output size: {}", out[0])
        } else {
            format!(
                "Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small",
                nchw[1], nchw[2], nchw[3], nchw[1], out[0], out[1]
            )
        };
        return Err(Error::invalid(op, message));
    }
    let lift = |v: &[usize], fill: usize| if dims == 1 { [fill, v[0]] } else { [v[0], v[1]] };
    let out: Vec<usize> = out.into_iter().map(|o| o as usize).collect();
    Ok(Window2d {
        input: [nchw[2], nchw[3]],
        output: lift(&out, 1),
        kernel: lift(&kernel, 1),
        stride: lift(&stride, 1),
        dilation: lift(&dilation, 1),
        padding: lift(&padding, 0),
    })
}

/// The output shape `[N, C, spatial...]` (without `N` when unbatched).
fn out_shape(batched: bool, n: usize, c: usize, window: &Window2d, dims: usize) -> Vec<usize> {
    let mut shape = if batched { vec![n, c] } else { vec![c] };
    shape.extend(&window.output[2 - dims..]);
    shape
}

/// What `max_pool1d` / `max_pool2d` pool: the input's planes `[N·C, H, W]`, their window, and
/// the shape of the output.
fn max_pool_planes<T: Float>(
    x: &Var<T>,
    options: &MaxPoolOptions,
    dims: usize,
) -> Result<(Var<T>, Window2d, Vec<usize>)> {
    let op = if dims == 1 { "max_pool1d" } else { "max_pool2d" };
    let shape = x.shape();
    let (batched, [n, c, h, w]) = planes(&shape, dims, || {
        Error::invalid(
            op,
            if dims == 1 {
                format!("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:{}", Shape(shape.clone()))
            } else {
                format!(
                    "non-empty 3D or 4D (batch mode) tensor expected for input, got {}",
                    Shape(shape.clone())
                )
            },
        )
    })?;
    let o = options;
    let window = pool_window(
        op,
        dims,
        [n, c, h, w],
        &o.kernel_size,
        o.stride.as_ref(),
        &o.padding,
        &o.dilation,
        o.ceil_mode,
    )?;
    let shape = out_shape(batched, n, c, &window, dims);
    Ok((x.reshape(&[n * c, h, w])?, window, shape))
}

/// `max_pool1d` / `max_pool2d` (`dims`).
fn max_pool<T: Float>(x: &Var<T>, options: &MaxPoolOptions, dims: usize) -> Result<Var<T>> {
    let (planes, window, shape) = max_pool_planes(x, options, dims)?;
    planes.max_pool2d(&window)?.reshape(&shape)
}

/// `max_pool1d_with_indices` / `max_pool2d_with_indices` (`dims`).
fn max_pool_with_indices<T: Float>(x: &Var<T>, options: &MaxPoolOptions, dims: usize) -> Result<(Var<T>, IndexTensor)> {
    let (planes, window, shape) = max_pool_planes(x, options, dims)?;
    let (out, indices) = planes.max_pool2d_with_indices(&window)?;
    Ok((out.reshape(&shape)?, indices.into_shape(&shape)?))
}

/// 1-D max pooling over `[N, C, L]` (or `[C, L]`), as `torch.nn.functional.max_pool1d`: each
/// output is the maximum of its window (a NaN counts as the maximum), and its gradient goes to
/// the first maximum of the window.
pub fn max_pool1d<T: Float>(x: &Var<T>, options: &MaxPoolOptions) -> Result<Var<T>> {
    max_pool(x, options, 1)
}

/// [`max_pool1d`] and, for each output, the position of its maximum along `L`, as
/// `return_indices=True`.
pub fn max_pool1d_with_indices<T: Float>(x: &Var<T>, options: &MaxPoolOptions) -> Result<(Var<T>, IndexTensor)> {
    max_pool_with_indices(x, options, 1)
}

/// 2-D max pooling over `[N, C, H, W]` (or `[C, H, W]`), as `torch.nn.functional.max_pool2d`:
/// each output is the maximum of its window (a NaN counts as the maximum), and its gradient
/// goes to the first maximum in row-major window order (ties are not split).
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::functional::{max_pool2d, MaxPoolOptions};
/// use ferrograd_tensor::Tensor;
///
/// let x = Var::parameter(Tensor::<f32>::ones(&[1, 1, 2, 2]));
/// let y = max_pool2d(&x, &MaxPoolOptions::new(2))?;
/// y.sum().backward()?;
/// assert_eq!(x.grad().unwrap().to_vec(), [1.0, 0.0, 0.0, 0.0]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn max_pool2d<T: Float>(x: &Var<T>, options: &MaxPoolOptions) -> Result<Var<T>> {
    max_pool(x, options, 2)
}

/// [`max_pool2d`] and, for each output, the position of its maximum in its plane
/// (`h·W + w`), as `return_indices=True`.
pub fn max_pool2d_with_indices<T: Float>(x: &Var<T>, options: &MaxPoolOptions) -> Result<(Var<T>, IndexTensor)> {
    max_pool_with_indices(x, options, 2)
}

/// 2-D average pooling over `[N, C, H, W]` (or `[C, H, W]`), as
/// `torch.nn.functional.avg_pool2d`: the sum of each window (padding reads 0) divided by
/// `divisor_override` if given, else by the window clipped to the padded input
/// (`count_include_pad`, the default) or to the input.
pub fn avg_pool2d<T: Float>(x: &Var<T>, options: &AvgPoolOptions) -> Result<Var<T>> {
    let op = "avg_pool2d";
    let shape = x.shape();
    let (batched, [n, c, h, w]) = planes(&shape, 2, || {
        Error::invalid(
            op,
            format!(
                "non-empty 3D or 4D (batch mode) tensor expected for input, got {}",
                Shape(shape.clone())
            ),
        )
    })?;
    let o = options;
    let one = Dims(vec![1]);
    let window = pool_window(
        op,
        2,
        [n, c, h, w],
        &o.kernel_size,
        o.stride.as_ref(),
        &o.padding,
        &one,
        o.ceil_mode,
    )?;
    if o.divisor_override == Some(0) {
        return Err(Error::invalid(op, "divisor must be not zero"));
    }
    let l = window.output_numel();
    let sums = x.reshape(&[n * c, 1, h, w])?.im2col(&window)?.sum_dim(0, false)?;
    let divisor = Var::new(avg_divisors(&window, o)?);
    let out = sums.reshape(&[n * c, l])?.try_div(&divisor)?;
    out.reshape(&out_shape(batched, n, c, &window, 2))
}

/// The divisor of each window of an average pooling, `[OH·OW]`, by PyTorch's rules.
fn avg_divisors<T: Float>(window: &Window2d, o: &AvgPoolOptions) -> Result<Tensor<T>> {
    let [oh, ow] = window.output;
    let span = |axis: usize, i: usize| {
        let (input, pad) = (window.input[axis] as i64, window.padding[axis] as i64);
        let start = (i * window.stride[axis]) as i64 - pad;
        let end = (start + window.kernel[axis] as i64).min(input + pad);
        let padded = end - start;
        (padded, end.min(input) - start.max(0))
    };
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let (py, iy) = span(0, y);
        for x in 0..ow {
            let (px, ix) = span(1, x);
            let d = match o.divisor_override {
                Some(d) => d as i64,
                None if o.count_include_pad => py * px,
                None => iy * ix,
            };
            out.push(T::of(d as f64));
        }
    }
    Tensor::from_vec(out, &[oh * ow])
}

/// The output size of an adaptive pooling per dimension; `None` keeps the input's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveSize(pub [Option<usize>; 2]);

impl From<usize> for AdaptiveSize {
    fn from(v: usize) -> Self {
        AdaptiveSize([Some(v); 2])
    }
}

impl From<[usize; 2]> for AdaptiveSize {
    fn from([h, w]: [usize; 2]) -> Self {
        AdaptiveSize([Some(h), Some(w)])
    }
}

impl From<[Option<usize>; 2]> for AdaptiveSize {
    fn from(v: [Option<usize>; 2]) -> Self {
        AdaptiveSize(v)
    }
}

/// `[out, in]`: row `i` averages bin `i`, elements `⌊i·in/out⌋ .. ⌈(i+1)·in/out⌉`.
fn bin_means<T: Float>(input: usize, out: usize) -> Result<Tensor<T>> {
    let mut m = vec![T::zero(); out * input];
    for i in 0..out {
        let (start, end) = (i * input / out, ((i + 1) * input).div_ceil(out));
        let weight = T::one() / T::of((end - start) as f64);
        m[i * input + start..i * input + end].fill(weight);
    }
    Tensor::from_vec(m, &[out, input])
}

/// 2-D adaptive average pooling over `[N, C, H, W]` (or `[C, H, W]`), as
/// `torch.nn.functional.adaptive_avg_pool2d`: output `(i, j)` is the mean of rows
/// `⌊i·H/OH⌋ .. ⌈(i+1)·H/OH⌉` and columns `⌊j·W/OW⌋ .. ⌈(j+1)·W/OW⌉`. Computed as
/// `A_H · x · A_Wᵀ` with bin-averaging matrices, two matrix products.
pub fn adaptive_avg_pool2d<T: Float>(x: &Var<T>, output_size: impl Into<AdaptiveSize>) -> Result<Var<T>> {
    let op = "adaptive_avg_pool2d";
    let shape = x.shape();
    let (batched, [n, c, h, w]) = planes(&shape, 2, || {
        Error::invalid(
            op,
            format!(
                "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {}",
                Shape(shape.clone())
            ),
        )
    })?;
    let nonbatch = &shape[shape.len() - 3..];
    if let Some(d) = nonbatch.iter().position(|&s| s == 0) {
        return Err(Error::invalid(
            op,
            format!(
                "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {} with dimension {} being empty",
                Shape(shape.clone()),
                d + shape.len() - 3
            ),
        ));
    }
    let AdaptiveSize([oh, ow]) = output_size.into();
    let (oh, ow) = (oh.unwrap_or(h), ow.unwrap_or(w));
    if oh == 0 || ow == 0 {
        return Err(Error::invalid(
            op,
            format!("adaptive_avg_pool2d(): output_size must be positive, got [{oh}, {ow}]"),
        ));
    }
    let (aw, ah) = (Var::new(bin_means(w, ow)?), Var::new(bin_means(h, oh)?));
    let r = n * c;
    let y = x.reshape(&[r * h, w])?.linear(&aw, None)?; // [R·H, OW]
    let y = y.reshape(&[r, h, ow])?.batch_transpose()?.reshape(&[r * ow, h])?;
    let y = y.linear(&ah, None)?.reshape(&[r, ow, oh])?.batch_transpose()?; // [R, OH, OW]
    let mut out = if batched { vec![n, c] } else { vec![c] };
    out.extend([oh, ow]);
    y.reshape(&out)
}
