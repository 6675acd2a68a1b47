//! `conv1d` / `conv2d`, as `torch.nn.functional`: every window of the input laid out as a
//! column and the flattened weight multiplied by them. With one group that is one op,
//! [`Var::convolution`], which takes the batch in chunks of samples; with several, the columns
//! ([`Var::im2col`]) times each group's rows of the weight, one matrix product per group. The
//! gradients are those of the products and of `im2col` (whose adjoint is `col2im`), so a
//! convolution can be differentiated twice.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Shape, Window2d};

/// Sizes given per spatial dimension, or one size for all of them (`3` or `[3, 2]`), as
/// PyTorch's `int or tuple` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dims(pub Vec<usize>);

impl From<usize> for Dims {
    fn from(v: usize) -> Self {
        Dims(vec![v])
    }
}

impl<const N: usize> From<[usize; N]> for Dims {
    fn from(v: [usize; N]) -> Self {
        Dims(v.to_vec())
    }
}

impl From<(usize, usize)> for Dims {
    fn from((a, b): (usize, usize)) -> Self {
        Dims(vec![a, b])
    }
}

impl From<&[usize]> for Dims {
    fn from(v: &[usize]) -> Self {
        Dims(v.to_vec())
    }
}

impl Dims {
    /// The sizes for `n` spatial dimensions: one value repeated, or exactly `n` values.
    pub(crate) fn expand(&self, op: &'static str, what: &str, n: usize) -> Result<Vec<usize>> {
        match self.0.len() {
            1 => Ok(vec![self.0[0]; n]),
            len if len == n => Ok(self.0.clone()),
            _ => Err(Error::invalid(
                op,
                format!("{what} must be an int or a tuple of {n} ints, got {:?}", self.0),
            )),
        }
    }
}

/// A convolution's padding, as PyTorch's `padding` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Zeros added on both sides of each spatial dimension (`padding=1`, `padding=(1, 2)`).
    Zeros(Dims),
    /// No padding (`padding="valid"`).
    Valid,
    /// The output as long as the input (`padding="same"`, stride 1 only): `dilation·(k-1)`
    /// zeros per dimension, the extra one of an odd total on the right / bottom.
    Same,
}

impl<D: Into<Dims>> From<D> for Padding {
    fn from(d: D) -> Self {
        Padding::Zeros(d.into())
    }
}

impl Padding {
    /// `"same"`, `"valid"`, as PyTorch spells them; anything else is an error.
    pub fn parse(s: &str) -> Result<Padding> {
        match s {
            "same" => Ok(Padding::Same),
            "valid" => Ok(Padding::Valid),
            other => Err(Error::invalid(
                "conv",
                format!("Invalid padding string '{other}', should be one of {{'same', 'valid'}}"),
            )),
        }
    }
}

/// The options of `conv1d` / `conv2d` beyond input, weight and bias, with PyTorch's defaults
/// (stride 1, padding 0, dilation 1, groups 1).
///
/// ```
/// use ferrograd_nn::functional::{ConvOptions, Padding};
/// let opts = ConvOptions::default().stride(2).padding(1).dilation([1, 2]);
/// let same = ConvOptions::default().padding(Padding::Same).groups(3);
/// # let _ = (opts, same);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Step between windows.
    pub stride: Dims,
    /// Zero padding.
    pub padding: Padding,
    /// Step between the elements of a window.
    pub dilation: Dims,
    /// Channel groups: input and output channels are split into `groups` blocks, block `g` of
    /// the output seeing only block `g` of the input (`groups = in_channels`: depthwise).
    pub groups: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            stride: Dims(vec![1]),
            padding: Padding::Zeros(Dims(vec![0])),
            dilation: Dims(vec![1]),
            groups: 1,
        }
    }
}

impl ConvOptions {
    /// Sets the stride.
    pub fn stride(mut self, stride: impl Into<Dims>) -> Self {
        self.stride = stride.into();
        self
    }

