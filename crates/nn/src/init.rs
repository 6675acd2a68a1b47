//! `torch.nn.init`: fill a parameter in place from a distribution chosen for its shape.
//!
//! Every function takes the parameter (a [`Var`]) and, where it draws random values, the
//! generator to draw from (`rand::Rng`, as PyTorch's `generator=` argument); the parameter's
//! value is replaced in place, outside any recorded graph. The same seed gives the same
//! values in ferrograd (not PyTorch's values: only the distributions are PyTorch's).
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::init::{self, FanMode};
//! use ferrograd_tensor::Tensor;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let w = Var::parameter(Tensor::<f32>::zeros(&[16, 8]));
//! init::kaiming_uniform_(&w, 0.0, FanMode::FanIn, "relu", &mut rng)?;
//! let bound = (2.0f32).sqrt() * (3.0f32 / 8.0).sqrt(); // gain · √(3 / fan_in)
//! assert!(w.to_tensor().to_vec().iter().all(|x| x.abs() <= bound));
//! init::zeros_(&w);
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Which fan scales the variance in [`kaiming_uniform_`] / [`kaiming_normal_`] (PyTorch's
/// `mode="fan_in"` / `"fan_out"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanMode {
    /// Keeps the variance of the activations in the forward pass (the default).
    #[default]
    FanIn,
    /// Keeps the variance of the gradients in the backward pass.
    FanOut,
}

/// The recommended gain for a nonlinearity, by its `nn.functional` name (`torch.nn.init.calculate_gain`):
///
/// | nonlinearity | gain |
/// |---|---|
/// | `linear`, `conv1d/2d/3d`, `conv_transpose1d/2d/3d`, `sigmoid` | 1 |
/// | `tanh` | 5/3 |
/// | `relu` | √2 |
/// | `leaky_relu` | √(2 / (1 + negative_slope²)), `param` the slope (default 0.01) |
/// | `selu` | 3/4 |
///
/// `param` is read by `leaky_relu` only. An unknown name is an error in PyTorch's words
/// (`Unsupported nonlinearity gelu`), and so is a NaN slope.
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Result<f64> {
    let op = "calculate_gain";
    match nonlinearity {
        "linear" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d"
        | "sigmoid" => Ok(1.0),
        "tanh" => Ok(5.0 / 3.0),
        "relu" => Ok(2.0f64.sqrt()),
        "leaky_relu" => {
            let negative_slope = param.unwrap_or(0.01);
            if negative_slope.is_nan() {
                return Err(Error::invalid(
                    op,
                    format!("negative_slope {negative_slope} not a valid number"),
                ));
            }
            Ok((2.0 / (1.0 + negative_slope.powi(2))).sqrt())
        }
        "selu" => Ok(3.0 / 4.0),
        _ => Err(Error::invalid(op, format!("Unsupported nonlinearity {nonlinearity}"))),
    }
}

/// `(fan_in, fan_out)` of a weight of this shape, as PyTorch's `_calculate_fan_in_and_fan_out`:
/// `shape[1]` and `shape[0]` input and output feature maps, each times the receptive field
/// (the product of the dimensions after the first two). Fewer than 2 dimensions is an error.
pub fn calculate_fan_in_and_fan_out(shape: &[usize]) -> Result<(usize, usize)> {
    let [fan_out_maps, fan_in_maps, receptive @ ..] = shape else {
        return Err(Error::invalid(
            "calculate_fan_in_and_fan_out",
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions",
        ));
    };
    let receptive_field_size: usize = receptive.iter().product();
    Ok((fan_in_maps * receptive_field_size, fan_out_maps * receptive_field_size))
}

/// Fills with values drawn uniformly from `[a, b)` (`torch.nn.init.uniform_`).
///
/// `a > b` is an error in PyTorch's words; so are non-finite bounds, and a range wider than
/// the element type holds. `a == b` fills with `a`.
pub fn uniform_<T: Float, R: Rng + ?Sized>(tensor: &Var<T>, a: f64, b: f64, rng: &mut R) -> Result<()> {
    fill_uniform("uniform_", tensor, a, b, rng)
}

/// Fills with values drawn from `N(mean, std²)` (`torch.nn.init.normal_`); a negative or NaN
/// `std` is an error in PyTorch's words.
pub fn normal_<T: Float, R: Rng + ?Sized>(tensor: &Var<T>, mean: f64, std: f64, rng: &mut R) -> Result<()> {
    fill_normal("normal_", tensor, mean, std, rng)
}

