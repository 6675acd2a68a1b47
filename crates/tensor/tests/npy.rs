//! `.npy` files: read what NumPy wrote (tests/fixtures/generate_numpy.py, `npy_files()`),
//! write what NumPy writes, and refuse hostile files with a clear error and no allocation of
//! what they declare.

use ferrograd_tensor::npy::{NpyArray, NpyDType, MAX_HEADER_LEN};
use ferrograd_tensor::{IndexTensor, Tensor};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// `ours` is the file NumPy wrote, `name`, byte for byte but for the header dict's end:
/// NumPy writes `(2, 3), }`, ndarray-npy `(2, 3)}` and one more space of padding.
fn assert_same_file(ours: Vec<u8>, name: &str) {
    let numpy = bytes(name);
    assert_eq!(ours.len(), numpy.len(), "{name}: same length");
    let header_end = 10 + u16::from_le_bytes([numpy[8], numpy[9]]) as usize;
    assert_eq!(ours[..10], numpy[..10], "{name}: magic, version, header length");
    assert_eq!(ours[header_end..], numpy[header_end..], "{name}: data");
    let dict = |b: &[u8]| {
        String::from_utf8(b[10..header_end].to_vec())
            .unwrap()
            .replace(", }", "}")
            .trim_end()
            .to_string()
    };
    assert_eq!(dict(&ours), dict(&numpy), "{name}: header");
}

/// a = (np.arange(6, dtype=np.float32).reshape(2, 3) / 8 - 0.25).astype(np.float32)
const A: [f32; 6] = [-0.25, -0.125, 0.0, 0.125, 0.25, 0.375];

#[test]
fn reads_numpys_float32_and_writes_the_same_file() {
    let t = Tensor::<f32>::read_npy(fixture("f32_2x3.npy")).unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    assert_eq!(t.to_vec(), A);
    // np.save(path, a): ferrograd writes the same header and data.
    assert_same_file(t.to_npy_bytes().unwrap(), "f32_2x3.npy");
}

#[test]
fn every_float32_bit_pattern_survives() {
    // np.array([0.1, -0.0, 1e-45, np.inf, -np.inf, np.nan], dtype=np.float32)
    let t = Tensor::<f32>::read_npy(fixture("f32_special.npy")).unwrap();
    let bits: Vec<u32> = t.to_vec().iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [
            0x3dcc_cccd,
            0x8000_0000,
            0x0000_0001,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000
        ]
    );
    assert_same_file(t.to_npy_bytes().unwrap(), "f32_special.npy");
}

#[test]
fn reads_float64_in_c_and_fortran_order() {
    // a.astype(np.float64) + 0.1, saved as it is and as np.asfortranarray(...)
    let want: Vec<f64> = A.iter().map(|&v| v as f64 + 0.1).collect();
    let c = Tensor::<f64>::read_npy(fixture("f64_2x3.npy")).unwrap();
    let f = Tensor::<f64>::read_npy(fixture("f64_fortran_2x3.npy")).unwrap();
    assert_eq!(c.to_vec(), want);
    assert_eq!(f.to_vec(), want, "Fortran order gives the same logical elements");
    assert_eq!(f.shape(), &[2, 3]);
    assert_same_file(c.to_npy_bytes().unwrap(), "f64_2x3.npy");
}

#[test]
fn reads_big_endian_scalars_and_empty_arrays() {
    // a.astype(">f4")
    assert_eq!(
        Tensor::<f32>::read_npy(fixture("f32_big_endian_2x3.npy"))
            .unwrap()
            .to_vec(),
        A
    );
    // np.float64(2.5): a 0-d array
    let s = Tensor::<f64>::read_npy(fixture("f64_scalar.npy")).unwrap();
    assert_eq!((s.shape().len(), s.to_vec()), (0, vec![2.5]));
    assert_same_file(s.to_npy_bytes().unwrap(), "f64_scalar.npy");
    // np.zeros((0, 3), dtype=np.float32)
    let e = Tensor::<f32>::read_npy(fixture("f32_empty_0x3.npy")).unwrap();
    assert_eq!(e.shape(), &[0, 3]);
    assert_same_file(e.to_npy_bytes().unwrap(), "f32_empty_0x3.npy");
}

#[test]
fn reads_and_writes_int64_indices() {
    // np.array([3, -1, 7, 2**62], dtype=np.int64)
    let i = IndexTensor::read_npy(fixture("i64_indices.npy")).unwrap();
    assert_eq!(i.to_vec(), [3, -1, 7, 1 << 62]);
    assert_same_file(i.to_npy_bytes().unwrap(), "i64_indices.npy");
}

