//! Schedules that multiply the rate by a factor at some epochs: StepLR, MultiStepLR, ExponentialLR.

use std::marker::PhantomData;

use ferrograd_tensor::{Error, Float, Result};

use super::{bisect_right, LRScheduler, Optimizer, SchedulerState};

/// Multiplies the rate by `gamma` every `step_size` epochs (`torch.optim.lr_scheduler.StepLR`):
/// with lr 1, `StepLR(3, 0.1)` gives 1, 1, 1, 0.1, 0.1, 0.1, 0.01, ...
#[derive(Debug, Clone)]
pub struct StepLR<T: Float = f32> {
    state: SchedulerState,
    step_size: usize,
    gamma: f64,
    elem: PhantomData<T>,
}

impl<T: Float> StepLR<T> {
    /// Attaches to `opt` and sets the rate of epoch 0; `step_size` 0 is an error (PyTorch
    /// divides by it at the first step).
    pub fn new(opt: &mut dyn Optimizer<T>, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(Error::invalid(
                "StepLR",
                "step_size must be a positive integer, but got 0",
            ));
        }
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            step_size,
            gamma,
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for StepLR<T> {
    state_accessors!();

    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let epoch = self.state.last_epoch;
        Ok(if epoch == 0 || epoch % self.step_size as i64 != 0 {
            opt.lr()
        } else {
            opt.lr() * self.gamma
        })
    }

    fn closed_form_lr(&self) -> Result<Option<f64>> {
        let decays = self.state.last_epoch.div_euclid(self.step_size as i64);
        Ok(Some(self.state.base_lr * self.gamma.powf(decays as f64)))
    }
}

/// Multiplies the rate by `gamma` at each milestone epoch, by `gamma^n` at a milestone listed
/// `n` times (`torch.optim.lr_scheduler.MultiStepLR`).
#[derive(Debug, Clone)]
pub struct MultiStepLR<T: Float = f32> {
    state: SchedulerState,
    milestones: Vec<usize>,
    gamma: f64,
    elem: PhantomData<T>,
}

impl<T: Float> MultiStepLR<T> {
    /// Attaches to `opt` and sets the rate of epoch 0 (already decayed if 0 is a milestone).
    pub fn new(opt: &mut dyn Optimizer<T>, milestones: &[usize], gamma: f64) -> Result<Self> {
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            milestones,
            gamma,
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for MultiStepLR<T> {
    state_accessors!();

    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let epoch = self.state.last_epoch;
        let times = self.milestones.iter().filter(|&&m| m as i64 == epoch).count();
        Ok(if times == 0 {
            opt.lr()
        } else {
            opt.lr() * self.gamma.powf(times as f64)
        })
    }

    fn closed_form_lr(&self) -> Result<Option<f64>> {
        let passed = bisect_right(&self.milestones, self.state.last_epoch);
        Ok(Some(self.state.base_lr * self.gamma.powf(passed as f64)))
    }
}

/// Multiplies the rate by `gamma` every epoch (`torch.optim.lr_scheduler.ExponentialLR`).
#[derive(Debug, Clone)]
pub struct ExponentialLR<T: Float = f32> {
    state: SchedulerState,
    gamma: f64,
    elem: PhantomData<T>,
}

impl<T: Float> ExponentialLR<T> {
    /// Attaches to `opt`; epoch 0 keeps the optimizer's rate.
    pub fn new(opt: &mut dyn Optimizer<T>, gamma: f64) -> Result<Self> {
        let state = SchedulerState::new(opt);
        let mut scheduler = Self {
            state,
            gamma,
            elem: PhantomData,
        };
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for ExponentialLR<T> {
    state_accessors!();

    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        Ok(if self.state.is_initial {
            opt.lr()
        } else {
            opt.lr() * self.gamma
        })
    }

    fn closed_form_lr(&self) -> Result<Option<f64>> {
        Ok(Some(self.state.base_lr * self.gamma.powf(self.state.last_epoch as f64)))
    }
}
