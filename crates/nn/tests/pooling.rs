//! `MaxPool1d`, `MaxPool2d`, `AvgPool2d` and `AdaptiveAvgPool2d` against PyTorch's reference
//! cases (`layers_cases.json`), finite differences, and PyTorch's errors.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{differentiable_gradients, gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{
    adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool2d, max_pool2d_with_indices, AvgPoolOptions, Dims,
    MaxPoolOptions,
};
use ferrograd_nn::{AdaptiveAvgPool2d, AvgPool2d, Forward, MaxPool1d, MaxPool2d};
use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};
use serde_json::Value;

fn dims(case: &Case, key: &str, n: usize) -> Option<Dims> {
    case.arg_ints(key, n)
        .map(|v| Dims(v.into_iter().map(|x| x as usize).collect()))
}

fn max_options(case: &Case, n: usize) -> MaxPoolOptions {
    let mut o = MaxPoolOptions::new(dims(case, "kernel_size", n).unwrap());
    if let Some(s) = dims(case, "stride", n) {
        o = o.stride(s);
    }
    if let Some(p) = dims(case, "padding", n) {
        o = o.padding(p);
    }
    if let Some(d) = dims(case, "dilation", n) {
        o = o.dilation(d);
    }
    o.ceil_mode(case.arg_bool("ceil_mode").unwrap_or(false))
}

fn avg_options(case: &Case) -> AvgPoolOptions {
    let mut o = AvgPoolOptions::new(dims(case, "kernel_size", 2).unwrap());
    if let Some(s) = dims(case, "stride", 2) {
        o = o.stride(s);
    }
    if let Some(p) = dims(case, "padding", 2) {
        o = o.padding(p);
    }
    if let Some(d) = case.arg_i64("divisor_override") {
        o = o.divisor_override(d as usize);
    }
    o.ceil_mode(case.arg_bool("ceil_mode").unwrap_or(false))
        .count_include_pad(case.arg_bool("count_include_pad").unwrap_or(true))
}

fn adaptive_size(case: &Case) -> [Option<usize>; 2] {
    match &case.args["output_size"] {
        Value::Number(n) => [Some(n.as_u64().unwrap() as usize); 2],
        Value::Array(v) => [0, 1].map(|i| v[i].as_u64().map(|x| x as usize)),
        other => panic!("{}: output_size {other}", case.name),
    }
}

/// Runs a case's forward (values and, where PyTorch returned them, indices) and backward with
/// its upstream gradient, comparing with PyTorch; for an error case, compares the message.
fn run_case<T: Float>(m: &mut Matcher, case: &Case) {
    let x = Var::parameter(case.inputs[0].as_ref().unwrap().tensor::<T>());
    let result: Result<(Var<T>, Option<IndexTensor>)> = match case.layer.as_str() {
        "MaxPool1d" => MaxPool1d::with_options(max_options(case, 1))
            .forward_with_indices(&x)
            .map(|(y, i)| (y, Some(i))),
        "MaxPool2d" => MaxPool2d::with_options(max_options(case, 2))
            .forward_with_indices(&x)
            .map(|(y, i)| (y, Some(i))),
        "AvgPool2d" => AvgPool2d::with_options(avg_options(case))
            .forward(&x)
            .map(|y| (y, None)),
        _ => AdaptiveAvgPool2d::new(adaptive_size(case))
            .forward(&x)
            .map(|y| (y, None)),
    };
    let Some(step) = case.single_step() else {
        return m.error_contains(case, &result.unwrap_err().to_string());
    };
    let (out, indices) = result.unwrap();
    let e = &step.expected;
    m.close(case, "output", &out.to_tensor(), &e.outputs[0]);
    if let (Some(want), Some(got)) = (e.outputs.get(1), &indices) {
        m.equal_indices(case, "indices", got, want);
    }
    let up = Var::new(step.upstream[0].as_ref().unwrap().tensor::<T>());
    out.try_mul(&up).unwrap().sum().backward().unwrap();
    m.close(
        case,
        "input grad",
        &x.grad().unwrap(),
        e.input_grads[0].as_ref().unwrap(),
    );
}

