//! NumPy's `.npy` files: [`Tensor`] (`float32`, `float64`) and [`IndexTensor`] (`int64`)
//! written as `numpy.save` writes them and read from what it writes, with the `ndarray-npy`
//! crate. `numpy.load` reads what [`Tensor::write_npy`] writes; [`Tensor::read_npy`] reads
//! C- and Fortran-ordered arrays of either byte order.
//!
//! A file is checked before its data is read: the magic string, the version, a header of at
//! most [`MAX_HEADER_LEN`] bytes, a known dtype, and a shape whose bytes the file really
//! holds. Nothing is allocated from a size the file declares; a truncated or malformed file is
//! an [`Error::Format`] naming the file and what is wrong.
//!
//! ```
//! use ferrograd_tensor::{IndexTensor, Tensor};
//! use ferrograd_tensor::npy::NpyArray;
//!
//! let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.25, 0.0], &[2, 2])?;
//! let bytes = t.to_npy_bytes()?; // what numpy.save writes for np.float32 data
//! assert_eq!(Tensor::<f32>::from_npy_bytes(&bytes)?, t);
//! assert!(Tensor::<f64>::from_npy_bytes(&bytes).is_err()); // float32 data, not float64
//! assert!(matches!(NpyArray::from_npy_bytes(&bytes)?, NpyArray::F32(_)));
//!
//! let i = IndexTensor::from_slice(&[3, -1, 7]);
//! assert_eq!(IndexTensor::from_npy_bytes(&i.to_npy_bytes()?)?, i);
//!
//! let err = Tensor::<f32>::from_npy_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
//! assert!(err.to_string().contains("needs 16 bytes of data, the file holds 15"), "{err}");
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, ReadableElement, WriteNpyExt};
use num_traits::ToPrimitive;
use py_literal::Value;

use crate::tensor::checked_shape;
use crate::{DType, Error, Float, IndexTensor, Result, Shape, Tensor};

/// The longest header read, in bytes: `numpy.load`'s own default limit (`max_header_size`).
pub const MAX_HEADER_LEN: usize = 10_000;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
const READ: &str = "read_npy";
const WRITE: &str = "write_npy";

/// The element types of the `.npy` files ferrograd reads and writes, named as in NumPy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NpyDType {
    /// `float32` (`'<f4'`), the element type of a `Tensor<f32>`.
    F32,
    /// `float64` (`'<f8'`), the element type of a `Tensor<f64>`.
    F64,
    /// `int64` (`'<i8'`), the element type of an [`IndexTensor`].
    I64,
}

impl NpyDType {
    /// The bytes of one element.
    pub fn size(self) -> usize {
        match self {
            NpyDType::F32 => 4,
            NpyDType::F64 | NpyDType::I64 => 8,
        }
    }

    /// The `.npy` type of a float tensor's elements.
    pub fn of(dtype: DType) -> Self {
        match dtype {
            DType::F32 => NpyDType::F32,
            DType::F64 => NpyDType::F64,
        }
    }

    /// The type of a header's `descr` (`'<f4'`, `'>f8'`, ...), if ferrograd reads it.
    fn from_descr(descr: &str) -> Option<Self> {
        match descr {
            "<f4" | ">f4" => Some(NpyDType::F32),
            "<f8" | ">f8" => Some(NpyDType::F64),
            "<i8" | ">i8" => Some(NpyDType::I64),
            _ => None,
        }
    }
}

impl fmt::Display for NpyDType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NpyDType::F32 => "float32",
            NpyDType::F64 => "float64",
            NpyDType::I64 => "int64",
        })
    }
}

/// An array read from a `.npy` file, of whichever element type the file holds: what a reader
/// of files with several types (an `.npz` archive) dispatches on.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// `float32` data.
    F32(Tensor<f32>),
    /// `float64` data.
    F64(Tensor<f64>),
    /// `int64` data.
    I64(IndexTensor),
}

impl NpyArray {
    /// The element type.
    pub fn dtype(&self) -> NpyDType {
        match self {
            NpyArray::F32(_) => NpyDType::F32,
            NpyArray::F64(_) => NpyDType::F64,
            NpyArray::I64(_) => NpyDType::I64,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            NpyArray::F32(t) => t.shape(),
            NpyArray::F64(t) => t.shape(),
            NpyArray::I64(t) => t.shape(),
        }
    }

