//! The PyTorch reference cases for the layers and tensor ops (`tests/fixtures/layers_cases.json`,
//! written by `tests/fixtures/generate_layers.py`) are well-formed: every tensor's data fills its
//! shape and converts, every gradient has its tensor's shape, every step is complete. The layers'
//! own tests compare ferrograd with these cases; this one needs no layer.

use crate::common;

use std::collections::{BTreeMap, HashSet};

use common::fixture_path;
use common::fixtures::{
    all_layer_cases, layer_cases, layers_torch_version, models_expected, named_tensors, Case, FixtureTensor, Matcher,
    Step,
};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// Layers every later test expects to find cases for.
const LAYERS: &[&str] = &[
    "Embedding",
    "LayerNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "GELU",
    "SiLU",
    "Softplus",
    "ELU",
    "Softmax",
    "LogSoftmax",
    "Identity",
    "op.var",
    "op.std",
    "op.rsqrt",
    "op.erf",
    "op.pow",
    "op.pad",
    "op.roll",
    "op.argmax",
    "op.argmin",
    "op.topk",
    "op.cumsum",
    "op.one_hot",
    "op.masked_fill",
    "op.where",
    "op.tril",
    "op.triu",
    "op.split",
    "op.chunk",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "F.scaled_dot_product_attention",
    "RNNCell",
    "GRUCell",
    "LSTMCell",
];

fn check_converts(case: &Case, t: &FixtureTensor) {
    match t.dtype.as_str() {
        "float32" | "float64" => {
            assert_eq!(t.f64().shape(), t.shape.as_slice(), "{}", case.name);
            assert_eq!(t.f32().shape(), t.shape.as_slice(), "{}", case.name);
        }
        "int64" => assert_eq!(t.index_tensor().shape(), t.shape.as_slice(), "{}", case.name),
        "bool" => assert_eq!(t.mask().shape, t.shape, "{}", case.name),
        other => panic!("{}: dtype {other}", case.name),
    }
}

fn check_step(case: &Case, k: usize, step: &Step) {
    let name = format!("{} step {k}", case.name);
    let e = &step.expected;
    assert!(!e.outputs.is_empty() || case.layer == "op.split", "{name}: no outputs");
    assert_eq!(step.upstream.len(), e.outputs.len(), "{name}: one upstream per output");
    for (out, up) in e.outputs.iter().zip(&step.upstream) {
        check_converts(case, out);
        if let Some(up) = up {
            assert!(out.is_float(), "{name}: upstream for a non-float output");
            assert_eq!((&up.shape, &up.dtype), (&out.shape, &out.dtype), "{name}: upstream");
        }
    }
    assert_eq!(
        e.input_grads.len(),
        step.inputs.len(),
        "{name}: one input grad per input"
    );
    for (i, (x, g)) in step.inputs.iter().zip(&e.input_grads).enumerate() {
        if let Some(x) = x {
            check_converts(case, x);
            if x.is_float() && case.dtype != "int64" {
                assert_eq!(x.dtype, case.dtype, "{name}: input {i} dtype");
            }
        }
        let float_input = x.as_ref().is_some_and(FixtureTensor::is_float);
        assert_eq!(g.is_some(), float_input, "{name}: input grad {i} iff a float input");
        if let (Some(x), Some(g)) = (x, g) {
            assert_eq!((&g.shape, &g.dtype), (&x.shape, &x.dtype), "{name}: input grad {i}");
        }
    }
    let state = case.state.as_ref().expect("state of a successful case");
    for (key, g) in &e.param_grads {
        let p = case
            .state_tensor(key)
            .unwrap_or_else(|| panic!("{name}: grad of unknown {key}"));
        assert_eq!((&g.shape, &g.dtype), (&p.shape, &p.dtype), "{name}: grad of {key}");
    }
    for (key, b) in &e.state_after {
        let before = case
            .state_tensor(key)
            .unwrap_or_else(|| panic!("{name}: unknown buffer {key}"));
        assert_eq!(
            (&b.shape, &b.dtype),
            (&before.shape, &before.dtype),
            "{name}: buffer {key}"
        );
    }
    assert!(
        e.param_grads.len() + e.state_after.len() <= state.len(),
        "{name}: state"
    );
}

#[test]
fn layer_cases_are_well_formed() {
    assert!(!layers_torch_version().is_empty());
    let cases = all_layer_cases();
    let mut names = HashSet::new();
    let mut per_layer: BTreeMap<&str, usize> = BTreeMap::new();
    for case in cases {
        assert!(names.insert(case.name.as_str()), "duplicate case {}", case.name);
        assert!(
            ["float32", "float64", "int64"].contains(&case.dtype.as_str()),
            "{}: dtype",
            case.name
        );
        assert!(case.args.is_object(), "{}: args", case.name);
        *per_layer.entry(case.layer.as_str()).or_default() += 1;
        for (_, t) in case.state.iter().flatten() {
            check_converts(case, t);
        }
        for x in case.inputs.iter().flatten() {
            check_converts(case, x);
        }
        match &case.error {
            Some((message, kind)) => {
                assert!(
                    case.name.starts_with("error_"),
                    "{}: unexpected error {message}",
                    case.name
                );
                assert!(!message.is_empty() && !kind.is_empty(), "{}", case.name);
                assert!(case.steps.is_empty(), "{}", case.name);
            }
            None => {
                assert!(!case.name.starts_with("error_"), "{}: PyTorch did not fail", case.name);
                assert!(!case.steps.is_empty(), "{}", case.name);
                for (k, step) in case.steps.iter().enumerate() {
                    check_step(case, k, step);
                }
            }
        }
    }
    for layer in LAYERS {
        assert!(
            per_layer.get(layer).copied().unwrap_or(0) >= 3,
            "too few cases for {layer}"
        );
    }
    println!("{} cases: {per_layer:?}", cases.len());
}

