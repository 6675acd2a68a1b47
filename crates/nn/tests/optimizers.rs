//! SGD, Adam and AdamW against torch.optim: every `optimizer_steps` case of
//! `tests/fixtures/nn_reference.json` (float64, four given gradients, the parameter after
//! each step), plus defaults and PyTorch's errors for invalid hyperparameters.

use crate::common;

use common::{assert_close, fixture, optimizer, tensor};
use ferrograd_autograd::Var;
use ferrograd_nn::{Adam, AdamW, Optimizer, SGD};
use ferrograd_tensor::{Error, Tensor};

#[test]
fn every_optimizer_step_matches_pytorch_in_f64() {
    let doc = fixture("nn_reference.json");
    let cases = doc["optimizer_steps"].as_array().unwrap();
    assert_eq!(cases.len(), 17);
    let mut worst = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let p = Var::parameter(tensor::<f64>(&case["param"]));
        let mut opt = optimizer(&case["optimizer"], vec![p.clone()]);
        let steps = case["grads"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["params_after"].as_array().unwrap());
        for (k, (g, want)) in steps.enumerate() {
            p.set_grad(Some(tensor(g))).unwrap();
            opt.step().unwrap();
            worst = worst.max(assert_close(
                &format!("{name} step {k}"),
                &p.to_tensor(),
                want,
                1e-12,
                1e-15,
            ));
        }
    }
    println!("optimizer steps: largest relative deviation {worst:.2e}");
}

fn param() -> Var<f64> {
    Var::parameter(Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap())
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn defaults_are_torchs() {
    let adam = Adam::new(vec![param()], 1e-3);
    assert_eq!(
        (adam.betas, adam.eps, adam.weight_decay, adam.amsgrad),
        ((0.9, 0.999), 1e-8, 0.0, false)
    );
    assert!(!adam.decoupled_weight_decay);
    let adamw = AdamW::new(vec![param()], 1e-3);
    assert_eq!((adamw.betas, adamw.eps, adamw.weight_decay), ((0.9, 0.999), 1e-8, 0.01));
    assert!(adamw.decoupled_weight_decay);
    let sgd = SGD::new(vec![param()], 1e-3);
    assert_eq!(
        (sgd.momentum, sgd.dampening, sgd.weight_decay, sgd.nesterov),
        (0.0, 0.0, 0.0, false)
    );
}

#[test]
fn invalid_hyperparameters_are_errors_with_pytorchs_words() {
    let step = |mut opt: Box<dyn Optimizer<f64>>| message(opt.step().unwrap_err());
    let adam = |lr| Adam::new(vec![param()], lr);
    assert_eq!(step(Box::new(adam(-1.0))), "Adam: Invalid learning rate: -1");
    assert_eq!(step(Box::new(adam(f64::NAN))), "Adam: Invalid learning rate: NaN");
    assert_eq!(
        step(Box::new(adam(0.1).eps(-1e-8))),
        "Adam: Invalid epsilon value: -0.00000001"
    );
    assert_eq!(
        step(Box::new(adam(0.1).betas(1.0, 0.999))),
        "Adam: Invalid beta parameter at index 0: 1"
    );
    assert_eq!(
        step(Box::new(adam(0.1).betas(0.9, -0.5))),
        "Adam: Invalid beta parameter at index 1: -0.5"
    );
    assert_eq!(
        step(Box::new(adam(0.1).weight_decay(-0.1))),
        "Adam: Invalid weight_decay value: -0.1"
    );
    assert_eq!(
        step(Box::new(AdamW::new(vec![param()], -1.0))),
        "AdamW: Invalid learning rate: -1"
    );
    assert_eq!(
        step(Box::new(SGD::new(vec![param()], -1.0))),
        "SGD: Invalid learning rate: -1"
    );
    assert_eq!(
        step(Box::new(SGD::new(vec![param()], 0.1).momentum(-0.5))),
        "SGD: Invalid momentum value: -0.5"
    );
    assert_eq!(
        step(Box::new(SGD::new(vec![param()], 0.1).nesterov(true))),
        "SGD: Nesterov momentum requires a momentum and zero dampening"
    );
}

#[test]
fn a_failed_step_changes_nothing_and_parameters_without_gradients_are_skipped() {
    let (a, b) = (param(), param());
    a.set_grad(Some(Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap()))
        .unwrap();
    let mut bad = Adam::new(vec![a.clone(), b.clone()], -1.0);
    assert!(bad.step().is_err());
    assert_eq!(a.to_tensor().to_vec(), vec![1.0, -2.0]);

    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1);
    opt.step().unwrap();
    assert_ne!(a.to_tensor().to_vec(), vec![1.0, -2.0]);
    assert_eq!(b.to_tensor().to_vec(), vec![1.0, -2.0]);
    opt.zero_grad();
    assert!(a.grad().is_none());
}

