//! The fuzz targets of `fuzz/` on stable Rust, in CI: every loader (safetensors and JSON
//! checkpoints, conformance case files, CSV) over its committed corpus and a few thousand
//! seeded mutations, with no panic and no single allocation beyond 64 bytes per input byte
//! plus 1 MiB. `cargo run --release --example fuzz_loaders -- --iterations N` runs the same
//! code at length; `cargo +nightly fuzz run <target>` (in `fuzz/`) runs it under libFuzzer.

use crate::{bodies, mutate};

use std::path::Path;

/// Mutants per target here: a CI-sized run (the example runs millions).
const MUTANTS: u64 = 5_000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bound on allocations below means something only if the counting allocator is the
/// binary's: a request it must have seen.
#[test]
fn the_counting_allocator_sees_this_threads_allocations() {
    mutate::take_largest_allocation();
    let buffer = std::hint::black_box(vec![0u8; 3 << 20]);
    assert!(mutate::take_largest_allocation() >= buffer.len());
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_a_corpus() {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    for &(name, _) in bodies::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} in fuzz/Cargo.toml"
        );
        let source = std::fs::read_to_string(root().join(format!("fuzz/fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            source.contains(&format!("bodies::{name}(data)")),
            "{name}.rs calls its body"
        );
        let corpus = mutate::corpus(&root().join("fuzz/corpus"), name);
        assert!(corpus.len() >= 8, "{name}: {} corpus files", corpus.len());
        // The corpus holds inputs the loader reads and inputs it refuses.
        assert!(corpus.iter().any(|c| bodies::accepted(name, c)), "{name}: a valid seed");
        assert!(
            corpus.iter().any(|c| !bodies::accepted(name, c)),
            "{name}: an invalid seed"
        );
    }
}

#[test]
fn corpus_and_mutants_never_panic_nor_allocate_what_a_file_declares() {
    for &(name, body) in bodies::TARGETS {
        let corpus = mutate::corpus(&root().join("fuzz/corpus"), name);
        let n = corpus.len() as u64;
        let stats = mutate::run(body, |d| bodies::accepted(name, d), corpus, MUTANTS, 6)
            .unwrap_or_else(|f| panic!("{name}: {} on input {:?}", f.message, String::from_utf8_lossy(&f.input)));
        assert_eq!(stats.executions, n + MUTANTS);
        println!("{name}: {stats:?}");
    }
}

#[test]
fn the_allocation_watch_sees_a_large_allocation() {
    fn greedy(_: &[u8]) {
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
    }
    let mut stats = mutate::Stats::default();
    let failure = mutate::execute(greedy, b"tiny", &mut stats).unwrap_err();
    assert!(
        failure.message.starts_with("allocated 67108864 bytes at once"),
        "{}",
        failure.message
    );
    fn panics(_: &[u8]) {
        panic!("boom");
    }
    let failure = mutate::execute(panics, b"", &mut stats).unwrap_err();
    assert_eq!(failure.message, "panicked: boom");
}