fn conformance(layer: &str) {
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases(layer) {
        match case.dtype.as_str() {
            "float64" => run_case::<f64>(&mut m64, case),
            _ => run_case::<f32>(&mut m32, case),
        }
    }
    println!("{layer} f32: {}\n{layer} f64: {}", m32.summary(), m64.summary());
}

#[test]
fn max_pool1d_matches_pytorch() {
    conformance("MaxPool1d");
}

#[test]
fn max_pool2d_matches_pytorch() {
    conformance("MaxPool2d");
}

#[test]
fn avg_pool2d_matches_pytorch() {
    conformance("AvgPool2d");
}

#[test]
fn adaptive_avg_pool2d_matches_pytorch() {
    conformance("AdaptiveAvgPool2d");
}

#[test]
fn max_pool_sends_the_gradient_to_the_first_maximum_and_to_nan() -> Result<()> {
    // import torch; x = torch.tensor([[[[1., 1.], [1., 1.]]]], requires_grad=True)
    // torch.nn.functional.max_pool2d(x, 2).sum().backward(); x.grad  # [[1, 0], [0, 0]]
    let x = Var::parameter(Tensor::<f32>::ones(&[1, 1, 2, 2]));
    max_pool2d(&x, &MaxPoolOptions::new(2))?.sum().backward()?;
    assert_eq!(x.grad().unwrap().to_vec(), [1., 0., 0., 0.]);
    let x = Var::parameter(Tensor::<f32>::from_vec(vec![1., f32::NAN, 7., 2.], &[1, 1, 4])?);
    let y = max_pool1d(&x, &MaxPoolOptions::new(2))?;
    assert!(y.to_tensor().to_vec()[0].is_nan());
    y.sum().backward()?;
    assert_eq!(x.grad().unwrap().to_vec(), [0., 1., 1., 0.]);
    Ok(())
}

#[test]
fn gradients_match_finite_differences() -> Result<()> {
    // Distinct values, so that no window has a tie within the finite-difference step.
    let x: Vec<f64> = (0..2 * 3 * 6 * 5)
        .map(|i| ((i * 37) % 180) as f64 / 17.0 - 5.0)
        .collect();
    let x = Tensor::from_vec(x, &[2, 3, 6, 5])?;
    let opts = GradcheckOptions::default();
    for o in [
        MaxPoolOptions::new(2),
        MaxPoolOptions::new([3, 2]).stride(2).padding(1).ceil_mode(true),
        MaxPoolOptions::new(2).dilation([2, 1]).stride(1),
    ] {
        let r = gradcheck(|v| max_pool2d(&v[0], &o), std::slice::from_ref(&x), opts)?;
        assert!(r.passed, "{o:?}: {r}");
    }
    for o in [
        AvgPoolOptions::new(2),
        AvgPoolOptions::new(3).stride(2).padding(1).ceil_mode(true),
        AvgPoolOptions::new([3, 2]).padding([1, 0]).count_include_pad(false),
        AvgPoolOptions::new(2).padding(1).divisor_override(3),
    ] {
        let r = gradcheck(|v| avg_pool2d(&v[0], &o), std::slice::from_ref(&x), opts)?;
        assert!(r.passed, "{o:?}: {r}");
    }
    for size in [[Some(4), Some(3)], [Some(1), None], [Some(7), Some(2)]] {
        let r = gradcheck(|v| adaptive_avg_pool2d(&v[0], size), std::slice::from_ref(&x), opts)?;
        assert!(r.passed, "{size:?}: {r}");
    }
    let r = gradcheck(
        |v| max_pool1d(&v[0], &MaxPoolOptions::new(3).stride(2).padding(1)),
        &[x.reshape(&[2, 3, 30])?],
        opts,
    )?;
    assert!(r.passed, "max_pool1d: {r}");
    Ok(())
}

/// A pooling of an f64 input.
type Pool = dyn Fn(&Var<f64>) -> Result<Var<f64>>;

