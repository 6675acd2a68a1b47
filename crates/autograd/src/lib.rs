//! # ferrograd-autograd
//!
//! Reverse-mode automatic differentiation over [`ferrograd_tensor::Tensor`]. A [`Var`] is a
//! node of the graph: a leaf you create (with [`Var::parameter`] when it needs a gradient) or
//! the result of an op, which records the op and its inputs. [`Var::backward`] walks the graph
//! from a loss back to the leaves in reverse topological order, found with an explicit stack,
//! so a chain of a hundred thousand ops is no problem.
//!
//! Gradients behave as in PyTorch: leaves accumulate into [`Var::grad`] until
//! [`Var::zero_grad`]; intermediates keep none unless [`Var::retain_grad`]; ops inside a
//! [`no_grad`] scope are not recorded; [`grad`] returns gradients instead, and with
//! `create_graph` they can be differentiated again. Each op's gradient rule, next to its
//! forward in `src/ops/`, is written with `Var` ops itself, which is what makes second
//! derivatives work without a second set of rules.
//!
//! To look inside: [`to_dot`] draws the graph behind some `Var`s (ops, shapes, gradients) as
//! Graphviz DOT, and [`detect_anomaly`] makes backward name the first op whose forward or
//! gradient produced NaN or infinity. [`live_nodes`] counts the graph nodes alive on this
//! thread: after a training step's loss is dropped, only the parameters remain.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_tensor::Tensor;
//!
//! let x = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?);
//! let y = (&x * &x + 1.0).sum(); // Σ (x² + 1)
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0]); // dy/dx = 2x
//!
//! y.backward()?; // gradients accumulate, as in PyTorch
//! assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 8.0, 12.0]);
//! x.zero_grad();
//! assert!(x.grad().is_none());
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod anomaly;
mod backward;
mod dot;
mod grad_mode;
mod gradcheck;
mod graph;
mod ops;
mod var;

pub use anomaly::{detect_anomaly, is_anomaly_enabled, take_forward_anomaly, AnomalyGuard, ForwardAnomaly};
pub use backward::grad;
pub use dot::to_dot;
pub use grad_mode::{enable_grad, is_grad_enabled, no_grad, GradModeGuard};
pub use gradcheck::{differentiable_gradients, gradcheck, gradgradcheck, GradcheckOptions, GradcheckReport};
pub use graph::Graph;
pub use var::{live_nodes, BackwardFn, Grads, Hook, Inputs, IntoGrads, ValueMut, Var, WeakVar};
