//! The 1cycle policy: OneCycleLR, which also cycles the optimizer's momentum.

use std::f64::consts::PI;
use std::marker::PhantomData;

use ferrograd_tensor::{Error, Float, Result};

use super::{LRScheduler, Optimizer, SchedulerState};

/// How [`OneCycleLR`] moves between two values within a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// Half a cosine: `end + (start - end)/2 · (1 + cos(π·pct))` (PyTorch's `"cos"`, the default).
    #[default]
    Cos,
    /// A straight line: `(end - start)·pct + start` (PyTorch's `"linear"`).
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// One phase of the cycle: up to step `end_step`, from one (rate, momentum) to another.
#[derive(Debug, Clone, Copy)]
struct Phase {
    end_step: f64,
    lr: (f64, f64),
    momentum: (f64, f64),
}

/// The 1cycle policy (`torch.optim.lr_scheduler.OneCycleLR`), stepped after every batch: the
/// rate rises from `max_lr / div_factor` to `max_lr` over the first `pct_start` of
/// `total_steps`, then falls to `initial_lr / final_div_factor`; with `three_phase` it first
/// falls back to the initial rate symmetrically and then to the minimum. The optimizer's
/// momentum (SGD's momentum, Adam's β1) moves inversely, between `max_momentum` and
/// `base_momentum`, unless `cycle_momentum` is off.
///
/// It sets the optimizer's `initial_lr` to `max_lr / div_factor` and its momentum to
/// `max_momentum` when built. Stepping more than `total_steps` times is an error in PyTorch's
/// words (`Tried to step 9 times. The specified number of total steps is 8`). With lr `max_lr`
/// 1 and 8 steps: .04, .819, .972, .812, .556, .283, .0766, 4e-6.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::lr_scheduler::{AnnealStrategy, LRScheduler, OneCycleLR};
/// use ferrograd_nn::{Adam, Optimizer};
/// use ferrograd_tensor::Tensor;
///
/// let mut opt = Adam::new(vec![Var::parameter(Tensor::<f32>::zeros(&[2]))], 1e-3);
/// let mut scheduler = OneCycleLR::builder(0.1, 100)
///     .anneal_strategy(AnnealStrategy::Linear)
///     .three_phase(true)
///     .build(&mut opt)?;
/// assert_eq!((opt.lr(), opt.betas.0), (0.1 / 25.0, 0.95));
/// scheduler.step(&mut opt)?;
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OneCycleLR<T: Float = f32> {
    state: SchedulerState,
    total_steps: usize,
    phases: Vec<Phase>,
    anneal: AnnealStrategy,
    cycle_momentum: bool,
    elem: PhantomData<T>,
}

impl<T: Float> OneCycleLR<T> {
    /// With PyTorch's defaults for everything but `max_lr` and `total_steps` (for `epochs` and
    /// `steps_per_epoch`, pass their product).
    pub fn new(opt: &mut dyn Optimizer<T>, max_lr: f64, total_steps: usize) -> Result<Self> {
        OneCycleLRBuilder::new(max_lr, total_steps).build(opt)
    }
}

impl OneCycleLR {
    /// The settings, to change before [`build`](OneCycleLRBuilder::build) attaches the
    /// scheduler to an optimizer of any element type (the same as [`OneCycleLRBuilder::new`]).
    pub fn builder(max_lr: f64, total_steps: usize) -> OneCycleLRBuilder {
        OneCycleLRBuilder::new(max_lr, total_steps)
    }
}

/// The settings of a [`OneCycleLR`], PyTorch's defaults until changed.
#[derive(Debug, Clone)]
pub struct OneCycleLRBuilder {
    max_lr: f64,
    total_steps: usize,
    pct_start: f64,
    anneal_strategy: AnnealStrategy,
    cycle_momentum: bool,
    base_momentum: f64,
    max_momentum: f64,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: bool,
}

