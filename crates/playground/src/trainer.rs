//! One model training on one data set: the optimizer, the monitor, the mini-batches, and the
//! snapshot of everything the page draws. It lives on its session's thread (its model, `Var`s
//! and hooks are not `Send`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use ferrograd_autograd::{is_grad_enabled, no_grad, Var};
use ferrograd_inspect::stats::{self};
use ferrograd_inspect::{Histogram, LayerKind, Monitor, MonitorOptions, StepRecord, Warning};
use ferrograd_nn::{Adam, AdamW, CrossEntropyLoss, Forward, HookHandle, Module, Optimizer, SGD};
use ferrograd_tensor::{IndexTensor, Result, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::api::{Config, UnitRequest};
use crate::data::Dataset;
use crate::model::Built;

/// Cells per side of the decision-boundary grid.
pub const BOUNDARY_GRID: usize = 50;
/// Cells per side of each hidden unit's map.
pub const UNIT_GRID: usize = 20;
/// The plane drawn: `[-EXTENT, EXTENT]²`.
pub const EXTENT: f32 = 1.5;
/// Bins of the histograms.
const BINS: usize = 30;

/// The hidden layers' outputs over the unit grid and their gradients at the last drawn step,
/// filled by forward hooks on the hidden activations.
#[derive(Default)]
struct ProbeState {
    capture_outputs: bool,
    capture_grads: bool,
    outputs: Vec<Option<Tensor<f32>>>,
    grads: Vec<Option<Tensor<f32>>>,
}

/// The forward hooks that fill a [`ProbeState`].
struct Probe<'m> {
    state: Rc<RefCell<ProbeState>>,
    _hooks: Vec<HookHandle<'m>>,
}

impl<'m> Probe<'m> {
    fn attach(built: &'m Built) -> Probe<'m> {
        let n = built.hidden_outputs.len();
        let state = Rc::new(RefCell::new(ProbeState {
            outputs: vec![None; n],
            grads: vec![None; n],
            ..ProbeState::default()
        }));
        let modules = built.model.named_modules();
        let hooks = built
            .hidden_outputs
            .iter()
            .enumerate()
            .filter_map(|(k, index)| {
                let (_, m) = modules.iter().find(|(name, _)| *name == index.to_string())?;
                let state = state.clone();
                Some(m.register_forward_hook(move |_, y| {
                    let Some(y) = y.downcast_ref::<Var<f32>>() else { return };
                    let Ok(mut s) = state.try_borrow_mut() else { return };
                    if s.capture_outputs {
                        s.outputs[k] = Some(y.to_tensor());
                    }
                    if s.capture_grads && is_grad_enabled() && y.requires_grad() {
                        let state = state.clone();
                        y.register_hook(move |g| {
                            if let Ok(mut s) = state.try_borrow_mut() {
                                s.grads[k] = Some(g.clone());
                            }
                            None
                        });
                    }
                }))
            })
            .collect();
        Probe { state, _hooks: hooks }
    }
}

/// What the page draws after a step (serialized to JSON as it is).
#[derive(Serialize)]
struct Snapshot<'a> {
    step: usize,
    playing: bool,
    steps_per_sec: f64,
    max_steps_per_sec: Option<f64>,
    config: &'a Config,
    classes: usize,
    batch_loss: Option<f64>,
    train_loss: f64,
    test_loss: f64,
    train_acc: f64,
    test_acc: f64,
    extent: f32,
    boundary: Boundary,
    units: Vec<UnitMaps>,
    monitor: Option<StepRecord>,
    warnings: Vec<Warning>,
    unit: Option<UnitRequest>,
    unit_grad: Option<UnitGrad>,
    train: Vec<[f32; 3]>,
    test: Vec<[f32; 3]>,
    error: Option<&'a str>,
}

/// The decision boundary over a `n`×`n` grid (rows from the top, `y = EXTENT` first).
#[derive(Serialize)]
struct Boundary {
    n: usize,
    /// The most probable class of each cell.
    class: Vec<u8>,
    /// Its probability, in percent.
    confidence: Vec<u8>,
}

/// One hidden layer's units over the unit grid.
#[derive(Serialize)]
struct UnitMaps {
    /// The layer's name in the monitor (its index in the `Sequential`).
    layer: String,
    n: usize,
    /// The largest absolute output over the grid; each map holds output / scale · 100.
    scale: f32,
    maps: Vec<Vec<i8>>,
}

/// The gradient of the loss reaching one hidden unit's output, over the batch of the last
/// drawn step.
#[derive(Serialize)]
struct UnitGrad {
    layer: usize,
    unit: usize,
    mean: f64,
    std: f64,
    hist: Histogram,
    /// Each batch point `[x, y, gradient]`.
    points: Vec<[f32; 3]>,
}

