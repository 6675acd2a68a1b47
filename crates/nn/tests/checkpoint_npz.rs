//! NumPy `.npz` checkpoints: archives written by `numpy.savez` and `numpy.savez_compressed`
//! (tests/fixtures/generate_numpy.py, `npz_files()`) load into a model, ours read back
//! exactly, and truncated, corrupt or mismatched archives are errors naming the archive and
//! entry, never panics, and leave the model unchanged.

use ferrograd_nn::{Linear, Module, ReLU, Sequential, StateDict};
use ferrograd_tensor::{Float, Tensor};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npz")
        .join(name)
}

fn mlp<T: Float>() -> Sequential<T> {
    Sequential::new()
        .add(Linear::new(2, 3, 0))
        .add(ReLU)
        .add(Linear::new(3, 2, 1))
}

const NAMES: [&str; 4] = ["0.weight", "0.bias", "2.weight", "2.bias"];

/// The script's values: entry k of the 17 parameters in order is (k / 16 - 0.5) in float32.
fn expected(name: &str) -> (Vec<usize>, Vec<f32>) {
    let (start, shape) = match name {
        "0.weight" => (0, vec![3, 2]),
        "0.bias" => (6, vec![3]),
        "2.weight" => (9, vec![2, 3]),
        _ => (15, vec![2]),
    };
    let n: usize = shape.iter().product();
    (shape, (start..start + n).map(|k| k as f32 / 16.0 - 0.5).collect())
}

#[test]
fn numpys_savez_and_savez_compressed_load_into_a_model() {
    for file in ["mlp_f32.npz", "mlp_f32_compressed.npz"] {
        let sd = StateDict::<f32>::load_npz(fixture(file)).unwrap();
        assert_eq!(sd.names().collect::<Vec<_>>(), NAMES, "{file}: the archive's order");
        for name in NAMES {
            let (shape, values) = expected(name);
            let t = sd.get(name).unwrap();
            assert_eq!((t.shape(), t.to_vec()), (&shape[..], values), "{file}: {name}");
        }
        let model = mlp::<f32>();
        model.load_state_dict(&sd).unwrap();
        assert_eq!(model.state_dict(), sd);
    }
}

#[test]
fn numpys_float64_archive_loads_as_float64() {
    // {k: v.astype(np.float64) / 3 for k, v in f32.items()}
    let sd = StateDict::<f64>::load_npz(fixture("mlp_f64.npz")).unwrap();
    let (_, values) = expected("2.weight");
    let want: Vec<f64> = values.iter().map(|&v| v as f64 / 3.0).collect();
    assert_eq!(sd.get("2.weight").unwrap().to_vec(), want);
}

#[test]
fn an_entry_of_another_type_is_an_error_naming_it() {
    let path = fixture("mlp_f64.npz");
    let err = StateDict::<f32>::load_npz(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "read_npy: {}: entry \"0.weight\": holds float64 data, expected float32",
            path.display()
        )
    );
    let err = StateDict::<f32>::load_npz(fixture("mixed_f32_f64.npz"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("entry \"b\": holds float64"), "{err}");
}

#[test]
fn int64_entries_are_buffers() {
    // np.savez(path, weight=f32["2.bias"], num_batches_tracked=np.int64(5))
    let sd = StateDict::<f32>::load_npz(fixture("with_int64_buffer.npz")).unwrap();
    assert_eq!(sd.names().collect::<Vec<_>>(), ["weight", "num_batches_tracked"]);
    let count = sd.get_int("num_batches_tracked").unwrap();
    assert_eq!((count.shape(), count.to_vec()), (&[][..], vec![5]));
    assert_eq!(sd.get("weight").unwrap().to_vec(), expected("2.bias").1);
    assert_eq!(
        StateDict::<f32>::from_npz_bytes(&sd.to_npz_bytes().unwrap()).unwrap(),
        sd
    );
}

#[test]
fn round_trips_are_exact_and_numpy_can_name_every_entry() {
    let model = mlp::<f64>();
    let sd = model.state_dict();
    let bytes = sd.to_npz_bytes().unwrap();
    assert_eq!(StateDict::<f64>::from_npz_bytes(&bytes).unwrap(), sd);
    // numpy.load finds each array under its name + ".npy", stored uncompressed.
    for name in NAMES {
        let member = format!("{name}.npy");
        assert!(bytes.windows(member.len()).any(|w| w == member.as_bytes()), "{member}");
    }
    let dir = std::env::temp_dir().join(format!("ferrograd-npz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f32_sd: StateDict<f32> = [("w".to_string(), Tensor::from_vec(vec![0.1f32, f32::NAN], &[2]).unwrap())]
        .into_iter()
        .collect();
    f32_sd.save_npz(dir.join("w.npz")).unwrap();
    let back = StateDict::<f32>::load_npz(dir.join("w.npz")).unwrap();
    let bits: Vec<u32> = back.get("w").unwrap().to_vec().iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0.1f32.to_bits(), f32::NAN.to_bits()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_and_corrupt_archives_are_errors_and_leave_the_model_unchanged() {
    let whole = std::fs::read(fixture("mlp_f32.npz")).unwrap();
    let compressed = std::fs::read(fixture("mlp_f32_compressed.npz")).unwrap();
    let model = mlp::<f32>();
    let before = model.state_dict();
    for file in [&whole, &compressed] {
        for len in 0..file.len() {
            let err = StateDict::<f32>::from_npz_bytes(&file[..len]).unwrap_err().to_string();
            assert!(err.contains("<bytes>"), "{len}: {err}");
        }
        // Every single byte flipped: an error or a state dict, never a panic; a load of what
        // was read either works or leaves the model as it was.
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0xff;
            if let Ok(sd) = StateDict::<f32>::from_npz_bytes(&bad) {
                if model.load_state_dict(&sd).is_err() {
                    assert_eq!(model.state_dict(), before);
                }
                model.load_state_dict(&before).unwrap();
            }
        }
    }
    let err = StateDict::<f32>::from_npz_bytes(b"PK\x03\x04 not really")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("load_npz: <bytes>: not a .npz (zip) archive"), "{err}");
}

#[test]
fn an_archive_declaring_more_entries_than_it_can_hold_is_refused_before_any_allocation() {
    // NumPy's archive with its end-of-central-directory record claiming 25,856 entries (the
    // zip crate would reserve about 5 MB for them; found by the stable fuzzer).
    let mut file = std::fs::read(fixture("mlp_f32.npz")).unwrap();
    let eocd = file.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    file[eocd + 8..eocd + 12].copy_from_slice(&[0, 0x65, 0, 0x65]);
    let err = StateDict::<f32>::from_npz_bytes(&file).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "load_npz: <bytes>: the archive declares 25856 entries, more than its {} bytes can describe",
            file.len()
        )
    );
}
