//! Reverse-mode differentiation: an iterative topological walk from the outputs to the leaves.
//!
//! No map keyed by node: a walk numbers the nodes it visits in topological order and writes
//! (walk, place) into each node's `mark`, so "visited?" is one comparison and the pending
//! gradients live in a `Vec` indexed by place. A backward started from inside another (a hook
//! that runs one) puts the marks it overwrote back when it ends; the outermost one need not, as
//! no walk will look at its marks again (a later walk has a new number).

use std::cell::Cell;

use ferrograd_tensor::{Error, Float, Result, Shape, Tensor};

use crate::grad_mode::{enable_grad, no_grad};
use crate::Var;

thread_local! {
    /// The number of the last walk on this thread; walks are numbered from 1, marks start at 0.
    static WALKS: Cell<u64> = const { Cell::new(0) };
    /// How many walks are alive on this thread (more than one when a hook runs a backward).
    static ALIVE: Cell<u32> = const { Cell::new(0) };
}

/// The nodes a backward visits, in topological order, marked with their place.
pub(crate) struct Walk<'a, T: Float> {
    id: u64,
    /// Every node the outputs depend on through nodes that require a gradient, inputs before
    /// the ops that use them.
    pub(crate) order: Vec<&'a Var<T>>,
    /// The mark each node of `order` had before this walk, kept only when this walk runs inside
    /// another, whose marks it must put back.
    previous: Option<Vec<(u64, u32)>>,
    /// Why backward cannot go through the graph (see [`check_ready`]), if a check was asked for.
    pub(crate) refused: Option<Error>,
}

impl<'a, T: Float> Walk<'a, T> {
    /// Orders the graph behind `outputs` with an explicit stack (a chain of a million ops is a
    /// long loop, not a deep recursion), marking each node with its place.
    #[cfg(test)]
    pub(crate) fn new(outputs: &'a [Var<T>]) -> Self {
        Self::checked(outputs, None)
    }

    /// [`new`](Walk::new), checking each node with [`check_ready`] on the way (while it is in
    /// cache) when `check` is given: `Some(accumulate)`, whether the walk stores gradients in
    /// `.grad`. The first refusal is kept in `refused`.
    pub(crate) fn checked(outputs: &'a [Var<T>], check: Option<bool>) -> Self {
        let mut refused = None;
        // A value is mutably borrowed only through a live `ValueMut`; most backwards see none.
        let values_borrowed = check.is_some() && crate::var::value_muts_alive();
        let id = WALKS.with(|w| {
            w.set(w.get() + 1);
            w.get()
        });
        let nested = ALIVE.with(|a| a.replace(a.get() + 1)) > 0;
        let (mut order, mut previous) = (Vec::new(), nested.then(Vec::new));
        // (node, its inputs are ordered already, its mark before this walk)
        let mut stack: Vec<(&'a Var<T>, bool, (u64, u32))> = outputs.iter().rev().map(|v| (v, false, (0, 0))).collect();
        while let Some((var, inputs_done, before)) = stack.pop() {
            let node = &var.0;
            if inputs_done {
                if let (Some(accumulate), None) = (check, &refused) {
                    let stores_grad = accumulate && (var.is_leaf() || var.0.retains_grad.get());
                    refused = check_ready(var, stores_grad, values_borrowed).err();
                }
                node.set_mark((id, order.len() as u32));
                order.push(var);
                if let Some(previous) = previous.as_mut() {
                    previous.push(before);
                }
                continue;
            }
            if !var.requires_grad() || node.mark().0 == id {
                continue;
            }
            let before = node.replace_mark((id, u32::MAX));
            stack.push((var, true, before));
            for input in var.inputs().iter().rev() {
                if input.requires_grad() && input.0.mark().0 != id {
                    stack.push((input, false, (0, 0)));
                }
            }
        }
        Walk {
            id,
            order,
            previous,
            refused,
        }
    }

    /// The place of `var` in the order, if this walk visited it.
    pub(crate) fn place(&self, var: &Var<T>) -> Option<usize> {
        let (id, place) = var.0.mark();
        (id == self.id && place != u32::MAX).then_some(place as usize)
    }
}

impl<T: Float> Drop for Walk<'_, T> {
    fn drop(&mut self) {
        ALIVE.with(|a| a.set(a.get() - 1));
        if let Some(previous) = &self.previous {
            for (var, &before) in self.order.iter().zip(previous) {
                var.0.set_mark(before);
            }
        }
    }
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
    let mut walk = Walk::checked(outputs, Some(matches!(sink, Sink::Accumulate)));
    // Everything that can refuse was checked before any gradient is stored: a change in place
    // since forward, a borrow the caller holds.
    if let Some(refused) = walk.refused.take() {
        return Err(refused);
    }
    // The gradient waiting at each place; taken (and so freed) when its node is reached.
    let mut grads: Vec<Option<Var<T>>> = vec![None; walk.order.len()];
    for (out, g) in outputs.iter().zip(grad_outputs) {
        out.check_same_shape("backward", &g)?;
        if let Some(place) = walk.place(out) {
            accumulate(&mut grads[place], Var::new(g), create_graph)?;
        }
    }
    // (place, index in the results) of each wanted node, the last place last: an input listed
    // twice is returned twice.
    let (mut wanted, mut results) = match &sink {
        Sink::Return(inputs) => {
            let mut wanted: Vec<(usize, usize)> = inputs
                .iter()
                .enumerate()
                .filter_map(|(i, v)| walk.place(v).map(|p| (p, i)))
                .collect();
            wanted.sort_unstable();
            (wanted, vec![None; inputs.len()])
        }
        Sink::Accumulate => (Vec::new(), Vec::new()),
    };