/// A model, its optimizer, its monitor and its data, trained step by step.
pub struct Trainer<'m> {
    /// The configuration the model was built from (its `lr` follows [`set_lr`](Trainer::set_lr)).
    pub config: Config,
    data: &'m Dataset,
    built: &'m Built,
    optimizer: Box<dyn Optimizer<f32>>,
    monitor: Monitor<'m>,
    probe: Probe<'m>,
    rng: StdRng,
    order: Vec<usize>,
    cursor: usize,
    last_batch: Vec<usize>,
    /// Steps taken since the model was built.
    pub step: usize,
    /// Whether the session trains continuously.
    pub playing: bool,
    /// The unit whose gradient the snapshots carry.
    pub unit: Option<UnitRequest>,
    /// The most steps per second while playing (`None`: as fast as it goes).
    pub max_steps_per_sec: Option<f64>,
    /// Why training stopped by itself (a loss that is no longer finite).
    pub error: Option<String>,
    batch_loss: Option<f64>,
    rate: (Instant, usize, f64),
}

impl<'m> Trainer<'m> {
    /// A fresh trainer of `built` on `data`, paused at step 0.
    pub fn new(config: &Config, data: &'m Dataset, built: &'m Built) -> Trainer<'m> {
        let params = built.model.parameters();
        let optimizer: Box<dyn Optimizer<f32>> = match config.optimizer.as_str() {
            "sgd" => Box::new(
                SGD::new(params, config.lr)
                    .momentum(config.momentum)
                    .weight_decay(config.l2),
            ),
            "adamw" => Box::new(AdamW::new(params, config.lr).weight_decay(config.l2)),
            _ => Box::new(Adam::new(params, config.lr).weight_decay(config.l2)),
        };
        let options = MonitorOptions {
            every: 5,
            histogram_steps: vec![],
            bins: BINS,
            ..MonitorOptions::default()
        };
        Trainer {
            config: config.clone(),
            data,
            built,
            optimizer,
            monitor: Monitor::attach(&built.model, options),
            probe: Probe::attach(built),
            rng: StdRng::seed_from_u64(config.seed ^ 0xba7c4),
            order: Vec::new(),
            cursor: 0,
            last_batch: Vec::new(),
            step: 0,
            playing: false,
            unit: None,
            max_steps_per_sec: None,
            error: None,
            batch_loss: None,
            rate: (Instant::now(), 0, 0.0),
        }
    }

    /// Changes the learning rate from the next step on.
    pub fn set_lr(&mut self, lr: f64) {
        self.optimizer.set_lr(lr);
        self.config.lr = lr;
    }

    /// The number of units of hidden layer `layer`, if there is one.
    pub fn width(&self, layer: usize) -> Option<usize> {
        self.config.hidden.get(layer).copied()
    }

    /// The next `batch_size` training points, reshuffled at each pass over the data.
    fn next_batch(&mut self) -> Vec<usize> {
        let n = self.data.train_x.len();
        (0..self.config.batch_size)
            .map(|_| {
                if self.cursor == self.order.len() {
                    self.order = (0..n).collect();
                    self.order.shuffle(&mut self.rng);
                    self.cursor = 0;
                }
                self.cursor += 1;
                self.order[self.cursor - 1]
            })
            .collect()
    }

    /// One optimizer step on a mini-batch; `drawn` marks a step a snapshot will show (the
    /// monitor records it with histograms, the probe keeps the gradients reaching each unit).
    pub fn train_step(&mut self, drawn: bool) -> Result<f64> {
        if drawn {
            self.monitor.record_histograms_now();
        }
        self.probe.state.borrow_mut().capture_grads = drawn;
        let batch = self.next_batch();
        let (x, y) = gather(&self.data.train_x, &self.data.train_y, &batch)?;
        let loss = CrossEntropyLoss::new().forward(&self.built.model.call(&Var::new(x))?, &y)?;
        self.optimizer.zero_grad();
        loss.backward()?;
        let value = f64::from(loss.item()?);
        self.monitor.before_step();
        self.optimizer.step()?;
        self.monitor.after_step(value);
        self.monitor.keep_last_steps(40);
        self.probe.state.borrow_mut().capture_grads = false;
        self.step += 1;
        self.batch_loss = Some(value);
        if drawn {
            self.last_batch = batch;
        }
        if !value.is_finite() {
            self.playing = false;
            self.error = Some(format!(
                "training stopped at step {}: the loss is {value}; lower the learning rate (lr = {}) and reset",
                self.step, self.config.lr
            ));
        }
        Ok(value)
    }

    /// Loss and accuracy over a set of points, in evaluation mode without gradients.
    fn evaluate(&self, xs: &[[f32; 2]], ys: &[usize]) -> Result<(f64, f64)> {
        let all: Vec<usize> = (0..xs.len()).collect();
        let (x, y) = gather(xs, ys, &all)?;
        let logits = self.built.model.call(&Var::new(x))?;
        let loss = CrossEntropyLoss::new().forward(&logits, &y)?.item()?;
        let predicted = logits.value().argmax(1, false)?.to_vec();
        let right = predicted.iter().zip(ys).filter(|(p, &y)| **p as usize == y).count();
        Ok((f64::from(loss), right as f64 / ys.len().max(1) as f64))
    }

    /// The model's outputs over an `n`×`n` grid of the plane, rows from the top.
    fn grid_logits(&self, n: usize) -> Result<Tensor<f32>> {
        let step = 2.0 * EXTENT / (n - 1) as f32;
        let points: Vec<f32> = (0..n * n)
            .flat_map(|i| [-EXTENT + (i % n) as f32 * step, EXTENT - (i / n) as f32 * step])
            .collect();
        Ok(self
            .built
            .model
            .call(&Var::new(Tensor::from_vec(points, &[n * n, 2])?))?
            .to_tensor())
    }

    /// Everything the page draws now, as JSON.
    pub fn snapshot(&mut self) -> Result<String> {
        let now = Instant::now();
        let (since, from_step, mut rate) = self.rate;
        let seconds = now.duration_since(since).as_secs_f64();
        if seconds >= 0.25 {
            rate = if self.playing {
                (self.step - from_step) as f64 / seconds
            } else {
                0.0
            };
            self.rate = (now, self.step, rate);
        }
        self.built.model.eval();
        let views = {
            let _guard = no_grad();
            (|| {
                let (train_loss, train_acc) = self.evaluate(&self.data.train_x, &self.data.train_y)?;
                let (test_loss, test_acc) = self.evaluate(&self.data.test_x, &self.data.test_y)?;
                let boundary = boundary(&self.grid_logits(BOUNDARY_GRID)?)?;
                self.probe.state.borrow_mut().capture_outputs = true;
                let grid = self.grid_logits(UNIT_GRID);
                self.probe.state.borrow_mut().capture_outputs = false;
                grid?;
                Ok::<_, ferrograd_tensor::Error>((train_loss, train_acc, test_loss, test_acc, boundary))
            })()
        };
        self.built.model.train();
        let (train_loss, train_acc, test_loss, test_acc, boundary) = views?;
        let units = self.unit_maps();
        let snapshot = Snapshot {
            step: self.step,
            playing: self.playing,
            steps_per_sec: rate,
            max_steps_per_sec: self.max_steps_per_sec,
            config: &self.config,
            classes: self.data.classes,
            batch_loss: self.batch_loss,
            train_loss,
            test_loss,
            train_acc,
            test_acc,
            extent: EXTENT,
            boundary,
            units,
            monitor: self.monitor.last_step(),
            warnings: self.monitor.warnings(),
            unit: self.unit,
            unit_grad: self.unit_grad(),
            train: points(&self.data.train_x, &self.data.train_y),
            test: points(&self.data.test_x, &self.data.test_y),
            error: self.error.as_deref(),
        };
        serde_json::to_string(&snapshot).map_err(|e| ferrograd_tensor::Error::invalid("snapshot", e.to_string()))
    }

    /// Each hidden unit's output over the unit grid, from the probe.
    fn unit_maps(&self) -> Vec<UnitMaps> {
        let s = self.probe.state.borrow();
        s.outputs
            .iter()
            .zip(&self.built.hidden_outputs)
            .filter_map(|(out, index)| {
                let out = out.as_ref()?;
                let (rows, width) = (out.shape()[0], *out.shape().get(1)?);
                let v = out.to_vec();
                let scale = v.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
                let maps = (0..width)
                    .map(|u| {
                        (0..rows)
                            .map(|r| (v[r * width + u] / scale * 100.0).round() as i8)
                            .collect()
                    })
                    .collect();
                Some(UnitMaps {
                    layer: index.to_string(),
                    n: UNIT_GRID,
                    scale,
                    maps,
                })
            })
            .collect()
    }

    /// The gradient reaching the chosen unit at the last drawn step, over its batch.
    fn unit_grad(&self) -> Option<UnitGrad> {
        let UnitRequest { layer, unit } = self.unit?;
        let s = self.probe.state.borrow();
        let g = s.grads.get(layer)?.as_ref()?;
        let width = *g.shape().get(1)?;
        if unit >= width {
            return None;
        }
        let column: Vec<f32> = g.to_vec().chunks(width).map(|row| row[unit]).collect();
        let t = Tensor::from_vec(column.clone(), &[column.len()]).ok()?;
        let (mean, std, _) = stats::mean_std(&t);
        let points = self
            .last_batch
            .iter()
            .zip(&column)
            .map(|(&i, &g)| [self.data.train_x[i][0], self.data.train_x[i][1], g])
            .collect();
        Some(UnitGrad {
            layer,
            unit,
            mean,
            std,
            hist: stats::histogram(&t, BINS, LayerKind::Other),
            points,
        })
    }
}

