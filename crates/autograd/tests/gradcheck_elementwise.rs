//! Finite-difference checks (f64) of the gradient of every elementwise op on `Var`:
//! arithmetic with broadcasting, scalar forms and operators, and unary functions.

use crate::common;

use common::{away_from_zero, check, check_second, pos, randn, t};
use ferrograd_autograd::Var;
use ferrograd_tensor::{Result, Tensor};

type BinaryOp = fn(&Var<f64>, &Var<f64>) -> Result<Var<f64>>;

const BINARY: [(&str, BinaryOp); 4] = [
    ("try_add", Var::try_add),
    ("try_sub", Var::try_sub),
    ("try_mul", Var::try_mul),
    ("try_div", Var::try_div),
];

/// Shape pairs that broadcast, each tried in both orders.
const BROADCAST_CASES: [(&[usize], &[usize]); 5] = [
    (&[2, 3], &[2, 3]),
    (&[3, 1], &[4]),
    (&[2, 3], &[3]),
    (&[], &[2, 2]),
    (&[1], &[2, 3]),
];

#[test]
fn binary_ops_with_broadcasting() {
    for (name, op) in BINARY {
        for (k, (sa, sb)) in BROADCAST_CASES.iter().enumerate() {
            let seed = 10 * k as u64;
            let (a, b) = (randn(sa, seed), pos(sb, seed + 1));
            let (a2, b2) = (randn(sb, seed + 2), pos(sa, seed + 3));
            let out = op(&Var::new(a.clone()), &Var::new(b.clone())).unwrap();
            assert!(out.numel() >= a.numel().max(b.numel()), "{name} {sa:?} {sb:?}");
            check(|v| op(&v[0], &v[1]), &[a, b]);
            check(|v| op(&v[0], &v[1]), &[a2, b2]);
        }
    }
}

#[test]
fn binary_op_with_the_same_var_twice() {
    let x = pos(&[3], 1);
    check(|v| v[0].try_mul(&v[0]), std::slice::from_ref(&x));
    check(|v| v[0].try_div(&v[0].add_scalar(1.0)), std::slice::from_ref(&x));
    check(|v| v[0].try_sub(&v[0].mul_scalar(3.0)), std::slice::from_ref(&x));
}

#[test]
fn operators() {
    let (a, b) = (randn(&[3, 1], 1), pos(&[4], 2));
    let inputs = [a, b];
    check(|v| Ok(&v[0] + &v[1]), &inputs);
    check(|v| Ok(&v[0] - &v[1]), &inputs);
    check(|v| Ok(&v[0] * &v[1]), &inputs);
    check(|v| Ok(&v[0] / &v[1]), &inputs);
    check(|v| Ok(v[0].clone() + v[1].clone()), &inputs);
    check(|v| Ok(v[0].clone() - &v[1]), &inputs);
    check(|v| Ok(&v[0] * v[1].clone()), &inputs);
    check(|v| Ok(v[0].clone() / v[1].clone()), &inputs);
    check(|v| Ok(-&v[0] * -(v[1].clone())), &inputs);
}

#[test]
fn scalar_ops() {
    let x = [randn(&[2, 3], 3)];
    check(|v| Ok(v[0].add_scalar(2.5)), &x);
    check(|v| Ok(v[0].mul_scalar(-1.5)), &x);
    check(|v| Ok(v[0].div_scalar(0.3)), &x);
    check(|v| Ok(v[0].neg()), &x);
    check(|v| Ok(&v[0] + 2.0), &x);
    check(|v| Ok(&v[0] - 2.0), &x);
    check(|v| Ok(v[0].clone() * 3.0), &x);
    check(|v| Ok(v[0].clone() / 4.0), &x);
    check(|v| Ok(2.0 + &v[0]), &x);
    check(|v| Ok(2.0 - &v[0]), &x);
    check(|v| Ok(2.0 * v[0].clone()), &x);
    let p = [pos(&[2, 3], 4)];
    check(|v| Ok(2.0 / &v[0]), &p);
    check(|v| Ok(-3.0 / v[0].clone()), &p);
}

