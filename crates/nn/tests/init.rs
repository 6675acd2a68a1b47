//! `ferrograd_nn::init` against `torch.nn.init`: gains and fans as PyTorch computes them,
//! bounds of every uniform initialiser, means and standard deviations of samples drawn with a
//! fixed seed, and PyTorch's errors.

use ferrograd_autograd::Var;
use ferrograd_nn::init::{self, FanMode};
use ferrograd_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn param<T: Float>(shape: &[usize]) -> Var<T> {
    Var::parameter(Tensor::zeros(shape))
}

fn values<T: Float>(w: &Var<T>) -> Vec<f64> {
    w.to_tensor().to_vec().into_iter().map(Float::f64).collect()
}

/// Sample mean and standard deviation (divisor n - 1, as torch.std).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn assert_near(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} ± {tol}");
}

// import math; from torch.nn import init
// [init.calculate_gain(*a) for a in [("linear",), ("conv2d",), ("conv_transpose3d",), ("sigmoid",),
//   ("tanh",), ("relu",), ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu",)]]
// -> 1, 1, 1, 1, 1.6666666666666667, 1.4142135623730951, 1.4141428569978354, 1.3867504905630728,
//    0.5773502691896257, 0.75
#[test]
fn gains_are_pytorchs() {
    let gain = |name, param| init::calculate_gain(name, param).unwrap();
    assert_eq!(gain("linear", None), 1.0);
    assert_eq!(gain("conv2d", None), 1.0);
    assert_eq!(gain("conv_transpose3d", None), 1.0);
    assert_eq!(gain("sigmoid", None), 1.0);
    assert_eq!(gain("tanh", None), 1.6666666666666667);
    assert_eq!(gain("relu", None), std::f64::consts::SQRT_2); // 1.4142135623730951
    assert_eq!(gain("relu", Some(0.3)), std::f64::consts::SQRT_2); // the slope is leaky_relu's only
    assert_eq!(gain("leaky_relu", None), 1.4141428569978354);
    assert_eq!(gain("leaky_relu", Some(0.2)), 1.3867504905630728);
    assert_eq!(gain("leaky_relu", Some(5f64.sqrt())), 0.5773502691896257);
    assert_eq!(gain("selu", None), 0.75);
}

// init.calculate_gain("gelu") -> ValueError: Unsupported nonlinearity gelu
// init._calculate_fan_in_and_fan_out(torch.empty(3)) -> ValueError: Fan in and fan out can not be
//   computed for tensor with fewer than 2 dimensions
// init._calculate_fan_in_and_fan_out(torch.empty(16, 8, 3, 5)) -> (120, 240)
#[test]
fn fans_and_their_errors_are_pytorchs() {
    assert_eq!(init::calculate_fan_in_and_fan_out(&[16, 8, 3, 5]).unwrap(), (120, 240));
    assert_eq!(init::calculate_fan_in_and_fan_out(&[4, 3]).unwrap(), (3, 4));
    let e = init::calculate_gain("gelu", None).unwrap_err().to_string();
    assert_eq!(e, "calculate_gain: Unsupported nonlinearity gelu");
    let e = init::calculate_gain("leaky_relu", Some(f64::NAN))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "calculate_gain: negative_slope NaN not a valid number");
    let fewer = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions";
    for shape in [&[3usize][..], &[]] {
        let e = init::calculate_fan_in_and_fan_out(shape).unwrap_err().to_string();
        assert!(e.ends_with(fewer), "{e}");
        let e = init::kaiming_uniform_(&param::<f32>(shape), 0.0, FanMode::FanIn, "relu", &mut rng());
        assert!(e.unwrap_err().to_string().ends_with(fewer));
        let e = init::xavier_normal_(&param::<f32>(shape), 1.0, &mut rng());
        assert!(e.unwrap_err().to_string().ends_with(fewer));
    }
    let e = init::kaiming_normal_(&param::<f32>(&[4, 3]), 0.0, FanMode::FanIn, "gelu", &mut rng());
    assert_eq!(
        e.unwrap_err().to_string(),
        "calculate_gain: Unsupported nonlinearity gelu"
    );
}

#[test]
fn kaiming_uniform_stays_within_gain_times_sqrt_3_over_fan() {
    // bound = √3 · gain / √fan: fan_in 32·3 = 96, fan_out 64·3 = 192
    for (mode, fan) in [(FanMode::FanIn, 96.0), (FanMode::FanOut, 192.0)] {
        let w = param::<f32>(&[64, 32, 3]);
        init::kaiming_uniform_(&w, 0.0, mode, "relu", &mut rng()).unwrap();
        let bound = 3f64.sqrt() * 2f64.sqrt() / f64::sqrt(fan);
        let v = values(&w);
        let largest = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(
            largest <= bound && largest > 0.99 * bound,
            "{mode:?}: {largest} vs {bound}"
        );
        let (mean, std) = mean_std(&v);
        // 6144 draws of U(-b, b): mean within 4 standard errors, std b/√3 within 3%
        assert_near("mean", mean, 0.0, 4.0 * bound / 3f64.sqrt() / (v.len() as f64).sqrt());
        assert_near("std", std / (bound / 3f64.sqrt()), 1.0, 0.03);
    }
    // PyTorch's default nonlinearity leaky_relu with a = √5 (what nn.Linear uses): bound 1/√fan_in
    let w = param::<f64>(&[10, 25]);
    init::kaiming_uniform_(&w, 5f64.sqrt(), FanMode::FanIn, "leaky_relu", &mut rng()).unwrap();
    assert!(values(&w).iter().all(|x| x.abs() <= 0.2 + 1e-15));
}

