//! Finite-difference gradient checking, as `torch.autograd.gradcheck`.

use ferrograd_tensor::{Result, Tensor};

use crate::{enable_grad, grad, no_grad, Var};

/// Tolerances and step of [`gradcheck`]; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    /// The central-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The outcome of [`gradcheck`]: the worst Jacobian entry, and whether all were within tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Whether every entry satisfied `|analytic - numeric| <= atol + rtol·|numeric|`.
    pub passed: bool,
    /// The largest `|analytic - numeric|` seen.
    pub max_abs_error: f64,
    /// Where it was: (input index, flat element of that input, flat element of the output).
    pub worst_at: Option<(usize, usize, usize)>,
    /// The analytic and numeric derivative there.
    pub worst_values: Option<(f64, f64)>,
    /// How many Jacobian entries were compared.
    pub entries: usize,
}

impl std::fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        write!(
            f,
            "gradcheck {verdict}: {} Jacobian entries, max |analytic - numeric| = {:.3e}",
            self.entries, self.max_abs_error
        )?;
        if let (Some((i, e, o)), Some((a, n))) = (self.worst_at, self.worst_values) {
            write!(
                f,
                " at input {i} element {e}, output element {o} (analytic {a:.10e}, numeric {n:.10e})"
            )?;
        }
        Ok(())
    }
}

/// Compares the gradient ferrograd computes for `f` at `inputs` with central finite
/// differences, entry by entry of the full Jacobian, in `f64`.
///
/// ```
/// use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
/// let report = gradcheck(|v| Ok(v[0].tanh().powf(3.0)), &[x], GradcheckOptions::default())?;
/// assert!(report.passed, "{report}");
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn gradcheck(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    options: GradcheckOptions,
) -> Result<GradcheckReport> {
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::parameter).collect();
    let out = f(&vars)?;
    let out_shape = out.shape();
    let n_out = out.numel();
    let mut report = GradcheckReport {
        passed: true,
        max_abs_error: 0.0,
        worst_at: None,
        worst_values: None,
        entries: 0,
    };

    // analytic[i][o][e]: d out[o] / d input_i[e], one backward per output element.
    let mut analytic = vec![vec![vec![0.0; 0]; n_out]; inputs.len()];
    for o in 0..n_out {
        let mut seed = vec![0.0; n_out];
        seed[o] = 1.0;
        let grads = grad(
            std::slice::from_ref(&out),
            &vars,
            Some(vec![Tensor::from_vec(seed, &out_shape)?]),
            false,
        )?;
        for (i, g) in grads.into_iter().enumerate() {
            analytic[i][o] = match g {
                Some(g) => g.to_tensor().to_vec(),
                None => vec![0.0; inputs[i].numel()],
            };
        }
    }

    let _guard = no_grad();
    for (i, input) in inputs.iter().enumerate() {
        for e in 0..input.numel() {
            let eval = |delta: f64| -> Result<Vec<f64>> {
                let mut shifted: Vec<Var<f64>> = inputs.iter().cloned().map(Var::new).collect();
                let mut t = input.clone();
                let mut flat = t.to_vec();
                flat[e] += delta;
                t = Tensor::from_vec(flat, input.shape())?;
                shifted[i] = Var::new(t);
                Ok(f(&shifted)?.to_tensor().to_vec())
            };
            let (plus, minus) = (eval(options.eps)?, eval(-options.eps)?);
            for o in 0..n_out {
                let numeric = (plus[o] - minus[o]) / (2.0 * options.eps);
                let a = analytic[i][o][e];
                let err = (a - numeric).abs();
                report.entries += 1;
                let ok = err <= options.atol + options.rtol * numeric.abs() || (a.is_nan() && numeric.is_nan());
                if !ok || err.is_nan() {
                    report.passed = false;
                }
                if err > report.max_abs_error || (!ok && report.worst_at.is_none()) || err.is_nan() {
                    report.max_abs_error = if err.is_nan() {
                        f64::NAN
                    } else {
                        err.max(report.max_abs_error)
                    };
                    report.worst_at = Some((i, e, o));
                    report.worst_values = Some((a, numeric));
                }
            }
        }
    }
    Ok(report)
}

/// The gradient of the one-element `f(inputs)` with respect to each input (zeros for an input
/// `f` does not use), itself differentiable: recorded (`create_graph`) when every input
/// requires a gradient; otherwise, as in [`gradcheck`]'s finite-difference evaluations (which
/// run under `no_grad`), computed at the same values from fresh parameters. The first
/// derivatives that [`gradgradcheck`] differentiates again.
pub fn differentiable_gradients(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Var<f64>],
) -> Result<Vec<Var<f64>>> {
    let recorded = inputs.iter().all(Var::requires_grad);
    let _mode = enable_grad();
    let vars: Vec<Var<f64>> = match recorded {
        true => inputs.to_vec(),
        false => inputs.iter().map(|v| Var::parameter(v.to_tensor())).collect(),
    };
    let grads = grad(&[f(&vars)?], &vars, None, recorded)?;
    Ok(grads
        .into_iter()
        .zip(&vars)
        .map(|(g, v)| g.unwrap_or_else(|| Var::new(Tensor::zeros(&v.shape()))))
        .collect())
}

/// Checks the second derivatives of the one-element `f` at `inputs`, as
/// `torch.autograd.gradgradcheck`: [`gradcheck`] of its first derivatives
/// ([`differentiable_gradients`]), flattened and joined into one vector.
///
/// ```
/// use ferrograd_autograd::{gradgradcheck, GradcheckOptions};
/// use ferrograd_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
/// let report = gradgradcheck(|v| Ok(v[0].tanh().powf(3.0).sum()), &[x], GradcheckOptions::default())?;
/// assert!(report.passed, "{report}");
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub fn gradgradcheck(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    options: GradcheckOptions,
) -> Result<GradcheckReport> {
    let first = |v: &[Var<f64>]| {
        let flat = differentiable_gradients(&f, v)?
            .iter()
            .map(|g| g.flatten(0, -1))
            .collect::<Result<Vec<_>>>()?;
        Var::concat(&flat, 0)
    };
    gradcheck(first, inputs, options)
}
