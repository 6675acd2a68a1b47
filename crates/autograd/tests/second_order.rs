//! Second derivatives through `grad(..., create_graph = true)`: closed forms, finite
//! differences of the first derivative (gradgradcheck), and PyTorch's numbers.

use crate::common;

use common::{check_second, pos, randn, t};
use ferrograd_autograd::{grad, gradgradcheck, GradcheckOptions, Var};
use ferrograd_tensor::{Result, Tensor};
use serde_json::Value;

/// The first derivative of `f(x).sum()` (recorded) and the derivative of its sum: for an
/// elementwise `f`, `f'` and `f''` at every element.
fn first_and_second(f: impl Fn(&Var<f64>) -> Var<f64>, x: &Tensor<f64>) -> (Vec<f64>, Vec<f64>) {
    let x = Var::parameter(x.clone());
    let g = grad(&[f(&x).sum()], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    assert!(g.requires_grad(), "create_graph must record the gradient");
    let h = grad(&[g.sum()], &[x], None, false).unwrap()[0].clone().unwrap();
    (g.to_tensor().to_vec(), h.to_tensor().to_vec())
}

#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * e.abs().max(1.0),
            "element {i}: {a} vs {e}\n{actual:?}\n{expected:?}"
        );
    }
}

#[test]
fn elementwise_closed_forms() {
    let x = t(&[-1.3, -0.4, 0.2, 0.9, 1.7], &[5]);
    let xs = x.to_vec();
    type Op = fn(&Var<f64>) -> Var<f64>;
    type ClosedForm = fn(f64) -> (f64, f64);
    let cases: [(&str, Op, ClosedForm); 5] = [
        ("exp", |v| v.exp(), |x| (x.exp(), x.exp())),
        (
            "tanh",
            |v| v.tanh(),
            |x| {
                let th = x.tanh();
                (1.0 - th * th, -2.0 * th * (1.0 - th * th))
            },
        ),
        (
            "sigmoid",
            |v| v.sigmoid(),
            |x| {
                let s = 1.0 / (1.0 + (-x).exp());
                (s * (1.0 - s), s * (1.0 - s) * (1.0 - 2.0 * s))
            },
        ),
        ("powf(3)", |v| v.powf(3.0), |x| (3.0 * x * x, 6.0 * x)),
        (
            "x*x*x",
            |v| v.try_mul(v).unwrap().try_mul(v).unwrap(),
            |x| (3.0 * x * x, 6.0 * x),
        ),
    ];
    for (name, f, closed) in cases {
        let (g, h) = first_and_second(f, &x);
        let (eg, eh): (Vec<f64>, Vec<f64>) = xs.iter().map(|&x| closed(x)).unzip();
        println!("{name}");
        assert_close(&g, &eg, 1e-12);
        assert_close(&h, &eh, 1e-12);
    }
    let p = t(&[0.3, 0.8, 1.5, 2.5], &[4]);
    let ps = p.to_vec();
    let (g, h) = first_and_second(|v| v.log(), &p);
    assert_close(&g, &ps.iter().map(|x| 1.0 / x).collect::<Vec<_>>(), 1e-12);
    assert_close(&h, &ps.iter().map(|x| -1.0 / (x * x)).collect::<Vec<_>>(), 1e-12);
    for e in [0.5, -1.0, 2.5] {
        let (g, h) = first_and_second(|v| v.powf(e), &p);
        assert_close(&g, &ps.iter().map(|x| e * x.powf(e - 1.0)).collect::<Vec<_>>(), 1e-12);
        let h2: Vec<f64> = ps.iter().map(|x| e * (e - 1.0) * x.powf(e - 2.0)).collect();
        assert_close(&h, &h2, 1e-12);
    }
    let (_, h) = first_and_second(|v| v.sqrt(), &p);
    assert_close(&h, &ps.iter().map(|x| -0.25 * x.powf(-1.5)).collect::<Vec<_>>(), 1e-12);
}

