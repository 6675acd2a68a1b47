//! How a module shows what it holds: [`Visitor`] receives each parameter, buffer, training
//! flag and sub-module under its name, and [`Component`] says what a field of each type is.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::rc::Rc;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Shape, Tensor};

use super::Module;
use crate::checkpoint::StateValue;

/// What a module holds, as the visitor is shown it.
pub(crate) enum Entry<'e, T: Float> {
    /// A learned tensor (`register_parameter`).
    Parameter(&'e Var<T>),
    /// A state tensor that is saved but not learned (`register_buffer`).
    Buffer(&'e Buffer<T>),
    /// The module's train/eval flag.
    Training(&'e TrainingFlag),
    /// A sub-module, by the key its hooks are registered under.
    Module(super::HookKey),
}

/// Which of a module's entries the walk wants now: PyTorch lists a module's own parameters,
/// then its own buffers, then its children's entries, whatever order they were assigned in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    Parameters,
    Buffers,
    Children,
}

/// Receives the parameters, buffers, flags and sub-modules of a module, each under its
/// attribute name, and joins the names with dots (`h.0.ln_1.weight`) as `nn.Module` does.
///
/// A [`Module::visit`] calls [`param`](Visitor::param), [`buffer`](Visitor::buffer),
/// [`training`](Visitor::training) and [`module`](Visitor::module) for what it holds;
/// `#[derive(Module)]` writes those calls from the struct's fields.
pub struct Visitor<'a, T: Float> {
    prefix: String,
    pass: Pass,
    sink: &'a mut dyn FnMut(&str, Entry<'_, T>),
}

impl<'a, T: Float> Visitor<'a, T> {
    /// Walks `module` and its sub-modules, handing every entry to `sink` with its full name.
    pub(crate) fn walk(module: &(impl Module<T> + ?Sized), sink: &'a mut dyn FnMut(&str, Entry<'_, T>)) {
        let mut v = Visitor {
            prefix: String::new(),
            pass: Pass::Parameters,
            sink,
        };
        v.walk_module(module);
    }

    fn walk_module(&mut self, module: &(impl Module<T> + ?Sized)) {
        let outer = self.pass;
        for pass in [Pass::Parameters, Pass::Buffers, Pass::Children] {
            self.pass = pass;
            module.visit(self);
        }
        self.pass = outer;
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A parameter, as `register_parameter(name, p)`.
    pub fn param(&mut self, name: &str, p: &Var<T>) {
        if self.pass == Pass::Parameters {
            let name = self.name(name);
            (self.sink)(&name, Entry::Parameter(p));
        }
    }

    /// A buffer, as `register_buffer(name, b)`: saved in `state_dict`, not learned.
    pub fn buffer(&mut self, name: &str, b: &Buffer<T>) {
        if self.pass == Pass::Buffers {
            let name = self.name(name);
            (self.sink)(&name, Entry::Buffer(b));
        }
    }

    /// The module's training flag, which [`Module::train`] and [`Module::eval`] set.
    pub fn training(&mut self, flag: &TrainingFlag) {
        if self.pass == Pass::Parameters {
            (self.sink)(self.prefix.trim_end_matches('.'), Entry::Training(flag));
        }
    }

    /// A sub-module, whose entries are named `name.<its names>`.
    pub fn module(&mut self, name: &str, m: &(impl Module<T> + ?Sized)) {
        if self.pass == Pass::Children {
            let len = self.prefix.len();
            self.prefix.push_str(name);
            (self.sink)(&self.prefix, Entry::Module(m.hook_key()));
            self.prefix.push('.');
            self.walk_module(m);
            self.prefix.truncate(len);
        }
    }
}

/// What a field of a module is, for `#[derive(Module)]`: each field is visited under its
/// name. A [`Var`] is a parameter, a [`Buffer`] a buffer, a [`TrainingFlag`] the module's
/// flag, a module a sub-module (`Vec`s and [`ModuleList`](crate::ModuleList)s among them,
/// their items named `0`, `1`, ...), an `Option` what it holds if anything, and plain
/// numbers, strings and flags nothing.
///
/// `#[derive(Module)]` implements it for the struct it derives `Module` for; a module written
/// by hand implements it with [`v.module(name, self)`](Visitor::module).
pub trait Component<T: Float> {
    /// Hands this field to `v` under `name`.
    fn visit_as(&self, name: &str, v: &mut Visitor<'_, T>);
}

impl<T: Float> Component<T> for Var<T> {
    fn visit_as(&self, name: &str, v: &mut Visitor<'_, T>) {
        v.param(name, self);
    }
}

impl<T: Float> Component<T> for Buffer<T> {
    fn visit_as(&self, name: &str, v: &mut Visitor<'_, T>) {
        v.buffer(name, self);
    }
}

impl<T: Float> Component<T> for TrainingFlag {
    fn visit_as(&self, _: &str, v: &mut Visitor<'_, T>) {
        v.training(self);
    }
}

/// `Component` for modules written by hand: each is visited as a sub-module.
macro_rules! module_component {
    ($([$($g:tt)*] $t:ty),* $(,)?) => {$(
        impl<T: Float, $($g)*> Component<T> for $t {
            fn visit_as(&self, name: &str, v: &mut Visitor<'_, T>) {
                v.module(name, self);
            }
        }
    )*};
}
pub(crate) use module_component;

module_component!([C: Component<T>] Vec<C>, [M: Module<T> + ?Sized] Box<M>);

impl<T: Float, C: Component<T>> Component<T> for Option<C> {
    fn visit_as(&self, name: &str, v: &mut Visitor<'_, T>) {
        if let Some(c) = self {
            c.visit_as(name, v);
        }
    }
}

/// A `Vec` of parameters or modules is a list of them, as `nn.ParameterList` and
/// `nn.ModuleList`: its items are named by position.
impl<T: Float, C: Component<T>> Module<T> for Vec<C> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        for (i, c) in self.iter().enumerate() {
            c.visit_as(&i.to_string(), v);
        }
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        (**self).visit(v);
    }

    fn hook_key(&self) -> super::HookKey {
        (**self).hook_key()
    }
}