/// Fills with values drawn from `N(mean, std²)` truncated to `[a, b]`, absolute bounds
/// (`torch.nn.init.trunc_normal_`; PyTorch's defaults are mean 0, std 1, a -2, b 2).
///
/// The sampling is PyTorch's: when the interval holds more than 30% of the normal's mass,
/// normal draws outside it are redrawn; otherwise uniform proposals in `[a, b]` are accepted
/// with probability `pdf(x) / pdf(mode)`. Errors: `std` not positive (where PyTorch divides by
/// zero), `a > b` (PyTorch's `uniform_` message), non-finite bounds, and an interval so far in
/// a tail that ten million proposals bring no value (where PyTorch keeps drawing). PyTorch's
/// warning for a mean more than 2 std outside `[a, b]` is not raised.
pub fn trunc_normal_<T: Float, R: Rng + ?Sized>(
    tensor: &Var<T>,
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    rng: &mut R,
) -> Result<()> {
    let op = "trunc_normal_";
    if std.is_nan() || std <= 0.0 || !std.is_finite() || !mean.is_finite() {
        return Err(Error::invalid(
            op,
            format!("trunc_normal_ expects a finite mean and a finite std > 0, but found mean {mean} and std {std}"),
        ));
    }
    check_range(op, a, b, T::max_value().f64())?;
    let p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std);
    let (lo, hi) = (T::of(a), T::of(b));
    if p > 0.3 {
        fill_with(tensor, || loop {
            let x = T::of(mean + std * sample_standard_normal(rng));
            if x >= lo && x <= hi {
                break x;
            }
        });
    } else {
        let mode = a.max(mean.min(b));
        let log_peak = -0.5 * ((mode - mean) / std).powi(2);
        let numel = tensor.numel();
        let mut values = Vec::with_capacity(numel);
        for _ in 0..numel {
            let mut proposals = 0u64;
            values.push(loop {
                let x = T::of(a + (b - a) * rng.random::<f64>());
                let log_pdf = -0.5 * ((x.f64() - mean) / std).powi(2) - log_peak;
                if rng.random::<f64>().ln() <= log_pdf {
                    break x;
                }
                proposals += 1;
                if proposals == MAX_PROPOSALS {
                    // PyTorch would go on drawing; an interval this far out would take ages
                    return Err(Error::invalid(
                        op,
                        format!(
                            "no value accepted in {MAX_PROPOSALS} draws: [{a}, {b}] holds too little of N({mean}, {std}²)"
                        ),
                    ));
                }
            });
        }
        let shape = tensor.shape();
        *tensor.value_mut() = Tensor::from_vec(values, &shape)?;
    }
    Ok(())
}

/// How many uniform proposals [`trunc_normal_`] draws for one value before giving up.
const MAX_PROPOSALS: u64 = 10_000_000;

/// Fills with `val` (`torch.nn.init.constant_`).
pub fn constant_<T: Float>(tensor: &Var<T>, val: f64) {
    let val = T::of(val);
    fill_with(tensor, || val);
}

/// Fills with zeros (`torch.nn.init.zeros_`).
pub fn zeros_<T: Float>(tensor: &Var<T>) {
    constant_(tensor, 0.0);
}

/// Fills with ones (`torch.nn.init.ones_`).
pub fn ones_<T: Float>(tensor: &Var<T>) {
    constant_(tensor, 1.0);
}

/// Xavier (Glorot) uniform: `U(-bound, bound)` with `bound = gain·√(6 / (fan_in + fan_out))`
/// (`torch.nn.init.xavier_uniform_`, computed in PyTorch's order: `√3 · gain·√(2 / (fan_in + fan_out))`).
pub fn xavier_uniform_<T: Float, R: Rng + ?Sized>(tensor: &Var<T>, gain: f64, rng: &mut R) -> Result<()> {
    let std = xavier_std("xavier_uniform_", tensor, gain)?;
    let bound = 3.0f64.sqrt() * std;
    fill_uniform("xavier_uniform_", tensor, -bound, bound, rng)
}

/// Xavier (Glorot) normal: `N(0, std²)` with `std = gain·√(2 / (fan_in + fan_out))`
/// (`torch.nn.init.xavier_normal_`).
pub fn xavier_normal_<T: Float, R: Rng + ?Sized>(tensor: &Var<T>, gain: f64, rng: &mut R) -> Result<()> {
    let std = xavier_std("xavier_normal_", tensor, gain)?;
    fill_normal("xavier_normal_", tensor, 0.0, std, rng)
}

