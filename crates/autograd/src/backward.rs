//! Reverse-mode differentiation: an iterative topological walk from the outputs to the leaves.

use std::collections::{HashMap, HashSet};

use ferrograd_tensor::{Error, Float, Result, Shape, Tensor};

use crate::grad_mode::{enable_grad, no_grad};
use crate::Var;

/// Every node that `outputs` depend on through nodes that require a gradient, inputs before
/// the ops that use them. A loop with an explicit stack, so a chain of a million ops is fine.
pub(crate) fn topological_order<T: Float>(outputs: &[Var<T>]) -> Vec<Var<T>> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<(Var<T>, bool)> = outputs.iter().rev().map(|v| (v.clone(), false)).collect();
    while let Some((var, inputs_done)) = stack.pop() {
        if inputs_done {
            order.push(var);
            continue;
        }
        if !var.requires_grad() || !visited.insert(var.id()) {
            continue;
        }
        stack.push((var.clone(), true));
        for input in var.inputs().iter().rev() {
            if input.requires_grad() && !visited.contains(&input.id()) {
                stack.push((input.clone(), false));
            }
        }
    }
    order
}

/// Where the gradients reaching the graph's ends go.
pub(crate) enum Sink<'a, T: Float> {
    /// Into `.grad` of leaves that require it and of intermediates that retain it (`backward`).
    Accumulate,
    /// Returned for these `Var`s only, `.grad` untouched (`grad`).
    Return(&'a [Var<T>]),
}

/// Propagates `grad_outputs` from `outputs` back through the graph. With `create_graph` the
/// gradient computations are themselves recorded, so the results can be differentiated again.
pub(crate) fn run_backward<T: Float>(
    outputs: &[Var<T>],
    grad_outputs: Vec<Tensor<T>>,
    create_graph: bool,
    sink: Sink<'_, T>,
) -> Result<Vec<Option<Var<T>>>> {
    let _mode = if create_graph { enable_grad() } else { no_grad() };
    let mut grads: HashMap<usize, Var<T>> = HashMap::new();
    for (out, g) in outputs.iter().zip(grad_outputs) {
        out.check_same_shape("backward", &g)?;
        accumulate(&mut grads, out, Var::new(g))?;
    }
    // Where each wanted node goes in the results: an input listed twice is returned twice.
    let mut wanted: HashMap<usize, Vec<usize>> = HashMap::new();
    let n_results = match &sink {
        Sink::Return(inputs) => {
            for (i, v) in inputs.iter().enumerate() {
                wanted.entry(v.id()).or_default().push(i);
            }
            inputs.len()
        }
        Sink::Accumulate => 0,
    };
    let mut results = vec![None; n_results];

    let order = topological_order(outputs);
    crate::anomaly::check_forward_in_graph(&order)?;
    for var in order.iter().rev() {
        let Some(mut g) = grads.remove(&var.id()) else { continue };
        for hook in var.0.hooks.borrow().iter() {
            let replaced = hook(&g.value());
            if let Some(new) = replaced {
                var.check_same_shape("register_hook", &new)?;
                g = Var::new(new);
            }
        }
        match &sink {
            Sink::Accumulate if var.is_leaf() || var.0.retains_grad.get() => {
                let mut slot = var.0.grad.borrow_mut();
                match slot.as_mut() {
                    Some(acc) => acc.add_assign(&g.value())?,
                    None => *slot = Some(g.to_tensor()),
                }
            }
            Sink::Return(_) => {
                for &i in wanted.get(&var.id()).into_iter().flatten() {
                    results[i] = Some(g.clone());
                }
            }
            _ => {}
        }
        let Some(f) = var.0.grad_fn.as_ref() else { continue };
        let input_grads = (f.backward)(&g, var, &f.inputs)?;
        for (i, (input, ig)) in f.inputs.iter().zip(input_grads).enumerate() {
            if let (true, Some(ig)) = (input.requires_grad(), ig) {
                crate::anomaly::check_backward(f.name, i, &ig)?;
                if ig.value().shape() != input.value().shape() {
                    return Err(Error::ShapeMismatch {
                        op: f.name,
                        lhs: Shape(input.shape()),
                        rhs: Shape(ig.shape()),
                        reason: "the backward rule returned a gradient of the wrong shape".into(),
                    });
                }
                accumulate(&mut grads, input, ig)?;
            }
        }
    }
    Ok(results)
}

