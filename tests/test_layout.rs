//! Every test file builds: each `tests/*.rs` of a package whose tests are one binary
//! (`tests/main.rs`, `autotests = false`) is a module of that binary or a `[[test]]` target of
//! its own.

use std::fs;
use std::path::Path;

#[test]
fn every_test_file_is_a_module_or_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut packages = vec![root.to_path_buf()];
    for entry in fs::read_dir(root.join("crates")).unwrap() {
        packages.push(entry.unwrap().path());
    }
    let mut checked = 0;
    for package in packages {
        let Ok(main) = fs::read_to_string(package.join("tests/main.rs")) else {
            continue; // cargo discovers this package's tests itself
        };
        let manifest = fs::read_to_string(package.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("autotests = false"),
            "{}: tests/main.rs without autotests = false",
            package.display()
        );
        for entry in fs::read_dir(package.join("tests")).unwrap() {
            let path = entry.unwrap().path();
            let (Some(stem), Some("rs")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            if stem == "main" {
                continue;
            }
            let module = main.lines().any(|l| l == format!("mod {stem};"));
            let target = manifest.lines().any(|l| l == format!("name = \"{stem}\""));
            assert!(
                module || target,
                "{} is neither a module of tests/main.rs nor a [[test]] target: it would never build",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} test files found");
}
