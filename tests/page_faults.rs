//! A training step in steady state reuses its memory: fewer than 10 minor page faults per
//! step, where glibc's default thresholds mapped fresh pages for every activation and
//! gradient of 128 KiB or more (hundreds of faults per step for this model). Faults are
//! counts, not timings: the test holds on a busy machine too.
//!
//! The only test in its file, so that its process counts no other test's faults.

use ferrograd::autograd::Var;
use ferrograd::nn::{Adam, CrossEntropyLoss, Forward, Linear, Module, Optimizer, ReLU, Sequential};
use ferrograd::tensor::{minor_page_faults, IndexTensor, Tensor};

/// Rows per batch: the hidden activations are 512 x 256 f32, 512 KiB each.
const BATCH: usize = 512;
const WARM_UP: usize = 20;
const STEPS: usize = 30;

#[test]
fn a_training_step_in_steady_state_faults_in_fewer_than_10_pages() {
    let Some(_) = minor_page_faults() else {
        return; // not counted on this system
    };
    let model = Sequential::new()
        .add(Linear::new(64, 256, 0))
        .add(ReLU)
        .add(Linear::new(256, 256, 1))
        .add(ReLU)
        .add(Linear::new(256, 16, 2));
    let mut optimizer = Adam::new(model.parameters(), 1e-3);
    let loss_fn = CrossEntropyLoss::new();
    let x = Tensor::<f32>::randn(&[BATCH, 64], 3);
    let y = IndexTensor::from_vec((0..BATCH).map(|i| (i * 7 % 16) as i64).collect(), &[BATCH]).unwrap();
    let mut step = || {
        let loss = loss_fn
            .forward(&model.forward(&Var::new(x.clone())).unwrap(), &y)
            .unwrap();
        optimizer.zero_grad();
        loss.backward().unwrap();
        optimizer.step().unwrap();
        loss.item().unwrap()
    };
    let first = step();
    for _ in 1..WARM_UP {
        step();
    }
    let before = minor_page_faults().unwrap();
    let mut last = first;
    for _ in 0..STEPS {
        last = step();
    }
    let faults = minor_page_faults().unwrap() - before;
    assert!(last < first, "the model trained: loss {first} -> {last}");
    assert!(
        faults < 10 * STEPS as u64,
        "{faults} minor page faults in {STEPS} steps ({} per step)",
        faults as f64 / STEPS as f64
    );
}
