//! Gradients of every reduction and comparison op around NaN, infinities and ties, against
//! PyTorch (tests/fixtures/nan_ties.json, written by tests/fixtures/generate_nan_ties.py):
//! forward values and gradients must agree bit for bit in where they are NaN, and in value
//! to 1e-12 elsewhere.

use ferrograd::autograd::Var;
use ferrograd::tensor::Tensor;
use serde_json::Value;

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().parse::<f64>().unwrap())
        .collect()
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-12 * y.abs().max(1.0))
}

fn run(op: &str, xs: &[Var<f64>], args: &Value) -> Var<f64> {
    let dim = || args["dim"].as_i64().unwrap() as isize;
    match op {
        "max" => xs[0].max().unwrap(),
        "max_dim" => xs[0].max_dim(dim(), false).unwrap(),
        "maximum" => xs[0].maximum(&xs[1]).unwrap(),
        "clamp" => xs[0].clamp(args["min"].as_f64(), args["max"].as_f64()),
        "relu" => xs[0].relu(),
        "abs" => xs[0].abs(),
        "logsumexp" => xs[0].logsumexp(dim(), false).unwrap(),
        "softmax" => xs[0].softmax(dim()).unwrap(),
        "log_softmax" => xs[0].log_softmax(dim()).unwrap(),
        other => panic!("no case for {other}"),
    }
}

#[test]
fn nan_and_tie_gradients_match_pytorch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nan_ties.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let op = case["op"].as_str().unwrap();
        let xs: Vec<Var<f64>> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let shape: Vec<usize> = i["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                Var::parameter(Tensor::from_vec(numbers(&i["values"]), &shape).unwrap())
            })
            .collect();
        let y = run(op, &xs, &case["args"]);
        let n = y.numel();
        let w = Tensor::from_vec((1..=n).map(|i| i as f64).collect(), &y.shape()).unwrap();
        y.try_mul(&Var::new(w)).unwrap().sum().backward().unwrap();
        let inputs: Vec<Vec<f64>> = xs.iter().map(|x| x.to_tensor().to_vec()).collect();
        if !same(&y.to_tensor().to_vec(), &numbers(&case["output"])) {
            failures.push(format!(
                "{op}{inputs:?}: output {:?}, PyTorch {:?}",
                y.to_tensor().to_vec(),
                numbers(&case["output"])
            ));
        }
        for (i, (x, expected)) in xs.iter().zip(case["grads"].as_array().unwrap()).enumerate() {
            let got = x.grad().map(|g| g.to_vec()).unwrap_or_default();
            if !same(&got, &numbers(expected)) {
                failures.push(format!(
                    "{op}{inputs:?}: gradient {i} {got:?}, PyTorch {:?}",
                    numbers(expected)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ from PyTorch:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
