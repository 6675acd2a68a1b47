//! How the graph behaves: long chains, recording modes, accumulation, retained gradients,
//! hooks, detach, errors, `grad()`, and anomaly detection.

use std::cell::RefCell;
use std::rc::Rc;

use ferrograd_autograd::{detect_anomaly, enable_grad, grad, is_anomaly_enabled, is_grad_enabled, no_grad, Var};
use ferrograd_tensor::{Error, Tensor};

fn param(data: &[f64]) -> Var<f64> {
    Var::parameter(Tensor::from_vec(data.to_vec(), &[data.len()]).unwrap())
}

fn values(v: &Var<f64>) -> Vec<f64> {
    v.to_tensor().to_vec()
}

#[test]
fn a_chain_of_100_000_ops_backpropagates() {
    let (a, b, n) = (1.0001f64, 0.0001f64, 100_000);
    let x = param(&[0.5, -1.0, 2.0, 0.0]);
    let mut z = x.clone();
    for _ in 0..n {
        z = &z * a + b;
    }
    // z = aⁿx + b(aⁿ - 1)/(a - 1), so dΣz/dx = aⁿ everywhere.
    let an = a.powi(n);
    let expected: Vec<f64> = values(&x).iter().map(|x| an * x + b * (an - 1.0) / (a - 1.0)).collect();
    for (z, e) in values(&z).iter().zip(&expected) {
        // Both sides cancel terms of size aⁿ ≈ 22015: compare on that scale.
        assert!((z - e).abs() <= 1e-9 * an, "{z} vs {e}");
    }
    z.sum().backward().unwrap();
    for g in x.grad().unwrap().to_vec() {
        assert!((g - an).abs() <= 1e-9 * an, "{g} vs {an}");
    }
}

#[test]
fn dropping_a_chain_of_1_000_000_ops_does_not_overflow_the_stack() {
    // On a thread with a small stack, so that dropping node by node recursively would fail.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let x = Var::parameter(Tensor::<f32>::ones(&[1]));
            let mut z = x.clone();
            for _ in 0..1_000_000 {
                z = z.mul_scalar(1.0);
            }
            assert_eq!(z.op_name(), Some("MulBackward1"));
            drop(z);
            x.numel()
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), 1);
}

#[test]
fn no_grad_records_nothing_and_is_restored() {
    let x = param(&[1.0, 2.0]);
    assert!(is_grad_enabled());
    {
        let _guard = no_grad();
        assert!(!is_grad_enabled());
        let y = x.exp().try_mul(&x).unwrap();
        assert!(y.is_leaf() && !y.requires_grad() && y.op_name().is_none() && y.inputs().is_empty());
        assert!(y.backward().is_err());
        {
            let _inner = enable_grad();
            assert!(is_grad_enabled());
            let z = &x * 2.0;
            assert!(z.requires_grad());
            assert_eq!(z.op_name(), Some("MulBackward1"));
            {
                let _innermost = no_grad();
                assert!(!(&x * 2.0).requires_grad());
            }
            assert!(is_grad_enabled());
        }
        assert!(!is_grad_enabled());
    }
    assert!(is_grad_enabled());
    let y = &x * &x;
    assert_eq!(y.op_name(), Some("MulBackward0"));
    assert_eq!(y.inputs().len(), 2);
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let x = param(&[0.3, -1.7, 2.9]);
    let loss = x.exp().try_mul(&x.tanh()).unwrap().sum();
    loss.backward().unwrap();
    let once = x.grad().unwrap().to_vec();
    loss.backward().unwrap();
    let twice = x.grad().unwrap().to_vec();
    for (o, t) in once.iter().zip(&twice) {
        assert_eq!(2.0 * o, *t); // exactly: g + g
    }
    x.zero_grad();
    assert!(x.grad().is_none());
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), once);
}

#[test]
fn intermediates_keep_no_gradient_unless_retained() {
    let x = param(&[1.0, 2.0, 3.0]);
    let y = &x * &x; // intermediate
    let z = y.mul_scalar(3.0); // intermediate, retained
    z.retain_grad();
    let loss = z.try_mul(&y).unwrap().sum(); // 3y², dloss/dz = y, dloss/dy = 6y
    loss.backward().unwrap();
    assert!(y.grad().is_none());
    assert_eq!(z.grad().unwrap().to_vec(), vec![1.0, 4.0, 9.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![12.0, 96.0, 324.0]); // 12x³
    assert!(loss.grad().is_none());
}

#[test]
fn hooks_see_and_can_replace_the_gradient() {
    let x = param(&[1.0, -2.0]);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let y = x.mul_scalar(3.0);
    let log = Rc::clone(&seen);
    y.register_hook(move |g| {
        log.borrow_mut().push(g.to_vec());
        Some(g.mul_scalar(2.0))
    });
    let leaf_log = Rc::clone(&seen);
    x.register_hook(move |g| {
        leaf_log.borrow_mut().push(g.to_vec());
        None
    });
    y.retain_grad();
    y.try_mul(&y).unwrap().sum().backward().unwrap(); // d/dy = 2y = [6, -12]
    assert_eq!(*seen.borrow(), vec![vec![6.0, -12.0], vec![36.0, -72.0]]);
    assert_eq!(y.grad().unwrap().to_vec(), vec![12.0, -24.0]); // after the hook
    assert_eq!(x.grad().unwrap().to_vec(), vec![36.0, -72.0]); // 3 · doubled

    let bad = param(&[1.0]);
    bad.register_hook(|_| Some(Tensor::zeros(&[2])));
    assert!(bad.mul_scalar(2.0).sum().backward().is_err());
}

#[test]
fn detach_cuts_the_graph() {
    let x = param(&[2.0, 3.0]);
    let d = x.detach();
    assert!(d.is_leaf() && !d.requires_grad());
    assert_eq!(d.to_tensor(), x.to_tensor());
    let y = d.mul_scalar(5.0);
    assert!(!y.requires_grad());
    x.try_mul(&y).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![10.0, 15.0]); // y only, not 10x
}

