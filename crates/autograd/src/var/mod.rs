//! [`Var`]: a tensor that remembers how it was computed.

use std::any::Any;
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use ferrograd_tensor::{Error, Float, Result, Shape, Tensor};

use crate::grad_mode::is_grad_enabled;

mod rule;
mod value_mut;

use rule::{collect_small, Borrowing, Owning, Slicing};
pub use rule::{BackwardFn, Grads, Inputs, IntoGrads};
pub(crate) use rule::{GradFn, NoRule, Rule, Saves};
pub(crate) use value_mut::value_muts_alive;
pub use value_mut::{ValueMut, WeakVar};

/// A closure run on the gradient flowing through a `Var` during backward; returning `Some`
/// replaces that gradient, as a hook registered with `tensor.register_hook` in PyTorch.
pub type Hook<T> = Box<dyn Fn(&Tensor<T>) -> Option<Tensor<T>>>;

thread_local! {
    /// The versions seen by ops of more than two inputs, for their inputs after the second,
    /// keyed by the op's node ([`Var::id`]); removed when the node goes.
    static MORE_VERSIONS: RefCell<std::collections::HashMap<usize, Box<[u32]>>> = RefCell::new(Default::default());
}

/// A hook as a node keeps it: shared, so that backward runs a node's hooks from a copy of the
/// list and a hook may register another hook or rename its own `Var`.
pub(crate) type SharedHook<T> = Rc<dyn Fn(&Tensor<T>) -> Option<Tensor<T>>>;

/// What few nodes have: hooks and a name. Boxed on first use, so a node without them carries
/// one pointer instead of both.
pub(crate) struct Extras<T: Float> {
    pub(crate) hooks: Vec<SharedHook<T>>,
    pub(crate) name: Option<String>,
}

/// A node of the graph, generic over its gradient rule `R` so that the rule lives in the
/// node's own allocation: a `Var` holds `Node<T, dyn Rule<T>>` (the default), made by
/// coercing an `Rc<Node<T, R>>` of a concrete rule, and an op costs one allocation, not two.
pub(crate) struct Node<T: Float, R: ?Sized = dyn Rule<T>> {
    pub(crate) value: RefCell<Tensor<T>>,
    /// Boxed: most nodes never hold one, and a small node is cheap to make.
    pub(crate) grad: RefCell<Option<Box<Tensor<T>>>>,
    /// The op that computed this node; `None` for a leaf.
    pub(crate) grad_fn: Option<GradFn<T>>,
    pub(crate) requires_grad: Cell<bool>,
    pub(crate) retains_grad: Cell<bool>,
    pub(crate) extras: RefCell<Option<Box<Extras<T>>>>,
    /// Set while a backward walks this node: the walk's number and the node's place in the
    /// walk's order, so that the walk keeps its gradients in a `Vec` indexed by place
    /// instead of a map keyed by node (see `backward.rs`).
    /// (Two fields, not a tuple, so that the small fields below share their padding: every
    /// byte of a node costs time in a long chain of small ops.)
    mark_walk: Cell<u64>,
    mark_place: Cell<u32>,
    /// How many times the value was changed in place ([`Var::value_mut`], an optimizer's
    /// step), as PyTorch's `tensor._version`.
    pub(crate) version: Cell<u32>,
    /// Whether the value was ever replaced by one of another shape while an op held it.
    pub(crate) reshaped: Cell<bool>,
    /// What the op's rule reads ([`Saves::NOTHING`] for a leaf).
    pub(crate) saves: Saves,
    /// The versions of the first two inputs when the op was recorded, modulo 2^16 (the rest,
    /// for an op with more, in `MORE_VERSIONS`).
    pub(crate) versions: [u16; 2],
    /// The gradient rule ([`NoRule`] for a leaf); last, as an unsized field must be.
    pub(crate) rule: R,
}

/// A node of the computation graph: a leaf (a tensor you made, perhaps a parameter with
/// `requires_grad`) or the result of an op, which remembers the op and its inputs.
///
/// Cloning a `Var` is cheap and gives another handle to the same node. Arithmetic operators
/// work on `Var`s and on a `Var` and a scalar; named methods (`matmul`, `sum_dim`, ...) return
/// [`Result`] because their arguments can be wrong.
pub struct Var<T: Float = f32>(pub(crate) Rc<Node<T>>);

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(Rc::clone(&self.0))
    }
}

