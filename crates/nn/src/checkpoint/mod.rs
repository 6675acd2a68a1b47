//! [`StateDict`]: named parameter values, as `model.state_dict()`, checked before they are
//! loaded into a model, and their files: JSON (`json.rs`), safetensors (`safetensors.rs`) and
//! NumPy `.npz` (`npz.rs`).

mod json;
mod npz;
mod safetensors;

use std::path::Path;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Shape, Tensor};

/// Named tensors in order, with PyTorch's names (`0.weight`, `0.bias`, ...): what
/// [`Module::state_dict`](crate::Module::state_dict) returns and
/// [`Module::load_state_dict`](crate::Module::load_state_dict) takes.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDict<T: Float = f32> {
    entries: Vec<(String, Tensor<T>)>,
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

    /// Sets `name` to `tensor`, in place if the name is there (returning the old tensor),
    /// else at the end.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<T>) -> Option<Tensor<T>> {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => Some(std::mem::replace(t, tensor)),
            None => {
                self.entries.push((name, tensor));
                None
            }
        }
    }

    /// Removes `name`, returning its tensor.
    pub fn remove(&mut self, name: &str) -> Option<Tensor<T>> {
        let i = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(i).1)
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The (name, tensor) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<T>)> {
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

    /// Checks that this state dict fits `params` exactly, then copies every value; on any
    /// problem nothing is copied and the error lists them all, as PyTorch's strict load.
    pub(crate) fn copy_into(&self, params: &[(String, Var<T>)]) -> Result<()> {
        let mut problems = Vec::new();
        let missing: Vec<String> = params
            .iter()
            .filter(|(n, _)| self.get(n).is_none())
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("Missing key(s) in state_dict: {}.", missing.join(", ")));
        }
        let unexpected: Vec<String> = self
            .names()
            .filter(|n| !params.iter().any(|(p, _)| p == n))
            .map(|n| format!("\"{n}\""))
            .collect();
        if !unexpected.is_empty() {
            problems.push(format!("Unexpected key(s) in state_dict: {}.", unexpected.join(", ")));
        }
        for (name, p) in params {
            if let Some(t) = self.get(name).filter(|t| t.shape() != p.shape()) {
                problems.push(format!(
                    "size mismatch for {name}: copying a param with shape {} from checkpoint, the shape in current model is {}.",
                    Shape(t.shape().to_vec()),
                    Shape(p.shape())
                ));
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid(
                "load_state_dict",
                format!("Error(s) in loading state_dict:\n\t{}", problems.join("\n\t")),
            ));
        }
        for (name, p) in params {
            *p.value_mut() = self.get(name).expect("checked above").clone();
        }
        Ok(())
    }
}

impl<T: Float> FromIterator<(String, Tensor<T>)> for StateDict<T> {
    /// Later entries replace earlier ones of the same name.
    fn from_iter<I: IntoIterator<Item = (String, Tensor<T>)>>(iter: I) -> Self {
        let mut sd = Self::new();
        for (name, t) in iter {
            sd.insert(name, t);
        }
        sd
    }
}

impl<T: Float> IntoIterator for StateDict<T> {
    type Item = (String, Tensor<T>);
    type IntoIter = std::vec::IntoIter<(String, Tensor<T>)>;
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