#[test]
fn backward_needs_a_scalar_or_an_explicit_gradient() {
    let x = Var::parameter(Tensor::<f64>::ones(&[2, 3]));
    let y = x.mul_scalar(2.0);
    let err = y.backward().unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("backward:") && msg.contains("[2, 3]"), "{msg}");

    let w = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let z = x.try_mul(&x).unwrap(); // dz/dx = 2x = 2
    z.backward_with(&w).unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    let err = z.backward_with(&Tensor::ones(&[3, 2])).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "backward", .. }), "{err:?}");
}

#[test]
fn backward_without_anything_to_differentiate_is_an_error() {
    let c = Var::new(Tensor::<f64>::ones(&[3]));
    let err = c.sum().backward().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "backward", .. }), "{err:?}");
    assert!(err.to_string().contains("does not require grad"), "{err}");
    let x = param(&[1.0]);
    assert!(grad(&[c.sum()], std::slice::from_ref(&c), None, false).is_err());
    assert!(grad(&[x.sum()], std::slice::from_ref(&x), Some(vec![]), false).is_err());
    assert!(grad(&[x.mul_scalar(2.0).broadcast_to(&[2]).unwrap()], &[x], None, false).is_err());
}

#[test]
fn a_diamond_sums_both_paths() {
    let x = param(&[1.0, 2.0]);
    let (a, b) = (x.mul_scalar(2.0), x.mul_scalar(3.0));
    let loss = a.try_mul(&b).unwrap().sum(); // 6x², d/dx = 12x
    loss.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![12.0, 24.0]);
    // A deeper diamond: e = exp(x) feeds both branches.
    let y = param(&[0.5]);
    let e = y.exp();
    (&e * 2.0 + e.try_mul(&e).unwrap()).sum().backward().unwrap(); // 2eʸ + e²ʸ
    let expected = 2.0 * 0.5f64.exp() + 2.0 * 1.0f64.exp();
    assert!((y.grad().unwrap().to_vec()[0] - expected).abs() < 1e-12);
}

#[test]
fn grad_returns_gradients_without_touching_dot_grad() {
    let x = param(&[1.0, 2.0]);
    let unused = param(&[5.0]);
    let y = x.try_mul(&x).unwrap().sum();
    let gs = grad(&[y], &[x.clone(), unused.clone()], None, false).unwrap();
    assert_eq!(values(gs[0].as_ref().unwrap()), vec![2.0, 4.0]);
    assert!(gs[1].is_none());
    assert!(x.grad().is_none() && unused.grad().is_none());
    // With respect to an intermediate too.
    let h = x.mul_scalar(3.0);
    let gh = grad(&[h.sum()], std::slice::from_ref(&h), None, false).unwrap();
    assert_eq!(values(gh[0].as_ref().unwrap()), vec![1.0, 1.0]);
}

#[test]
fn anomaly_mode_names_the_op_that_produced_nan_or_inf() {
    for (op, f) in [
        (
            "LogBackward0",
            (|x: &Var<f64>| x.mul_scalar(0.0).log()) as fn(&Var<f64>) -> Var<f64>,
        ),
        ("SqrtBackward0", |x: &Var<f64>| x.mul_scalar(0.0).sqrt()),
    ] {
        let x = param(&[1.0, 2.0]);
        {
            let _guard = detect_anomaly();
            assert!(is_anomaly_enabled());
            let err = f(&x).sum().backward().unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidArgument {
                        op: "detect_anomaly",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(op), "{err}");
        }
        assert!(!is_anomaly_enabled());
        x.zero_grad();
        f(&x).sum().backward().unwrap();
        assert!(x.grad().unwrap().to_vec().iter().all(|g| !g.is_finite()), "{op}");
    }
}

