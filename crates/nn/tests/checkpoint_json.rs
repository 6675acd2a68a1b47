//! `state_dict` / `load_state_dict` and JSON checkpoints: exact round trips, PyTorch's strict
//! loading errors, and files that are truncated, corrupt or of another model, all refused
//! with the model left as it was.

use ferrograd_nn::{Linear, Module, ReLU, Sequential, StateDict};
use ferrograd_tensor::{Float, Tensor};
use serde_json::Value;

fn model<T: Float>(seed: u64) -> Sequential<T> {
    Sequential::new()
        .add(Linear::new(2, 3, seed))
        .add(ReLU)
        .add(Linear::new(3, 2, seed + 1))
}

/// Every parameter value as bits, to compare exactly (NaN included).
fn bits<T: Float>(m: &Sequential<T>) -> Vec<(String, Vec<u64>)> {
    m.named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.to_tensor().to_vec().iter().map(|v| v.f64().to_bits()).collect()))
        .collect()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ferrograd-nn-{}-{name}", std::process::id()))
}

#[test]
fn state_dict_has_pytorchs_names_in_order() {
    let sd = model::<f32>(0).state_dict();
    assert_eq!(
        sd.names().collect::<Vec<_>>(),
        ["0.weight", "0.bias", "2.weight", "2.bias"]
    );
    assert_eq!(sd.get("2.weight").unwrap().shape(), &[2, 3]);
}