    /// The float tensor of element type `T`, or an error naming `source` and both types.
    pub fn into_tensor<T: Float>(self, source: &str) -> Result<Tensor<T>> {
        let cast = |t: ArrayD<f64>| Tensor::from_array(t.mapv(T::of));
        match self {
            NpyArray::F32(t) if T::DTYPE == DType::F32 => Ok(cast(t.into_array().mapv(f64::from))),
            NpyArray::F64(t) if T::DTYPE == DType::F64 => Ok(cast(t.into_array())),
            other => Err(Error::format(
                READ,
                format!("{source}: holds {} data, expected {}", other.dtype(), T::DTYPE),
            )),
        }
    }

    /// Reads a `.npy` file's bytes.
    pub fn from_npy_bytes(bytes: &[u8]) -> Result<Self> {
        Self::read_from(bytes, "<bytes>")
    }

    /// Reads a `.npy` file.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| io_error(READ, path, e))?;
        Self::read_from(std::io::BufReader::new(file), &path.display().to_string())
    }

    /// Reads a `.npy` file from `reader` (a file, a member of an archive), checking it as it
    /// goes: nothing is allocated beyond what `reader` really gives. `source` names it in
    /// errors.
    pub fn read_from(reader: impl Read, source: &str) -> Result<Self> {
        let (dtype, bytes) = read_checked(reader).map_err(|m| Error::format(READ, format!("{source}: {m}")))?;
        let fail = |e: ndarray_npy::ReadNpyError| Error::format(READ, format!("{source}: {e}"));
        Ok(match dtype {
            NpyDType::F32 => NpyArray::F32(Tensor::from_array(decode::<f32>(&bytes).map_err(fail)?)),
            NpyDType::F64 => NpyArray::F64(Tensor::from_array(decode::<f64>(&bytes).map_err(fail)?)),
            NpyDType::I64 => NpyArray::I64(IndexTensor::from_array(decode::<i64>(&bytes).map_err(fail)?)),
        })
    }

    /// The `.npy` file of this array, as `numpy.save` writes it (format 1.0, C order,
    /// little-endian).
    pub fn to_npy_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Writes the `.npy` file of this array to `writer`.
    pub fn write_to(&self, writer: impl Write) -> Result<()> {
        let written = match self {
            NpyArray::F32(t) => t.array().write_npy(writer),
            NpyArray::F64(t) => t.array().write_npy(writer),
            NpyArray::I64(t) => t.array().write_npy(writer),
        };
        written.map_err(|e| Error::format(WRITE, e.to_string()))
    }
}

impl<T: Float> Tensor<T> {
    /// Reads a `.npy` file of this tensor's element type (`float32` for `Tensor<f32>`,
    /// `float64` for `Tensor<f64>`), as `numpy.save` writes it. A file of another type, or a
    /// truncated or malformed one, is an error naming the file.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        NpyArray::read_npy(path)?.into_tensor(&path.display().to_string())
    }

    /// Reads a `.npy` file's bytes (see [`read_npy`](Tensor::read_npy)).
    pub fn from_npy_bytes(bytes: &[u8]) -> Result<Self> {
        NpyArray::from_npy_bytes(bytes)?.into_tensor("<bytes>")
    }

    /// Writes this tensor as a `.npy` file that `numpy.load` reads.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_npy_bytes()?)
    }

    /// The `.npy` file of this tensor, as bytes.
    pub fn to_npy_bytes(&self) -> Result<Vec<u8>> {
        let array = match T::DTYPE {
            DType::F32 => NpyArray::F32(Tensor::from_array(self.array().mapv(|v| v.f64() as f32))),
            DType::F64 => NpyArray::F64(Tensor::from_array(self.array().mapv(|v| v.f64()))),
        };
        array.to_npy_bytes()
    }
}

impl IndexTensor {
    /// Reads an `int64` `.npy` file, as `numpy.save` writes an array of indices.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        into_index(NpyArray::read_npy(path)?, &path.display().to_string())
    }

    /// Reads an `int64` `.npy` file's bytes.
    pub fn from_npy_bytes(bytes: &[u8]) -> Result<Self> {
        into_index(NpyArray::from_npy_bytes(bytes)?, "<bytes>")
    }

    /// Writes this tensor as an `int64` `.npy` file that `numpy.load` reads.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_npy_bytes()?)
    }

    /// The `int64` `.npy` file of this tensor, as bytes.
    pub fn to_npy_bytes(&self) -> Result<Vec<u8>> {
        NpyArray::I64(self.clone()).to_npy_bytes()
    }
}

fn into_index(array: NpyArray, source: &str) -> Result<IndexTensor> {
    match array {
        NpyArray::I64(t) => Ok(t),
        other => Err(Error::format(
            READ,
            format!("{source}: holds {} data, expected int64", other.dtype()),
        )),
    }
}

