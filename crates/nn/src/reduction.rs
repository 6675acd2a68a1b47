//! How a loss reduces its per-element values: PyTorch's `reduction` argument.

use std::str::FromStr;

use ferrograd_tensor::Error;

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
    /// PyTorch's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        }
    }
}