#[test]
fn scalar_on_the_left_values() {
    let x = Var::parameter(t(&[0.5, 4.0], &[2]));
    assert_eq!((2.0 - &x).to_tensor().to_vec(), vec![1.5, -2.0]);
    assert_eq!((2.0 / &x).to_tensor().to_vec(), vec![4.0, 0.5]);
    let y = 1.0f32 - Var::new(Tensor::from_vec(vec![0.25f32], &[1]).unwrap());
    assert_eq!(y.to_tensor().to_vec(), vec![0.75]);
}

#[test]
fn exp_log_pow_sqrt() {
    check(|v| Ok(v[0].exp()), &[randn(&[2, 3], 5)]);
    check(|v| Ok(v[0].log()), &[pos(&[2, 3], 6)]);
    check(|v| Ok(v[0].sqrt()), &[pos(&[2, 3], 7)]);
    for p in [0.5, 1.5, -0.5] {
        check(|v| Ok(v[0].powf(p)), &[pos(&[5], 8)]);
    }
    for p in [2.0, 3.0, -1.0, 1.0, 0.0] {
        check(|v| Ok(v[0].powf(p)), &[away_from_zero(&[5], 9)]);
    }
}

#[test]
fn piecewise_functions_away_from_their_kinks() {
    let x = [away_from_zero(&[3, 4], 11)];
    let values = x[0].to_vec();
    assert!(values.iter().any(|&v| v < 0.0) && values.iter().any(|&v| v > 0.0));
    check(|v| Ok(v[0].abs()), &x);
    check(|v| Ok(v[0].relu()), &x);
    check(|v| Ok(v[0].leaky_relu(0.1)), &x);
    check(|v| Ok(v[0].leaky_relu(-0.7)), &x);
}

#[test]
fn smooth_activations() {
    let x = [randn(&[3, 4], 12).mul_scalar(2.0)];
    check(|v| Ok(v[0].tanh()), &x);
    check(|v| Ok(v[0].sigmoid()), &x);
    check(|v| Ok(v[0].log_sigmoid()), &x);
    check(|v| Ok(v[0].log_sigmoid()), &[t(&[-40.0, -5.0, 5.0, 40.0], &[4])]);
    // Second order: the gradient rules fall back to `Var` ops when the gradient is recorded.
    let w = Var::new(randn(&[3, 4], 13));
    check_second(|v| Ok(v[0].tanh().try_mul(&w)?.sum()), &x);
    check_second(|v| Ok(v[0].sigmoid().try_mul(&w)?.sum()), &x);
    check_second(|v| Ok(v[0].exp().try_mul(&w)?.sum()), &x);
    check_second(|v| Ok(v[0].log().try_mul(&w)?.sum()), &[pos(&[3, 4], 14)]);
}

#[test]
fn clamp_min_max_and_both() {
    // Values at least 0.05 away from the bounds -0.5 and 0.5, on both sides of each.
    let x = [t(&[-1.2, -0.6, -0.3, 0.0, 0.2, 0.45, 0.7, 1.5], &[2, 4])];
    check(|v| Ok(v[0].clamp(Some(-0.5), None)), &x);
    check(|v| Ok(v[0].clamp(None, Some(0.5))), &x);
    check(|v| Ok(v[0].clamp(Some(-0.5), Some(0.5))), &x);
    let g = Var::parameter(x[0].clone());
    g.clamp(Some(-0.5), Some(0.5)).sum().backward().unwrap();
    assert_eq!(g.grad().unwrap().to_vec(), vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
}

#[test]
fn maximum_with_broadcasting() {
    // randn values are continuous: no ties between the operands.
    for (k, (sa, sb)) in BROADCAST_CASES.iter().enumerate() {
        let seed = 100 + 10 * k as u64;
        check(|v| v[0].maximum(&v[1]), &[randn(sa, seed), randn(sb, seed + 1)]);
        check(|v| v[0].maximum(&v[1]), &[randn(sb, seed + 2), randn(sa, seed + 3)]);
    }
    // On a tie the gradient is shared half and half, as torch.maximum.
    let (a, b) = (
        Var::parameter(t(&[1.0, 2.0], &[2])),
        Var::parameter(t(&[1.0, 0.0], &[2])),
    );
    a.maximum(&b).unwrap().sum().backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec(), vec![0.5, 1.0]);
    assert_eq!(b.grad().unwrap().to_vec(), vec![0.5, 0.0]);
}

