//! The argument checks of `cross_entropy` and `nll_loss`, in PyTorch's order and with its
//! messages (`aten/src/ATen/native/LossNLL.cpp`, `LossNLL2d.cpp`), so that every call PyTorch
//! refuses is refused here with the same words.

use ferrograd_tensor::{Error, Float, Result, Shape, Tensor};

/// Where the classes and positions of a loss input lie: viewed as `[n, c, s]`, with `s` the
/// product of the spatial sizes (1 for `(C)` and `(N, C)` input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub n: usize,
    pub c: usize,
    pub s: usize,
    /// The class dimension of the input: 0 for `(C)` input, else 1.
    pub class_dim: usize,
}

impl Layout {
    pub fn of(shape: &[usize]) -> Self {
        match shape.len() {
            0 => Layout {
                n: 1,
                c: 1,
                s: 1,
                class_dim: 0,
            },
            1 => Layout {
                n: 1,
                c: shape[0],
                s: 1,
                class_dim: 0,
            },
            _ => Layout {
                n: shape[0],
                c: shape[1],
                s: shape[2..].iter().product(),
                class_dim: 1,
            },
        }
    }

    /// The number of positions (everything but the class dimension).
    pub fn positions(&self) -> usize {
        self.n * self.s
    }
}

pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> Error {
    Error::invalid(op, message)
}

/// A float printed as C++'s `ostream <<` does (`%g`, 6 significant digits), as in PyTorch's messages.
pub(crate) fn cpp_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if (-5..6).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        return s;
    }
    let s = format!("{v:.5e}");
    let (mant, e) = s.split_once('e').expect("exponent");
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
    format!("{mant}e{sign}{digits:0>2}")
}

/// `ε ≤ 1`: label smoothing above 1 (or infinite) is an error; NaN and negative count as 0.
pub(crate) fn check_label_smoothing(op: &'static str, eps: f64) -> Result<()> {
    if eps > 1.0 {
        return Err(invalid(
            op,
            format!("label_smoothing must be between 0.0 and 1.0. Got: {}", cpp_float(eps)),
        ));
    }
    Ok(())
}

/// The target's element type as PyTorch names it.
pub(crate) fn float_name<T: Float>() -> &'static str {
    match T::DTYPE {
        ferrograd_tensor::DType::F32 => "Float",
        ferrograd_tensor::DType::F64 => "Double",
    }
}

/// `nll_loss_nd`'s checks on the shapes of an index-target loss: batch size, K-dim target
/// shape, target rank and type, weight size. `float_target` names the element type of a
/// target that is not an index tensor (it is refused where PyTorch checks the type).
pub(crate) fn check_index_target<T: Float>(
    op: &'static str,
    input: &[usize],
    target: &[usize],
    float_target: Option<&str>,
    weight: Option<&Tensor<T>>,
) -> Result<Layout> {
    let dtype_error = |t: &str| invalid(op, format!("expected target dtype to be Long or Byte, but got {t}"));
    if input.is_empty() {
        return Err(invalid(op, "Expected 1 or more dimensions (got 0)"));
    }
    let target_batch = target.first().copied().unwrap_or(0);
    if input.len() != 1 && input[0] != target_batch {
        return Err(invalid(
            op,
            format!(
                "Expected input batch_size ({}) to match target batch_size ({target_batch}).",
                input[0]
            ),
        ));
    }
    let layout = Layout::of(input);
    if input.len() <= 2 {
        if target.len() > 1 {
            return Err(invalid(
                op,
                "0D or 1D target tensor expected, multi-target not supported",
            ));
        }
        if let Some(t) = float_target {
            return Err(dtype_error(t));
        }
        if input.len() == 1 && target.len() == 1 && target[0] != 1 {
            return Err(invalid(
                op,
                format!(
                    "For 1D input, 1D target must have size 1, but got target size: {}",
                    target[0]
                ),
            ));
        }
        if let Some(w) = weight {
            if w.ndim() != 1 || w.numel() != layout.c {
                return Err(invalid(op, format!("weight tensor should be defined either for all {} classes or no classes but got weight tensor of shape: {}", layout.c, Shape(w.shape().to_vec()))));
            }
        }
        return Ok(layout);
    }
    // 4-D input goes to nll_loss2d as it is; 3-D and ≥5-D are first checked against the
    // expected target size, then viewed as (N, C, 1, -1) and (N, 1, -1).
    let (input4, target3) = if input.len() == 4 {
        if target.len() != 3 {
            return Err(invalid(
                op,
                format!(
                    "only batches of spatial targets supported (3D tensors) but got targets of dimension: {}",
                    target.len()
                ),
            ));
        }
        (input.to_vec(), target.to_vec())
    } else {
        if target.get(1..) != Some(&input[2..]) {
            let mut expected = vec![input[0]];
            expected.extend_from_slice(&input[2..]);
            return Err(invalid(
                op,
                format!(
                    "Expected target size {}, got {}",
                    Shape(expected),
                    Shape(target.to_vec())
                ),
            ));
        }
        let numel = |s: &[usize]| s.iter().product::<usize>();
        let input4 = if numel(input) > 0 {
            vec![input[0], input[1], 1, layout.s]
        } else {
            vec![input[0], input[1], 0, 0]
        };
        let target3 = if numel(target) > 0 {
            vec![target[0], 1, layout.s]
        } else {
            vec![target[0], 0, 0]
        };
        (input4, target3)
    };
    if let Some(t) = float_target {
        return Err(dtype_error(t));
    }
    if weight.is_some_and(|w| w.numel() != layout.c) {
        return Err(invalid(
            op,
            "weight tensor should be defined either for all or no classes",
        ));
    }
    if input4[0] != target3[0] || input4[2] != target3[1] || input4[3] != target3[2] {
        return Err(invalid(
            op,
            format!(
                "size mismatch (got input: {} , target: {}",
                Shape(input4),
                Shape(target3)
            ),
        ));
    }
    Ok(layout)
}

/// The checks of probability-target cross-entropy: no non-negative `ignore_index`, a weight
/// for every class, an input with a class dimension.
pub(crate) fn check_probability_target<T: Float>(
    op: &'static str,
    input: &[usize],
    ignore_index: i64,
    weight: Option<&Tensor<T>>,
) -> Result<Layout> {
    if ignore_index >= 0 {
        return Err(invalid(op, "ignore_index is not supported for floating point target"));
    }
    if input.is_empty() {
        return Err(invalid(op, "Dimension specified as 1 but tensor has no dimensions"));
    }
    let layout = Layout::of(input);
    if let Some(w) = weight {
        if w.ndim() != 1 || w.numel() != layout.c {
            return Err(invalid(op, format!("weight tensor should be defined either for all {} classes or no classes but got weight tensor of shape: {}", layout.c, Shape(w.shape().to_vec()))));
        }
    }
    Ok(layout)
}