thread_local! {
    /// The `Node`s alive on this thread: one more in `Node::new`, one fewer in `Drop for Node`.
    static LIVE_NODES: Cell<usize> = const { Cell::new(0) };
}

/// The number of graph nodes (leaves and op results) alive on this thread, a leak detector:
/// once a training step's loss is dropped it is back to the model's parameters plus any other
/// `Var` still held.
pub fn live_nodes() -> usize {
    LIVE_NODES.with(Cell::get)
}

impl<T: Float, R: ?Sized> Node<T, R> {
    /// The walk that last marked this node and its place in that walk's order.
    pub(crate) fn mark(&self) -> (u64, u32) {
        (self.mark_walk.get(), self.mark_place.get())
    }

    pub(crate) fn set_mark(&self, (walk, place): (u64, u32)) {
        self.mark_walk.set(walk);
        self.mark_place.set(place);
    }

    pub(crate) fn replace_mark(&self, mark: (u64, u32)) -> (u64, u32) {
        let before = self.mark();
        self.set_mark(mark);
        before
    }

    /// The version input `i` had when this node's op was recorded, given its version now.
    pub(crate) fn version_seen(&self, i: usize, now: u32) -> u32 {
        match self.versions.get(i) {
            // The stored low 16 bits and the changes since: exact up to 65,535 changes.
            Some(&low) => now.wrapping_sub((now as u16).wrapping_sub(low) as u32),
            None => MORE_VERSIONS.with(|m| {
                let id = self as *const Self as *const () as usize;
                m.borrow().get(&id).and_then(|v| v.get(i - 2).copied()).unwrap_or(now)
            }),
        }
    }
}

impl<T: Float, R: Rule<T>> Node<T, R> {
    fn new(value: Tensor<T>, grad_fn: Option<GradFn<T>>, requires_grad: bool, rule: R) -> Self {
        LIVE_NODES.with(|n| n.set(n.get() + 1));
        Node {
            value: RefCell::new(value),
            grad: RefCell::new(None),
            grad_fn,
            requires_grad: Cell::new(requires_grad),
            retains_grad: Cell::new(false),
            extras: RefCell::new(None),
            mark_walk: Cell::new(0),
            mark_place: Cell::new(0),
            version: Cell::new(0),
            reshaped: Cell::new(false),
            saves: Saves::NOTHING,
            versions: [0; 2],
            rule,
        }
    }
}

impl<T: Float> Var<T> {
    fn leaf(value: Tensor<T>, requires_grad: bool) -> Self {
        Var(Rc::new(Node::new(value, None, requires_grad, NoRule)))
    }

    /// A leaf that does not require a gradient: data, targets, constants.
    pub fn new(value: Tensor<T>) -> Self {
        Self::leaf(value, false)
    }

    /// A leaf that requires a gradient: a parameter, as `torch.tensor(..., requires_grad=True)`.
    pub fn parameter(value: Tensor<T>) -> Self {
        Self::leaf(value, true)
    }

