//! The conformance runner on hostile and malformed case files: an error, never a panic.

use ferrograd::conformance::{parse_cases, run_cases, CaseResult};

fn one_case(fields: &str) -> String {
    format!(
        r#"{{"cases": [{{"name": "c", "dtype": "float32", "input": {{"shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}},
        "target_kind": "indices", "target": {{"shape": [2], "data": [0, 2]}}, "weight": null,
        "ignore_index": -100, "reduction": "mean", "label_smoothing": 0.0 {fields}}}]}}"#
    )
}

fn error_of(text: &str) -> String {
    let file = parse_cases(text).expect("parses");
    match &run_cases(&file).results[0] {
        CaseResult::Error { error, .. } => error.clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_valid_case_runs() {
    let file = parse_cases(&one_case("")).unwrap();
    assert!(matches!(run_cases(&file).results[0], CaseResult::Value { .. }));
}

#[test]
fn malformed_json_is_an_error_with_its_position() {
    for text in [
        "",
        "{",
        "[]",
        r#"{"cases": 3}"#,
        r#"{"cases": [{"name": 1}]}"#,
        "\u{0}\u{1}garbage",
    ] {
        let e = parse_cases(text).unwrap_err().to_string();
        assert!(e.starts_with("conformance: invalid case file"), "{e}");
    }
    let e = parse_cases(r#"{"cases": [{"name": "x"}]}"#).unwrap_err().to_string();
    assert!(e.contains("missing field"), "{e}");
}

#[test]
fn wrong_values_in_a_case_are_errors_naming_them() {
    let bad_dtype = one_case("").replace("float32", "float16");
    assert!(error_of(&bad_dtype).contains(r#"dtype must be "float32" or "float64", got "float16""#));
    let short = one_case("").replace("[1, 2, 3, 4, 5, 6]", "[1, 2, 3]");
    assert!(error_of(&short).contains("input: shape [2, 3] needs 6 values but data has 3"));
    let float_index = one_case("").replace("[0, 2]", "[0.5, 2]");
    assert!(error_of(&float_index).contains("index target 0.5 is not an integer"));
    let kind = one_case("").replace(r#""indices""#, r#""logits""#);
    assert!(error_of(&kind).contains("target_kind must be"));
    let reduction = one_case("").replace(r#""mean""#, r#""avg""#);
    assert!(error_of(&reduction).contains("avg is not a valid value for reduction"));
}

#[test]
fn absurd_shapes_are_refused_before_allocating() {
    let huge = one_case("").replace("[2, 3]", "[4294967296, 4294967296, 4294967296]");
    assert!(error_of(&huge).contains("more elements than fit in memory"));
    let big = one_case("").replace("[2, 3]", "[1000000000, 1000000000]");
    assert!(error_of(&big).contains("needs 1000000000000000000 values but data has 6"));
}

#[test]
fn non_finite_numbers_round_trip_as_strings() {
    let text = one_case("").replace("[1, 2, 3, 4, 5, 6]", r#"["inf", 2, 3, 4, "nan", 6]"#);
    let out = serde_json::to_string(&run_cases(&parse_cases(&text).unwrap())).unwrap();
    assert!(out.contains(r#""nan""#), "{out}");
}
