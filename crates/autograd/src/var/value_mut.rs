//! [`ValueMut`], a `Var`'s value borrowed mutably (which counts a version and remembers a
//! change of shape), and [`WeakVar`], a handle that does not keep its `Var` alive.

use std::cell::{Cell, RefMut};
use std::ops::{Deref, DerefMut};
use std::rc::Weak;

use ferrograd_tensor::{Float, Tensor};
use smallvec::SmallVec;

use super::rule::collect_small;
use super::{Node, Var};

/// The value of a [`Var`], mutably borrowed ([`Var::value_mut`]): derefs to the `Tensor`. When
/// it is dropped having replaced the value by one of another shape, the `Var` remembers it,
/// and a backward through an op recorded before is an error.
pub struct ValueMut<'a, T: Float> {
    value: RefMut<'a, Tensor<T>>,
    node: &'a Node<T>,
    shape: SmallVec<[usize; 4]>,
}

thread_local! {
    /// How many [`ValueMut`]s are alive on this thread.
    static VALUE_MUTS: Cell<usize> = const { Cell::new(0) };
}

/// Whether a [`ValueMut`] is alive on this thread, so that some value may be mutably borrowed.
pub(crate) fn value_muts_alive() -> bool {
    VALUE_MUTS.with(Cell::get) > 0
}

impl<'a, T: Float> ValueMut<'a, T> {
    pub(super) fn new(node: &'a Node<T>, value: RefMut<'a, Tensor<T>>) -> Self {
        VALUE_MUTS.with(|n| n.set(n.get() + 1));
        node.version.set(node.version.get().wrapping_add(1));
        let shape = collect_small(value.shape().iter().copied());
        ValueMut { value, node, shape }
    }
}

impl<T: Float> Deref for ValueMut<'_, T> {
    type Target = Tensor<T>;
    fn deref(&self) -> &Tensor<T> {
        &self.value
    }
}

impl<T: Float> DerefMut for ValueMut<'_, T> {
    fn deref_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }
}

impl<T: Float> Drop for ValueMut<'_, T> {
    fn drop(&mut self) {
        let _ = VALUE_MUTS.try_with(|n| n.set(n.get().saturating_sub(1)));
        if self.value.shape() != &self.shape[..] {
            self.node.reshaped.set(true);
        }
    }
}

/// A handle to a [`Var`] that does not keep it alive, as `std::rc::Weak`: what a hook captures
/// to reach its own `Var` without making a cycle.
pub struct WeakVar<T: Float = f32>(pub(super) Weak<Node<T>>);

impl<T: Float> WeakVar<T> {
    /// The `Var`, if it is still alive.
    pub fn upgrade(&self) -> Option<Var<T>> {
        self.0.upgrade().map(Var)
    }
}

impl<T: Float> Clone for WeakVar<T> {
    fn clone(&self) -> Self {
        WeakVar(Weak::clone(&self.0))
    }
}
