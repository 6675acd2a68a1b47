//! The schedulers of `ferrograd_nn::lr_scheduler` against `torch.optim.lr_scheduler`: every
//! case of `tests/fixtures/schedulers.json` (written by `tests/fixtures/generate_schedulers.py`
//! with PyTorch: the rate, and SGD's momentum or Adam's β1, after construction and after each
//! of 30 steps, for a grid of settings), plus PyTorch's errors for invalid arguments.

use crate::common;

use common::fixture;
use ferrograd_autograd::Var;
use ferrograd_nn::lr_scheduler::{
    AnnealStrategy, CosineAnnealingLR, ExponentialLR, LRScheduler, LambdaLR, LinearLR, MultiStepLR, OneCycleLR,
    SequentialLR, StepLR,
};
use ferrograd_nn::{Adam, AdamW, Optimizer, SGD};
use ferrograd_tensor::{Result, Tensor};
use serde_json::Value;

type Scheduler = Box<dyn LRScheduler<f32>>;

fn params() -> Vec<Var<f32>> {
    vec![Var::parameter(Tensor::zeros(&[2]))]
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn n(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

fn optimizer(spec: &Value) -> Box<dyn Optimizer<f32>> {
    let lr = f(&spec["lr"]);
    let betas = || (f(&spec["betas"][0]), f(&spec["betas"][1]));
    match spec["kind"].as_str().unwrap() {
        "sgd" => Box::new(SGD::new(params(), lr).momentum(f(&spec["momentum"]))),
        "adam" => Box::new(Adam::new(params(), lr).betas(betas().0, betas().1)),
        "adamw" => Box::new(AdamW::new(params(), lr).betas(betas().0, betas().1)),
        other => panic!("optimizer {other}"),
    }
}

/// The LambdaLR factors of the script's `LAMBDAS`, by name.
fn lambda(name: &str) -> fn(usize) -> f64 {
    match name {
        "pow095" => |epoch| 0.95f64.powf(epoch as f64),
        "warmup5" => |epoch| f64::min(1.0, (epoch + 1) as f64 / 5.0),
        "inv_sqrt" => |epoch| 1.0 / ((epoch + 1) as f64).sqrt(),
        other => panic!("lambda {other}"),
    }
}

fn scheduler(opt: &mut dyn Optimizer<f32>, spec: &Value) -> Result<Scheduler> {
    Ok(match spec["kind"].as_str().unwrap() {
        "StepLR" => Box::new(StepLR::new(opt, n(&spec["step_size"]), f(&spec["gamma"]))?),
        "MultiStepLR" => {
            let milestones: Vec<usize> = spec["milestones"].as_array().unwrap().iter().map(n).collect();
            Box::new(MultiStepLR::new(opt, &milestones, f(&spec["gamma"]))?)
        }
        "ExponentialLR" => Box::new(ExponentialLR::new(opt, f(&spec["gamma"]))?),
        "CosineAnnealingLR" => Box::new(CosineAnnealingLR::new(opt, n(&spec["T_max"]), f(&spec["eta_min"]))?),
        "LinearLR" => Box::new(LinearLR::new(
            opt,
            f(&spec["start_factor"]),
            f(&spec["end_factor"]),
            n(&spec["total_iters"]),
        )?),
        "LambdaLR" => Box::new(LambdaLR::new(opt, lambda(spec["lambda"].as_str().unwrap()))?),
        "OneCycleLR" => {
            let anneal = match spec["anneal_strategy"].as_str().unwrap() {
                "cos" => AnnealStrategy::Cos,
                _ => AnnealStrategy::Linear,
            };
            Box::new(
                OneCycleLR::builder(f(&spec["max_lr"]), n(&spec["total_steps"]))
                    .pct_start(f(&spec["pct_start"]))
                    .anneal_strategy(anneal)
                    .cycle_momentum(spec["cycle_momentum"].as_bool().unwrap())
                    .base_momentum(f(&spec["base_momentum"]))
                    .max_momentum(f(&spec["max_momentum"]))
                    .div_factor(f(&spec["div_factor"]))
                    .final_div_factor(f(&spec["final_div_factor"]))
                    .three_phase(spec["three_phase"].as_bool().unwrap())
                    .build(opt)?,
            )
        }
        "SequentialLR" => {
            let inner = spec["schedulers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| scheduler(opt, s))
                .collect::<Result<Vec<_>>>()?;
            let milestones: Vec<usize> = spec["milestones"].as_array().unwrap().iter().map(n).collect();
            Box::new(SequentialLR::new(opt, inner, &milestones)?)
        }
        other => panic!("scheduler {other}"),
    })
}

#[test]
fn every_schedule_matches_pytorch_to_the_last_bit() {
    let doc = fixture("schedulers.json");
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 31);
    let steps = n(&doc["steps"]);
    let mut compared = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut opt = optimizer(&case["optimizer"]);
        let mut s = scheduler(opt.as_mut(), &case["scheduler"]).unwrap();
        let (lrs, momenta) = (case["lrs"].as_array().unwrap(), case["momenta"].as_array().unwrap());
        let error_step = case["error"]["step"].as_u64().map(|k| k as usize);
        for k in 0..=steps {
            if k > 0 {
                let stepped = s.step(opt.as_mut());
                if Some(k) == error_step {
                    let message = stepped.unwrap_err().to_string();
                    let want = case["error"]["message"].as_str().unwrap();
                    assert!(message.ends_with(want), "{name}: {message}");
                    break;
                }
                stepped.unwrap_or_else(|e| panic!("{name} step {k}: {e}"));
            }
            assert_eq!(opt.lr(), f(&lrs[k]), "{name}: lr after {k} steps");
            assert_eq!(s.get_last_lr(), opt.lr(), "{name}: get_last_lr after {k} steps");
            let momentum = opt.momentum_or_beta1().unwrap();
            assert_eq!(momentum, f(&momenta[k]), "{name}: momentum after {k} steps");
            compared += 1;
        }
    }
    println!("{compared} rates and momenta equal to PyTorch's");
}

// The reference values of the layer notes, rounded (lr 1.0, values after 0, 1, 2, ... steps).
#[test]
fn the_documented_schedules() {
    let run = |build: &dyn Fn(&mut SGD<f32>) -> Scheduler, steps: usize| {
        let mut opt = SGD::new(params(), 1.0);
        let mut s = build(&mut opt);
        let mut lrs = vec![opt.lr];
        for _ in 0..steps {
            s.step(&mut opt).unwrap();
            lrs.push(opt.lr);
        }
        lrs
    };
    let close = |got: Vec<f64>, want: &[f64]| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            // the notes give three significant digits
            let tol = 0.5 * 10f64.powf(w.abs().log10().floor() - 2.0);
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    };
    close(
        run(&|o| Box::new(StepLR::new(o, 3, 0.1).unwrap()), 6),
        &[1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01],
    );
    close(
        run(&|o| Box::new(LinearLR::new(o, 1.0 / 3.0, 1.0, 5).unwrap()), 5),
        &[0.333, 0.467, 0.6, 0.733, 0.867, 1.0],
    );
    close(
        run(&|o| Box::new(CosineAnnealingLR::new(o, 4, 0.1).unwrap()), 6),
        &[1.0, 0.868, 0.55, 0.232, 0.1, 0.232, 0.55],
    );
    close(
        run(&|o| Box::new(OneCycleLR::new(o, 1.0, 8).unwrap()), 7),
        &[0.04, 0.819, 0.972, 0.812, 0.556, 0.283, 0.0766, 4e-6],
    );
}

