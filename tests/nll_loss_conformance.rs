//! PyTorch computes index-target cross-entropy without smoothing as
//! `nll_loss(log_softmax(x, class_dim))` (LossNLL.cpp). Every such PyTorch case must therefore
//! also come out of ferrograd's `nll_loss` on `log_softmax`, through ordinary autograd.

use ferrograd::conformance::{parse_cases, Number};
use ferrograd::nn::functional::{nll_loss_with, NllLossOptions};
use ferrograd::prelude::*;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/cross_entropy_cases.json");

fn close(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= 1e-6 + 1e-5 * want.abs()
}

#[test]
fn nll_of_log_softmax_matches_pytorchs_cross_entropy() {
    let file = parse_cases(FIXTURE).unwrap();
    let raw: Value = serde_json::from_str(FIXTURE).unwrap();
    let mut checked = 0;
    for (case, raw) in file.cases.iter().zip(raw["cases"].as_array().unwrap()) {
        let expected = &raw["expected"];
        // label smoothing counts only when > 0 (NaN and negative values are off, as in PyTorch)
        let smoothing = case.label_smoothing.value() > 0.0;
        let plain = case.target_kind == "indices" && !smoothing && case.dtype == "float32";
        if !plain || expected.get("error").is_some() || case.input.shape.len() < 2 {
            continue;
        }
        let x = Var::parameter(case.input.to_tensor::<f32>("input").unwrap());
        let targets = case.target.data.iter().map(|v| v.as_i64().unwrap()).collect();
        let t = IndexTensor::from_vec(targets, &case.target.shape).unwrap();
        let options = NllLossOptions {
            weight: case
                .weight
                .as_ref()
                .map(|w| Tensor::from_vec(w.iter().map(|n| n.value() as f32).collect(), &[w.len()]).unwrap()),
            ignore_index: case.ignore_index,
            reduction: case.reduction.parse().unwrap(),
        };
        let loss = nll_loss_with(&x.log_softmax(1).unwrap(), &t, &options).unwrap();
        loss.backward_with(&Tensor::ones(&loss.shape())).unwrap();
        let want = |k: &str| -> Vec<f64> {
            expected[k]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| serde_json::from_value::<Number>(v.clone()).unwrap().value())
                .collect()
        };
        let got_loss: Vec<f64> = loss.to_tensor().to_vec().iter().map(|&v| v as f64).collect();
        let got_grad: Vec<f64> = x
            .grad()
            .map_or(vec![], |g| g.to_vec().iter().map(|&v| v as f64).collect());
        for (g, w) in got_loss.iter().zip(want("loss")) {
            assert!(close(*g, w), "{}: loss {g} vs PyTorch {w}", case.name);
        }
        for (g, w) in got_grad.iter().zip(want("grad")) {
            assert!(close(*g, w), "{}: grad {g} vs PyTorch {w}", case.name);
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} cases");
}