#[test]
fn mul_of_two_inputs_has_the_cross_hessian() {
    // f = Σ x·y: d²f/dx dy = I, d²f/dx² = 0.
    let x = Var::parameter(randn(&[3], 1));
    let y = Var::parameter(randn(&[3], 2));
    let f = x.try_mul(&y).unwrap().sum();
    let gx = grad(&[f], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(gx.to_tensor(), y.to_tensor());
    let seed = t(&[1.0, 0.0, 0.0], &[3]);
    let h = grad(&[gx], &[x.clone(), y.clone()], Some(vec![seed]), false).unwrap();
    assert!(h[0].is_none(), "d²f/dx² is identically zero: x is unused by dx");
    assert_eq!(h[1].as_ref().unwrap().to_tensor().to_vec(), vec![1.0, 0.0, 0.0]);
}

/// A fixed weighting, so that the functions below are not symmetric in their outputs.
fn weights(shape: &[usize]) -> Var<f64> {
    Var::new(randn(shape, 99))
}

#[test]
fn gradgradcheck_elementwise_and_mul() {
    check_second(
        |v| Ok(v[0].exp().try_mul(&weights(&[2, 3]))?.sum()),
        &[randn(&[2, 3], 3)],
    );
    check_second(
        |v| Ok(v[0].tanh().try_mul(&weights(&[2, 3]))?.sum()),
        &[randn(&[2, 3], 4)],
    );
    check_second(
        |v| Ok(v[0].sigmoid().try_mul(&weights(&[2, 3]))?.sum()),
        &[randn(&[2, 3], 5)],
    );
    check_second(|v| Ok(v[0].log().try_mul(&weights(&[2, 3]))?.sum()), &[pos(&[2, 3], 6)]);
    for p in [0.5, 2.0, 3.0, -1.0] {
        check_second(|v| Ok(v[0].powf(p).try_mul(&weights(&[4]))?.sum()), &[pos(&[4], 7)]);
    }
    check_second(|v| Ok(v[0].sqrt().try_mul(&weights(&[4]))?.sum()), &[pos(&[4], 8)]);
    check_second(
        |v| Ok(v[0].try_div(&v[1])?.try_mul(&v[0])?.sum()),
        &[randn(&[3, 1], 9), pos(&[4], 10)],
    );
    check_second(
        |v| Ok(v[0].try_mul(&v[1])?.try_mul(&v[1])?.sum()),
        &[randn(&[2, 3], 11), randn(&[3], 12)],
    );
}

#[test]
fn gradgradcheck_softmax_matmul_and_reductions() {
    let w = || weights(&[3, 4]);
    for dim in [0, 1, -1] {
        check_second(|v| Ok(v[0].softmax(dim)?.try_mul(&w())?.sum()), &[randn(&[3, 4], 20)]);
        check_second(
            |v| Ok(v[0].log_softmax(dim)?.try_mul(&w())?.sum()),
            &[randn(&[3, 4], 21)],
        );
    }
    check_second(|v| Ok(v[0].logsumexp(1, false)?.powf(2.0).sum()), &[randn(&[3, 4], 22)]);
    // matmul is bilinear: its Hessian couples the two operands only.
    check_second(
        |v| Ok(v[0].matmul(&v[1])?.tanh().try_mul(&weights(&[3, 2]))?.sum()),
        &[randn(&[3, 4], 23), randn(&[4, 2], 24)],
    );
    check_second(
        |v| Ok(v[0].matmul(&v[1])?.powf(2.0).sum()),
        &[randn(&[2, 3, 4], 25), randn(&[4, 2], 26)],
    );
    check_second(|v| Ok(v[0].matmul(&v[0])?.powf(3.0)), &[randn(&[5], 27)]);
    // linear (x·Wᵀ + b): bilinear in the input and the weight, linear in the bias.
    check_second(
        |v| {
            Ok(v[0]
                .linear(&v[1], Some(&v[2]))?
                .tanh()
                .try_mul(&weights(&[3, 2]))?
                .sum())
        },
        &[randn(&[3, 4], 31), randn(&[2, 4], 32), randn(&[2], 33)],
    );
    // An MLP-like composition through every kind of op.
    check_second(
        |v| {
            let h = v[1].matmul(&v[0])?.try_add(&v[2])?.tanh();
            let logits = h.transpose(0, 1)?;
            Ok(logits
                .log_softmax(-1)?
                .gather(
                    1,
                    &ferrograd_tensor::IndexTensor::from_slice(&[0, 2, 1]).reshape(&[3, 1])?,
                )?
                .mean())
        },
        &[randn(&[4, 3], 28), randn(&[3, 4], 29), randn(&[3, 1], 30)],
    );
}

fn tensor_of(v: &Value) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect();
    Tensor::from_vec(data, &shape).unwrap()
}

