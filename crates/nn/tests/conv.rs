//! `Conv1d` / `Conv2d` and `F.conv1d` / `F.conv2d` against PyTorch's reference cases
//! (`layers_cases.json`), finite differences (first and second order), and PyTorch's errors.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{differentiable_gradients, gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{conv1d, conv2d, ConvOptions, Dims, Padding};
use ferrograd_nn::{Conv1d, Conv2d, Forward, Module};
use ferrograd_tensor::{Float, Result, Tensor};

fn dims(case: &Case, key: &str, n: usize) -> Option<Dims> {
    case.arg_ints(key, n)
        .map(|v| Dims(v.into_iter().map(|x| x as usize).collect()))
}

/// The options of a case's constructor arguments.
fn options(case: &Case, n: usize) -> ConvOptions {
    let mut o = ConvOptions::default();
    if let Some(s) = dims(case, "stride", n) {
        o = o.stride(s);
    }
    if let Some(d) = dims(case, "dilation", n) {
        o = o.dilation(d);
    }
    if let Some(p) = case.arg_str("padding") {
        o = o.padding(Padding::parse(p).unwrap());
    } else if let Some(p) = dims(case, "padding", n) {
        o = o.padding(p);
    }
    if let Some(g) = case.arg_i64("groups") {
        o = o.groups(g as usize);
    }
    o
}

/// Builds the layer of a case (its weights from `state`), runs forward and backward with the
/// case's upstream gradient, and compares everything PyTorch recorded; for an error case,
/// checks that construction or forward fails with PyTorch's message.
fn run_case<T: Float, M: Module<T> + Forward<Var<T>, T, Output = Var<T>>>(
    m: &mut Matcher,
    case: &Case,
    build: impl Fn(usize, usize, Dims, ConvOptions, bool) -> Result<M>,
) {
    let n = if case.layer == "Conv1d" { 1 } else { 2 };
    let layer = build(
        case.arg_i64("in_channels").unwrap() as usize,
        case.arg_i64("out_channels").unwrap() as usize,
        dims(case, "kernel_size", n).unwrap(),
        options(case, n),
        case.arg_bool("bias").unwrap_or(true),
    );
    let x = Var::parameter(case.inputs[0].as_ref().unwrap().tensor::<T>());
    let layer = match layer {
        Ok(layer) => layer,
        Err(e) => return m.error_contains(case, &e.to_string()),
    };
    if let Some(state) = &case.state {
        for (name, p) in layer.named_parameters() {
            let (_, t) = state.iter().find(|(k, _)| *k == name).expect("state entry");
            *p.value_mut() = t.tensor();
        }
    }
    let out = layer.forward(&x);
    let Some(step) = case.single_step() else {
        return m.error_contains(case, &out.unwrap_err().to_string());
    };
    let out = out.unwrap();
    let e = &step.expected;
    m.close(case, "output", &out.to_tensor(), &e.outputs[0]);
    let up = Var::new(step.upstream[0].as_ref().unwrap().tensor::<T>());
    out.try_mul(&up).unwrap().sum().backward().unwrap();
    m.close(
        case,
        "input grad",
        &x.grad().unwrap(),
        e.input_grads[0].as_ref().unwrap(),
    );
    for (name, p) in layer.named_parameters() {
        let want = e.param_grad(&name).expect("parameter gradient");
        m.close(case, &format!("{name} grad"), &p.grad().unwrap(), want);
    }
    assert_eq!(layer.named_parameters().len(), e.param_grads.len(), "{}", case.name);
}

/// Runs every case of `layer`; returns the record of the f32 and of the f64 cases.
fn conformance(layer: &str) -> [Matcher; 2] {
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases(layer) {
        let f64_case = case.dtype == "float64";
        match (layer, f64_case) {
            ("Conv1d", false) => run_case::<f32, _>(&mut m32, case, |i, o, k, opts, b| {
                Conv1d::with_options(i, o, k, opts, b, 0)
            }),
            ("Conv1d", true) => run_case::<f64, _>(&mut m64, case, |i, o, k, opts, b| {
                Conv1d::with_options(i, o, k, opts, b, 0)
            }),
            (_, false) => run_case::<f32, _>(&mut m32, case, |i, o, k, opts, b| {
                Conv2d::with_options(i, o, k, opts, b, 0)
            }),
            (_, true) => run_case::<f64, _>(&mut m64, case, |i, o, k, opts, b| {
                Conv2d::with_options(i, o, k, opts, b, 0)
            }),
        }
    }
    [m32, m64]
}

