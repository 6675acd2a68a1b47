//! Property tests of `cross_entropy` and `nll_loss`: random shapes ((C), (N, C), (N, C, d1..dk),
//! with sizes 0 and 1), class-index targets (in range, out of range, `ignore_index`) and
//! probability targets, weights, every reduction, label smoothing (0, in (0, 1], negative, NaN,
//! above 1, infinite), well-formed and malformed target shapes. Each call must either match
//! the loss and the closed-form gradient of docs/shared reference §3 and §5.2, computed here
//! independently in f64:
//!
//! ```text
//! l[pos] = -Σ_c a[pos,c]·lp[pos,c]          ∂L/∂x[pos,j] = s[pos]·(p[pos,j]·A[pos] - a[pos,j])
//!                                           ∂L/∂t[pos,c] = -s[pos]·f·w[c]·lp[pos,c]
//! ```
//!
//! or return an error exactly when PyTorch raises one; nothing panics. The same call in f32
//! must succeed or fail alike.

use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{cross_entropy_with, nll_loss_with, CrossEntropyOptions, NllLossOptions, Target};
use ferrograd_nn::Reduction;
use ferrograd_tensor::{Float, IndexTensor, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{contextualize_config, RngSeed};

fn config(cases: u32) -> ProptestConfig {
    contextualize_config(ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x005e_edce),
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

#[derive(Debug, Clone)]
enum Targets {
    /// Class indices with their tensor shape (possibly not the expected one).
    Indices(Vec<usize>, Vec<i64>),
    /// Class probabilities with the input's shape.
    Probabilities(Vec<f64>),
}

#[derive(Debug, Clone)]
struct Case {
    shape: Vec<usize>,
    logits: Vec<f64>,
    targets: Targets,
    weight: Option<Vec<f64>>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
    /// Upstream gradient values (as many as the output has elements).
    upstream: Vec<f64>,
}

/// `[n, c, s]` of an input shape, as the loss views it.
fn layout(shape: &[usize]) -> (usize, usize, usize) {
    match shape.len() {
        1 => (1, shape[0], 1),
        _ => (shape[0], shape[1], shape[2..].iter().product()),
    }
}

/// The index-target shape PyTorch expects for `shape`.
fn index_target_shape(shape: &[usize]) -> Vec<usize> {
    if shape.len() == 1 {
        vec![]
    } else {
        [&shape[..1], &shape[2..]].concat()
    }
}

fn reduction() -> impl Strategy<Value = Reduction> {
    prop_oneof![Just(Reduction::None), Just(Reduction::Mean), Just(Reduction::Sum)]
}

fn label_smoothing() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => Just(0.0),
        1 => Just(-0.5),
        1 => Just(f64::NAN),
        3 => 0.01..1.0f64,
        1 => Just(1.0),
        1 => Just(1.5),
        1 => Just(f64::INFINITY),
    ]
}

fn input_shape() -> impl Strategy<Value = Vec<usize>> {
    let dim = || prop_oneof![1 => Just(0usize), 2 => Just(1usize), 4 => 2usize..=3];
    let classes = prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..=4];
    prop_oneof![
        classes.clone().prop_map(|c| vec![c]),
        (dim(), classes.clone()).prop_map(|(n, c)| vec![n, c]),
        (dim(), classes, proptest::collection::vec(dim(), 1..=2)).prop_map(|(n, c, d)| [vec![n, c], d].concat()),
    ]
}

/// A target value: mostly a class, sometimes `ignore_index`, sometimes out of range.
fn target_value(c: usize, ignore_index: i64) -> impl Strategy<Value = i64> {
    let in_range = if c > 0 {
        (0..c as i64).boxed()
    } else {
        Just(ignore_index).boxed()
    };
    prop_oneof![
        14 => in_range,
        4 => Just(ignore_index),
        1 => prop_oneof![Just(-1i64), Just(c as i64), Just(c as i64 + 5), Just(i64::MIN), Just(i64::MAX)],
    ]
}