fn fixture_case(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/nn_reference.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = all["second_order"].as_array().unwrap();
    cases
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

#[test]
fn pytorch_hessian_of_tanh_cubed() {
    // (x.tanh()**3 * w).sum(), its gradient and its full Hessian, from PyTorch in float64.
    let case = fixture_case("tanh_cubed_weighted_sum");
    let x = Var::parameter(tensor_of(&case["x"]));
    let w = Var::new(tensor_of(&case["w"]));
    let f: Var<f64> = x.tanh().powf(3.0).try_mul(&w).unwrap().sum();
    assert_close(&f.to_tensor().to_vec(), &tensor_of(&case["value"]).to_vec(), 1e-10);
    let g = grad(&[f], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    assert_close(&g.to_tensor().to_vec(), &tensor_of(&case["grad"]).to_vec(), 1e-10);
    let n = x.numel();
    let mut hessian = Vec::new();
    for i in 0..n {
        let mut e = vec![0.0; n];
        e[i] = 1.0;
        let row = grad(
            std::slice::from_ref(&g),
            std::slice::from_ref(&x),
            Some(vec![t(&e, &[n])]),
            false,
        )
        .unwrap();
        hessian.extend(row[0].as_ref().unwrap().to_tensor().to_vec());
    }
    let expected = tensor_of(&case["hessian"]);
    assert_eq!(expected.shape(), &[n, n]);
    assert_close(&hessian, &expected.to_vec(), 1e-10);
}

#[test]
fn pytorch_elementwise_second_derivatives() {
    type Op = fn(&Var<f64>) -> Result<Var<f64>>;
    let cases: [(&str, Op); 3] = [
        ("sigmoid_sum", |x| Ok(x.sigmoid().sum())),
        ("cube_sum", |x| Ok(x.try_mul(x)?.try_mul(x)?.sum())),
        ("exp_log_sum", |x| Ok(x.exp().try_mul(&x.log())?.sum())),
    ];
    for (name, f) in cases {
        let case = fixture_case(name);
        let x = Var::parameter(tensor_of(&case["x"]));
        let y = f(&x).unwrap();
        assert_close(&y.to_tensor().to_vec(), &tensor_of(&case["value"]).to_vec(), 1e-10);
        let g = grad(&[y], std::slice::from_ref(&x), None, true).unwrap()[0]
            .clone()
            .unwrap();
        assert_close(&g.to_tensor().to_vec(), &tensor_of(&case["grad"]).to_vec(), 1e-10);
        let h = grad(&[g.sum()], std::slice::from_ref(&x), None, false).unwrap()[0]
            .clone()
            .unwrap();
        assert_close(
            &h.to_tensor().to_vec(),
            &tensor_of(&case["second_derivative"]).to_vec(),
            1e-10,
        );
    }
}

#[test]
fn gradients_without_create_graph_are_constants() {
    let x = Var::parameter(randn(&[3], 40));
    let g = grad(&[x.exp().sum()], std::slice::from_ref(&x), None, false).unwrap()[0]
        .clone()
        .unwrap();
    assert!(!g.requires_grad() && g.is_leaf());
    assert_eq!(g.to_tensor(), x.to_tensor().exp());
}

#[test]
fn gradgradcheck_detects_a_rule_that_cannot_be_differentiated() {
    // tanh whose rule computes 1 - tanh² as a constant: a right first derivative, and a
    // second derivative of zero.
    fn tanh_const(x: &Var<f64>) -> Var<f64> {
        let out = x.value().tanh();
        Var::from_op("TanhConst", out, vec![x.clone()], |g, out, _| {
            let d = out.value().mul(&out.value())?.neg().add_scalar(1.0);
            Ok(vec![Some(g.try_mul(&Var::new(d))?)])
        })
    }
    let x = [randn(&[3], 50)];
    common::check(|v| Ok(tanh_const(&v[0])), &x);
    let f = |v: &[Var<f64>]| Ok(tanh_const(&v[0]).sum());
    let report = gradgradcheck(f, &x, GradcheckOptions::default()).unwrap();
    assert!(!report.passed, "{report}");
    check_second(|v| Ok(v[0].tanh().sum()), &x);
}

#[test]
fn differentiable_gradients_are_zeros_for_an_unused_input_and_need_one_element() {
    use ferrograd_autograd::differentiable_gradients;
    let (x, unused) = (Var::parameter(randn(&[3], 61)), Var::parameter(randn(&[2, 2], 62)));
    let g = differentiable_gradients(|v| Ok(v[0].powf(3.0).sum()), &[x.clone(), unused]).unwrap();
    let close = |got: Vec<f64>, want: Vec<f64>| got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12);
    let want: Vec<f64> = x.to_tensor().to_vec().iter().map(|v| 3.0 * v * v).collect();
    assert!(close(g[0].to_tensor().to_vec(), want));
    assert_eq!((g[1].shape(), g[1].to_tensor().to_vec()), (vec![2, 2], vec![0.0; 4]));
    // Recorded: the gradient has a gradient of its own, 6x.
    let second = grad(&[g[0].sum()], std::slice::from_ref(&x), None, false).unwrap();
    let six: Vec<f64> = x.to_tensor().to_vec().iter().map(|v| 6.0 * v).collect();
    assert!(close(second[0].as_ref().unwrap().to_tensor().to_vec(), six));
    // A function of more than one element has no implicit gradient: an error, as in PyTorch.
    let err = differentiable_gradients(|v| Ok(v[0].mul_scalar(2.0)), &[x]).unwrap_err();
    assert!(err.to_string().contains("scalar"), "{err}");
}
