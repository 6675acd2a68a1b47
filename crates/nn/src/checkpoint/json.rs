//! JSON files of a [`StateDict`]: `{"format": "ferrograd-state-dict", "dtype": "float32",
//! "tensors": {name: {"shape": [...], "data": [...]}}}`, names in the model's order, data flat
//! in row-major order, non-finite values as the strings `"inf"`, `"-inf"`, `"nan"`. Numbers
//! are written as the shortest `f64` that reads back exactly (for `f32`, its exact double).
//! An int64 buffer (`num_batches_tracked`) carries `"dtype": "int64"` in its own record.

use std::fmt;
use std::path::Path;

use ferrograd_tensor::{checked_numel, Error, Float, IndexTensor, Result, Shape, Tensor};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{read_file, write_file};
use crate::{StateDict, StateValue};

const FORMAT: &str = "ferrograd-state-dict";

impl<T: Float> StateDict<T> {
    /// The JSON text of this state dict.
    pub fn to_json_string(&self) -> String {
        let doc = Document {
            format: FORMAT.into(),
            dtype: T::DTYPE.name().into(),
            tensors: Records(self.iter().map(|(n, t)| (n.to_string(), Record::of(t))).collect()),
        };
        serde_json::to_string(&doc).expect("a state dict always serialises")
    }

    /// Reads JSON text written by [`to_json_string`](StateDict::to_json_string); the dtype must
    /// be this state dict's.
    pub fn from_json_str(text: &str) -> Result<Self> {
        Self::from_json("<string>", text.as_bytes())
    }

    /// Writes the JSON file.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file("save_json", path.as_ref(), self.to_json_string().as_bytes())
    }

    /// Reads a JSON file written by [`save_json`](StateDict::save_json); any fault of the file
    /// is an error naming the file and, where there is one, the tensor.
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json(&path.display().to_string(), &read_file("load_json", path)?)
    }

    fn from_json(source: &str, bytes: &[u8]) -> Result<Self> {
        let fail = |message: String| Error::format("load_json", format!("{source}: {message}"));
        let doc: Document = serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
        if doc.format != FORMAT {
            return Err(fail(format!("format is \"{}\", expected \"{FORMAT}\"", doc.format)));
        }
        if doc.dtype != T::DTYPE.name() {
            return Err(fail(format!(
                "the tensors are {}, expected {}",
                doc.dtype,
                T::DTYPE.name()
            )));
        }
        let mut out = Self::new();
        for (name, record) in doc.tensors.0 {
            let numel = checked_numel("load_json", &record.shape)
                .map_err(|_| fail(format!("tensor \"{name}\": shape {:?} is too large", record.shape)))?;
            if numel != record.data.len() {
                return Err(fail(format!(
                    "tensor \"{name}\": shape {} needs {numel} values, the file has {}",
                    Shape(record.shape),
                    record.data.len()
                )));
            }
            if let Some(dtype) = &record.dtype {
                if dtype != "int64" {
                    return Err(fail(format!(
                        "tensor \"{name}\": dtype \"{dtype}\", expected \"int64\" or none"
                    )));
                }
                let ints = record.data.iter().map(|v| v.0).enumerate().map(|(i, v)| {
                    // Exactly representable integers only: |v| < 2^63 and no fraction.
                    if v.fract() == 0.0 && v.abs() < 2f64.powi(63) {
                        Ok(v as i64)
                    } else {
                        Err(fail(format!("tensor \"{name}\": value {v} at {i} is not an int64")))
                    }
                });
                let ints = ints.collect::<Result<Vec<i64>>>()?;
                out.entries
                    .push((name, StateValue::Int(IndexTensor::from_vec(ints, &record.shape)?)));
                continue;
            }
            let data: Vec<T> = record.data.iter().map(|v| T::of(v.0)).collect();
            if let Some(i) = (0..data.len()).find(|&i| data[i].is_infinite() && record.data[i].0.is_finite()) {
                return Err(fail(format!(
                    "tensor \"{name}\": value {:e} at {i} does not fit in {}",
                    record.data[i].0,
                    T::DTYPE
                )));
            }
            out.entries
                .push((name, StateValue::Float(Tensor::from_vec(data, &record.shape)?)));
        }
        Ok(out)
    }
}

#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    dtype: String,
    tensors: Records,
}

#[derive(Serialize, Deserialize)]
struct Record {
    /// `"int64"` for an int64 entry; absent for the file's float dtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dtype: Option<String>,
    shape: Vec<usize>,
    data: Vec<JsonFloat>,
}

impl Record {
    fn of<T: Float>(value: &StateValue<T>) -> Self {
        let (dtype, data) = match value {
            StateValue::Float(t) => (None, t.to_vec().into_iter().map(|v| JsonFloat(v.f64())).collect()),
            StateValue::Int(t) => (
                Some("int64".to_string()),
                t.to_vec().into_iter().map(|v| JsonFloat(v as f64)).collect(),
            ),
        };
        Self {
            dtype,
            shape: value.shape().to_vec(),
            data,
        }
    }
}

/// The tensors in file order; a repeated name is an error.
struct Records(Vec<(String, Record)>);

impl Serialize for Records {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, record) in &self.0 {
            map.serialize_entry(name, record)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct RecordsVisitor;
        impl<'de> Visitor<'de> for RecordsVisitor {
            type Value = Records;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from tensor names to {\"shape\", \"data\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Records, A::Error> {
                let mut out: Vec<(String, Record)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let record = map
                        .next_value::<Record>()
                        .map_err(|e| de::Error::custom(format!("tensor \"{name}\": {e}")))?;
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom(format!("tensor \"{name}\" appears twice")));
                    }
                    out.push((name, record));
                }
                Ok(Records(out))
            }
        }
        d.deserialize_map(RecordsVisitor)
    }
}

/// A number, or `"inf"`, `"-inf"`, `"nan"` for the values JSON cannot hold.
struct JsonFloat(f64);

impl Serialize for JsonFloat {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("nan"),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }
}

impl<'de> Deserialize<'de> for JsonFloat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct FloatVisitor;
        impl Visitor<'_> for FloatVisitor {
            type Value = JsonFloat;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or \"inf\", \"-inf\", \"nan\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<JsonFloat, E> {
                Ok(JsonFloat(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<JsonFloat, E> {
                Ok(JsonFloat(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<JsonFloat, E> {
                Ok(JsonFloat(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<JsonFloat, E> {
                match v {
                    "inf" => Ok(JsonFloat(f64::INFINITY)),
                    "-inf" => Ok(JsonFloat(f64::NEG_INFINITY)),
                    "nan" => Ok(JsonFloat(f64::NAN)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(FloatVisitor)
    }
}