/// The index-target shape to use: mostly the right one, sometimes a wrong one.
fn index_shape(shape: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let right = index_target_shape(&shape);
    let mut wrong: Vec<Vec<usize>> = Vec::new();
    if shape.len() == 1 {
        wrong.push(vec![1]); // PyTorch: accepted by the forward, refused by the backward
        wrong.push(vec![2]);
    } else {
        let mut w = right.clone();
        w[0] += 1;
        wrong.push(w);
        wrong.push(right[..1].to_vec());
        if shape.len() > 2 {
            let mut w = right.clone();
            w[1] += 1;
            wrong.push(w);
        } else {
            wrong.push(vec![right[0], 1]);
        }
    }
    prop_oneof![8 => Just(right), 1 => proptest::sample::select(wrong)]
}

fn case() -> impl Strategy<Value = Case> {
    (
        input_shape(),
        prop_oneof![Just(-100i64), Just(-1), Just(0), Just(1), Just(2)],
        any::<bool>(),
        reduction(),
        label_smoothing(),
        0..10u8,
    )
        .prop_flat_map(|(shape, ignore_index, probabilities, reduction, eps, weight_kind)| {
            let numel: usize = shape.iter().product();
            let (_, c, _) = layout(&shape);
            let logits = proptest::collection::vec(-4.0..4.0f64, numel);
            let targets = if probabilities {
                proptest::collection::vec(0.0..1.0f64, numel)
                    .prop_map(Targets::Probabilities)
                    .boxed()
            } else {
                index_shape(shape.clone())
                    .prop_flat_map(move |ts| {
                        let n: usize = ts.iter().product();
                        (Just(ts), proptest::collection::vec(target_value(c, ignore_index), n))
                    })
                    .prop_map(|(ts, v)| Targets::Indices(ts, v))
                    .boxed()
            };
            // No weight, a weight per class, or (now and then) a weight of the wrong length.
            let weight = match weight_kind {
                0..=4 => Just(None).boxed(),
                5..=8 => proptest::collection::vec(0.25..2.0f64, c).prop_map(Some).boxed(),
                _ => proptest::collection::vec(0.25..2.0f64, c + 1).prop_map(Some).boxed(),
            };
            let upstream = proptest::collection::vec(-1.0..1.0f64, 32); // ≥ the most positions, 3·3·3
            (
                Just(shape),
                logits,
                targets,
                weight,
                Just(ignore_index),
                Just(reduction),
                Just(eps),
                upstream,
            )
        })
        .prop_map(
            |(shape, logits, targets, weight, ignore_index, reduction, label_smoothing, upstream)| Case {
                shape,
                logits,
                targets,
                weight,
                ignore_index,
                reduction,
                label_smoothing,
                upstream,
            },
        )
}

/// What PyTorch does with a case: the loss and gradients it computes, or where it fails.
#[derive(Debug)]
enum Expected {
    /// An error in the forward call.
    Refused,
    /// The forward works, the backward is an error ((C) input with a (1) target).
    RefusedInBackward,
    Value {
        loss: Vec<f64>,
        loss_shape: Vec<usize>,
        grad: Vec<f64>,
        target_grad: Option<Vec<f64>>,
    },
}

