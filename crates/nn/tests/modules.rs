//! Layers against PyTorch: every `modules` case of `tests/fixtures/nn_reference.json`
//! (output, input gradient and parameter gradients for a given output gradient, float64),
//! the Hessian-vector product of a small MLP's cross-entropy (`second_order`), a
//! finite-difference check of `Linear`, and how `Sequential` names and switches its layers.

use crate::common;

use common::{assert_close, fixture, index_tensor, state_dict, tensor};
use ferrograd_autograd::{grad, gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{cross_entropy_with, CrossEntropyOptions};
use ferrograd_nn::{Dropout, Flatten, Forward, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid, Tanh};
use ferrograd_tensor::Tensor;
use serde_json::Value;

/// Same formulas in the same order as PyTorch in f64, up to the summation order of matmul.
const RTOL: f64 = 1e-12;
/// Where a derivative cancels (`1 - tanh²` near saturation: 1.7e-7 at x = 7.5), a last-bit
/// difference between PyTorch's vectorised `tanh` and Rust's is ~1e-16 absolute, which is
/// 1e-9 relative there; so 1e-15 absolute on top.
const ATOL: f64 = 1e-15;

fn module(case: &Value) -> Box<dyn Forward<Var<f64>, f64, Output = Var<f64>>> {
    let params = &case["params"];
    match case["module"].as_str().unwrap() {
        "linear" => {
            let bias = params.get("bias").map(tensor);
            Box::new(Linear::from_tensors(tensor(&params["weight"]), bias).unwrap())
        }
        "relu" => Box::new(ReLU),
        "leaky_relu" => Box::new(LeakyReLU::new(params["negative_slope"].as_f64().unwrap())),
        "tanh" => Box::new(Tanh),
        "sigmoid" => Box::new(Sigmoid),
        "flatten" => {
            let dim = |k: &str| params[k].as_i64().unwrap() as isize;
            Box::new(Flatten::new(dim("start_dim"), dim("end_dim")))
        }
        other => panic!("unknown module {other}"),
    }
}

#[test]
fn every_module_case_matches_pytorch() {
    let doc = fixture("nn_reference.json");
    let cases = doc["modules"].as_array().unwrap();
    assert_eq!(cases.len(), 13);
    let mut worst = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let m = module(case);
        let x = Var::parameter(tensor::<f64>(&case["input"]));
        let out = m.forward(&x).unwrap();
        out.backward_with(&tensor(&case["grad_output"])).unwrap();
        worst = worst.max(assert_close(
            &format!("{name}: output"),
            &out.to_tensor(),
            &case["output"],
            RTOL,
            ATOL,
        ));
        let gx = x.grad().unwrap();
        worst = worst.max(assert_close(
            &format!("{name}: input_grad"),
            &gx,
            &case["input_grad"],
            RTOL,
            ATOL,
        ));
        let want_grads = case["param_grads"].as_object().unwrap();
        let params = m.named_parameters();
        assert_eq!(params.len(), want_grads.len(), "{name}: parameters");
        for (pname, p) in params {
            let what = format!("{name}: {pname}.grad");
            worst = worst.max(assert_close(&what, &p.grad().unwrap(), &want_grads[&pname], RTOL, ATOL));
        }
    }
    println!("modules: largest relative deviation {worst:.2e}");
}

#[test]
fn hessian_vector_product_of_an_mlp_matches_pytorch() {
    // grads = autograd.grad(loss, params, create_graph=True);
    // hvp = autograd.grad(Σ (grads[i]·v[i]).sum(), params)
    let doc = fixture("nn_reference.json");
    let case = doc["second_order"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mlp_2_3_2_cross_entropy_hvp")
        .unwrap();
    let mlp: Sequential<f64> = Sequential::new()
        .add(Linear::new(2, 3, 0))
        .add(Tanh)
        .add(Linear::new(3, 2, 1));
    mlp.load_state_dict(&state_dict(&case["state_dict"])).unwrap();
    let (names, params): (Vec<String>, Vec<Var<f64>>) = mlp.named_parameters().into_iter().unzip();
    let x = Var::new(tensor::<f64>(&case["x"]));
    let loss = cross_entropy_with(
        &mlp.forward(&x).unwrap(),
        &index_tensor(&case["y"]),
        &CrossEntropyOptions::default(),
    )
    .unwrap();
    assert_close("loss", &loss.to_tensor(), &case["loss"], RTOL, 0.0);

    let grads = grad(&[loss], &params, None, true).unwrap();
    let mut dot = Var::new(Tensor::scalar(0.0));
    for (name, g) in names.iter().zip(&grads) {
        let g = g.as_ref().unwrap();
        assert_close(&format!("grad {name}"), &g.to_tensor(), &case["grad"][name], RTOL, 0.0);
        dot = dot
            .try_add(&g.try_mul(&Var::new(tensor(&case["v"][name]))).unwrap().sum())
            .unwrap();
    }
    let hvp = grad(&[dot], &params, None, false).unwrap();
    let mut worst = 0.0f64;
    for (name, h) in names.iter().zip(&hvp) {
        let h = h.as_ref().unwrap().to_tensor();
        worst = worst.max(assert_close(&format!("hvp {name}"), &h, &case["hvp"][name], RTOL, ATOL));
    }
    println!("hvp: largest relative deviation {worst:.2e}");
}

#[test]
fn linear_gradients_match_finite_differences() {
    let x = Tensor::<f64>::randn(&[3, 4], 1);
    let (w, b) = (Tensor::<f64>::randn(&[5, 4], 2), Tensor::<f64>::randn(&[5], 3));
    let f = |v: &[Var<f64>]| {
        let layer = Linear {
            weight: v[1].clone(),
            bias: Some(v[2].clone()),
        };
        layer.forward(&v[0])
    };
    let report = gradcheck(f, &[x.clone(), w.clone(), b], GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
    let batched = |v: &[Var<f64>]| {
        Linear {
            weight: v[1].clone(),
            bias: None,
        }
        .forward(&v[0])
    };
    let x3 = Tensor::<f64>::randn(&[2, 3, 4], 4);
    let report = gradcheck(batched, &[x3, w], GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
}

#[test]
fn defaults_are_pytorchs() {
    assert_eq!(LeakyReLU::default().negative_slope, 0.01);
    assert_eq!(Flatten::default(), Flatten::new(1, -1));
    let x = Var::new(Tensor::<f32>::zeros(&[2, 3, 4]));
    assert_eq!(Flatten::default().forward(&x).unwrap().shape(), vec![2, 12]);
    assert!(Flatten::default()
        .forward(&Var::new(Tensor::<f32>::zeros(&[5])))
        .is_err());
    assert!(Flatten::new(2, 1).forward(&x).is_err());
}

#[test]
fn sequential_names_parameters_by_position_and_switches_every_layer() {
    let model: Sequential = Sequential::new()
        .add(Linear::new(4, 3, 0))
        .add(Dropout::new(0.5, 0).unwrap())
        .add(LeakyReLU::default())
        .add(Linear::with_rng(
            3,
            2,
            false,
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
        ));
    let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight"]);
    let x = Var::new(Tensor::randn(&[8, 4], 2));
    model.eval();
    let (a, b) = (
        model.forward(&x).unwrap().to_tensor(),
        model.forward(&x).unwrap().to_tensor(),
    );
    assert_eq!(a, b, "no dropout in eval mode");
    model.train();
    assert_ne!(model.forward(&x).unwrap().to_tensor(), a, "dropout in training mode");
}
