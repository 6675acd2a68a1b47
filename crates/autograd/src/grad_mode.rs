//! Whether operations are being recorded: `no_grad` scopes, as `torch.no_grad()`.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether new operations on this thread are recorded for backward.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Restores the previous recording mode when dropped.
#[must_use = "recording is only switched while the guard is alive: bind it with `let _guard = ...`"]
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

fn set_grad_enabled(enabled: bool) -> GradModeGuard {
    GradModeGuard {
        previous: GRAD_ENABLED.with(|g| g.replace(enabled)),
    }
}

/// Stops recording until the returned guard is dropped, as `with torch.no_grad():`.
///
/// ```
/// use ferrograd_autograd::{no_grad, Var};
/// let w = Var::parameter(ferrograd_tensor::Tensor::<f32>::ones(&[2]));
/// let y = {
///     let _guard = no_grad();
///     &w * 2.0
/// };
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad() -> GradModeGuard {
    set_grad_enabled(false)
}

/// Turns recording back on inside a `no_grad` scope, as `torch.enable_grad()`.
pub fn enable_grad() -> GradModeGuard {
    set_grad_enabled(true)
}
