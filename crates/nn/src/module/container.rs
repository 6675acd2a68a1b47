//! Containers of modules, as torch.nn's: [`Sequential`], [`ModuleList`], [`ModuleDict`].

use std::any::type_name;
use std::ops::{Deref, DerefMut};

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result};

use super::hooks::{self, HookKey};
use super::visit::module_component;
use super::{Component, Forward, Module, Visitor};

/// What flows into a layer of a [`Sequential`]: a float `Var`, or class indices for a first
/// layer such as [`Embedding`](crate::Embedding).
enum Flow<'a, T: Float> {
    Float(&'a Var<T>),
    Index(&'a IndexTensor),
}

/// An input a layer of a [`Sequential`] can take.
pub trait SequentialInput<T: Float>: 'static {
    /// What a layer taking this input is said to take, in an error message.
    const WHAT: &'static str;

    /// The input, if `flow` is one.
    #[doc(hidden)]
    fn from_flow<'a>(flow: &FlowRef<'a, T>) -> Option<&'a Self>;
}

/// A value flowing through a [`Sequential`] (opaque).
#[doc(hidden)]
pub struct FlowRef<'a, T: Float>(Flow<'a, T>);

impl<T: Float> SequentialInput<T> for Var<T> {
    const WHAT: &'static str = "a float Var";
    fn from_flow<'a>(flow: &FlowRef<'a, T>) -> Option<&'a Self> {
        match flow.0 {
            Flow::Float(x) => Some(x),
            Flow::Index(_) => None,
        }
    }
}

impl<T: Float> SequentialInput<T> for IndexTensor {
    const WHAT: &'static str = "class indices (an IndexTensor)";
    fn from_flow<'a>(flow: &FlowRef<'a, T>) -> Option<&'a Self> {
        match flow.0 {
            Flow::Index(x) => Some(x),
            Flow::Float(_) => None,
        }
    }
}

/// A layer of a [`Sequential`], whatever it takes.
trait Layer<T: Float>: Module<T> {
    fn forward_flow(&self, i: usize, x: FlowRef<'_, T>) -> Result<Var<T>>;
}

/// A layer with the input type it takes. The byte gives each layer an address of its own,
/// even a zero-sized one such as `Tanh` (boxed, it would share one with every other), since
/// hooks find a module by its address: the layer's hooks are registered under this wrapper's.
struct Typed<L, I: ?Sized>(L, std::marker::PhantomData<fn(&I)>, #[allow(dead_code)] u8);

impl<T: Float, I: SequentialInput<T>, L: Forward<I, T, Output = Var<T>>> Module<T> for Typed<L, I> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        self.0.visit(v);
    }

    fn hook_key(&self) -> HookKey {
        HookKey::of(self).named::<L>()
    }
}

impl<T: Float, I: SequentialInput<T>, L: Forward<I, T, Output = Var<T>>> Layer<T> for Typed<L, I> {
    fn forward_flow(&self, i: usize, x: FlowRef<'_, T>) -> Result<Var<T>> {
        let Some(input) = I::from_flow(&x) else {
            let given = match x.0 {
                Flow::Float(_) => <Var<T> as SequentialInput<T>>::WHAT,
                Flow::Index(_) => <IndexTensor as SequentialInput<T>>::WHAT,
            };
            let name = type_name::<L>()
                .split('<')
                .next()
                .unwrap_or("")
                .rsplit("::")
                .next()
                .unwrap_or("");
            return Err(Error::invalid(
                "Sequential",
                format!("layer {i} ({name}) takes {} but was given {given}", I::WHAT),
            ));
        };
        hooks::call::<T, I, Var<T>>(self.hook_key(), input, |x| self.0.forward(x))
    }
}

