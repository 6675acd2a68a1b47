//! Module hooks, as `register_forward_hook` and `register_full_backward_hook` in PyTorch: a
//! function run with what a module was given and what it returned, or with the gradients of
//! its output and input during backward.
//!
//! A hook belongs to one module, found by its place in memory and its type. It runs when the
//! module is called with [`Forward::call`](super::Forward::call) (what `module(x)` is in
//! PyTorch), which every layer of a [`Sequential`](super::Sequential) is; calling
//! [`forward`](super::Forward::forward) itself runs the computation alone, as
//! `module.forward(x)` skips the hooks in PyTorch.
//!
//! The [`HookHandle`] a registration returns borrows the module, so the module cannot be
//! moved (which would leave the hook behind) while the hook is on. Dropping the handle, or
//! calling [`remove`](HookHandle::remove), takes the hook off.
//!
//! Hooks belong to the thread that registered them (a model's `Var`s do too), so a handle
//! cannot be sent to another thread. When no hook is registered anywhere, [`call`](super::Forward::call) costs one atomic load
//! over `forward`.

use std::any::{type_name, Any};
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrograd_autograd::Var;
use ferrograd_tensor::{Float, Result, Tensor};

/// How many hooks are registered, on every thread: zero means `call` is `forward`.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A forward hook with its types erased: (input, output).
type ForwardFn = Rc<dyn Fn(&dyn Any, &dyn Any)>;

/// A full backward hook for element type `T`: (gradient of the input, gradient of the output).
type BackwardFn<T> = Rc<dyn Fn(Option<&Tensor<T>>, &Tensor<T>)>;

enum Hook {
    Forward(ForwardFn),
    /// A [`BackwardFn<T>`], boxed as `Any` since the registry holds every element type.
    Backward(Rc<dyn Any>),
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    hooks: HashMap<HookKey, Vec<(u64, Hook)>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Which module a hook belongs to: its address and its type (a struct and its first field
/// share an address).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookKey {
    addr: usize,
    ty: &'static str,
}

impl HookKey {
    /// The key of `module`.
    pub fn of<M: ?Sized>(module: &M) -> Self {
        HookKey {
            addr: module as *const M as *const () as usize,
            ty: type_name::<M>(),
        }
    }

    /// This key with the type `M` (a wrapper registering the hooks of the module it holds).
    pub(crate) fn named<M: ?Sized>(self) -> Self {
        HookKey {
            ty: type_name::<M>(),
            ..self
        }
    }

    /// The module's type name without its path or generic arguments (`"Linear"`).
    pub fn short_type_name(&self) -> &'static str {
        let base = self.ty.split('<').next().unwrap_or(self.ty);
        base.rsplit("::").next().unwrap_or(base)
    }
}

/// A hook's registration: dropping it, or [`remove`](HookHandle::remove), takes the hook
/// off. It borrows the module for as long as the hook is on, so the module stays where the
/// hook finds it.
#[must_use = "dropping a HookHandle removes its hook at once; keep it while the hook should run"]
#[derive(Debug)]
pub struct HookHandle<'m> {
    key: HookKey,
    id: u64,
    /// Borrows the module; not `Send`, as the hook lives in this thread's registry.
    _module: PhantomData<(&'m (), *const ())>,
}

impl HookHandle<'_> {
    /// Takes the hook off, as `handle.remove()`.
    pub fn remove(self) {}
}

impl Drop for HookHandle<'_> {
    fn drop(&mut self) {
        let removed = REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            let Some(list) = r.hooks.get_mut(&self.key) else {
                return false;
            };
            let before = list.len();
            list.retain(|(id, _)| *id != self.id);
            let removed = list.len() < before;
            if list.is_empty() {
                r.hooks.remove(&self.key);
            }
            removed
        });
        if removed {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn register<'m>(key: HookKey, hook: Hook) -> HookHandle<'m> {
    let id = REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.next_id += 1;
        let id = r.next_id;
        r.hooks.entry(key).or_default().push((id, hook));
        id
    });
    LIVE.fetch_add(1, Ordering::Relaxed);
    HookHandle {
        key,
        id,
        _module: PhantomData,
    }
}

/// A module of a model, as [`Module::named_modules`](super::Module::named_modules) lists it:
/// what hooks can be registered on without knowing the module's type. It borrows the model.
#[derive(Debug, Clone, Copy)]
pub struct ModuleRef<'m> {
    key: HookKey,
    /// Borrows the model; not `Send`, as hooks registered through it live in this thread.
    _module: PhantomData<(&'m (), *const ())>,
}

impl<'m> ModuleRef<'m> {
    pub(crate) fn new(key: HookKey) -> Self {
        ModuleRef {
            key,
            _module: PhantomData,
        }
    }

