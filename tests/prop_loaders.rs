//! Property tests of every loader on hostile input: arbitrary bytes, and files that are
//! structurally valid but absurd (huge declared shapes, negative sizes, shapes whose product
//! overflows, names that do not exist or appear twice, offsets past the end, NaN everywhere).
//! Each must give an error or a state dict / data set that is exactly what the file says, never
//! a panic, never one allocation beyond 64 bytes per input byte plus 1 MiB (so nothing is
//! allocated from a declared size before it is checked), and a failed `load_state_dict`
//! leaves every parameter of the model bit for bit as it was (`fuzz/bodies.rs`, shared with
//! the fuzz targets, checks these).

use crate::{bodies, mutate};

use ferrograd::conformance::{parse_cases, run_cases, CaseResult};
use ferrograd::nn::csv::read_csv;
use ferrograd::nn::{Module, StateDict};
use proptest::prelude::*;
use proptest::test_runner::{contextualize_config, RngSeed};

fn config() -> ProptestConfig {
    contextualize_config(ProptestConfig {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x5eed_10ad),
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Runs a fuzz body on `input`: no panic, no oversized allocation.
fn survives(body: fn(&[u8]), input: &[u8]) -> Result<(), TestCaseError> {
    let mut stats = mutate::Stats::default();
    mutate::execute(body, input, &mut stats).map_err(|f| TestCaseError::fail(f.message))
}

// ---------------------------------------------------------------------------------------------
// Pieces of absurd files
// ---------------------------------------------------------------------------------------------

/// A tensor name: one of the model's, one it does not have, an odd one.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec!["0.weight", "0.bias", "2.weight", "2.bias"]).prop_map(String::from),
        1 => proptest::sample::select(vec!["1.weight", "3.bias", "", "__metadata__", "0.weight ", "é\\u0000"]).prop_map(String::from),
    ]
}

/// A JSON shape: the model's, small, empty, huge, overflowing, negative or not a number.
fn json_shape() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(vec!["[3, 2]", "[3]", "[2, 3]", "[2]"]).prop_map(String::from),
        2 => proptest::collection::vec(0usize..4, 0..3).prop_map(|s| format!("{s:?}")),
        3 => proptest::sample::select(vec![
            "[1099511627776]",
            "[1099511627776, 1099511627776]",
            "[4294967296, 4294967296, 4294967296]",
            "[18446744073709551615]",
            "[18446744073709551615, 2]",
            "[0, 18446744073709551615, 18446744073709551615]",
            "[0, 1099511627776]",
            "[9223372036854775807, 0]",
            "[-1]",
            "[3, -2]",
            "[1.5]",
            "[1e30]",
            "\"3\"",
            "null",
            "[18446744073709551616]",
        ])
        .prop_map(String::from),
    ]
}

/// A JSON number or stand-in: finite, non-finite as a string, out of range, or not a number.
fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-3.0..3.0f64).prop_map(|v| format!("{v}")),
        3 => Just("\"nan\"".to_string()),
        1 => proptest::sample::select(vec!["\"inf\"", "\"-inf\"", "1e39", "-1e39", "1e400", "null", "\"x\"", "[]", "1e-50", "-0"]).prop_map(String::from),
    ]
}

fn json_values() -> impl Strategy<Value = String> {
    proptest::collection::vec(json_value(), 0..8).prop_map(|v| format!("[{}]", v.join(",")))
}

// ---------------------------------------------------------------------------------------------
// Safetensors
// ---------------------------------------------------------------------------------------------

/// `(name, dtype, shape, offsets)` of one header entry.
fn safetensors_entry() -> impl Strategy<Value = String> {
    let dtype = prop_oneof![
        6 => Just("F32"),
        2 => Just("F64"),
        1 => proptest::sample::select(vec!["I64", "BF16", "U8", "X9"]),
    ];
    let offsets = prop_oneof![
        4 => (0usize..64, 0usize..64).prop_map(|(a, n)| format!("[{a}, {}]", a + n)),
        1 => proptest::sample::select(vec![
            "[0, 18446744073709551615]",
            "[18446744073709551615, 18446744073709551615]",
            "[8, 0]",
            "[0, 8000000000]",
            "[-4, 4]",
            "[0]",
            "null",
        ])
        .prop_map(String::from),
    ];
    (name(), dtype, json_shape(), offsets)
        .prop_map(|(n, d, s, o)| format!("\"{n}\": {{\"dtype\": \"{d}\", \"shape\": {s}, \"data_offsets\": {o}}}"))
}

