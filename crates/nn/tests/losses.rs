//! `mse_loss` and `binary_cross_entropy_with_logits` against PyTorch: every `losses` case of
//! `tests/fixtures/nn_reference.json` (output, and the gradients of `output.sum()` with
//! respect to the input and the target), finite-difference gradient checks in f64, and the
//! errors for shapes that do not fit.

use crate::common;

use common::{assert_close, fixture, tensor};
use ferrograd_autograd::{differentiable_gradients, gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{binary_cross_entropy_with_logits, mse_loss};
use ferrograd_nn::{BCEWithLogitsLoss, MSELoss, Reduction};
use ferrograd_tensor::{Error, Float, Result, Tensor};
use serde_json::Value;

/// f64: 1e-12 relative, nothing absolute, so that PyTorch's tiny values (σ(-50) ≈ 1.9e-22 in
/// a gradient) are matched and not just rounded to zero. f32: 1e-6 relative (a few ulps:
/// PyTorch's vectorised exp / log1p round differently from Rust's), and below f32's smallest
/// normal number (1.2e-38) only the subnormal noise of `log1p(exp(-100))` is tolerated.
fn tolerance(dtype: &str) -> (f64, f64) {
    match dtype {
        "float64" => (1e-12, 0.0),
        _ => (1e-6, f32::MIN_POSITIVE as f64),
    }
}

fn run_case<T: Float>(case: &Value) -> f64 {
    let name = case["name"].as_str().unwrap();
    let reduction: Reduction = case["reduction"].as_str().unwrap().parse().unwrap();
    let x = Var::parameter(tensor::<T>(&case["input"]));
    let t = Var::parameter(tensor::<T>(&case["target"]));
    let weight = (!case["weight"].is_null()).then(|| tensor::<T>(&case["weight"]));
    let pos_weight = (!case["pos_weight"].is_null()).then(|| tensor::<T>(&case["pos_weight"]));
    let out = match case["loss"].as_str().unwrap() {
        "mse" => mse_loss(&x, &t, reduction).unwrap(),
        _ => binary_cross_entropy_with_logits(&x, &t, weight.as_ref(), pos_weight.as_ref(), reduction).unwrap(),
    };
    out.sum().backward().unwrap();
    let (rtol, atol) = tolerance(case["dtype"].as_str().unwrap());
    [
        assert_close(
            &format!("{name}: output"),
            &out.to_tensor(),
            &case["output"],
            rtol,
            atol,
        ),
        assert_close(
            &format!("{name}: input_grad"),
            &x.grad().unwrap(),
            &case["input_grad"],
            rtol,
            atol,
        ),
        assert_close(
            &format!("{name}: target_grad"),
            &t.grad().unwrap(),
            &case["target_grad"],
            rtol,
            atol,
        ),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

#[test]
fn every_loss_case_matches_pytorch() {
    let doc = fixture("nn_reference.json");
    let cases = doc["losses"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    let (mut worst64, mut worst32) = (0.0f64, 0.0f64);
    for case in cases {
        match case["dtype"].as_str().unwrap() {
            "float64" => worst64 = worst64.max(run_case::<f64>(case)),
            _ => worst32 = worst32.max(run_case::<f32>(case)),
        }
    }
    println!("losses: largest relative deviation {worst64:.2e} (f64), {worst32:.2e} (f32)");
}

fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let report = gradcheck(f, inputs, GradcheckOptions::default()).unwrap();
    assert!(report.entries > 0 && report.passed, "{report}");
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, seed)
}

/// Probabilities in (0.05, 0.95), soft labels.
fn probs(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::<f64>::rand(shape, seed).map(|v| 0.05 + 0.9 * v)
}

#[test]
fn mse_loss_gradients_match_finite_differences() {
    for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
        check(
            |v| mse_loss(&v[0], &v[1], reduction),
            &[randn(&[3, 4], 1), randn(&[3, 4], 2)],
        );
    }
    // broadcasting: the target's gradient is summed back to its shape
    check(
        |v| mse_loss(&v[0], &v[1], Reduction::Mean),
        &[randn(&[3, 4], 3), randn(&[4], 4)],
    );
}

#[test]
fn bce_with_logits_gradients_match_finite_differences() {
    let w = Tensor::from_vec(vec![0.5, 1.0, 2.0, 0.25], &[4]).unwrap();
    let pw = Tensor::from_vec(vec![3.0, 0.5, 1.0, 2.0], &[4]).unwrap();
    for (weight, pos_weight) in [(None, None), (Some(&w), None), (None, Some(&pw)), (Some(&w), Some(&pw))] {
        for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
            let f = |v: &[Var<f64>]| binary_cross_entropy_with_logits(&v[0], &v[1], weight, pos_weight, reduction);
            check(f, &[randn(&[3, 4], 5).map(|x| 3.0 * x), probs(&[3, 4], 6)]);
        }
    }
}