/// The reference, from the formulas alone (f64 throughout). `softmax` false is `nll_loss`.
fn expected(case: &Case, softmax: bool) -> Expected {
    let shape = &case.shape;
    let (n, c, s) = layout(shape);
    let m = n * s;
    let eps = if case.label_smoothing > 0.0 {
        case.label_smoothing
    } else {
        0.0
    };
    let bad_weight = case.weight.as_ref().is_some_and(|w| w.len() != c);
    let w = |k: usize| case.weight.as_ref().map_or(1.0, |w| w[k]);
    let off = |pos: usize, k: usize| ((pos / s) * c + k) * s + pos % s;
    match &case.targets {
        Targets::Probabilities(_) if case.ignore_index >= 0 || bad_weight || eps > 1.0 => return Expected::Refused,
        Targets::Indices(ts, t) => {
            if (softmax && ts == shape) || eps > 1.0 || bad_weight {
                return Expected::Refused;
            }
            if *ts != index_target_shape(shape) {
                let one_of_one = shape.len() == 1 && *ts == [1];
                if !one_of_one || eps > 0.0 {
                    return Expected::Refused;
                }
            }
            // 3-D and ≥5-D input is viewed as (N, C, 1, -1), or (N, C, 0, 0) when empty, and the
            // target as (N, 1, -1): with C = 0 and a target that is not empty, they differ.
            if shape.len() != 4 && shape.len() > 2 && c == 0 && m > 0 {
                return Expected::Refused;
            }
            if t.iter().any(|&y| y != case.ignore_index && (y < 0 || y >= c as i64)) {
                return Expected::Refused;
            }
            if *ts != index_target_shape(shape) {
                return Expected::RefusedInBackward;
            }
        }
        _ => {}
    }
    // Log-probabilities per position.
    let mut lp = case.logits.clone();
    if softmax {
        for pos in 0..m {
            let max = (0..c)
                .map(|k| case.logits[off(pos, k)])
                .fold(f64::NEG_INFINITY, f64::max);
            let lse = (0..c).map(|k| (case.logits[off(pos, k)] - max).exp()).sum::<f64>().ln() + max;
            for k in 0..c {
                lp[off(pos, k)] = case.logits[off(pos, k)] - lse;
            }
        }
    }
    // The coefficients a[pos, c], and whether a position counts.
    let mut a = vec![0.0; m * c];
    let mut counted = vec![true; m];
    let mut divisor = 0.0;
    match &case.targets {
        Targets::Indices(_, t) => {
            for pos in 0..m {
                let y = t[pos];
                if y == case.ignore_index {
                    counted[pos] = false;
                    continue;
                }
                let y = y as usize;
                divisor += w(y);
                for k in 0..c {
                    a[pos * c + k] = eps / c as f64 * w(k) + if k == y { (1.0 - eps) * w(y) } else { 0.0 };
                }
            }
        }
        Targets::Probabilities(t) => {
            divisor = (m * c) as f64 / c as f64; // numel / C: NaN when C = 0, as PyTorch
            for pos in 0..m {
                for k in 0..c {
                    let tk = t[off(pos, k)];
                    let tk = if eps > 0.0 {
                        tk * (1.0 - eps) + eps / c as f64
                    } else {
                        tk
                    };
                    a[pos * c + k] = w(k) * tk;
                }
            }
        }
    }
    // With class indices and ε > 0, PyTorch computes (1-ε)·nll + (ε/C)·smooth after reducing
    // each (§3.2), smooth[pos] = Σ_c -w[c]·lp[c]: with C = 0 that is inf·0 = NaN, where
    // Σ_c a[c]·lp[c] would be 0. Otherwise the loss is Σ_c -a[c]·lp[c].
    let smoothed_indices = eps > 0.0 && matches!(case.targets, Targets::Indices(..));
    let (mut main, mut smooth) = (vec![0.0; m], vec![0.0; m]);
    for pos in 0..m {
        match &case.targets {
            Targets::Indices(_, t) if smoothed_indices => {
                if counted[pos] {
                    let y = t[pos] as usize;
                    main[pos] = -w(y) * lp[off(pos, y)];
                    smooth[pos] = -(0..c).map(|k| w(k) * lp[off(pos, k)]).sum::<f64>();
                }
            }
            _ => main[pos] = -(0..c).map(|k| a[pos * c + k] * lp[off(pos, k)]).sum::<f64>(),
        }
    }
    let combine = |main: f64, smooth: f64| {
        if smoothed_indices {
            (1.0 - eps) * main + eps / c as f64 * smooth
        } else {
            main
        }
    };
    let none_shape = match &case.targets {
        Targets::Indices(ts, _) => ts.clone(),
        Targets::Probabilities(_) if shape.len() == 1 => vec![],
        Targets::Probabilities(_) => index_target_shape(shape),
    };
    let (sum_main, sum_smooth) = (main.iter().sum::<f64>(), smooth.iter().sum::<f64>());
    let (loss, loss_shape) = match case.reduction {
        Reduction::None => (
            main.iter().zip(&smooth).map(|(&a, &b)| combine(a, b)).collect(),
            none_shape,
        ),
        Reduction::Sum => (vec![combine(sum_main, sum_smooth)], vec![]),
        Reduction::Mean => (vec![combine(sum_main / divisor, sum_smooth / divisor)], vec![]),
    };
    let scale = |pos: usize| match case.reduction {
        Reduction::None => case.upstream[pos],
        Reduction::Sum => case.upstream[0],
        Reduction::Mean => case.upstream[0] / divisor,
    };
    let mut grad = vec![0.0; m * c];
    let mut target_grad = vec![0.0; m * c];
    let f = if eps > 0.0 { 1.0 - eps } else { 1.0 };
    for pos in 0..m {
        if !counted[pos] {
            continue; // an ignored position gets exactly 0
        }
        let sp = scale(pos);
        let big_a: f64 = (0..c).map(|k| a[pos * c + k]).sum();
        for k in 0..c {
            let o = off(pos, k);
            grad[o] = if softmax {
                sp * (lp[o].exp() * big_a - a[pos * c + k])
            } else {
                -sp * a[pos * c + k]
            };
            target_grad[o] = -sp * f * w(k) * lp[o];
        }
    }
    let is_prob = matches!(case.targets, Targets::Probabilities(_));
    Expected::Value {
        loss,
        loss_shape,
        grad,
        target_grad: is_prob.then_some(target_grad),
    }
}