#[test]
fn conv1d_matches_pytorch() {
    let [m32, m64] = conformance("Conv1d");
    println!("Conv1d f32: {}\nConv1d f64: {}", m32.summary(), m64.summary());
}

#[test]
fn conv2d_matches_pytorch() {
    let [m32, m64] = conformance("Conv2d");
    println!("Conv2d f32: {}\nConv2d f64: {}", m32.summary(), m64.summary());
}

#[test]
fn gradients_match_finite_differences() -> Result<()> {
    let cases = [
        ConvOptions::default(),
        ConvOptions::default().stride([2, 1]).padding([1, 2]),
        ConvOptions::default().padding(Padding::Same).dilation([2, 1]),
        ConvOptions::default().groups(2).padding(1),
        ConvOptions::default().groups(4).stride(2),
    ];
    for opts in &cases {
        let out_c = if opts.groups == 4 { 4 } else { 2 };
        let inputs = [
            Tensor::<f64>::randn(&[2, 4, 5, 4], 1),
            Tensor::randn(&[out_c, 4 / opts.groups, 3, 2], 2),
            Tensor::randn(&[out_c], 3),
        ];
        let report = gradcheck(
            |v| conv2d(&v[0], &v[1], Some(&v[2]), opts).map(|y| y.tanh()),
            &inputs,
            GradcheckOptions::default(),
        )?;
        assert!(report.passed, "{opts:?}: {report}");
    }
    let opts = ConvOptions::default().padding(Padding::Same).dilation(2);
    let report = gradcheck(
        |v| conv1d(&v[0], &v[1], None, &opts),
        &[Tensor::<f64>::randn(&[2, 3, 7], 4), Tensor::randn(&[2, 3, 4], 5)],
        GradcheckOptions::default(),
    )?;
    assert!(report.passed, "conv1d: {report}");
    Ok(())
}

#[test]
fn second_derivatives_match_finite_differences() -> Result<()> {
    // The gradient with respect to the input, then the weight's, each itself differentiated
    // with respect to input, weight and bias: the rule of im2col is col2im and the other way
    // round. Three samples: the batch in two chunks.
    let opts = ConvOptions::default().stride(2).padding(1);
    for wrt in [0, 1] {
        let report = gradcheck(
            |v| {
                let g = differentiable_gradients(|v| Ok(conv2d(&v[0], &v[1], Some(&v[2]), &opts)?.tanh().sum()), v)?;
                Ok(g[wrt].clone())
            },
            &[
                Tensor::<f64>::randn(&[3, 2, 4, 4], 6),
                Tensor::randn(&[3, 2, 3, 3], 7),
                Tensor::randn(&[3], 8),
            ],
            GradcheckOptions::default(),
        )?;
        assert!(report.passed, "with respect to input {wrt}: {report}");
    }
    Ok(())
}

#[test]
fn empty_batches_and_no_channels_give_empty_or_bias_outputs_and_gradients() -> Result<()> {
    for (samples, out_c, in_c) in [(3, 0, 3), (3, 2, 0), (3, 0, 0), (0, 2, 3)] {
        let x = Var::parameter(Tensor::<f32>::randn(&[samples, in_c, 4, 4], 1));
        let w = Var::parameter(Tensor::<f32>::randn(&[out_c, in_c, 3, 3], 2));
        let b = Var::parameter(Tensor::<f32>::from_vec(vec![0.5; out_c], &[out_c])?);
        let y = conv2d(&x, &w, Some(&b), &ConvOptions::default().padding(1))?;
        assert_eq!(y.shape(), [samples, out_c, 4, 4]);
        // Without input channels, each output is its bias.
        assert!(y.to_tensor().to_vec().iter().all(|&v| v == 0.5));
        y.sum().backward()?;
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; samples * in_c * 16]);
        assert_eq!(w.grad().unwrap().shape(), [out_c, in_c, 3, 3]);
        // An empty batch: every gradient 0.
        assert_eq!(b.grad().unwrap().to_vec(), vec![(samples * 16) as f32; out_c]);
    }
    Ok(())
}