    /// The result of an op: `value` computed from `inputs` (an array or a `Vec`),
    /// differentiated by `backward`, which returns one gradient per input (an array such as
    /// `[Some(ga), None]`, or a `Vec`).
    ///
    /// This is how every op of ferrograd is built, and how you add your own (as a
    /// `torch.autograd.Function`). When recording is off or no input requires a gradient,
    /// the result is a plain leaf and `backward` is dropped.
    pub fn from_op<G: IntoGrads<T> + 'static>(
        name: &'static str,
        value: Tensor<T>,
        inputs: impl IntoIterator<Item = Var<T>>,
        backward: impl Fn(&Var<T>, &Var<T>, &[Var<T>]) -> Result<G> + 'static,
    ) -> Self {
        Self::with_rule(name, Saves::ALL, value, inputs, Borrowing(backward, PhantomData))
    }

    /// [`from_op`](Var::from_op) for a built-in op, saying what its rule reads.
    pub(crate) fn from_op_saving<G: IntoGrads<T> + 'static>(
        name: &'static str,
        saves: Saves,
        value: Tensor<T>,
        inputs: impl IntoIterator<Item = Var<T>>,
        backward: impl Fn(&Var<T>, &Var<T>, &[Var<T>]) -> Result<G> + 'static,
    ) -> Self {
        Self::with_rule(name, saves, value, inputs, Borrowing(backward, PhantomData))
    }

    /// [`from_op`](Var::from_op) for a rule that takes the incoming gradient by value, so it
    /// can compute in place when nothing else holds it (with [`Var::reuse`]).
    pub(crate) fn from_op_owned<G: IntoGrads<T> + 'static>(
        name: &'static str,
        saves: Saves,
        value: Tensor<T>,
        inputs: impl IntoIterator<Item = Var<T>>,
        backward: impl Fn(Var<T>, &Var<T>, &[Var<T>]) -> Result<G> + 'static,
    ) -> Self {
        Self::with_rule(name, saves, value, inputs, Owning(backward, PhantomData))
    }

    /// [`from_op`](Var::from_op) for an op whose gradient is the incoming one placed at
    /// `start..` along `dim` of zeros of its one input's shape (`narrow`): the walk adds it
    /// into a gradient already waiting for the input, in place (see `Rule::slice_of_input`).
    pub(crate) fn from_slice_op<G: IntoGrads<T> + 'static>(
        name: &'static str,
        value: Tensor<T>,
        input: Var<T>,
        (dim, start): (isize, usize),
        backward: impl Fn(&Var<T>, &Var<T>, &[Var<T>]) -> Result<G> + 'static,
    ) -> Self {
        let rule = Slicing {
            rule: Borrowing(backward, PhantomData),
            dim,
            start,
        };
        Self::with_rule(name, Saves::NOTHING, value, [input], rule)
    }

    fn with_rule<R: Rule<T> + 'static>(
        name: &'static str,
        saves: Saves,
        value: Tensor<T>,
        inputs: impl IntoIterator<Item = Var<T>>,
        rule: R,
    ) -> Self {
        if !is_grad_enabled() {
            return Self::new(value);
        }
        let inputs: Inputs<T> = collect_small(inputs);
        if !inputs.iter().any(Var::requires_grad) {
            return Self::new(value);
        }
        let version = |i: usize| inputs.get(i).map_or(0, |v: &Var<T>| v.0.version.get() as u16);
        let versions = [version(0), version(1)];
        let more: Option<Box<[u32]>> = (inputs.len() > 2).then(|| inputs[2..].iter().map(Var::version).collect());
        let mut node = Node::new(value, Some(GradFn { name, inputs }), true, rule);
        node.saves = saves;
        node.versions = versions;
        let var = Var(Rc::new(node));
        if let Some(more) = more {
            MORE_VERSIONS.with(|m| m.borrow_mut().insert(var.id(), more));
        }
        if crate::anomaly::is_anomaly_enabled() {
            crate::anomaly::check_forward(&var);
        }
        var
    }

    /// `in_place` applied to this `Var`'s value when it is a plain value (no op recorded, no
    /// gradient required or stored, no hooks or name) and this is the only handle to it, so
    /// nobody can see the change and the result is the same `Var` the op would make; otherwise
    /// `op` of it. How a gradient rule reuses the buffer of the gradient it was given.
    pub(crate) fn reuse(mut self, in_place: impl FnOnce(&mut Tensor<T>), op: impl FnOnce(&Var<T>) -> Var<T>) -> Var<T> {
        if let Some(node) = Rc::get_mut(&mut self.0) {
            if node.grad_fn.is_none()
                && !node.requires_grad.get()
                && node.grad.get_mut().is_none()
                && node.extras.get_mut().is_none()
            {
                in_place(node.value.get_mut());
                return self;
            }
        }
        op(&self)
    }

    /// The value, borrowed.
    ///
    /// # Panics
    /// If a [`value_mut`](Var::value_mut) borrow of the same `Var` is alive (a `RefCell` rule);
    /// [`try_value`](Var::try_value) returns an error instead.
    pub fn value(&self) -> Ref<'_, Tensor<T>> {
        self.0.value.borrow()
    }

    /// [`value`](Var::value), or an [`Error::Borrowed`] naming `op` if a
    /// [`value_mut`](Var::value_mut) borrow of this `Var` is alive.
    pub fn try_value(&self) -> Result<Ref<'_, Tensor<T>>> {
        self.0
            .value
            .try_borrow()
            .map_err(|_| self.borrowed("value", "a value_mut() of it"))
    }

    /// The value, mutably borrowed: how an optimizer updates a parameter in place.
    ///
    /// Every call counts as a change in place: it adds one to the [`version`](Var::version).
    /// A recorded op whose gradient reads this value (as `*` reads both operands and `exp` its
    /// output) notes the version it saw, and a backward through it after the change is an
    /// error, PyTorch's "one of the variables needed for gradient computation has been
    /// modified by an inplace operation". Replacing the value by one of another shape is an
    /// error for every op recorded with it, as it would give gradients of the wrong shape.
    ///
    /// # Panics
    /// If any other borrow of this `Var`'s value is alive (a `RefCell` rule): drop the `Ref`
    /// from [`value`](Var::value) before updating in place. [`try_value_mut`](Var::try_value_mut)
    /// returns an error instead.
    pub fn value_mut(&self) -> ValueMut<'_, T> {
        ValueMut::new(&self.0, self.0.value.borrow_mut())
    }

    /// [`value_mut`](Var::value_mut), or an [`Error::Borrowed`] if another borrow of this
    /// `Var`'s value is alive.
    pub fn try_value_mut(&self) -> Result<ValueMut<'_, T>> {
        let value = self
            .0
            .value
            .try_borrow_mut()
            .map_err(|_| self.borrowed("value_mut", "every value() of it"))?;
        Ok(ValueMut::new(&self.0, value))
    }

    /// Whether a [`value`](Var::value) or [`value_mut`](Var::value_mut) borrow of this `Var`'s
    /// value is alive, so that [`value_mut`](Var::value_mut) would panic: what a call that
    /// changes values in place (an optimizer's step) checks for every value before changing any.
    pub fn is_value_borrowed(&self) -> bool {
        self.0.value.try_borrow_mut().is_err()
    }

    /// How many times the value was changed in place, as PyTorch's `tensor._version`: 0 for a
    /// new `Var`, one more at every [`value_mut`](Var::value_mut) (and so every optimizer step).
    pub fn version(&self) -> u32 {
        self.0.version.get()
    }

    /// The error of a library call that needs a borrow the caller holds.
    pub(crate) fn borrowed(&self, op: &'static str, what: &str) -> Error {
        let name = self.name().map(|n| format!(" '{n}'")).unwrap_or_default();
        Error::Borrowed {
            op,
            message: format!(
                "the Var{name} of shape {} is borrowed elsewhere; drop {what} before calling {op}",
                self.0
                    .value
                    .try_borrow()
                    .map_or_else(|_| "?".to_string(), |v| Shape(v.shape().to_vec()).to_string())
            ),
        }
    }

    /// A copy of the value.
    pub fn to_tensor(&self) -> Tensor<T> {
        self.value().clone()
    }

    /// The value to change in place, if this `Var` is a plain value (no op recorded) and this
    /// is the only handle to it: nobody else can see the change.
    pub(crate) fn unique_value_mut(&mut self) -> Option<&mut Tensor<T>> {
        Rc::get_mut(&mut self.0)
            .filter(|node| node.grad_fn.is_none())
            .map(|node| node.value.get_mut())
    }

    /// The value, moved out when this is the only handle to the node (no copy), else copied.
    pub fn into_tensor(mut self) -> Tensor<T> {
        match Rc::get_mut(&mut self.0) {
            Some(node) => std::mem::replace(node.value.get_mut(), Tensor::zeros(&[0])),
            None => self.to_tensor(),
        }
    }

    /// The accumulated gradient of a leaf (or of a `Var` that called [`retain_grad`](Var::retain_grad)).
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.0.grad.borrow().as_deref().cloned()
    }

    /// The accumulated gradient, borrowed instead of copied (as an optimizer reads it).
    ///
    /// While it is held, a `backward` that would add into this gradient, [`set_grad`](Var::set_grad)
    /// and [`try_zero_grad`](Var::try_zero_grad) return [`Error::Borrowed`] and change nothing;
    /// [`zero_grad`](Var::zero_grad) leaves the gradient as it is.
    pub fn grad_ref(&self) -> Option<Ref<'_, Tensor<T>>> {
        // The library never holds a mutable borrow of a gradient across a call of user code.
        let grad = self.0.grad.try_borrow().ok()?;
        Ref::filter_map(grad, |g| g.as_deref()).ok()
    }

    /// Clears the gradient, as `tensor.grad = None` (PyTorch's default `zero_grad(set_to_none=True)`).
    /// A big gradient's buffer is kept for the next gradient of its size
    /// ([`recycle`](ferrograd_tensor::recycle)), which saves faulting in new pages.
    ///
    /// If a [`grad_ref`](Var::grad_ref) of this `Var` is alive, the gradient is left as it is
    /// (it cannot be taken from under the borrow); [`try_zero_grad`](Var::try_zero_grad) says so.
    pub fn zero_grad(&self) {
        let _ = self.try_zero_grad();
    }

    /// [`zero_grad`](Var::zero_grad), or an [`Error::Borrowed`] if a
    /// [`grad_ref`](Var::grad_ref) of this `Var` is alive.
    pub fn try_zero_grad(&self) -> Result<()> {
        let old = self.grad_slot("zero_grad")?.take();
        if let Some(old) = old {
            ferrograd_tensor::recycle(*old);
        }
        Ok(())
    }

    /// Sets the stored gradient; its shape must be the value's shape. An [`Error::Borrowed`]
    /// if a [`grad_ref`](Var::grad_ref) of this `Var` is alive.
    pub fn set_grad(&self, grad: Option<Tensor<T>>) -> Result<()> {
        if let Some(g) = &grad {
            self.check_same_shape("set_grad", g)?;
        }
        *self.grad_slot("set_grad")? = grad.map(Box::new);
        Ok(())
    }

    /// The gradient, to change, or the error of `op` if a [`grad_ref`](Var::grad_ref) is alive.
    pub(crate) fn grad_slot(&self, op: &'static str) -> Result<RefMut<'_, Option<Box<Tensor<T>>>>> {
        self.0
            .grad
            .try_borrow_mut()
            .map_err(|_| self.borrowed(op, "the grad_ref() of it"))
    }

    /// Whether a gradient flows to this `Var`.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.get()
    }

    /// Turns gradient tracking of a leaf on or off, as `tensor.requires_grad_()`.
    pub fn requires_grad_(&self, requires_grad: bool) -> Result<()> {
        if !self.is_leaf() && !requires_grad {
            return Err(Error::invalid("requires_grad_", "you can only change requires_grad flags of leaf variables; use detach() to get a Var that does not require grad"));
        }
        self.0.requires_grad.set(requires_grad);
        Ok(())
    }

    /// Whether this `Var` was made by you rather than computed by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// The name of the op that computed this `Var` (`None` for a leaf).
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.grad_fn.as_ref().map(|f| f.name)
    }

    /// The inputs of the op that computed this `Var` (empty for a leaf).
    pub fn inputs(&self) -> &[Var<T>] {
        self.0.grad_fn.as_ref().map_or(&[], |f| &f.inputs)
    }

    /// Keeps this intermediate's gradient in [`grad`](Var::grad) after backward, as `retain_grad()`.
    pub fn retain_grad(&self) {
        if !self.is_leaf() {
            self.0.retains_grad.set(true);
        }
    }

    /// Runs `hook` on the gradient flowing through this `Var` during every later backward;
    /// returning `Some(new)` replaces the gradient passed on (its shape must not change).
    ///
    /// A hook may itself register hooks or call [`set_name`](Var::set_name) on its `Var`;
    /// hooks registered during a backward run from the next one on.
    ///
    /// A hook that holds its own `Var` (or one that leads back to it) makes a cycle that is
    /// never freed, as any `Rc` cycle: capture a [`WeakVar`] ([`Var::downgrade`]) instead.
    pub fn register_hook(&self, hook: impl Fn(&Tensor<T>) -> Option<Tensor<T>> + 'static) {
        self.extras().hooks.push(Rc::new(hook));
    }

    /// The hooks of this node, copied (a few `Rc`s) so that none of its state is borrowed while
    /// they run.
    #[inline]
    pub(crate) fn hooks(&self) -> Option<Vec<SharedHook<T>>> {
        let extras = self.0.extras.borrow();
        extras.as_ref().filter(|e| !e.hooks.is_empty()).map(|e| e.hooks.clone())
    }

    /// A handle that does not keep the node alive: what a hook should capture to reach its
    /// own `Var` (a hook holding the `Var` itself would make a cycle that is never freed).
    pub fn downgrade(&self) -> WeakVar<T> {
        WeakVar(Rc::downgrade(&self.0))
    }

    /// The node's hooks and name, boxed on first use.
    fn extras(&self) -> RefMut<'_, Extras<T>> {
        RefMut::map(self.0.extras.borrow_mut(), |e| {
            &mut **e.get_or_insert_with(|| {
                Box::new(Extras {
                    hooks: Vec::new(),
                    name: None,
                })
            })
        })
    }

    /// A new leaf with the same value that is cut off from the graph, as `detach()`.
    ///
    /// Unlike PyTorch's, whose result shares its storage with the original, this is a copy:
    /// a change in place to either one is not seen by the other (and does not count as a
    /// change of the other's [`version`](Var::version)).
    pub fn detach(&self) -> Self {
        Self::new(self.to_tensor())
    }

    /// The size of each dimension.
    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.value().ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.value().numel()
    }

    /// The single value of a one-element `Var`, as `loss.item()`.
    pub fn item(&self) -> Result<T> {
        self.value().item()
    }

    /// Gives this `Var` a name, shown by [`to_dot`](crate::to_dot) (parameters of a model, say).
    pub fn set_name(&self, name: &str) {
        self.extras().name = Some(name.to_string());
    }

    /// The name given with [`set_name`](Var::set_name), if any.
    pub fn name(&self) -> Option<String> {
        self.0.extras.borrow().as_ref().and_then(|e| e.name.clone())
    }

    /// A stable identity for this node while it is alive (used to key gradients and graph pictures).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }

    /// The gradient rule run by backward for this node's op.
    pub(crate) fn rule(&self) -> &dyn Rule<T> {
        &self.0.rule
    }

    pub(crate) fn check_same_shape(&self, op: &'static str, t: &Tensor<T>) -> Result<()> {
        if t.shape() != self.value().shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: Shape(self.shape()),
                rhs: Shape(t.shape().to_vec()),
                reason: "the gradient must have the shape of the value".into(),
            });
        }
        Ok(())
    }
}

