//! NumPy `.npz` archives of a [`StateDict`]: one `.npy` member per entry (float32 or float64
//! as the state dict, int64 for integer buffers), named as in the state dict
//! (`0.weight.npy`), as `numpy.savez(path, **state)` writes them, so that
//! `numpy.load(path)["0.weight"]` reads a ferrograd checkpoint and ferrograd reads archives
//! from `numpy.savez` and `numpy.savez_compressed`.
//!
//! Each member goes through the checked `.npy` reader of `ferrograd_tensor::npy`: a member
//! is read only as far as its own header says, and a truncated or hostile archive is an
//! error naming the archive and the member.

use std::io::Cursor;
use std::path::Path;

use ferrograd_tensor::npy::NpyArray;
use ferrograd_tensor::{DType, Error, Float, Result, Tensor};
use zip::ZipArchive;

use super::{read_file, write_file};
use crate::{StateDict, StateValue};

const LOAD: &str = "load_npz";
const SAVE: &str = "save_npz";

/// What an archive member becomes in a state dict of element type `T`: a float tensor of
/// `T`, or an int64 buffer (BatchNorm's `num_batches_tracked`).
fn entry<T: Float>(source: &str, name: &str, array: NpyArray) -> Result<StateValue<T>> {
    match array {
        NpyArray::I64(t) => Ok(StateValue::Int(t)),
        float => Ok(StateValue::Float(
            float.into_tensor(&format!("{source}: entry \"{name}\""))?,
        )),
    }
}

/// The `.npy` member of a state dict entry, in the element type of `T` or int64.
fn member<T: Float>(value: &StateValue<T>) -> NpyArray {
    match value {
        StateValue::Int(t) => NpyArray::I64(t.clone()),
        StateValue::Float(t) => match T::DTYPE {
            DType::F32 => NpyArray::F32(Tensor::from_array(t.array().mapv(|v| v.f64() as f32))),
            DType::F64 => NpyArray::F64(Tensor::from_array(t.array().mapv(|v| v.f64()))),
        },
    }
}

impl<T: Float> StateDict<T> {
    /// The `.npz` archive of this state dict (uncompressed, as `numpy.savez` writes), as
    /// bytes.
    pub fn to_npz_bytes(&self) -> Result<Vec<u8>> {
        let fail = |e: zip::result::ZipError| Error::format(SAVE, e.to_string());
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        for (name, t) in self.iter() {
            zip.start_file(format!("{name}.npy"), options).map_err(fail)?;
            member(t).write_to(&mut zip)?;
        }
        Ok(zip.finish().map_err(fail)?.into_inner())
    }

    /// Writes this state dict as an `.npz` archive that `numpy.load` reads.
    pub fn save_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(SAVE, path.as_ref(), &self.to_npz_bytes()?)
    }

    /// Reads an `.npz` archive's bytes (see [`load_npz`](StateDict::load_npz)).
    pub fn from_npz_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_npz("<bytes>", bytes)
    }

    /// Reads an `.npz` archive (from `numpy.savez` or `numpy.savez_compressed`) whose float
    /// arrays all have this state dict's element type (int64 arrays become buffers), in the
    /// archive's order. A truncated, corrupt
    /// or mismatched archive is an error naming the file and, where there is one, the entry
    /// at fault.
    pub fn load_npz(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_npz(&path.display().to_string(), &read_file(LOAD, path)?)
    }

    fn from_npz(source: &str, bytes: &[u8]) -> Result<Self> {
        let fail = |message: String| Error::format(LOAD, format!("{source}: {message}"));
        check_entry_counts(bytes).map_err(fail)?;
        let mut archive =
            ZipArchive::new(Cursor::new(bytes)).map_err(|e| fail(format!("not a .npz (zip) archive: {e}")))?;
        let mut out = Self::new();
        for i in 0..archive.len() {
            let file = archive.by_index(i).map_err(|e| fail(format!("member {i}: {e}")))?;
            let Some(name) = file.name().strip_suffix(".npy").map(str::to_string) else {
                return Err(fail(format!("member \"{}\" is not a .npy file", file.name())));
            };
            if out.value(&name).is_some() {
                return Err(fail(format!("entry \"{name}\" appears twice")));
            }
            let array = NpyArray::read_from(file, &format!("{source}: entry \"{name}\""))?;
            let tensor = entry(source, &name, array)?;
            out.insert(name, tensor);
        }
        Ok(out)
    }
}

/// The smallest central-directory record of a zip entry, in bytes.
const CENTRAL_RECORD: u64 = 46;

/// Refuses an archive whose end-of-central-directory records declare more entries than its
/// bytes can describe: the zip crate reserves memory for the declared count before reading
/// any entry. Every candidate the zip crate may try is checked: a classic record
/// (`PK\x05\x06`, counts at bytes 8 and 10) whose comment fits in the file, and a zip64 record
/// (`PK\x06\x06`, counts at bytes 24 and 32), wherever they appear.
fn check_entry_counts(bytes: &[u8]) -> std::result::Result<(), String> {
    let le = |at: usize, n: usize| {
        bytes
            .get(at..at + n)
            .map_or(0, |b| b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    };
    let len = bytes.len() as u64;
    for at in (0..bytes.len().saturating_sub(3)).filter(|&i| bytes[i..i + 2] == *b"PK") {
        let declared = match bytes[at + 2..at + 4] {
            [5, 6] if at as u64 + 22 + le(at + 20, 2) <= len => le(at + 8, 2).max(le(at + 10, 2)),
            [6, 6] => le(at + 24, 8).max(le(at + 32, 8)),
            _ => continue,
        };
        if declared.saturating_mul(CENTRAL_RECORD) > len {
            return Err(format!(
                "the archive declares {declared} entries, more than its {len} bytes can describe"
            ));
        }
    }
    Ok(())
}
