//! Schedules that move the rate along a curve: CosineAnnealingLR, LinearLR, and LambdaLR
//! for any factor of the epoch.

use std::f64::consts::PI;
use std::fmt;
use std::marker::PhantomData;

use ferrograd_tensor::{Error, Float, Result};

use super::{LRScheduler, Optimizer, SchedulerState};

/// Cosine annealing from the base rate down to `eta_min` over `T_max` epochs
/// (`torch.optim.lr_scheduler.CosineAnnealingLR`), by PyTorch's recursive form:
///
/// ```text
/// lr(e) = eta_min + (lr(e-1) - eta_min) · (1 + cos(π·e/T_max)) / (1 + cos(π·(e-1)/T_max))
/// ```
///
/// Past `T_max` the rate rises again as PyTorch's does (with lr 1, `T_max` 4 and `eta_min`
/// 0.1: 1, .868, .55, .232, .1, .232, .55, ...), without restarts.
#[derive(Debug, Clone)]
pub struct CosineAnnealingLR<T: Float = f32> {
    state: SchedulerState,
    t_max: usize,
    eta_min: f64,
    elem: PhantomData<T>,
}

impl<T: Float> CosineAnnealingLR<T> {
    /// Attaches to `opt`; epoch 0 keeps the optimizer's rate. `t_max` 0 is an error (PyTorch
    /// divides by it at the first step).
    pub fn new(opt: &mut dyn Optimizer<T>, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(Error::invalid(
                "CosineAnnealingLR",
                "Expected positive integer T_max, but got 0",
            ));
        }
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            t_max,
            eta_min,
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for CosineAnnealingLR<T> {
    state_accessors!();

    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let SchedulerState {
            base_lr,
            last_epoch: e,
            step_count,
            is_initial,
            ..
        } = self.state;
        let (t_max, eta_min, lr) = (self.t_max as f64, self.eta_min, opt.lr());
        let ef = e as f64;
        Ok(if is_initial {
            lr
        } else if step_count == 1 && e > 0 {
            eta_min + (base_lr - eta_min) * (1.0 + (ef * PI / t_max).cos()) / 2.0
        } else if (e - 1 - self.t_max as i64).rem_euclid(2 * self.t_max as i64) == 0 {
            // the step from the bottom, where the ratio below would divide by zero
            lr + (base_lr - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * ef / t_max).cos()) / (1.0 + (PI * (ef - 1.0) / t_max).cos()) * (lr - eta_min) + eta_min
        })
    }

    fn closed_form_lr(&self) -> Result<Option<f64>> {
        let (base_lr, e) = (self.state.base_lr, self.state.last_epoch as f64);
        let eta_min = self.eta_min;
        Ok(Some(
            eta_min + (base_lr - eta_min) * (1.0 + (PI * e / self.t_max as f64).cos()) / 2.0,
        ))
    }
}

/// Multiplies the base rate by a factor moving linearly from `start_factor` to `end_factor`
/// over `total_iters` epochs, then constant (`torch.optim.lr_scheduler.LinearLR`; PyTorch's
/// defaults are 1/3, 1 and 5: .333, .467, .6, .733, .867, 1, 1, ...).
#[derive(Debug, Clone)]
pub struct LinearLR<T: Float = f32> {
    state: SchedulerState,
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    elem: PhantomData<T>,
}

impl<T: Float> LinearLR<T> {
    /// Attaches to `opt` and sets the rate of epoch 0 (`start_factor` times the optimizer's).
    /// `start_factor` must be in `(0, 1]` and `end_factor` in `[0, 1]`, with PyTorch's messages.
    pub fn new(opt: &mut dyn Optimizer<T>, start_factor: f64, end_factor: f64, total_iters: usize) -> Result<Self> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(Error::invalid(
                "LinearLR",
                "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(Error::invalid(
                "LinearLR",
                "Ending multiplicative factor expected to be between 0 and 1.",
            ));
        }
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            start_factor,
            end_factor,
            total_iters,
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for LinearLR<T> {
    state_accessors!();

    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let (e, lr) = (self.state.last_epoch, opt.lr());
        let (start, end, total) = (self.start_factor, self.end_factor, self.total_iters as f64);
        Ok(if e == 0 {
            lr * start
        } else if self.state.is_initial || e > self.total_iters as i64 {
            lr
        } else {
            lr * (1.0 + (end - start) / (total * start + (e - 1) as f64 * (end - start)))
        })
    }

    fn closed_form_lr(&self) -> Result<Option<f64>> {
        if self.total_iters == 0 {
            return Err(Error::invalid(
                "LinearLR",
                "the closed form divides by total_iters, which is 0 (float division by zero)",
            ));
        }
        let (start, end, total) = (self.start_factor, self.end_factor, self.total_iters);
        let done = (total as i64).min(self.state.last_epoch) as f64;
        Ok(Some(self.state.base_lr * (start + (end - start) * done / total as f64)))
    }
}

/// The base rate times a function of the epoch (`torch.optim.lr_scheduler.LambdaLR`):
/// `LambdaLR::new(&mut opt, |epoch| 0.95f64.powf(epoch as f64))`.
pub struct LambdaLR<T: Float = f32> {
    state: SchedulerState,
    lr_lambda: Box<dyn Fn(usize) -> f64>,
    elem: PhantomData<T>,
}

impl<T: Float> LambdaLR<T> {
    /// Attaches to `opt` and sets the rate of epoch 0, `base_lr · lr_lambda(0)`.
    pub fn new(opt: &mut dyn Optimizer<T>, lr_lambda: impl Fn(usize) -> f64 + 'static) -> Result<Self> {
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            lr_lambda: Box::new(lr_lambda),
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> fmt::Debug for LambdaLR<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaLR")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T: Float> LRScheduler<T> for LambdaLR<T> {
    state_accessors!();

    fn get_lr(&mut self, _opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let epoch = usize::try_from(self.state.last_epoch)
            .map_err(|_| Error::invalid("LambdaLR", format!("epoch {} is negative", self.state.last_epoch)))?;
        Ok(self.state.base_lr * (self.lr_lambda)(epoch))
    }
}
