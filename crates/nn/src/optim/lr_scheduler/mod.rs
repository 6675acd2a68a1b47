//! Learning-rate schedules, as `torch.optim.lr_scheduler`.
//!
//! A scheduler does not own its optimizer: the user keeps it, and lends it to the scheduler
//! for the constructor and for each [`step`](LRScheduler::step). The constructor applies the
//! learning rate of epoch 0 to the optimizer (PyTorch's initial step), and every `step` moves
//! one epoch on and sets that epoch's rate. As in PyTorch, most schedules are computed from
//! the optimizer's current rate (the recursive, chainable forms), so the values equal
//! PyTorch's to the last bit, also after `T_max` for [`CosineAnnealingLR`], and a rate the user
//! changes between steps is carried along. The rate every schedule starts from is the one the
//! first scheduler found on the optimizer ([`Optimizer::initial_lr`], PyTorch's `initial_lr`).
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::lr_scheduler::{CosineAnnealingLR, LRScheduler, LinearLR, SequentialLR};
//! use ferrograd_nn::{Optimizer, SGD};
//! use ferrograd_tensor::Tensor;
//!
//! let w = Var::parameter(Tensor::<f32>::zeros(&[3]));
//! let mut opt = SGD::new(vec![w], 1.0);
//! // two epochs of warm-up from 0.1, then cosine decay over 4
//! let warmup = LinearLR::new(&mut opt, 0.1, 1.0, 2)?;
//! let decay = CosineAnnealingLR::new(&mut opt, 4, 0.0)?;
//! let mut scheduler = SequentialLR::new(&mut opt, vec![Box::new(warmup), Box::new(decay)], &[2])?;
//! let mut lrs = vec![opt.lr()];
//! for _epoch in 0..4 {
//!     // ... train one epoch with opt ...
//!     scheduler.step(&mut opt)?;
//!     lrs.push(scheduler.get_last_lr());
//! }
//! let want = [0.1, 0.55, 1.0, 0.8535533905932737, 0.5];
//! assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12));
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

/// The [`LRScheduler::state`] and [`LRScheduler::state_mut`] of a scheduler that keeps its
/// [`SchedulerState`] in a field named `state`.
macro_rules! state_accessors {
    () => {
        fn state(&self) -> &SchedulerState {
            &self.state
        }

        fn state_mut(&mut self) -> &mut SchedulerState {
            &mut self.state
        }
    };
}

mod annealing;
mod one_cycle;
mod sequential;
mod step;

pub use annealing::{CosineAnnealingLR, LambdaLR, LinearLR};
pub use one_cycle::{AnnealStrategy, OneCycleLR, OneCycleLRBuilder};
pub use sequential::SequentialLR;
pub use step::{ExponentialLR, MultiStepLR, StepLR};

use ferrograd_tensor::{Float, Result};

use super::Optimizer;

/// What every scheduler keeps, as the attributes of PyTorch's `LRScheduler`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerState {
    /// The rate the schedule starts from: the optimizer's `initial_lr` (PyTorch's `base_lrs[0]`).
    pub base_lr: f64,
    /// The epoch of the current rate: 0 after construction, one more per step.
    pub last_epoch: i64,
    /// Steps since the initial step, which counts as the first (PyTorch's `_step_count`).
    pub step_count: u64,
    /// True while the initial step computes epoch 0 (PyTorch's `_is_initial`).
    pub is_initial: bool,
    /// The rate set last (what [`LRScheduler::get_last_lr`] returns).
    pub last_lr: f64,
}

impl SchedulerState {
    /// The state of a scheduler attached to `opt`, before its initial step: the base rate is the
    /// optimizer's `initial_lr`, recorded first from its current rate if no scheduler did
    /// (PyTorch's `group.setdefault("initial_lr", group["lr"])`).
    pub fn new<T: Float>(opt: &mut dyn Optimizer<T>) -> Self {
        let base_lr = match opt.initial_lr() {
            Some(lr) => lr,
            None => {
                let lr = opt.lr();
                opt.set_initial_lr(lr);
                lr
            }
        };
        Self {
            base_lr,
            last_epoch: -1,
            step_count: 0,
            is_initial: false,
            last_lr: opt.lr(),
        }
    }
}

/// A learning-rate schedule: PyTorch's `LRScheduler` contract.
///
/// A schedule implements [`get_lr`](LRScheduler::get_lr) (and
/// [`closed_form_lr`](LRScheduler::closed_form_lr) where it has one) over its
/// [`SchedulerState`]; stepping is provided. Write your own as in PyTorch, or use [`LambdaLR`].
pub trait LRScheduler<T: Float = f32> {
    /// The scheduler's epoch counters and rates.
    fn state(&self) -> &SchedulerState;

    /// The same, to change.
    fn state_mut(&mut self) -> &mut SchedulerState;

    /// The rate for epoch `state().last_epoch`, usually from the optimizer's current rate
    /// (PyTorch's `get_lr`). It may set other hyperparameters (OneCycleLR's momentum).
    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64>;

    /// The rate for epoch `state().last_epoch` from the base rate alone, for schedules that
    /// have such a formula (PyTorch's `_get_closed_form_lr`); `None` otherwise.
    fn closed_form_lr(&self) -> Result<Option<f64>> {
        Ok(None)
    }

    /// Moves one epoch on and sets its rate on the optimizer (PyTorch's `scheduler.step()`);
    /// call it after the optimizer's step. On an error (OneCycleLR stepped past its steps) the
    /// epoch has moved on all the same and the optimizer's rate is unchanged, as in PyTorch.
    fn step(&mut self, opt: &mut dyn Optimizer<T>) -> Result<()> {
        let state = self.state_mut();
        state.step_count += 1;
        state.last_epoch += 1;
        let lr = self.get_lr(opt)?;
        opt.set_lr(lr);
        self.state_mut().last_lr = lr;
        Ok(())
    }

    /// The rate set last (PyTorch's `get_last_lr()[0]`).
    fn get_last_lr(&self) -> f64 {
        self.state().last_lr
    }

    /// The epoch of that rate: 0 after construction (PyTorch's `last_epoch`).
    fn last_epoch(&self) -> i64 {
        self.state().last_epoch
    }

    /// Epoch 0 again, computed from the optimizer's current rate as the constructor does
    /// (PyTorch's `_initial_step`; [`SequentialLR`] calls it on the schedule that starts).
    fn initial_step(&mut self, opt: &mut dyn Optimizer<T>) -> Result<()> {
        let state = self.state_mut();
        state.step_count = 0;
        state.last_epoch = -1;
        state.is_initial = true;
        let done = self.step(opt);
        self.state_mut().is_initial = false;
        done
    }

    /// Sets the rate of `epoch` directly, by [`closed_form_lr`](LRScheduler::closed_form_lr)
    /// where there is one, else by [`get_lr`](LRScheduler::get_lr) (PyTorch's
    /// `_update_lr(epoch)`; [`SequentialLR`] restarts a schedule at a milestone with epoch 0).
    fn jump_to(&mut self, opt: &mut dyn Optimizer<T>, epoch: i64) -> Result<()> {
        self.state_mut().last_epoch = epoch;
        let lr = match self.closed_form_lr()? {
            Some(lr) => lr,
            None => self.get_lr(opt)?,
        };
        opt.set_lr(lr);
        self.state_mut().last_lr = lr;
        Ok(())
    }
}

/// Python's `bisect.bisect_right(a, x)`, the same search also on an unsorted list.
fn bisect_right(a: &[usize], x: i64) -> usize {
    let (mut lo, mut hi) = (0, a.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] as i64 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}
