//! The PyTorch reference cases for the layers and tensor ops (`tests/fixtures/layers_cases.json`,
//! written by `tests/fixtures/generate_layers.py`) are well-formed: every tensor's data fills its
//! shape and converts, every gradient has its tensor's shape, every step is complete. The layers'
//! own tests compare ferrograd with these cases; this one needs no layer.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::fixtures::{all_layer_cases, layers_torch_version, Case, FixtureTensor, Step};

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