    /// The module's type name, without path or generic arguments (`"Linear"`, `"Tanh"`).
    pub fn type_name(&self) -> &'static str {
        self.key.short_type_name()
    }

    /// Whether two refs are the same module (the same place and type). Two zero-sized fields
    /// of one type in one struct (two `Tanh`) may be at the same place: a hook on one then
    /// runs for both.
    pub fn same(&self, other: &ModuleRef<'_>) -> bool {
        self.key == other.key
    }

    /// A forward hook that sees the module's input and output as [`Any`] (most often a
    /// [`Var`] or an `IndexTensor` in, a [`Var`] out): see [`Forward::register_forward_hook`](super::Forward::register_forward_hook).
    pub fn register_forward_hook(&self, hook: impl Fn(&dyn Any, &dyn Any) + 'static) -> HookHandle<'m> {
        register(self.key, Hook::Forward(Rc::new(hook)))
    }

    /// A full backward hook: see [`Forward::register_full_backward_hook`](super::Forward::register_full_backward_hook).
    pub fn register_full_backward_hook<T: Float>(
        &self,
        hook: impl Fn(Option<&Tensor<T>>, &Tensor<T>) + 'static,
    ) -> HookHandle<'m> {
        let hook: BackwardFn<T> = Rc::new(hook);
        register(self.key, Hook::Backward(Rc::new(hook)))
    }
}

/// A forward hook of typed input and output, erased.
pub(crate) fn typed_forward<'m, In: 'static, Out: 'static>(
    key: HookKey,
    hook: impl Fn(&In, &Out) + 'static,
) -> HookHandle<'m> {
    register(
        key,
        Hook::Forward(Rc::new(move |input: &dyn Any, output: &dyn Any| {
            if let (Some(i), Some(o)) = (input.downcast_ref::<In>(), output.downcast_ref::<Out>()) {
                hook(i, o);
            }
        })),
    )
}

/// Runs `forward` on `input` for the module `key`, with the hooks registered on it.
pub(crate) fn call<T: Float, In: 'static, Out: 'static>(
    key: HookKey,
    input: &In,
    forward: impl FnOnce(&In) -> Result<Out>,
) -> Result<Out> {
    if LIVE.load(Ordering::Relaxed) == 0 {
        return forward(input);
    }
    let (forward_hooks, backward_hooks) = REGISTRY.with(|r| {
        let r = r.borrow();
        let mut fwd = Vec::new();
        let mut bwd = Vec::new();
        for (_, hook) in r.hooks.get(&key).into_iter().flatten() {
            match hook {
                Hook::Forward(f) => fwd.push(f.clone()),
                Hook::Backward(b) => {
                    if let Some(b) = b.downcast_ref::<BackwardFn<T>>() {
                        bwd.push(b.clone());
                    }
                }
            }
        }
        (fwd, bwd)
    });
    let output = if backward_hooks.is_empty() {
        forward(input)?
    } else {
        with_backward_hooks(input, forward, backward_hooks)?
    };
    for hook in &forward_hooks {
        hook(input, &output);
    }
    Ok(output)
}

/// Runs `forward` so that `hooks` see the gradients of its output and (when the input is a
/// `Var` that requires a gradient) of its input: the input goes through an identity op, as
/// PyTorch's `BackwardHookFunction`, whose gradient is the module's alone even when the input
/// is used elsewhere too.
fn with_backward_hooks<T: Float, In: 'static, Out: 'static>(
    input: &In,
    forward: impl FnOnce(&In) -> Result<Out>,
    hooks: Vec<BackwardFn<T>>,
) -> Result<Out> {
    let hooks = Rc::new(hooks);
    let grad_out: Rc<RefCell<Option<Tensor<T>>>> = Rc::default();
    let wrapped = match (input as &dyn Any).downcast_ref::<Var<T>>() {
        Some(x) if x.requires_grad() => Some(Var::from_op(
            "BackwardHookFunctionBackward",
            x.to_tensor(),
            [x.clone()],
            |g, _, _| Ok([Some(g.clone())]),
        )),
        _ => None,
    };
    let output = match wrapped.as_ref().and_then(|w| (w as &dyn Any).downcast_ref::<In>()) {
        Some(w) => forward(w)?,
        None => forward(input)?,
    };
    let Some(out) = (&output as &dyn Any).downcast_ref::<Var<T>>() else {
        return Ok(output);
    };
    let input_seen = wrapped.is_some();
    let (slot, run) = (grad_out.clone(), hooks.clone());
    out.register_hook(move |g| {
        if input_seen {
            *slot.borrow_mut() = Some(g.clone());
        } else {
            run.iter().for_each(|h| h(None, g));
        }
        None
    });
    if let Some(w) = &wrapped {
        w.register_hook(move |gi| {
            if let Some(go) = grad_out.borrow_mut().take() {
                hooks.iter().for_each(|h| h(Some(gi), &go));
            }
            None
        });
    }
    Ok(output)
}