// opt = torch.optim.SGD([p], lr=1.0); s = ExponentialLR(opt, 0.9); s.step()
// opt.param_groups[0]["lr"] = 0.5; s.step(); opt.param_groups[0]["lr"] -> 0.45
#[test]
fn a_rate_changed_between_steps_is_carried_along() {
    let mut opt = SGD::new(params(), 1.0);
    let mut s = ExponentialLR::new(&mut opt, 0.9).unwrap();
    s.step(&mut opt).unwrap();
    opt.set_lr(0.5);
    s.step(&mut opt).unwrap();
    assert_eq!((opt.lr(), s.get_last_lr(), s.last_epoch()), (0.45, 0.45, 2));
    // a second scheduler starts from the same initial_lr, not from the current rate
    assert_eq!(opt.initial_lr(), Some(1.0));
    let second = StepLR::new(&mut opt, 2, 0.5).unwrap();
    assert_eq!((second.state().base_lr, second.get_last_lr()), (1.0, 0.45));
}

#[test]
fn optimizers_expose_their_rate_and_momentum() {
    let mut sgd = SGD::new(params(), 0.1).momentum(0.9);
    assert_eq!(
        (sgd.lr(), sgd.momentum_or_beta1(), sgd.initial_lr()),
        (0.1, Some(0.9), None)
    );
    sgd.set_lr(0.2);
    sgd.set_momentum_or_beta1(0.8);
    assert_eq!((sgd.lr, sgd.momentum), (0.2, 0.8));
    let mut adamw = AdamW::new(params(), 1e-3).betas(0.9, 0.99);
    adamw.set_momentum_or_beta1(0.85);
    adamw.set_lr(3e-4);
    assert_eq!((adamw.betas, adamw.lr), ((0.85, 0.99), 3e-4));
    // the rate set is the rate a step uses: one SGD step of size lr against a unit gradient
    let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
    let mut opt = SGD::new(vec![w.clone()], 1.0);
    opt.set_lr(0.25);
    w.set_grad(Some(Tensor::ones(&[1]))).unwrap();
    opt.step().unwrap();
    assert_eq!(w.to_tensor().to_vec(), [-0.25]);
}

