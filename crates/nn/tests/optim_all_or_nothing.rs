//! An optimizer step is all or nothing: everything it could refuse (a parameter whose shape no
//! longer matches its state or gradient, a value the caller holds a borrow of) is checked for
//! every parameter before any parameter changes; a refused step changes nothing.

use ferrograd_autograd::Var;
use ferrograd_nn::{AdamW, Optimizer, SGD};
use ferrograd_tensor::{Error, Tensor};

fn param(v: &[f32]) -> Var {
    Var::parameter(Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap())
}

fn bits(v: &Var) -> Vec<u32> {
    v.to_tensor().to_vec().iter().map(|x| x.to_bits()).collect()
}

fn set_grads(params: &[Var]) {
    for p in params {
        p.set_grad(Some(Tensor::full(&p.shape(), 0.5))).unwrap();
    }
}

#[test]
fn adamw_refusing_one_parameter_changes_none_and_decays_none() {
    let (a, b) = (param(&[1.0, 2.0]), param(&[3.0, 4.0]));
    let mut opt = AdamW::new(vec![a.clone(), b.clone()], 0.1);
    set_grads(&[a.clone(), b.clone()]);
    opt.step().unwrap(); // creates the state of both
                         // b is given a value of another shape, and a gradient of that shape.
    *b.value_mut() = Tensor::from_vec(vec![5.0, 6.0, 7.0], &[3]).unwrap();
    set_grads(&[a.clone(), b.clone()]);
    let (before_a, before_b) = (bits(&a), bits(&b));
    let (version_a, version_b) = (a.version(), b.version());
    let err = opt.step().unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "AdamW", .. }), "{err}");
    let m = err.to_string();
    assert!(
        m.contains("parameter 1 has shape [3] but its exp_avg has shape [2]"),
        "{m}"
    );
    assert_eq!(bits(&a), before_a, "a was stepped before b was refused");
    assert_eq!(bits(&b), before_b, "b was weight-decayed although refused");
    assert_eq!((a.version(), b.version()), (version_a, version_b));
}

#[test]
fn a_step_while_the_caller_holds_a_value_is_an_error_and_changes_nothing() {
    let (a, b) = (param(&[1.0, 2.0]), param(&[3.0, 4.0]));
    for mut opt in [
        Box::new(AdamW::new(vec![a.clone(), b.clone()], 0.1)) as Box<dyn Optimizer>,
        Box::new(SGD::new(vec![a.clone(), b.clone()], 0.1).momentum(0.9)),
    ] {
        set_grads(&[a.clone(), b.clone()]);
        let (before_a, before_b) = (bits(&a), bits(&b));
        let held = b.value();
        let err = opt.step().unwrap_err();
        assert!(matches!(err, Error::Borrowed { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("parameter 1 is borrowed elsewhere; drop every value() of it"),
            "{err}"
        );
        assert_eq!((bits(&a), bits(&b)), (before_a.clone(), before_b.clone()));
        drop(held);
        opt.step().unwrap();
        assert_ne!(bits(&a), before_a);
    }
}

#[test]
fn sgd_with_a_momentum_buffer_of_another_shape_changes_nothing() {
    let (a, b) = (param(&[1.0]), param(&[3.0, 4.0]));
    let mut opt = SGD::new(vec![a.clone(), b.clone()], 0.1).momentum(0.9);
    set_grads(&[a.clone(), b.clone()]);
    opt.step().unwrap();
    *b.value_mut() = Tensor::from_vec(vec![1.0], &[1]).unwrap();
    set_grads(&[a.clone(), b.clone()]);
    let before_a = bits(&a);
    let m = opt.step().unwrap_err().to_string();
    assert!(
        m.contains("parameter 1 has shape [1] but its momentum_buffer has shape [2]"),
        "{m}"
    );
    assert_eq!(bits(&a), before_a);
}

#[test]
fn a_step_counts_as_a_change_in_place() {
    // w = torch.ones(2, requires_grad=True); opt = torch.optim.SGD([w], lr=0.1)
    // loss = (w * w).sum(); w.grad = torch.ones(2); opt.step(); loss.backward()
    // RuntimeError: one of the variables needed for gradient computation has been modified by an
    // inplace operation: [torch.FloatTensor [2]] is at version 1; expected version 0 instead. ...
    let w = param(&[1.0, 1.0]);
    let mut opt = SGD::new(vec![w.clone()], 0.1);
    let loss = (&w * &w).sum();
    set_grads(std::slice::from_ref(&w));
    opt.step().unwrap();
    assert_eq!(w.version(), 1);
    let m = loss.backward().unwrap_err().to_string();
    assert!(
        m.contains("[torch.FloatTensor [2]] is at version 1; expected version 0 instead."),
        "{m}"
    );
}
