//! # ferrograd-playground
//!
//! A playground in the browser: pick a data set of the plane, stack a few layers, press play
//! and watch the decision boundary form, while every layer's activations, gradients and
//! update ratios, measured by `ferrograd-inspect`'s [`Monitor`](ferrograd_inspect::Monitor),
//! change step by step. The model trains in the server, on ferrograd; the page (HTML,
//! JavaScript and styles served from this binary, no CDN) draws what the server streams.
//!
//! The web stack (axum on tokio, server-sent events) is a dependency of this crate only:
//! tensor, autograd, nn and inspect do not depend on it.
//!
//! - [`Server::start`] serves the page and the API ([`api`]) on an address (loopback only in
//!   the example); each page load is a session ([`session`]): one model, its optimizer, its
//!   data and its monitor on a thread of their own ([`trainer`]), freed when the page closes.
//! - [`data`]: spiral, circles, xor, Gaussian blobs and two features of Iris, seeded.
//! - [`model`]: an MLP from a [`ModelSpec`]: widths, activation, initialisation, BatchNorm,
//!   dropout, as ferrograd-nn layers in a `Sequential`.
//!
//! ```no_run
//! use ferrograd_playground::{Server, ServerOptions};
//!
//! let server = Server::start("127.0.0.1:8321".parse()?, ServerOptions::default())?;
//! println!("open {}", server.url());
//! server.wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Training without a page, to compare speeds:
//!
//! ```
//! use ferrograd_playground::{bench, Config};
//!
//! let steps_per_sec = bench(&Config::default(), 20)?;
//! assert!(steps_per_sec > 0.0);
//! # Ok::<(), ferrograd_playground::ApiError>(())
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
mod assets;
pub mod data;
pub mod model;
pub mod server;
pub mod session;
pub mod trainer;

pub use api::{ApiError, Config, UnitRequest};
pub use data::Dataset;
pub use model::ModelSpec;
pub use server::{Server, ServerOptions};
pub use trainer::bench;