/// Kaiming (He) uniform: `U(-bound, bound)` with `bound = gain·√(3 / fan)`, the gain of
/// `nonlinearity` with negative slope `a` ([`calculate_gain`]) and the fan of `mode`
/// (`torch.nn.init.kaiming_uniform_`; PyTorch's defaults are `a = 0`, `FanIn`, `"leaky_relu"`).
///
/// A tensor without elements is left as it is (PyTorch warns); otherwise fewer than 2
/// dimensions or an unknown nonlinearity is an error.
pub fn kaiming_uniform_<T: Float, R: Rng + ?Sized>(
    tensor: &Var<T>,
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    rng: &mut R,
) -> Result<()> {
    let Some(std) = kaiming_std(tensor, a, mode, nonlinearity)? else {
        return Ok(());
    };
    let bound = 3.0f64.sqrt() * std;
    fill_uniform("kaiming_uniform_", tensor, -bound, bound, rng)
}

/// Kaiming (He) normal: `N(0, std²)` with `std = gain / √fan`, as [`kaiming_uniform_`]
/// (`torch.nn.init.kaiming_normal_`).
pub fn kaiming_normal_<T: Float, R: Rng + ?Sized>(
    tensor: &Var<T>,
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    rng: &mut R,
) -> Result<()> {
    let Some(std) = kaiming_std(tensor, a, mode, nonlinearity)? else {
        return Ok(());
    };
    fill_normal("kaiming_normal_", tensor, 0.0, std, rng)
}

/// `gain / √fan`, or `None` for a tensor without elements (left as it is).
fn kaiming_std<T: Float>(tensor: &Var<T>, a: f64, mode: FanMode, nonlinearity: &str) -> Result<Option<f64>> {
    let shape = tensor.shape();
    if shape.contains(&0) {
        return Ok(None);
    }
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(&shape)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    let gain = calculate_gain(nonlinearity, Some(a))?;
    Ok(Some(gain / (fan as f64).sqrt()))
}

/// `gain·√(2 / (fan_in + fan_out))`; both fans 0 is an error (PyTorch divides by zero).
fn xavier_std<T: Float>(op: &'static str, tensor: &Var<T>, gain: f64) -> Result<f64> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(&tensor.shape())?;
    if fan_in + fan_out == 0 {
        return Err(Error::invalid(
            op,
            format!(
                "fan_in + fan_out is 0 for shape {:?}: float division by zero",
                tensor.shape()
            ),
        ));
    }
    Ok(gain * (2.0 / (fan_in + fan_out) as f64).sqrt())
}

/// PyTorch's checks of `uniform_(from, to)`.
fn check_range(op: &'static str, a: f64, b: f64, max: f64) -> Result<()> {
    if !a.is_finite() || !b.is_finite() {
        return Err(Error::invalid(
            op,
            format!("expects finite bounds, but found from={a} and to={b}"),
        ));
    }
    if a > b {
        return Err(Error::invalid(
            op,
            format!("uniform_ expects to return a [from, to) range, but found from={a} > to={b}"),
        ));
    }
    if b - a > max {
        return Err(Error::invalid(
            op,
            format!(
                "uniform_ expects to-from <= std::numeric_limits<Float>::max(), but found to={b:e} and from={a:e} which result in to-from to exceed the limit"
            ),
        ));
    }
    Ok(())
}

fn fill_uniform<T: Float, R: Rng + ?Sized>(
    op: &'static str,
    tensor: &Var<T>,
    a: f64,
    b: f64,
    rng: &mut R,
) -> Result<()> {
    check_range(op, a, b, T::max_value().f64())?;
    let width = b - a;
    fill_with(tensor, || T::of(a + width * rng.random::<f64>()));
    Ok(())
}

fn fill_normal<T: Float, R: Rng + ?Sized>(
    op: &'static str,
    tensor: &Var<T>,
    mean: f64,
    std: f64,
    rng: &mut R,
) -> Result<()> {
    if std.is_nan() || std < 0.0 {
        return Err(Error::invalid(
            op,
            format!("normal expects std >= 0.0, but found std {std}"),
        ));
    }
    fill_with(tensor, || T::of(mean + std * sample_standard_normal(rng)));
    Ok(())
}

/// Replaces every element, in row-major order, by the next value of `draw`.
fn fill_with<T: Float>(tensor: &Var<T>, mut draw: impl FnMut() -> T) {
    tensor.value_mut().array_mut().iter_mut().for_each(|v| *v = draw());
}

fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// The standard normal's distribution function, `(1 + erf(x / √2)) / 2`, from `erfc` for
/// accuracy in both tails.
fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function, to about 1e-7 relative (Numerical Recipes' `erfcc`,
/// a Chebyshev fit): ample for choosing between the two sampling methods.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}
