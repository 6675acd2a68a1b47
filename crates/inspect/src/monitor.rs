//! The training monitor: hooks on every layer of a model that record, at chosen steps, the
//! statistics of [`record`](crate::record), and warnings when they look wrong.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_nn::{HookHandle, Module, ModuleRef, Optimizer};
use ferrograd_tensor::{Float, Result, Tensor};

use crate::record::{LayerStats, ParamStats, Record, StepRecord, WarningKind};
use crate::stats::{self, kind_of};
use crate::warnings::{self, Thresholds};

/// What a [`Monitor`] records and when.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOptions {
    /// Record every `every`-th step (steps 0, `every`, 2·`every`, ...); 1 records every step,
    /// 0 only the histogram steps.
    pub every: usize,
    /// Steps at which the histograms of every layer's activations and output gradients are
    /// kept as well (these steps are recorded whatever `every` says).
    pub histogram_steps: Vec<usize>,
    /// Bins of each histogram.
    pub bins: usize,
    /// When a statistic raises a warning.
    pub thresholds: Thresholds,
}

impl Default for MonitorOptions {
    /// Every step, histograms at step 0, 40 bins, the default thresholds.
    fn default() -> Self {
        MonitorOptions {
            every: 1,
            histogram_steps: vec![0],
            bins: 40,
            thresholds: Thresholds::default(),
        }
    }
}

impl MonitorOptions {
    fn records(&self, step: usize) -> bool {
        (self.every > 0 && step.is_multiple_of(self.every)) || self.histogram_steps.contains(&step)
    }
}

/// What the hooks and the monitor share.
struct State {
    options: MonitorOptions,
    step: usize,
    recording: bool,
    histograms: bool,
    /// How often each group of modules (those at one place, see [`ModuleRef::same`]) was
    /// called in this step.
    calls: Vec<usize>,
    current: StepRecord,
    record: Record,
    warned: HashSet<(String, WarningKind)>,
}

impl State {
    fn start(&mut self, step: usize) {
        self.step = step;
        self.recording = self.options.records(step);
        self.histograms = self.options.histogram_steps.contains(&step);
        self.calls.iter_mut().for_each(|c| *c = 0);
        self.current = StepRecord {
            step,
            ..StepRecord::default()
        };
    }
}

/// Watches a model train: every layer's activations and output gradients, every parameter's
/// gradient and update, at the steps [`MonitorOptions`] chooses, with [`Warning`](crate::Warning)s
/// naming the layer and the step.
///
/// ```
/// use ferrograd_autograd::{is_grad_enabled, Var};
/// use ferrograd_inspect::{Monitor, MonitorOptions};
/// use ferrograd_nn::{Forward, Linear, Module, Optimizer, Sequential, Tanh, SGD};
/// use ferrograd_tensor::Tensor;
///
/// let model: Sequential = Sequential::new().add(Linear::new(4, 8, 0)).add(Tanh).add(Linear::new(8, 1, 1));
/// let mut opt = SGD::new(model.parameters(), 0.1);
/// let mut mon = Monitor::attach(&model, MonitorOptions::default());
/// let x = Var::new(Tensor::randn(&[16, 4], 0));
/// for _ in 0..3 {
///     let loss = model.call(&x)?.powf(2.0).mean(); // `call` runs the hooks
///     opt.zero_grad();
///     loss.backward()?;
///     mon.step(&mut opt, loss.item()? as f64)?; // opt.step() between before_step and after_step
/// }
/// let record = mon.record();
/// assert_eq!(record.steps.len(), 3);
/// assert_eq!(record.steps[2].layers[1].layer, "1"); // the Tanh
/// assert!(record.steps[2].params[0].update_ratio_log10.is_some());
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
pub struct Monitor<'m, T: Float = f32> {
    state: Rc<RefCell<State>>,
    params: Vec<(String, Var<T>)>,
    /// Each parameter's data before the optimizer step, at a recorded step.
    before: Vec<Option<Tensor<T>>>,
    _hooks: Vec<HookHandle<'m>>,
}

