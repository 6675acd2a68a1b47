//! Helpers shared by the gradient-check tests.
#![allow(dead_code)] // each test file uses its own subset

use ferrograd_autograd::{enable_grad, grad, gradcheck, GradcheckOptions, Var};
use ferrograd_tensor::{Result, Tensor};

/// A function of `Var`s, as `gradcheck` takes.
pub trait VarFn: Fn(&[Var<f64>]) -> Result<Var<f64>> {}
impl<F: Fn(&[Var<f64>]) -> Result<Var<f64>>> VarFn for F {}

/// A tensor of `f64` from values and a shape.
pub fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Standard normal values, seeded: continuous, so no two are tied.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, seed)
}

/// Values in `[0.5, 2)`: safe for `log`, `sqrt`, division, negative powers.
pub fn pos(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::<f64>::rand(shape, seed).map(|v| 0.5 + 1.5 * v)
}

/// Values with `|v| >= 0.2`: away from the kinks of relu, abs and friends at 0.
pub fn away_from_zero(shape: &[usize], seed: u64) -> Tensor<f64> {
    randn(shape, seed).map(|v| if v < 0.0 { v - 0.2 } else { v + 0.2 })
}

/// Compares the gradient of `f` at `inputs` with central finite differences and fails the
/// test, printing the report, if any Jacobian entry is out of tolerance.
#[track_caller]
pub fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let report = gradcheck(f, inputs, GradcheckOptions::default()).unwrap();
    assert!(report.entries > 0, "nothing compared: {report}");
    assert!(report.passed, "{report}");
}

/// The gradient of the one-element `f(inputs)` with respect to every input, flattened and
/// joined into one vector: a function whose own gradient is the Hessian of `f`.
///
/// When the inputs require a gradient it is recorded (`create_graph`), so that the Hessian
/// can be taken by backward; otherwise (the finite-difference evaluations of `gradcheck`,
/// which run under `no_grad`) it is computed at those values from fresh parameters.
pub fn gradient_of(f: &dyn VarFn, inputs: &[Var<f64>]) -> Result<Var<f64>> {
    let recorded = inputs.iter().all(Var::requires_grad);
    let _mode = enable_grad();
    let vars: Vec<Var<f64>> = if recorded {
        inputs.to_vec()
    } else {
        inputs.iter().map(|v| Var::parameter(v.to_tensor())).collect()
    };
    let y = f(&vars)?;
    assert_eq!(y.numel(), 1, "gradient_of needs a one-element function");
    let grads = grad(std::slice::from_ref(&y), &vars, None, recorded)?;
    let flat = grads
        .into_iter()
        .zip(&vars)
        .map(|(g, v)| match g {
            Some(g) => g.flatten(0, -1),
            None => Ok(Var::new(Tensor::zeros(&[v.numel()]))),
        })
        .collect::<Result<Vec<_>>>()?;
    Var::concat(&flat, 0)
}

/// `gradgradcheck`: checks the second derivatives of the one-element `f` by finite
/// differences of its first derivatives.
#[track_caller]
pub fn check_second(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    check(|v| gradient_of(&f, v), inputs);
}
