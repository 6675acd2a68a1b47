//! How a loss reduces its per-element values: PyTorch's `reduction` argument.

use std::str::FromStr;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float};

/// `'none'`, `'mean'` (the default) or `'sum'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// One loss per element, unreduced.
    None,
    /// The mean; for weighted class-index losses, divided by the summed weights of the counted targets.
    #[default]
    Mean,
    /// The sum.
    Sum,
}

impl FromStr for Reduction {
    type Err = Error;

    /// Parses PyTorch's strings; anything else is PyTorch's `ValueError` text.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" | "elementwise_mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            _ => Err(Error::invalid(
                "reduction",
                format!("{s} is not a valid value for reduction"),
            )),
        }
    }
}

impl Reduction {
    /// Reduces elementwise losses: as they are, their sum, or their mean (NaN when empty, as
    /// PyTorch's `apply_loss_reduction`).
    pub(crate) fn apply<T: Float>(self, loss: Var<T>) -> Var<T> {
        match self {
            Reduction::None => loss,
            Reduction::Sum => loss.sum(),
            Reduction::Mean => loss.mean(),
        }
    }

    /// PyTorch's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        }
    }
}