impl OneCycleLRBuilder {
    /// Rising to `max_lr` and back over `total_steps`, with PyTorch's other defaults.
    pub fn new(max_lr: f64, total_steps: usize) -> Self {
        Self {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }

    /// The fraction of the steps spent raising the rate (default 0.3), in `[0, 1]`.
    pub fn pct_start(mut self, pct_start: f64) -> Self {
        self.pct_start = pct_start;
        self
    }

    /// Cosine (default) or linear annealing.
    pub fn anneal_strategy(mut self, anneal_strategy: AnnealStrategy) -> Self {
        self.anneal_strategy = anneal_strategy;
        self
    }

    /// Whether the momentum is cycled too (default true).
    pub fn cycle_momentum(mut self, cycle_momentum: bool) -> Self {
        self.cycle_momentum = cycle_momentum;
        self
    }

    /// The momentum at the peak rate (default 0.85).
    pub fn base_momentum(mut self, base_momentum: f64) -> Self {
        self.base_momentum = base_momentum;
        self
    }

    /// The momentum at the lowest rates (default 0.95).
    pub fn max_momentum(mut self, max_momentum: f64) -> Self {
        self.max_momentum = max_momentum;
        self
    }

    /// The initial rate is `max_lr / div_factor` (default 25).
    pub fn div_factor(mut self, div_factor: f64) -> Self {
        self.div_factor = div_factor;
        self
    }

    /// The final rate is `initial_lr / final_div_factor` (default 1e4).
    pub fn final_div_factor(mut self, final_div_factor: f64) -> Self {
        self.final_div_factor = final_div_factor;
        self
    }

    /// Three phases (up, down to the initial rate, down to the minimum) instead of two.
    pub fn three_phase(mut self, three_phase: bool) -> Self {
        self.three_phase = three_phase;
        self
    }

    /// Checks the settings in PyTorch's order and words, attaches to `opt` (its `initial_lr`,
    /// and its momentum set to `max_momentum`) and sets the rate of step 0.
    pub fn build<T: Float>(self, opt: &mut dyn Optimizer<T>) -> Result<OneCycleLR<T>> {
        let op = "OneCycleLR";
        let b = self;
        if b.total_steps == 0 {
            return Err(Error::invalid(op, "Expected positive integer total_steps, but got 0"));
        }
        if !(0.0..=1.0).contains(&b.pct_start) {
            return Err(Error::invalid(
                op,
                format!("Expected float between 0 and 1 pct_start, but got {}", b.pct_start),
            ));
        }
        if b.cycle_momentum && opt.momentum_or_beta1().is_none() {
            return Err(Error::invalid(
                op,
                "optimizer must support momentum or beta1 with `cycle_momentum` option enabled",
            ));
        }
        let total = b.total_steps as f64;
        let initial_lr = b.max_lr / b.div_factor;
        let min_lr = initial_lr / b.final_div_factor;
        let (low, high) = (b.max_momentum, b.base_momentum);
        let rise = b.pct_start * total - 1.0;
        let phases = if b.three_phase {
            vec![
                Phase {
                    end_step: rise,
                    lr: (initial_lr, b.max_lr),
                    momentum: (low, high),
                },
                Phase {
                    end_step: 2.0 * b.pct_start * total - 2.0,
                    lr: (b.max_lr, initial_lr),
                    momentum: (high, low),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (initial_lr, min_lr),
                    momentum: (low, low),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: rise,
                    lr: (initial_lr, b.max_lr),
                    momentum: (low, high),
                },
                Phase {
                    end_step: total - 1.0,
                    lr: (b.max_lr, min_lr),
                    momentum: (high, low),
                },
            ]
        };
        let mut scheduler = OneCycleLR {
            state: SchedulerState {
                base_lr: initial_lr,
                last_epoch: -1,
                step_count: 0,
                is_initial: false,
                last_lr: opt.lr(),
            },
            total_steps: b.total_steps,
            phases,
            anneal: b.anneal_strategy,
            cycle_momentum: b.cycle_momentum,
            elem: PhantomData,
        };
        scheduler.at(0)?; // step 0's faults before the optimizer changes
        opt.set_initial_lr(initial_lr);
        if b.cycle_momentum {
            opt.set_momentum_or_beta1(b.max_momentum);
        }
        scheduler.initial_step(opt)?;
        Ok(scheduler)
    }
}

impl<T: Float> LRScheduler<T> for OneCycleLR<T> {
    state_accessors!();

    /// The rate of the current step (and, when cycling, sets the momentum of that step).
    fn get_lr(&mut self, opt: &mut dyn Optimizer<T>) -> Result<f64> {
        let (lr, momentum) = self.at(self.state.last_epoch)?;
        if self.cycle_momentum {
            opt.set_momentum_or_beta1(momentum);
        }
        Ok(lr)
    }
}

impl<T: Float> OneCycleLR<T> {
    /// The rate and momentum of step `step_num`.
    fn at(&self, step_num: i64) -> Result<(f64, f64)> {
        if step_num > self.total_steps as i64 {
            return Err(Error::invalid(
                "OneCycleLR",
                format!(
                    "Tried to step {step_num} times. The specified number of total steps is {}",
                    self.total_steps
                ),
            ));
        }
        let step = step_num as f64;
        let mut start_step = 0.0;
        let last = self.phases.len() - 1;
        for (i, phase) in self.phases.iter().enumerate() {
            if step <= phase.end_step || i == last {
                let span = phase.end_step - start_step;
                if span == 0.0 {
                    // PyTorch raises ZeroDivisionError here
                    return Err(Error::invalid(
                        "OneCycleLR",
                        format!(
                            "phase {i} ends at step {} where it starts: float division by zero",
                            phase.end_step
                        ),
                    ));
                }
                let pct = (step - start_step) / span;
                let (lr, momentum) = (phase.lr, phase.momentum);
                return Ok((
                    self.anneal.anneal(lr.0, lr.1, pct),
                    self.anneal.anneal(momentum.0, momentum.1, pct),
                ));
            }
            start_step = phase.end_step;
        }
        unreachable!("the last phase always matches")
    }
}
