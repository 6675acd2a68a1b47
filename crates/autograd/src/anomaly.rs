//! Anomaly detection: name the first op whose backward produced NaN or infinity, as
//! `torch.autograd.detect_anomaly()`.

use std::cell::Cell;

use ferrograd_tensor::{Error, Float, Result};

use crate::Var;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
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

/// Turns anomaly detection on until the guard is dropped: backward then fails with an error
/// naming the first op whose gradient rule returned NaN or infinity.
pub fn detect_anomaly() -> AnomalyGuard {
    AnomalyGuard {
        previous: ENABLED.with(|e| e.replace(true)),
    }
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// In anomaly mode, fails if the gradient an op's backward returned for input `index` is not finite.
pub(crate) fn check_backward<T: Float>(op: &'static str, index: usize, grad: &Var<T>) -> Result<()> {
    if is_anomaly_enabled() && !grad.value().all_finite() {
        return Err(Error::invalid(
            "detect_anomaly",
            format!("Function '{op}' returned nan or inf values in its gradient for input {index}"),
        ));
    }
    Ok(())
}
