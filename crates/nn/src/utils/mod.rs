//! `torch.nn.utils`: helpers for a training step.

mod clip_grad;

pub use clip_grad::{clip_grad_norm_, clip_grad_value_};
