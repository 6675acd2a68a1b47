//! What a user can do wrong through the public API of the graph gives an error in PyTorch's
//! words, never a panic, a leak or a silently wrong gradient (docs/reliability.md, §3 and §7).

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

fn param(data: &[f32]) -> Var {
    Var::parameter(Tensor::from_vec(data.to_vec(), &[data.len()]).unwrap())
}

#[test]
fn var_matmul_with_a_huge_result_is_an_error() {
    let a = Var::parameter(Tensor::<f32>::zeros(&[1 << 33, 0]));
    let b = Var::parameter(Tensor::<f32>::zeros(&[0, 1 << 33]));
    let message = a.matmul(&b).unwrap_err().to_string();
    assert!(message.contains("more elements than fit in memory"), "{message}");
    let c = Var::parameter(Tensor::<f32>::zeros(&[0, 1 << 62]));
    assert!(c.sum_dim(0, false).is_err());
    assert!(param(&[1.0]).broadcast_to(&[1 << 62]).is_err());
}

fn message<T>(r: ferrograd_tensor::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

// --- A borrow the caller holds: an error, never a RefCell panic, and nothing changed ---

#[test]
fn backward_while_a_grad_ref_is_held_is_an_error_and_stores_nothing() {
    let (x, y) = (param(&[1.0, 2.0]), param(&[3.0, 4.0]));
    let loss = (&x * &y).sum();
    loss.backward().unwrap();
    let held = x.grad_ref().unwrap();
    let m = message(loss.backward());
    assert!(
        m.starts_with("backward: ") && m.contains("drop the grad_ref() of it"),
        "{m}"
    );
    drop(held);
    // y's gradient was not added to either: the backward refused before storing any.
    assert_eq!(y.grad().unwrap().to_vec(), vec![1.0, 2.0]);
    assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 4.0]);
    // set_grad and try_zero_grad refuse too; zero_grad leaves the borrowed gradient alone.
    let held = x.grad_ref().unwrap();
    assert!(message(x.set_grad(None)).contains("set_grad"));
    assert!(message(x.try_zero_grad()).contains("zero_grad"));
    x.zero_grad();
    drop(held);
    assert!(x.grad().is_some());
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn backward_or_an_op_while_a_value_mut_is_held_is_an_error() {
    let x = param(&[1.0, 2.0]);
    let y = &x + 1.0; // a rule that reads only shapes
    let held = x.value_mut();
    assert!(message(y.sum().backward()).contains("drop the value_mut() of it"));
    assert!(message(x.try_value()).contains("value"));
    drop(held);
    let held = x.value();
    assert!(message(x.try_value_mut()).contains("value_mut"));
    drop(held);
    assert_eq!(x.version(), 1); // the refused try_value_mut did not count
}

#[test]
fn a_hook_may_register_hooks_and_rename_its_own_var() {
    let x = param(&[1.0, 2.0]);
    let handle = x.downgrade();
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen_in_hook = seen.clone();
    x.register_hook(move |_| {
        let x = handle.upgrade().expect("alive");
        x.set_name("renamed");
        let seen = seen_in_hook.clone();
        x.register_hook(move |_| {
            seen.set(seen.get() + 1);
            None
        });
        None
    });
    let loss = (&x * 2.0).sum();
    loss.backward().unwrap();
    assert_eq!(x.name().as_deref(), Some("renamed"));
    assert_eq!(seen.get(), 0); // registered during the backward: runs from the next one on
    loss.backward().unwrap();
    assert_eq!(seen.get(), 1);
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 4.0]);
}

// --- The version counter (PyTorch's "modified by an inplace operation") ---

#[test]
fn changing_a_saved_value_in_place_makes_backward_the_pytorch_error() {
    // import torch
    // x = torch.ones(3, 4, requires_grad=True); y = x * 2; z = y * y
    // with torch.no_grad(): y.add_(1)
    // z.sum().backward()
    // RuntimeError: one of the variables needed for gradient computation has been modified by an
    // inplace operation: [torch.FloatTensor [3, 4]], which is output 0 of Mul, is at version 1;
    // expected version 0 instead. Hint: ...
    let x = Var::parameter(Tensor::<f32>::ones(&[3, 4]));
    let y = &x * 2.0;
    let z = &y * &y;
    let plus_one = y.value().map(|v| v + 1.0);
    *y.value_mut() = plus_one;
    let m = message(z.sum().backward());
    assert!(
        m.starts_with("backward: one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3, 4]], which is output 0 of Mul, is at version 1; expected version 0 instead."),
        "{m}"
    );
    assert!(x.grad().is_none());

    // a = torch.ones(3, requires_grad=True); b = a * a
    // with torch.no_grad(): a.mul_(2); a.add_(1)
    // b.sum().backward()
    // ... [torch.FloatTensor [3]] is at version 2; expected version 0 instead. ...
    let a = param(&[1.0, 1.0, 1.0]);
    let b = &a * &a;
    a.value_mut().map_inplace(|v| v * 2.0);
    a.value_mut().map_inplace(|v| v + 1.0);
    let m = message(b.sum().backward());
    assert!(
        m.contains("[torch.FloatTensor [3]] is at version 2; expected version 0 instead."),
        "{m}"
    );

    // d = torch.ones(3, dtype=torch.float64, requires_grad=True); e = d.exp()
    // with torch.no_grad(): e.add_(1)
    // e.sum().backward()
    // ... [torch.DoubleTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead.
    let d = Var::parameter(Tensor::<f64>::ones(&[3]));
    let e = d.exp();
    e.value_mut().map_inplace(|v| v + 1.0);
    let m = message(e.sum().backward());
    assert!(
        m.contains("[torch.DoubleTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead."),
        "{m}"
    );
}