fn close(what: &str, got: &[f64], want: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: lengths", what);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-9 * (1.0 + w.abs());
        prop_assert!(same, "{}[{}]: got {}, expected {}", what, i, g, w);
    }
    Ok(())
}

struct Outcome {
    loss: Option<(Vec<usize>, Vec<f64>)>,
    backward: Option<(Vec<f64>, Option<Vec<f64>>)>,
}

/// Runs the case in `T`; `None` where a call returned an error.
fn run<T: Float>(case: &Case, softmax: bool) -> Outcome {
    let input =
        Var::parameter(Tensor::<T>::from_vec(case.logits.iter().map(|&v| T::of(v)).collect(), &case.shape).unwrap());
    let weight = case
        .weight
        .as_ref()
        .map(|w| Tensor::from_vec(w.iter().map(|&v| T::of(v)).collect(), &[w.len()]).unwrap());
    let prob_target = match &case.targets {
        Targets::Probabilities(t) => Some(Var::parameter(
            Tensor::<T>::from_vec(t.iter().map(|&v| T::of(v)).collect(), &case.shape).unwrap(),
        )),
        Targets::Indices(..) => None,
    };
    let result = match (&case.targets, softmax) {
        (Targets::Indices(ts, t), true) => {
            let target = IndexTensor::from_vec(t.clone(), ts).unwrap();
            let options = CrossEntropyOptions {
                weight,
                ignore_index: case.ignore_index,
                reduction: case.reduction,
                label_smoothing: case.label_smoothing,
            };
            cross_entropy_with(&input, &target, &options)
        }
        (Targets::Indices(ts, t), false) => {
            let target = IndexTensor::from_vec(t.clone(), ts).unwrap();
            let options = NllLossOptions {
                weight,
                ignore_index: case.ignore_index,
                reduction: case.reduction,
            };
            nll_loss_with(&input, &target, &options)
        }
        (Targets::Probabilities(_), _) => {
            let options = CrossEntropyOptions {
                weight,
                ignore_index: case.ignore_index,
                reduction: case.reduction,
                label_smoothing: case.label_smoothing,
            };
            cross_entropy_with(&input, Target::Probabilities(prob_target.as_ref().unwrap()), &options)
        }
    };
    let Ok(loss) = result else {
        return Outcome {
            loss: None,
            backward: None,
        };
    };
    let values = loss.to_tensor().to_vec().iter().map(|v| v.f64()).collect();
    let upstream = Tensor::from_vec(
        case.upstream[..loss.numel()].iter().map(|&v| T::of(v)).collect(),
        &loss.shape(),
    )
    .unwrap();
    let backward = loss.backward_with(&upstream).ok().map(|()| {
        let f64s = |t: Tensor<T>| t.to_vec().iter().map(|v| v.f64()).collect::<Vec<f64>>();
        let grad = input.grad().map_or_else(|| vec![0.0; input.numel()], f64s);
        let tgrad = prob_target.map(|t| t.grad().map_or_else(|| vec![0.0; t.numel()], f64s));
        (grad, tgrad)
    });
    Outcome {
        loss: Some((loss.shape(), values)),
        backward,
    }
}

