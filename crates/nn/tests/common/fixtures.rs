//! The PyTorch reference cases of `tests/fixtures/layers_cases.json` (written by
//! `tests/fixtures/generate_layers.py`, whose docstring is the schema) and a comparison that
//! reports the case, the element and both values on a mismatch.
//!
//! ```ignore
//! let mut m = Matcher::new();
//! for case in layer_cases("LayerNorm") {
//!     let Some(step) = case.single_step() else { continue }; // an error case
//!     let x: Tensor<f64> = step.inputs[0].as_ref().unwrap().tensor();
//!     // ... build the layer from case.args / case.state, run it ...
//!     m.close(&case, "output", &out, &step.expected.outputs[0]);
//! }
//! println!("{}", m.summary());
//! ```

use std::sync::OnceLock;

use ferrograd_tensor::{Float, IndexTensor, Tensor};
use serde_json::Value;

use super::fixture;

/// Every case of `layers_cases.json`, parsed once per test binary.
pub fn all_layer_cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let file = fixture("layers_cases.json");
        file["cases"]
            .as_array()
            .expect("layers_cases.json: cases")
            .iter()
            .map(Case::parse)
            .collect()
    })
}

/// The PyTorch version that wrote `layers_cases.json`.
pub fn layers_torch_version() -> String {
    fixture("layers_cases.json")["torch_version"]
        .as_str()
        .expect("torch_version")
        .to_string()
}

/// `tests/fixtures/models_expected.json` (written by `generate_models.py`, whose docstring is
/// its layout): inputs and PyTorch's results for `cnn_model.safetensors` and
/// `gpt_model.safetensors`. Read its tensors with [`FixtureTensor::from_json`] and
/// [`named_tensors`].
pub fn models_expected() -> &'static Value {
    static MODELS: OnceLock<Value> = OnceLock::new();
    MODELS.get_or_init(|| fixture("models_expected.json"))
}

/// The cases of one layer: a torch.nn class name (`"Conv2d"`), `"F.scaled_dot_product_attention"`
/// or an op (`"op.var"`). Panics if there are none, so a typo cannot pass silently.
pub fn layer_cases(layer: &str) -> Vec<&'static Case> {
    let cases: Vec<_> = all_layer_cases().iter().filter(|c| c.layer == layer).collect();
    assert!(!cases.is_empty(), "no fixture case has layer {layer:?}");
    cases
}

/// One fixture case (see the schema in `generate_layers.py`).
#[derive(Clone, Debug)]
pub struct Case {
    /// Unique case name, e.g. `conv2d_stride2_pad1_f32`.
    pub name: String,
    /// `"Conv2d"`, `"F.scaled_dot_product_attention"`, `"op.var"`...
    pub layer: String,
    /// `"float32"`, `"float64"` (or `"int64"` for integer-only ops).
    pub dtype: String,
    /// Constructor / function keyword arguments as PyTorch received them.
    pub args: Value,
    /// Module mode for the forward.
    pub training: bool,
    /// `state_dict` before the first forward, in PyTorch's order; `None` when construction
    /// failed (an error case).
    pub state: Option<Vec<(String, FixtureTensor)>>,
    /// PyTorch's error (message, exception type) if the case fails, else `None`.
    pub error: Option<(String, String)>,
    /// The forwards to run in order (one unless the case has `"steps"`); empty for error cases.
    pub steps: Vec<Step>,
    /// Inputs of the (first) forward; for error cases the inputs that make PyTorch fail.
    pub inputs: Vec<Option<FixtureTensor>>,
}

/// One forward and backward of a case.
#[derive(Clone, Debug)]
pub struct Step {
    /// Positional forward inputs; `None` for an omitted optional input.
    pub inputs: Vec<Option<FixtureTensor>>,
    /// One upstream gradient per output (`None` for integer outputs):
    /// backward runs on `sum_i sum(out_i * upstream_i)`.
    pub upstream: Vec<Option<FixtureTensor>>,
    /// What PyTorch computed.
    pub expected: Expected,
}

/// PyTorch's results for one step.
#[derive(Clone, Debug)]
pub struct Expected {
    /// The forward's outputs, in order.
    pub outputs: Vec<FixtureTensor>,
    /// One gradient per input; `None` for non-float (or absent) inputs.
    pub input_grads: Vec<Option<FixtureTensor>>,
    /// Every parameter's gradient, in `named_parameters` order.
    pub param_grads: Vec<(String, FixtureTensor)>,
    /// Every buffer after the forward, in `named_buffers` order.
    pub state_after: Vec<(String, FixtureTensor)>,
}