#[test]
fn a_composite_expression() {
    // x·sigmoid(y) / (1 + exp(-|x|)) - log(y²+1), with every broadcast pattern at once.
    check(
        |v| {
            let num = v[0].try_mul(&v[1].sigmoid())?;
            let den = v[0].abs().neg().exp().add_scalar(1.0);
            num.try_div(&den)?.try_sub(&v[1].powf(2.0).add_scalar(1.0).log())
        },
        &[away_from_zero(&[3, 1], 21), randn(&[4], 22)],
    );
}

/// The gradient of `Σ f(x)` at `x`.
fn grad_of(f: impl Fn(&Var<f64>) -> Var<f64>, x: &[f64]) -> Vec<f64> {
    let v = Var::parameter(t(x, &[x.len()]));
    f(&v).sum().backward().unwrap();
    v.grad().unwrap().to_vec()
}

#[test]
fn gradients_at_the_kinks_match_pytorch() {
    let x = [-1.0, 0.0, 2.0];
    // torch: x = torch.tensor([-1., 0., 2.], dtype=torch.float64, requires_grad=True); (x.abs() + x.relu() + torch.nn.functional.leaky_relu(x, 0.1)).sum().backward(); print(x.grad.tolist())
    let expected = vec![-0.9, 0.1, 3.0];
    assert_eq!(grad_of(|v| &(&v.abs() + &v.relu()) + &v.leaky_relu(0.1), &x), expected);

    let x = [-1.0, 0.0, 0.5, 1.0, 2.0];
    // torch: for lo, hi in [(0., 1.), (0., None), (None, 1.)]: x = torch.tensor([-1., 0., .5, 1., 2.], dtype=torch.float64, requires_grad=True); x.clamp(lo, hi).sum().backward(); print(x.grad.tolist())
    let expected = [
        vec![0.0, 0.0, 1.0, 0.0, 0.0],
        vec![0.0, 0.0, 1.0, 1.0, 1.0],
        vec![1.0, 1.0, 1.0, 0.0, 0.0],
    ];
    assert_eq!(grad_of(|v| v.clamp(Some(0.0), Some(1.0)), &x), expected[0]);
    assert_eq!(grad_of(|v| v.clamp(Some(0.0), None), &x), expected[1]);
    assert_eq!(grad_of(|v| v.clamp(None, Some(1.0)), &x), expected[2]);

    // torch: x = torch.tensor([-1., 0., 1.], dtype=torch.float64, requires_grad=True); torch.maximum(x, torch.zeros(3, dtype=torch.float64)).sum().backward(); print(x.grad.tolist())
    let zeros = Var::new(Tensor::zeros(&[3]));
    assert_eq!(
        grad_of(|v| v.maximum(&zeros).unwrap(), &[-1.0, 0.0, 1.0]),
        vec![0.0, 0.5, 1.0]
    );

    // torch: x = torch.tensor([0., 3.], dtype=torch.float64, requires_grad=True); x.pow(0.5).sum().backward(); print(x.grad.tolist())
    let g = grad_of(|v| v.powf(0.5), &[0.0, 3.0]);
    assert_eq!(g[0], f64::INFINITY);
    assert!((g[1] - 0.2886751345948129).abs() < 1e-15);
    // torch: x = torch.tensor([-1., 0., 1.], dtype=torch.float64, requires_grad=True); x.pow(0.).sum().backward(); print(x.grad.tolist())
    assert_eq!(grad_of(|v| v.powf(0.0), &[-1.0, 0.0, 1.0]), vec![0.0, 0.0, 0.0]);
}

#[test]
fn try_ops_return_the_broadcast_error() {
    let (a, b) = (Var::parameter(randn(&[2, 3], 1)), Var::new(randn(&[4], 2)));
    for (name, op) in BINARY {
        let err = op(&a, &b).unwrap_err();
        let op_name = name.trim_start_matches("try_");
        assert_eq!(
            err.to_string(),
            format!("{op_name}: shapes [2, 3] and [4] cannot be broadcast together")
        );
    }
    assert!(a.maximum(&b).is_err());
}

#[test]
#[should_panic(expected = "mul: shapes [2, 3] and [4] cannot be broadcast together")]
fn operators_panic_with_the_broadcast_error() {
    let _ = &Var::new(randn(&[2, 3], 1)) * &Var::new(randn(&[4], 2));
}
