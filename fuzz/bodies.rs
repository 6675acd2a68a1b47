//! The bodies of the fuzz targets: one function per loader, each fed arbitrary bytes. A body
//! returns normally whatever the input; it panics only when the library does or when an
//! invariant below fails, which is how libFuzzer (and the stable driver,
//! `examples/fuzz_loaders.rs`) find a bug.
//!
//! Shared by `fuzz/fuzz_targets/*.rs` (cargo fuzz, nightly), `examples/fuzz_loaders.rs` and
//! `tests/fuzz_loaders.rs` (stable), which include this file with `#[path]`.

use ferrograd::conformance::{parse_cases, run_cases};
use ferrograd::nn::csv::read_csv;
use ferrograd::nn::{Linear, Module, ReLU, Sequential, StateDict, StateValue};
use ferrograd::tensor::npy::NpyArray;
use ferrograd::tensor::Float;

/// A fuzz target's body.
pub type Body = fn(&[u8]);

/// The fuzz targets by name, as `cargo fuzz list` gives them.
pub const TARGETS: &[(&str, Body)] = &[
    ("safetensors", safetensors),
    ("json_checkpoint", json_checkpoint),
    ("case_file", case_file),
    ("csv", csv),
    ("numpy", numpy),
];

/// Whether the loader of `target` reads `data` (the stable driver keeps such inputs to mutate).
pub fn accepted(target: &str, data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    match target {
        "safetensors" => {
            StateDict::<f32>::from_safetensors_bytes(data).is_ok()
                || StateDict::<f64>::from_safetensors_bytes(data).is_ok()
        }
        "json_checkpoint" => {
            StateDict::<f32>::from_json_str(&text).is_ok() || StateDict::<f64>::from_json_str(&text).is_ok()
        }
        "case_file" => parse_cases(&text).is_ok(),
        "csv" => read_csv::<f64>(&text).is_ok(),
        "numpy" => NpyArray::from_npy_bytes(data).is_ok() || StateDict::<f32>::from_npz_bytes(data).is_ok(),
        _ => false,
    }
}

/// The model every checkpoint is loaded into: `0.weight` [3, 2], `0.bias` [3], `2.weight`
/// [2, 3], `2.bias` [2] (the names and shapes the corpus files use).
pub fn model<T: Float>() -> Sequential<T> {
    Sequential::new()
        .add(Linear::new(2, 3, 0))
        .add(ReLU)
        .add(Linear::new(3, 2, 1))
}

/// Every parameter's bits, to compare a model before and after a load.
pub fn bits<T: Float>(m: &Sequential<T>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), value_bits(&t)))
        .collect()
}

/// The bits of every element, float or int64.
fn value_bits<T: Float>(v: &StateValue<T>) -> Vec<u64> {
    match v {
        StateValue::Float(t) => t.to_vec().iter().map(|v| v.f64().to_bits()).collect(),
        StateValue::Int(t) => t.to_vec().iter().map(|&v| v as u64).collect(),
    }
}

fn sd_bits<T: Float>(sd: &StateDict<T>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    sd.iter()
        .map(|(n, t)| (n.to_string(), t.shape().to_vec(), value_bits(t)))
        .collect()
}

/// Loading `sd` into a model either fails and leaves every parameter bit for bit as it was,
/// or succeeds and gives the model exactly `sd`.
pub fn check_load<T: Float>(sd: &StateDict<T>) {
    let m = model::<T>();
    let before = bits(&m);
    match m.load_state_dict(sd) {
        Ok(()) => {
            let (mut got, mut want) = (bits(&m), sd_bits(sd));
            got.sort_by(|a, b| a.0.cmp(&b.0));
            want.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(got, want, "a successful load gives the state dict");
        }
        Err(_) => assert_eq!(bits(&m), before, "a failed load changed the model"),
    }
}

fn safetensors_as<T: Float>(data: &[u8]) {
    if let Ok(sd) = StateDict::<T>::from_safetensors_bytes(data) {
        check_load(&sd);
        let again = StateDict::<T>::from_safetensors_bytes(&sd.to_safetensors_bytes().expect("re-serialises"))
            .expect("what it wrote reads back");
        let mut names: Vec<_> = sd_bits(&sd);
        let mut names_again: Vec<_> = sd_bits(&again);
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names_again.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(names, names_again, "a safetensors round trip is exact");
    }
}

/// `StateDict::from_safetensors_bytes` in f32 and f64, then a load into a model.
pub fn safetensors(data: &[u8]) {
    safetensors_as::<f32>(data);
    safetensors_as::<f64>(data);
}

fn json_as<T: Float>(text: &str) {
    if let Ok(sd) = StateDict::<T>::from_json_str(text) {
        check_load(&sd);
        let again = StateDict::<T>::from_json_str(&sd.to_json_string()).expect("what it wrote reads back");
        assert_eq!(sd_bits(&sd), sd_bits(&again), "a JSON round trip is exact");
    }
}

/// `StateDict::from_json_str` in f32 and f64, then a load into a model.
pub fn json_checkpoint(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    json_as::<f32>(&text);
    json_as::<f64>(&text);
}

/// `conformance::parse_cases`, then `run_cases` on what parses, and its output as JSON.
pub fn case_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(file) = parse_cases(&text) {
        let results = run_cases(&file);
        assert_eq!(results.results.len(), file.cases.len(), "one result per case");
        serde_json::to_string(&results).expect("results serialise");
    }
}

fn csv_as<T: Float>(text: &str) {
    if let Ok(d) = read_csv::<T>(text) {
        let (rows, cols) = (d.labels.numel(), d.feature_names.len());
        assert_eq!(d.features.shape(), &[rows, cols], "features are [rows, features]");
        assert!(rows >= 1 && cols >= 1 && d.class_names.len() >= 2);
        assert!(d.features.all_finite(), "every feature is finite");
        assert!(d
            .labels
            .to_vec()
            .iter()
            .all(|&l| l >= 0 && (l as usize) < d.class_names.len()));
    }
}

/// `nn::csv::read_csv` in f32 and f64.
pub fn csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    csv_as::<f32>(&text);
    csv_as::<f64>(&text);
}

fn npz_as<T: Float>(data: &[u8]) {
    if let Ok(sd) = StateDict::<T>::from_npz_bytes(data) {
        check_load(&sd);
        let again = StateDict::<T>::from_npz_bytes(&sd.to_npz_bytes().expect("re-serialises"))
            .expect("what it wrote reads back");
        assert_eq!(sd_bits(&sd), sd_bits(&again), "an npz round trip is exact");
    }
}

/// NumPy files: `NpyArray::from_npy_bytes` (a `.npy`, any of its dtypes) and
/// `StateDict::from_npz_bytes` in f32 and f64 (a `.npz`), then a load into a model.
pub fn numpy(data: &[u8]) {
    if let Ok(array) = NpyArray::from_npy_bytes(data) {
        let again =
            NpyArray::from_npy_bytes(&array.to_npy_bytes().expect("re-serialises")).expect("what it wrote reads back");
        assert_eq!(format!("{array:?}"), format!("{again:?}"), "an npy round trip is exact");
    }
    npz_as::<f32>(data);
    npz_as::<f64>(data);
}
