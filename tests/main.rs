//! The integration tests of the workspace's own package, but for the files `Cargo.toml` lists
//! as targets of their own: each file is a module of this one test binary, one build and one
//! link instead of one per file. `Cargo.toml` sets `autotests = false`, so a new file in
//! `tests/` builds only once it is declared here (`test_layout` checks that).

// The loaders' fuzz bodies, shared by `fuzz_loaders` and `prop_loaders`; `mutate` also
// installs its counting allocator, by which they bound the largest single allocation an
// input causes on its thread.
#[allow(dead_code)]
#[path = "../fuzz/bodies.rs"]
mod bodies;
#[allow(dead_code)]
#[path = "../fuzz/mutate.rs"]
mod mutate;

mod conformance_runner;
mod cross_entropy_conformance;
mod error_messages;
mod fuzz_loaders;
mod misuse;
mod msrv;
mod nan_ties;
mod nll_loss_conformance;
mod numpy_exp_log;
mod prop_loaders;
mod seed;
mod test_layout;
