//! `LayerNorm` / `F.layer_norm`: PyTorch's fixture cases, finite-difference gradients, and
//! errors in PyTorch's words.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{enable_grad, grad, gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::layer_norm;
use ferrograd_nn::{Forward, LayerNorm, Module};
use ferrograd_tensor::{Float, Result, Tensor};

/// The layer a case describes, its parameters loaded from the case's `state`.
fn build<T: Float>(case: &Case) -> Result<LayerNorm<T>> {
    let shape: Vec<usize> = case
        .arg_ints("normalized_shape", 1)
        .unwrap()
        .iter()
        .map(|&n| n as usize)
        .collect();
    let mut ln = LayerNorm::<T>::new(&shape);
    if let Some(eps) = case.arg_f64("eps") {
        ln = ln.eps(eps);
    }
    if let Some(affine) = case.arg_bool("elementwise_affine") {
        ln = ln.elementwise_affine(affine);
    }
    if let Some(bias) = case.arg_bool("bias") {
        ln = ln.bias(bias);
    }
    let state = case.state.as_ref().unwrap();
    ln.load_state_dict(&state.iter().map(|(k, t)| (k.clone(), t.tensor::<T>())).collect())?;
    Ok(ln)
}

fn run_case<T: Float>(case: &Case, m: &mut Matcher) {
    let ln = build::<T>(case).unwrap();
    if !case.training {
        ln.eval();
    }
    let x = Var::parameter(case.inputs[0].as_ref().unwrap().tensor::<T>());
    if case.is_error() {
        m.error_contains(case, &ln.forward(&x).unwrap_err().to_string());
        return;
    }
    let step = case.single_step().unwrap();
    let out = ln.forward(&x).unwrap();
    m.close(case, "output", &out.to_tensor(), &step.expected.outputs[0]);
    let up = Var::new(step.upstream[0].as_ref().unwrap().tensor::<T>());
    out.try_mul(&up).unwrap().sum().backward().unwrap();
    m.close(
        case,
        "input.grad",
        &x.grad().unwrap(),
        step.expected.input_grads[0].as_ref().unwrap(),
    );
    let params = ln.named_parameters();
    assert_eq!(params.len(), step.expected.param_grads.len(), "{}", case.name);
    for ((name, p), (want_name, want)) in params.iter().zip(&step.expected.param_grads) {
        assert_eq!(name, want_name, "{}", case.name);
        m.close(case, &format!("{name}.grad"), &p.grad().unwrap(), want);
    }
}

#[test]
fn every_pytorch_fixture_case_matches() {
    // Cases from tests/fixtures/generate_layers.py (layer "LayerNorm"), e.g.
    // ln = torch.nn.LayerNorm([3, 4]); out = ln(x); (out * up).sum().backward()
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases("LayerNorm") {
        match case.dtype.as_str() {
            "float64" => run_case::<f64>(case, &mut m64),
            _ => run_case::<f32>(case, &mut m32),
        }
    }
    println!("LayerNorm f32: {}", m32.summary());
    println!("LayerNorm f64: {}", m64.summary());
    assert_eq!(m32.cases() + m64.cases(), layer_cases("LayerNorm").len());
}

#[test]
fn gradient_matches_finite_differences() -> Result<()> {
    let opts = GradcheckOptions::default();
    // Input, weight and bias together; one and two normalized dimensions; a larger eps.
    for (x_shape, norm, eps) in [
        (vec![3, 5], vec![5], 1e-5),
        (vec![2, 3, 4], vec![3, 4], 1e-5),
        (vec![2, 2, 3], vec![3], 0.1),
    ] {
        let inputs = [
            Tensor::randn(&x_shape, 1),
            Tensor::randn(&norm, 2),
            Tensor::randn(&norm, 3),
        ];
        let report = gradcheck(
            |v| Ok(layer_norm(&v[0], &norm, Some(&v[1]), Some(&v[2]), eps)?.tanh().sum()),
            &inputs,
            opts,
        )?;
        assert!(report.passed, "{x_shape:?} over {norm:?}: {report:?}");
    }
    // Without affine parameters, through its gradient (a second derivative): the gradient
    // of sum(tanh(layer_norm(x))) with respect to x, itself differentiated.
    let report = gradcheck(
        |v| {
            // The finite differences evaluate with plain values, recording off: differentiate
            // a copy then, recording on.
            let _recording = enable_grad();
            let x = match v[0].requires_grad() {
                true => v[0].clone(),
                false => Var::parameter(v[0].to_tensor()),
            };
            let y = layer_norm(&x, &[4], None, None, 1e-5)?.tanh().sum();
            let g = grad(&[y], std::slice::from_ref(&x), None, true)?.remove(0);
            Ok(g.expect("x is used").tanh().sum())
        },
        &[Tensor::randn(&[3, 4], 4)],
        opts,
    )?;
    assert!(report.passed, "{report:?}");
    Ok(())
}