/// The safetensors file's `(name, dtype, shape)` entries, sorted by name.
fn safetensors_entries(file: &str) -> Vec<(String, Dtype, Vec<usize>)> {
    let bytes = std::fs::read(fixture_path(file)).expect("safetensors fixture");
    let st = SafeTensors::deserialize(&bytes).expect("safetensors header");
    let mut entries: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.dtype(), view.shape().to_vec()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// Every gradient (and buffer) in the expected results names a tensor of the saved state dict
/// with the same shape, and together they cover it.
fn check_model(file: &str, grads: &Value, buffers: Option<&Value>, n_keys: usize) {
    let entries = safetensors_entries(file);
    assert_eq!(entries.len(), n_keys, "{file}: number of tensors");
    let mut covered = 0;
    for (name, t) in named_tensors(grads, "grads") {
        let (_, dtype, shape) = entries
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("{file}: no {name}"));
        assert_eq!((*dtype, shape), (Dtype::F32, &t.shape), "{file}: {name}");
        covered += 1;
    }
    for (name, t) in buffers.map(|b| named_tensors(b, "buffers")).unwrap_or_default() {
        let (_, dtype, shape) = entries
            .iter()
            .find(|e| e.0 == name)
            .unwrap_or_else(|| panic!("{file}: no {name}"));
        let want = if name.ends_with("num_batches_tracked") {
            Dtype::I64
        } else {
            Dtype::F32
        };
        assert_eq!((*dtype, shape), (want, &t.shape), "{file}: {name}");
        covered += 1;
    }
    assert_eq!(covered, n_keys, "{file}: gradients and buffers cover the state dict");
}

#[test]
fn model_fixtures_are_well_formed() {
    let m = models_expected();
    assert!(m["torch_version"].as_str().is_some_and(|v| !v.is_empty()));
    let cnn = &m["cnn"];
    assert_eq!(FixtureTensor::from_json(&cnn["input"]).shape, [4, 1, 8, 8]);
    assert_eq!(FixtureTensor::from_json(&cnn["targets"]).index_tensor().shape(), [4]);
    for mode in ["eval", "train"] {
        assert_eq!(FixtureTensor::from_json(&cnn[mode]["logits"]).f32().shape(), [4, 10]);
        assert!(FixtureTensor::from_json(&cnn[mode]["loss"]).shape.is_empty());
    }
    // 2 convolutions and the linear layer (weight, bias), 2 BatchNorms (5 entries each).
    check_model(
        "cnn_model.safetensors",
        &cnn["train"]["grads"],
        Some(&cnn["train"]["buffers_after"]),
        16,
    );

    let gpt = &m["gpt"];
    assert_eq!(FixtureTensor::from_json(&gpt["idx"]).index_tensor().shape(), [2, 8]);
    let targets = FixtureTensor::from_json(&gpt["targets"]);
    assert!(targets.ints().contains(&-1), "some targets are ignored");
    assert_eq!(FixtureTensor::from_json(&gpt["logits"]).f32().shape(), [2, 8, 11]);
    // wte, wpe, 2 blocks of 12, ln_f (2), lm_head.
    check_model("gpt_model.safetensors", &gpt["grads"], None, 29);
}

fn first_gelu_f32() -> &'static Case {
    layer_cases("GELU")
        .into_iter()
        .find(|c| c.name == "gelu_f32")
        .expect("gelu_f32")
}

#[test]
fn matcher_accepts_pytorch_values_and_records_the_largest_deviation() {
    let case = first_gelu_f32();
    let want = &case.single_step().expect("not an error case").expected.outputs[0];
    let mut m = Matcher::new();
    m.close(case, "output", &want.f32(), want);
    assert_eq!(m.worst.ratio, 0.0);
    let nudged: Vec<f32> = want.f32().to_vec().iter().map(|x| x * (1.0 + 2e-5)).collect();
    let nudged = ferrograd_tensor::Tensor::from_vec(nudged, &want.shape).unwrap();
    m.close(case, "output", &nudged, want);
    assert!(m.worst.ratio > 0.0 && m.worst.ratio < 1.0, "{}", m.summary());
    assert!(
        m.summary().starts_with("1 cases (2 comparisons), all matched"),
        "{}",
        m.summary()
    );
}

#[test]
#[should_panic(expected = "gelu_f32 output[4] (index [0, 4]): ferrograd")]
fn matcher_names_the_case_and_element_of_a_mismatch() {
    let case = first_gelu_f32();
    let want = &case.single_step().unwrap().expected.outputs[0];
    let mut got = want.f32().to_vec();
    got[4] += 1.0;
    let got = ferrograd_tensor::Tensor::from_vec(got, &want.shape).unwrap();
    Matcher::new().close(case, "output", &got, want);
}
