//! `BatchNorm1d`, `BatchNorm2d` / `F.batch_norm`: PyTorch's fixture cases (outputs, gradients,
//! running statistics over successive steps), finite-difference gradients, and errors that
//! leave the running statistics untouched.

use crate::common;

use common::fixtures::{layer_cases, Case, FixtureTensor, Matcher};
use ferrograd_autograd::{enable_grad, grad, gradcheck, no_grad, GradcheckOptions, Var};
use ferrograd_nn::functional::batch_norm;
use ferrograd_nn::{BatchNorm1d, BatchNorm2d, Forward, Module, StateDict, StateValue};
use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};

/// A case's layer, built from its `args` with the options in PyTorch's names.
macro_rules! build {
    ($layer:ident, $case:expr) => {{
        let case: &Case = $case;
        let mut bn = $layer::new(case.arg_i64("num_features").unwrap() as usize);
        if let Some(eps) = case.arg_f64("eps") {
            bn = bn.eps(eps);
        }
        if case.args.get("momentum").is_some() {
            bn = bn.momentum(case.arg_f64("momentum"));
        }
        if let Some(affine) = case.arg_bool("affine") {
            bn = bn.affine(affine);
        }
        if let Some(track) = case.arg_bool("track_running_stats") {
            bn = bn.track_running_stats(track);
        }
        bn
    }};
}

