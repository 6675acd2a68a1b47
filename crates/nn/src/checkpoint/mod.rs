//! [`StateDict`]: named parameter and buffer values, as `model.state_dict()`, checked before
//! they are loaded into a model, and their files: JSON (`json.rs`), safetensors
//! (`safetensors.rs`) and NumPy `.npz` (`npz.rs`).

mod json;
mod npz;
mod safetensors;

use std::path::Path;

use std::fmt;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Shape, Tensor};

use crate::Buffer;

/// One entry of a [`StateDict`]: a float tensor (parameters, running statistics) or an int64
/// one (`num_batches_tracked`), as a PyTorch state dict holds both.
#[derive(Debug, Clone, PartialEq)]
pub enum StateValue<T: Float = f32> {
    /// A tensor of the model's float type.
    Float(Tensor<T>),
    /// An int64 tensor.
    Int(IndexTensor),
}

impl<T: Float> StateValue<T> {
    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        match self {
            Self::Float(t) => t.shape(),
            Self::Int(t) => t.shape(),
        }
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        match self {
            Self::Float(t) => t.numel(),
            Self::Int(t) => t.numel(),
        }
    }

    /// `"float32"`, `"float64"` or `"int64"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Float(_) => T::DTYPE.name(),
            Self::Int(_) => "int64",
        }
    }

    /// The float tensor, if this is one.
    pub fn as_float(&self) -> Option<&Tensor<T>> {
        match self {
            Self::Float(t) => Some(t),
            Self::Int(_) => None,
        }
    }

    /// The float tensor, moved out, if this is one.
    pub fn into_float(self) -> Option<Tensor<T>> {
        match self {
            Self::Float(t) => Some(t),
            Self::Int(_) => None,
        }
    }

    /// The int64 tensor, if this is one.
    pub fn as_int(&self) -> Option<&IndexTensor> {
        match self {
            Self::Int(t) => Some(t),
            Self::Float(_) => None,
        }
    }
}

impl<T: Float> From<Tensor<T>> for StateValue<T> {
    fn from(t: Tensor<T>) -> Self {
        Self::Float(t)
    }
}

impl<T: Float> From<IndexTensor> for StateValue<T> {
    fn from(t: IndexTensor) -> Self {
        Self::Int(t)
    }
}

impl<T: Float> fmt::Display for StateValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Float(t) => write!(f, "{t}"),
            Self::Int(t) => write!(f, "{:?}", t.to_vec()),
        }
    }
}

/// Named tensors in order, with PyTorch's names (`0.weight`, `1.running_mean`, ...): what
/// [`Module::state_dict`](crate::Module::state_dict) returns and
/// [`Module::load_state_dict`](crate::Module::load_state_dict) takes.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDict<T: Float = f32> {
    entries: Vec<(String, StateValue<T>)>,
}

impl<T: Float> Default for StateDict<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> StateDict<T> {
    /// An empty state dict.
    pub fn new() -> Self {
        Self { entries: Vec::new() }
    }

    /// Sets `name` to `tensor` (a float [`Tensor`] or an int64 [`IndexTensor`]), in place if
    /// the name is there (returning the old value), else at the end.
    pub fn insert(&mut self, name: impl Into<String>, tensor: impl Into<StateValue<T>>) -> Option<StateValue<T>> {
        let (name, tensor) = (name.into(), tensor.into());
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => Some(std::mem::replace(t, tensor)),
            None => {
                self.entries.push((name, tensor));
                None
            }
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<StateValue<T>> {
        let i = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(i).1)
    }

