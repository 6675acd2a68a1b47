//! The integration tests of the inspect crate: each file is a module of this one test binary, one
//! build and one link instead of one per file. `Cargo.toml` sets `autotests = false`, so a
//! new file in `tests/` builds only once it is declared here (`test_layout` checks that).

mod attribution;
mod common;
mod graph;
mod monitor;
mod pictures_of_a_run;
mod plot;
mod report;
mod stats_pytorch;