/// The case's `state` as a state dict of `T`.
fn state_dict<T: Float>(case: &Case) -> StateDict<T> {
    let state = case.state.as_ref().unwrap();
    state
        .iter()
        .map(|(k, t)| {
            let v: StateValue<T> = match t.dtype.as_str() {
                "int64" => t.index_tensor().into(),
                _ => t.tensor::<T>().into(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn compare_state<T: Float>(case: &Case, m: &mut Matcher, bn: &impl Module<T>, want: &[(String, FixtureTensor)]) {
    let buffers = bn.named_buffers();
    assert_eq!(buffers.len(), want.len(), "{}: buffers", case.name);
    for ((name, b), (want_name, want)) in buffers.iter().zip(want) {
        assert_eq!(name, want_name, "{}", case.name);
        match &*b.value() {
            StateValue::Float(t) => m.close(case, name, t, want),
            StateValue::Int(t) => m.equal_indices(case, name, t, want),
        }
    }
}

fn run_case<T: Float, L: Forward<Var<T>, T, Output = Var<T>>>(case: &Case, m: &mut Matcher, bn: L) {
    bn.load_state_dict(&state_dict::<T>(case)).unwrap();
    bn.set_training(case.training);
    if case.is_error() {
        let before = bn.state_dict();
        let x = Var::parameter(case.inputs[0].as_ref().unwrap().tensor::<T>());
        m.error_contains(case, &bn.forward(&x).unwrap_err().to_string());
        let after = bn.state_dict();
        for ((k, a), (_, b)) in before.iter().zip(after.iter()) {
            assert_eq!(a, b, "{}: {k} changed by a failed forward", case.name);
        }
        return;
    }
    for (k, step) in case.steps.iter().enumerate() {
        bn.zero_grad();
        let x = Var::parameter(step.inputs[0].as_ref().unwrap().tensor::<T>());
        let out = bn.forward(&x).unwrap();
        let e = &step.expected;
        m.close(case, &format!("step {k} output"), &out.to_tensor(), &e.outputs[0]);
        let up = Var::new(step.upstream[0].as_ref().unwrap().tensor::<T>());
        out.try_mul(&up).unwrap().sum().backward().unwrap();
        let want = e.input_grads[0].as_ref().unwrap();
        m.close(case, &format!("step {k} input.grad"), &x.grad().unwrap(), want);
        let params = bn.named_parameters();
        assert_eq!(params.len(), e.param_grads.len(), "{}", case.name);
        for ((name, p), (want_name, want)) in params.iter().zip(&e.param_grads) {
            assert_eq!(name, want_name, "{}", case.name);
            m.close(case, &format!("step {k} {name}.grad"), &p.grad().unwrap(), want);
        }
        compare_state(case, m, &bn, &e.state_after);
    }
}

fn run_layer(layer: &str) {
    // Cases from tests/fixtures/generate_layers.py (layers "BatchNorm1d", "BatchNorm2d"), e.g.
    // bn = torch.nn.BatchNorm2d(4, momentum=None); bn.load_state_dict(state)
    // for x, up in steps: out = bn(x); (out * up).sum().backward()  # then buffers
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases(layer) {
        match (layer, case.dtype.as_str()) {
            ("BatchNorm1d", "float64") => run_case::<f64, _>(case, &mut m64, build!(BatchNorm1d, case)),
            ("BatchNorm1d", _) => run_case::<f32, _>(case, &mut m32, build!(BatchNorm1d, case)),
            (_, "float64") => run_case::<f64, _>(case, &mut m64, build!(BatchNorm2d, case)),
            _ => run_case::<f32, _>(case, &mut m32, build!(BatchNorm2d, case)),
        }
    }
    println!("{layer} f32: {}", m32.summary());
    println!("{layer} f64: {}", m64.summary());
    assert_eq!(m32.cases() + m64.cases(), layer_cases(layer).len());
}

#[test]
fn every_pytorch_batchnorm1d_case_matches() {
    run_layer("BatchNorm1d");
}

#[test]
fn every_pytorch_batchnorm2d_case_matches() {
    run_layer("BatchNorm2d");
}

#[test]
fn gradient_matches_finite_differences() -> Result<()> {
    let opts = GradcheckOptions::default();
    // Training (batch statistics) for (N, C), (N, C, L), (N, C, H, W); input, weight, bias.
    for shape in [vec![4, 3], vec![3, 2, 4], vec![2, 3, 2, 2]] {
        let c = shape[1];
        let inputs = [Tensor::randn(&shape, 1), Tensor::randn(&[c], 2), Tensor::randn(&[c], 3)];
        let report = gradcheck(
            |v| {
                let y = batch_norm(&v[0], None, None, Some(&v[1]), Some(&v[2]), true, 0.1, 1e-5)?;
                Ok(y.tanh().sum())
            },
            &inputs,
            opts,
        )?;
        assert!(report.passed, "training {shape:?}: {report:?}");
    }
    // Evaluation with running statistics: an affine map per channel.
    let (mean, var) = (Tensor::randn(&[3], 4), Tensor::<f64>::rand(&[3], 5).add_scalar(0.5));
    let inputs = [
        Tensor::randn(&[4, 3, 2], 6),
        Tensor::randn(&[3], 7),
        Tensor::randn(&[3], 8),
    ];
    let report = gradcheck(
        |v| {
            let y = batch_norm(
                &v[0],
                Some(&mut mean.clone()),
                Some(&mut var.clone()),
                Some(&v[1]),
                Some(&v[2]),
                false,
                0.1,
                1e-3,
            )?;
            Ok(y.tanh().sum())
        },
        &inputs,
        opts,
    )?;
    assert!(report.passed, "evaluation: {report:?}");
    Ok(())
}

#[test]
fn bad_inputs_are_errors_in_pytorchs_words_and_change_no_buffer() {
    let bn1 = BatchNorm1d::<f32>::new(3);
    let bn2 = BatchNorm2d::<f32>::new(3);
    let cases: [(&dyn Fn() -> String, &str); 5] = [
        (
            &|| bn1.forward(&Var::new(Tensor::zeros(&[1, 3]))).unwrap_err().to_string(),
            "Expected more than 1 value per channel when training, got input size torch.Size([1, 3])",
        ),
        (
            &|| bn1.forward(&Var::new(Tensor::zeros(&[4, 5]))).unwrap_err().to_string(),
            "running_mean should contain 5 elements not 3",
        ),
        (
            &|| bn1.forward(&Var::new(Tensor::zeros(&[4]))).unwrap_err().to_string(),
            "expected 2D or 3D input (got 1D input)",
        ),
        (
            &|| {
                bn2.forward(&Var::new(Tensor::zeros(&[2, 3, 4])))
                    .unwrap_err()
                    .to_string()
            },
            "expected 4D input (got 3D input)",
        ),
        (
            &|| {
                bn2.forward(&Var::new(Tensor::zeros(&[2, 4, 2, 2])))
                    .unwrap_err()
                    .to_string()
            },
            "running_mean should contain 4 elements not 3",
        ),
    ];
    let before = (bn1.state_dict(), bn2.state_dict());
    for (call, want) in cases {
        let err = call();
        assert!(err.contains(want), "{err:?} does not contain {want:?}");
    }
    assert_eq!((bn1.state_dict(), bn2.state_dict()), before);

    // Without running statistics the weight is checked, and evaluation needs none.
    let free = BatchNorm1d::<f32>::new(3).track_running_stats(false);
    let err = free.forward(&Var::new(Tensor::zeros(&[4, 5]))).unwrap_err().to_string();
    assert!(err.contains("weight should contain 5 elements not 3"), "{err}");
    free.eval();
    let err = free.forward(&Var::new(Tensor::zeros(&[1, 3]))).unwrap_err().to_string();
    assert!(
        err.contains("Expected more than 1 value per channel when training"),
        "{err}"
    );
    let x = Var::new(Tensor::<f32>::zeros(&[2, 3]));
    let err = batch_norm(&x, None, None, None, None, false, 0.1, 1e-5)
        .unwrap_err()
        .to_string();
    assert!(err.contains("running_mean must be defined in evaluation mode"), "{err}");
}

#[test]
fn running_statistics_update_in_training_only_and_without_recording() -> Result<()> {
    // bn = torch.nn.BatchNorm1d(2); x = torch.tensor([[1., 2.], [3., 6.]])
    // with torch.no_grad(): bn(x)
    // bn.running_mean, bn.running_var, bn.num_batches_tracked
    //   → [0.2, 0.4], [1.1, 1.7], 1   (var unbiased: 2 and 8)
    let bn = BatchNorm1d::<f64>::new(2);
    let x = Var::new(Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 2])?);
    {
        let _off = no_grad();
        bn.forward(&x)?;
    }
    let rm = bn.running_mean.as_ref().unwrap().tensor()?.to_vec();
    let rv = bn.running_var.as_ref().unwrap().tensor()?.to_vec();
    assert!((rm[0] - 0.2).abs() < 1e-15 && (rm[1] - 0.4).abs() < 1e-15, "{rm:?}");
    assert!((rv[0] - 1.1).abs() < 1e-15 && (rv[1] - 1.7).abs() < 1e-15, "{rv:?}");
    let count = bn.num_batches_tracked.as_ref().unwrap().value().clone();
    assert_eq!(count, StateValue::Int(IndexTensor::scalar(1)));
    // Evaluation leaves them alone.
    bn.eval();
    let before = bn.state_dict();
    bn.forward(&x)?;
    assert_eq!(bn.state_dict(), before);
    Ok(())
}

#[test]
fn options_shape_the_state_dict() {
    let names = |sd: StateDict<f32>| sd.names().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        names(BatchNorm2d::new(4).state_dict()),
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    );
    assert_eq!(
        names(BatchNorm1d::new(4).affine(false).state_dict()),
        ["running_mean", "running_var", "num_batches_tracked"]
    );
    assert_eq!(
        names(BatchNorm1d::new(4).track_running_stats(false).state_dict()),
        ["weight", "bias"]
    );
    let bn = BatchNorm1d::<f32>::new(2);
    let count = bn.num_batches_tracked.as_ref().unwrap().value().clone();
    assert_eq!(count.shape(), [0usize; 0]);
    assert_eq!(bn.running_var.as_ref().unwrap().tensor().unwrap().to_vec(), [1.0, 1.0]);
    assert_eq!((bn.eps, bn.momentum), (1e-5, Some(0.1)));
}

#[test]
fn second_derivative_matches_finite_differences() -> Result<()> {
    // The gradient of sum(tanh(batch_norm(x))) with respect to x and the weight, itself
    // differentiated: the rule recorded with Var ops when `create_graph` is on.
    let report = gradcheck(
        |v| {
            // The finite differences evaluate with plain values, recording off: differentiate
            // copies then, recording on.
            let _recording = enable_grad();
            let own = |v: &Var<f64>| match v.requires_grad() {
                true => v.clone(),
                false => Var::parameter(v.to_tensor()),
            };
            let (x, w) = (own(&v[0]), own(&v[1]));
            let y = batch_norm(&x, None, None, Some(&w), None, true, 0.1, 1e-5)?
                .tanh()
                .sum();
            let g = grad(&[y], &[x, w], None, true)?;
            let [Some(gx), Some(gw)] = [g[0].clone(), g[1].clone()] else {
                unreachable!("both inputs are used")
            };
            gx.tanh().sum().try_add(&gw.tanh().sum())
        },
        &[Tensor::randn(&[3, 2, 2], 21), Tensor::randn(&[2], 22)],
        GradcheckOptions::default(),
    )?;
    assert!(report.passed, "{report:?}");
    Ok(())
}

/// Training batch norm of an `(N, C, L)` input as a composite of `Var` ops, the reference
/// for the fused op.
fn composite_batch_norm(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>, eps: f64) -> Result<Var<f64>> {
    let [n, c, l] = x.shape()[..] else {
        unreachable!("(N, C, L)")
    };
    let count = (n * l) as f64;
    let mean = |v: &Var<f64>| -> Result<Var<f64>> { Ok(v.sum_dim(2, true)?.sum_dim(0, true)?.div_scalar(count)) };
    let centred = x.try_sub(&mean(x)?)?;
    let var = mean(&centred.try_mul(&centred)?)?;
    let y = centred.try_mul(&var.add_scalar(eps).rsqrt())?;
    y.try_mul(&w.reshape(&[1, c, 1])?)?.try_add(&b.reshape(&[1, c, 1])?)
}

#[test]
fn the_fused_op_agrees_with_the_composite_of_var_ops() -> Result<()> {
    // Batches of 4 samples and more with some over (7, 5); and [7, 13, 300], whose per-channel
    // sums go by blocks of 6 channels (2048 positions at most), the last block of one.
    for shape in [[8, 3, 1], [4, 2, 5], [7, 13, 300], [5, 3, 16]] {
        let fresh = || {
            [
                Var::parameter(Tensor::randn(&shape, 31)),
                Var::parameter(Tensor::randn(&[shape[1]], 32)),
                Var::parameter(Tensor::randn(&[shape[1]], 33)),
            ]
        };
        let up = Var::new(Tensor::randn(&shape, 34));
        let [x, w, b] = fresh();
        let fused = batch_norm(&x, None, None, Some(&w), Some(&b), true, 0.1, 1e-5)?;
        fused.try_mul(&up)?.sum().backward()?;
        let [cx, cw, cb] = fresh();
        let composite = composite_batch_norm(&cx, &cw, &cb, 1e-5)?;
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
                assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{shape:?} {what}: {g} vs {w}");
            }
        }
    }
    Ok(())
}