fn accumulate<T: Float>(grads: &mut HashMap<usize, Var<T>>, var: &Var<T>, g: Var<T>) -> Result<()> {
    match grads.remove(&var.id()) {
        Some(acc) => grads.insert(var.id(), acc.try_add(&g)?),
        None => grads.insert(var.id(), g),
    };
    Ok(())
}

impl<T: Float> Var<T> {
    /// Computes the gradient of this one-element `Var` (a loss) with respect to every leaf
    /// that requires one, adding it into their [`grad`](Var::grad), as `loss.backward()`.
    ///
    /// Gradients accumulate across calls until [`zero_grad`](Var::zero_grad); intermediates keep
    /// none unless [`retain_grad`](Var::retain_grad) was called. The graph is kept, so calling
    /// it again adds the same gradients again (PyTorch's `retain_graph=True`).
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::invalid("backward", format!("grad can be implicitly created only for scalar outputs, but the output has shape {}; pass a gradient with backward_with", Shape(self.shape()))));
        }
        let one = Tensor::ones(&self.shape());
        self.backward_with(&one)
    }

    /// Backward from a `Var` of any shape, given the gradient of the final result with respect
    /// to it (same shape), as `y.backward(gradient)`.
    pub fn backward_with(&self, grad: &Tensor<T>) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::invalid("backward", "element 0 of tensors does not require grad and does not have a grad_fn: no input of this result requires a gradient (make parameters with Var::parameter)"));
        }
        run_backward(std::slice::from_ref(self), vec![grad.clone()], false, Sink::Accumulate).map(|_| ())
    }
}

/// The gradients of `outputs` (weighted by `grad_outputs`, ones for one-element outputs when
/// `None`) with respect to `inputs`, without touching any `.grad`, as `torch.autograd.grad`.
///
/// With `create_graph` the returned gradients are recorded `Var`s that can be differentiated
/// again: second derivatives and Hessian-vector products. An input the outputs do not depend
/// on gets `None` (PyTorch's `allow_unused=True`).
pub fn grad<T: Float>(
    outputs: &[Var<T>],
    inputs: &[Var<T>],
    grad_outputs: Option<Vec<Tensor<T>>>,
    create_graph: bool,
) -> Result<Vec<Option<Var<T>>>> {
    let grad_outputs = match grad_outputs {
        Some(g) if g.len() == outputs.len() => g,
        Some(g) => {
            return Err(Error::invalid(
                "grad",
                format!("got {} grad_outputs for {} outputs", g.len(), outputs.len()),
            ))
        }
        None => outputs
            .iter()
            .map(|o| {
                if o.numel() == 1 {
                    Ok(Tensor::ones(&o.shape()))
                } else {
                    Err(Error::invalid(
                        "grad",
                        format!(
                            "grad can be implicitly created only for scalar outputs, got shape {}",
                            Shape(o.shape())
                        ),
                    ))
                }
            })
            .collect::<Result<_>>()?,
    };
    if let Some(i) = inputs.iter().position(|v| !v.requires_grad()) {
        return Err(Error::invalid("grad", format!("input {i} does not require grad")));
    }
    run_backward(outputs, grad_outputs, create_graph, Sink::Return(inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topological_order_puts_inputs_first_once_each() {
        let x = Var::parameter(Tensor::<f64>::ones(&[2]));
        let c = Var::new(Tensor::<f64>::ones(&[2]));
        let a = x.exp();
        let b = a.try_mul(&c).unwrap().try_add(&a).unwrap();
        let order = topological_order(std::slice::from_ref(&b));
        let pos = |v: &Var<f64>| order.iter().position(|o| o.id() == v.id());
        assert_eq!(order.len(), 4); // x, a, a·c, b: the constant c is left out
        assert!(pos(&c).is_none());
        assert_eq!(pos(&x), Some(0));
        assert!(pos(&a).unwrap() < pos(&b.inputs()[0]).unwrap());
        assert_eq!(pos(&b), Some(3));
    }
}
