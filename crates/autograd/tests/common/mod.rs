//! Helpers shared by the gradient-check tests.
#![allow(dead_code)] // each test file uses its own subset

use ferrograd_autograd::{gradcheck, gradgradcheck, GradcheckOptions, Var};
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

/// `gradgradcheck`: checks the second derivatives of the one-element `f` by finite
/// differences of its first derivatives.
#[track_caller]
pub fn check_second(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let report = gradgradcheck(f, inputs, GradcheckOptions::default()).unwrap();
    assert!(report.entries > 0, "nothing compared: {report}");
    assert!(report.passed, "{report}");
}
