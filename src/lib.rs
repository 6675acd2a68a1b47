//! # ferrograd
//!
//! A small reverse-mode autodiff tensor framework whose numbers are PyTorch's. This crate
//! gathers the three that make it up: [`tensor`] (n-dimensional `f32`/`f64` tensors over
//! ndarray), [`autograd`] (the `Var` graph and backward) and [`nn`] (layers, losses,
//! optimizers, and a cross-entropy that matches `F.cross_entropy` argument for argument).
//! [`prelude`] holds the names most programs need.
//!
//! ## A tour
//!
//! **Tensors** are plain data with NumPy broadcasting, and every call that can fail on its
//! shapes returns an [`Error`](tensor::Error) instead of panicking:
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
//! let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3])?;
//! assert_eq!(x.add(&b)?.to_vec(), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
//! assert!(x.matmul(&x).is_err()); // (2x3) @ (2x3)
//! # Ok::<(), Error>(())
//! ```
//!
//! **A [`Var`](autograd::Var)** records the ops applied to it; **`backward`** sends the
//! gradient of a scalar back to every leaf, which accumulates it until `zero_grad`:
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let w = Var::parameter(Tensor::from_vec(vec![1.0f64, -2.0, 3.0], &[3])?);
//! let loss = (&w * &w).sum(); // Σ w²
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().to_vec(), [2.0, -4.0, 6.0]); // 2w
//! # Ok::<(), Error>(())
//! ```
//!
//! **A [`Module`](nn::Module)** holds parameters under PyTorch's names; **training** is the
//! loop PyTorch users know: forward, loss, `zero_grad`, `backward`, `step`:
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let model: Sequential = Sequential::new().add(Linear::new(2, 8, 0)).add(ReLU).add(Linear::new(8, 2, 1));
//! let x = Var::new(Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[4, 2])?);
//! let y = IndexTensor::from_slice(&[1, 1, 0, 0]);
//! let mut opt = SGD::new(model.parameters(), 0.5);
//! let mut losses = Vec::new();
//! for _ in 0..50 {
//!     let loss = CrossEntropyLoss::new().forward(&model.forward(&x)?, &y)?;
//!     opt.zero_grad();
//!     loss.backward()?;
//!     opt.step()?;
//!     losses.push(loss.item()?);
//! }
//! assert!(losses[49] < losses[0]);
//! # Ok::<(), Error>(())
//! ```
//!
//! **Inspecting**: every gradient is a tensor you can read, hook or check against finite
//! differences; the graph can be drawn; parameters go to safetensors, JSON or NumPy:
//!
//! ```
//! use ferrograd::autograd::{gradcheck, to_dot, GradcheckOptions};
//! use ferrograd::prelude::*;
//!
//! let x = Var::parameter(Tensor::from_vec(vec![0.5f64, -1.0], &[2])?);
//! x.register_hook(|g| { println!("d loss / d x = {g}"); None });
//! let y = x.exp().sum();
//! y.backward()?;
//! assert!(to_dot(&[y]).starts_with("digraph"));
//! let report = gradcheck(|v| Ok(v[0].exp().sum()), &[x.to_tensor()], GradcheckOptions::default())?;
//! assert!(report.passed);
//!
//! let model: Sequential<f64> = Sequential::new().add(Linear::new(2, 3, 0));
//! let npz = model.state_dict().to_npz_bytes()?; // numpy.load reads it
//! assert_eq!(ferrograd::nn::StateDict::<f64>::from_npz_bytes(&npz)?, model.state_dict());
//! # Ok::<(), Error>(())
//! ```
//!
//! The examples go further: `cargo run --release --example train_classifier` (a spiral or
//! Iris, with plots), `--example inspect_gradients` (hooks, `gradcheck`, second derivatives,
//! the graph), `--example cross_entropy` (one loss, three ways).
//!
//! ## Memory
//!
//! Every op makes a graph node and a result, and every backward new gradients: a chain of small
//! ops allocates and frees a few small blocks per op, and a training step asks for buffers of
//! the sizes the last step gave back. glibc's malloc serves the first from slow bins once its
//! per-thread cache of seven blocks per size is full. [mimalloc](https://github.com/microsoft/mimalloc)
//! (its v2 line) serves both from per-thread free lists; in `docs/performance.md` ("What
//! changed: the allocator") a chain of 2,000 ops on four values took a third less time with
//! it (399 to 257 µs), and the character-level transformer's step a fifth less (6.42 to
//! 5.21 ms). A library cannot choose a program's allocator, so
//! ferrograd offers it as [`Allocator`] (the default feature `mimalloc`), and every
//! benchmark and example (but `fuzz_loaders`, which counts allocations with an allocator of
//! its own) declares it, in two lines at the top of `main.rs`:
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;
//! # fn main() {}
//! ```
//!
//! Only where memory comes from changes, never a value. Without it, glibc's malloc is set up
//! for training loops as [`tensor::tune_allocator`] says.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use ferrograd_autograd as autograd;
pub use ferrograd_nn as nn;
pub use ferrograd_tensor as tensor;

pub mod conformance;

/// mimalloc's allocator, for a program to declare as its global allocator (see "Memory" above).
#[cfg(feature = "mimalloc")]
pub use mimalloc::MiMalloc as Allocator;

/// The names most programs need.
pub mod prelude {
    pub use ferrograd_autograd::{grad, no_grad, Var};
    pub use ferrograd_nn::functional::{
        cross_entropy, cross_entropy_with, log_softmax, nll_loss, nll_loss_with, softmax, CrossEntropyOptions, Target,
    };
    pub use ferrograd_nn::{
        CrossEntropyLoss, Forward, Linear, Module, NLLLoss, Optimizer, ReLU, Reduction, Sequential, SGD,
    };
    pub use ferrograd_tensor::{Error, Float, IndexTensor, Result, Tensor};
}
