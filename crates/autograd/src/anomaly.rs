//! Anomaly detection, as `torch.autograd.detect_anomaly()`: while a guard is alive, the first
//! recorded op whose forward turned finite inputs into NaN or infinity is remembered, and
//! backward fails naming it, or the first op whose gradient rule produced NaN or infinity.
//!
//! When the mode is off the only cost is one thread-local `bool` read per recorded op.
//!
//! ```
//! use ferrograd_autograd::{detect_anomaly, Var};
//! use ferrograd_tensor::Tensor;
//!
//! let _guard = detect_anomaly();
//! let x = Var::parameter(Tensor::from_vec(vec![1.0f32, 0.0], &[2])?);
//! let loss = x.log().sum(); // log(0) = -inf from finite inputs
//! let err = loss.backward().unwrap_err();
//! assert!(err.to_string().contains("LogBackward0"), "{err}");
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use ferrograd_tensor::{Error, Float, Result, Shape};

use crate::Var;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static FORWARD: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

/// The recorded anomaly and the node it came from, held weakly (`node` says whether it is still
/// alive) so that a freed node's address, reused by a new node, is never mistaken for it.
struct Recorded {
    anomaly: ForwardAnomaly,
    node: Box<dyn Fn() -> bool>,
    id: usize,
}

/// The first op whose forward produced NaN or infinity from finite inputs while anomaly
/// detection was on.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardAnomaly {
    /// The op's name, as [`Var::op_name`] (`LogBackward0`, ...).
    pub op: &'static str,
    /// The shape of each input of the op.
    pub input_shapes: Vec<Vec<usize>>,
    /// The shape of its output.
    pub output_shape: Vec<usize>,
    /// How many output elements are NaN.
    pub nan: usize,
    /// How many output elements are +inf or -inf.
    pub inf: usize,
}

impl fmt::Display for ForwardAnomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<String> = self.input_shapes.iter().map(|s| Shape(s.clone()).to_string()).collect();
        write!(
            f,
            "Function '{}' produced {} nan and {} inf values in its forward output of shape {} from finite inputs of shapes ({})",
            self.op,
            self.nan,
            self.inf,
            Shape(self.output_shape.clone()),
            inputs.join(", ")
        )
    }
}

/// Restores the previous anomaly mode when dropped.
#[must_use = "anomaly detection is only on while the guard is alive"]
pub struct AnomalyGuard {
    previous: bool,
}

impl Drop for AnomalyGuard {
    fn drop(&mut self) {
        ENABLED.with(|e| e.set(self.previous));
    }
}

/// Turns anomaly detection on until the guard is dropped.
///
/// While it is on, the first recorded op whose forward output holds NaN or infinity although
/// its inputs are finite is remembered ([`take_forward_anomaly`]), and backward through a graph
/// containing it fails naming it. Backward also fails naming the first op whose gradient rule
/// returned NaN or infinity. Turning the mode on from off forgets an earlier forward anomaly.
pub fn detect_anomaly() -> AnomalyGuard {
    let previous = ENABLED.with(|e| e.replace(true));
    if !previous {
        FORWARD.with(|f| f.borrow_mut().take());
    }
    AnomalyGuard { previous }
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// Takes the forward anomaly recorded on this thread, if any, so the next one can be recorded.
pub fn take_forward_anomaly() -> Option<ForwardAnomaly> {
    FORWARD.with(|f| f.borrow_mut().take()).map(|r| r.anomaly)
}

/// Called for every recorded op while the mode is on: remembers `var`'s op if it is the first
/// whose output is not finite while its inputs are.
pub(crate) fn check_forward<T: Float>(var: &Var<T>) {
    if FORWARD.with(|f| f.borrow().is_some()) || var.value().all_finite() {
        return;
    }
    if !var.inputs().iter().all(|x| x.value().all_finite()) {
        return;
    }
    let (mut nan, mut inf) = (0, 0);
    for v in var.value().array().iter() {
        nan += usize::from(v.is_nan());
        inf += usize::from(v.is_infinite());
    }
    let node = Rc::downgrade(&var.0);
    let recorded = Recorded {
        anomaly: ForwardAnomaly {
            op: var.op_name().unwrap_or("leaf"),
            input_shapes: var.inputs().iter().map(Var::shape).collect(),
            output_shape: var.shape(),
            nan,
            inf,
        },
        node: Box::new(move || node.strong_count() > 0),
        id: var.id(),
    };
    FORWARD.with(|f| *f.borrow_mut() = Some(recorded));
}

/// In anomaly mode, fails if the recorded forward anomaly is one of the nodes of `graph`
/// (the nodes a backward is about to walk); the record is taken when reported.
pub(crate) fn check_forward_in_graph<T: Float>(graph: &[&Var<T>]) -> Result<()> {
    if !is_anomaly_enabled() {
        return Ok(());
    }
    let found = FORWARD.with(|f| {
        let f = f.borrow();
        let Some(r) = f.as_ref() else { return false };
        (r.node)() && graph.iter().any(|v| v.id() == r.id)
    });
    match found.then(take_forward_anomaly).flatten() {
        Some(a) => Err(Error::invalid("detect_anomaly", a.to_string())),
        None => Ok(()),
    }
}

/// Fails if the gradient an op's backward returned for input `index` is not finite (called in
/// anomaly mode).
pub(crate) fn check_backward<T: Float>(op: &'static str, index: usize, grad: &Var<T>) -> Result<()> {
    if !grad.value().all_finite() {
        return Err(Error::invalid(
            "detect_anomaly",
            format!("Function '{op}' returned nan or inf values in its gradient for input {index}"),
        ));
    }
    Ok(())
}
