//! Module hooks against what PyTorch's hooks see (`tests/fixtures/hooks.json`, written by
//! `tests/fixtures/generate_hooks.py`): the same model, weights and input, in f64.

use std::cell::RefCell;
use std::rc::Rc;

use ferrograd_autograd::Var;
use ferrograd_nn::{Forward, Linear, Module, Sequential, StateDict, Tanh};
use ferrograd_tensor::{Result, Tensor};
use serde_json::Value;

use crate::common;
use common::{assert_close, fixture, state_dict, tensor};

/// The fixture written by `tests/fixtures/generate_hooks.py`.
fn hooks_fixture() -> Value {
    fixture("hooks.json")
}

/// Compares with PyTorch's values to 1e-12 relative (both in f64).
#[track_caller]
fn close(what: &str, got: &Tensor<f64>, want: &Value) {
    assert_close(what, got, want, 1e-12, 1e-12);
}

fn state(f: &Value) -> StateDict<f64> {
    state_dict(&f["params"])
}

/// Everything a hook saw: (module, first tensor, second tensor or None).
type Seen = Rc<RefCell<Vec<(String, Option<Tensor<f64>>, Tensor<f64>)>>>;

fn sequential() -> Sequential<f64> {
    Sequential::new()
        .add(Linear::new(3, 4, 0))
        .add(Tanh)
        .add(Linear::new(4, 2, 1))
}

fn check_against_pytorch(f: &Value, forward: &Seen, backward: &Seen) {
    let fwd = forward.borrow();
    let want = f["forward"].as_array().unwrap();
    assert_eq!(fwd.len(), want.len());
    for ((module, input, output), w) in fwd.iter().zip(want) {
        assert_eq!(
            module,
            w["module"].as_str().unwrap(),
            "forward hooks fire in PyTorch's order"
        );
        close(
            &format!("forward {module:?} input"),
            input.as_ref().unwrap(),
            &w["input"],
        );
        close(&format!("forward {module:?} output"), output, &w["output"]);
    }
    let bwd = backward.borrow();
    let want = f["backward"].as_array().unwrap();
    assert_eq!(bwd.len(), want.len());
    for ((module, grad_input, grad_output), w) in bwd.iter().zip(want) {
        assert_eq!(
            module,
            w["module"].as_str().unwrap(),
            "backward hooks fire in PyTorch's order"
        );
        close(
            &format!("backward {module:?} grad_output"),
            grad_output,
            &w["grad_output"],
        );
        match (grad_input, w["grad_input"].is_null()) {
            (Some(g), false) => close(&format!("backward {module:?} grad_input"), g, &w["grad_input"]),
            (None, true) => {}
            (g, _) => panic!(
                "backward {module:?}: grad_input {g:?}, PyTorch's null: {}",
                w["grad_input"].is_null()
            ),
        }
    }
}

#[test]
fn sequential_hooks_see_what_pytorch_hooks_see() -> Result<()> {
    // python3 tests/fixtures/generate_hooks.py
    let f = hooks_fixture();
    let model = sequential();
    model.load_state_dict(&state(&f))?;
    let (forward, backward): (Seen, Seen) = Default::default();
    let mut handles = Vec::new();
    for (name, m) in model.named_modules() {
        let (log, n) = (forward.clone(), name.clone());
        handles.push(m.register_forward_hook(move |x, y| {
            let (x, y) = (
                x.downcast_ref::<Var<f64>>().unwrap(),
                y.downcast_ref::<Var<f64>>().unwrap(),
            );
            log.borrow_mut().push((n.clone(), Some(x.to_tensor()), y.to_tensor()));
        }));
        let (log, n) = (backward.clone(), name.clone());
        handles.push(m.register_full_backward_hook(move |gi: Option<&Tensor<f64>>, go| {
            log.borrow_mut().push((n.clone(), gi.cloned(), go.clone()));
        }));
    }
    let x = Var::parameter(tensor::<f64>(&f["x"]));
    let out = model.call(&x)?;
    out.try_mul(&Var::new(tensor::<f64>(&f["c"])))?.sum().backward()?;
    check_against_pytorch(&f, &forward, &backward);
    Ok(())
}

#[derive(Module)]
#[module(float = f64)]
struct Net {
    fc1: Linear<f64>,
    act: Tanh,
    fc2: Linear<f64>,
}

impl Forward<Var<f64>, f64> for Net {
    type Output = Var<f64>;
    fn forward(&self, x: &Var<f64>) -> Result<Var<f64>> {
        self.fc2.call(&self.act.call(&self.fc1.call(x)?)?)
    }
}