    /// Sets the padding (`1`, `[1, 2]`, [`Padding::Same`], [`Padding::Valid`]).
    pub fn padding(mut self, padding: impl Into<Padding>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Sets the dilation.
    pub fn dilation(mut self, dilation: impl Into<Dims>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// Checks what can be checked without an input (PyTorch's constructor errors) and returns
    /// the stride, dilation and padding before / after each dimension for `kernel`.
    pub(crate) fn resolve(&self, op: &'static str, kernel: &[usize]) -> Result<ResolvedConv> {
        let n = kernel.len();
        let stride = self.stride.expand(op, "stride", n)?;
        let dilation = self.dilation.expand(op, "dilation", n)?;
        if self.groups == 0 {
            return Err(Error::invalid(op, "groups must be a positive integer"));
        }
        if kernel.contains(&0) || stride.contains(&0) || dilation.contains(&0) {
            return Err(Error::invalid(
                op,
                format!("kernel_size {kernel:?}, stride {stride:?} and dilation {dilation:?} must be positive"),
            ));
        }
        let (before, after) = match &self.padding {
            Padding::Zeros(p) => {
                let p = p.expand(op, "padding", n)?;
                (p.clone(), p)
            }
            Padding::Valid => (vec![0; n], vec![0; n]),
            Padding::Same => {
                if stride.iter().any(|&s| s != 1) {
                    return Err(Error::invalid(
                        op,
                        "padding='same' is not supported for strided convolutions",
                    ));
                }
                let total: Vec<usize> = (0..n).map(|i| dilation[i] * (kernel[i] - 1)).collect();
                let before: Vec<usize> = total.iter().map(|t| t / 2).collect();
                let after = total.iter().zip(&before).map(|(t, b)| t - b).collect();
                (before, after)
            }
        };
        Ok(ResolvedConv {
            stride,
            dilation,
            before,
            after,
        })
    }
}

/// Stride, dilation and padding of each spatial dimension, checked.
pub(crate) struct ResolvedConv {
    pub(crate) stride: Vec<usize>,
    pub(crate) dilation: Vec<usize>,
    pub(crate) before: Vec<usize>,
    pub(crate) after: Vec<usize>,
}

/// A 1-D convolution, as `torch.nn.functional.conv1d`: `input` `[N, C_in, L]` (or `[C_in, L]`),
/// `weight` `[C_out, C_in/groups, K]`, `bias` `[C_out]`; output `[N, C_out, L_out]`.
///
/// `out[n, o, i] = bias[o] + Σ_{c, k} weight[o, c, k] · x[n, g·C_in/groups + c, i·stride + k·dilation − pad]`
/// over the channels `c` of `o`'s group `g`.
pub fn conv1d<T: Float>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: &ConvOptions,
) -> Result<Var<T>> {
    conv(input, weight, bias, options, 1, "conv1d")
}

/// A 2-D convolution, as `torch.nn.functional.conv2d`: `input` `[N, C_in, H, W]` (or
/// `[C_in, H, W]`), `weight` `[C_out, C_in/groups, KH, KW]`, `bias` `[C_out]`; output
/// `[N, C_out, OH, OW]` with `OH = ⌊(H + pad_top + pad_bottom − dilation·(KH−1) − 1)/stride⌋ + 1`.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::functional::{conv2d, ConvOptions};
/// use ferrograd_tensor::Tensor;
///
/// let x = Var::new(Tensor::<f32>::ones(&[1, 1, 3, 3]));
/// let w = Var::parameter(Tensor::ones(&[1, 1, 2, 2]));
/// let y = conv2d(&x, &w, None, &ConvOptions::default().padding(1))?;
/// assert_eq!(y.shape(), [1, 1, 4, 4]);
/// assert_eq!(y.to_tensor().to_vec()[..4], [1.0, 2.0, 2.0, 1.0]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn conv2d<T: Float>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: &ConvOptions,
) -> Result<Var<T>> {
    conv(input, weight, bias, options, 2, "conv2d")
}

