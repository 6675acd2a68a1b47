//! Helpers shared by the nn tests: reading the PyTorch fixtures and comparing with them.
#![allow(dead_code)] // each test file uses its own subset

pub mod fixtures;

use std::path::PathBuf;

use ferrograd_autograd::Var;
use ferrograd_nn::{Adam, AdamW, Optimizer, StateDict, SGD};
use ferrograd_tensor::{Float, IndexTensor, Tensor};
use serde_json::Value;

/// `tests/fixtures/NAME` at the repository root, written by `generate_training.py`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A JSON fixture, parsed.
pub fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture file");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A fixture number: a JSON number or "inf" / "-inf" / "nan".
pub fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        other => panic!("not a fixture number: {other}"),
    }
}

/// The shape of a fixture tensor `{"shape", "data"}`.
pub fn shape(v: &Value) -> Vec<usize> {
    serde_json::from_value(v["shape"].clone()).expect("shape")
}

/// The data of a fixture tensor, as `f64` (exact: f32 values are stored as their doubles).
pub fn data(v: &Value) -> Vec<f64> {
    v["data"].as_array().expect("data").iter().map(number).collect()
}

/// A fixture tensor.
pub fn tensor<T: Float>(v: &Value) -> Tensor<T> {
    let values = data(v).into_iter().map(T::of).collect();
    Tensor::from_vec(values, &shape(v)).expect("fixture tensor")
}

/// A fixture tensor of class indices.
pub fn index_tensor(v: &Value) -> IndexTensor {
    let values = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_i64().expect("i64"))
        .collect();
    IndexTensor::from_vec(values, &shape(v)).expect("fixture index tensor")
}

/// A fixture state dict `{name: tensor}`, in the fixture's order.
pub fn state_dict<T: Float>(v: &Value) -> StateDict<T> {
    let mut sd = StateDict::new();
    for (name, t) in v.as_object().expect("state dict") {
        sd.insert(name.clone(), tensor(t));
    }
    sd
}

/// Compares `got` with the fixture tensor `want` element by element, failing the test where
/// `|got - want| > atol + rtol·|want|` (NaN matching NaN, infinities equal); returns the
/// largest relative deviation `|got - want| / |want|` over the expected values above `atol`.
#[track_caller]
pub fn assert_close<T: Float>(what: &str, got: &Tensor<T>, want: &Value, rtol: f64, atol: f64) -> f64 {
    assert_eq!(got.shape(), shape(want).as_slice(), "{what}: shape");
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.to_vec().iter().map(|g| g.f64()).zip(data(want)).enumerate() {
        if w.is_nan() || w.is_infinite() {
            assert!(
                g == w || (g.is_nan() && w.is_nan()),
                "{what}[{i}]: {g:e}, PyTorch {w:e}"
            );
            continue;
        }
        let dev = (g - w).abs();
        assert!(
            dev <= atol + rtol * w.abs(),
            "{what}[{i}]: {g:e}, PyTorch {w:e} (|diff| {dev:e}, allowed {:e})",
            atol + rtol * w.abs()
        );
        if w.abs() > atol && w != 0.0 {
            worst = worst.max(dev / w.abs());
        }
    }
    worst
}

/// The optimizer a fixture's `optimizer` record describes (every key is present there).
pub fn optimizer<T: Float>(cfg: &Value, params: Vec<Var<T>>) -> Box<dyn Optimizer<T>> {
    let f = |k: &str| cfg[k].as_f64().unwrap();
    let (b1, b2) = (cfg["betas"][0].as_f64().unwrap(), cfg["betas"][1].as_f64().unwrap());
    let amsgrad = cfg["amsgrad"].as_bool().unwrap();
    assert!(!cfg["maximize"].as_bool().unwrap(), "maximize is not supported");
    match cfg["name"].as_str().unwrap() {
        "sgd" => Box::new(
            SGD::new(params, f("lr"))
                .momentum(f("momentum"))
                .dampening(f("dampening"))
                .weight_decay(f("weight_decay"))
                .nesterov(cfg["nesterov"].as_bool().unwrap()),
        ),
        "adam" => Box::new(
            Adam::new(params, f("lr"))
                .betas(b1, b2)
                .eps(f("eps"))
                .weight_decay(f("weight_decay"))
                .amsgrad(amsgrad),
        ),
        "adamw" => Box::new(
            AdamW::new(params, f("lr"))
                .betas(b1, b2)
                .eps(f("eps"))
                .weight_decay(f("weight_decay"))
                .amsgrad(amsgrad),
        ),
        other => panic!("unknown optimizer {other}"),
    }
}