#[test]
fn a_file_of_another_type_is_an_error_naming_both() {
    let path = fixture("f64_2x3.npy");
    let err = Tensor::<f32>::read_npy(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("read_npy: {}: holds float64 data, expected float32", path.display())
    );
    let err = IndexTensor::from_npy_bytes(&bytes("f32_2x3.npy"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "read_npy: <bytes>: holds float32 data, expected int64");
    // np.array([1, 2], dtype=np.int32)
    let err = NpyArray::from_npy_bytes(&bytes("i32_unsupported.npy"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("dtype \"<i4\" is not one ferrograd reads"), "{err}");
}

#[test]
fn round_trips_through_files() {
    let dir = std::env::temp_dir().join(format!("ferrograd-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = Tensor::from_vec(vec![1.0f64, -2.5, 1e300, f64::MIN_POSITIVE], &[2, 1, 2]).unwrap();
    t.write_npy(dir.join("t.npy")).unwrap();
    assert_eq!(Tensor::<f64>::read_npy(dir.join("t.npy")).unwrap(), t);
    let a = NpyArray::read_npy(dir.join("t.npy")).unwrap();
    assert_eq!((a.dtype(), a.shape()), (NpyDType::F64, &[2usize, 1, 2][..]));
    let missing = Tensor::<f32>::read_npy(dir.join("missing.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("read_npy: ") && missing.contains("missing.npy"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A version 1.0 `.npy` file with this header dict (padded as NumPy pads it) and data.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header);
    out.extend(data);
    out
}

fn error(bytes: &[u8]) -> String {
    NpyArray::from_npy_bytes(bytes).unwrap_err().to_string()
}

#[test]
fn truncated_files_are_errors_at_every_length() {
    let whole = bytes("f32_2x3.npy");
    for len in 0..whole.len() {
        let err = error(&whole[..len]);
        assert!(err.starts_with("read_npy: <bytes>: "), "{len}: {err}");
    }
    assert_eq!(
        error(&whole[..whole.len() - 1]),
        "read_npy: <bytes>: truncated: shape [2, 3] of float32 needs 24 bytes of data, the file holds 23"
    );
    let mut longer = whole.clone();
    longer.push(0);
    assert!(error(&longer).contains("the file goes on after the 24 bytes of data"));
}

#[test]
fn huge_declared_shapes_are_errors_without_allocating_them() {
    // 2^40 float32 = 4 TiB declared, 8 bytes present: the check comes before any allocation
    // (an allocation of 4 TiB would abort the test process).
    let err = error(&npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
        &[0; 8],
    ));
    assert!(
        err.contains("needs 4398046511104 bytes of data, the file holds 8"),
        "{err}"
    );
    let err = error(&npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
        &[],
    ));
    assert!(err.contains("too large"), "{err}");
    let err = error(&npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 18446744073709551615, 2), }",
        &[],
    ));
    assert!(err.contains("too large"), "{err}");
    let err = error(&npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", &[]));
    assert!(err.contains("shape entry -1 is not a size"), "{err}");
}

#[test]
fn malformed_headers_are_errors_that_say_what_is_wrong() {
    let cases = [
        (b"not numpy at all".to_vec(), "not a .npy file"),
        (b"\x93NUMPY\x07\x00\x00\x00".to_vec(), "format version 7.0"),
        (
            npy("{'descr': '<f4', 'shape': (2,), }", &[0; 8]),
            "no \"fortran_order\"",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False, }", &[0; 8]),
            "no \"shape\"",
        ),
        (
            npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
            "dtype \"<c8\"",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", &[0; 8]),
            "fortran_order is not",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", &[0; 8]),
            "shape is not a tuple",
        ),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", &[0; 8]),
            "not an integer",
        ),
        (npy("[1, 2, 3]", &[]), "not a dict"),
        (
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", &[0; 8]),
            "not a Python literal",
        ),
    ];
    for (file, want) in cases {
        let err = error(&file);
        assert!(err.contains(want), "{want:?} not in {err:?}");
    }
    // A header longer than numpy.load reads (version 2.0, 4-byte length) is refused before
    // it is read, whatever length it declares.
    let mut file = b"\x93NUMPY\x02\x00".to_vec();
    file.extend(u32::MAX.to_le_bytes());
    assert!(error(&file).contains(&format!("above the {MAX_HEADER_LEN} bytes")));
}