/// Modules applied one after the other, as `nn.Sequential`; parameters are named by position
/// (`0.weight`, `2.bias`). Each layer takes the previous one's output; the first may take
/// class indices, so a model that starts with an [`Embedding`](crate::Embedding) is a
/// `Sequential` too, called with an [`IndexTensor`].
///
/// ```
/// use ferrograd_nn::{Embedding, Flatten, Forward, Linear, Module, Sequential, Tanh};
/// use ferrograd_tensor::IndexTensor;
///
/// let model: Sequential = Sequential::new()
///     .add(Embedding::new(27, 10, 0))
///     .add(Flatten::default())
///     .add(Linear::new(30, 64, 1))
///     .add(Tanh)
///     .add(Linear::new(64, 27, 2));
/// let logits = model.forward(&IndexTensor::from_vec(vec![0, 5, 13, 1, 1, 2], &[2, 3])?)?;
/// assert_eq!(logits.shape(), [2, 27]);
/// assert_eq!(model.named_parameters()[0].0, "0.weight");
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty sequence, which returns its input.
    pub fn new() -> Self {
        Self { layers: Vec::new() }
    }

    /// Appends a layer: any module whose [`Forward`] takes a `Var` or an [`IndexTensor`] and
    /// returns a `Var`.
    #[allow(clippy::should_implement_trait)]
    pub fn add<I: SequentialInput<T>, L: Forward<I, T, Output = Var<T>> + 'static>(mut self, layer: L) -> Self {
        self.layers.push(Box::new(Typed(layer, std::marker::PhantomData, 0)));
        self
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    fn run(&self, first: Flow<'_, T>) -> Result<Var<T>> {
        let mut layers = self.layers.iter().enumerate();
        let mut h = match layers.next() {
            Some((0, layer)) => layer.forward_flow(0, FlowRef(first))?,
            _ => match first {
                Flow::Float(x) => return Ok(x.clone()),
                Flow::Index(_) => {
                    return Err(Error::invalid(
                        "Sequential",
                        "an empty Sequential returns its input, and class indices are not a float Var",
                    ))
                }
            },
        };
        for (i, layer) in layers {
            h = layer.forward_flow(i, FlowRef(Flow::Float(&h)))?;
        }
        Ok(h)
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        for (i, layer) in self.layers.iter().enumerate() {
            v.module(&i.to_string(), &**layer as &dyn Module<T>);
        }
    }
}

impl<T: Float> Forward<Var<T>, T> for Sequential<T> {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.run(Flow::Float(x))
    }
}

impl<T: Float> Forward<IndexTensor, T> for Sequential<T> {
    type Output = Var<T>;

    fn forward(&self, x: &IndexTensor) -> Result<Var<T>> {
        self.run(Flow::Index(x))
    }
}

/// Sub-modules in a list, as `nn.ModuleList`: named by position (`h.0.attn.c_attn.weight`)
/// and used like a `Vec` (`push`, indexing, `iter`).
#[derive(Debug, Clone, Default)]
pub struct ModuleList<M>(pub Vec<M>);

impl<M> ModuleList<M> {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }
}

impl<M> FromIterator<M> for ModuleList<M> {
    fn from_iter<I: IntoIterator<Item = M>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<M> Deref for ModuleList<M> {
    type Target = Vec<M>;
    fn deref(&self) -> &Vec<M> {
        &self.0
    }
}

impl<M> DerefMut for ModuleList<M> {
    fn deref_mut(&mut self) -> &mut Vec<M> {
        &mut self.0
    }
}

impl<T: Float, M: Component<T>> Module<T> for ModuleList<M> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        self.0.visit(v);
    }
}

/// Sub-modules by name, in insertion order, as `nn.ModuleDict`.
#[derive(Debug, Clone)]
pub struct ModuleDict<M> {
    entries: Vec<(String, M)>,
}

impl<M> Default for ModuleDict<M> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<M> ModuleDict<M> {
    /// An empty dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `module`, in place if the name is there (returning the old module),
    /// else at the end. A name is a key of `state_dict`, so it may not be empty or hold a dot.
    pub fn insert(&mut self, name: impl Into<String>, module: M) -> Result<Option<M>> {
        let name = name.into();
        if name.is_empty() || name.contains('.') {
            return Err(Error::invalid(
                "ModuleDict::insert",
                format!("module name can't contain \".\" or be empty, got \"{name}\""),
            ));
        }
        Ok(match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, m)) => Some(std::mem::replace(m, module)),
            None => {
                self.entries.push((name, module));
                None
            }
        })
    }

    /// The module named `name`.
    pub fn get(&self, name: &str) -> Option<&M> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The (name, module) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &M)> {
        self.entries.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no modules.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T: Float, M: Component<T>> Module<T> for ModuleDict<M> {
    fn visit(&self, v: &mut Visitor<'_, T>) {
        for (name, m) in &self.entries {
            m.visit_as(name, v);
        }
    }
}

module_component!([] Sequential<T>, [M: Component<T>] ModuleList<M>, [M: Component<T>] ModuleDict<M>);
