//! The integration tests of the nn crate: each file is a module of this one test binary, one
//! build and one link instead of one per file. `Cargo.toml` sets `autotests = false`, so a
//! new file in `tests/` builds only once it is declared here (`test_layout` checks that).

mod activation;
mod attention;
mod batchnorm;
mod checkpoint_json;
mod checkpoint_npz;
mod checkpoint_safetensors;
mod clip_grad;
mod cnn_model;
mod common;
mod conv;
mod cross_entropy_forward_grad;
mod csv;
mod data_loader;
mod dropout;
mod embedding;
mod gpt_model;
mod hooks;
mod init;
mod layer_fixtures;
mod losses;
mod lr_scheduler;
mod module_tree;
mod modules;
mod normalization;
mod optim_all_or_nothing;
mod optimizers;
mod pooling;
mod prop_cross_entropy;
mod rnn;
mod training_parity;
