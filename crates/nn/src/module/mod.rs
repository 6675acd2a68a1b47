//! Modules, as `nn.Module`: [`Module`] is a layer's or model's structure (its parameters,
//! buffers, sub-modules and train/eval flag, named as PyTorch names them) and [`Forward`] its
//! computation, which takes whatever the layer takes.
//!
//! A model is a struct of layers with `#[derive(Module)]`: its field names become the
//! dotted names of `named_parameters` and `state_dict` (`transformer.h.0.ln_1.weight`).

mod container;
mod hooks;
mod visit;

pub use container::{ModuleDict, ModuleList, Sequential};
#[doc(hidden)]
pub use hooks::HookKey;
pub use hooks::{HookHandle, ModuleRef};
pub use visit::{Buffer, Component, TrainingFlag, Visitor};

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result, Tensor};

use crate::checkpoint::StateValue;
use crate::StateDict;
use visit::Entry;

/// A layer or a model: what it holds, as `nn.Module`. Write it with `#[derive(Module)]` on a
/// struct (each field visited under its name), or by hand: [`visit`](Module::visit) hands
/// every parameter, buffer, flag and sub-module to the visitor. Everything else (names,
/// `state_dict`, loading, `train`/`eval`, `zero_grad`) follows from it.
///
/// ```
/// use ferrograd_nn::{Forward, Linear, Module, ReLU};
/// use ferrograd_autograd::Var;
/// use ferrograd_tensor::{Result, Tensor};
///
/// #[derive(Module)]
/// struct Mlp {
///     fc1: Linear,
///     fc2: Linear,
/// }
///
/// impl Forward<Var> for Mlp {
///     type Output = Var;
///     fn forward(&self, x: &Var) -> Result<Var> {
///         self.fc2.forward(&self.fc1.forward(x)?.relu())
///     }
/// }
///
/// let mlp = Mlp { fc1: Linear::new(2, 8, 0), fc2: Linear::new(8, 3, 1) };
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(mlp.forward(&Var::new(Tensor::zeros(&[4, 2])))?.shape(), [4, 3]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub trait Module<T: Float = f32> {
    /// Hands this module's parameters ([`Visitor::param`]), buffers ([`Visitor::buffer`]),
    /// training flag ([`Visitor::training`]) and sub-modules ([`Visitor::module`]) to `v`,
    /// each under its attribute name. A layer that holds nothing writes an empty body.
    fn visit(&self, v: &mut Visitor<'_, T>);

    /// The parameters with PyTorch's dotted names, in PyTorch's order: a module's own
    /// parameters, then each sub-module's (`weight`, `0.bias`, `h.0.attn.c_attn.weight`).
    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        let mut out = Vec::new();
        Visitor::walk(self, &mut |name, entry| {
            if let Entry::Parameter(p) = entry {
                out.push((name.to_string(), p.clone()));
            }
        });
        out
    }

    /// The parameters, in the order of [`named_parameters`](Module::named_parameters).
    fn parameters(&self) -> Vec<Var<T>> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// This module and every sub-module under its dotted name, the module itself first (named
    /// `""`), then each sub-module before its own sub-modules, as `named_modules()`: what
    /// hooks are registered on without knowing the modules' types.
    fn named_modules(&self) -> Vec<(String, ModuleRef<'_>)> {
        let mut out = vec![(String::new(), ModuleRef::new(self.hook_key()))];
        Visitor::walk(self, &mut |name, entry| {
            if let Entry::Module(key) = entry {
                out.push((name.to_string(), ModuleRef::new(key)));
            }
        });
        out
    }

    /// Which module a hook registered through [`named_modules`](Module::named_modules)
    /// belongs to: the module [`Forward::call`] runs as. Only a wrapper that forwards to the
    /// module it holds (`Box`) gives another's.
    #[doc(hidden)]
    fn hook_key(&self) -> HookKey {
        HookKey::of(self)
    }

    /// The buffers (running statistics, counters) with their dotted names, as
    /// `named_buffers()`; each [`Buffer`] is a handle to the module's own.
    fn named_buffers(&self) -> Vec<(String, Buffer<T>)> {
        let mut out = Vec::new();
        Visitor::walk(self, &mut |name, entry| {
            if let Entry::Buffer(b) = entry {
                out.push((name.to_string(), b.clone()));
            }
        });
        out
    }

    /// Clears every parameter's gradient, as `model.zero_grad()`.
    fn zero_grad(&self) {
        self.parameters().iter().for_each(Var::zero_grad);
    }

    /// Sets training (`true`) or evaluation mode in this module and every sub-module, as
    /// `model.train(mode)`.
    fn set_training(&self, training: bool) {
        Visitor::walk(self, &mut |_, entry| {
            if let Entry::Training(flag) = entry {
                flag.set(training);
            }
        });
    }

    /// Training mode, as `model.train()`: dropout drops, batch norm uses and updates batch
    /// statistics.
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode, as `model.eval()`.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Whether the module is in training mode: the first training flag of the tree (its
    /// own, or its first sub-module's that has one); `true` for a tree without any.
    fn is_training(&self) -> bool {
        let mut training = None;
        Visitor::walk(self, &mut |_, entry| {
            if let Entry::Training(flag) = entry {
                training.get_or_insert(flag.get());
            }
        });
        training.unwrap_or(true)
    }

    /// A copy of every parameter and buffer under its PyTorch name, in PyTorch's order (a
    /// module's parameters, its buffers, then its sub-modules'), as `model.state_dict()`.
    fn state_dict(&self) -> StateDict<T> {
        let mut sd = StateDict::new();
        Visitor::walk(self, &mut |name, entry| match entry {
            Entry::Parameter(p) => {
                sd.insert(name, StateValue::Float(p.to_tensor()));
            }
            Entry::Buffer(b) => {
                sd.insert(name, b.value().clone());
            }
            Entry::Training(_) | Entry::Module(_) => {}
        });
        sd
    }

    /// Copies `state_dict` into the parameters and buffers, as `model.load_state_dict(sd)`
    /// (strict).
    ///
    /// Everything is checked before anything is copied: every parameter and buffer has an
    /// entry of its shape and kind, there is no other entry, and no borrow of a value is
    /// held. Otherwise the error lists every missing key, unexpected key and size mismatch,
    /// in PyTorch's words, and the model is unchanged.
    fn load_state_dict(&self, state_dict: &StateDict<T>) -> Result<()> {
        state_dict.copy_into(&self.named_parameters(), &self.named_buffers())
    }
}

/// A module's computation, as `nn.Module.forward`: it takes what the layer takes (a float
/// [`Var`] for most layers, class indices for [`Embedding`](crate::Embedding)) and returns its
/// `Output`.
pub trait Forward<In: ?Sized, T: Float = f32>: Module<T> {
    /// What the layer returns: a [`Var`] for most layers.
    type Output;

    /// Computes the output.
    fn forward(&self, input: &In) -> Result<Self::Output>;

    /// Calls the module, as `module(x)` in PyTorch: [`forward`](Forward::forward) with the
    /// hooks registered on this module around it. A model calls its sub-modules with `call`
    /// for their hooks to run; a [`Sequential`] calls every layer so. Without any hook
    /// registered it costs one atomic load more than `forward`.
    fn call(&self, input: &In) -> Result<Self::Output>
    where
        In: Sized + 'static,
        Self::Output: 'static,
    {
        hooks::call::<T, In, Self::Output>(HookKey::of(self), input, |x| self.forward(x))
    }

    /// Runs `hook(input, output)` after every later [`call`](Forward::call) of this module, as
    /// `register_forward_hook`; the hook sees exactly what `forward` was given and returned.
    /// It stays on until the handle is dropped or [`removed`](HookHandle::remove); the handle
    /// borrows the module, which cannot be moved meanwhile.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use ferrograd_nn::{Forward, Linear, Sequential, Tanh};
    /// use ferrograd_autograd::Var;
    /// use ferrograd_tensor::Tensor;
    ///
    /// let tanh = Tanh;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// let handle = tanh.register_forward_hook(move |_x: &Var, y: &Var| log.borrow_mut().push(y.shape()));
    /// tanh.call(&Var::new(Tensor::<f32>::zeros(&[2, 3])))?;
    /// tanh.forward(&Var::new(Tensor::<f32>::zeros(&[4])))?; // forward alone runs no hook
    /// handle.remove();
    /// tanh.call(&Var::new(Tensor::<f32>::zeros(&[5])))?;
    /// assert_eq!(*seen.borrow(), [vec![2, 3]]);
    /// # Ok::<(), ferrograd_tensor::Error>(())
    /// ```
    fn register_forward_hook(&self, hook: impl Fn(&In, &Self::Output) + 'static) -> HookHandle<'_>
    where
        Self: Sized,
        In: Sized + 'static,
        Self::Output: 'static,
    {
        hooks::typed_forward::<In, Self::Output>(HookKey::of(self), hook)
    }

    /// Runs `hook(grad_input, grad_output)` during every backward through a later
    /// [`call`](Forward::call) of this module, as `register_full_backward_hook`:
    /// `grad_output` is the gradient of the loss with respect to the module's output and
    /// `grad_input` with respect to its input, `None` where PyTorch gives `None` (an input
    /// that does not require a gradient, or one that is not a float `Var`). The hook only
    /// looks: unlike PyTorch's, it cannot replace `grad_input`. Removed as a forward hook is.
    ///
    /// The gradients are exactly those of a backward without the hook: the input passes
    /// through an identity op (`BackwardHookFunctionBackward`, as in PyTorch), whose gradient
    /// is the module's share alone when the input is also used elsewhere.
    fn register_full_backward_hook(&self, hook: impl Fn(Option<&Tensor<T>>, &Tensor<T>) + 'static) -> HookHandle<'_>
    where
        Self: Sized,
        T: 'static,
    {
        ModuleRef::new(HookKey::of(self)).register_full_backward_hook(hook)
    }
}
