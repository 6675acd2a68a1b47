#!/usr/bin/env bash
# Runs the tensor crate's unit tests that exercise its unsafe code (the helper thread of
# `join`, the block splitting of `parallel`, the output buffers, the row and matrix kernels)
# under Miri. Too slow for every CI run (see docs/reliability.md for the last result); run it
# when touching crates/tensor/src/parallel or crates/tensor/src/kernels:
#
#     rustup component add --toolchain nightly miri rust-src   # once
#     scripts/miri.sh
#
# Flags: Tree Borrows, because crossbeam-epoch (under rayon) breaks the stricter Stacked
# Borrows rules in code that is not ferrograd's; deterministic floats, because the kernels'
# tests compare exponentials with `f64::exp` to the ulp and Miri otherwise perturbs `exp`;
# permissive provenance, for crossbeam's integer-to-pointer casts. The `exp` accuracy sweeps
# (plain arithmetic, no unsafe) are skipped: millions of calls each under the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-tree-borrows -Zmiri-deterministic-floats -Zmiri-permissive-provenance}"
exec cargo +nightly miri test -p ferrograd-tensor --lib -- --skip kernels::exp:: --skip display:: "$@"