#[test]
fn a_value_no_rule_reads_may_change_as_in_pytorch() {
    // x = torch.ones(3, requires_grad=True); y = (x + 1).exp()   # add saves nothing of x
    // with torch.no_grad(): x.mul_(5)
    // y.sum().backward(); x.grad  ->  tensor([7.3891, 7.3891, 7.3891])
    let x = param(&[1.0, 1.0, 1.0]);
    let y = (&x + 1.0).exp();
    x.value_mut().map_inplace(|v| v * 5.0);
    y.sum().backward().unwrap();
    for g in x.grad().unwrap().to_vec() {
        assert!((g - 7.389_056).abs() < 1e-5);
    }
    // A new forward after the change records the new version.
    x.zero_grad();
    let z = (&x * &x).sum();
    z.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![10.0, 10.0, 10.0]);
}

#[test]
fn replacing_a_value_by_one_of_another_shape_is_an_error_not_a_panic() {
    let x = param(&[1.0, 2.0, 3.0, 4.0]);
    let y = x.narrow(0, 1, 2).unwrap();
    *x.value_mut() = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let m = message(y.sum().backward());
    assert!(
        m.contains("input 0 of NarrowBackward0 was replaced by a value of shape [2]"),
        "{m}"
    );
    // The same value written back in place (same shape) is no error for narrow, which reads no value.
    let x = param(&[1.0, 2.0, 3.0, 4.0]);
    let y = x.narrow(0, 1, 2).unwrap();
    *x.value_mut() = Tensor::from_vec(vec![0.0; 4], &[4]).unwrap();
    y.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn an_optimizer_like_update_between_forward_and_backward_is_caught() {
    let w = param(&[0.5, -0.5]);
    let x = Var::new(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let loss = (&w * &x).sum();
    assert_eq!(w.version(), 0);
    {
        let mut v = w.value_mut();
        v.zip_assign(&Tensor::from_vec(vec![0.1, 0.1], &[2]).unwrap(), "step", |p, g| p - g)
            .unwrap();
    }
    assert_eq!(w.version(), 1);
    assert!(message(loss.backward()).contains("is at version 1; expected version 0 instead"));
}

// --- Custom ops ---

#[test]
fn a_rule_returning_the_wrong_number_of_gradients_is_an_error() {
    // class F(torch.autograd.Function): forward(ctx, a, b) -> a + b; backward(ctx, g) -> (g,)
    // RuntimeError: function FBackward returned an incorrect number of gradients (expected 2, got 1)
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let out = a.value().add(&b.value()).unwrap();
    let fewer = Var::from_op("FBackward", out.clone(), [a.clone(), b.clone()], |g, _, _| {
        Ok([Some(g.clone())])
    });
    let m = message(fewer.sum().backward());
    assert!(
        m.contains("function FBackward returned an incorrect number of gradients (expected 2, got 1)"),
        "{m}"
    );
    let more = Var::from_op("GBackward", out, [a.clone(), b.clone()], |g, _, _| {
        Ok([Some(g.clone()), Some(g.clone()), None])
    });
    let m = message(more.sum().backward());
    assert!(
        m.contains("function GBackward returned an incorrect number of gradients (expected 2, got 3)"),
        "{m}"
    );
    assert!(a.grad().is_none() && b.grad().is_none());
}

// --- Hooks and memory ---

fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn a_chain_of_100_000_leaves_whose_hooks_hold_the_one_before_drops_without_recursion() {
    let live = on_small_stack(|| {
        let before = ferrograd_autograd::live_nodes();
        let mut last = param(&[0.0]);
        for _ in 0..100_000 {
            let next = param(&[0.0]);
            let held = last;
            next.register_hook(move |_| {
                let _ = &held;
                None
            });
            last = next;
        }
        assert_eq!(ferrograd_autograd::live_nodes(), before + 100_001);
        drop(last);
        ferrograd_autograd::live_nodes() - before
    });
    assert_eq!(live, 0);
}

#[test]
fn a_hook_holding_its_own_var_through_a_weak_handle_does_not_leak() {
    let before = ferrograd_autograd::live_nodes();
    {
        let x = param(&[1.0, 2.0]);
        let me = x.downgrade();
        x.register_hook(move |g| {
            let x = me.upgrade()?; // the Var, while it is alive
            let scaled = g.mul(&x.value()).ok();
            scaled
        });
        (&x * 1.0).sum().backward().unwrap();
        assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 2.0]);
    }
    assert_eq!(ferrograd_autograd::live_nodes(), before);
}

#[test]
fn the_versions_of_a_third_input_and_beyond_are_checked_too() {
    let (a, b, c) = (param(&[1.0]), param(&[2.0]), param(&[3.0]));
    let out = Tensor::from_vec(vec![6.0], &[1]).unwrap();
    let product = Var::from_op("ProdBackward", out, [a.clone(), b.clone(), c.clone()], |g, _, x| {
        Ok(vec![
            Some(g.try_mul(&x[1])?.try_mul(&x[2])?),
            Some(g.try_mul(&x[0])?.try_mul(&x[2])?),
            Some(g.try_mul(&x[0])?.try_mul(&x[1])?),
        ])
    });
    c.value_mut().map_inplace(|v| v * 2.0);
    let m = message(product.sum().backward());
    assert!(
        m.contains("[torch.FloatTensor [1]] is at version 1; expected version 0 instead."),
        "{m}"
    );
}
