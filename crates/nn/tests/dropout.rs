//! `Dropout`: PyTorch's semantics (zero with probability p, scale the rest by 1/(1-p) in
//! training, identity in evaluation), seeded masks, and its argument check.

use ferrograd_autograd::Var;
use ferrograd_nn::{Dropout, Forward, Module};
use ferrograd_tensor::Tensor;

fn ones(n: usize) -> Var<f64> {
    Var::parameter(Tensor::ones(&[n]))
}

#[test]
fn training_mode_zeroes_a_fraction_p_and_keeps_the_mean() {
    let n = 20_000;
    for p in [0.1, 0.5, 0.8] {
        let dropout = Dropout::new(p, 3).unwrap();
        let y = dropout.forward(&ones(n)).unwrap().to_tensor().to_vec();
        let scale = 1.0 / (1.0 - p);
        assert!(
            y.iter().all(|&v| v == 0.0 || v == scale),
            "p = {p}: values other than 0 and 1/(1-p)"
        );
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        let mean = y.iter().sum::<f64>() / n as f64;
        // Binomial: the standard deviation of the dropped fraction is √(p(1-p)/n) < 0.0036;
        // 5 of them is far beyond chance.
        assert!((dropped - p).abs() < 0.018, "p = {p}: dropped {dropped}");
        assert!((mean - 1.0).abs() < 0.018 * scale, "p = {p}: mean {mean}");
    }
}

#[test]
fn the_gradient_is_the_mask() {
    let dropout = Dropout::new(0.3, 9).unwrap();
    let x = ones(1000);
    let y = dropout.forward(&x).unwrap();
    y.sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap(),
        y.to_tensor(),
        "d(x·mask)/dx = mask, and y = mask for x = 1"
    );
}

#[test]
fn evaluation_mode_and_p_zero_are_the_identity() {
    let x = Var::new(Tensor::<f32>::randn(&[4, 5], 1));
    let dropout = Dropout::new(0.5, 0).unwrap();
    dropout.eval();
    assert!(!dropout.is_training());
    assert_eq!(dropout.forward(&x).unwrap().to_tensor(), x.to_tensor());
    Module::<f32>::train(&dropout);
    assert!(dropout.is_training());
    assert_ne!(dropout.forward(&x).unwrap().to_tensor(), x.to_tensor());
    Module::<f32>::set_training(&dropout, false);
    assert_eq!(dropout.forward(&x).unwrap().to_tensor(), x.to_tensor());

    let never = Dropout::new(0.0, 0).unwrap();
    assert_eq!(never.forward(&x).unwrap().to_tensor(), x.to_tensor());
}

#[test]
fn p_one_zeroes_everything() {
    let x = ones(100);
    let y = Dropout::new(1.0, 0).unwrap().forward(&x).unwrap();
    assert!(y.to_tensor().to_vec().iter().all(|&v| v == 0.0));
    y.sum().backward().unwrap();
    assert!(x.grad().unwrap().to_vec().iter().all(|&v| v == 0.0));
}

#[test]
fn masks_are_reproducible_from_the_seed_and_differ_between_calls() {
    let x = ones(256);
    let (a, b) = (Dropout::new(0.5, 42).unwrap(), Dropout::new(0.5, 42).unwrap());
    let first = a.forward(&x).unwrap().to_tensor();
    assert_eq!(first, b.forward(&x).unwrap().to_tensor(), "same seed, same first mask");
    let second = a.forward(&x).unwrap().to_tensor();
    assert_ne!(first, second, "a new mask on every call");
    assert_eq!(second, b.forward(&x).unwrap().to_tensor(), "same seed, same sequence");
    let other = Dropout::new(0.5, 43).unwrap().forward(&x).unwrap().to_tensor();
    assert_ne!(first, other, "another seed, another mask");
}

#[test]
fn p_outside_zero_one_is_an_error_at_construction() {
    for p in [-0.1, 1.5, f64::NAN] {
        let e = Dropout::new(p, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Dropout: dropout probability has to be between 0 and 1, but got {p}")
        );
    }
    assert_eq!(Dropout::new(1.0, 0).unwrap().p(), 1.0);
}

#[test]
fn masks_are_the_seeds_bernoulli_draws_one_per_element() {
    // The documented stream: element k kept by the k-th `random_bool(1 - p)` of the seed's
    // StdRng, kept values scaled by 1/(1-p).
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let (p, n) = (0.3, 1000);
    let y = Dropout::new(p, 5)
        .unwrap()
        .forward(&ones(n))
        .unwrap()
        .to_tensor()
        .to_vec();
    let mut rng = StdRng::seed_from_u64(5);
    let want: Vec<f64> = (0..n)
        .map(|_| if rng.random_bool(1.0 - p) { 1.0 / (1.0 - p) } else { 0.0 })
        .collect();
    assert_eq!(y, want);
}