#[test]
fn adamw_reads_and_sets_its_hyperparameters_as_adams() {
    let p = param();
    let mut opt = AdamW::new(vec![p.clone()], 0.1).weight_decay(0.5);
    opt.lr = 0.0; // only the decoupled decay p·(1 - lr·wd) acts, and it is 1 at lr 0
    p.set_grad(Some(Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap()))
        .unwrap();
    opt.step().unwrap();
    assert_eq!(p.to_tensor().to_vec(), vec![1.0, -2.0]);
}

/// Three parameters of 16 K values, with gradients, after `steps` steps of `make`'s optimizer
/// over them (or of one optimizer per parameter), in a pool of `threads`.
fn three_parameters_after(
    threads: usize,
    one_optimizer: bool,
    make: fn(Vec<Var<f32>>) -> Box<dyn Optimizer<f32>>,
) -> Vec<Vec<f32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let params: Vec<_> = (0..3)
            .map(|i| Var::parameter(Tensor::<f32>::randn(&[128, 128], i)))
            .collect();
        let mut opts = if one_optimizer {
            vec![make(params.clone())]
        } else {
            params.iter().map(|p| make(vec![p.clone()])).collect()
        };
        for step in 0..3 {
            for (i, p) in params.iter().enumerate() {
                p.set_grad(Some(Tensor::randn(&[128, 128], 10 + 3 * step + i as u64)))
                    .unwrap();
            }
            opts.iter_mut().for_each(|o| o.step().unwrap());
        }
        params.iter().map(|p| p.to_tensor().to_vec()).collect()
    })
}

#[test]
fn adam_over_many_parameters_is_each_parameters_step_on_one_thread_or_two() {
    // 48 K values in all: the step's blocks are shared between two threads.
    let adamw = |params| Box::new(AdamW::new(params, 0.01).betas(0.9, 0.99)) as Box<dyn Optimizer<f32>>;
    let alone = three_parameters_after(1, false, adamw);
    assert_eq!(three_parameters_after(1, true, adamw), alone);
    assert_eq!(three_parameters_after(2, true, adamw), alone);
    let adam = |params| Box::new(Adam::new(params, 0.01).weight_decay(0.1)) as Box<dyn Optimizer<f32>>;
    assert_eq!(
        three_parameters_after(2, true, adam),
        three_parameters_after(1, false, adam)
    );
}

#[test]
fn a_parameter_listed_twice_is_updated_twice_in_turn() {
    let (p, q) = (param(), param());
    let g = Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap();
    let mut twice = Adam::new(vec![p.clone(), p.clone()], 0.1);
    let (mut first, mut second) = (Adam::new(vec![q.clone()], 0.1), Adam::new(vec![q.clone()], 0.1));
    for _ in 0..2 {
        p.set_grad(Some(g.clone())).unwrap();
        q.set_grad(Some(g.clone())).unwrap();
        twice.step().unwrap();
        first.step().unwrap();
        second.step().unwrap();
    }
    assert_eq!(p.to_tensor().to_vec(), q.to_tensor().to_vec());
}
