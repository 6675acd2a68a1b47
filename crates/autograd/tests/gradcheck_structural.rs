//! Finite-difference checks (f64) of reductions, shape ops, indexing, matmul and softmax,
//! and a check that `gradcheck` catches a wrong gradient.

use crate::common;

use common::{check, check_second, randn, t};
use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_tensor::IndexTensor;

#[test]
fn sums_and_means() {
    let x = [randn(&[2, 3, 4], 1)];
    check(|v| Ok(v[0].sum()), &x);
    check(|v| Ok(v[0].mean()), &x);
    for dim in [0, 1, 2, -1, -2, -3] {
        for keepdim in [false, true] {
            check(|v| v[0].sum_dim(dim, keepdim), &x);
            check(|v| v[0].mean_dim(dim, keepdim), &x);
        }
    }
    check(|v| Ok(v[0].sum()), &[t(&[1.5], &[])]);
    check(|v| v[0].sum_dim(0, false), &[t(&[1.5], &[])]);
}

#[test]
fn maxima_without_ties() {
    let x = [randn(&[3, 4], 2)];
    check(|v| v[0].max(), &x);
    for dim in [0, 1, -1] {
        for keepdim in [false, true] {
            check(|v| v[0].max_dim(dim, keepdim), &x);
        }
    }
    // Tied maxima share the gradient evenly, as torch.max / torch.amax.
    let y = Var::parameter(t(&[3.0, 1.0, 3.0, 0.0, 5.0, 5.0], &[2, 3]));
    y.max().unwrap().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
    y.zero_grad();
    y.max_dim(1, false).unwrap().sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![0.5, 0.0, 0.5, 0.0, 0.5, 0.5]);
}

#[test]
fn logsumexp() {
    let x = [randn(&[3, 4], 3).mul_scalar(3.0)];
    for dim in [0, 1, -1, -2] {
        for keepdim in [false, true] {
            check(|v| v[0].logsumexp(dim, keepdim), &x);
        }
    }
}

#[test]
fn broadcast_to_and_sum_to_shape() {
    check(|v| v[0].broadcast_to(&[2, 3, 4]), &[randn(&[3, 1], 4)]);
    check(|v| v[0].broadcast_to(&[2, 2]), &[randn(&[], 5)]);
    check(|v| v[0].broadcast_to(&[4, 3]), &[randn(&[1, 3], 6)]);
    check(|v| v[0].sum_to_shape(&[3, 1]), &[randn(&[2, 3, 4], 7)]);
    check(|v| v[0].sum_to_shape(&[]), &[randn(&[2, 3], 8)]);
    check(|v| v[0].sum_to_shape(&[1, 3]), &[randn(&[4, 3], 9)]);
}

#[test]
fn reshaping_ops() {
    let x = [randn(&[2, 3, 4], 10)];
    check(|v| v[0].reshape(&[4, 6]), &x);
    check(|v| v[0].flatten(0, -1), &x);
    check(|v| v[0].flatten(1, 2), &x);
    check(|v| v[0].transpose(0, 2), &x);
    check(|v| v[0].transpose(-1, 1), &x);
    check(|v| v[0].permute(&[2, 0, 1]), &x);
    check(|v| v[0].permute(&[1, 2, 0]), &x);
    check(|v| v[0].unsqueeze(1), &x);
    check(|v| v[0].unsqueeze(-1), &x);
    check(|v| v[0].t(), &[randn(&[2, 5], 11)]);
    check(|v| v[0].t(), &[randn(&[3], 12)]);
    check(|v| v[0].squeeze(1), &[randn(&[2, 1, 3], 13)]);
    check(|v| v[0].squeeze(-2), &[randn(&[1, 2], 14)]);
    // A permutation that is not its own inverse, composed with a non-linear op to make the
    // ordering of the gradient matter.
    check(
        |v| v[0].permute(&[2, 0, 1])?.try_mul(&Var::new(randn(&[4, 2, 3], 15))),
        &x,
    );
}

#[test]
fn narrow_concat_stack() {
    let x = [randn(&[3, 5], 16)];
    check(|v| v[0].narrow(1, 1, 3), &x);
    check(|v| v[0].narrow(0, 2, 1), &x);
    check(|v| v[0].narrow(-1, 0, 5), &x);
    let parts = [randn(&[2, 3], 17), randn(&[2, 1], 18), randn(&[2, 2], 19)];
    check(|v| Var::concat(v, 1), &parts);
    check(
        |v| Var::concat(&[v[0].clone(), v[1].clone()], 0),
        &[randn(&[2, 3], 20), randn(&[4, 3], 21)],
    );
    check(
        |v| Var::concat(&[v[0].clone(), v[0].mul_scalar(2.0)], -1),
        &[randn(&[2, 3], 22)],
    );
    let same = [randn(&[2, 3], 23), randn(&[2, 3], 24), randn(&[2, 3], 25)];
    for dim in [0, 1, 2, -1] {
        check(|v| Var::stack(v, dim), &same);
    }
}

