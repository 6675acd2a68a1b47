//! Finite-difference checks (f64), first and second order, of the ops torch.nn's layers are
//! built from: var / std / min, rsqrt / erf / pow, GELU / SiLU / Softplus / ELU, masking and
//! selection, and attention's batched matmul with a transposed operand; and gradients at
//! the special points where PyTorch's rules decide the value.

use crate::common;

use common::{away_from_zero, check, check_second, pos, randn, t};
use ferrograd_autograd::{grad, Var};
use ferrograd_tensor::{BoolTensor, Tensor};

/// Values at least 0.5 apart after a random shuffle: no ties for min / topk.
fn distinct(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let noise = Tensor::<f64>::rand(&[n], seed).to_vec();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| noise[a].total_cmp(&noise[b]));
    let values = order.iter().map(|&i| i as f64 * 0.5 - n as f64 / 4.0).collect();
    Tensor::from_vec(values, shape).unwrap()
}

/// The gradient of `f(x)` summed with weights, so every output element matters differently.
fn weighted(y: ferrograd_tensor::Result<Var<f64>>, seed: u64) -> ferrograd_tensor::Result<Var<f64>> {
    let y = y?;
    let w = Var::new(randn(&y.shape(), seed));
    Ok(y.try_mul(&w)?.sum())
}

#[test]
fn var_and_std() {
    let x = [randn(&[2, 3, 4], 1)];
    for correction in [0, 1, 2] {
        for keepdim in [false, true] {
            for dims in [&[1][..], &[0, 2], &[-1, 0, 1], &[]] {
                check(|v| v[0].var_dim(dims, correction, keepdim), &x);
                check(|v| v[0].std_dim(dims, correction, keepdim), &x);
            }
        }
        check(|v| Ok(v[0].var(correction)), &x);
        check(|v| Ok(v[0].std(correction)), &x);
    }
    check(|v| v[0].var_dim(&[0], 0, false), &[t(&[1.5], &[])]);
    check_second(|v| weighted(v[0].var_dim(&[0, 2], 1, false), 3), &x);
    check_second(|v| weighted(v[0].std_dim(&[-1], 1, true), 4), &x);
}

#[test]
fn std_of_a_constant_has_gradient_zero() {
    // x = torch.ones(3, dtype=torch.float64, requires_grad=True); x.std().backward(); x.grad -> [0., 0., 0.]
    let x = Var::parameter(Tensor::<f64>::ones(&[3]));
    x.std(1).backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0]);
    // x = torch.tensor([1., 2, 3], dtype=torch.float64, requires_grad=True); x.var(correction=5).backward(); x.grad -> [inf, nan, inf]
    let x = Var::parameter(t(&[1.0, 2.0, 3.0], &[3]));
    x.var(5).backward().unwrap();
    let g = x.grad().unwrap().to_vec();
    assert!(g[0] == f64::NEG_INFINITY || g[0] == f64::INFINITY, "{g:?}");
    assert!(g[1].is_nan() && g[2].is_infinite(), "{g:?}");
    // x.std(correction=3).backward(); x.grad -> [nan, nan, nan]
    let x = Var::parameter(t(&[1.0, 2.0, 3.0], &[3]));
    x.std(3).backward().unwrap();
    assert!(x.grad().unwrap().to_vec().iter().all(|g| g.is_nan()));
}

#[test]
fn minima() {
    let x = [distinct(&[3, 4], 2)];
    check(|v| v[0].min(), &x);
    for dim in [0, 1, -1] {
        for keepdim in [false, true] {
            check(|v| v[0].min_dim(dim, keepdim), &x);
        }
    }
    // Tied minima share the gradient evenly, as torch.min(t) / torch.amin(t, dim).
    let y = Var::parameter(t(&[0.0, 1.0, 0.0, 4.0, -2.0, -2.0], &[2, 3]));
    y.min().unwrap().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
    y.zero_grad();
    y.min_dim(1, false).unwrap().sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![0.5, 0.0, 0.5, 0.0, 0.5, 0.5]);
}