#[test]
fn second_derivatives_match_finite_differences() -> Result<()> {
    // gradgradcheck: the gradient of `sum(pool(x)²)`, recorded, checked against finite
    // differences. The finite-difference evaluations run under no_grad, so the gradient is
    // then taken of a fresh parameter at the same value.
    let x: Vec<f64> = (0..2 * 5 * 4).map(|i| ((i * 13) % 40) as f64 / 7.0 - 3.0).collect();
    let x = Tensor::from_vec(x, &[1, 2, 5, 4])?;
    let pools: [&Pool; 3] = [
        &|x| max_pool2d(x, &MaxPoolOptions::new(2).stride(1).padding(1)),
        &|x| avg_pool2d(x, &AvgPoolOptions::new(3).padding(1).stride(2).ceil_mode(true)),
        &|x| adaptive_avg_pool2d(x, [3, 3]),
    ];
    for (k, pool) in pools.iter().enumerate() {
        let r = gradcheck(
            |v| Ok(differentiable_gradients(|v| Ok(pool(&v[0])?.powf(2.0).sum()), v)?[0].clone()),
            std::slice::from_ref(&x),
            GradcheckOptions::default(),
        )?;
        assert!(r.passed, "pool {k}: {r}");
    }
    Ok(())
}

#[test]
fn indices_are_positions_in_the_plane() -> Result<()> {
    let x = Var::new(Tensor::<f32>::from_vec(
        (0..16).map(|v| v as f32).collect(),
        &[1, 4, 4],
    )?);
    let (y, i) = max_pool2d_with_indices(&x, &MaxPoolOptions::new(2))?;
    assert_eq!(y.to_tensor().to_vec(), [5., 7., 13., 15.]);
    assert_eq!(i.shape(), [1, 2, 2]);
    assert_eq!(i.to_vec(), [5, 7, 13, 15]);
    Ok(())
}

#[test]
fn bad_arguments_are_errors_in_pytorchs_words() {
    let msg = |r: Result<Var<f32>>| r.unwrap_err().to_string();
    let x = Var::new(Tensor::<f32>::zeros(&[1, 2, 8, 8]));
    let e = msg(max_pool2d(&x, &MaxPoolOptions::new(2).stride(0)));
    assert!(e.contains("stride should not be zero"), "{e}");
    let e = msg(max_pool2d(&x, &MaxPoolOptions::new(0)));
    assert!(e.contains("kernel_size must be greater than zero"), "{e}");
    let e = msg(max_pool1d(
        &Var::new(Tensor::zeros(&[1, 2, 8])),
        &MaxPoolOptions::new(2).padding(2),
    ));
    assert!(
        e.contains("max_pool1d() padding should be at most half of kernel size, but got padding=2 and kernel_size=2"),
        "{e}"
    );
    let e = msg(max_pool1d(&Var::new(Tensor::zeros(&[4])), &MaxPoolOptions::new(2)));
    assert!(
        e.contains(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:[4]"
        ),
        "{e}"
    );
    let e = msg(max_pool2d(&Var::new(Tensor::zeros(&[4])), &MaxPoolOptions::new(2)));
    assert!(
        e.contains("non-empty 3D or 4D (batch mode) tensor expected for input"),
        "{e}"
    );
    let e = msg(max_pool2d(&x, &MaxPoolOptions::new([2, 2, 2])));
    assert!(e.contains("kernel_size must be an int or a tuple of 2 ints"), "{e}");
    let e = msg(avg_pool2d(&x, &AvgPoolOptions::new(2).divisor_override(0)));
    assert!(e.contains("divisor must be not zero"), "{e}");
    let e = msg(adaptive_avg_pool2d(&Var::new(Tensor::zeros(&[1, 2, 0, 3])), 2));
    assert!(e.contains("Expected input to have non-zero size for non-batch dimensions, but input has sizes [1, 2, 0, 3] with dimension 2 being empty"), "{e}");
    let e = msg(adaptive_avg_pool2d(&x, 0));
    assert!(e.contains("output_size must be positive"), "{e}");
}