fn safetensors_file() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(safetensors_entry(), 0..6),
        any::<bool>(),
        prop_oneof![Just(0xffu8), Just(0u8), any::<u8>()], // 0xff.. is NaN in f32 and f64
        0usize..96,
        0..6u8,
    )
        .prop_map(|(entries, metadata, fill, data_len, length_kind)| {
            let mut parts = entries;
            if metadata {
                parts.push("\"__metadata__\": {\"format\": \"pt\"}".into());
            }
            let header = format!("{{{}}}", parts.join(", "));
            let declared: u64 = match length_kind {
                0 => u64::MAX,
                1 => header.len() as u64 + 1,
                2 => 1 << 40,
                _ => header.len() as u64,
            };
            let mut out = declared.to_le_bytes().to_vec();
            out.extend_from_slice(header.as_bytes());
            out.extend(std::iter::repeat_n(fill, data_len));
            out
        })
}

// ---------------------------------------------------------------------------------------------
// JSON checkpoints
// ---------------------------------------------------------------------------------------------

fn json_checkpoint() -> impl Strategy<Value = String> {
    let tensor = (name(), json_shape(), json_values())
        .prop_map(|(n, s, d)| format!("\"{n}\": {{\"shape\": {s}, \"data\": {d}}}"));
    (
        proptest::collection::vec(tensor, 0..6),
        prop_oneof![4 => Just("\"ferrograd-state-dict\""), 1 => Just("\"pt\""), 1 => Just("3")],
        prop_oneof![3 => Just("\"float32\""), 2 => Just("\"float64\""), 1 => Just("\"float16\"")],
    )
        .prop_map(|(tensors, format, dtype)| {
            format!(
                "{{\"format\": {format}, \"dtype\": {dtype}, \"tensors\": {{{}}}}}",
                tensors.join(", ")
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Case files
// ---------------------------------------------------------------------------------------------

fn case() -> impl Strategy<Value = String> {
    let shape = prop_oneof![
        4 => proptest::collection::vec(0usize..4, 0..4).prop_map(|s| format!("{s:?}")),
        2 => json_shape(),
    ];
    let index_values = proptest::collection::vec(
        prop_oneof![
            4 => (-2i64..5).prop_map(|v| v.to_string()),
            1 => proptest::sample::select(vec!["-100", "9223372036854775807", "-9223372036854775808", "1.5", "\"nan\"", "1e30", "null"]).prop_map(String::from),
        ],
        0..8,
    )
    .prop_map(|v| format!("[{}]", v.join(",")));
    let target = prop_oneof![
        (shape.clone(), index_values).prop_map(|(s, d)| ("\"indices\"", s, d)),
        (shape.clone(), json_values()).prop_map(|(s, d)| ("\"probabilities\"", s, d)),
        (shape.clone(), json_values()).prop_map(|(s, d)| ("\"logits\"", s, d)),
    ];
    let weight = prop_oneof![Just("null".to_string()), json_values()];
    (
        prop_oneof![Just("\"float32\""), Just("\"float64\""), Just("\"int8\"")],
        (shape, json_values()),
        target,
        weight,
        prop_oneof![Just("-100"), Just("0"), Just("1"), Just("-9223372036854775808"), Just("9223372036854775807"), Just("1e30")],
        prop_oneof![Just("\"mean\""), Just("\"sum\""), Just("\"none\""), Just("\"avg\"")],
        prop_oneof![Just("0.0"), Just("0.1"), Just("1.0"), Just("1.5"), Just("-0.5"), Just("\"nan\""), Just("\"inf\"")],
    )
        .prop_map(|(dtype, (is, id), (kind, ts, td), w, ii, r, ls)| {
            format!(
                "{{\"name\": \"c\", \"dtype\": {dtype}, \"input\": {{\"shape\": {is}, \"data\": {id}}}, \"target_kind\": {kind}, \
                 \"target\": {{\"shape\": {ts}, \"data\": {td}}}, \"weight\": {w}, \"ignore_index\": {ii}, \"reduction\": {r}, \
                 \"label_smoothing\": {ls}}}"
            )
        })
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

fn csv_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        6 => (-5.0..5.0f64).prop_map(|v| format!("{v:.3}")),
        4 => (0i64..3).prop_map(|v| v.to_string()),
        1 => proptest::sample::select(vec![
            "", "nan", "NaN", "inf", "-inf", "1e39", "-1e39", "1e400", "3.0", "abc", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "1e15", "1e14", "0x10", " 7 ", "\u{00e9}", "\"1\"",
        ])
        .prop_map(String::from),
    ];
    let row = proptest::collection::vec(field, 0..5).prop_map(|f| f.join(","));
    (
        proptest::collection::vec(row, 0..8),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\n\n")],
        any::<bool>(),
    )
        .prop_map(|(rows, newline, header)| {
            let body = rows.join(newline);
            if header {
                format!("x,y,label{newline}{body}")
            } else {
                body
            }
        })
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_refused_or_read_by_every_loader(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for &(_, body) in bodies::TARGETS {
            survives(body, &bytes)?;
        }
    }

    #[test]
    fn absurd_safetensors_files(file in safetensors_file()) {
        survives(bodies::safetensors, &file)?;
        // A declared tensor of 2^40 elements or more cannot be backed by this little data.
        let text = String::from_utf8_lossy(&file);
        if text.contains("1099511627776") || text.contains("4294967296, 4294967296") {
            prop_assert!(StateDict::<f32>::from_safetensors_bytes(&file).is_err());
        }
    }

    #[test]
    fn absurd_json_checkpoints(text in json_checkpoint()) {
        survives(bodies::json_checkpoint, text.as_bytes())?;
        if let Ok(sd) = StateDict::<f32>::from_json_str(&text) {
            // What was read is what the file says: the shapes hold the data.
            for (_, t) in sd.iter() {
                prop_assert_eq!(t.numel(), t.shape().iter().product::<usize>());
            }
        }
    }

    #[test]
    fn absurd_case_files(cases in proptest::collection::vec(case(), 0..4)) {
        let text = format!("{{\"cases\": [{}]}}", cases.join(", "));
        survives(bodies::case_file, text.as_bytes())?;
        if let Ok(file) = parse_cases(&text) {
            // A case that ran has gradients of its input's shape.
            for (case, result) in file.cases.iter().zip(run_cases(&file).results) {
                if let CaseResult::Value { grad, .. } = result {
                    prop_assert_eq!(&grad.shape, &case.input.shape);
                }
            }
        }
    }

    #[test]
    fn absurd_csv_files(text in csv_text()) {
        survives(bodies::csv, text.as_bytes())?;
        // An error names a line of the file, or says it has no data or one class.
        if let Err(e) = read_csv::<f32>(&text) {
            let m = e.to_string();
            prop_assert!(m.starts_with("read_csv: line ") || m.contains("no data rows") || m.contains("at least 2 classes"), "{}", m);
        }
    }
}

#[test]
fn a_failed_load_leaves_the_model_bit_for_bit_unchanged() {
    // Nearly right files: one entry wrong at a time, NaN everywhere else.
    let m = bodies::model::<f32>();
    let before = bodies::bits(&m);
    let mut sd = m.state_dict();
    for (name, p) in m.named_parameters() {
        sd.insert(name, p.to_tensor().map(|_| f32::NAN));
    }
    let wrong: Vec<StateDict<f32>> = vec![
        {
            let mut s = sd.clone();
            s.remove("2.bias");
            s
        },
        {
            let mut s = sd.clone();
            s.insert("3.weight", ferrograd::tensor::Tensor::zeros(&[1]));
            s
        },
        {
            let mut s = sd.clone();
            s.insert("0.weight", ferrograd::tensor::Tensor::zeros(&[2, 3]));
            s
        },
    ];
    for s in &wrong {
        assert!(m.load_state_dict(s).is_err());
        assert_eq!(bodies::bits(&m), before);
        bodies::check_load(s);
        // The same through both file formats.
        let bytes = s.to_safetensors_bytes().unwrap();
        bodies::safetensors(&bytes);
        bodies::json_checkpoint(s.to_json_string().as_bytes());
    }
}