#[test]
fn rsqrt_erf_and_pow() {
    check(|v| Ok(v[0].rsqrt()), &[pos(&[2, 3], 1)]);
    check(|v| Ok(v[0].erf()), &[randn(&[2, 3], 2)]);
    check_second(|v| Ok(v[0].erf().sum()), &[randn(&[4], 3)]);
    check_second(|v| Ok(v[0].rsqrt().sum()), &[pos(&[4], 4)]);
    // Base and exponent, each broadcast both ways.
    check(|v| v[0].pow(&v[1]), &[pos(&[2, 3], 5), randn(&[3], 6)]);
    check(|v| v[0].pow(&v[1]), &[pos(&[3], 7), randn(&[2, 3], 8)]);
    check(|v| v[0].pow(&v[1]), &[pos(&[2, 1], 9), randn(&[1, 3], 10)]);
    check_second(|v| weighted(v[0].pow(&v[1]), 11), &[pos(&[3], 12), randn(&[3], 13)]);
}

#[test]
fn pow_gradient_at_zero_base_and_exponent() {
    // a = torch.tensor([0., 0, 2, -1], dtype=torch.float64, requires_grad=True)
    // e = torch.tensor([0., 2, 0, 2], dtype=torch.float64, requires_grad=True)
    // a.pow(e).sum().backward(); a.grad -> [0, 0, 0, -2]; e.grad -> [0, 0, 0.6931, nan]
    let a = Var::parameter(t(&[0.0, 0.0, 2.0, -1.0], &[4]));
    let e = Var::parameter(t(&[0.0, 2.0, 0.0, 2.0], &[4]));
    a.pow(&e).unwrap().sum().backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0, -2.0]);
    let ge = e.grad().unwrap().to_vec();
    assert_eq!(&ge[..3], &[0.0, 0.0, 2f64.ln()]);
    assert!(ge[3].is_nan());
}

#[test]
fn activations() {
    let x = [away_from_zero(&[2, 5], 1)];
    for approximate in ["none", "tanh"] {
        check(|v| v[0].gelu(approximate), &x);
        check_second(|v| weighted(v[0].gelu(approximate), 2), &x);
    }
    check(|v| Ok(v[0].silu()), &x);
    check_second(|v| weighted(Ok(v[0].silu()), 3), &x);
    for (beta, threshold) in [(1.0, 20.0), (2.0, 1.0), (0.5, 0.3)] {
        check(|v| Ok(v[0].softplus(beta, threshold)), &x);
        check_second(|v| weighted(Ok(v[0].softplus(beta, threshold)), 4), &x);
    }
    for alpha in [1.0, 0.3, 2.5] {
        check(|v| Ok(v[0].elu(alpha)), &x);
        check_second(|v| weighted(Ok(v[0].elu(alpha)), 5), &x);
    }
}

#[test]
fn activation_gradients_at_the_special_points_match_pytorch() {
    // x = torch.tensor([-25., -1, 0, 1, 10.5, 25], requires_grad=True)
    // y = F.softplus(x, beta=2, threshold=20); y.sum().backward()
    // x.grad -> [1.9287e-22, 1.1920e-01, 5.0000e-01, 8.8080e-01, 1.0000e+00, 1.0000e+00]
    let x = Var::parameter(t(&[-25.0, -1.0, 0.0, 1.0, 10.5, 25.0], &[6]));
    x.softplus(2.0, 20.0).sum().backward().unwrap();
    let g = x.grad().unwrap().to_vec();
    let want = [1.9287e-22, 1.1920e-01, 0.5, 8.8080e-01, 1.0, 1.0];
    for (g, w) in g.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * w, "{g} vs {w}");
    }
    assert_eq!(g[4], 1.0); // above the threshold the gradient passes exactly
                           // x = torch.tensor([-2., 0, 1], dtype=torch.float64, requires_grad=True)
                           // y = F.elu(x, alpha=1.5); g, = torch.autograd.grad(y.sum(), x, create_graph=True) -> [0.2030, 1.5, 1.]
                           // torch.autograd.grad(g.sum(), x) -> [0.2030, 0., 0.]
    let x = Var::parameter(t(&[-2.0, 0.0, 1.0], &[3]));
    let g = grad(&[x.elu(1.5).sum()], std::slice::from_ref(&x), None, true).unwrap()[0]
        .clone()
        .unwrap();
    let e2 = 1.5 * (-2f64).exp();
    assert_eq!(g.to_tensor().to_vec(), vec![e2, 1.5, 1.0]);
    let gg = grad(&[g.sum()], std::slice::from_ref(&x), None, false).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(gg.to_tensor().to_vec(), vec![e2, 0.0, 0.0]);
}

