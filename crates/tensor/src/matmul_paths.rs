//! Each path a matrix product can take, callable on its own so that they can be timed against
//! each other (`examples/matmul_paths.rs`, the table "Matrix products" of
//! docs/performance.md). Not part of the stable API: `Tensor::mm`, `matmul` and `linear` pick
//! the path themselves.

use ndarray::{Array2, ArrayView2};

use crate::Float;

/// A path of `C = A·B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// The one `Tensor::mm` picks for these shapes, dtype and instruction set.
    Chosen,
    /// The hand-written f32 AVX-512 kernel (`kernels/gemm.rs`), split between threads from
    /// `tuning::JOIN_GEMM` multiply-adds.
    Kernel,
    /// The plain loops for small and skinny products.
    SmallGemm,
    /// The f32 AVX-512 dot products of `kernels/long_dots.rs`, for a small C with long sums
    /// or a B narrower than the kernel takes (A's rows and B's columns contiguous).
    LongDots,
    /// ndarray's `dot` (matrixmultiply), on one thread.
    MatrixMultiply,
}

/// `A·B` by `path`, or `None` where that path cannot take these operands (the kernel needs
/// f32, AVX-512, at least 8 rows and 16 columns; the dot products f32, AVX-512, A's rows and
/// B's columns contiguous).
pub fn product<T: Float>(path: Path, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Option<Array2<T>> {
    crate::parallel::tune_allocator();
    Some(match path {
        Path::Chosen => crate::linalg::gemm(a, b, None),
        Path::Kernel => {
            let usable = crate::kernels::gemm::available::<T>()
                && b.ncols() >= crate::tuning::SKINNY
                && a.nrows() >= crate::kernels::gemm::MR;
            if !usable {
                return None;
            }
            crate::linalg::kernel_product(a, b, None)
        }
        Path::SmallGemm => crate::linalg::small_gemm(a, b),
        Path::LongDots => {
            let c = crate::linalg::dot_products(a, b)?;
            Array2::from_shape_vec((a.nrows(), b.ncols()), c).expect("m·n elements")
        }
        Path::MatrixMultiply => a.dot(&b),
    })
}