impl<'m, T: Float + 'static> Monitor<'m, T> {
    /// Attaches to `model`: a forward hook on every module without sub-modules (the layers),
    /// which runs when the layer is [`call`](ferrograd_nn::Forward::call)ed (every layer of a
    /// `Sequential` is). The monitor borrows the model; dropping it takes the hooks off.
    ///
    /// At a recorded step each layer's first call with gradients on is recorded (its output
    /// and, through a gradient hook on that output, the gradient reaching it); later calls in
    /// the same step and calls under `no_grad` (an evaluation pass) are not.
    pub fn attach<M: Module<T> + ?Sized>(model: &'m M, options: MonitorOptions) -> Self {
        let modules = model.named_modules();
        let leaves: Vec<&(String, ModuleRef<'m>)> = modules
            .iter()
            .filter(|(name, _)| {
                let prefix = format!("{name}.");
                modules.len() == 1 || (!name.is_empty() && !modules.iter().any(|(n, _)| n.starts_with(&prefix)))
            })
            .collect();
        // Modules at the same place (zero-sized fields of one type) share their hooks: the
        // group's calls are named in order.
        let mut groups: Vec<(ModuleRef<'m>, Vec<String>)> = Vec::new();
        for (name, m) in leaves {
            match groups.iter_mut().find(|(g, _)| g.same(m)) {
                Some((_, names)) => names.push(name.clone()),
                None => groups.push((*m, vec![name.clone()])),
            }
        }
        let mut state = State {
            options,
            step: 0,
            recording: false,
            histograms: false,
            calls: vec![0; groups.len()],
            current: StepRecord::default(),
            record: Record::default(),
            warned: HashSet::new(),
        };
        state.start(0);
        let state = Rc::new(RefCell::new(state));
        let hooks = groups
            .into_iter()
            .enumerate()
            .map(|(g, (m, names))| {
                let (state, module_type) = (state.clone(), m.type_name());
                m.register_forward_hook(move |_: &dyn Any, y: &dyn Any| {
                    if let Some(y) = y.downcast_ref::<Var<T>>() {
                        on_output(&state, g, &names, module_type, y);
                    }
                })
            })
            .collect();
        let params = model.named_parameters();
        Monitor {
            state,
            before: vec![None; params.len()],
            params,
            _hooks: hooks,
        }
    }

    /// The step being recorded now (counted from 0, one per [`after_step`](Monitor::after_step)).
    pub fn step_index(&self) -> usize {
        self.state.borrow().step
    }

    /// Call after `backward` and before the optimizer step: reads each parameter's data and
    /// gradient (at a recorded step).
    pub fn before_step(&mut self) {
        let mut s = self.state.borrow_mut();
        if !s.recording {
            return;
        }
        s.current.params.clear();
        for ((name, p), before) in self.params.iter().zip(&mut self.before) {
            let data = p.to_tensor();
            let (_, data_std, _) = stats::mean_std(&data);
            let grad_std = p.grad_ref().map(|g| stats::mean_std(&g).1);
            s.current.params.push(ParamStats {
                name: name.clone(),
                shape: data.shape().to_vec(),
                data_std,
                grad_std,
                grad_data_ratio: grad_std.filter(|_| data_std > 0.0).map(|g| g / data_std),
                update_ratio_log10: None,
            });
            *before = Some(data);
        }
    }

    /// Call after the optimizer step, with the step's loss: measures each update against the
    /// data before it, raises the step's warnings and moves on to the next step.
    pub fn after_step(&mut self, loss: f64) {
        let mut s = self.state.borrow_mut();
        if s.recording {
            for (((_, p), before), stats) in self.params.iter().zip(&mut self.before).zip(&mut s.current.params) {
                let Some(before) = before.take() else { continue };
                let Some((_, delta_std, _)) = stats::mean_std_of_difference(&p.value(), &before) else {
                    continue;
                };
                if delta_std > 0.0 && stats.data_std > 0.0 {
                    stats.update_ratio_log10 = Some((delta_std / stats.data_std).log10());
                }
            }
            s.current.loss = Some(loss);
            let step = std::mem::take(&mut s.current);
            let State {
                options,
                warned,
                record,
                ..
            } = &mut *s;
            for w in warnings::check(&step, &record.steps, &options.thresholds) {
                if warned.insert((w.layer.clone(), w.kind)) {
                    record.warnings.push(w);
                }
            }
            record.steps.push(step);
        }
        let next = s.step + 1;
        s.start(next);
    }

    /// [`before_step`](Monitor::before_step), `optimizer.step()`, then
    /// [`after_step`](Monitor::after_step): the optimizer step of a training loop, watched.
    pub fn step(&mut self, optimizer: &mut impl Optimizer<T>, loss: f64) -> Result<()> {
        self.before_step();
        optimizer.step()?;
        self.after_step(loss);
        Ok(())
    }

    /// Records the step about to run (the one of [`step_index`](Monitor::step_index)) with
    /// histograms of every layer's activations and output gradients, whatever the options
    /// say. Call it before the step's forward pass: a live view asks for histograms when it
    /// draws, not at steps chosen in advance.
    pub fn record_histograms_now(&mut self) {
        let mut s = self.state.borrow_mut();
        s.recording = true;
        s.histograms = true;
    }

    /// Forgets every recorded step but the last `n`, so that a monitor watching a long run
    /// keeps its memory bounded; the warnings raised so far are kept (the update-ratio
    /// warning averages over [`Thresholds::update_window`] recorded steps: keep at least that many).
    pub fn keep_last_steps(&mut self, n: usize) {
        let mut s = self.state.borrow_mut();
        let steps = &mut s.record.steps;
        let drop = steps.len().saturating_sub(n);
        steps.drain(..drop);
    }

    /// The last recorded step, if any (a copy).
    pub fn last_step(&self) -> Option<StepRecord> {
        self.state.borrow().record.steps.last().cloned()
    }

    /// Everything recorded so far (a copy).
    pub fn record(&self) -> Record {
        self.state.borrow().record.clone()
    }

    /// The warnings raised so far, each (layer, kind) once: at the first step it was seen.
    pub fn warnings(&self) -> Vec<crate::Warning> {
        self.state.borrow().record.warnings.clone()
    }

    /// Takes the hooks off and returns the record.
    pub fn into_record(self) -> Record {
        let record = self.state.borrow().record.clone();
        record
    }
}

/// A forward hook's work: the statistics of layer output `y` and a gradient hook on it.
fn on_output<T: Float + 'static>(
    state: &Rc<RefCell<State>>,
    group: usize,
    names: &[String],
    module_type: &'static str,
    y: &Var<T>,
) {
    let Ok(mut s) = state.try_borrow_mut() else { return };
    if !s.recording || !is_grad_enabled() {
        return;
    }
    let call = s.calls[group];
    s.calls[group] += 1;
    let name = &names[call % names.len()];
    if s.current.layers.iter().any(|l| &l.layer == name) {
        return;
    }
    let kind = kind_of(module_type);
    let value = y.value();
    let (mean, std, _) = stats::mean_std(&value);
    let hist = s.histograms.then(|| stats::histogram(&value, s.options.bins, kind));
    s.current.layers.push(LayerStats {
        layer: name.clone(),
        module_type: module_type.to_string(),
        kind,
        shape: value.shape().to_vec(),
        mean,
        std,
        saturated: stats::saturated(kind, &value),
        dead: stats::dead(kind, &value),
        grad_mean: None,
        grad_std: None,
        hist,
        grad_hist: None,
    });
    drop(value);
    if !y.requires_grad() {
        return;
    }
    let (index, step, state) = (s.current.layers.len() - 1, s.step, state.clone());
    drop(s);
    y.register_hook(move |g| {
        let Ok(mut s) = state.try_borrow_mut() else { return None };
        if s.step != step || !s.recording {
            return None;
        }
        let (mean, std, _) = stats::mean_std(g);
        let hist = s
            .histograms
            .then(|| stats::histogram(g, s.options.bins, crate::LayerKind::Other));
        if let Some(layer) = s.current.layers.get_mut(index) {
            layer.grad_mean = Some(mean);
            layer.grad_std = Some(std);
            layer.grad_hist = hist;
        }
        None
    });
}