/// `conv1d` (`dims` 1, a height of 1) or `conv2d` (`dims` 2).
fn conv<T: Float>(
    input: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    options: &ConvOptions,
    dims: usize,
    op: &'static str,
) -> Result<Var<T>> {
    let in_shape = input.shape();
    let batched = match in_shape.len() {
        n if n == dims + 2 => true,
        n if n == dims + 1 => false,
        _ => {
            return Err(Error::invalid(
                op,
                format!(
                    "Expected {}D (unbatched) or {}D (batched) input to {op}, but got input of size: {}",
                    dims + 1,
                    dims + 2,
                    Shape(in_shape)
                ),
            ))
        }
    };
    let mut shape = in_shape.clone();
    if !batched {
        shape.insert(0, 1);
    }
    let w_shape = weight.shape();
    if w_shape.len() != dims + 2 {
        return Err(Error::invalid(
            op,
            format!(
                "Expected {}-dimensional weight for {}-dimensional input {}, but got weight of size {} instead",
                dims + 2,
                dims + 2,
                Shape(shape),
                Shape(w_shape)
            ),
        ));
    }
    let groups = options.groups;
    let (out_channels, group_channels) = (w_shape[0], w_shape[1]);
    if groups == 0 || out_channels % groups != 0 {
        return Err(Error::invalid(
            op,
            format!(
                "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {} instead",
                Shape(w_shape)
            ),
        ));
    }
    if shape[1] != group_channels * groups {
        return Err(Error::invalid(
            op,
            format!(
                "Given groups={groups}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
                Shape(w_shape.clone()),
                Shape(shape.clone()),
                group_channels * groups,
                shape[1]
            ),
        ));
    }
    if let Some(b) = bias.filter(|b| b.shape() != [out_channels]) {
        return Err(Error::invalid(
            op,
            format!(
                "Given weight of size {}, expected bias to be 1-dimensional with {out_channels} elements, but got bias of size {} instead",
                Shape(w_shape),
                Shape(b.shape())
            ),
        ));
    }
    let kernel = &w_shape[2..];
    let r = options.resolve(op, kernel)?;
    let spatial = &shape[2..];
    let padded: Vec<usize> = (0..dims).map(|i| spatial[i] + r.before[i] + r.after[i]).collect();
    let effective: Vec<usize> = (0..dims).map(|i| r.dilation[i] * (kernel[i] - 1) + 1).collect();
    if padded.iter().zip(&effective).any(|(p, k)| k > p) {
        let join = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(" x ");
        return Err(Error::invalid(
            op,
            format!(
                "Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size can't be greater than actual input size",
                join(&padded),
                join(&effective)
            ),
        ));
    }
    let out_size: Vec<usize> = (0..dims)
        .map(|i| (padded[i] - effective[i]) / r.stride[i] + 1)
        .collect();
    // One-dimensional: a plane of height 1.
    let lift = |v: &[usize], fill: usize| if dims == 1 { [fill, v[0]] } else { [v[0], v[1]] };
    let window = Window2d {
        input: lift(spatial, 1),
        output: lift(&out_size, 1),
        kernel: lift(kernel, 1),
        stride: lift(&r.stride, 1),
        dilation: lift(&r.dilation, 1),
        padding: lift(&r.before, 0),
    };
    let n = shape[0];
    let [h, w] = window.input;
    let x = input.reshape(&[n, shape[1], h, w])?;
    let row_len = group_channels * window.kernel_numel();
    let w2 = weight.reshape(&[out_channels, row_len])?;
    let y = if groups == 1 {
        x.convolution(&w2, bias, &window)?
    } else {
        let cols = x.im2col(&window)?; // [C_in·K, N·L]
                                       // The rows of group g's input channels are one block of the columns.
        let og = out_channels / groups;
        let parts = (0..groups)
            .map(|g| w2.narrow(0, g * og, og)?.matmul(&cols.narrow(0, g * row_len, row_len)?))
            .collect::<Result<Vec<_>>>()?;
        // [C_out, N·L] -> [N, C_out, L] with the bias added: one copy of runs of L values.
        Var::concat(&parts, 0)?.channels_to_batch(n, bias)?
    };
    let mut out_shape = vec![n, out_channels];
    out_shape.extend(&out_size);
    if batched {
        y.reshape(&out_shape)
    } else {
        y.reshape(&out_shape[1..])
    }
}
