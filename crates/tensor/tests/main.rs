//! The integration tests of the tensor crate: each file is a module of this one test binary, one
//! build and one link instead of one per file. `Cargo.toml` sets `autotests = false`, so a
//! new file in `tests/` builds only once it is declared here (`test_layout` checks that).

mod creation;
mod display;
mod elementwise;
mod npy;
mod reduce_softmax;
mod select_categorical;
mod shape_edges;
mod shape_index_matmul;
mod stats_activation;
