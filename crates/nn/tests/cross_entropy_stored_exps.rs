//! When a backward will follow, cross-entropy's forward keeps each row's shifted exponentials
//! in the buffer that becomes the gradient, and backward only scales them. A second backward
//! through the same graph finds that buffer used and recomputes the exponentials from the
//! logits. Both paths must give the same gradient, special values included, for every option.

use ferrograd_autograd::{no_grad, Var};
use ferrograd_nn::functional::{cross_entropy, CrossEntropyOptions};
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

/// The gradient of the first backward (stored path) and of a second one (recomputed), the
/// second taken as the difference of the accumulated gradient.
fn both_paths(x: Tensor<f32>, options: &CrossEntropyOptions) -> (Vec<f32>, Vec<f32>) {
    let logits = Var::parameter(x);
    let target = IndexTensor::from_slice(&[3, 12, 1, 0]);
    let loss = cross_entropy(&logits, &target, options).unwrap();
    let loss = if loss.ndim() == 0 { loss } else { loss.sum() };
    loss.backward().unwrap();
    let first = logits.grad().unwrap().into_array().into_raw_vec_and_offset().0;
    loss.backward().unwrap();
    let total = logits.grad().unwrap().into_array().into_raw_vec_and_offset().0;
    let second = total.iter().zip(&first).map(|(t, f)| t - f).collect();
    (first, second)
}

/// Equal within the conformance tests' f32 tolerance (rtol 1e-5, atol 1e-7 here): the two
/// paths round differently (`exp(x - max)·exp(-ℓ)` against `exp((x - max) - ℓ)`), and with
/// label smoothing the gradient `s·(p·A - a)` can cancel.
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-7 + 1e-5 * x.abs();
        assert!(ok, "{what}: entry {k}: stored {x:e}, recomputed {y:e}");
    }
}

#[test]
fn stored_and_recomputed_exponentials_give_the_same_gradient() {
    for c in CLASSES {
        stored_and_recomputed_agree(c);
    }
}

fn stored_and_recomputed_agree(c: usize) {
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
                let (first, second) = both_paths(x, &options);
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

#[test]
fn without_a_backward_to_follow_nothing_is_stored_and_the_loss_is_the_same() {
    let x = logits(CLASSES[1]);
    let target = IndexTensor::from_slice(&[3, 12, 1, 0]);
    let options = CrossEntropyOptions {
        reduction: Reduction::None,
        ..Default::default()
    };
    let recorded = cross_entropy(&Var::parameter(x.clone()), &target, &options).unwrap();
    let plain = {
        let _guard = no_grad();
        cross_entropy(&Var::parameter(x.clone()), &target, &options).unwrap()
    };
    let constant = cross_entropy(&Var::new(x), &target, &options).unwrap();
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