#[test]
fn bad_shapes_are_errors_in_pytorchs_words() {
    let ln = LayerNorm::<f32>::new(&[3, 4]);
    for shape in [vec![2, 4, 3], vec![4]] {
        let err = ln.forward(&Var::new(Tensor::zeros(&shape))).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input of size{shape:?}"
            )),
            "{err}"
        );
    }
    let x = Var::new(Tensor::<f32>::zeros(&[2, 4]));
    let w = Var::new(Tensor::zeros(&[3]));
    let err = layer_norm(&x, &[4], Some(&w), None, 1e-5).unwrap_err().to_string();
    assert!(
        err.contains(
            "Expected weight to be of same shape as normalized_shape, but got weight of shape [3] and normalized_shape = [4]"
        ),
        "{err}"
    );
    let err = layer_norm(&x, &[4], None, Some(&w), 1e-5).unwrap_err().to_string();
    assert!(err.contains("Expected bias to be of same shape"), "{err}");
}

#[test]
fn options_shape_the_state_dict() {
    let names = |ln: LayerNorm<f32>| ln.state_dict().names().map(String::from).collect::<Vec<_>>();
    assert_eq!(names(LayerNorm::new(&[4])), ["weight", "bias"]);
    assert_eq!(names(LayerNorm::new(&[4]).bias(false)), ["weight"]);
    assert!(names(LayerNorm::new(&[4]).elementwise_affine(false)).is_empty());
    let ln = LayerNorm::<f32>::new(&[2, 3]);
    assert_eq!(ln.weight.as_ref().unwrap().to_tensor().to_vec(), [1.0; 6]);
    assert_eq!(ln.bias.as_ref().unwrap().to_tensor().to_vec(), [0.0; 6]);
    assert_eq!(ln.eps, 1e-5);
}

#[test]
fn a_constant_row_normalizes_to_the_bias() -> Result<()> {
    // torch.nn.functional.layer_norm(torch.full((1, 4), 3.0), [4], bias=torch.arange(4.)) → [0, 1, 2, 3]
    let x = Var::parameter(Tensor::<f64>::full(&[1, 4], 3.0));
    let b = Var::new(Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4])?);
    let y = layer_norm(&x, &[4], None, Some(&b), 1e-5)?;
    assert_eq!(y.to_tensor().to_vec(), [0.0, 1.0, 2.0, 3.0]);
    y.sum().backward()?;
    assert!(x.grad().unwrap().to_vec().iter().all(|g| g.is_finite()));
    Ok(())
}

/// `layer_norm` written as a composite of `Var` ops, the reference for the fused op.
fn composite_layer_norm(x: &Var<f64>, k: usize, w: &Var<f64>, b: &Var<f64>, eps: f64) -> Result<Var<f64>> {
    let shape = x.shape();
    let x = x.reshape(&[x.numel() / k, k])?;
    let centred = x.try_sub(&x.mean_dim(1, true)?)?;
    let var = centred.try_mul(&centred)?.mean_dim(1, true)?;
    let y = centred.try_mul(&var.add_scalar(eps).rsqrt())?;
    y.try_mul(&w.reshape(&[k])?)?
        .try_add(&b.reshape(&[k])?)?
        .reshape(&shape)
}

#[test]
fn the_fused_op_agrees_with_the_composite_of_var_ops() -> Result<()> {
    for (x_shape, norm) in [(vec![4, 7], vec![7]), (vec![2, 3, 2, 5], vec![2, 5])] {
        let k: usize = norm.iter().product();
        let fresh = || {
            [
                Var::parameter(Tensor::randn(&x_shape, 11)),
                Var::parameter(Tensor::randn(&norm, 12)),
                Var::parameter(Tensor::randn(&norm, 13)),
            ]
        };
        let up = Var::new(Tensor::randn(&x_shape, 14));
        let [x, w, b] = fresh();
        let fused = layer_norm(&x, &norm, Some(&w), Some(&b), 1e-5)?;
        fused.try_mul(&up)?.sum().backward()?;
        let [cx, cw, cb] = fresh();
        let composite = composite_layer_norm(&cx, k, &cw, &cb, 1e-5)?;
        composite.try_mul(&up)?.sum().backward()?;
        let pairs = [
            ("output", fused.to_tensor(), composite.to_tensor()),
            ("x.grad", x.grad().unwrap(), cx.grad().unwrap()),
            ("weight.grad", w.grad().unwrap(), cw.grad().unwrap()),
            ("bias.grad", b.grad().unwrap(), cb.grad().unwrap()),
        ];
        for (what, got, want) in pairs {
            assert_eq!(got.shape(), want.shape(), "{what}");
            for (g, w) in got.to_vec().iter().zip(want.to_vec()) {
                assert!(
                    (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{x_shape:?} {what}: {g} vs {w}"
                );
            }
        }
    }
    Ok(())
}
