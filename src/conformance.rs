//! The cross-entropy conformance runner: reads cases in a JSON file, runs each through
//! [`cross_entropy`](crate::nn::functional::cross_entropy()) and reports loss and gradients
//! in the same format, so anyone can cross-check ferrograd against PyTorch.
//!
//! Case file: `{"cases": [{"name", "dtype": "float32"|"float64", "input": {"shape", "data"},
//! "target_kind": "indices"|"probabilities", "target": {"shape", "data"}, "weight": null|[..],
//! "ignore_index", "reduction", "label_smoothing"}]}`. Output: `{"results": [{"name", "loss",
//! "grad", "target_grad"} | {"name", "error"}]}`, where `grad` is d(sum of loss)/d(input).
//! Numbers are JSON numbers or the strings `"inf"`, `"-inf"`, `"nan"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::autograd::Var;
use crate::nn::functional::{cross_entropy_with, CrossEntropyOptions, Target};
use crate::tensor::{checked_numel, Error, Float, IndexTensor, Result, Tensor};

const OP: &str = "conformance";

/// A number that may be non-finite: a JSON number or `"inf"`, `"-inf"`, `"nan"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Number {
    /// A finite number.
    Finite(f64),
    /// `"inf"`, `"-inf"` or `"nan"`.
    Special(SpecialNumber),
}

/// The non-finite numbers JSON cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SpecialNumber {
    /// Positive infinity, `"inf"`.
    #[serde(rename = "inf")]
    Inf,
    /// Negative infinity, `"-inf"`.
    #[serde(rename = "-inf")]
    NegInf,
    /// Not a number, `"nan"`.
    #[serde(rename = "nan")]
    NaN,
}

impl Number {
    /// The value as `f64`.
    pub fn value(self) -> f64 {
        match self {
            Number::Finite(v) => v,
            Number::Special(SpecialNumber::Inf) => f64::INFINITY,
            Number::Special(SpecialNumber::NegInf) => f64::NEG_INFINITY,
            Number::Special(SpecialNumber::NaN) => f64::NAN,
        }
    }

    /// The JSON form of `v`.
    pub fn from_f64(v: f64) -> Self {
        if v.is_nan() {
            Number::Special(SpecialNumber::NaN)
        } else if v == f64::INFINITY {
            Number::Special(SpecialNumber::Inf)
        } else if v == f64::NEG_INFINITY {
            Number::Special(SpecialNumber::NegInf)
        } else {
            Number::Finite(v)
        }
    }
}

/// A tensor in a case file: a shape and its elements in row-major order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorData<N = Number> {
    /// The size of each dimension.
    pub shape: Vec<usize>,
    /// The elements, in row-major order.
    pub data: Vec<N>,
}

impl TensorData {
    /// The tensor, after checking that the data fills the shape.
    pub fn to_tensor<T: Float>(&self, what: &str) -> Result<Tensor<T>> {
        check_len(what, &self.shape, self.data.len())?;
        Tensor::from_vec(self.data.iter().map(|n| T::of(n.value())).collect(), &self.shape)
    }

    /// The JSON form of a tensor.
    pub fn from_tensor<T: Float>(t: &Tensor<T>) -> Self {
        TensorData {
            shape: t.shape().to_vec(),
            data: t.to_vec().into_iter().map(|v| Number::from_f64(v.f64())).collect(),
        }
    }
}

fn check_len(what: &str, shape: &[usize], len: usize) -> Result<()> {
    let numel = checked_numel(OP, shape)?;
    if numel != len {
        return Err(Error::format(
            OP,
            format!("{what}: shape {shape:?} needs {numel} values but data has {len}"),
        ));
    }
    Ok(())
}

/// One case of a case file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    /// The case's name, repeated in its result.
    pub name: String,
    /// `"float32"` or `"float64"`.
    pub dtype: String,
    /// The logits.
    pub input: TensorData,
    /// `"indices"` (class indices) or `"probabilities"` (class probabilities).
    pub target_kind: String,
    /// The target: integers for indices, numbers for probabilities.
    pub target: TensorData<Value>,
    /// The class weights, `weight=` (none by default).
    #[serde(default)]
    pub weight: Option<Vec<Number>>,
    /// `ignore_index=` (-100 by default).
    #[serde(default = "default_ignore_index")]
    pub ignore_index: i64,
    /// `reduction=`: `"mean"` (the default), `"sum"` or `"none"`.
    #[serde(default = "default_reduction")]
    pub reduction: String,
    /// `label_smoothing=` (0 by default).
    #[serde(default = "default_smoothing")]
    pub label_smoothing: Number,
}

