//! The one error type of ferrograd: every fallible call in every crate returns it.

use std::fmt;

/// A shape as PyTorch prints it: `[2, 3]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&[usize]> for Shape {
    fn from(s: &[usize]) -> Self {
        Shape(s.to_vec())
    }
}

/// Everything that can go wrong in ferrograd, with the operation and the values at fault.
///
/// Messages follow PyTorch's wording where PyTorch has one, prefixed by the operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two operands whose shapes cannot be broadcast together (NumPy rules).
    #[error("{op}: shapes {lhs} and {rhs} cannot be broadcast together")]
    Broadcast { op: &'static str, lhs: Shape, rhs: Shape },

    /// Operands whose shapes do not fit the operation.
    #[error("{op}: shape mismatch: {lhs} vs {rhs}: {reason}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
        reason: String,
    },

    /// A dimension index outside `[-ndim, ndim)`.
    #[error("{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})", lo = -(*ndim as i64).max(1), hi = (*ndim as i64).max(1) - 1)]
    DimOutOfRange { op: &'static str, dim: isize, ndim: usize },

    /// A reshape whose element counts differ.
    #[error("{op}: shape {to} is invalid for input of size {numel}")]
    InvalidShape { op: &'static str, to: Shape, numel: usize },

    /// A `Vec` whose length does not match the requested shape.
    #[error("{op}: {len} values cannot fill shape {shape} ({numel} elements)")]
    DataLength {
        op: &'static str,
        len: usize,
        shape: Shape,
        numel: usize,
    },

    /// An index outside the size of the dimension it indexes.
    #[error("{op}: index {index} is out of bounds for dimension {dim} with size {size}")]
    IndexOutOfBounds {
        op: &'static str,
        index: i64,
        dim: usize,
        size: usize,
    },

    /// A class-index target outside `[0, C)` that is not `ignore_index` (PyTorch's IndexError).
    #[error("{op}: Target {target} is out of bounds.")]
    TargetOutOfBounds { op: &'static str, target: i64 },

    /// An argument with a value the operation does not accept; the message says which and why.
    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },

    /// The operation needs a value that is absent (for example a gradient before `backward`).
    #[error("{op}: {message}")]
    Missing { op: &'static str, message: String },

    /// Reading or writing a file or stream failed.
    #[error("{op}: {path}: {message}")]
    Io {
        op: &'static str,
        path: String,
        message: String,
    },

    /// A file or document whose content does not fit what was expected.
    #[error("{op}: {message}")]
    Format { op: &'static str, message: String },

    /// A call that needs a value or gradient the caller holds a borrow of (a `Ref` from
    /// `value()` or `grad_ref()`); the message names the call and what to drop. Nothing was
    /// changed.
    #[error("{op}: {message}")]
    Borrowed { op: &'static str, message: String },
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(op: &'static str, message: impl Into<String>) -> Self {
        Error::Format {
            op,
            message: message.into(),
        }
    }
}

/// `Result` with ferrograd's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