#[test]
fn grad_with_an_input_listed_twice_returns_it_twice() {
    // torch: torch.autograd.grad((x * x).sum(), [x, x]) gives 2x twice
    let x = param(&[1.0, 3.0]);
    let gs = grad(&[x.try_mul(&x).unwrap().sum()], &[x.clone(), x.clone()], None, false).unwrap();
    assert_eq!(values(gs[0].as_ref().unwrap()), vec![2.0, 6.0]);
    assert_eq!(values(gs[1].as_ref().unwrap()), vec![2.0, 6.0]);
}

#[test]
fn a_backward_run_by_a_hook_leaves_the_outer_backward_intact() {
    // The inner backward walks `a` and `x`, which the outer one is walking too: the outer
    // walk must still find them (the inner one puts their marks back).
    let x = param(&[1.0, 2.0]);
    let a = &x * 2.0;
    let b = &a * 3.0;
    let inner = a.clone();
    b.register_hook(move |_| {
        // Backward records nothing unless asked to: the inner graph is built with recording on.
        let _recording = enable_grad();
        (&inner * 5.0).sum().backward().unwrap();
        None
    });
    b.sum().backward().unwrap();
    // 2·5 from the inner backward, 2·3 from the outer one.
    assert_eq!(x.grad().unwrap().to_vec(), vec![16.0, 16.0]);
}

#[test]
fn gradients_computed_in_place_are_never_seen_changing() {
    // Scalar ops' rules reuse the buffer of the gradient they receive when nothing else holds
    // it; a gradient that is returned, retained or passed to a hook must keep its value.
    let x = param(&[1.0, 2.0]);
    let mid = &x * 2.0;
    let y = (-(&mid * 3.0) / 4.0).sum();
    let g = grad(std::slice::from_ref(&y), &[x.clone(), mid.clone()], None, false).unwrap();
    assert_eq!(values(g[1].as_ref().unwrap()), vec![-0.75, -0.75]);
    assert_eq!(values(g[0].as_ref().unwrap()), vec![-1.5, -1.5]);

    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = Rc::clone(&seen);
    mid.register_hook(move |g| {
        s.borrow_mut().push(g.to_vec());
        None
    });
    mid.retain_grad();
    y.backward().unwrap();
    assert_eq!(mid.grad().unwrap().to_vec(), vec![-0.75, -0.75]);
    assert_eq!(*seen.borrow(), vec![vec![-0.75, -0.75]]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![-1.5, -1.5]);

    // With create_graph the gradient of a scalar op is recorded and can be differentiated.
    let x = param(&[3.0]);
    let y = (&(&x * &x) * 2.0).sum();
    let dy = grad(&[y], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(values(&dy), vec![12.0]);
    let d2 = grad(&[dy.sum()], &[x], None, false).unwrap()[0].clone().unwrap();
    assert_eq!(values(&d2), vec![4.0]);
}

#[test]
fn shared_buffers_never_let_one_value_change_another() {
    // backward_with's gradient is shared with the caller's tensor, not copied; the scalar
    // rules that compute in place must leave the caller's tensor as it was.
    let x = param(&[1.0, 2.0]);
    let seed = Tensor::from_vec(vec![1.0, 10.0], &[2]).unwrap();
    (&(&x * 3.0) * 2.0).backward_with(&seed).unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0, 60.0]);
    assert_eq!(seed.to_vec(), vec![1.0, 10.0]);

    // A reshape shares its input's buffer; changing the input in place afterwards leaves the
    // reshaped value as it was, and the gradient is still the reshape's.
    let x = param(&[1.0, 2.0, 3.0, 4.0]);
    let r = x.reshape(&[2, 2]).unwrap();
    let mut v = x.value_mut();
    v.map_inplace(|a| a * 100.0);
    drop(v);
    assert_eq!(values(&r), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(values(&x), vec![100.0, 200.0, 300.0, 400.0]);
    (&r * 2.0).sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0; 4]);

    // A gradient read with grad() keeps its value when the next backward adds to `.grad`.
    let first = x.grad().unwrap();
    (&r * 2.0).sum().backward().unwrap();
    assert_eq!(first.to_vec(), vec![2.0; 4]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0; 4]);
}

#[test]
fn relu_masks_its_gradient_in_place_only_when_nobody_else_sees_it() {
    // Plain backward: the incoming gradient is masked in its own buffer.
    let x = param(&[-1.0, 2.0, 0.5]);
    (&(&x * 3.0).relu() * 2.0).sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 6.0, 6.0]);
    // A retained gradient of the output keeps its values.
    let x = param(&[-1.0, 2.0, 0.5]);
    let y = (&x * 3.0).relu();
    y.retain_grad();
    (&y * 2.0).sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![2.0, 2.0, 2.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 6.0, 6.0]);
    // Recorded backward: relu's gradient is a product that can be differentiated again.
    let x = param(&[-1.0, 2.0]);
    let y = (&(&x * &x).relu() * 2.0).sum();
    let dy = grad(&[y], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(values(&dy), vec![-4.0, 8.0]);
    let d2 = grad(&[dy.sum()], &[x], None, false).unwrap()[0].clone().unwrap();
    assert_eq!(values(&d2), vec![4.0, 4.0]);
}
