//! Safetensors files of a [`StateDict`], read and written with the `safetensors` crate:
//! little-endian `F32` / `F64` data (and `I64` for int64 buffers such as
//! `num_batches_tracked`) under PyTorch's names, with `{"format": "pt"}` metadata, so that
//! `safetensors.torch.load_file` reads them and ferrograd reads its `save_file`'s.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ferrograd_tensor::{checked_numel, DType, Error, Float, IndexTensor, Result, Shape, Tensor};
use safetensors::tensor::{Dtype, TensorInfo, TensorView};
use safetensors::SafeTensors;

use super::{read_file, write_file};
use crate::{StateDict, StateValue};

/// The bytes before the header: its length, a little-endian `u64`.
const LEN_BYTES: usize = 8;

fn dtype<T: Float>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

fn to_le_bytes<T: Float>(value: &StateValue<T>) -> (Dtype, Vec<u8>) {
    match value {
        StateValue::Int(t) => (Dtype::I64, t.to_vec().into_iter().flat_map(i64::to_le_bytes).collect()),
        StateValue::Float(t) => {
            let values = t.to_vec().into_iter();
            let bytes = match T::DTYPE {
                DType::F32 => values.flat_map(|v| (v.f64() as f32).to_le_bytes()).collect(),
                DType::F64 => values.flat_map(|v| v.f64().to_le_bytes()).collect(),
            };
            (dtype::<T>(), bytes)
        }
    }
}

fn from_le_bytes<T: Float>(bytes: &[u8]) -> Vec<T> {
    match T::DTYPE {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|b| T::of(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|b| T::of(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
            .collect(),
    }
}

impl<T: Float> StateDict<T> {
    /// The safetensors file of this state dict, as bytes.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let data: Vec<_> = self
            .iter()
            .map(|(name, t)| (name, t.shape().to_vec(), to_le_bytes(t)))
            .collect();
        let views = data
            .iter()
            .map(|(name, shape, (dtype, bytes))| TensorView::new(*dtype, shape.clone(), bytes).map(|v| (*name, v)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::format("save_safetensors", e.to_string()))?;
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(views, Some(metadata)).map_err(|e| Error::format("save_safetensors", e.to_string()))
    }

    /// Reads a safetensors file's bytes (see [`load_safetensors`](StateDict::load_safetensors)).
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_safetensors("<bytes>", bytes)
    }

    /// Writes a safetensors file.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file("save_safetensors", path.as_ref(), &self.to_safetensors_bytes()?)
    }

    /// Reads a safetensors file whose float tensors are all of this state dict's dtype (and
    /// any others int64), in the file's order. A truncated, corrupt or mismatched file is an error naming the file and,
    /// where there is one, the tensor at fault.
    pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_safetensors(&path.display().to_string(), &read_file("load_safetensors", path)?)
    }

    fn from_safetensors(source: &str, bytes: &[u8]) -> Result<Self> {
        let fail = |message: String| Error::format("load_safetensors", format!("{source}: {message}"));
        check_tensors::<T>(bytes).map_err(fail)?;
        let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| fail(e.to_string()))?;
        let data = &bytes[LEN_BYTES + header_len..];
        let mut out = Self::new();
        for name in metadata.offset_keys() {
            let info = metadata.info(&name).expect("a listed name");
            let bytes = &data[info.data_offsets.0..info.data_offsets.1];
            if info.dtype == Dtype::I64 {
                let values = bytes
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect();
                out.insert(name, IndexTensor::from_vec(values, &info.shape)?);
            } else {
                out.insert(name, Tensor::from_vec(from_le_bytes(bytes), &info.shape)?);
            }
        }
        Ok(out)
    }
}

/// The checks the crate's own parse does not make, or makes without naming the tensor:
/// every tensor has this state dict's dtype, and its declared shape, byte count and data
/// offsets agree and lie inside the file. Nothing is allocated from a declared size here,
/// and once this passes the crate's arithmetic on offsets cannot overflow.
fn check_tensors<T: Float>(bytes: &[u8]) -> std::result::Result<(), String> {
    let len = bytes
        .get(..LEN_BYTES)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| format!("the file has {} bytes, fewer than the header length's 8", bytes.len()))?;
    let header = usize::try_from(len)
        .ok()
        .and_then(|n| bytes.get(LEN_BYTES..LEN_BYTES.checked_add(n)?))
        .ok_or_else(|| {
            format!(
                "the header length {len} goes past the end of the file ({} bytes)",
                bytes.len()
            )
        })?;
    let data_len = bytes.len() - LEN_BYTES - header.len();
    let header = std::str::from_utf8(header).map_err(|e| format!("the header is not UTF-8: {e}"))?;
    let entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(header).map_err(|e| format!("the header is not a JSON object: {e}"))?;
    for (name, entry) in entries.into_iter().filter(|(name, _)| name != "__metadata__") {
        let info: TensorInfo = serde_json::from_value(entry).map_err(|e| format!("tensor \"{name}\": {e}"))?;
        if info.dtype != dtype::<T>() && info.dtype != Dtype::I64 {
            return Err(format!(
                "tensor \"{name}\" is {:?}, expected {:?} ({}) or I64",
                info.dtype,
                dtype::<T>(),
                T::DTYPE
            ));
        }
        let element = if info.dtype == Dtype::I64 {
            8
        } else {
            std::mem::size_of::<T>()
        };
        let size = checked_numel("load_safetensors", &info.shape)
            .ok()
            .and_then(|n| n.checked_mul(element))
            .ok_or_else(|| format!("tensor \"{name}\": shape {} is too large", Shape(info.shape.clone())))?;
        let (start, end) = info.data_offsets;
        if start > end || end > data_len {
            return Err(format!(
                "tensor \"{name}\": data offsets [{start}, {end}] lie outside the {data_len} bytes of data"
            ));
        }
        if end - start != size {
            return Err(format!(
                "tensor \"{name}\": shape {} needs {size} bytes, its data offsets [{start}, {end}] hold {}",
                Shape(info.shape),
                end - start
            ));
        }
    }
    Ok(())
}