fn default_ignore_index() -> i64 {
    -100
}
fn default_reduction() -> String {
    "mean".into()
}
fn default_smoothing() -> Number {
    Number::Finite(0.0)
}

/// A case file: `{"cases": [...]}` (other top-level keys are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseFile {
    /// The cases, in order.
    pub cases: Vec<Case>,
}

/// What ferrograd computed for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaseResult {
    /// The loss and the gradients.
    Value {
        /// The case's name.
        name: String,
        /// The loss: a 0-d tensor, or the unreduced losses for `reduction="none"`.
        loss: TensorData,
        /// The gradient of the summed loss with respect to the input.
        grad: TensorData,
        /// The gradient with respect to a probability target, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        target_grad: Option<TensorData>,
    },
    /// The error ferrograd returned.
    Error {
        /// The case's name.
        name: String,
        /// The error's message.
        error: String,
    },
}

/// The runner's output: `{"results": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// One result per case, in the case file's order.
    pub results: Vec<CaseResult>,
}

/// Parses a case file, with an error naming the place of any syntax or structure problem.
pub fn parse_cases(text: &str) -> Result<CaseFile> {
    serde_json::from_str(text).map_err(|e| Error::format(OP, format!("invalid case file: {e}")))
}

/// Runs every case; a case ferrograd refuses gives its error message, never a panic.
pub fn run_cases(file: &CaseFile) -> Results {
    Results {
        results: file.cases.iter().map(run_case).collect(),
    }
}

/// Runs one case.
pub fn run_case(case: &Case) -> CaseResult {
    let outcome = match case.dtype.as_str() {
        "float32" => run_typed::<f32>(case),
        "float64" => run_typed::<f64>(case),
        other => Err(Error::format(
            OP,
            format!(
                "case {}: dtype must be \"float32\" or \"float64\", got {other:?}",
                case.name
            ),
        )),
    };
    match outcome {
        Ok((loss, grad, target_grad)) => CaseResult::Value {
            name: case.name.clone(),
            loss,
            grad,
            target_grad,
        },
        Err(e) => CaseResult::Error {
            name: case.name.clone(),
            error: e.to_string(),
        },
    }
}

type Outcome = (TensorData, TensorData, Option<TensorData>);

fn run_typed<T: Float>(case: &Case) -> Result<Outcome> {
    let input = Var::parameter(case.input.to_tensor::<T>("input")?);
    let weight = match &case.weight {
        Some(w) => Some(Tensor::from_vec(
            w.iter().map(|n| T::of(n.value())).collect(),
            &[w.len()],
        )?),
        None => None,
    };
    let options = CrossEntropyOptions {
        weight,
        ignore_index: case.ignore_index,
        reduction: case.reduction.parse()?,
        label_smoothing: case.label_smoothing.value(),
    };
    check_len("target", &case.target.shape, case.target.data.len())?;
    let (loss, target_var) = match case.target_kind.as_str() {
        "indices" => {
            let idx = case
                .target
                .data
                .iter()
                .map(|v| {
                    v.as_i64().ok_or_else(|| {
                        Error::format(OP, format!("case {}: index target {v} is not an integer", case.name))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let target = IndexTensor::from_vec(idx, &case.target.shape)?;
            (cross_entropy_with(&input, &target, &options)?, None)
        }
        "probabilities" => {
            let vals = case
                .target
                .data
                .iter()
                .map(|v| serde_json::from_value::<Number>(v.clone()).map(|n| T::of(n.value())))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::format(OP, format!("case {}: probability target: {e}", case.name)))?;
            let target = Var::parameter(Tensor::from_vec(vals, &case.target.shape)?);
            (
                cross_entropy_with(&input, Target::Probabilities(&target), &options)?,
                Some(target),
            )
        }
        other => {
            return Err(Error::format(
                OP,
                format!(
                    "case {}: target_kind must be \"indices\" or \"probabilities\", got {other:?}",
                    case.name
                ),
            ))
        }
    };
    loss.backward_with(&Tensor::ones(&loss.shape()))?;
    let grad = input.grad().unwrap_or_else(|| input.value().zeros_like());
    let target_grad = target_var.map(|t| t.grad().unwrap_or_else(|| t.value().zeros_like()));
    let loss = TensorData::from_tensor(&loss.to_tensor());
    Ok((
        loss,
        TensorData::from_tensor(&grad),
        target_grad.as_ref().map(TensorData::from_tensor),
    ))
}
