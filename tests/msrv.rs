//! The workspace's `rust-version` is true. Only the current toolchain is installed here, so
//! no test builds with Rust 1.89 itself; instead:
//! - `cargo clippy` (CI, `-D warnings`) runs `clippy::incompatible_msrv`, which refuses any
//!   standard-library item stabilised after the `rust-version` every crate inherits (with
//!   1.88 it rejects the AVX-512 intrinsics of `crates/tensor/src/kernels/`);
//! - this test: the AVX-512 target features the kernels enable are stable from 1.89, so the
//!   declared version is at least that, and no dependency that the published crates build
//!   (as locked in Cargo.lock) declares a newer `rust-version` than ours.

use std::process::Command;

use serde_json::Value;

/// `major.minor` of a version string (`1.89`, `1.89.0`).
fn minor(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().expect("a number"));
    (parts.next().expect("major"), parts.next().unwrap_or(0))
}

fn declared() -> (u64, u64) {
    let manifest = include_str!("../Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("rust-version = "))
        .expect("[workspace.package] rust-version");
    minor(line.split('"').nth(1).expect("a quoted version"))
}

#[test]
fn rust_version_covers_the_avx512_target_features() {
    let kernels = include_str!("../crates/tensor/src/kernels/mod.rs");
    assert!(kernels.contains("target_feature(enable = \"avx512f"));
    // Rust 1.89.0 release notes: "Stabilize the avx512 target features" (rust-lang/rust#138940).
    assert!(declared() >= (1, 89), "AVX-512 target features need Rust 1.89");
}

#[test]
fn no_dependency_needs_a_newer_rust_than_declared() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let meta: Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    // Walk the normal and build dependencies of the workspace members (not dev ones).
    let mut stack: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let used = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"] != "dev");
            if used {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let ours = declared();
    let mut too_new = Vec::new();
    for p in packages.iter().filter(|p| seen.contains(p["id"].as_str().unwrap())) {
        if let Some(v) = p["rust_version"].as_str() {
            if minor(v) > ours {
                too_new.push(format!("{} {} needs Rust {v}", p["name"], p["version"]));
            }
        }
    }
    assert!(seen.len() > 20, "walked {} packages", seen.len());
    assert!(too_new.is_empty(), "declared {ours:?}, but {too_new:?}");
}