#[test]
fn matmul_in_every_form() {
    // Batched on the left of a matrix (the leading dimensions folded into rows of one
    // product) and of a vector among them.
    let cases: [(&[usize], &[usize]); 11] = [
        (&[3, 4], &[4, 2]),
        (&[4], &[4, 2]),
        (&[3, 4], &[4]),
        (&[4], &[4]),
        (&[2, 3, 4], &[2, 4, 5]),
        (&[2, 1, 3, 4], &[5, 4, 2]),
        (&[3, 4], &[2, 4, 2]),
        (&[4], &[2, 4, 3]),
        (&[2, 3, 4], &[4, 5]),
        (&[2, 1, 3, 4], &[4, 2]),
        (&[2, 3, 4], &[4]),
    ];
    for (k, (sa, sb)) in cases.iter().enumerate() {
        let (a, b) = (randn(sa, 30 + k as u64), randn(sb, 40 + k as u64));
        check(|v| v[0].matmul(&v[1]), &[a, b]);
    }
    // Only one operand requiring a gradient.
    let b = Var::new(randn(&[4, 2], 50));
    check(|v| v[0].matmul(&b), &[randn(&[3, 4], 51)]);
    let a = Var::new(randn(&[3, 4], 52));
    check(|v| a.matmul(&v[0]), &[randn(&[4, 2], 53)]);
}

#[test]
fn linear_with_and_without_bias() {
    let (x, w, b) = (randn(&[5, 4], 70), randn(&[3, 4], 71), randn(&[3], 72));
    check(|v| v[0].linear(&v[1], Some(&v[2])), &[x.clone(), w.clone(), b.clone()]);
    check(|v| v[0].linear(&v[1], None), &[x.clone(), w.clone()]);
    // The same numbers as the matmul with the transposed weight plus the broadcast bias.
    let (xv, wv, bv) = (Var::new(x.clone()), Var::new(w.clone()), Var::new(b.clone()));
    let fused = xv.linear(&wv, Some(&bv)).unwrap().to_tensor();
    let plain = xv.matmul(&wv.t().unwrap()).unwrap().try_add(&bv).unwrap().to_tensor();
    assert_eq!(fused.to_vec(), plain.to_vec());
    // Only some operands requiring a gradient: the input (as in a first layer), the weight.
    let xc = Var::new(x.clone());
    check(|v| xc.linear(&v[0], Some(&v[1])), &[w.clone(), b.clone()]);
    let (wc, bc) = (Var::new(w.clone()), Var::new(b.clone()));
    check(|v| v[0].linear(&wc, Some(&bc)), std::slice::from_ref(&x));
    // Inputs `[*, in]` other than 2-D: the leading dimensions are rows, as PyTorch's, and the
    // result is the 2-D one reshaped; the gradients (and their gradients) check.
    for shape in [&[2, 5, 4][..], &[4], &[2, 1, 3, 4]] {
        let xn = randn(shape, 75);
        check(|v| v[0].linear(&v[1], Some(&v[2])), &[xn.clone(), w.clone(), b.clone()]);
        check_second(|v| Ok(v[0].linear(&v[1], None)?.tanh().sum()), &[xn.clone(), w.clone()]);
        let rows = Var::new(xn.reshape(&[xn.numel() / 4, 4]).unwrap());
        let expected = rows.linear(&wv, Some(&bv)).unwrap().to_tensor();
        let got = Var::new(xn.clone()).linear(&wv, Some(&bv)).unwrap();
        let mut out_shape = shape.to_vec();
        *out_shape.last_mut().unwrap() = 3;
        assert_eq!(got.shape(), out_shape);
        assert_eq!(got.to_tensor().to_vec(), expected.to_vec());
    }
    // Errors name the op and both shapes.
    let e = xv.linear(&Var::new(randn(&[3, 2], 73)), None).unwrap_err().to_string();
    assert!(
        e.starts_with("linear: ") && e.contains("[5, 4]") && e.contains("[3, 2]"),
        "{e}"
    );
    let e = xv
        .linear(&wv, Some(&Var::new(randn(&[4], 74))))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("linear: ") && e.contains("[5, 3]") && e.contains("[4]"),
        "{e}"
    );
}

