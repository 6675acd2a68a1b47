//! Safetensors checkpoints: PyTorch's file (`tests/fixtures/mlp_pytorch.safetensors`, written
//! by `safetensors.torch` in `generate_training.py`) loads and gives PyTorch's output, ours
//! are byte for byte what PyTorch writes, round trips are exact, and truncated, corrupt,
//! lying or mismatched files are errors naming the file and tensor, never panics.

use crate::common;

use common::{assert_close, fixture, fixture_path, tensor};
use ferrograd_autograd::Var;
use ferrograd_nn::{Forward, Linear, Module, ReLU, Sequential, StateDict};
use ferrograd_tensor::{Float, Tensor};
use rand::{Rng, SeedableRng};

fn mlp<T: Float>(sizes: [usize; 3], seed: u64) -> Sequential<T> {
    Sequential::new()
        .add(Linear::new(sizes[0], sizes[1], seed))
        .add(ReLU)
        .add(Linear::new(sizes[1], sizes[2], seed + 1))
}

fn bits<T: Float>(m: &Sequential<T>) -> Vec<(String, Vec<u64>)> {
    m.named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.to_tensor().to_vec().iter().map(|v| v.f64().to_bits()).collect()))
        .collect()
}

/// A safetensors file: the header's length (u64, little-endian), the header, the data.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn pytorchs_file_loads_and_gives_pytorchs_output() {
    let doc = fixture("nn_reference.json");
    let record = &doc["safetensors_model"];
    let sd = StateDict::<f32>::load_safetensors(fixture_path("mlp_pytorch.safetensors")).unwrap();
    for entry in record["names"].as_array().unwrap() {
        let shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
        assert_eq!(
            sd.get(entry["name"].as_str().unwrap()).unwrap().shape(),
            shape.as_slice()
        );
    }
    let model = mlp::<f32>([4, 8, 3], 0);
    model.load_state_dict(&sd).unwrap();
    let out = model.forward(&Var::new(tensor(&record["x"]))).unwrap().to_tensor();
    let worst = assert_close("output", &out, &record["output"], 1e-6, 1e-6);
    println!("safetensors model: largest relative output deviation {worst:.2e}");
}

#[test]
fn our_file_is_byte_for_byte_pytorchs() {
    // Same tensors, same layout: names sorted, {"format": "pt"}, header padded to 8 bytes.
    let theirs = std::fs::read(fixture_path("mlp_pytorch.safetensors")).unwrap();
    let sd = StateDict::<f32>::from_safetensors_bytes(&theirs).unwrap();
    assert_eq!(sd.to_safetensors_bytes().unwrap(), theirs);
}

#[test]
fn round_trips_are_bit_identical() {
    let source = mlp::<f32>([3, 4, 2], 0);
    *source.named_parameters()[3].1.value_mut() = Tensor::from_vec(vec![f32::NAN, -0.0], &[2]).unwrap();
    let path = std::env::temp_dir().join(format!("ferrograd-nn-{}-rt.safetensors", std::process::id()));
    source.state_dict().save_safetensors(&path).unwrap();
    let copy = mlp::<f32>([3, 4, 2], 9);
    copy.load_state_dict(&StateDict::load_safetensors(&path).unwrap())
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(bits(&copy), bits(&source));

    let source = mlp::<f64>([3, 4, 2], 1);
    let bytes = source.state_dict().to_safetensors_bytes().unwrap();
    let copy = mlp::<f64>([3, 4, 2], 7);
    copy.load_state_dict(&StateDict::from_safetensors_bytes(&bytes).unwrap())
        .unwrap();
    assert_eq!(bits(&copy), bits(&source));
}

