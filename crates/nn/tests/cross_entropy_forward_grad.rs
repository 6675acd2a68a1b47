//! When a backward will follow, cross-entropy's forward writes the gradient for an upstream
//! gradient of 1 into the buffer that backward hands over: as it is for 1, scaled for another
//! finite, non-zero upstream value, and recomputed from the logits for 0, infinities and NaN.
//! A second backward through the same graph finds that buffer used and recomputes the whole
//! gradient. Every path must give the same gradient, special values included, for every option.

use ferrograd_autograd::{grad, no_grad, Var};
use ferrograd_nn::functional::{cross_entropy_with, CrossEntropyOptions};
use ferrograd_nn::Reduction;
use ferrograd_tensor::{IndexTensor, Tensor};

/// Row lengths: short rows (the `f64` path) and long ones (the vectorized kernels).
const CLASSES: [usize; 2] = [5, 40];

/// Logits `[4, c]` whose rows are ordinary, partly masked with -inf, and spread past exp's
/// range; the last row gets a NaN or +inf.
fn logits(c: usize) -> Tensor<f32> {
    let mut v: Vec<f32> = (0..4 * c).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
    v[c..c + c / 2].fill(f32::NEG_INFINITY);
    v[2 * c] = -1e30;
    v[2 * c + 1] = 150.0;
    Tensor::from_vec(v, &[4, c]).unwrap()
}

/// The gradient of the first backward from `upstream` (forward's gradient, scaled or
/// recomputed where needed) and of a second one through the same graph (recomputed).
fn both_paths(x: Tensor<f32>, options: &CrossEntropyOptions, upstream: &Tensor<f32>) -> (Vec<f32>, Vec<f32>) {
    let logits = Var::parameter(x);
    let target = IndexTensor::from_slice(&[3, 12, 1, 0]);
    let loss = cross_entropy_with(&logits, &target, options).unwrap();
    loss.backward_with(upstream).unwrap();
    let first = logits.grad().unwrap();
    let second = grad(&[loss], &[logits], Some(vec![upstream.clone()]), false).unwrap();
    let second = second[0].as_ref().unwrap().to_tensor();
    let values = |t: Tensor<f32>| t.into_array().into_raw_vec_and_offset().0;
    (values(first), values(second))
}

/// Equal within the conformance tests' f32 tolerance (rtol 1e-5, atol 1e-7 here): the two
/// paths round differently (`exp(x - max)·exp(-ℓ)` against `exp((x - max) - ℓ)`), and with
/// label smoothing the gradient `s·(p·A - a)` can cancel.
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
        let ok = x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-7 + 1e-5 * x.abs();
        assert!(ok, "{what}: entry {k}: stored {x:e}, recomputed {y:e}");
    }
}

#[test]
fn forward_and_recomputed_gradients_are_the_same() {
    for c in CLASSES {
        forward_and_recomputed_agree(c);
    }
}

fn forward_and_recomputed_agree(c: usize) {
    let weight = Tensor::arange_step(0.5, 0.5 + c as f64 * 0.04, 0.04).unwrap();
    let eps_weight = [(0.0, None), (0.2, None), (0.0, Some(weight))];
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        for (eps, weight) in eps_weight.clone() {
            for special in [f32::NAN, f32::INFINITY] {
                let mut x = logits(c);
                x.array_mut()[[3, 2]] = special;
                let options = CrossEntropyOptions {
                    weight: weight.clone(),
                    ignore_index: 12,
                    reduction,
                    label_smoothing: eps,
                };
                let one = if reduction == Reduction::None {
                    Tensor::ones(&[4])
                } else {
                    Tensor::scalar(1.0)
                };
                let (first, second) = both_paths(x, &options, &one);
                let what = format!("{c} classes, {reduction:?}, eps {eps}, {special}");
                assert_same(&first, &second, &what);
                // Rows 0-2 are finite (row 1 ignored, so zeros); row 3 is NaN as in PyTorch.
                assert!(first[..3 * c].iter().all(|g| g.is_finite()), "{what}");
                assert!(first[c..2 * c].iter().all(|&g| g == 0.0), "{what}");
                assert!(first[3 * c..].iter().all(|g| g.is_nan()), "{what}");
            }
        }
    }
}

/// Upstream gradients other than 1: forward's gradient scaled (-2.5, 0.3), or recomputed
/// (0, infinities, NaN), per position for `reduction = none`.
#[test]
fn other_upstream_gradients_match_the_recomputed_gradient() {
    for c in CLASSES {
        let x = logits(c);
        let weight = Tensor::arange_step(0.5, 0.5 + c as f64 * 0.04, 0.04).unwrap();
        for (eps, weight) in [(0.0, None), (0.2, Some(weight))] {
            let none = CrossEntropyOptions {
                weight,
                ignore_index: 12,
                reduction: Reduction::None,
                label_smoothing: eps,
            };
            let mut cases: Vec<(CrossEntropyOptions, Tensor<f32>)> = [-2.5, 0.3, 0.0, f32::INFINITY, f32::NAN]
                .into_iter()
                .flat_map(|g| {
                    [Reduction::Mean, Reduction::Sum].map(|reduction| {
                        let options = CrossEntropyOptions {
                            reduction,
                            ..none.clone()
                        };
                        (options, Tensor::scalar(g))
                    })
                })
                .collect();
            cases.push((none.clone(), Tensor::from_vec(vec![1.0, 3.0, 0.0, -0.5], &[4]).unwrap()));
            cases.push((
                none,
                Tensor::from_vec(vec![f32::NEG_INFINITY, 1.0, 2.0, 1.0], &[4]).unwrap(),
            ));
            for (options, upstream) in cases {
                let (first, second) = both_paths(x.clone(), &options, &upstream);
                let what = format!("{c} classes, eps {eps}, {:?}, upstream {upstream}", options.reduction);
                assert_same(&first, &second, &what);
                let scaled = upstream.array().iter().any(|g| g.is_finite() && *g != 0.0 && *g != 1.0);
                assert!(!scaled || first.iter().any(|g| *g != 0.0 && g.is_finite()), "{what}");
            }
        }
    }
}

#[test]
fn without_a_backward_to_follow_nothing_is_stored_and_the_loss_is_the_same() {
    let x = logits(CLASSES[1]);
    let target = IndexTensor::from_slice(&[3, 12, 1, 0]);
    let options = CrossEntropyOptions {
        reduction: Reduction::None,
        ..Default::default()
    };
    let recorded = cross_entropy_with(&Var::parameter(x.clone()), &target, &options).unwrap();
    let plain = {
        let _guard = no_grad();
        cross_entropy_with(&Var::parameter(x.clone()), &target, &options).unwrap()
    };
    let constant = cross_entropy_with(&Var::new(x), &target, &options).unwrap();
    let bits = |v: &Var| {
        v.to_tensor()
            .into_array()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&recorded), bits(&plain));
    assert_eq!(bits(&recorded), bits(&constant));
}
