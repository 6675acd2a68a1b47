//! The element types a [`Tensor`](crate::Tensor) can hold: `f32` (the default) and `f64`.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// The data type of a tensor's elements, named as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit IEEE 754 floating point, `torch.float32`.
    #[serde(rename = "float32")]
    F32,
    /// 64-bit IEEE 754 floating point, `torch.float64`.
    #[serde(rename = "float64")]
    F64,
}

impl DType {
    /// PyTorch's name: `float32` or `float64`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A floating-point element type. Implemented for `f32` and `f64` only.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + LowerExp
    + Send
    + Sync
    + serde::Serialize
    + for<'de> serde::Deserialize<'de>
    + crate::kernels::RowKernels
    + crate::kernels::MapKernels
    + 'static
{
    /// This type's [`DType`].
    const DTYPE: DType;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn of(x: f64) -> Self;

    /// Widens to `f64` exactly.
    fn f64(self) -> f64;

    /// The error function `2/√π ∫₀ˣ e^(-t²) dt`: musl's `erff` / `erf` (through the `libm`
    /// crate), within 1 ulp of the exact value (tested against the system's `erf`).
    fn erf(self) -> Self;
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