#[test]
fn every_truncation_is_an_error_and_leaves_the_model_unchanged() {
    let bytes = mlp::<f32>([2, 3, 2], 0).state_dict().to_safetensors_bytes().unwrap();
    let model = mlp::<f32>([2, 3, 2], 5);
    let before = bits(&model);
    for end in 0..bytes.len() {
        if let Ok(sd) = StateDict::<f32>::from_safetensors_bytes(&bytes[..end]) {
            panic!(
                "a prefix of {end} of {} bytes loaded: {:?}",
                bytes.len(),
                sd.names().collect::<Vec<_>>()
            );
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(
        StateDict::<f32>::from_safetensors_bytes(&longer).is_err(),
        "trailing byte"
    );
    assert_eq!(bits(&model), before);
}

#[test]
fn random_bytes_and_header_garbage_are_errors() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    for len in (0..64).chain([100, 1000, 4096]) {
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        assert!(
            StateDict::<f32>::from_safetensors_bytes(&bytes).is_err(),
            "{len} random bytes"
        );
        if len >= 8 {
            // a plausible header length with a random header
            bytes[..8].copy_from_slice(&((len - 8) as u64).to_le_bytes());
            assert!(StateDict::<f32>::from_safetensors_bytes(&bytes).is_err());
        }
    }
    let good = mlp::<f32>([2, 3, 2], 0).state_dict().to_safetensors_bytes().unwrap();
    for i in 8..good.len().min(200) {
        // flip each header byte: an error or, at worst, a different valid file, never a panic
        let mut bytes = good.clone();
        bytes[i] ^= 0x55;
        let _ = StateDict::<f32>::from_safetensors_bytes(&bytes);
    }
    for (header, what) in [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (r#"{"w": {"dtype": "F32", "shape": [1]}}"#, "tensor \"w\""),
        (
            r#"{"w": {"dtype": "X9", "shape": [], "data_offsets": [0, 4]}}"#,
            "tensor \"w\"",
        ),
    ] {
        let e = StateDict::<f32>::from_safetensors_bytes(&file(header, &[0; 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{header}: {e}");
    }
    let mut bad_utf8 = file("{\"w\"}", &[]);
    bad_utf8[9] = 0xff;
    assert!(StateDict::<f32>::from_safetensors_bytes(&bad_utf8)
        .unwrap_err()
        .to_string()
        .contains("UTF-8"));
}

#[test]
fn lying_headers_are_errors_naming_the_tensor_before_any_allocation() {
    let load = |bytes: &[u8]| StateDict::<f32>::from_safetensors_bytes(bytes).unwrap_err().to_string();
    // the header length says more than the file holds
    let mut long = file("{}", &[]);
    long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load(&long).contains("past the end of the file"), "{}", load(&long));
    // a shape whose element count overflows
    let e = load(&file(
        r#"{"w": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 4]}}"#,
        &[0; 4],
    ));
    assert!(
        e.contains("tensor \"w\": shape [4611686018427387904, 8] is too large"),
        "{e}"
    );
    // data far beyond the file
    let e = load(&file(
        r#"{"w": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 4000000000]}}"#,
        &[0; 4],
    ));
    assert!(
        e.contains("tensor \"w\": data offsets [0, 4000000000] lie outside the 4 bytes of data"),
        "{e}"
    );
    // eight consistent tensors of 2^61 - 4 bytes each: their end plus the header length
    // overflows usize, which makes safetensors 0.8's own `read_metadata` panic in debug builds
    let n: usize = (1 << 59) - 1;
    let tensors: Vec<String> = (0..8)
        .map(|i| {
            format!(
                r#""t{i}": {{"dtype": "F32", "shape": [{n}], "data_offsets": [{}, {}]}}"#,
                i * 4 * n,
                (i + 1) * 4 * n
            )
        })
        .collect();
    let e = load(&file(&format!("{{{}}}", tensors.join(", ")), &[]));
    assert!(
        e.contains("tensor \"t0\": data offsets [0, 2305843009213693948] lie outside the 0 bytes"),
        "{e}"
    );
    // offsets that disagree with the shape, overlap, or leave a gap
    let e = load(&file(
        r#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#,
        &[0; 4],
    ));
    assert!(
        e.contains("tensor \"w\": shape [2] needs 8 bytes, its data offsets [0, 4] hold 4"),
        "{e}"
    );
    let e = load(&file(
        r#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#,
        &[0; 12],
    ));
    assert!(e.contains("invalid offset for tensor `b`"), "{e}");
    let e = load(&file(
        r#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#,
        &[0; 4],
    ));
    assert!(e.contains("tensor \"a\": data offsets [4, 0]"), "{e}");
}

#[test]
fn a_file_of_another_dtype_or_model_is_refused_and_the_model_kept() {
    let model = mlp::<f32>([2, 3, 2], 0);
    let before = bits(&model);
    let f64_bytes = mlp::<f64>([2, 3, 2], 1).state_dict().to_safetensors_bytes().unwrap();
    let e = StateDict::<f32>::from_safetensors_bytes(&f64_bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is F64, expected F32 (float32)"), "{e}");
    assert!(e.contains("tensor \"0.bias\""), "{e}");
    let path = std::env::temp_dir().join(format!("ferrograd-nn-{}-f64.safetensors", std::process::id()));
    std::fs::write(&path, &f64_bytes).unwrap();
    let e = StateDict::<f32>::load_safetensors(&path).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(e.contains(&path.display().to_string()), "{e}");

    for other in [[2, 4, 2], [3, 3, 2]] {
        let sd = StateDict::<f32>::from_safetensors_bytes(
            &mlp::<f32>(other, 2).state_dict().to_safetensors_bytes().unwrap(),
        )
        .unwrap();
        let e = model.load_state_dict(&sd).unwrap_err().to_string();
        assert!(e.contains("size mismatch for 0.weight"), "{e}");
    }
    let mut sd = model.state_dict();
    sd.remove("2.bias");
    sd.insert("4.weight", Tensor::zeros(&[1]));
    let bytes = sd.to_safetensors_bytes().unwrap();
    let e = model
        .load_state_dict(&StateDict::from_safetensors_bytes(&bytes).unwrap())
        .unwrap_err();
    assert!(
        e.to_string().contains("Missing key(s) in state_dict: \"2.bias\"."),
        "{e}"
    );
    assert!(
        e.to_string().contains("Unexpected key(s) in state_dict: \"4.weight\"."),
        "{e}"
    );
    assert_eq!(bits(&model), before);
}
