//! # ferrograd-inspect
//!
//! See inside training: per-layer statistics of activations, gradients and updates, warnings
//! that name the layer and the step, pictures of them, and one self-contained HTML report.
//!
//! This crate sits over `ferrograd-nn` and reads models through the module hooks; the crates
//! that compute (tensor, autograd, nn) do not depend on it or on its plotting stack.
//!
//! - [`Monitor`] attaches to a model in one line and fills a [`Record`]: for each recorded
//!   step and layer the activations' mean, std, saturated and dead fractions and the output
//!   gradient's mean and std ([`stats`]); for each parameter its gradient std, grad:data and
//!   update:data ratios; histograms at chosen steps; and [`Warning`]s ([`warnings`]).
//! - [`plot`] draws a record as PNG: per-layer histograms overlaid, update:data ratios over
//!   the steps with the 1e-3 guide, the gradient std per layer over the steps.
//! - [`graph`] draws the autograd graph of a `Var` as SVG or PNG without Graphviz.
//! - [`attribution`]: saliency and integrated gradients for image models, drawn over the image.
//! - [`Report`] gathers all of it in one HTML file that opens in any browser, offline.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_inspect::{graph_svg, Monitor, MonitorOptions, Report};
//! use ferrograd_nn::{CrossEntropyLoss, Forward, Linear, Module, Optimizer, Sequential, Tanh, SGD};
//! use ferrograd_tensor::{IndexTensor, Tensor};
//!
//! let model: Sequential = Sequential::new().add(Linear::new(4, 16, 0)).add(Tanh).add(Linear::new(16, 3, 1));
//! let mut opt = SGD::new(model.parameters(), 0.1);
//! let mut monitor = Monitor::attach(&model, MonitorOptions::default()); // the one line
//! let x = Var::new(Tensor::randn(&[8, 4], 2));
//! let y = IndexTensor::from_slice(&[0, 1, 2, 0, 1, 2, 0, 1]);
//! let mut last = None;
//! for _ in 0..5 {
//!     let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
//!     opt.zero_grad();
//!     loss.backward()?;
//!     monitor.step(&mut opt, loss.item()? as f64)?;
//!     last = Some(loss);
//! }
//! let record = monitor.into_record();
//! assert_eq!(record.steps.len(), 5);
//!
//! let mut report = Report::new("a small MLP");
//! report.record("SGD, lr 0.1", &record)?; // tables, warnings, pictures
//! report.heading("Graph").svg("the last step's loss", &graph_svg(&[last.unwrap()])?)?;
//! let html = report.to_html(); // or report.write("report.html")
//! assert!(html.contains("data:image/png;base64,") && html.contains("<svg"));
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod attribution;
pub mod graph;
pub mod monitor;
pub mod plot;
pub mod record;
pub mod report;
pub mod stats;
mod table;
pub mod warnings;

pub use graph::{graph_png, graph_svg, write_graph_svg};
pub use monitor::{Monitor, MonitorOptions};
pub use record::{Histogram, LayerKind, LayerStats, ParamStats, Record, StepRecord, Warning, WarningKind};
pub use report::Report;
pub use warnings::Thresholds;