/// The rows `index` of the points and their classes, as a batch.
fn gather(xs: &[[f32; 2]], ys: &[usize], index: &[usize]) -> Result<(Tensor<f32>, IndexTensor)> {
    let x: Vec<f32> = index.iter().flat_map(|&i| xs[i]).collect();
    let y: Vec<i64> = index.iter().map(|&i| ys[i] as i64).collect();
    Ok((Tensor::from_vec(x, &[index.len(), 2])?, IndexTensor::from_slice(&y)))
}

fn boundary(logits: &Tensor<f32>) -> Result<Boundary> {
    let p = logits.softmax(1)?;
    let classes = p.shape()[1];
    let v = p.to_vec();
    let (class, confidence) = v
        .chunks(classes)
        .map(|row| {
            let (c, best) = row
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |b, (c, &q)| if q > b.1 { (c, q) } else { b });
            (c as u8, (best.clamp(0.0, 1.0) * 100.0).round() as u8)
        })
        .unzip();
    Ok(Boundary {
        n: (v.len() / classes).isqrt(),
        class,
        confidence,
    })
}

fn points(xs: &[[f32; 2]], ys: &[usize]) -> Vec<[f32; 3]> {
    let r = |v: f32| (v * 1000.0).round() / 1000.0;
    xs.iter().zip(ys).map(|(p, &c)| [r(p[0]), r(p[1]), c as f32]).collect()
}