impl Case {
    fn parse(v: &Value) -> Case {
        let name = v["name"].as_str().expect("case name").to_string();
        let ctx = |what: &str| format!("{name}: {what}");
        let state = v["state"].as_array().map(|_| named_tensors(&v["state"], &ctx("state")));
        let error = v["expected"].get("error").map(|e| {
            (
                e.as_str().expect("error").to_string(),
                str_of(&v["expected"]["error_type"]),
            )
        });
        let steps = match (&error, v.get("steps")) {
            (Some(_), _) => Vec::new(),
            (None, None) => vec![Step::parse(&v["inputs"], &v["upstream"], &v["expected"], &ctx("step"))],
            (None, Some(n)) => {
                let n = n.as_u64().expect("steps") as usize;
                let per_step = v["expected"]["steps"].as_array().expect("expected.steps");
                assert_eq!(per_step.len(), n, "{name}: expected.steps");
                (0..n)
                    .map(|k| {
                        Step::parse(
                            &v["inputs"][k],
                            &v["upstream"][k],
                            &per_step[k],
                            &ctx(&format!("step {k}")),
                        )
                    })
                    .collect()
            }
        };
        let inputs = match steps.first() {
            Some(step) => step.inputs.clone(),
            None => optional_tensors(&v["inputs"], &ctx("inputs")),
        };
        Case {
            layer: str_of(&v["layer"]),
            dtype: str_of(&v["dtype"]),
            args: v["args"].clone(),
            training: v["training"].as_bool().expect("training"),
            state,
            error,
            steps,
            inputs,
            name,
        }
    }

    /// The step of a one-forward case; `None` for an error case. Panics on multi-step cases.
    pub fn single_step(&self) -> Option<&Step> {
        assert!(self.steps.len() <= 1, "{}: has {} steps", self.name, self.steps.len());
        self.steps.first()
    }

    /// Whether PyTorch raised an error on this case.
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// A state_dict entry (before the forward).
    pub fn state_tensor(&self, key: &str) -> Option<&FixtureTensor> {
        self.state.as_ref()?.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }

    /// An argument, if present and not null.
    pub fn arg(&self, key: &str) -> Option<&Value> {
        self.args.get(key).filter(|v| !v.is_null())
    }

    /// A numeric argument (`"inf"`, `"-inf"`, `"nan"` allowed).
    pub fn arg_f64(&self, key: &str) -> Option<f64> {
        self.arg(key).map(number)
    }

    /// An integer argument.
    pub fn arg_i64(&self, key: &str) -> Option<i64> {
        self.arg(key).map(|v| {
            v.as_i64()
                .unwrap_or_else(|| panic!("{}: arg {key} = {v} is not an integer", self.name))
        })
    }

    /// A boolean argument.
    pub fn arg_bool(&self, key: &str) -> Option<bool> {
        self.arg(key).map(|v| {
            v.as_bool()
                .unwrap_or_else(|| panic!("{}: arg {key} = {v} is not a bool", self.name))
        })
    }

    /// A string argument (`padding="same"`, `approximate="tanh"`, `mode="reflect"`).
    pub fn arg_str(&self, key: &str) -> Option<&str> {
        self.arg(key).and_then(Value::as_str)
    }

    /// An integer-or-list argument as a list: `3` → `[3; n]`, `[1, 2]` → `[1, 2]`
    /// (kernel_size, stride, padding, dilation, output_size, dims...). `None` for a string.
    pub fn arg_ints(&self, key: &str, n: usize) -> Option<Vec<i64>> {
        match self.arg(key)? {
            Value::Number(x) => Some(vec![x.as_i64().expect("integer arg"); n]),
            Value::Array(xs) => Some(xs.iter().map(|x| x.as_i64().expect("integer arg")).collect()),
            _ => None,
        }
    }
}

