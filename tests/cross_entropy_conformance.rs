//! Every case written by real PyTorch through the conformance runner's code path:
//! `tests/fixtures/cross_entropy_cases.json` (`generate_cross_entropy.py`: every option,
//! shape kind, special value and error, on narrow rows) and
//! `tests/fixtures/cross_entropy_wide_cases.json` (`generate_cross_entropy_wide.py`: rows of
//! 16 to 1000 classes, which take the fused kernel's vectorised path, with the same options).

use ferrograd::conformance::{parse_cases, run_case, CaseResult, Number, TensorData};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/cross_entropy_cases.json");
const WIDE_FIXTURE: &str = include_str!("fixtures/cross_entropy_wide_cases.json");

struct Tolerance {
    rtol: f64,
    atol: f64,
}

/// Loss and gradient tolerances: rtol 1e-5 / atol 1e-6 in f32; rtol 1e-10 in f64. PyTorch's
/// own f32 gradients are off by up to ~2e-7 where `p·A - a` cancels (reference §6.4).
fn tolerance(dtype: &str) -> Tolerance {
    match dtype {
        "float64" => Tolerance {
            rtol: 1e-10,
            atol: 1e-12,
        },
        _ => Tolerance { rtol: 1e-5, atol: 1e-6 },
    }
}

fn number(v: &Value) -> f64 {
    serde_json::from_value::<Number>(v.clone())
        .expect("fixture number")
        .value()
}

/// The largest deviation as a fraction of its tolerance, or an explanation of a mismatch.
fn compare(what: &str, dtype: &str, got: &TensorData, want: &Value) -> Result<f64, String> {
    let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
    if got.shape != shape {
        return Err(format!("{what}: shape {:?}, PyTorch {:?}", got.shape, shape));
    }
    let tol = tolerance(dtype);
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.data.iter().zip(want["data"].as_array().unwrap()).enumerate() {
        let (g, w) = (g.value(), number(w));
        if w.is_nan() || g.is_nan() {
            if w.is_nan() != g.is_nan() {
                return Err(format!("{what}[{i}]: {g}, PyTorch {w}"));
            }
            continue;
        }
        if w.is_infinite() || g.is_infinite() {
            if g != w {
                return Err(format!("{what}[{i}]: {g}, PyTorch {w}"));
            }
            continue;
        }
        let dev = (g - w).abs();
        let allowed = tol.atol + tol.rtol * w.abs();
        if dev > allowed {
            return Err(format!("{what}[{i}]: {g:e}, PyTorch {w:e} (|diff| {dev:e})"));
        }
        worst = worst.max(dev / allowed);
    }
    Ok(worst)
}

#[test]
fn every_pytorch_case_matches() {
    check_fixture(FIXTURE, 300);
}

#[test]
fn wide_rows_match_pytorch() {
    check_fixture(WIDE_FIXTURE, 100);
}

fn check_fixture(fixture: &str, min_cases: usize) {
    let file = parse_cases(fixture).expect("fixture parses");
    let raw: Value = serde_json::from_str(fixture).unwrap();
    let expected = raw["cases"].as_array().unwrap();
    assert!(file.cases.len() >= min_cases, "only {} cases", file.cases.len());
    let mut failures = Vec::new();
    let (mut worst32, mut worst64) = ((0.0f64, String::new()), (0.0f64, String::new()));
    for (case, raw_case) in file.cases.iter().zip(expected) {
        let want = &raw_case["expected"];
        let outcome = run_case(case);
        let verdict = match (&outcome, want.get("error")) {
            (CaseResult::Error { error, .. }, Some(msg)) => {
                let msg = msg.as_str().unwrap();
                if error.contains(msg) {
                    Ok(0.0)
                } else {
                    Err(format!("error {error:?}, PyTorch {msg:?}"))
                }
            }
            (CaseResult::Error { error, .. }, None) => Err(format!("error {error:?}, PyTorch succeeded")),
            (CaseResult::Value { .. }, Some(msg)) => Err(format!("succeeded, PyTorch raised {msg}")),
            (
                CaseResult::Value {
                    loss,
                    grad,
                    target_grad,
                    ..
                },
                None,
            ) => (|| {
                let mut w = compare("loss", &case.dtype, loss, &want["loss"])?;
                w = w.max(compare("grad", &case.dtype, grad, &want["grad"])?);
                match (target_grad, &want["target_grad"]) {
                    (Some(tg), v) if !v.is_null() => w = w.max(compare("target_grad", &case.dtype, tg, v)?),
                    (None, Value::Null) => {}
                    (got, v) => {
                        return Err(format!(
                            "target_grad presence differs: {} vs {}",
                            got.is_some(),
                            !v.is_null()
                        ))
                    }
                }
                Ok(w)
            })(),
        };
        match verdict {
            Ok(w) => {
                let worst = if case.dtype == "float64" {
                    &mut worst64
                } else {
                    &mut worst32
                };
                if w > worst.0 {
                    *worst = (w, case.name.clone());
                }
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    println!(
        "{} cases, {} matched; largest deviation as a fraction of the tolerance: f32 {:.2e} ({}), f64 {:.2e} ({})",
        file.cases.len(),
        file.cases.len() - failures.len(),
        worst32.0,
        worst32.1,
        worst64.0,
        worst64.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from PyTorch:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}