#[test]
fn bce_with_logits_gradient_can_be_differentiated_again() {
    // The gradient rule is written with Var ops: check d/d(x, t) of Σ ∂L/∂x and Σ ∂L/∂t.
    let pw = Tensor::from_vec(vec![3.0, 0.5, 1.0], &[3]).unwrap();
    let grad_sum = |v: &[Var<f64>]| -> Result<Var<f64>> {
        let g = differentiable_gradients(
            |v| binary_cross_entropy_with_logits(&v[0], &v[1], None, Some(&pw), Reduction::Mean),
            v,
        )?;
        g[0].sum().try_add(&g[1].mul_scalar(0.5).sum())
    };
    check(grad_sum, &[randn(&[2, 3], 7), probs(&[2, 3], 8)]);
}

#[test]
fn loss_modules_are_the_functions() {
    let x = Var::parameter(randn(&[2, 3], 9));
    let t = Var::new(probs(&[2, 3], 10));
    let w = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    let pw = Tensor::from_vec(vec![0.5, 1.5, 4.0], &[3]).unwrap();
    let module = BCEWithLogitsLoss::new()
        .weight(w.clone())
        .pos_weight(pw.clone())
        .reduction(Reduction::Sum)
        .forward(&x, &t)
        .unwrap();
    let function = binary_cross_entropy_with_logits(&x, &t, Some(&w), Some(&pw), Reduction::Sum).unwrap();
    assert_eq!(module.to_tensor(), function.to_tensor());
    let mse = MSELoss::new().reduction(Reduction::None).forward(&x, &t).unwrap();
    assert_eq!(mse.to_tensor(), mse_loss(&x, &t, Reduction::None).unwrap().to_tensor());
    assert_eq!(
        MSELoss::new().forward(&x, &t).unwrap().to_tensor(),
        mse_loss(&x, &t, Reduction::Mean).unwrap().to_tensor()
    );
}

#[test]
fn shapes_that_do_not_fit_are_errors() {
    let var = |shape: &[usize]| Var::new(Tensor::<f64>::zeros(shape));
    let e = mse_loss(&var(&[4, 3]), &var(&[4, 2]), Reduction::Mean).unwrap_err();
    assert!(matches!(e, Error::Broadcast { op: "mse_loss", .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "mse_loss: shapes [4, 3] and [4, 2] cannot be broadcast together"
    );
    // broadcastable shapes follow broadcasting
    let out = mse_loss(&var(&[4, 1]), &var(&[3]), Reduction::None).unwrap();
    assert_eq!(out.shape(), vec![4, 3]);

    let bce = |x: &[usize], t: &[usize], w: Option<&[usize]>, pw: Option<&[usize]>| {
        let w = w.map(Tensor::<f64>::ones);
        let pw = pw.map(Tensor::<f64>::ones);
        binary_cross_entropy_with_logits(&var(x), &var(t), w.as_ref(), pw.as_ref(), Reduction::Mean)
    };
    assert_eq!(
        bce(&[4, 3], &[4], None, None).unwrap_err().to_string(),
        "binary_cross_entropy_with_logits: Target size ([4]) must be the same as input size ([4, 3])"
    );
    assert!(matches!(
        bce(&[4, 3], &[4, 3], Some(&[2]), None),
        Err(Error::Broadcast { .. })
    ));
    assert!(matches!(
        bce(&[4, 3], &[4, 3], None, Some(&[4])),
        Err(Error::Broadcast { .. })
    ));
    // a weight may broadcast to the input, not enlarge it
    assert!(matches!(
        bce(&[4, 3], &[4, 3], Some(&[2, 4, 3]), None),
        Err(Error::Broadcast { .. })
    ));
    assert!(bce(&[4, 3], &[4, 3], Some(&[4, 1]), Some(&[3])).is_ok());
}

#[test]
fn empty_input_gives_nan_mean_and_zero_sum_as_pytorch() {
    let (x, t) = (
        Var::new(Tensor::<f32>::zeros(&[0])),
        Var::new(Tensor::<f32>::zeros(&[0])),
    );
    assert!(mse_loss(&x, &t, Reduction::Mean).unwrap().item().unwrap().is_nan());
    assert_eq!(mse_loss(&x, &t, Reduction::Sum).unwrap().item().unwrap(), 0.0);
    let bce = binary_cross_entropy_with_logits(&x, &t, None, None, Reduction::Mean).unwrap();
    assert!(bce.item().unwrap().is_nan());
}