impl Step {
    fn parse(inputs: &Value, upstream: &Value, expected: &Value, ctx: &str) -> Step {
        Step {
            inputs: optional_tensors(inputs, &format!("{ctx} inputs")),
            upstream: optional_tensors(upstream, &format!("{ctx} upstream")),
            expected: Expected {
                outputs: optional_tensors(&expected["outputs"], &format!("{ctx} outputs"))
                    .into_iter()
                    .map(|t| t.expect("an output is never null"))
                    .collect(),
                input_grads: optional_tensors(&expected["input_grads"], &format!("{ctx} input_grads")),
                param_grads: named_tensors(&expected["param_grads"], &format!("{ctx} param_grads")),
                state_after: named_tensors(&expected["state_after"], &format!("{ctx} state_after")),
            },
        }
    }
}

impl Expected {
    /// A parameter's expected gradient.
    pub fn param_grad(&self, name: &str) -> Option<&FixtureTensor> {
        self.param_grads.iter().find(|(k, _)| k == name).map(|(_, t)| t)
    }

    /// A buffer's expected value after the forward.
    pub fn buffer(&self, name: &str) -> Option<&FixtureTensor> {
        self.state_after.iter().find(|(k, _)| k == name).map(|(_, t)| t)
    }
}

/// The values of a fixture tensor, typed by its `"dtype"`.
#[derive(Clone, Debug, PartialEq)]
pub enum FixtureData {
    /// `float32` (exact doubles of the f32 values) or `float64`.
    Float(Vec<f64>),
    /// `int64`.
    Int(Vec<i64>),
    /// `bool`.
    Bool(Vec<bool>),
}

/// A fixture tensor `{"shape", "dtype", "data"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct FixtureTensor {
    /// Size of each dimension (empty for a 0-d tensor).
    pub shape: Vec<usize>,
    /// `"float32"`, `"float64"`, `"int64"` or `"bool"`.
    pub dtype: String,
    /// Row-major values.
    pub data: FixtureData,
}

/// A boolean mask from a fixture: row-major values and a shape. Convert it to whatever mask
/// type the op takes with [`Mask::to_tensor`] (1.0 / 0.0) or from `data` and `shape` directly.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// Row-major values.
    pub data: Vec<bool>,
    /// Size of each dimension.
    pub shape: Vec<usize>,
}

impl Mask {
    /// The mask as a float tensor of ones (true) and zeros (false).
    pub fn to_tensor<T: Float>(&self) -> Tensor<T> {
        let values = self.data.iter().map(|&b| T::of(if b { 1.0 } else { 0.0 })).collect();
        Tensor::from_vec(values, &self.shape).expect("fixture mask")
    }
}

impl FixtureTensor {
    /// Parses `{"shape", "dtype", "data"}`; panics (naming `v`'s shape) if malformed.
    pub fn from_json(v: &Value) -> FixtureTensor {
        FixtureTensor::parse(v, "fixture tensor")
    }

    fn parse(v: &Value, ctx: &str) -> FixtureTensor {
        let shape: Vec<usize> =
            serde_json::from_value(v["shape"].clone()).unwrap_or_else(|e| panic!("{ctx}: shape: {e}"));
        let dtype = str_of(&v["dtype"]);
        let raw = v["data"].as_array().unwrap_or_else(|| panic!("{ctx}: data"));
        let data = match dtype.as_str() {
            "float32" | "float64" => FixtureData::Float(raw.iter().map(number).collect()),
            "int64" => FixtureData::Int(
                raw.iter()
                    .map(|x| x.as_i64().unwrap_or_else(|| panic!("{ctx}: {x} is not an int64")))
                    .collect(),
            ),
            "bool" => FixtureData::Bool(
                raw.iter()
                    .map(|x| x.as_bool().unwrap_or_else(|| panic!("{ctx}: {x} is not a bool")))
                    .collect(),
            ),
            other => panic!("{ctx}: unknown dtype {other:?}"),
        };
        let t = FixtureTensor { shape, dtype, data };
        assert_eq!(t.len(), t.numel(), "{ctx}: {} values for shape {:?}", t.len(), t.shape);
        t
    }