#[test]
fn masked_fill_and_where() {
    let mask = BoolTensor::from_vec(vec![true, false, false, true, false, true], &[2, 3]).unwrap();
    check(|v| v[0].masked_fill(&mask, 7.0), &[randn(&[2, 3], 1)]);
    check(|v| v[0].masked_fill(&mask, 7.0), &[randn(&[3], 2)]); // x broadcast up to the mask
    let row = BoolTensor::from_slice(&[false, true, false]);
    check(|v| v[0].masked_fill(&row, -1.0), &[randn(&[4, 3], 3)]); // the mask broadcast
    check(
        |v| Var::where_(&mask, &v[0], &v[1]),
        &[randn(&[2, 3], 4), randn(&[2, 3], 5)],
    );
    check(
        |v| Var::where_(&mask, &v[0], &v[1]),
        &[randn(&[3], 6), randn(&[2, 1], 7)],
    );
    check(|v| Var::where_(&row, &v[0], &v[1]), &[randn(&[2, 1], 8), randn(&[], 9)]);
    check_second(
        |v| weighted(Var::where_(&mask, &v[0].erf(), &v[1].silu()), 10),
        &[randn(&[2, 3], 11), randn(&[3], 12)],
    );
    // masked_fill(mask, -inf) then softmax: masked inputs get gradient exactly 0.
    let x = Var::parameter(randn(&[2, 3], 13));
    let p = x.masked_fill(&mask, f64::NEG_INFINITY).unwrap().softmax(-1).unwrap();
    p.try_mul(&Var::new(randn(&[2, 3], 14)))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let g = x.grad().unwrap().to_vec();
    for (g, m) in g.iter().zip(mask.to_vec()) {
        assert!(!m || *g == 0.0, "{g}");
    }
}

#[test]
fn triangles() {
    let x = [randn(&[2, 3, 4], 1)];
    for k in [-2, -1, 0, 1, 3, 9] {
        check(|v| v[0].tril(k), &x);
        check(|v| v[0].triu(k), &x);
    }
}

#[test]
fn split_and_chunk() {
    let x = [randn(&[5, 3], 1)];
    let join = |pieces: Vec<Var<f64>>| -> ferrograd_tensor::Result<Var<f64>> {
        // Each piece scaled differently, so the gradient shows which slice it went back to.
        let scaled: Vec<Var<f64>> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| p.mul_scalar(i as f64 + 1.0).tanh())
            .collect();
        Var::concat(&scaled, 0)
    };
    check(|v| join(v[0].split(2, 0)?), &x);
    check(|v| join(v[0].chunk(3, 0)?), &x);
    check(
        |v| {
            join(
                v[0].split(2, 1)?
                    .into_iter()
                    .map(|p| p.flatten(0, -1))
                    .collect::<Result<_, _>>()?,
            )
        },
        &x,
    );
    assert_eq!(Var::new(x[0].clone()).split(2, 0).unwrap().len(), 3);
    // torch.arange(6).chunk(4) -> 3 pieces of 2
    assert_eq!(Var::new(Tensor::<f64>::arange(6)).chunk(4, 0).unwrap().len(), 3);
}

