//! The integration tests of the autograd crate: each file is a module of this one test binary, one
//! build and one link instead of one per file. `Cargo.toml` sets `autotests = false`, so a
//! new file in `tests/` builds only once it is declared here (`test_layout` checks that).

mod anomaly_forward;
mod common;
mod deep_and_wide;
mod display;
mod dot;
mod fused_elementwise_grads;
mod gradcheck_elementwise;
mod gradcheck_layer_ops;
mod gradcheck_structural;
mod gradcheck_window_ops;
mod graph;
mod misuse;
mod prop_gradcheck;
mod prop_layer_ops;
mod second_order;
