//! The seed example's numbers, against PyTorch 2.15 (reference §7).

use ferrograd::prelude::*;

const LOGITS: [f64; 12] = [1., 4., 1., 1., 5., 1., 2., 1., 1., 2., 5., 1.];

fn seed<T: Float>() -> (Var<T>, IndexTensor) {
    let x = Tensor::from_vec(LOGITS.iter().map(|&v| T::of(v)).collect(), &[3, 4]).unwrap();
    (Var::parameter(x), IndexTensor::from_slice(&[1, 0, 2]))
}

#[test]
fn seed_loss_f32_is_pytorchs() {
    // x = torch.tensor([[1,4,1,1],[5,1,2,1],[1,2,5,1]], dtype=torch.float32); t = torch.tensor([1,0,2])
    // repr(F.cross_entropy(x, t).item())
    let expected = 0.10165968537330627;
    let (x, t) = seed::<f32>();
    let loss = cross_entropy(&x, &t).unwrap();
    let got = loss.item().unwrap();
    assert!((got as f64 - expected).abs() < 1e-7, "{got}");
    assert_eq!(got.to_bits(), 0x3dd0_32f4, "same f32 as PyTorch");
}

#[test]
fn seed_loss_f64_is_pytorchs() {
    // repr(F.cross_entropy(x.double(), t).item())
    let expected = 0.10165968125955877;
    let (x, t) = seed::<f64>();
    let got = cross_entropy(&x, &t).unwrap().item().unwrap();
    assert!((got - expected).abs() < 1e-7 && (got - expected).abs() < 1e-15, "{got}");
}

#[test]
fn seed_gradient_is_pytorchs() {
    // x.requires_grad_(); F.cross_entropy(x, t).backward(); x.grad (float32, 8 significant digits)
    let expected = [
        0.014439057,
        -0.043317139,
        0.014439057,
        0.014439057, //
        -0.026514769,
        0.0056195795,
        0.015275597,
        0.0056195795, //
        0.0056195795,
        0.015275597,
        -0.026514769,
        0.0056195795,
    ];
    let (x, t) = seed::<f32>();
    cross_entropy(&x, &t).unwrap().backward().unwrap();
    let got = x.grad().unwrap().to_vec();
    for (g, e) in got.iter().zip(expected) {
        assert!((*g as f64 - e).abs() < 1e-7, "{got:?}");
    }
}

#[test]
fn seed_gradient_f64_is_softmax_minus_one_hot_over_three() {
    // F.cross_entropy(x.double(), t).backward(); x.grad
    let expected_row0 = [
        0.014439054826510245,
        -0.043317164479530636,
        0.014439054826510245,
        0.014439054826510245,
    ];
    let expected_row1 = [
        -0.02651475417732311,
        0.005619578300175985,
        0.015275597576971157,
        0.005619578300175985,
    ];
    let (x, t) = seed::<f64>();
    cross_entropy(&x, &t).unwrap().backward().unwrap();
    let got = x.grad().unwrap().to_vec();
    for (g, e) in got.iter().zip(expected_row0.iter().chain(&expected_row1)) {
        assert!((g - e).abs() < 1e-15, "{got:?}");
    }
}

#[test]
fn module_nll_of_log_softmax_and_functional_agree() {
    // nn.CrossEntropyLoss()(x,t) and F.nll_loss(F.log_softmax(x,1), t) give the identical f32 value
    let (x, t) = seed::<f32>();
    let a = CrossEntropyLoss::new().forward(&x, &t).unwrap().item().unwrap();
    let b = nll_loss_with(&x.log_softmax(1).unwrap(), &t, &Default::default())
        .unwrap()
        .item()
        .unwrap();
    let c = cross_entropy(&x, &t).unwrap().item().unwrap();
    assert_eq!(a.to_bits(), c.to_bits());
    assert!((a - b).abs() <= f32::EPSILON * a, "{a} vs {b}");
}

#[test]
fn seed_sum_and_none() {
    // F.cross_entropy(x, t, reduction='sum').item(); F.cross_entropy(x, t, reduction='none').tolist()
    let (x, t) = seed::<f32>();
    let opts = |reduction| CrossEntropyOptions {
        reduction,
        ..Default::default()
    };
    let sum = cross_entropy_with(&x, &t, &opts(Reduction::Sum))
        .unwrap()
        .item()
        .unwrap();
    assert!((sum as f64 - 0.3049790561199188).abs() < 1e-7);
    let none = cross_entropy_with(&x, &t, &opts(Reduction::None))
        .unwrap()
        .to_tensor()
        .to_vec();
    for (g, e) in none
        .iter()
        .zip([0.13920624554157257, 0.08288640528917313, 0.08288640528917313])
    {
        assert!((*g as f64 - e).abs() < 1e-7, "{none:?}");
    }
}