#[test]
fn init_is_uniform_within_one_over_root_fan_in() -> Result<()> {
    let conv = Conv2d::<f64>::with_options(6, 8, [3, 2], ConvOptions::default().groups(2), true, 1)?;
    let names: Vec<String> = conv.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(conv.weight.shape(), [8, 3, 3, 2]);
    let bound = 1.0 / 18f64.sqrt();
    for p in conv.parameters() {
        let v = p.to_tensor().to_vec();
        assert!(v.iter().all(|x| x.abs() <= bound), "{v:?}");
        assert!(v.iter().any(|x| x.abs() > bound * 0.5));
    }
    let sd = conv.state_dict();
    assert_eq!(sd.names().collect::<Vec<_>>(), ["weight", "bias"]);
    let no_bias = Conv1d::<f32>::with_options(3, 4, 5, ConvOptions::default(), false, 0)?;
    assert_eq!(no_bias.named_parameters().len(), 1);
    assert_eq!(no_bias.weight.shape(), [4, 3, 5]);
    Ok(())
}

#[test]
fn bad_arguments_are_errors_in_pytorchs_words() {
    let err = |r: Result<Var<f32>>| r.unwrap_err().to_string();
    let x = Var::new(Tensor::<f32>::zeros(&[1, 3, 5, 5]));
    let w = Var::new(Tensor::<f32>::zeros(&[4, 3, 3, 3]));
    let e = err(conv2d(
        &x,
        &w,
        Some(&Var::new(Tensor::zeros(&[3]))),
        &ConvOptions::default(),
    ));
    assert!(
        e.contains("expected bias to be 1-dimensional with 4 elements, but got bias of size [3]"),
        "{e}"
    );
    let e = err(conv2d(
        &x,
        &Var::new(Tensor::zeros(&[4, 3, 3])),
        None,
        &ConvOptions::default(),
    ));
    assert!(e.contains("Expected 4-dimensional weight"), "{e}");
    let e = err(conv2d(&x, &w, None, &ConvOptions::default().groups(3)));
    assert!(e.contains("Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size [4, 3, 3, 3] instead"), "{e}");
    let w6 = Var::new(Tensor::<f32>::zeros(&[6, 1, 3, 3]));
    let e = err(conv2d(&x, &w6, None, &ConvOptions::default().groups(2)));
    assert!(e.contains("Given groups=2, weight of size [6, 1, 3, 3], expected input[1, 3, 5, 5] to have 2 channels, but got 3 channels instead"), "{e}");
    let e = err(conv2d(&x, &w, None, &ConvOptions::default().stride([1, 2, 3])));
    assert!(e.contains("stride must be an int or a tuple of 2 ints"), "{e}");
    let e = err(conv2d(&x, &w, None, &ConvOptions::default().stride(0)));
    assert!(e.contains("must be positive"), "{e}");
    let e = err(conv1d(
        &Var::new(Tensor::zeros(&[3])),
        &w,
        None,
        &ConvOptions::default(),
    ));
    assert!(
        e.contains("Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [3]"),
        "{e}"
    );
    assert!(Padding::parse("full")
        .unwrap_err()
        .to_string()
        .contains("Invalid padding string 'full'"));
    let e = Conv2d::<f32>::new(3, 4, 3, 0)
        .unwrap()
        .padding_mode("reflect")
        .unwrap_err()
        .to_string();
    assert!(e.contains("padding_mode='reflect' is not implemented"), "{e}");
    assert!(Conv2d::<f32>::new(3, 4, 3, 0).unwrap().padding_mode("zeros").is_ok());
    let e = Conv2d::<f32>::with_options(3, 4, 3, ConvOptions::default().groups(0), true, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("groups must be a positive integer"), "{e}");
    let e = Conv2d::<f32>::new(3, 4, [3, 3, 3], 0).unwrap_err().to_string();
    assert!(e.contains("kernel_size must be an int or a tuple of 2 ints"), "{e}");
}

#[test]
fn a_failed_forward_leaves_no_gradient_behind() {
    let conv = Conv2d::<f32>::new(3, 4, 3, 0).unwrap();
    let x = Var::parameter(Tensor::<f32>::zeros(&[1, 2, 5, 5]));
    assert!(conv.forward(&x).is_err());
    assert!(conv.weight.grad().is_none() && x.grad().is_none());
}