    let accumulate_into =
        |var: &Var<T>| matches!(sink, Sink::Accumulate) && (var.is_leaf() || var.0.retains_grad.get());
    crate::anomaly::check_forward_in_graph(&walk.order)?;
    let anomaly = crate::anomaly::is_anomaly_enabled();
    // A hook may change values; once one has run, each rule's saved values are checked again.
    let mut hooks_ran = false;
    for (place, &var) in walk.order.iter().enumerate().rev() {
        let Some(mut g) = grads[place].take() else { continue };
        if let Some(hooks) = var.hooks() {
            hooks_ran = true;
            for hook in hooks {
                let replaced = hook(&g.value());
                if let Some(new) = replaced {
                    var.check_same_shape("register_hook", &new)?;
                    g = Var::new(new);
                }
            }
        }
        if hooks_ran {
            check_ready(var, accumulate_into(var), crate::var::value_muts_alive())?;
        }
        match &sink {
            Sink::Accumulate if var.is_leaf() || var.0.retains_grad.get() => {
                let mut slot = var.grad_slot("backward")?;
                match slot.as_mut() {
                    Some(acc) => acc.add_assign(&g.value())?,
                    // A leaf's gradient is used for nothing else: moved, not copied.
                    None if var.is_leaf() => {
                        *slot = Some(Box::new(g.into_tensor()));
                        continue;
                    }
                    None => *slot = Some(Box::new(g.to_tensor())),
                }
            }
            Sink::Return(_) => {
                while let Some(&(p, i)) = wanted.last() {
                    if p != place {
                        break;
                    }
                    results[i] = Some(g.clone());
                    wanted.pop();
                }
            }
            _ => {}
        }
        let Some(f) = var.0.grad_fn.as_ref() else { continue };
        if let (false, Some(slice)) = (create_graph, var.rule().slice_of_input()) {
            let input = &f.inputs[0];
            if let (true, Some(p)) = (input.requires_grad(), walk.place(input)) {
                if anomaly {
                    crate::anomaly::check_backward(f.name, 0, &g)?;
                }
                accumulate_slice(&mut grads[p], g, input, slice)?;
            }
            continue;
        }
        // `g` is given away: a rule may compute its result in `g`'s buffer.
        let input_grads = var.rule().call(g, var, &f.inputs)?;
        if input_grads.len() != f.inputs.len() {
            return Err(Error::invalid(
                "backward",
                format!(
                    "function {} returned an incorrect number of gradients (expected {}, got {})",
                    f.name,
                    f.inputs.len(),
                    input_grads.len()
                ),
            ));
        }
        for (i, (input, ig)) in f.inputs.iter().zip(input_grads).enumerate() {
            let (true, Some(ig)) = (input.requires_grad(), ig) else {
                continue;
            };
            if anomaly {
                crate::anomaly::check_backward(f.name, i, &ig)?;
            }
            if !same_shape(ig.value().shape(), input.value().shape()) {
                return Err(Error::ShapeMismatch {
                    op: f.name,
                    lhs: Shape(input.shape()),
                    rhs: Shape(ig.shape()),
                    reason: "the backward rule returned a gradient of the wrong shape".into(),
                });
            }
            if let Some(p) = walk.place(input) {
                accumulate(&mut grads[p], ig, create_graph)?;
            }
        }
    }
    Ok(results)
}

/// Whether backward can go through `var`: no value its rule reads was changed in place since
/// forward (PyTorch's version check), no input replaced by a value of another shape, none of
/// the values borrowed mutably by the caller, and, if the walk stores its gradient, that
/// gradient not borrowed by the caller.
///
/// The usual case (nothing changed, nothing borrowed) is a few comparisons, inlined into the
/// walk; anything else goes to [`check_node`].
#[inline(always)]
fn check_ready<T: Float>(var: &Var<T>, stores_grad: bool, values_borrowed: bool) -> Result<()> {
    let node = &var.0;
    let Some(f) = node.grad_fn.as_ref() else {
        if stores_grad && node.grad.try_borrow_mut().is_err() {
            return check_node(var, stores_grad, values_borrowed);
        }
        return Ok(());
    };
    let inputs = &f.inputs;
    let changed = |i: usize| {
        inputs
            .get(i)
            .is_some_and(|v| v.0.version.get() as u16 != node.versions[i])
    };
    if stores_grad
        || values_borrowed
        || inputs.len() > 2
        || (node.saves.output() && node.version.get() != 0)
        || changed(0)
        || changed(1)
    {
        return check_node(var, stores_grad, values_borrowed);
    }
    Ok(())
}

