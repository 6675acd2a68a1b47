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
    Broadcast {
        /// The operation.
        op: &'static str,
        /// The left operand's shape.
        lhs: Shape,
        /// The right operand's shape.
        rhs: Shape,
    },

    /// Operands whose shapes do not fit the operation.
    #[error("{op}: shape mismatch: {lhs} vs {rhs}: {reason}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// The left operand's shape.
        lhs: Shape,
        /// The right operand's shape.
        rhs: Shape,
        /// Why they do not fit.
        reason: String,
    },

    /// A dimension index outside `[-ndim, ndim)`.
    #[error("{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})", lo = -(*ndim as i64).max(1), hi = (*ndim as i64).max(1) - 1)]
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The dimension asked for.
        dim: isize,
        /// The number of dimensions of the tensor.
        ndim: usize,
    },

    /// A reshape whose element counts differ.
    #[error("{op}: shape {to} is invalid for input of size {numel}")]
    InvalidShape {
        /// The operation.
        op: &'static str,
        /// The shape asked for.
        to: Shape,
        /// The number of elements of the input.
        numel: usize,
    },

    /// A `Vec` whose length does not match the requested shape.
    #[error("{op}: {len} values cannot fill shape {shape} ({numel} elements)")]
    DataLength {
        /// The operation.
        op: &'static str,
        /// The number of values given.
        len: usize,
        /// The shape asked for.
        shape: Shape,
        /// The number of elements of that shape.
        numel: usize,
    },

    /// An index outside the size of the dimension it indexes.
    #[error("{op}: index {index} is out of bounds for dimension {dim} with size {size}")]
    IndexOutOfBounds {
        /// The operation.
        op: &'static str,
        /// The index given.
        index: i64,
        /// The dimension it indexes.
        dim: usize,
        /// The size of that dimension.
        size: usize,
    },

    /// A class-index target outside `[0, C)` that is not `ignore_index` (PyTorch's IndexError).
    #[error("{op}: Target {target} is out of bounds.")]
    TargetOutOfBounds {
        /// The operation.
        op: &'static str,
        /// The target at fault.
        target: i64,
    },

    /// An argument with a value the operation does not accept; the message says which and why.
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        message: String,
    },

    /// The operation needs a value that is absent (for example a gradient before `backward`).
    #[error("{op}: {message}")]
    Missing {
        /// The operation.
        op: &'static str,
        /// What is missing.
        message: String,
    },

    /// Reading or writing a file or stream failed.
    #[error("{op}: {path}: {message}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },

    /// A file or document whose content does not fit what was expected.
    #[error("{op}: {message}")]
    Format {
        /// The operation.
        op: &'static str,
        /// What is wrong with the content.
        message: String,
    },
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
