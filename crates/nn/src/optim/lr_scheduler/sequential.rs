//! SequentialLR: one schedule after another, switching at milestone epochs.

use std::fmt;

use ferrograd_tensor::{Error, Float, Result};

use super::{bisect_right, LRScheduler, Optimizer, SchedulerState};

/// Runs `schedulers` one after another, the next taking over at each milestone epoch
/// (`torch.optim.lr_scheduler.SequentialLR`): typically a warm-up then a decay. With lr 1,
/// `[LinearLR(0.1, 1, 2), CosineAnnealingLR(4)]` and milestones `[2]`:
/// .1, .55, 1, .854, .5, .146, 0, .146.
///
/// Build its schedulers on the same optimizer first, in order, as in PyTorch; they all start
/// from the optimizer's `initial_lr`. At construction the optimizer's rate goes back to that
/// `initial_lr` and the first schedule's epoch 0 is applied again; at a milestone the next
/// schedule restarts at its epoch 0 computed from the base rate (its closed form).
///
/// Its own [`get_lr`](LRScheduler::get_lr) is an error, as PyTorch's: it steps its schedules.
pub struct SequentialLR<T: Float = f32> {
    state: SchedulerState,
    schedulers: Vec<Box<dyn LRScheduler<T>>>,
    milestones: Vec<usize>,
}

impl<T: Float> SequentialLR<T> {
    /// Chains `schedulers` (at least one) switching at `milestones` (one fewer), errors in
    /// PyTorch's words. The schedulers must have been built on `opt`.
    pub fn new(
        opt: &mut dyn Optimizer<T>,
        schedulers: Vec<Box<dyn LRScheduler<T>>>,
        milestones: &[usize],
    ) -> Result<Self> {
        let op = "SequentialLR";
        if schedulers.is_empty() {
            return Err(Error::invalid(
                op,
                "SequentialLR expects at least one scheduler, but got no scheduler.",
            ));
        }
        if milestones.len() != schedulers.len() - 1 {
            return Err(Error::invalid(
                op,
                format!(
                    "Sequential Schedulers expects number of schedulers provided to be one more than the number of \
                     milestone points, but got number of schedulers {} and the number of milestones to be equal to {}",
                    schedulers.len(),
                    milestones.len()
                ),
            ));
        }
        let Some(initial_lr) = opt.initial_lr() else {
            return Err(Error::invalid(
                op,
                "the optimizer has no initial_lr: build the schedulers on this optimizer first",
            ));
        };
        opt.set_lr(initial_lr);
        let mut sequence = Self {
            state: SchedulerState::new(opt),
            schedulers,
            milestones: milestones.to_vec(),
        };
        sequence.initial_step(opt)?;
        Ok(sequence)
    }

    /// Epoch 0 on the schedule that runs at epoch 0, by `start` (initial step or restart).
    fn start_at_zero(
        &mut self,
        opt: &mut dyn Optimizer<T>,
        start: fn(&mut dyn LRScheduler<T>, &mut dyn Optimizer<T>) -> Result<()>,
    ) -> Result<()> {
        self.state.last_epoch = 0;
        let scheduler = &mut self.schedulers[bisect_right(&self.milestones, 0)];
        start(scheduler.as_mut(), opt)?;
        self.state.last_lr = scheduler.get_last_lr();
        Ok(())
    }
}

impl<T: Float> fmt::Debug for SequentialLR<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SequentialLR")
            .field("state", &self.state)
            .field("schedulers", &self.schedulers.len())
            .field("milestones", &self.milestones)
            .finish()
    }
}

impl<T: Float> LRScheduler<T> for SequentialLR<T> {
    state_accessors!();

    fn get_lr(&mut self, _opt: &mut dyn Optimizer<T>) -> Result<f64> {
        Err(Error::invalid(
            "SequentialLR",
            "get_lr is not defined: its schedulers compute the rates",
        ))
    }

    /// The next epoch: the schedule of that epoch steps, or restarts if the epoch is its milestone.
    fn step(&mut self, opt: &mut dyn Optimizer<T>) -> Result<()> {
        self.state.last_epoch += 1;
        self.state.step_count += 1;
        let epoch = self.state.last_epoch;
        let idx = bisect_right(&self.milestones, epoch);
        let scheduler = &mut self.schedulers[idx];
        if idx > 0 && self.milestones[idx - 1] as i64 == epoch {
            scheduler.jump_to(opt, 0)?;
        } else {
            scheduler.step(opt)?;
        }
        self.state.last_lr = scheduler.get_last_lr();
        Ok(())
    }

    /// Epoch 0 again: the first schedule's initial step.
    fn initial_step(&mut self, opt: &mut dyn Optimizer<T>) -> Result<()> {
        self.state.step_count = 1;
        self.start_at_zero(opt, |s, opt| s.initial_step(opt))
    }

    /// Only epoch 0: the first schedule restarts (PyTorch cannot restart a SequentialLR).
    fn jump_to(&mut self, opt: &mut dyn Optimizer<T>, epoch: i64) -> Result<()> {
        if epoch != 0 {
            return Err(Error::invalid(
                "SequentialLR",
                format!("can only restart at epoch 0, not {epoch}"),
            ));
        }
        self.start_at_zero(opt, |s, opt| s.jump_to(opt, 0))
    }
}
