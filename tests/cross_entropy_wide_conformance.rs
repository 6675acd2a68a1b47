//! Wide rows (16 classes and more) through the conformance runner's code path, against
//! `tests/fixtures/cross_entropy_wide_cases.json` (real PyTorch, written by
//! `tests/fixtures/generate_cross_entropy_wide.py`).
//!
//! `cross_entropy_conformance.rs` covers every option on narrow rows, which take the fused
//! kernel's plain path; these cases take its vectorized path (blocks, online max and sum, the
//! fast exp) with the same options, special values and the same tolerances.

use ferrograd::conformance::{parse_cases, run_case, CaseResult, TensorData};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/cross_entropy_wide_cases.json");

/// rtol/atol as in `cross_entropy_conformance.rs`: 1e-5/1e-6 in f32, 1e-10/1e-12 in f64.
fn tolerance(dtype: &str) -> (f64, f64) {
    match dtype {
        "float64" => (1e-10, 1e-12),
        _ => (1e-5, 1e-6),
    }
}

fn value(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("fixture number {s}")),
        v => v.as_f64().expect("fixture number"),
    }
}

fn compare(what: &str, dtype: &str, got: &TensorData, want: &Value) -> Result<(), String> {
    let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
    if got.shape != shape {
        return Err(format!("{what}: shape {:?}, PyTorch {:?}", got.shape, shape));
    }
    let (rtol, atol) = tolerance(dtype);
    for (i, (g, w)) in got.data.iter().zip(want["data"].as_array().unwrap()).enumerate() {
        let (g, w) = (g.value(), value(w));
        let same = if w.is_nan() || g.is_nan() || w.is_infinite() || g.is_infinite() {
            g == w || (g.is_nan() && w.is_nan())
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        if !same {
            return Err(format!("{what}[{i}]: {g:e}, PyTorch {w:e}"));
        }
    }
    Ok(())
}

#[test]
fn wide_rows_match_pytorch() {
    let file = parse_cases(FIXTURE).expect("fixture parses");
    let raw: Value = serde_json::from_str(FIXTURE).unwrap();
    let expected = raw["cases"].as_array().unwrap();
    assert!(file.cases.len() >= 100, "only {} cases", file.cases.len());
    let mut failures = Vec::new();
    for (case, raw_case) in file.cases.iter().zip(expected) {
        let want = &raw_case["expected"];
        let verdict = match run_case(case) {
            CaseResult::Error { error, .. } => Err(format!("error {error}")),
            CaseResult::Value {
                loss,
                grad,
                target_grad,
                ..
            } => compare("loss", &case.dtype, &loss, &want["loss"])
                .and_then(|_| compare("grad", &case.dtype, &grad, &want["grad"]))
                .and_then(|_| match (&target_grad, &want["target_grad"]) {
                    (Some(tg), v) if !v.is_null() => compare("target_grad", &case.dtype, tg, v),
                    (None, Value::Null) => Ok(()),
                    _ => Err("target_grad presence differs".into()),
                }),
        };
        if let Err(e) = verdict {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyTorch:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}