macro_rules! plain_fields {
    ($($t:ty),*) => {$(
        /// A setting, not a tensor: nothing to visit.
        impl<T: Float> Component<T> for $t {
            fn visit_as(&self, _: &str, _: &mut Visitor<'_, T>) {}
        }
    )*};
}

plain_fields!(usize, isize, u64, i64, u32, i32, f32, f64, bool, String, &'static str);

/// A module's train/eval flag, `module.training` in PyTorch: starts in training mode.
/// A module that behaves differently in evaluation (dropout, batch norm) holds one;
/// [`Module::train`] and [`Module::eval`] set every flag in the tree.
#[derive(Debug, Clone)]
pub struct TrainingFlag(Cell<bool>);

impl Default for TrainingFlag {
    fn default() -> Self {
        Self(Cell::new(true))
    }
}

impl TrainingFlag {
    /// Whether the module is in training mode.
    pub fn get(&self) -> bool {
        self.0.get()
    }

    /// Sets training (`true`) or evaluation (`false`) mode.
    pub fn set(&self, training: bool) {
        self.0.set(training);
    }
}

/// A state tensor of a module that is saved and loaded with its parameters but not learned,
/// as a buffer registered with `register_buffer`: batch norm's `running_mean` (float) and
/// `num_batches_tracked` (int64). Cloning gives another handle to the same buffer, as
/// cloning a [`Var`] does.
#[derive(Debug, Clone)]
pub struct Buffer<T: Float = f32>(Rc<RefCell<StateValue<T>>>);

impl<T: Float> Buffer<T> {
    /// A float buffer.
    pub fn new(t: Tensor<T>) -> Self {
        Self(Rc::new(RefCell::new(StateValue::Float(t))))
    }

    /// An int64 buffer, such as a counter (`num_batches_tracked`, shape `[]`).
    pub fn int(t: IndexTensor) -> Self {
        Self(Rc::new(RefCell::new(StateValue::Int(t))))
    }

    /// The value, borrowed.
    pub fn value(&self) -> Ref<'_, StateValue<T>> {
        self.0.borrow()
    }

    /// The float value, copied; an error if this buffer holds integers.
    pub fn tensor(&self) -> Result<Tensor<T>> {
        match &*self.value() {
            StateValue::Float(t) => Ok(t.clone()),
            StateValue::Int(_) => Err(Error::invalid("Buffer::tensor", "this buffer holds int64 values")),
        }
    }

    /// Replaces the value; it must keep its kind (float or int64) and shape, as a module's
    /// buffer does in PyTorch when it is updated in place.
    pub fn set(&self, value: impl Into<StateValue<T>>) -> Result<()> {
        let value = value.into();
        self.check_fits("Buffer::set", &value)?;
        *self.0.try_borrow_mut().map_err(|_| busy("Buffer::set"))? = value;
        Ok(())
    }

    /// Whether `value` has this buffer's kind and shape.
    pub(crate) fn check_fits(&self, op: &'static str, value: &StateValue<T>) -> Result<()> {
        let current = self.0.try_borrow().map_err(|_| busy(op))?;
        if current.kind() != value.kind() || current.shape() != value.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: Shape(current.shape().to_vec()),
                rhs: Shape(value.shape().to_vec()),
                reason: format!(
                    "a {} buffer cannot take a {} value of another shape or kind",
                    current.kind(),
                    value.kind()
                ),
            });
        }
        Ok(())
    }

    /// The value to change in place, as batch norm updates its running statistics; an error
    /// naming `op` if a borrow of it is held.
    pub fn value_mut(&self, op: &'static str) -> Result<RefMut<'_, StateValue<T>>> {
        self.0.try_borrow_mut().map_err(|_| busy(op))
    }

    /// Whether two handles are the same buffer.
    pub(crate) fn same(&self, other: &Buffer<T>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

fn busy(op: &'static str) -> Error {
    Error::invalid(
        op,
        "the buffer's value is borrowed elsewhere (a `Buffer::value` still held); drop that borrow first",
    )
}