/// [`check_ready`] in full, with its errors.
#[cold]
#[inline(never)]
fn check_node<T: Float>(var: &Var<T>, stores_grad: bool, values_borrowed: bool) -> Result<()> {
    if stores_grad && var.0.grad.try_borrow_mut().is_err() {
        return Err(var.borrowed("backward", "the grad_ref() of it"));
    }
    let Some(f) = var.0.grad_fn.as_ref() else { return Ok(()) };
    // A value is mutably borrowed only through a live `ValueMut`; most backwards see none.
    if values_borrowed && var.0.value.try_borrow().is_err() {
        return Err(var.borrowed("backward", "the value_mut() of it"));
    }
    if var.0.saves.output() && var.version() != 0 {
        return Err(modified_in_place(var, 0, f.name));
    }
    for (i, input) in f.inputs.iter().enumerate() {
        if values_borrowed && input.0.value.try_borrow().is_err() {
            return Err(input.borrowed("backward", "the value_mut() of it"));
        }
        let now = input.version();
        let seen = var.0.version_seen(i, now);
        if now == seen {
            continue;
        }
        if var.0.saves.input(i) {
            return Err(modified_in_place(input, seen, f.name));
        }
        if input.0.reshaped.get() {
            return Err(Error::invalid(
                "backward",
                format!(
                    "input {i} of {} was replaced by a value of shape {} after the op was recorded (it is at version {now}; the op saw version {seen}), so its gradient would have the wrong shape",
                    f.name,
                    Shape(input.shape())
                ),
            ));
        }
    }
    Ok(())
}

/// PyTorch's error for a value changed in place after an op that needs it was recorded.
fn modified_in_place<T: Float>(var: &Var<T>, expected: u32, needed_by: &str) -> Error {
    let kind = match T::DTYPE {
        ferrograd_tensor::DType::F32 => "torch.FloatTensor",
        ferrograd_tensor::DType::F64 => "torch.DoubleTensor",
    };
    // PyTorch names the op that made the tensor without its "Backward0" suffix.
    let made_by = var.op_name().map(|name| {
        let short = name.trim_end_matches(|c: char| c.is_ascii_digit());
        format!(
            ", which is output 0 of {},",
            short.strip_suffix("Backward").unwrap_or(short)
        )
    });
    Error::invalid(
        "backward",
        format!(
            "one of the variables needed for gradient computation has been modified by an inplace operation: [{kind} {}]{} is at version {}; expected version {expected} instead. Hint: the gradient of {needed_by} reads it; run the forward again after changing a value in place.",
            Shape(var.shape()),
            made_by.unwrap_or_default(),
            var.version()
        ),
    )
}

/// `a == b`, without a call to `memcmp` for the few sizes of a shape.
fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Adds `g` into the gradient waiting in `slot`. Without `create_graph`, when one of the two
/// is a plain value that nothing else holds, the other is added into it in place.
fn accumulate<T: Float>(slot: &mut Option<Var<T>>, mut g: Var<T>, create_graph: bool) -> Result<()> {
    let Some(acc) = slot.as_mut() else {
        *slot = Some(g);
        return Ok(());
    };
    if !create_graph {
        if let Some(value) = acc.unique_value_mut() {
            return value.add_assign(&g.value());
        }
        if let Some(value) = g.unique_value_mut() {
            value.add_assign(&acc.value())?;
            *slot = Some(g);
            return Ok(());
        }
    }
    *slot = Some(acc.try_add(&g)?);
    Ok(())
}

/// Adds `g`, the gradient of a slice of `input` (`Rule::slice_of_input`: at `start..` along
/// `dim`), into the gradient waiting in `slot`: into that slice alone, in place, when nothing
/// else holds the waiting gradient; otherwise placed in zeros of the input's shape first.
fn accumulate_slice<T: Float>(
    slot: &mut Option<Var<T>>,
    g: Var<T>,
    input: &Var<T>,
    (dim, start): (isize, usize),
) -> Result<()> {
    if let Some(value) = slot.as_mut().and_then(Var::unique_value_mut) {
        let g = g.try_value()?;
        return value.narrow_add_assign(dim, start, &g);
    }
    let full = Var::new(g.try_value()?.slice_backward(&input.shape(), dim, start)?);
    accumulate(slot, full, false)
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
    /// to it (same shape), as `y.backward(gradient)`. The gradient's buffer is shared, not
    /// copied; a rule that would compute in it copies it first, so `grad` is never changed.
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
        let outputs = [b.clone()];
        let walk = Walk::new(&outputs);
        let order = &walk.order;
        let pos = |v: &Var<f64>| order.iter().position(|o| o.id() == v.id());
        assert_eq!(order.len(), 4); // x, a, a·c, b: the constant c is left out
        assert!(pos(&c).is_none());
        assert_eq!(pos(&x), Some(0));
        assert!(pos(&a).unwrap() < pos(&b.inputs()[0]).unwrap());
        assert_eq!(pos(&b), Some(3));
    }
}
