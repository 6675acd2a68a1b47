//! An op's gradient rule as a node stores it: what the rule returns, what it reads of the
//! values it was recorded with, and the two ways it takes the incoming gradient.

use std::marker::PhantomData;

use ferrograd_tensor::{Float, Result};
use smallvec::SmallVec;

use super::Var;

/// The inputs of an op, inline up to two (every built-in op has one or two).
pub type Inputs<T> = SmallVec<[Var<T>; 2]>;

/// The gradients an op's rule returns, one per input (`None` where the input gets none).
pub type Grads<T> = SmallVec<[Option<Var<T>>; 2]>;

/// The gradient rule of an op: given the gradient flowing into its output, the output itself
/// and its inputs, the gradient for each input (`None` where the input gets none).
///
/// Rules are written with `Var` operations, so that they can themselves be differentiated
/// (`create_graph`). A rule must not capture `Var`s: it receives everything it needs.
pub type BackwardFn<T> = dyn Fn(&Var<T>, &Var<T>, &[Var<T>]) -> Result<Grads<T>>;

/// What a gradient rule may return: an array (`Ok([Some(ga), None])`, no allocation), a `Vec`,
/// or [`Grads`].
pub trait IntoGrads<T: Float> {
    /// The gradients, one per input.
    fn into_grads(self) -> Grads<T>;
}

impl<T: Float, const N: usize> IntoGrads<T> for [Option<Var<T>>; N] {
    fn into_grads(self) -> Grads<T> {
        collect_small(self)
    }
}

impl<T: Float> IntoGrads<T> for Vec<Option<Var<T>>> {
    fn into_grads(self) -> Grads<T> {
        collect_small(self)
    }
}

/// Collects a few items: a plain loop of pushes, which for one or two items costs less than
/// `SmallVec`'s general `extend`.
pub(super) fn collect_small<A: smallvec::Array>(items: impl IntoIterator<Item = A::Item>) -> SmallVec<A> {
    let mut v = SmallVec::new();
    for item in items {
        v.push(item);
    }
    v
}

impl<T: Float> IntoGrads<T> for Grads<T> {
    fn into_grads(self) -> Grads<T> {
        self
    }
}

/// What an op's gradient rule reads of the values it was recorded with: its inputs, its
/// output, both or neither (a rule that needs only shapes, or nothing). Changing a value that a
/// rule reads, between forward and backward, makes backward an error, as PyTorch's version
/// counter does for the tensors an op saved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Saves(u8);

impl Saves {
    /// Only shapes: `+`, `sum`, `reshape`...
    pub(crate) const NOTHING: Saves = Saves(0);
    /// The output's value (`exp`, `tanh`, `relu`...).
    pub(crate) const OUTPUT: Saves = Saves(1);
    /// Every input's value (`*`, `log`, `matmul`...).
    pub(crate) const INPUTS: Saves = Saves(!1);
    /// The first two inputs' values (`linear`: the input and the weight, not the bias).
    pub(crate) const FIRST_TWO: Saves = Saves(0b110);
    /// Everything; what a rule given to [`Var::from_op`] may read.
    pub(crate) const ALL: Saves = Saves(!0);

    /// Whether the rule reads its output.
    pub(crate) fn output(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether the rule reads input `i` (bit `i + 1`; the last bit stands for inputs 6 on).
    pub(crate) fn input(self, i: usize) -> bool {
        self.0 & (1 << (i + 1).min(7)) != 0
    }
}

/// The op that computed a node: its name and inputs (the gradient rule itself is the node's
/// `rule`, stored in the same allocation; what the rule reads and the versions it saw are in
/// the node too).
pub(crate) struct GradFn<T: Float> {
    pub(crate) name: &'static str,
    pub(crate) inputs: Inputs<T>,
}

/// A gradient rule as the backward walk calls it: it receives the gradient flowing into the
/// output by value, so that a rule may reuse its buffer (see [`Var::reuse`]).
pub(crate) trait Rule<T: Float> {
    fn call(&self, g: Var<T>, out: &Var<T>, inputs: &[Var<T>]) -> Result<Grads<T>>;

    /// `(dim, start)` for an op whose one input's gradient is the incoming gradient placed at
    /// `start..` along `dim` in zeros of the input's shape (`narrow`, and so `split` and
    /// `chunk`): without `create_graph` the walk adds it into that slice of a gradient
    /// already waiting for the input, in place, instead of making the zeros and adding them
    /// all. `None` for every other op.
    fn slice_of_input(&self) -> Option<(isize, usize)> {
        None
    }
}

/// A rule whose gradient is a slice of its input's (see [`Rule::slice_of_input`]); `rule`
/// computes it, with `Var` ops, when the walk records (`create_graph`).
pub(super) struct Slicing<R> {
    pub(super) rule: R,
    pub(super) dim: isize,
    pub(super) start: usize,
}

impl<T: Float, R: Rule<T>> Rule<T> for Slicing<R> {
    fn call(&self, g: Var<T>, out: &Var<T>, inputs: &[Var<T>]) -> Result<Grads<T>> {
        self.rule.call(g, out, inputs)
    }

    fn slice_of_input(&self) -> Option<(isize, usize)> {
        Some((self.dim, self.start))
    }
}

/// The rule of a leaf, which has none: never called, since the walk stops at leaves.
pub(crate) struct NoRule;

impl<T: Float> Rule<T> for NoRule {
    fn call(&self, _: Var<T>, _: &Var<T>, _: &[Var<T>]) -> Result<Grads<T>> {
        Ok(Grads::new())
    }
}

/// A rule given to [`Var::from_op`], which borrows the incoming gradient.
pub(super) struct Borrowing<F, G>(pub(super) F, pub(super) PhantomData<fn() -> G>);

impl<T: Float, G: IntoGrads<T>, F: Fn(&Var<T>, &Var<T>, &[Var<T>]) -> Result<G>> Rule<T> for Borrowing<F, G> {
    fn call(&self, g: Var<T>, out: &Var<T>, inputs: &[Var<T>]) -> Result<Grads<T>> {
        (self.0)(&g, out, inputs).map(IntoGrads::into_grads)
    }
}

/// A rule given to [`Var::from_op_owned`], which takes the incoming gradient.
pub(super) struct Owning<F, G>(pub(super) F, pub(super) PhantomData<fn() -> G>);

impl<T: Float, G: IntoGrads<T>, F: Fn(Var<T>, &Var<T>, &[Var<T>]) -> Result<G>> Rule<T> for Owning<F, G> {
    fn call(&self, g: Var<T>, out: &Var<T>, inputs: &[Var<T>]) -> Result<Grads<T>> {
        (self.0)(g, out, inputs).map(IntoGrads::into_grads)
    }
}
