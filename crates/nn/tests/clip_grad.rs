//! `clip_grad_norm_` and `clip_grad_value_` against `torch.nn.utils`, in f32 and f64, with
//! the values PyTorch gives for the same gradients.
//!
//! Every case of `clip_grad_norm_` below comes from this script (the parameter without a
//! gradient, `c`, is skipped):
//!
//! ```python
//! import torch
//! from torch.nn.utils import clip_grad_norm_
//! def run(dtype, g1, g2, max_norm, norm_type, error_if_nonfinite=False):
//!     a = torch.zeros(len(g1), dtype=dtype, requires_grad=True)
//!     b = torch.zeros(len(g2), dtype=dtype, requires_grad=True)
//!     c = torch.zeros(2, dtype=dtype, requires_grad=True)
//!     a.grad = torch.tensor(g1, dtype=dtype); b.grad = torch.tensor(g2, dtype=dtype)
//!     total = clip_grad_norm_([a, c, b], max_norm, norm_type, error_if_nonfinite)
//!     print(repr(total.item()), a.grad.tolist(), b.grad.tolist(), c.grad)
//! ```

use ferrograd_autograd::Var;
use ferrograd_nn::utils::{clip_grad_norm_, clip_grad_value_};
use ferrograd_tensor::{Float, Tensor};

const INF: f64 = f64::INFINITY;

/// `(a, b, c)` as in the script: `a` and `b` with these gradients, `c` without one.
fn params<T: Float>(g1: &[f64], g2: &[f64]) -> [Var<T>; 3] {
    let make = |g: &[f64]| {
        let p = Var::parameter(Tensor::<T>::zeros(&[g.len()]));
        let values = g.iter().map(|&x| T::of(x)).collect();
        p.set_grad(Some(Tensor::from_vec(values, &[g.len()]).unwrap())).unwrap();
        p
    };
    [make(g1), Var::parameter(Tensor::zeros(&[2])), make(g2)]
}

fn grad<T: Float>(p: &Var<T>) -> Vec<f64> {
    p.grad().unwrap().to_vec().into_iter().map(Float::f64).collect()
}

/// Runs one case and compares the total and the clipped gradients with PyTorch's exactly.
fn check<T: Float>(g1: &[f64], g2: &[f64], max_norm: f64, norm_type: f64, want: (f64, &[f64], &[f64])) {
    let ps = params::<T>(g1, g2);
    let total = clip_grad_norm_(&ps, max_norm, norm_type, false).unwrap();
    let case = format!("{} norm {norm_type} max {max_norm}", T::DTYPE);
    assert_eq!(total.f64(), want.0, "{case}: total");
    assert_eq!(grad(&ps[0]), want.1, "{case}: a");
    assert_eq!(grad(&ps[2]), want.2, "{case}: b");
    assert!(ps[1].grad().is_none(), "{case}: c has no gradient and keeps none");
}

const G1: &[f64] = &[3.0, 4.0, 0.0];
const G2: &[f64] = &[12.0];

// run(torch.float32, [3., 4., 0.], [12.], max_norm, norm_type)
#[test]
fn clip_grad_norm_matches_pytorch_in_f32() {
    check::<f32>(
        G1,
        G2,
        1.0,
        2.0,
        (
            13.0,
            &[0.23076921701431274, 0.307692289352417, 0.0],
            &[0.923076868057251],
        ),
    );
    check::<f32>(
        G1,
        G2,
        1.0,
        INF,
        (
            12.0,
            &[0.2499999850988388, 0.3333333134651184, 0.0],
            &[0.9999999403953552],
        ),
    );
    check::<f32>(
        G1,
        G2,
        1.0,
        1.0,
        (
            19.0,
            &[0.15789471566677094, 0.21052628755569458, 0.0],
            &[0.6315788626670837],
        ),
    );
    // order 0: the number of gradients with a non-zero element (the norm of the norms)
    check::<f32>(
        G1,
        G2,
        1.0,
        0.0,
        (
            2.0,
            &[1.4999992847442627, 1.9999990463256836, 0.0],
            &[5.999997138977051],
        ),
    );
    check::<f32>(
        G1,
        G2,
        0.5,
        3.0,
        (
            12.207056045532227,
            &[0.1228797435760498, 0.163839653134346, 0.0],
            &[0.4915189743041992],
        ),
    );
    // run(torch.float32, [0.1, -0.2, 0.3], [0.05], 2.0, 2.0): below max_norm, nothing changes
    let small = [0.1f32, -0.2, 0.3].map(f64::from);
    check::<f32>(
        &small,
        &[0.05f32 as f64],
        2.0,
        2.0,
        (0.37749171257019043, &small, &[0.05f32 as f64]),
    );
    // run(torch.float32, [0.1, -0.7, 0.3], [-1.5], 0.3, float('-inf')): the smallest magnitude
    let g = [0.1f32, -0.7, 0.3].map(f64::from);
    check::<f32>(&g, &[-1.5], 0.3, -INF, (0.10000000149011612, &g, &[-1.5]));
}