#[test]
fn kaiming_normal_and_xavier_normal_have_their_std() {
    let w = param::<f64>(&[200, 100]);
    init::kaiming_normal_(&w, 0.0, FanMode::FanOut, "relu", &mut rng()).unwrap();
    let (mean, std) = mean_std(&values(&w));
    let want = 2f64.sqrt() / 200f64.sqrt();
    assert_near("kaiming mean", mean, 0.0, 4.0 * want / 20000f64.sqrt());
    assert_near("kaiming std", std / want, 1.0, 0.03);

    let w = param::<f32>(&[200, 100]);
    init::xavier_normal_(&w, 5.0 / 3.0, &mut rng()).unwrap();
    let (mean, std) = mean_std(&values(&w));
    let want = 5.0 / 3.0 * (2.0f64 / 300.0).sqrt();
    assert_near("xavier mean", mean, 0.0, 4.0 * want / 20000f64.sqrt());
    assert_near("xavier std", std / want, 1.0, 0.03);
}

#[test]
fn xavier_uniform_stays_within_gain_times_sqrt_6_over_fans() {
    let w = param::<f64>(&[30, 20, 2, 2]); // fan_in 80, fan_out 120
    init::xavier_uniform_(&w, 2.0, &mut rng()).unwrap();
    let bound = 2.0 * (6.0f64 / 200.0).sqrt();
    let v = values(&w);
    let largest = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(largest <= bound && largest > 0.99 * bound, "{largest} vs {bound}");
    let (_, std) = mean_std(&v);
    assert_near("std", std / (bound / 3f64.sqrt()), 1.0, 0.04);
}

#[test]
fn uniform_normal_and_constants() {
    let w = param::<f64>(&[100, 100]);
    init::uniform_(&w, -1.0, 3.0, &mut rng()).unwrap();
    let v = values(&w);
    assert!(v.iter().all(|&x| (-1.0..3.0).contains(&x)));
    let (mean, std) = mean_std(&v);
    assert_near("uniform mean", mean, 1.0, 0.05);
    assert_near("uniform std", std, 4.0 / 12f64.sqrt(), 0.03);

    init::normal_(&w, 2.0, 0.5, &mut rng()).unwrap();
    let (mean, std) = mean_std(&values(&w));
    assert_near("normal mean", mean, 2.0, 4.0 * 0.5 / 100.0);
    assert_near("normal std", std, 0.5, 0.015);

    // torch.nn.init.uniform_(torch.empty(3), 1., 1.) -> tensor([1., 1., 1.])
    init::uniform_(&w, 1.0, 1.0, &mut rng()).unwrap();
    assert!(values(&w).iter().all(|&x| x == 1.0));
    init::constant_(&w, -0.25);
    assert!(values(&w).iter().all(|&x| x == -0.25));
    init::zeros_(&w);
    assert!(values(&w).iter().all(|&x| x == 0.0));
    init::ones_(&w);
    assert!(values(&w).iter().all(|&x| x == 1.0));
}

