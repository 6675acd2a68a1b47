//! Fuzzes every loader on stable Rust: the bodies of the `cargo fuzz` targets in `fuzz/`
//! (safetensors and JSON checkpoints, conformance case files, CSV data sets, NumPy `.npy` and
//! `.npz` files), run over the committed corpus in `fuzz/corpus/` and then over seeded random
//! mutations of it.
//!
//!     cargo run --release --example fuzz_loaders -- --iterations 100000
//!     cargo run --release --example fuzz_loaders -- --target csv --iterations 1000000 --seed 7
//!
//! Every execution must return without panicking and without any single allocation larger
//! than 64 bytes per input byte plus 1 MiB. A failing input is written to
//! `target/fuzz-failures/<target>-<n>` and the run exits with status 1.

#[allow(dead_code)]
#[path = "../fuzz/bodies.rs"]
mod bodies;
#[allow(dead_code)]
#[path = "../fuzz/mutate.rs"]
mod mutate;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: fuzz_loaders [--iterations N] [--seed S] [--target NAME]
  --iterations N   mutants per target (default 100000)
  --seed S         the seed of the mutations (default 0)
  --target NAME    safetensors, json_checkpoint, case_file, csv or numpy (default: all five)";

fn main() -> ExitCode {
    let (mut iterations, mut seed, mut only) = (100_000u64, 0u64, None::<String>);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed = match arg.as_str() {
            "--iterations" => value("--iterations")
                .and_then(|v| v.parse().map_err(|e| format!("--iterations: {e}")))
                .map(|v| iterations = v),
            "--seed" => value("--seed")
                .and_then(|v| v.parse().map_err(|e| format!("--seed: {e}")))
                .map(|v| seed = v),
            "--target" => value("--target").map(|v| only = Some(v)),
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unexpected argument {other:?}")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut total = 0;
    for &(name, body) in bodies::TARGETS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let corpus = mutate::corpus(&root.join("fuzz/corpus"), name);
        let start = Instant::now();
        let n = corpus.len();
        match mutate::run(body, |d| bodies::accepted(name, d), corpus, iterations, seed) {
            Ok(stats) => {
                total += stats.executions;
                println!(
                    "{name}: {} executions ({n} corpus files, {iterations} mutants) in {:.1} s, pool {}, largest allocation {} bytes",
                    stats.executions,
                    start.elapsed().as_secs_f64(),
                    stats.pool,
                    stats.largest_allocation
                );
            }
            Err(failure) => {
                let dir = root.join("target/fuzz-failures");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{name}-{seed}"));
                let _ = std::fs::write(&path, &failure.input);
                eprintln!("{name}: {} (input saved to {})", failure.message, path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if only.is_some() && total == 0 {
        eprintln!("error: no target named {only:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    println!("total: {total} executions, no panic, no oversized allocation");
    ExitCode::SUCCESS
}