/// Trains the session of `config` for `steps` steps without drawing anything, as the server's
/// thread would with no page open; returns the steps per second.
pub fn bench(config: &Config, steps: usize) -> std::result::Result<f64, crate::api::ApiError> {
    let data = crate::session::prepare(config)?;
    let built = config
        .model_spec()
        .build(2, data.classes, config.seed)
        .map_err(|e| crate::api::ApiError::bad(e.to_string()))?;
    let mut trainer = Trainer::new(config, &data, &built);
    let start = Instant::now();
    for _ in 0..steps {
        trainer
            .train_step(false)
            .map_err(|e| crate::api::ApiError::bad(e.to_string()))?;
    }
    Ok(steps as f64 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OPTIMIZERS;
    use crate::data::DATASETS;
    use crate::model::{ACTIVATIONS, INITS};

    /// Every activation, initialisation, optimizer and data set, with and without BatchNorm
    /// and dropout, trains and draws (a snapshot whose JSON holds every part).
    #[test]
    fn every_choice_trains_and_draws() {
        let mut k = 0;
        for activation in ACTIVATIONS {
            for init in INITS {
                for batch_norm in [false, true] {
                    k += 1;
                    let config = Config {
                        dataset: DATASETS[k % DATASETS.len()].into(),
                        points: 60,
                        hidden: vec![3, 2],
                        activation: activation.into(),
                        init: init.into(),
                        batch_norm,
                        dropout: if k % 3 == 0 { 0.2 } else { 0.0 },
                        optimizer: OPTIMIZERS[k % OPTIMIZERS.len()].into(),
                        l2: 1e-3,
                        batch_size: 2,
                        ..Config::default()
                    };
                    let what = format!("{activation} {init} batch_norm={batch_norm} {}", config.optimizer);
                    let data = crate::session::prepare(&config).unwrap();
                    let built = config.model_spec().build(2, data.classes, 0).unwrap();
                    let mut t = Trainer::new(&config, &data, &built);
                    t.unit = Some(UnitRequest { layer: 1, unit: 1 });
                    for i in 0..3 {
                        t.train_step(i == 2).unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                    let v: serde_json::Value = serde_json::from_str(&t.snapshot().unwrap()).unwrap();
                    assert_eq!(v["step"], 3, "{what}");
                    assert_eq!(v["units"][1]["maps"].as_array().unwrap().len(), 2, "{what}");
                    assert_eq!(v["unit_grad"]["points"].as_array().unwrap().len(), 2, "{what}");
                    assert!(v["monitor"]["layers"][0]["hist"].is_object(), "{what}");
                }
            }
        }
    }
}