/// The pieces of a split whose gradients are added into one buffer, slice by slice (the walk
/// without `create_graph`), and the same gradient recorded (each piece's gradient put in
/// zeros by a concat, then added): a piece unused, a piece used twice, the input used
/// directly too, before and after the pieces.
#[test]
fn split_gradients_added_slice_by_slice() {
    let x = [randn(&[2, 7, 3], 4)];
    let f = |v: &[Var<f64>]| -> Result<Var<f64>, ferrograd_tensor::Error> {
        let direct = v[0].exp().sum();
        let p = v[0].split(2, 1)?; // sizes 2, 2, 2, 1 along dim 1
        let first = p[0].mul_scalar(3.0).tanh().sum().try_add(&p[0].sigmoid().sum())?;
        let last = p[3].try_mul(&p[3])?.sum().try_add(&p[2].erf().sum())?;
        direct
            .try_add(&first)?
            .try_add(&last)?
            .try_add(&v[0].mul_scalar(0.5).sum())
    };
    check(f, &x);
    check_second(f, &x);
    let walked = Var::parameter(x[0].clone());
    f(std::slice::from_ref(&walked)).unwrap().backward().unwrap();
    let recorded = Var::parameter(x[0].clone());
    let g = grad(&[f(std::slice::from_ref(&recorded)).unwrap()], &[recorded], None, true).unwrap();
    let recorded = g[0].as_ref().unwrap().to_tensor().to_vec();
    assert_eq!(walked.grad().unwrap().to_vec(), recorded);
    // Piece 1 (elements 2..4 of dim 1) is unused: its gradient is that of `exp` and `0.5·x`.
    let at = |i: usize, j: usize, k: usize| (i * 7 + j) * 3 + k;
    let x0 = x[0].to_vec();
    for i in 0..2 {
        for k in 0..3 {
            let idx = at(i, 2, k);
            assert!((recorded[idx] - (x0[idx].exp() + 0.5)).abs() < 1e-12);
        }
    }
}

#[test]
fn pad_roll_flip_cumsum() {
    let x = [randn(&[2, 3, 4], 1)];
    for pad in [
        &[(1, 2)][..],
        &[(0, 0), (2, 1)],
        &[(-1, 2), (1, -2)],
        &[(-2, -1)],
        &[(1, 0), (0, 1), (1, 1)],
    ] {
        check(|v| v[0].pad(pad, 0.5), &x);
    }
    check(|v| v[0].roll(&[1], &[0]), &x);
    check(|v| v[0].roll(&[-5, 2], &[-1, 1]), &x);
    check(|v| v[0].roll(&[7], &[]), &x);
    check(|v| v[0].flip(&[0, 2]), &x);
    for dim in [0, 1, -1] {
        check(|v| v[0].cumsum(dim), &x);
        check(|v| v[0].reversed_cumsum(dim), &x);
    }
    check_second(|v| weighted(v[0].cumsum(1)?.tanh().pad(&[(1, -1)], 0.0), 2), &x);
}

#[test]
fn topk() {
    let x = [distinct(&[3, 5], 1)];
    for (k, dim) in [(2, 1), (3, 0), (5, -1), (1, 0)] {
        for largest in [true, false] {
            for sorted in [true, false] {
                check(|v| Ok(v[0].topk(k, dim, largest, sorted)?.0), &x);
            }
        }
    }
    // k = 0: an empty result, and a zero gradient.
    let v = Var::parameter(x[0].clone());
    let (top, indices) = v.topk(0, 1, true, true).unwrap();
    assert_eq!((top.shape(), indices.shape()), (vec![3, 0], &[3usize, 0][..]));
    top.sum().backward().unwrap();
    assert_eq!(v.grad().unwrap(), Tensor::zeros(&[3, 5]));
}

#[test]
fn batched_matmul_with_a_transposed_key() {
    // Attention scores: q [B, H, L, D] times k [B, H, S, D] transposed on its last two dims.
    let (q, k) = (randn(&[2, 2, 3, 4], 1), randn(&[2, 2, 5, 4], 2));
    check(|v| v[0].matmul(&v[1].transpose(-2, -1)?), &[q.clone(), k.clone()]);
    check_second(
        |v| weighted(v[0].matmul(&v[1].transpose(-2, -1)?)?.softmax(-1), 3),
        &[q, k],
    );
    // The scores equal the product of the plain tensors.
    let (q, k) = (randn(&[2, 2, 3, 4], 4), randn(&[2, 2, 5, 4], 5));
    let scores = Var::new(q.clone())
        .matmul(&Var::new(k.clone()).transpose(-2, -1).unwrap())
        .unwrap();
    assert_eq!(scores.shape(), vec![2, 2, 3, 5]);
    let want = q.matmul(&k.transpose(-2, -1).unwrap()).unwrap();
    assert_eq!(scores.to_tensor(), want);
}