fn decode<E: ReadableElement>(bytes: &[u8]) -> std::result::Result<ArrayD<E>, ndarray_npy::ReadNpyError> {
    ArrayD::<E>::read_npy(bytes)
}

fn io_error(op: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| io_error(WRITE, path, e))
}

/// Appends up to `n` bytes of `reader` to `buf`, returning how many came.
fn read_up_to(reader: &mut impl Read, buf: &mut Vec<u8>, n: u64) -> std::result::Result<usize, String> {
    reader.take(n).read_to_end(buf).map_err(|e| format!("cannot read: {e}"))
}

/// Reads a whole `.npy` file from `reader` after checking its header: its dtype and all its
/// bytes, which `ndarray-npy` then decodes. What is read grows with what `reader` gives, never
/// with a size the file declares; the declared sizes must then match what came.
fn read_checked(mut reader: impl Read) -> std::result::Result<(NpyDType, Vec<u8>), String> {
    let mut buf = Vec::new();
    let got = read_up_to(&mut reader, &mut buf, 8)?;
    if got < 8 || &buf[..6] != MAGIC {
        return Err(format!(
            "not a .npy file: it does not start with the magic string \\x93NUMPY and a version ({got} bytes)"
        ));
    }
    let len_bytes = match buf[6] {
        1 => 2,
        2 | 3 => 4,
        major => {
            return Err(format!(
                "format version {major}.{} is not one NumPy writes (1.0, 2.0, 3.0)",
                buf[7]
            ))
        }
    };
    if read_up_to(&mut reader, &mut buf, len_bytes)? < len_bytes as usize {
        return Err("truncated in the header length".into());
    }
    let header_len = buf[8..].iter().rev().fold(0usize, |acc, &b| (acc << 8) | b as usize);
    if header_len > MAX_HEADER_LEN {
        return Err(format!(
            "the header length {header_len} is above the {MAX_HEADER_LEN} bytes numpy.load reads"
        ));
    }
    let start = buf.len();
    let got = read_up_to(&mut reader, &mut buf, header_len as u64)?;
    if got < header_len {
        return Err(format!(
            "truncated: the header has {header_len} bytes, the file ends after {got}"
        ));
    }
    let (dtype, shape) = parse_header(&buf[start..])?;
    let data_len = checked_shape(READ, &shape)
        .ok()
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| format!("shape {} is too large", Shape(shape.clone())))?;
    let got = read_up_to(&mut reader, &mut buf, data_len as u64 + 1)?;
    if got < data_len {
        return Err(format!(
            "truncated: shape {} of {dtype} needs {data_len} bytes of data, the file holds {got}",
            Shape(shape)
        ));
    }
    if got > data_len {
        return Err(format!(
            "the file goes on after the {data_len} bytes of data of shape {} of {dtype}",
            Shape(shape)
        ));
    }
    Ok((dtype, buf))
}

/// The dtype and shape of a header: a Python dict `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (2, 3), }`, padded with spaces and ended by a newline.
fn parse_header(header: &[u8]) -> std::result::Result<(NpyDType, Vec<usize>), String> {
    let text = std::str::from_utf8(header).map_err(|e| format!("the header is not UTF-8: {e}"))?;
    let value: Value = text
        .trim_end()
        .parse()
        .map_err(|e| format!("the header is not a Python literal: {e}"))?;
    let Value::Dict(entries) = value else {
        return Err(format!("the header is not a dict: {text:?}"));
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, Value::String(s) if s == key))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the header has no {key:?}"))
    };
    let dtype = match get("descr")? {
        Value::String(d) => NpyDType::from_descr(d).ok_or_else(|| {
            format!("dtype {d:?} is not one ferrograd reads ('<f4' float32, '<f8' float64, '<i8' int64, or '>' for big-endian)")
        })?,
        other => return Err(format!("descr {other:?} is not a simple dtype")),
    };
    if !matches!(get("fortran_order")?, Value::Boolean(_)) {
        return Err("fortran_order is not True or False".into());
    }
    let (Value::Tuple(dims) | Value::List(dims)) = get("shape")? else {
        return Err("shape is not a tuple".into());
    };
    let shape = dims
        .iter()
        .map(|d| match d {
            Value::Integer(n) => n.to_usize().ok_or_else(|| format!("shape entry {n} is not a size")),
            other => Err(format!("shape entry {other:?} is not an integer")),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((dtype, shape))
}