    /// The number of elements the shape holds.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The number of values stored.
    pub fn len(&self) -> usize {
        match &self.data {
            FixtureData::Float(v) => v.len(),
            FixtureData::Int(v) => v.len(),
            FixtureData::Bool(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the values are floats.
    pub fn is_float(&self) -> bool {
        matches!(self.data, FixtureData::Float(_))
    }

    /// The values as `f64` (exact for float32 and float64; int64 and bool converted).
    pub fn values(&self) -> Vec<f64> {
        match &self.data {
            FixtureData::Float(v) => v.clone(),
            FixtureData::Int(v) => v.iter().map(|&x| x as f64).collect(),
            FixtureData::Bool(v) => v.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect(),
        }
    }

    /// A float tensor (float32 data converts exactly to either precision). Panics on int/bool.
    pub fn tensor<T: Float>(&self) -> Tensor<T> {
        let FixtureData::Float(v) = &self.data else {
            panic!("fixture tensor of dtype {} is not float", self.dtype)
        };
        Tensor::from_vec(v.iter().map(|&x| T::of(x)).collect(), &self.shape).expect("fixture tensor")
    }

    /// An `f32` tensor.
    pub fn f32(&self) -> Tensor<f32> {
        self.tensor()
    }

    /// An `f64` tensor.
    pub fn f64(&self) -> Tensor<f64> {
        self.tensor()
    }

    /// The int64 values.
    pub fn ints(&self) -> &[i64] {
        match &self.data {
            FixtureData::Int(v) => v,
            _ => panic!("fixture tensor of dtype {} is not int64", self.dtype),
        }
    }

    /// An index tensor (int64 data).
    pub fn index_tensor(&self) -> IndexTensor {
        IndexTensor::from_vec(self.ints().to_vec(), &self.shape).expect("fixture index tensor")
    }

    /// A boolean mask (bool data).
    pub fn mask(&self) -> Mask {
        match &self.data {
            FixtureData::Bool(v) => Mask {
                data: v.clone(),
                shape: self.shape.clone(),
            },
            _ => panic!("fixture tensor of dtype {} is not bool", self.dtype),
        }
    }
}

/// Element tolerance: `|got - want| <= atol + rtol·|want|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative part.
    pub rtol: f64,
    /// Absolute part.
    pub atol: f64,
}

impl Tolerance {
    /// The default for a dtype: float32 rtol 1e-4, atol 1e-5 (sums of a few dozen products
    /// rounded in a different order); float64 rtol 1e-10, atol 1e-12.
    pub fn for_dtype(dtype: &str) -> Tolerance {
        match dtype {
            "float64" => Tolerance {
                rtol: 1e-10,
                atol: 1e-12,
            },
            "float32" => Tolerance { rtol: 1e-4, atol: 1e-5 },
            other => panic!("no float tolerance for dtype {other:?}"),
        }
    }
}

/// The largest deviation a [`Matcher`] has seen.
#[derive(Clone, Debug, Default)]
pub struct Worst {
    /// `|got - want| / (atol + rtol·|want|)`: below 1 passes.
    pub ratio: f64,
    /// `|got - want|` at that element.
    pub abs: f64,
    /// `case what[index]` of that element.
    pub at: String,
}

/// Compares ferrograd's results with a case's expected values, panicking on the first mismatch
/// with the case, the element and both values, and keeping the largest deviation and the number
/// of distinct cases compared.
#[derive(Debug, Default)]
pub struct Matcher {
    cases: Vec<String>,
    compared: usize,
    /// The largest deviation seen so far, relative to its tolerance.
    pub worst: Worst,
}

impl Matcher {
    /// An empty record.
    pub fn new() -> Matcher {
        Matcher::default()
    }

    /// Asserts `got` matches `want` within the case dtype's [`Tolerance`].
    #[track_caller]
    pub fn close<T: Float>(&mut self, case: &Case, what: &str, got: &Tensor<T>, want: &FixtureTensor) {
        let tol = Tolerance::for_dtype(&want.dtype);
        self.close_with(case, what, got, want, tol);
    }

    /// [`Matcher::close`] with an explicit tolerance.
    #[track_caller]
    pub fn close_with<T: Float>(
        &mut self,
        case: &Case,
        what: &str,
        got: &Tensor<T>,
        want: &FixtureTensor,
        tol: Tolerance,
    ) {
        let values: Vec<f64> = got.to_vec().into_iter().map(Float::f64).collect();
        self.close_values(case, what, got.shape(), &values, want, tol);
    }

    /// Compares raw values with a shape (for results that are not a `Tensor`).
    #[track_caller]
    pub fn close_values(
        &mut self,
        case: &Case,
        what: &str,
        shape: &[usize],
        got: &[f64],
        want: &FixtureTensor,
        tol: Tolerance,
    ) {
        self.count(case);
        assert_eq!(
            shape,
            want.shape.as_slice(),
            "{} {what}: shape {shape:?}, PyTorch {:?}",
            case.name,
            want.shape
        );
        assert_eq!(
            got.len(),
            want.numel(),
            "{} {what}: {} values for shape {shape:?}",
            case.name,
            got.len()
        );
        for (i, (&g, w)) in got.iter().zip(want.values()).enumerate() {
            let at = || format!("{} {what}[{i}] (index {:?})", case.name, unravel(i, shape));
            if w.is_nan() || g.is_nan() || w.is_infinite() || g.is_infinite() {
                assert!(
                    g == w || (g.is_nan() && w.is_nan()),
                    "{}: ferrograd {g:e}, PyTorch {w:e}",
                    at()
                );
                continue;
            }
            let dev = (g - w).abs();
            let allowed = tol.atol + tol.rtol * w.abs();
            assert!(
                dev <= allowed,
                "{}: ferrograd {g:e}, PyTorch {w:e} (|diff| {dev:e}, allowed {allowed:e})",
                at()
            );
            if dev / allowed > self.worst.ratio || (self.worst.at.is_empty() && dev > 0.0) {
                self.worst = Worst {
                    ratio: dev / allowed,
                    abs: dev,
                    at: at(),
                };
            }
        }
    }

    /// Asserts an index result equals PyTorch's exactly.
    #[track_caller]
    pub fn equal_indices(&mut self, case: &Case, what: &str, got: &IndexTensor, want: &FixtureTensor) {
        self.count(case);
        assert_eq!(got.shape(), want.shape.as_slice(), "{} {what}: shape", case.name);
        let got = got.to_vec();
        for (i, (g, w)) in got.iter().zip(want.ints()).enumerate() {
            assert_eq!(g, w, "{} {what}[{i}] (index {:?})", case.name, unravel(i, &want.shape));
        }
    }

    /// Asserts ferrograd failed where PyTorch did, and that its message contains PyTorch's.
    #[track_caller]
    pub fn error_contains(&mut self, case: &Case, got: &str) {
        self.count(case);
        let (want, kind) = case
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{}: PyTorch did not fail", case.name));
        assert!(
            got.contains(want.as_str()),
            "{}: ferrograd's error {got:?} does not contain PyTorch's {kind} {want:?}",
            case.name
        );
    }

    fn count(&mut self, case: &Case) {
        self.compared += 1;
        if self.cases.last() != Some(&case.name) && !self.cases.contains(&case.name) {
            self.cases.push(case.name.clone());
        }
    }

    /// The number of distinct cases compared so far.
    pub fn cases(&self) -> usize {
        self.cases.len()
    }

    /// "N cases (M comparisons), all matched, largest deviation X at ...".
    pub fn summary(&self) -> String {
        format!(
            "{} cases ({} comparisons), all matched, largest deviation {:e} ({:.3} of the tolerance) at {}",
            self.cases.len(),
            self.compared,
            self.worst.abs,
            self.worst.ratio,
            if self.worst.at.is_empty() { "-" } else { &self.worst.at }
        )
    }
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            index[d] = i % n;
            i /= n;
        }
    }
    index
}

/// A fixture number: a JSON number or `"inf"` / `"-inf"` / `"nan"`.
pub fn number(v: &Value) -> f64 {
    super::number(v)
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .to_string()
}

fn optional_tensors(v: &Value, ctx: &str) -> Vec<Option<FixtureTensor>> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, t)| (!t.is_null()).then(|| FixtureTensor::parse(t, &format!("{ctx}[{i}]"))))
            .collect(),
        other => panic!("{ctx}: expected a list, got {other}"),
    }
}

/// A list of `[name, tensor]` pairs (state dicts, gradients, buffers), in order.
pub fn named_tensors(v: &Value, ctx: &str) -> Vec<(String, FixtureTensor)> {
    v.as_array()
        .unwrap_or_else(|| panic!("{ctx}: expected a list of [key, tensor] pairs"))
        .iter()
        .map(|pair| {
            let key = str_of(&pair[0]);
            let t = FixtureTensor::parse(&pair[1], &format!("{ctx} {key}"));
            (key, t)
        })
        .collect()
}
