//! The Monitor's statistics against PyTorch computing the same quantities on the same weights
//! and batch: `tests/fixtures/inspect_stats.json` and `inspect_model.safetensors`, written by
//! `tests/fixtures/generate_inspect.py` (one SGD step of a small character MLP).

use ferrograd_inspect::{LayerKind, Monitor, MonitorOptions, WarningKind};
use ferrograd_nn::{
    CrossEntropyLoss, Embedding, Flatten, Forward, Linear, Module, ReLU, Sequential, Sigmoid, StateDict, Tanh, SGD,
};
use ferrograd_tensor::{IndexTensor, Result};
use serde_json::Value;

fn fixture_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn model() -> Sequential {
    Sequential::new()
        .add(Embedding::new(27, 10, 0))
        .add(Flatten::default())
        .add(Linear::new(30, 64, 1))
        .add(Tanh)
        .add(Linear::new(64, 64, 2))
        .add(ReLU)
        .add(Linear::new(64, 32, 3))
        .add(Sigmoid)
        .add(Linear::new(32, 27, 4))
}

fn indices(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(a) => a.iter().flat_map(indices).collect(),
        v => vec![v.as_i64().unwrap()],
    }
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: {got} vs PyTorch {want}"
    );
}

fn opt_close(what: &str, got: Option<f64>, want: &Value, tol: f64) {
    match (got, want.as_f64()) {
        (Some(g), Some(w)) => close(what, g, w, tol),
        (None, None) => {}
        (g, w) => panic!("{what}: {g:?} vs PyTorch {w:?}"),
    }
}

#[test]
fn statistics_match_pytorch_on_the_same_weights_and_batch() -> Result<()> {
    // python3 tests/fixtures/generate_inspect.py
    let dir = fixture_dir();
    let f: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("inspect_stats.json")).unwrap()).unwrap();
    let model = model();
    model.load_state_dict(&StateDict::load_safetensors(dir.join("inspect_model.safetensors"))?)?;
    let x = IndexTensor::from_vec(indices(&f["x"]), &[32, 3])?;
    let y = IndexTensor::from_vec(indices(&f["y"]), &[32])?;
    let mut opt = SGD::new(model.parameters(), 0.1);
    let mut mon = Monitor::attach(&model, MonitorOptions::default());
    let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
    model.zero_grad();
    loss.backward()?;
    mon.step(&mut opt, loss.item()? as f64)?;
    let record = mon.record();
    let step = &record.steps[0];
    close("loss", step.loss.unwrap(), f["loss"].as_f64().unwrap(), 1e-5);

    let want = f["layers"].as_array().unwrap();
    assert_eq!(step.layers.len(), want.len());
    for (l, w) in step.layers.iter().zip(want) {
        let at = |what: &str| format!("layer {} ({}) {what}", l.layer, l.module_type);
        assert_eq!(l.layer, w["layer"].as_str().unwrap());
        assert_eq!(l.module_type, w["type"].as_str().unwrap());
        close(&at("mean"), l.mean, w["mean"].as_f64().unwrap(), 1e-5);
        close(&at("std"), l.std, w["std"].as_f64().unwrap(), 1e-5);
        // Fractions of whole elements: exactly PyTorch's.
        assert_eq!(l.saturated, w["saturated"].as_f64(), "{}", at("saturated"));
        assert_eq!(l.dead, w["dead"].as_f64(), "{}", at("dead"));
        opt_close(&at("grad mean"), l.grad_mean, &w["grad_mean"], 1e-4);
        opt_close(&at("grad std"), l.grad_std, &w["grad_std"], 1e-4);
        let hist = l.hist.as_ref().expect("step 0 is a histogram step");
        assert_eq!(
            hist.counts.iter().sum::<u64>() as usize,
            l.shape.iter().product::<usize>()
        );
    }
    assert_eq!(step.layers[3].kind, LayerKind::Tanh);

    let want = f["params"].as_array().unwrap();
    assert_eq!(step.params.len(), want.len());
    for (p, w) in step.params.iter().zip(want) {
        assert_eq!(p.name, w["name"].as_str().unwrap());
        close(
            &format!("{} data std", p.name),
            p.data_std,
            w["data_std"].as_f64().unwrap(),
            1e-6,
        );
        opt_close(&format!("{} grad std", p.name), p.grad_std, &w["grad_std"], 1e-4);
        opt_close(
            &format!("{} grad:data", p.name),
            p.grad_data_ratio,
            &w["grad_data_ratio"],
            1e-4,
        );
        // An update is a difference of nearby f32 numbers: a few ulps of the data each.
        let (got, want) = (p.update_ratio_log10.unwrap(), w["update_ratio_log10"].as_f64().unwrap());
        assert!(
            (got - want).abs() < 1e-3,
            "{} update ratio: {got} vs PyTorch {want}",
            p.name
        );
    }

    // The saturated tanh and the dead ReLU units are named.
    let warned: Vec<(&str, WarningKind)> = record.warnings.iter().map(|w| (w.layer.as_str(), w.kind)).collect();
    assert!(
        warned.contains(&("3", WarningKind::Saturation)),
        "{:#?}",
        record.warnings
    );
    assert!(
        warned.contains(&("5", WarningKind::DeadUnits)),
        "{:#?}",
        record.warnings
    );
    assert!(record
        .warnings
        .iter()
        .all(|w| w.step == 0 && w.message.starts_with("step 0: ")));
    Ok(())
}
