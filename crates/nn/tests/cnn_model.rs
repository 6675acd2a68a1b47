//! A small PyTorch CNN (Conv2d-BatchNorm2d-ReLU-MaxPool2d twice, then Linear), written as a
//! `Sequential` in ferrograd, loads PyTorch's safetensors file and reproduces its logits and
//! loss in eval and train mode, every parameter gradient and the running statistics after the
//! training forward. The file and the expected values come from
//! `tests/fixtures/generate_models.py` (`cnn()`), run with real PyTorch.

use crate::common;

use common::fixture_path;
use common::fixtures::{models_expected, named_tensors, FixtureTensor};
use ferrograd_autograd::Var;
use ferrograd_nn::functional::{cross_entropy, ConvOptions};
use ferrograd_nn::{
    BatchNorm2d, Conv2d, Flatten, Forward, Linear, MaxPool2d, Module, ReLU, Sequential, StateDict, StateValue,
};
use ferrograd_tensor::{Result, Tensor};

/// `nn.Sequential(Conv2d(1, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2),
/// Conv2d(8, 16, 3, padding=1), BatchNorm2d(16), ReLU(), MaxPool2d(2), Flatten(),
/// Linear(16*2*2, 10))`
fn cnn() -> Result<Sequential> {
    let conv = |cin, cout, seed| Conv2d::with_options(cin, cout, 3, ConvOptions::default().padding(1), true, seed);
    Ok(Sequential::new()
        .add(conv(1, 8, 0)?)
        .add(BatchNorm2d::new(8))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(conv(8, 16, 1)?)
        .add(BatchNorm2d::new(16))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten::default())
        .add(Linear::new(16 * 2 * 2, 10, 2)))
}

/// Asserts `got` is within `atol + rtol·|want|` of PyTorch's float32 values; returns the
/// largest deviation.
fn assert_close(what: &str, got: &[f32], want: &FixtureTensor) -> f64 {
    let want = want.values();
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, PyTorch {}",
        got.len(),
        want.len()
    );
    let mut worst = 0.0f64;
    for (i, (&g, w)) in got.iter().zip(want).enumerate() {
        let dev = (g as f64 - w).abs();
        assert!(dev <= 1e-5 + 1e-4 * w.abs(), "{what}[{i}]: ferrograd {g}, PyTorch {w}");
        worst = worst.max(dev);
    }
    worst
}

fn loaded() -> Result<Sequential> {
    let model = cnn()?;
    let sd = StateDict::<f32>::load_safetensors(fixture_path("cnn_model.safetensors"))?;
    model.load_state_dict(&sd)?;
    Ok(model)
}

#[test]
fn the_pytorch_cnn_gives_pytorchs_logits_loss_gradients_and_running_statistics() -> Result<()> {
    let expected = &models_expected()["cnn"];
    let x = Var::new(FixtureTensor::from_json(&expected["input"]).f32());
    let targets = FixtureTensor::from_json(&expected["targets"]).index_tensor();
    let mut worst = 0.0f64;

    // model.eval(): the running statistics saved in the file.
    let model = loaded()?;
    let sd = model.state_dict();
    assert_eq!(sd.len(), 16, "PyTorch's state_dict has 16 entries");
    assert!(matches!(sd.value("1.num_batches_tracked"), Some(StateValue::Int(_))));
    model.eval();
    let logits = model.forward(&x)?;
    let eval = &expected["eval"];
    worst = worst.max(assert_close(
        "eval logits",
        &logits.to_tensor().to_vec(),
        &FixtureTensor::from_json(&eval["logits"]),
    ));
    let loss = cross_entropy(&logits, &targets)?;
    worst = worst.max(assert_close(
        "eval loss",
        &[loss.item()?],
        &FixtureTensor::from_json(&eval["loss"]),
    ));

    // model.train(): batch statistics, running statistics updated, gradients.
    let model = loaded()?;
    let train = &expected["train"];
    let logits = model.forward(&x)?;
    worst = worst.max(assert_close(
        "train logits",
        &logits.to_tensor().to_vec(),
        &FixtureTensor::from_json(&train["logits"]),
    ));
    let loss = cross_entropy(&logits, &targets)?;
    worst = worst.max(assert_close(
        "train loss",
        &[loss.item()?],
        &FixtureTensor::from_json(&train["loss"]),
    ));
    loss.backward()?;
    let params = model.named_parameters();
    let grads = named_tensors(&train["grads"], "cnn grads");
    assert_eq!(grads.len(), params.len());
    for (name, want) in &grads {
        let (_, p) = params
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        worst = worst.max(assert_close(&format!("grad {name}"), &p.grad().unwrap().to_vec(), want));
    }
    let buffers = model.state_dict();
    for (name, want) in named_tensors(&train["buffers_after"], "cnn buffers") {
        match buffers.value(&name) {
            Some(StateValue::Float(t)) => worst = worst.max(assert_close(&name, &t.to_vec(), &want)),
            Some(StateValue::Int(t)) => assert_eq!(t.to_vec(), want.ints(), "{name}"),
            None => panic!("no buffer {name}"),
        }
    }
    println!("cnn model: every value within tolerance of PyTorch, largest deviation {worst:e}");
    Ok(())
}

#[test]
fn the_state_dict_saved_by_ferrograd_reloads_to_the_same_outputs() -> Result<()> {
    let model = loaded()?;
    model.eval();
    let x = Var::new(Tensor::<f32>::randn(&[2, 1, 8, 8], 5));
    let before = model.forward(&x)?.to_tensor();
    let other = cnn()?;
    other.load_state_dict(&StateDict::from_safetensors_bytes(
        &model.state_dict().to_safetensors_bytes()?,
    )?)?;
    other.eval();
    assert_eq!(other.forward(&x)?.to_tensor(), before);
    Ok(())
}