#[test]
fn json_round_trips_are_bit_identical() {
    let source = model::<f32>(0);
    // values JSON cannot hold as numbers, and ones that need all their digits
    *source.named_parameters()[1].1.value_mut() = Tensor::from_vec(vec![f32::INFINITY, -0.0, 1e-45], &[3]).unwrap();
    *source.named_parameters()[3].1.value_mut() = Tensor::from_vec(vec![f32::NAN, 0.1], &[2]).unwrap();
    let text = source.state_dict().to_json_string();
    let copy = model::<f32>(10);
    copy.load_state_dict(&StateDict::from_json_str(&text).unwrap()).unwrap();
    assert_eq!(bits(&copy), bits(&source));

    let path = temp_path("round-trip-f64.json");
    let source = model::<f64>(1);
    source.state_dict().save_json(&path).unwrap();
    let copy = model::<f64>(20);
    copy.load_state_dict(&StateDict::load_json(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(bits(&copy), bits(&source));
}

#[test]
fn json_layout_is_the_documented_one() {
    let text = model::<f32>(0).state_dict().to_json_string();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "ferrograd-state-dict");
    assert_eq!(doc["dtype"], "float32");
    assert_eq!(doc["tensors"]["0.weight"]["shape"], serde_json::json!([3, 2]));
    assert_eq!(doc["tensors"]["0.weight"]["data"].as_array().unwrap().len(), 6);
    let at = |name: &str| text.find(&format!("\"{name}\"")).unwrap();
    assert!(at("0.weight") < at("0.bias") && at("0.bias") < at("2.weight") && at("2.weight") < at("2.bias"));
}

#[test]
fn load_state_dict_checks_everything_before_copying_anything() {
    let m = model::<f32>(0);
    let before = bits(&m);
    let good = model::<f32>(5).state_dict();
    let err = |sd: &StateDict<f32>| {
        let e = m.load_state_dict(sd).unwrap_err().to_string();
        assert_eq!(bits(&m), before, "a failed load changed the model");
        e
    };

    let mut missing = good.clone();
    missing.remove("0.bias");
    assert_eq!(
        err(&missing),
        "load_state_dict: Error(s) in loading state_dict:\n\tMissing key(s) in state_dict: \"0.bias\"."
    );
    let mut extra = good.clone();
    extra.insert("9.weight", Tensor::zeros(&[1]));
    assert_eq!(
        err(&extra),
        "load_state_dict: Error(s) in loading state_dict:\n\tUnexpected key(s) in state_dict: \"9.weight\"."
    );
    let mut wrong = good.clone();
    wrong.insert("2.weight", Tensor::zeros(&[3, 2]));
    assert_eq!(
        err(&wrong),
        "load_state_dict: Error(s) in loading state_dict:\n\tsize mismatch for 2.weight: copying a param with shape [3, 2] from checkpoint, the shape in current model is [2, 3]."
    );
    // every problem at once, the good entries not copied either
    let mut all = wrong;
    all.remove("0.bias");
    all.remove("2.bias");
    all.insert("extra", Tensor::zeros(&[1]));
    let e = err(&all);
    assert!(
        e.contains("Missing key(s) in state_dict: \"0.bias\", \"2.bias\"."),
        "{e}"
    );
    assert!(e.contains("Unexpected key(s) in state_dict: \"extra\"."), "{e}");
    assert!(e.contains("size mismatch for 2.weight"), "{e}");

    m.load_state_dict(&good).unwrap();
    assert_eq!(bits(&m), bits(&model::<f32>(5)));
}

#[test]
fn every_truncation_of_a_json_file_is_an_error() {
    let text = model::<f32>(0).state_dict().to_json_string();
    for end in 0..text.len() {
        assert!(
            StateDict::<f32>::from_json_str(&text[..end]).is_err(),
            "prefix of {end} bytes loaded"
        );
    }
}

#[test]
fn corrupt_and_mismatched_json_files_are_errors_naming_file_and_tensor() {
    let path = temp_path("corrupt.json");
    let load = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let e = StateDict::<f32>::load_json(&path).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()),
            "error without the file name: {e}"
        );
        e
    };
    let doc = |dtype: &str, tensors: &str| {
        format!(r#"{{"format": "ferrograd-state-dict", "dtype": "{dtype}", "tensors": {{{tensors}}}}}"#)
    };

    assert!(load("\u{1}garbage").contains("expected value"));
    assert!(load(r#"{"format": "numpy", "dtype": "float32", "tensors": {}}"#).contains("format is \"numpy\""));
    let e = load(&doc("float64", r#""w": {"shape": [1], "data": [1.0]}"#));
    assert!(e.contains("the tensors are float64, expected float32"), "{e}");
    let e = load(&doc("float32", r#""w": {"shape": [2, 2], "data": [1, 2, 3]}"#));
    assert!(
        e.contains("tensor \"w\": shape [2, 2] needs 4 values, the file has 3"),
        "{e}"
    );
    let e = load(&doc(
        "float32",
        r#""w": {"shape": [18446744073709551615, 2], "data": []}"#,
    ));
    assert!(e.contains("tensor \"w\": shape") && e.contains("too large"), "{e}");
    let e = load(&doc("float32", r#""w": {"shape": [1], "data": ["one"]}"#));
    assert!(e.contains("tensor \"w\"") && e.contains("\"one\""), "{e}");
    let e = load(&doc("float32", r#""w": {"shape": [1], "data": [1e300]}"#));
    assert!(
        e.contains("tensor \"w\": value 1e300 at 0 does not fit in float32"),
        "{e}"
    );
    let e = load(&doc(
        "float32",
        r#""w": {"shape": [], "data": [1]}, "w": {"shape": [], "data": [2]}"#,
    ));
    assert!(e.contains("tensor \"w\" appears twice"), "{e}");
    let e = load(&doc("float32", r#""w": {"shape": [-1], "data": []}"#));
    assert!(e.contains("tensor \"w\""), "{e}");
    std::fs::write(&path, [b'{', 0xff, 0xfe, b'}']).unwrap();
    assert!(StateDict::<f32>::load_json(&path).is_err(), "non-UTF-8");
    std::fs::remove_file(&path).unwrap();

    let missing = StateDict::<f32>::load_json(temp_path("no-such-file.json"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("load_json: ") && missing.contains("no-such-file.json"),
        "{missing}"
    );
}
