//! # ferrograd-tensor
//!
//! n-dimensional tensors of `f32` (the default) or `f64` over [`ndarray::ArcArray`] (a
//! reference-counted buffer, shared by clones and reshapes and copied on write), with the
//! operations of a small deep-learning framework named as in PyTorch: elementwise maths with
//! NumPy broadcasting, reductions and statistics (`var` / `std` with a correction), `matmul`,
//! reshaping, `gather` / `index_select`, numerically stable `softmax` / `log_softmax`, the
//! activation functions (`gelu`, `silu`, `softplus`, `elu`, built on an accurate `erf`),
//! boolean masks ([`BoolTensor`]) for `masked_fill`, `where_` and `tril` / `triu`, `pad`,
//! `roll`, `cumsum`, `topk`, and categories (`one_hot`, `multinomial`). A `Tensor` is plain data; the
//! `ferrograd-autograd` crate records operations on it for differentiation.
//!
//! Every op that can fail on the shapes or values it is given returns [`Result`] with an
//! [`Error`] naming the op and the values at fault. `Display` prints like PyTorch's `repr`.
//!
//! ```
//! use ferrograd_tensor::{IndexTensor, Tensor};
//!
//! let logits = Tensor::from_vec(vec![1.0f32, 4.0, 1.0, 1.0, 5.0, 1.0, 2.0, 1.0], &[2, 4])?;
//! let p = logits.softmax(-1)?;
//! assert_eq!(p.argmax(1, false)?, IndexTensor::from_slice(&[1, 0]));
//! assert_eq!(p.to_string(), "tensor([[0.0433, 0.8700, 0.0433, 0.0433],\n        [0.9205, 0.0169, 0.0458, 0.0169]])");
//!
//! let bias = Tensor::from_vec(vec![10.0f32, 20.0, 30.0, 40.0], &[4])?;
//! assert_eq!(logits.add(&bias)?.shape(), &[2, 4]); // broadcasts as NumPy does
//! assert!(logits.matmul(&bias.reshape(&[2, 2])?).is_err()); // (2x4) @ (2x2): an Error, not a panic
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

#![warn(missing_docs)]

mod activation;
mod broadcast;
mod categorical;
mod conv;
pub mod cpu;
mod display;
mod element;
mod elementwise;
mod error;
mod index;
mod kernels;
mod layout;
mod linalg;
mod mask;
#[doc(hidden)]
pub mod matmul_paths;
pub mod npy;
mod parallel;
mod reduce;
mod select;
mod shape;
mod shape_ops;
mod softmax;
mod stats;
mod tensor;
pub mod tuning;

pub use activation::GeluApproximate;
pub use conv::{ConvColumns, ConvGrads, Window2d};
pub use element::{DType, Float};
pub use error::{Error, Result, Shape};
pub use index::IndexTensor;
/// A row-major matrix transposed into another buffer, by 16x16 blocks in registers where the
/// CPU has AVX-512 (`f32`): what the attention op of `ferrograd-nn` lays its queries and
/// gradients out with.
pub use kernels::transpose::transpose;
/// Rows shorter than this take the row kernels' plain path (what `cross_entropy` uses to pick
/// how it sums a short row).
pub use kernels::SMALL_ROW;
/// Loops of other crates compiled for the widest vectors the CPU has ([`wide`]), and the
/// vectorised elementwise kernels on slices ([`MapKernels`], part of every [`Float`]): what
/// the fused ops of `ferrograd-nn` (attention, the normalizations) run their rows through.
pub use kernels::{wide, Backward, MapKernels, Unary};
pub use layout::{chunk_size, split_ranges};
pub use mask::BoolTensor;
/// Work split across threads for big inputs, and output buffers kept for reuse: what the fused
/// `cross_entropy` kernel of `ferrograd-nn` builds on. All of it safe code; the `unsafe` of the
/// matrix and row kernels and of the helper thread stays inside this crate.
pub use parallel::{
    for_each_block_mut, for_each_block_pair_mut, for_each_item, output_buffer, output_vec, recycle,
    release_spare_buffers, zeroed_block_pairs, zeroed_blocks,
};
/// Page faults and malloc's set-up: see `docs/performance.md`, "Page faults".
pub use parallel::{minor_page_faults, tune_allocator};
pub use shape::{broadcast_reduction_axes, broadcast_shape, normalize_dim};
pub use stats::normalize_dims;
pub use tensor::{checked_numel, Tensor};

pub use ndarray;