// import math, torch
// phi = lambda x: math.exp(-x*x/2) / math.sqrt(2*math.pi); Phi = lambda x: (1 + math.erf(x/math.sqrt(2)))/2
// def tn(mu, s, a, b):  # mean and std of N(mu, s²) truncated to [a, b]
//     al, be = (a-mu)/s, (b-mu)/s; Z = Phi(be) - Phi(al)
//     m = mu + s*(phi(al) - phi(be))/Z
//     return m, math.sqrt(s*s*(1 + (al*phi(al) - be*phi(be))/Z - ((phi(al) - phi(be))/Z)**2))
// tn(0, 1, -2, 2), tn(0, 1, 2, 3), tn(1, 0.5, 0, 3)
// -> (0.0, 0.8796256610342398) (2.3158213267437833, 0.24803382748021618) (1.0275563515206907, 0.47061541695192666)
// (torch.nn.init.trunc_normal_ on 200000 float64 values, seed 0: 2.3162, 0.2486 and 1.0284, 0.4705)
#[test]
fn trunc_normal_is_the_truncated_normal_in_both_sampling_regimes() {
    let cases = [
        (0.0, 1.0, -2.0, 2.0, 0.0, 0.8796256610342398), // mass 0.95: redrawn normals
        (0.0, 1.0, 2.0, 3.0, 2.3158213267437833, 0.24803382748021618), // mass 0.02: uniform proposals
        (1.0, 0.5, 0.0, 3.0, 1.0275563515206907, 0.47061541695192666),
    ];
    for (mu, s, a, b, want_mean, want_std) in cases {
        let w = param::<f64>(&[200, 100]);
        init::trunc_normal_(&w, mu, s, a, b, &mut rng()).unwrap();
        let v = values(&w);
        assert!(v.iter().all(|&x| a <= x && x <= b), "[{a}, {b}]");
        let (mean, std) = mean_std(&v);
        assert_near("trunc mean", mean, want_mean, 4.0 * want_std / 20000f64.sqrt());
        assert_near("trunc std", std / want_std, 1.0, 0.03);
    }
    let w = param::<f32>(&[1000]);
    init::trunc_normal_(&w, 0.0, 1.0, -0.5, 0.5, &mut rng()).unwrap();
    assert!(values(&w).iter().all(|x| x.abs() <= 0.5));
    // a == b: every value is a
    init::trunc_normal_(&w, 0.0, 1.0, 1.0, 1.0, &mut rng()).unwrap();
    assert!(values(&w).iter().all(|&x| x == 1.0));
}

#[test]
fn the_same_seed_gives_the_same_values() {
    let (a, b) = (param::<f32>(&[5, 4]), param::<f32>(&[5, 4]));
    init::kaiming_normal_(&a, 0.0, FanMode::FanIn, "relu", &mut rng()).unwrap();
    init::kaiming_normal_(&b, 0.0, FanMode::FanIn, "relu", &mut rng()).unwrap();
    assert_eq!(values(&a), values(&b));
    init::trunc_normal_(&b, 0.0, 1.0, 2.0, 3.0, &mut StdRng::seed_from_u64(8)).unwrap();
    assert_ne!(values(&a), values(&b));
}

#[test]
fn a_tensor_without_elements_is_left_alone_by_kaiming() {
    // torch.nn.init.kaiming_uniform_(torch.empty(0)) -> tensor([]) (with a warning)
    let w = param::<f32>(&[0]);
    init::kaiming_uniform_(&w, 0.0, FanMode::FanIn, "leaky_relu", &mut rng()).unwrap();
    init::kaiming_normal_(&param::<f32>(&[3, 0]), 0.0, FanMode::FanOut, "relu", &mut rng()).unwrap();
}

// torch.nn.init.uniform_(torch.empty(3), 2., 1.) -> RuntimeError: uniform_ expects to return a [from, to)
//   range, but found from=2 > to=1
// torch.nn.init.normal_(torch.empty(3), 0., -1.) -> RuntimeError: normal expects std >= 0.0, but found std -1
// torch.nn.init.trunc_normal_(torch.empty(3), 0., 0.) -> ZeroDivisionError: float division by zero
// torch.nn.init.xavier_uniform_(torch.empty(0, 0)) -> ZeroDivisionError: float division by zero
#[test]
fn invalid_arguments_are_errors() {
    let w = param::<f32>(&[2, 3]);
    let e = init::uniform_(&w, 2.0, 1.0, &mut rng()).unwrap_err().to_string();
    assert_eq!(
        e,
        "uniform_: uniform_ expects to return a [from, to) range, but found from=2 > to=1"
    );
    let e = init::trunc_normal_(&w, 0.0, 1.0, 2.0, 1.0, &mut rng())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "trunc_normal_: uniform_ expects to return a [from, to) range, but found from=2 > to=1"
    );
    let e = init::normal_(&w, 0.0, -1.0, &mut rng()).unwrap_err().to_string();
    assert_eq!(e, "normal_: normal expects std >= 0.0, but found std -1");
    let e = init::normal_(&w, 0.0, f64::NAN, &mut rng()).unwrap_err().to_string();
    assert_eq!(e, "normal_: normal expects std >= 0.0, but found std NaN");
    let e = init::uniform_(&w, -3e38, 3e38, &mut rng()).unwrap_err().to_string();
    assert!(
        e.contains("uniform_ expects to-from <= std::numeric_limits<Float>::max()"),
        "{e}"
    );
    assert!(init::uniform_(&w, f64::NEG_INFINITY, 0.0, &mut rng()).is_err());
    for std in [0.0, -1.0, f64::NAN] {
        let e = init::trunc_normal_(&w, 0.0, std, -2.0, 2.0, &mut rng())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("trunc_normal_: trunc_normal_ expects a finite mean and a finite std > 0"));
    }
    let e = init::xavier_uniform_(&param::<f32>(&[0, 0]), 1.0, &mut rng())
        .unwrap_err()
        .to_string();
    assert!(e.contains("division by zero"), "{e}");
    // nothing was written by a failed call
    assert!(values(&w).iter().all(|&x| x == 0.0));
}