impl<T: Float> From<Tensor<T>> for Var<T> {
    fn from(t: Tensor<T>) -> Self {
        Var::new(t)
    }
}

impl<T: Float> fmt::Display for Var<T> {
    /// Prints like PyTorch: `tensor([...], grad_fn=<MulBackward>)` or `requires_grad=True`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match (self.op_name(), self.requires_grad()) {
            (Some(name), _) => format!("grad_fn=<{name}>"),
            (None, true) => "requires_grad=True".to_string(),
            (None, false) => return write!(f, "{}", self.value()),
        };
        f.write_str(&self.value().repr_with(&[&suffix]))
    }
}

impl<T: Float> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

thread_local! {
    /// Whether a node's drop is running on this thread, and the hooks and names of nodes
    /// dropped inside it, whose freeing waits for it (see `Drop for Node`).
    static DROPPING: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Frees `extras` (a node's hooks, which may hold other `Var`s) without recursion: inside a
/// node's drop it is queued, and the outermost drop frees the queue in a loop, so that a chain
/// of leaves whose hooks each hold the one before is freed one link at a time.
fn free_extras(extras: Box<dyn Any>) {
    if DROPPING.try_with(Cell::get).unwrap_or(true) {
        // Queued (never borrowed while a drop runs); if the thread is ending and its queue is
        // gone, the closure, and the extras with it, are freed here.
        let _ = PENDING.try_with(move |p| p.borrow_mut().push(extras));
        return;
    }
    DROPPING.with(|d| d.set(true));
    drop(extras);
    while let Some(next) = PENDING.with(|p| p.borrow_mut().pop()) {
        drop(next);
    }
    DROPPING.with(|d| d.set(false));
}

impl<T: Float, R: ?Sized> Drop for Node<T, R> {
    /// Frees a long chain of nodes with a loop instead of recursion, so that dropping the
    /// result of a million chained ops (or a chain of hooks each holding the `Var` before)
    /// does not overflow the stack.
    fn drop(&mut self) {
        let _ = LIVE_NODES.try_with(|n| n.set(n.get().saturating_sub(1)));
        if self.extras.get_mut().as_ref().is_some_and(|e| !e.hooks.is_empty()) {
            free_extras(self.extras.get_mut().take().expect("checked"));
        }
        let id = self as *const Self as *const () as usize;
        let Some(f) = self.grad_fn.as_mut() else { return };
        if f.inputs.len() > 2 {
            let _ = MORE_VERSIONS.try_with(|m| m.borrow_mut().remove(&id));
        }
        if f.inputs.is_empty() {
            // Emptied by the loop below while dropping a later node: nothing left to free.
            return;
        }
        let mut stack = std::mem::take(&mut f.inputs);
        while let Some(mut v) = stack.pop() {
            // The last handle to a node: take its inputs before it goes, so its own drop
            // has nothing left to free.
            if let Some(f) = Rc::get_mut(&mut v.0).and_then(|node| node.grad_fn.as_mut()) {
                while let Some(input) = f.inputs.pop() {
                    stack.push(input);
                }
            }
        }
    }
}