    /// The float tensor named `name` (`None` if there is none, or it holds int64 values).
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.value(name).and_then(StateValue::as_float)
    }

    /// The int64 tensor named `name`, such as `bn.num_batches_tracked`.
    pub fn get_int(&self, name: &str) -> Option<&IndexTensor> {
        self.value(name).and_then(StateValue::as_int)
    }

    /// The value named `name`, float or int64.
    pub fn value(&self, name: &str) -> Option<&StateValue<T>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The (name, value) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StateValue<T>)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks that this state dict fits the model's `params` and `buffers` exactly and that
    /// nothing holds a borrow of their values, then copies every value; on any problem
    /// nothing is copied and the error lists them all, as PyTorch's strict load.
    pub(crate) fn copy_into(&self, params: &[(String, Var<T>)], buffers: &[(String, Buffer<T>)]) -> Result<()> {
        let names = || {
            params
                .iter()
                .map(|(n, p)| (n, p.shape()))
                .chain(buffers.iter().map(|(n, b)| (n, b.value().shape().to_vec())))
        };
        let mut problems = Vec::new();
        let missing: Vec<String> = names()
            .filter(|(n, _)| self.value(n).is_none())
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("Missing key(s) in state_dict: {}.", missing.join(", ")));
        }
        let unexpected: Vec<String> = self
            .names()
            .filter(|n| !names().any(|(p, _)| p == n))
            .map(|n| format!("\"{n}\""))
            .collect();
        if !unexpected.is_empty() {
            problems.push(format!("Unexpected key(s) in state_dict: {}.", unexpected.join(", ")));
        }
        for (name, shape) in names() {
            if let Some(t) = self.value(name).filter(|t| t.shape() != shape) {
                problems.push(format!(
                    "size mismatch for {name}: copying a param with shape {} from checkpoint, the shape in current model is {}.",
                    Shape(t.shape().to_vec()),
                    Shape(shape)
                ));
            }
        }
        for (name, _) in params {
            if let Some(StateValue::Int(_)) = self.value(name) {
                problems.push(format!(
                    "{name}: the checkpoint holds int64 values for a {} parameter.",
                    T::DTYPE
                ));
            }
        }
        for (name, b) in buffers {
            if let Some(v) = self.value(name) {
                if v.kind() != b.value().kind() {
                    problems.push(format!(
                        "{name}: the checkpoint holds {} values for a {} buffer.",
                        v.kind(),
                        b.value().kind()
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid(
                "load_state_dict",
                format!("Error(s) in loading state_dict:\n\t{}", problems.join("\n\t")),
            ));
        }
        // Every value is taken for writing before any is written: a borrow held elsewhere is
        // an error with the model unchanged. A tensor shared under two names (tied weights)
        // is written once.
        let held = |name: &str| {
            Error::invalid(
                "load_state_dict",
                format!("the value of {name} is borrowed elsewhere (a `value()` still held); drop that borrow first"),
            )
        };
        let mut param_slots = Vec::new();
        for (i, (name, p)) in params.iter().enumerate() {
            if params[..i].iter().any(|(_, q)| q.id() == p.id()) {
                continue;
            }
            param_slots.push((name, p.try_value_mut().map_err(|_| held(name))?));
        }
        let mut buffer_slots = Vec::new();
        for (i, (name, b)) in buffers.iter().enumerate() {
            if buffers[..i].iter().any(|(_, c)| c.same(b)) {
                continue;
            }
            buffer_slots.push((name, b.value_mut("load_state_dict").map_err(|_| held(name))?));
        }
        for (name, slot) in &mut param_slots {
            **slot = self.get(name).expect("checked above").clone();
        }
        for (name, slot) in &mut buffer_slots {
            **slot = self.value(name).expect("checked above").clone();
        }
        Ok(())
    }
}

impl<T: Float, V: Into<StateValue<T>>> FromIterator<(String, V)> for StateDict<T> {
    /// Later entries replace earlier ones of the same name.
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut sd = Self::new();
        for (name, t) in iter {
            sd.insert(name, t);
        }
        sd
    }
}

impl<T: Float> IntoIterator for StateDict<T> {
    type Item = (String, StateValue<T>);
    type IntoIter = std::vec::IntoIter<(String, StateValue<T>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

fn read_file(op: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io {
        op,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn write_file(op: &'static str, path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::Io {
        op,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