#[test]
fn gather_and_scatter_add() {
    let index = IndexTensor::from_vec(vec![2, 0, 2, 1, 1, 1], &[2, 3]).unwrap();
    check(|v| v[0].gather(1, &index), &[randn(&[2, 4], 60)]);
    let index0 = IndexTensor::from_vec(vec![1, 0, 2, 0], &[1, 4]).unwrap();
    check(|v| v[0].gather(0, &index0), &[randn(&[3, 4], 61)]);
    check(|v| v[0].scatter_add(&[2, 4], 1, &index), &[randn(&[2, 3], 62)]);
    check(|v| v[0].scatter_add(&[3, 4], -2, &index0), &[randn(&[1, 4], 63)]);
}

#[test]
fn index_select_and_index_add() {
    let index = IndexTensor::from_slice(&[2, 0, 2, 3]);
    check(|v| v[0].index_select(0, &index), &[randn(&[4, 3], 70)]);
    check(|v| v[0].index_select(-1, &index), &[randn(&[2, 5], 71)]);
    check(|v| v[0].index_add(&[4, 3], 0, &index), &[randn(&[4, 3], 72)]);
    check(|v| v[0].index_add(&[2, 5], 1, &index), &[randn(&[2, 4], 73)]);
}

#[test]
fn softmax_and_log_softmax() {
    let x = [randn(&[2, 3, 4], 80).mul_scalar(2.0)];
    for dim in [0, 1, 2, -1, -2] {
        check(|v| v[0].softmax(dim), &x);
        check(|v| v[0].log_softmax(dim), &x);
    }
    // Weighted, so that the gradient flowing in differs between elements.
    let w = Var::new(randn(&[3, 4], 81));
    check(|v| Ok(v[0].log_softmax(1)?.try_mul(&w)?.sum()), &[randn(&[3, 4], 82)]);
}

/// `x²` with a gradient rule that returns `scale · 2x`.
fn square_with_rule(x: &Var<f64>, scale: f64) -> Var<f64> {
    let out = x.value().mul(&x.value()).unwrap();
    Var::from_op("SquareBackward", out, vec![x.clone()], move |g, _, x| {
        Ok(vec![Some(g.try_mul(&x[0])?.mul_scalar(2.0 * scale))])
    })
}

#[test]
fn gradcheck_detects_a_wrong_gradient() {
    let x = [t(&[0.5, -1.0, 2.0], &[3])];
    let right = gradcheck(|v| Ok(square_with_rule(&v[0], 1.0)), &x, GradcheckOptions::default()).unwrap();
    assert!(right.passed, "{right}");
    assert_eq!(right.entries, 9);

    let wrong = gradcheck(|v| Ok(square_with_rule(&v[0], 2.0)), &x, GradcheckOptions::default()).unwrap();
    assert!(!wrong.passed, "a gradient twice too large passed: {wrong}");
    let (analytic, numeric) = wrong.worst_values.unwrap();
    assert!((analytic - 2.0 * numeric).abs() < 1e-6, "{wrong}");
    assert_eq!(wrong.worst_at, Some((0, 2, 2)));
    assert!(wrong.to_string().starts_with("gradcheck FAILED"), "{wrong}");

    // Slightly wrong (by 1%) still fails at the default tolerances.
    let off = gradcheck(|v| Ok(square_with_rule(&v[0], 1.01)), &x, GradcheckOptions::default()).unwrap();
    assert!(!off.passed, "{off}");
}

#[test]
fn gradcheck_detects_a_wrong_broadcast_gradient() {
    // A gradient that is not summed over the broadcast dimension has the wrong shape: an error.
    let f = |v: &[Var<f64>]| {
        let out = v[0].value().add(&v[1].value())?;
        Ok(Var::from_op("BadAdd", out, v.to_vec(), |g, _, _| {
            Ok(vec![Some(g.clone()), Some(g.clone())])
        }))
    };
    let inputs = [randn(&[2, 3], 90), randn(&[3], 91)];
    assert!(gradcheck(f, &inputs, GradcheckOptions::default()).is_err());
    // Averaging instead of summing has the right shape and the wrong values.
    let g = |v: &[Var<f64>]| {
        let out = v[0].value().add(&v[1].value())?;
        Ok(Var::from_op("BadAdd", out, v.to_vec(), |g, _, _| {
            Ok(vec![Some(g.clone()), Some(g.mean_dim(0, false)?)])
        }))
    };
    let report = gradcheck(g, &inputs, GradcheckOptions::default()).unwrap();
    assert!(!report.passed, "{report}");
}