fn check_case(case: &Case, softmax: bool) -> Result<(), TestCaseError> {
    let want = expected(case, softmax);
    let got = run::<f64>(case, softmax);
    let got32 = run::<f32>(case, softmax);
    prop_assert_eq!(
        got.loss.is_some(),
        got32.loss.is_some(),
        "f32 and f64 disagree on the forward"
    );
    prop_assert_eq!(
        got.backward.is_some(),
        got32.backward.is_some(),
        "f32 and f64 disagree on the backward"
    );
    match want {
        Expected::Refused => prop_assert!(got.loss.is_none(), "expected an error, got a loss"),
        Expected::RefusedInBackward => {
            prop_assert!(got.loss.is_some(), "the forward should work");
            prop_assert!(got.backward.is_none(), "the backward should be an error");
        }
        Expected::Value {
            loss,
            loss_shape,
            grad,
            target_grad,
        } => {
            let Some((shape, values)) = got.loss else {
                return Err(TestCaseError::fail("expected a loss, got an error"));
            };
            prop_assert_eq!(shape, loss_shape);
            close("loss", &values, &loss)?;
            let Some((g, tg)) = got.backward else {
                return Err(TestCaseError::fail("expected gradients, backward failed"));
            };
            close("grad", &g, &grad)?;
            prop_assert_eq!(tg.is_some(), target_grad.is_some());
            if let (Some(tg), Some(want)) = (tg, target_grad) {
                close("target grad", &tg, &want)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn cross_entropy_matches_the_closed_form_or_refuses(case in case()) {
        check_case(&case, true)?;
    }

    #[test]
    fn nll_loss_matches_the_closed_form_or_refuses(mut case in case()) {
        // nll_loss takes class indices only, and has no label smoothing.
        if let Targets::Probabilities(_) = case.targets {
            let shape = index_target_shape(&case.shape);
            let n: usize = shape.iter().product();
            case.targets = Targets::Indices(shape, vec![case.ignore_index; n]);
        }
        case.label_smoothing = 0.0;
        check_case(&case, false)?;
    }

    #[test]
    fn cross_entropy_gradient_matches_finite_differences(case in case()) {
        // An independent check of the reference above: gradcheck where the loss is finite.
        match expected(&case, true) {
            Expected::Value { loss, .. } if loss.iter().all(|v| v.is_finite()) => {}
            _ => return Ok(()),
        }
        let options = CrossEntropyOptions {
            weight: case.weight.as_ref().map(|w| Tensor::from_vec(w.clone(), &[w.len()]).unwrap()),
            ignore_index: case.ignore_index,
            reduction: case.reduction,
            label_smoothing: case.label_smoothing,
        };
        let x = Tensor::from_vec(case.logits.clone(), &case.shape).unwrap();
        let report = match &case.targets {
            Targets::Indices(ts, t) => {
                let target = IndexTensor::from_vec(t.clone(), ts).unwrap();
                gradcheck(|v| cross_entropy_with(&v[0], &target, &options), &[x], GradcheckOptions::default())
            }
            Targets::Probabilities(t) => {
                let t = Tensor::from_vec(t.clone(), &case.shape).unwrap();
                gradcheck(|v| cross_entropy_with(&v[0], Target::Probabilities(&v[1]), &options), &[x, t], GradcheckOptions::default())
            }
        }
        .unwrap();
        prop_assert!(report.passed, "{report}");
    }
}