// run(torch.float64, [3., 4., 0.], [12.], max_norm, norm_type)
#[test]
fn clip_grad_norm_matches_pytorch_in_f64() {
    check::<f64>(
        G1,
        G2,
        1.0,
        2.0,
        (
            13.0,
            &[0.23076921301775288, 0.3076922840236705, 0.0],
            &[0.9230768520710115],
        ),
    );
    check::<f64>(
        G1,
        G2,
        1.0,
        INF,
        (
            12.0,
            &[0.24999997916666844, 0.3333333055555579, 0.0],
            &[0.9999999166666738],
        ),
    );
    check::<f64>(
        G1,
        G2,
        1.0,
        1.0,
        (
            19.0,
            &[0.15789472853185638, 0.21052630470914185, 0.0],
            &[0.6315789141274255],
        ),
    );
    check::<f64>(
        G1,
        G2,
        1.0,
        0.0,
        (2.0, &[1.499999250000375, 1.9999990000005, 0.0], &[5.9999970000015]),
    );
    check::<f64>(
        G1,
        G2,
        0.5,
        3.0,
        (
            12.207054953820636,
            &[0.12287975132370235, 0.16383966843160314, 0.0],
            &[0.4915190052948094],
        ),
    );
    check::<f64>(
        &[0.1, -0.2, 0.3],
        &[0.05],
        2.0,
        2.0,
        (0.3774917217635375, &[0.1, -0.2, 0.3], &[0.05]),
    );
    check::<f64>(&[0.1, -0.7, 0.3], &[-1.5], 0.3, -INF, (0.1, &[0.1, -0.7, 0.3], &[-1.5]));
}

// run(torch.float32, [1., float('inf')], [2.], 1.0, 2.0) -> inf [0.0, nan] [0.0]
// run(torch.float64, [1e200, 1e200], [2.], 1.0, 2.0) -> inf [0.0, 0.0] [0.0]   (Σx² overflows)
// run(torch.float32, [1., float('inf')], [2.], 1.0, 2.0, True) -> RuntimeError: The total norm of
//   order 2.0 for gradients from `parameters` is non-finite, so it cannot be clipped. To disable
//   this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`
// run(torch.float32, [1., float('nan')], [2.], 1.0, float('inf'), True) -> the same with "order inf"
#[test]
fn non_finite_totals_scale_by_zero_or_are_errors() {
    let ps = params::<f32>(&[1.0, INF], &[2.0]);
    assert_eq!(clip_grad_norm_(&ps, 1.0, 2.0, false).unwrap(), f32::INFINITY);
    let a = grad(&ps[0]);
    assert!(a[0] == 0.0 && a[1].is_nan());
    assert_eq!(grad(&ps[2]), [0.0]);

    let ps = params::<f64>(&[1e200, 1e200], &[2.0]);
    assert_eq!(clip_grad_norm_(&ps, 1.0, 2.0, false).unwrap(), INF);
    assert_eq!((grad(&ps[0]), grad(&ps[2])), (vec![0.0, 0.0], vec![0.0]));

    let message = |order| {
        format!(
            "clip_grad_norm_: The total norm of order {order} for gradients from `parameters` is non-finite, so it \
             cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set \
             `error_if_nonfinite=False`"
        )
    };
    let ps = params::<f32>(&[1.0, INF], &[2.0]);
    let e = clip_grad_norm_(&ps, 1.0, 2.0, true).unwrap_err().to_string();
    assert_eq!(e, message("2.0"));
    assert_eq!(
        grad(&ps[0])[1],
        f64::INFINITY,
        "an error leaves the gradients as they were"
    );
    let ps = params::<f32>(&[1.0, f64::NAN], &[2.0]);
    let e = clip_grad_norm_(&ps, 1.0, INF, true).unwrap_err().to_string();
    assert_eq!(e, message("inf"));
}

// torch.linalg.vector_norm(torch.empty(0), float('inf')) -> RuntimeError: linalg.vector_norm cannot
//   compute the inf norm on an empty tensor because the operation does not have an identity
#[test]
fn no_gradients_give_a_total_of_zero_and_empty_ones_follow_vector_norm() {
    let p = Var::parameter(Tensor::<f32>::zeros(&[3]));
    assert_eq!(clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0, true).unwrap(), 0.0);
    assert!(p.grad().is_none());
    assert_eq!(clip_grad_norm_::<f32>(&[], 1.0, INF, true).unwrap(), 0.0);

    let [a, _, b] = params::<f64>(&[], &[]);
    assert_eq!(clip_grad_norm_(&[a.clone(), b.clone()], 1.0, 2.0, false).unwrap(), 0.0);
    let e = clip_grad_norm_(&[a], 1.0, INF, false).unwrap_err().to_string();
    assert_eq!(
        e,
        "clip_grad_norm_: linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation \
         does not have an identity"
    );
    assert!(clip_grad_norm_(&[b], 1.0, f64::NAN, false).is_err());
}

// a = torch.zeros(4, requires_grad=True); a.grad = torch.tensor([-3., .5, float('nan'), 2.])
// clip_grad_value_([a], 1.0); a.grad -> tensor([-1.0000, 0.5000, nan, 1.0000])
// a.grad = torch.tensor([-3., .5, 0., 2.]); clip_grad_value_([a], -1.0); a.grad -> tensor([-1., -1., -1., -1.])
#[test]
fn clip_grad_value_clamps_as_pytorch() {
    let [a, c, _] = params::<f32>(&[-3.0, 0.5, f64::NAN, 2.0], &[]);
    clip_grad_value_(&[a.clone(), c.clone()], 1.0).unwrap();
    let g = grad(&a);
    assert_eq!([g[0], g[1], g[3]], [-1.0, 0.5, 1.0]);
    assert!(g[2].is_nan());
    assert!(c.grad().is_none());
    let [a, _, _] = params::<f64>(&[-3.0, 0.5, 0.0, 2.0], &[]);
    clip_grad_value_(std::slice::from_ref(&a), -1.0).unwrap();
    assert_eq!(grad(&a), [-1.0; 4]);
}