#[test]
fn hooks_on_the_fields_of_a_derived_module_see_what_pytorch_hooks_see() -> Result<()> {
    // python3 tests/fixtures/generate_hooks.py (the same model, its layers as fields)
    let f = hooks_fixture();
    let net = Net {
        fc1: Linear::new(3, 4, 0),
        act: Tanh,
        fc2: Linear::new(4, 2, 1),
    };
    let mut sd = StateDict::new();
    for (name, t) in f["params"].as_object().unwrap() {
        let name = name.replace("0.", "fc1.").replace("2.", "fc2.");
        sd.insert(name, tensor(t));
    }
    net.load_state_dict(&sd)?;
    let names = ["0", "1", "2", ""];
    let (forward, backward): (Seen, Seen) = Default::default();
    let fwd = |name: &'static str| {
        let log = forward.clone();
        move |x: &Var<f64>, y: &Var<f64>| log.borrow_mut().push((name.into(), Some(x.to_tensor()), y.to_tensor()))
    };
    let bwd = |name: &'static str| {
        let log = backward.clone();
        move |gi: Option<&Tensor<f64>>, go: &Tensor<f64>| log.borrow_mut().push((name.into(), gi.cloned(), go.clone()))
    };
    let _handles = [
        net.fc1.register_forward_hook(fwd(names[0])),
        net.act.register_forward_hook(fwd(names[1])),
        net.fc2.register_forward_hook(fwd(names[2])),
        net.register_forward_hook(fwd(names[3])),
        net.fc1.register_full_backward_hook(bwd(names[0])),
        net.act.register_full_backward_hook(bwd(names[1])),
        net.fc2.register_full_backward_hook(bwd(names[2])),
        net.register_full_backward_hook(bwd(names[3])),
    ];
    let x = Var::parameter(tensor::<f64>(&f["x"]));
    net.call(&x)?
        .try_mul(&Var::new(tensor::<f64>(&f["c"])))?
        .sum()
        .backward()?;
    check_against_pytorch(&f, &forward, &backward);
    let names: Vec<String> = net.named_modules().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["", "fc1", "act", "fc2"]);
    Ok(())
}

#[test]
fn an_input_without_gradient_gives_no_grad_input() -> Result<()> {
    let lin = Linear::<f64>::new(3, 2, 0);
    let seen: Seen = Default::default();
    let log = seen.clone();
    let _h =
        lin.register_full_backward_hook(move |gi, go| log.borrow_mut().push((String::new(), gi.cloned(), go.clone())));
    lin.call(&Var::new(Tensor::ones(&[4, 3])))?.sum().backward()?;
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].1.is_none());
    assert_eq!(seen[0].2.to_vec(), vec![1.0; 8]);
    Ok(())
}

#[test]
fn removed_or_dropped_hooks_stop_and_forward_alone_runs_none() -> Result<()> {
    let model = sequential();
    let count = Rc::new(RefCell::new(0));
    let x = Var::new(Tensor::ones(&[2, 3]));
    let modules = model.named_modules();
    let c = count.clone();
    let handle = modules[2].1.register_forward_hook(move |_, _| *c.borrow_mut() += 1);
    {
        let c = count.clone();
        let _scoped = modules[2].1.register_forward_hook(move |_, _| *c.borrow_mut() += 10);
        model.call(&x)?;
    }
    assert_eq!(*count.borrow(), 11, "both hooks ran once");
    model.call(&x)?;
    assert_eq!(*count.borrow(), 12, "the dropped handle's hook is off");
    handle.remove();
    model.call(&x)?;
    assert_eq!(*count.borrow(), 12, "the removed hook is off");
    let c = count.clone();
    let _h = model.register_forward_hook(move |_: &Var<f64>, _: &Var<f64>| *c.borrow_mut() += 100);
    model.forward(&x)?;
    assert_eq!(*count.borrow(), 12, "forward alone runs no hook of the model");
    Ok(())
}

#[test]
fn zero_sized_layers_of_a_sequential_each_have_their_own_hooks() -> Result<()> {
    let model: Sequential<f64> = Sequential::new().add(Tanh).add(Tanh);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let modules = model.named_modules();
    let _handles: Vec<_> = modules[1..]
        .iter()
        .map(|(name, m)| {
            let (log, name) = (seen.clone(), name.clone());
            m.register_forward_hook(move |_, _| log.borrow_mut().push(name.clone()))
        })
        .collect();
    model.call(&Var::new(Tensor::ones(&[2])))?;
    assert_eq!(*seen.borrow(), ["0", "1"]);
    Ok(())
}

#[test]
fn hooks_change_no_value_or_gradient() -> Result<()> {
    // The same step with and without hooks gives the same bits.
    let run = |hooked: bool| -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        let model = sequential();
        let mut handles = Vec::new();
        if hooked {
            for (_, m) in model.named_modules() {
                handles.push(m.register_forward_hook(|_, _| {}));
                handles.push(m.register_full_backward_hook(|_: Option<&Tensor<f64>>, _: &Tensor<f64>| {}));
            }
        }
        let x = Var::parameter(Tensor::from_vec((0..15).map(|i| (i as f64).sin()).collect(), &[5, 3])?);
        let out = model.call(&x)?;
        out.sum().backward()?;
        let mut grads: Vec<Vec<f64>> = model.parameters().iter().map(|p| p.grad().unwrap().to_vec()).collect();
        grads.push(x.grad().unwrap().to_vec());
        Ok((out.to_tensor().to_vec(), grads))
    };
    assert_eq!(run(false)?, run(true)?);
    Ok(())
}