#[test]
fn errors_name_the_op_and_values() {
    let x = Var::new(randn(&[2, 3], 1));
    let msg = |r: Result<Var<f64>, ferrograd_tensor::Error>| r.unwrap_err().to_string();
    // x.topk(4) -> RuntimeError: selected index k out of range
    assert_eq!(
        x.topk(4, 1, true, true).unwrap_err().to_string(),
        "topk: selected index k out of range (k = 4, dimension 1 has size 3)"
    );
    // x.topk(1, dim=2) -> IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)
    assert!(x
        .topk(1, 2, true, true)
        .unwrap_err()
        .to_string()
        .starts_with("topk: dimension out of range"));
    // x.split(0) -> RuntimeError: split_size can only be 0 if dimension size is 0, but got dimension size of 3
    assert_eq!(
        x.split(0, 1).unwrap_err().to_string(),
        "split: split_size can only be 0 if dimension size is 0, but got dimension size of 3"
    );
    // x.chunk(0) -> RuntimeError: chunk expects `chunks` to be greater than 0, got: 0
    assert_eq!(
        x.chunk(0, 0).unwrap_err().to_string(),
        "chunk: chunk expects `chunks` to be greater than 0, got: 0"
    );
    // F.pad(torch.ones(3), (1, 2, 3, 4)) -> RuntimeError: Padding length should be less than or equal to two times the input dimension but got padding length 4 and input of dimension 1
    let one_d = Var::new(randn(&[3], 2));
    assert_eq!(
        msg(one_d.pad(&[(1, 2), (3, 4)], 0.0)),
        "pad: Padding length should be less than or equal to two times the input dimension but got padding length 4 and input of dimension 1"
    );
    assert!(msg(one_d.pad(&[(-2, -2)], 0.0)).contains("input size 3, plus negative padding -2 and -2"));
    // torch.roll(x, (1, 2), (0,)) -> RuntimeError: shifts and dimensions must align. shifts: 2, dims:1
    assert_eq!(
        msg(x.roll(&[1, 2], &[0])),
        "roll: shifts and dimensions must align. shifts: 2, dims:1"
    );
    // torch.tensor([1., 2, 3]).tril() -> RuntimeError: tril: input tensor must have at least 2 dimensions
    assert_eq!(
        msg(one_d.tril(0)),
        "tril: input tensor must have at least 2 dimensions, but got shape [3]"
    );
    // masked_fill with a mask that does not broadcast
    assert_eq!(
        msg(x.masked_fill(&BoolTensor::from_slice(&[true, false]), 0.0)),
        "masked_fill: shapes [2, 3] and [2] cannot be broadcast together"
    );
    assert_eq!(
        msg(Var::where_(&BoolTensor::from_slice(&[true, false]), &x, &x)),
        "where: shapes [2] and [2, 3] cannot be broadcast together"
    );
    assert!(msg(x.flip(&[1, -1])).contains("dim 1 appears multiple times"));
    assert!(msg(x.cumsum(-3)).starts_with("cumsum: dimension out of range"));
    assert!(msg(x.reversed_cumsum(2)).starts_with("reversed_cumsum: dimension out of range"));
    assert!(msg(x.gelu("exact")).starts_with("gelu: approximate argument must be either none or tanh."));
}

/// Within a few f32 ulp of PyTorch's gradient, or 2e-8 absolute: GELU's gradient at -4 is
/// the sum of two terms that nearly cancel, where PyTorch's own f32 results differ by 1e-8
/// between its vectorised path (these 8 values) and its scalar one (a 1-element tensor gives
/// -0.00050364103, as ferrograd does; the exact value is -0.00050364966).
#[track_caller]
fn assert_close_f32(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= 2e-6 * w.abs() + 2e-8, "element {i}: {g} vs {w}");
    }
}