fn error(built: Result<impl Sized>) -> String {
    match built {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

// LinearLR(opt, start_factor=0) -> ValueError: Starting multiplicative factor expected to be greater
//   than 0 and less or equal to 1.
// LinearLR(opt, end_factor=1.5) -> ValueError: Ending multiplicative factor expected to be between 0 and 1.
// OneCycleLR(opt, 1.0, total_steps=0) -> ValueError: Expected positive integer total_steps, but got 0
// OneCycleLR(opt, 1.0, 10, pct_start=1.5) -> ValueError: Expected float between 0 and 1 pct_start, but got 1.5
// SequentialLR(opt, [], []) -> ValueError: SequentialLR expects at least one scheduler, but got no scheduler.
// SequentialLR(opt, [s1, s2], []) -> ValueError: Sequential Schedulers expects number of schedulers provided to
//   be one more than the number of milestone points, but got number of schedulers 2 and the number of
//   milestones to be equal to 0
#[test]
fn invalid_arguments_are_errors_in_pytorchs_words() {
    let mut opt = SGD::new(params(), 1.0);
    assert_eq!(
        error(LinearLR::new(&mut opt, 0.0, 1.0, 5)),
        "LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1."
    );
    assert_eq!(
        error(LinearLR::new(&mut opt, 0.5, 1.5, 5)),
        "LinearLR: Ending multiplicative factor expected to be between 0 and 1."
    );
    assert!(error(LinearLR::new(&mut opt, f64::NAN, 1.0, 5)).contains("Starting multiplicative factor"));
    assert_eq!(
        error(OneCycleLR::new(&mut opt, 1.0, 0)),
        "OneCycleLR: Expected positive integer total_steps, but got 0"
    );
    assert_eq!(
        error(OneCycleLR::builder(1.0, 10).pct_start(1.5).build(&mut opt)),
        "OneCycleLR: Expected float between 0 and 1 pct_start, but got 1.5"
    );
    // total_steps 4, pct_start 0.25: the first phase ends at step 0, where PyTorch divides by zero
    assert!(error(OneCycleLR::builder(1.0, 4).pct_start(0.25).build(&mut opt)).contains("division by zero"));
    assert!(error(StepLR::new(&mut opt, 0, 0.1)).contains("step_size"));
    assert!(error(CosineAnnealingLR::new(&mut opt, 0, 0.0)).contains("T_max"));
    // nothing above attached a scheduler
    assert_eq!((opt.lr(), opt.initial_lr()), (1.0, None));
    let e = error(SequentialLR::new(&mut opt, vec![], &[]));
    assert_eq!(
        e,
        "SequentialLR: SequentialLR expects at least one scheduler, but got no scheduler."
    );
    let first: Scheduler = Box::new(ExponentialLR::new(&mut opt, 0.9).unwrap());
    let second: Scheduler = Box::new(StepLR::new(&mut opt, 2, 0.5).unwrap());
    assert_eq!(
        error(SequentialLR::new(&mut opt, vec![first, second], &[])),
        "SequentialLR: Sequential Schedulers expects number of schedulers provided to be one more than the number \
         of milestone points, but got number of schedulers 2 and the number of milestones to be equal to 0"
    );
    let mut fresh = SGD::new(params(), 1.0);
    let orphan: Scheduler = Box::new(ExponentialLR::new(&mut opt, 0.9).unwrap());
    assert!(error(SequentialLR::new(&mut fresh, vec![orphan], &[])).contains("no initial_lr"));
}

// OneCycleLR(opt, 1.0, 10) on an optimizer without momentum: ValueError: optimizer must support
// momentum or beta1 with `cycle_momentum` option enabled (ferrograd's SGD and Adam both have one,
// so an optimizer of the test's own shows it)
#[test]
fn one_cycle_needs_a_momentum_to_cycle() {
    struct Plain(f64, Option<f64>);
    impl Optimizer<f32> for Plain {
        fn step(&mut self) -> Result<()> {
            Ok(())
        }
        fn zero_grad(&mut self) {}
        fn lr(&self) -> f64 {
            self.0
        }
        fn set_lr(&mut self, lr: f64) {
            self.0 = lr;
        }
        fn initial_lr(&self) -> Option<f64> {
            self.1
        }
        fn set_initial_lr(&mut self, lr: f64) {
            self.1 = Some(lr);
        }
    }
    let mut opt = Plain(0.1, None);
    assert_eq!(
        error(OneCycleLR::new(&mut opt, 1.0, 10)),
        "OneCycleLR: optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
    );
    let s = OneCycleLR::builder(1.0, 10)
        .cycle_momentum(false)
        .build(&mut opt)
        .unwrap();
    // 1/25 through the cosine at 0 as PyTorch computes it (schedulers.json, "OneCycleLR(1, 30) ...")
    assert_eq!(
        (opt.lr(), s.get_last_lr()),
        (0.040000000000000036, 0.040000000000000036)
    );
}
