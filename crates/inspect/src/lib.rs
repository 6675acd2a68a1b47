//! See inside training: per-layer statistics of activations, gradients and updates, warnings
//! that name the layer and the step, pictures of them, and one self-contained HTML report.
//!
//! This crate sits over `ferrograd-nn` and reads models through the module hooks; the crates
//! that compute (tensor, autograd, nn) do not depend on it or on its plotting stack.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod record;

pub use record::{Histogram, LayerKind, LayerStats, ParamStats, Record, StepRecord, Warning, WarningKind};
pub mod monitor;
pub mod stats;
mod table;
pub mod warnings;

pub use monitor::{Monitor, MonitorOptions};
pub use warnings::Thresholds;