#[test]
fn f32_gradients_match_pytorch() {
    // xs = torch.tensor([-4.0, -1.5, -0.3, 0.0, 0.2, 1.0, 2.7, 6.0])
    // for each f: x = xs.clone().requires_grad_(); f(x).sum().backward(); x.grad
    let xs = Tensor::from_vec(vec![-4.0f32, -1.5, -0.3, 0.0, 0.2, 1.0, 2.7, 6.0], &[8]).unwrap();
    let grad_of = |f: &dyn Fn(&Var<f32>) -> Var<f32>| {
        let x = Var::parameter(xs.clone());
        f(&x).sum().backward().unwrap();
        x.grad().unwrap().to_vec()
    };
    // F.gelu(x)
    let want = [
        -0.0005036294460296631,
        -0.12746915221214294,
        0.26767227053642273,
        0.5,
        0.657468318939209,
        1.083315372467041,
        1.0246695280075073,
        1.0,
    ];
    assert_close_f32(&grad_of(&|x| x.gelu("none").unwrap()), &want);
    // F.gelu(x, approximate='tanh')
    let want = [
        -0.00033497207914479077,
        -0.12771081924438477,
        0.2677045464515686,
        0.5,
        0.6574581265449524,
        1.0829640626907349,
        1.024667739868164,
        1.0,
    ];
    assert_close_f32(&grad_of(&|x| x.gelu("tanh").unwrap()), &want);
    // F.silu(x)
    let want = [
        -0.052664611488580704,
        -0.0412941612303257,
        0.35221999883651733,
        0.5,
        0.5993372201919556,
        0.9276705384254456,
        1.096347451210022,
        1.0123262405395508,
    ];
    assert_close_f32(&grad_of(&|x| x.silu()), &want);
    // F.softplus(x, beta=2.0, threshold=5.0)
    let want = [
        0.00033535013790242374,
        0.04742587357759476,
        0.3543436825275421,
        0.5,
        0.5986877083778381,
        0.8807970881462097,
        1.0,
        1.0,
    ];
    assert_close_f32(&grad_of(&|x| x.softplus(2.0, 5.0)), &want);
    // F.elu(x, alpha=0.7)
    let want = [
        0.012820946983993053,
        0.15619111061096191,
        0.5185727477073669,
        0.699999988079071,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    assert_close_f32(&grad_of(&|x| x.elu(0.7)), &want);
    // torch.erf(x)
    let want = [
        1.2698235707375716e-07,
        0.11893029510974884,
        1.0312609672546387,
        1.128379225730896,
        1.084134817123413,
        0.41510751843452454,
        0.0007699244888499379,
        2.61730110207145e-16,
    ];
    assert_close_f32(&grad_of(&|x| x.erf()), &want);
    // torch.rsqrt(x.abs() + 0.5)
    let want = [
        0.05237828940153122,
        0.1767766773700714,
        0.6987712383270264,
        -0.0,
        -0.8537346720695496,
        -0.2721655070781708,
        -0.0873464047908783,
        -0.0301717147231102,
    ];
    assert_close_f32(&grad_of(&|x| x.abs().add_scalar(0.5).rsqrt()), &want);
    // x = torch.tensor([[0.5, -1.25, 2.0, 3.5], [1.0, 0.25, -0.75, 4.0], [2.5, 2.5, -3.0, 0.125]], requires_grad=True)
    // (x.std(dim=1) * torch.tensor([1., -2, 0.5])).sum().backward(); x.grad
    let x = Var::parameter(
        Tensor::from_vec(
            vec![0.5f32, -1.25, 2.0, 3.5, 1.0, 0.25, -0.75, 4.0, 2.5, 2.5, -3.0, 0.125],
            &[3, 4],
        )
        .unwrap(),
    );
    let w = Var::new(Tensor::from_vec(vec![1.0f32, -2.0, 0.5], &[3]).unwrap());
    x.std_dim(&[1], 1, false)
        .unwrap()
        .try_mul(&w)
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let want = [
        -0.1126207783818245,
        -0.39929184317588806,
        0.13309729099273682,
        0.37881535291671753,
        0.040723152458667755,
        0.2850620746612549,
        0.6108472943305969,
        -0.936632513999939,
        0.1258711814880371,
        0.1258711814880371,
        -0.22576892375946045,
        -0.02597341686487198,
    ];
    assert_close_f32(&x.grad().unwrap().to_vec(), &want);
}
