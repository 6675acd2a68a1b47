//! Reductions (with NaN and empty tensors), argmax, logsumexp and the stability of softmax.

use ferrograd_tensor::{Error, IndexTensor, Tensor};

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Elementwise equality where NaN equals NaN.
fn assert_same(actual: &Tensor<f64>, expected: &[f64], shape: &[usize]) {
    assert_eq!(actual.shape(), shape, "{actual}");
    let ok = actual
        .to_vec()
        .iter()
        .zip(expected)
        .all(|(a, e)| (a.is_nan() && e.is_nan()) || (a - e).abs() <= 1e-12 * e.abs().max(1.0) || a == e);
    assert!(ok, "got {actual}, expected {expected:?}");
}

#[test]
fn sums_and_means() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_same(&x.sum(), &[21.0], &[]);
    assert_same(&x.mean(), &[3.5], &[]);
    assert_same(&x.sum_dim(0, false).unwrap(), &[5.0, 7.0, 9.0], &[3]);
    assert_same(&x.sum_dim(1, true).unwrap(), &[6.0, 15.0], &[2, 1]);
    assert_same(&x.sum_dim(-1, false).unwrap(), &[6.0, 15.0], &[2]);
    assert_same(&x.mean_dim(-2, true).unwrap(), &[2.5, 3.5, 4.5], &[1, 3]);
    assert_same(&x.mean_dim(1, false).unwrap(), &[2.0, 5.0], &[2]);
    assert_same(&Tensor::scalar(4.0).sum_dim(0, false).unwrap(), &[4.0], &[]);
    assert_same(&Tensor::scalar(4.0).mean_dim(-1, true).unwrap(), &[4.0], &[]);
}

#[test]
fn reduction_dimension_errors() {
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let err = x.sum_dim(2, false).unwrap_err();
    assert_eq!(
        err,
        Error::DimOutOfRange {
            op: "sum",
            dim: 2,
            ndim: 2
        }
    );
    // torch: torch.zeros(2, 2).sum(2) -> "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
    assert_eq!(
        err.to_string(),
        "sum: dimension out of range (expected to be in range of [-2, 1], but got 2)"
    );
    assert!(x.mean_dim(-3, false).is_err());
    assert!(x.max_dim(5, false).is_err());
    assert!(x.argmax(-3, false).is_err());
    assert!(x.logsumexp(2, false).is_err());
    // torch: torch.tensor(1.).sum(1) -> "Dimension out of range (expected to be in range of [-1, 0], but got 1)"
    let err = Tensor::scalar(1.0).sum_dim(1, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sum: dimension out of range (expected to be in range of [-1, 0], but got 1)"
    );
}

#[test]
fn nan_propagates() {
    let x = t(&[1.0, NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert!(x.sum().item().unwrap().is_nan());
    assert!(x.mean().item().unwrap().is_nan());
    assert!(x.max().unwrap().item().unwrap().is_nan());
    assert_same(&x.sum_dim(1, false).unwrap(), &[NAN, 15.0], &[2]);
    assert_same(&x.sum_dim(0, false).unwrap(), &[5.0, NAN, 9.0], &[3]);
    assert_same(&x.max_dim(1, false).unwrap(), &[NAN, 6.0], &[2]);
    // A NaN after the maximum, and before it, still wins.
    let y = t(&[5.0, NAN, NAN, 1.0], &[2, 2]);
    assert_same(&y.max_dim(1, false).unwrap(), &[NAN, NAN], &[2]);
    assert_same(&x.logsumexp(1, false).unwrap().map(|v| v * 0.0), &[NAN, 0.0], &[2]);
    let s = x.softmax(1).unwrap().to_vec();
    assert!(s[..3].iter().all(|v| v.is_nan()) && s[3..].iter().all(|v| v.is_finite()));
    let m = Tensor::from_vec(vec![1.0f32, f32::NAN], &[2]).unwrap();
    assert!(m.relu().to_vec()[1].is_nan());
    assert!(m.clamp(Some(0.0), Some(0.5)).to_vec()[1].is_nan());
}

#[test]
fn empty_tensors() {
    let e = Tensor::<f64>::zeros(&[0, 3]);
    // torch: torch.zeros(0, 3).sum(0) == tensor([0., 0., 0.]), .mean(0) == tensor([nan, nan, nan])
    assert_same(&e.sum(), &[0.0], &[]);
    assert!(e.mean().item().unwrap().is_nan());
    assert_same(&e.sum_dim(0, false).unwrap(), &[0.0; 3], &[3]);
    assert_same(&e.sum_dim(1, true).unwrap(), &[], &[0, 1]);
    assert_same(&e.mean_dim(0, true).unwrap(), &[NAN; 3], &[1, 3]);
    // torch: torch.zeros(0, 3).logsumexp(0) == tensor([-inf, -inf, -inf])
    assert_same(&e.logsumexp(0, false).unwrap(), &[-INF; 3], &[3]);
    assert_same(&e.max_dim(1, false).unwrap(), &[], &[0]);
    assert_eq!(e.argmax(1, false).unwrap().shape(), &[0]);

    let err = e.max().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "max", .. }), "{err:?}");
    let err = e.max_dim(0, false).unwrap_err();
    assert!(err.to_string().contains("non-zero size"), "{err}");
    assert!(e.argmax(0, false).is_err());
    assert_eq!(e.softmax(1).unwrap().shape(), &[0, 3]);
    assert_eq!(e.log_softmax(0).unwrap().shape(), &[0, 3]);
}

#[test]
fn max_and_argmax() {
    let x = t(&[1.0, 7.0, 7.0, -2.0, 0.0, -1.0], &[2, 3]);
    assert_same(&x.max().unwrap(), &[7.0], &[]);
    assert_same(&x.max_dim(0, true).unwrap(), &[1.0, 7.0, 7.0], &[1, 3]);
    // Ties go to the first index, as torch.argmax.
    assert_eq!(x.argmax(1, false).unwrap(), IndexTensor::from_slice(&[1, 1]));
    assert_eq!(
        x.argmax(0, true).unwrap(),
        IndexTensor::from_vec(vec![0, 0, 0], &[1, 3]).unwrap()
    );
    assert_eq!(
        t(&[2.0, 2.0, 2.0], &[3]).argmax(0, false).unwrap(),
        IndexTensor::scalar(0)
    );
    // The first NaN counts as the largest: torch.argmax(torch.tensor([1., 3., 3., nan, nan])) == 3
    assert_eq!(
        t(&[1.0, 3.0, 3.0, NAN, NAN], &[5]).argmax(0, false).unwrap(),
        IndexTensor::scalar(3)
    );
    assert_eq!(t(&[NAN, 9.0], &[2]).argmax(-1, false).unwrap(), IndexTensor::scalar(0));
    assert_eq!(t(&[-INF, -INF], &[2]).argmax(0, false).unwrap(), IndexTensor::scalar(0));
    assert_eq!(Tensor::scalar(1.0).argmax(0, false).unwrap(), IndexTensor::scalar(0));
}

#[test]
fn logsumexp_is_stable() {
    // torch: torch.logsumexp(torch.tensor([[-inf, -inf], [1e4, 1e4]]), 1) == tensor([-inf, 10000.6934])
    let x = t(&[-INF, -INF, 1e4, 1e4], &[2, 2]);
    let l = x.logsumexp(1, false).unwrap().to_vec();
    assert_eq!(l[0], -INF);
    assert!((l[1] - (1e4 + 2f64.ln())).abs() < 1e-9, "{}", l[1]);
    let y = t(&[0.0, -INF, 1.0, 2.0, -1e4, -1e4], &[3, 2]);
    let l = y.logsumexp(-1, true).unwrap();
    assert_eq!(l.shape(), &[3, 1]);
    let l = l.to_vec();
    assert_eq!(l[0], 0.0);
    assert!((l[1] - (1f64.exp() + 2f64.exp()).ln()).abs() < 1e-12);
    assert!((l[2] - (-1e4 + 2f64.ln())).abs() < 1e-9);
    assert_eq!(t(&[INF, 1.0], &[2]).logsumexp(0, false).unwrap().item().unwrap(), INF);
    let big = Tensor::from_vec(vec![1e4f32, 1e4], &[2]).unwrap();
    assert!((big.logsumexp(0, false).unwrap().item().unwrap() - 10000.693).abs() < 1e-2);
}

#[test]
fn softmax_is_stable() {
    // torch: torch.tensor([[1e4, 0., -inf]]).softmax(1) == tensor([[1., 0., 0.]])
    // torch: torch.tensor([[1e4, 0., -inf]]).log_softmax(1) == tensor([[0., -10000., -inf]])
    let x = Tensor::from_vec(vec![1e4f32, 0.0, f32::NEG_INFINITY], &[1, 3]).unwrap();
    assert_eq!(x.softmax(1).unwrap().to_vec(), vec![1.0, 0.0, 0.0]);
    assert_eq!(x.log_softmax(1).unwrap().to_vec(), vec![0.0, -1e4, f32::NEG_INFINITY]);

    // Shifting by 1e4 changes nothing (f32 holds 1e4 + k exactly).
    let small = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[4]).unwrap();
    let shifted = small.add_scalar(1e4);
    let (p, q) = (small.softmax(0).unwrap().to_vec(), shifted.softmax(0).unwrap().to_vec());
    assert!(p.iter().zip(&q).all(|(a, b)| (a - b).abs() < 1e-7), "{p:?} vs {q:?}");
    let (p, q) = (small.log_softmax(0).unwrap(), shifted.log_softmax(0).unwrap());
    assert!(p.to_vec().iter().zip(q.to_vec()).all(|(a, b)| (a - b).abs() < 1e-6));
    assert!(shifted.neg().softmax(0).unwrap().all_finite());

    // torch: torch.tensor([[-inf, -inf]]).softmax(1) == tensor([[nan, nan]])
    let all_neg_inf = t(&[-INF, -INF], &[1, 2]);
    assert!(all_neg_inf.softmax(1).unwrap().to_vec().iter().all(|v| v.is_nan()));
    assert!(all_neg_inf.log_softmax(1).unwrap().to_vec().iter().all(|v| v.is_nan()));
}

#[test]
fn softmax_along_any_dim() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 0.5, -1.0], &[2, 3]);
    for dim in [0isize, 1, -1, -2] {
        let p = x.softmax(dim).unwrap();
        let sums = p.sum_dim(dim, false).unwrap().to_vec();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-12), "dim {dim}: {sums:?}");
        let lp = x.log_softmax(dim).unwrap();
        let diff = lp.exp().sub(&p).unwrap().abs().max().unwrap().item().unwrap();
        assert!(diff < 1e-12, "dim {dim}");
    }
    let p = x.softmax(0).unwrap().to_vec();
    let e = 1.0 / (1.0 + 3f64.exp()); // softmax([1, 4])[0]
    assert!((p[0] - e).abs() < 1e-15);
    assert!(x.softmax(2).is_err() && x.log_softmax(-3).is_err());
    assert_eq!(Tensor::scalar(3.0).softmax(0).unwrap().item().unwrap(), 1.0);
    assert_eq!(Tensor::scalar(3.0).log_softmax(-1).unwrap().item().unwrap(), 0.0);
}

#[test]
fn sum_to_shape_reverses_broadcasting() {
    let g = Tensor::<f64>::arange(24).reshape(&[2, 3, 4]).unwrap();
    assert_same(&g.sum_to_shape(&[4]).unwrap(), &[60.0, 66.0, 72.0, 78.0], &[4]);
    assert_same(&g.sum_to_shape(&[3, 1]).unwrap(), &[60.0, 92.0, 124.0], &[3, 1]);
    assert_same(&g.sum_to_shape(&[2, 1, 1]).unwrap(), &[66.0, 210.0], &[2, 1, 1]);
    assert_same(&g.sum_to_shape(&[]).unwrap(), &[276.0], &[]);
    assert_same(&g.sum_to_shape(&[1]).unwrap(), &[276.0], &[1]);
    let err = g.sum_to_shape(&[3]).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { op: "sum_to_shape", .. }),
        "{err:?}"
    );
    assert!(g.sum_to_shape(&[1, 2, 3, 4]).is_err());
}

#[test]
fn elementwise_maths() {
    let x = t(&[-2.0, -0.5, 0.0, 0.5, 3.0], &[5]);
    assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 0.0, 0.5, 3.0]);
    assert_eq!(x.abs().to_vec(), vec![2.0, 0.5, 0.0, 0.5, 3.0]);
    assert_eq!(x.sign().to_vec(), vec![-1.0, -1.0, 0.0, 1.0, 1.0]);
    assert_eq!(x.clamp(Some(-1.0), None).to_vec(), vec![-1.0, -0.5, 0.0, 0.5, 3.0]);
    assert_eq!(x.clamp(None, Some(1.0)).to_vec(), vec![-2.0, -0.5, 0.0, 0.5, 1.0]);
    assert_eq!(x.clamp(Some(-1.0), Some(1.0)).to_vec(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    let s = t(&[-800.0, 0.0, 800.0], &[3]).sigmoid().to_vec();
    assert_eq!(s, vec![0.0, 0.5, 1.0]);
    assert!(t(&[-745.0], &[1]).sigmoid().all_finite());
    assert_eq!(t(&[4.0], &[1]).powf(0.5).to_vec(), vec![2.0]);
    assert_eq!(t(&[4.0], &[1]).sqrt().to_vec(), vec![2.0]);
    assert_eq!(t(&[0.0], &[1]).log().to_vec(), vec![-INF]);
    // torch: print(torch.nn.functional.logsigmoid(torch.tensor([-100.0, -1.0, 0.0, 1.0, 40.0], dtype=torch.float64)).tolist())
    let expected = [
        -100.0,
        -1.3132616875182228,
        -std::f64::consts::LN_2, // PyTorch printed -0.6931471805599453
        -0.31326168751822286,
        -4.248354255291589e-18,
    ];
    let ls = t(&[-100.0, -1.0, 0.0, 1.0, 40.0], &[5]).log_sigmoid().to_vec();
    for (a, e) in ls.iter().zip(expected) {
        assert!((a - e).abs() <= 1e-15 * e.abs(), "{ls:?}");
    }
}

/// `f32` softmax and log_softmax of a row against the exact values of PyTorch's formulas from
/// `x - max` rounded to `f32` (as both frameworks compute it; that rounding alone moves a
/// softmax value by up to 4 ulp from the softmax of the exact inputs), as the largest error in
/// ulp of each.
fn row_errors(row: &[f32]) -> (u32, u32) {
    let x = Tensor::from_vec(row.to_vec(), &[1, row.len()]).unwrap();
    let (p, lp) = (x.softmax(-1).unwrap().to_vec(), x.log_softmax(-1).unwrap().to_vec());
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let shifted: Vec<f64> = row.iter().map(|&v| (v - max) as f64).collect();
    let s: f64 = shifted.iter().map(|d| d.exp()).sum();
    let ulps = |got: f32, want: f64| {
        let want = want as f32;
        (got.to_bits() as i64 - want.to_bits() as i64).unsigned_abs() as u32
    };
    let worst = |got: &[f32], want: &dyn Fn(f64) -> f64| {
        got.iter()
            .zip(&shifted)
            .map(|(&g, &d)| ulps(g, want(d)))
            .max()
            .unwrap_or(0)
    };
    (worst(&p, &|d| d.exp() / s), worst(&lp, &|d| d - s.ln()))
}

#[test]
fn last_dim_softmax_is_within_a_few_ulp_at_every_row_length() {
    // Short rows (the kernels' plain path), a vector's worth and past it, long rows, and rows
    // whose spread reaches below exp's fast range.
    for (len, spread) in [
        (1, 4.0),
        (5, 4.0),
        (15, 4.0),
        (16, 4.0),
        (17, 8.0),
        (100, 8.0),
        (1000, 12.0),
        (4099, 200.0),
    ] {
        let row: Vec<f32> = (0..len)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * spread)
            .collect();
        let (p, lp) = row_errors(&row);
        assert!(
            p <= 4 && lp <= 2,
            "{len} values spread over {spread}: softmax {p} ulp, log_softmax {lp} ulp"
        );
    }
}

#[test]
fn last_dim_rows_give_alone_what_they_give_in_a_batch_on_any_thread() {
    // 64 rows of 1000: blocks of rows shared between threads; each row alone, and the lanes of
    // the transposed tensor (softmax along dim 0, the lanes side by side), give the same rows.
    let (rows, c) = (64, 1000);
    let x = Tensor::<f32>::randn(&[rows, c], 7).mul_scalar(3.0);
    let (p, lp) = (x.softmax(1).unwrap().to_vec(), x.log_softmax(-1).unwrap().to_vec());
    let xs = x.to_vec();
    for (r, row) in xs.chunks(c).enumerate() {
        let one = Tensor::from_vec(row.to_vec(), &[c]).unwrap();
        assert_eq!(one.softmax(0).unwrap().to_vec(), &p[r * c..][..c], "row {r}");
        assert_eq!(one.log_softmax(0).unwrap().to_vec(), &lp[r * c..][..c], "row {r}");
    }
    let worst = ulps_from_lanes(&x, &p);
    assert!(worst <= 4, "the row kernels and the lanes differ by {worst} ulp");
}

/// The largest difference in ulp between `p`, the softmax of the rows of a 2-D `x`, and the
/// softmax of `x`'s lanes (along dim 0 of its transpose, the lanes side by side).
fn ulps_from_lanes(x: &Tensor<f32>, p: &[f32]) -> u64 {
    let by_lanes = x
        .transpose(0, 1)
        .unwrap()
        .softmax(0)
        .unwrap()
        .transpose(0, 1)
        .unwrap()
        .to_vec();
    p.iter()
        .zip(&by_lanes)
        .map(|(a, b)| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn short_rows_give_alone_what_they_give_in_a_batch_and_what_the_lanes_give() {
    // Rows up to SHORT_SOFTMAX_ROW go a block of rows at a time; 70000 rows of 16 are many
    // blocks, shared between threads. Each row alone gives its row of the batch bit for bit
    // (softmax and log_softmax); the softmax is within 4 ulp of PyTorch's formula and of the
    // lanes (softmax along dim 0 of the transpose, one value at a time), log_softmax within
    // 4 ε·(1 + ln Σ + |result|) of `d - ln Σ exp(d)` (`d = x - max` in f32: where they cancel,
    // as for a row whose max dominates, the rounding of `ln Σ` is many ulp of the result, in
    // PyTorch's formula as here). Every eleventh row is causally masked past its first few
    // values (-inf), as attention's are.
    for (rows, c) in [(70000, 16), (3000, 3), (900, 100), (500, 128), (300, 129)] {
        let mut x = Tensor::<f32>::randn(&[rows, c], 11).mul_scalar(40.0).to_vec();
        for (r, row) in x.chunks_mut(c).enumerate().filter(|(r, _)| r % 11 == 0) {
            row[(r % c).max(1)..].fill(f32::NEG_INFINITY);
        }
        let x = Tensor::from_vec(x, &[rows, c]).unwrap();
        let (p, lp) = (x.softmax(-1).unwrap().to_vec(), x.log_softmax(-1).unwrap().to_vec());
        for (r, row) in x.to_vec().chunks(c).enumerate().step_by(97) {
            let one = Tensor::from_vec(row.to_vec(), &[c]).unwrap();
            assert_eq!(one.softmax(0).unwrap().to_vec(), &p[r * c..][..c], "row {r} of {c}");
            assert_eq!(
                one.log_softmax(0).unwrap().to_vec(),
                &lp[r * c..][..c],
                "row {r} of {c}"
            );
            assert!(row_errors(row).0 <= 4, "row {r} of {c}: softmax");
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let d: Vec<f64> = row.iter().map(|&v| (v - max) as f64).collect();
            let ln_s = d.iter().map(|d| d.exp()).sum::<f64>().ln();
            for (&got, &d) in lp[r * c..][..c].iter().zip(&d) {
                let tolerance = 4.0 * f32::EPSILON as f64 * (1.0 + ln_s + (d - ln_s).abs());
                let error = if d == f64::NEG_INFINITY {
                    0.0
                } else {
                    (got as f64 - (d - ln_s)).abs()
                };
                assert!(
                    got.is_finite() || d == f64::NEG_INFINITY,
                    "row {r} of {c}: log_softmax {got}"
                );
                assert!(error <= tolerance, "row {r} of {c}: log_softmax off by {error:e}");
            }
        }
        let worst = ulps_from_lanes(&x, &p);
        assert!(worst <= 4, "rows of {c}: the rows and the lanes differ by {worst} ulp");
    }
}

/// `[[1, nan, 2], [1, inf, 2], [-inf, -inf, -inf], [0, -inf, 3]]`: a row holding NaN, one
/// holding `+inf`, one of only `-inf`, and one with a `-inf` among numbers.
fn special_rows() -> Tensor<f32> {
    let inf = f32::INFINITY;
    let values = vec![1.0, f32::NAN, 2.0, 1.0, inf, 2.0, -inf, -inf, -inf, 0.0, -inf, 3.0];
    Tensor::from_vec(values, &[4, 3]).unwrap()
}

#[test]
fn inner_dims_give_what_the_rows_give_special_values_included() {
    // Along dim 1 of [3, c, 5], and along dim 0 of the special rows' transpose: each lane as
    // the same values made a row of the last dimension gives, within 2 ulp, NaN where it is NaN.
    let inf = f32::INFINITY;
    let mut values = Tensor::<f32>::randn(&[3, 7, 5], 11).mul_scalar(4.0).to_vec();
    for (at, v) in [(3, f32::NAN), (41, inf), (60, -inf), (61, -inf)] {
        values[at] = v;
    }
    let x = Tensor::from_vec(values, &[3, 7, 5]).unwrap();
    let special = special_rows().transpose(0, 1).unwrap();
    for (x, dim) in [(x, 1isize), (special, 0)] {
        let rows = x.transpose(dim, -1).unwrap();
        for log in [false, true] {
            let f = |t: &Tensor<f32>, d: isize| if log { t.log_softmax(d) } else { t.softmax(d) };
            let got = f(&x, dim).unwrap().to_vec();
            let want = f(&rows, -1).unwrap().transpose(dim, -1).unwrap().to_vec();
            for (a, b) in got.iter().zip(&want) {
                let ulps = (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs();
                assert!(
                    a.is_nan() == b.is_nan() && (a.is_nan() || ulps <= 2),
                    "log {log}: {a} {b}"
                );
            }
        }
    }
}

#[test]
fn inner_dims_in_blocks_of_lanes_give_what_each_lane_alone_gives() {
    // Lanes go 256 side by side: 300 lanes per index of the first dimension make blocks that
    // run across two of them; 5000 values along the dimension go through the exponentials in
    // several goes; [2000, 64] along dim 0 is shared between threads. Every 7th lane, alone as
    // a `[c, 1]` tensor, gives the same values bit for bit, and the softmax is within 4 ulp of
    // the same values made rows of the last dimension.
    for (shape, dim) in [(&[3usize, 40, 300][..], 1isize), (&[2, 5000, 3], 1), (&[2000, 64], 0)] {
        let x = Tensor::<f32>::randn(shape, 5).mul_scalar(4.0);
        let [c, inner] = [shape[dim as usize], shape[dim as usize + 1..].iter().product()];
        let xs = x.to_vec();
        for log in [false, true] {
            let f = |t: &Tensor<f32>, d: isize| if log { t.log_softmax(d) } else { t.softmax(d) };
            let got = f(&x, dim).unwrap().to_vec();
            for start in (0..xs.len()).filter(|i| i / inner % c == 0).step_by(7) {
                let at: Vec<usize> = (0..c).map(|r| start + r * inner).collect();
                let lane = Tensor::from_vec(at.iter().map(|&i| xs[i]).collect(), &[c, 1]).unwrap();
                let alone = f(&lane, 0).unwrap().to_vec();
                let batch: Vec<f32> = at.iter().map(|&i| got[i]).collect();
                assert_eq!(alone, batch, "{shape:?} along {dim}, log {log}, lane at {start}");
            }
            if !log {
                let rows = x.transpose(dim, -1).unwrap();
                let want = f(&rows, -1).unwrap().transpose(dim, -1).unwrap().to_vec();
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs())
                    .max();
                assert!(worst <= Some(4), "{shape:?} along {dim}: {worst:?} ulp");
            }
        }
    }
}

#[test]
fn last_dim_rows_with_special_values_give_what_pytorch_gives() {
    let inf = f32::INFINITY;
    // torch: torch.tensor([[1., nan, 2.], [1., inf, 2.], [-inf, -inf, -inf], [0., -inf, 3.]]).softmax(1)
    //   tensor([[nan, nan, nan], [nan, nan, nan], [nan, nan, nan], [0.0474, 0.0000, 0.9526]])
    // torch: (same).log_softmax(1)
    //   tensor([[nan, nan, nan], [nan, nan, nan], [nan, nan, nan], [-3.0486, -inf, -0.0486]])
    let x = special_rows();
    let (p, lp) = (x.softmax(1).unwrap().to_vec(), x.log_softmax(1).unwrap().to_vec());
    assert!(p[..9].iter().chain(&lp[..9]).all(|v| v.is_nan()), "{p:?} {lp:?}");
    assert!(
        (p[9] - 0.047_425_87).abs() < 1e-7 && p[10] == 0.0 && (p[11] - 0.952_574_1).abs() < 1e-7,
        "{p:?}"
    );
    assert!(
        (lp[9] + 3.048_587_3).abs() < 1e-6 && lp[10] == -inf && (lp[11] + 0.048_587_35).abs() < 1e-6,
        "{lp:?}"
    );
    // The same rows long enough for the vector kernels: 40 values, the special one in the middle.
    for (special, all_nan) in [(f32::NAN, true), (inf, true), (-inf, false)] {
        let mut row: Vec<f32> = (0..40).map(|i| i as f32 / 10.0).collect();
        row[20] = special;
        let x = Tensor::from_vec(row, &[1, 40]).unwrap();
        let (p, lp) = (x.softmax(1).unwrap().to_vec(), x.log_softmax(1).unwrap().to_vec());
        if all_nan {
            assert!(p.iter().chain(&lp).all(|v| v.is_nan()), "{special}: {p:?}");
        } else {
            assert!(p[20] == 0.0 && lp[20] == -inf && p.iter().all(|v| !v.is_nan()), "{p:?}");
        }
    }
    let all_neg = Tensor::from_vec(vec![-inf; 40], &[1, 40]).unwrap();
    assert!(all_neg.softmax(1).unwrap().to_vec().iter().all(|v| v.is_nan()));
    assert!(all_neg.log_softmax(1).unwrap().to_vec().iter().all(|v| v.is_nan()));
}

#[test]
fn max_and_min_along_every_dimension_are_the_extreme_value_or_nan() {
    // [3, 17, 40]: lanes of 3, 17 (a vector's worth and one) and 40; NaN in one lane of each.
    let shape = [3usize, 17, 40];
    let mut values: Vec<f64> = (0..3 * 17 * 40).map(|i| ((i * 7919 % 1009) as f64) - 500.0).collect();
    values[5] = NAN; // [0, 0, 5]
    values[17 * 40 + 3 * 40 + 39] = NAN; // [1, 3, 39]
    let x = t(&values, &shape);
    let x32 = Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), &shape).unwrap();
    type Reduce = fn(&[f64]) -> f64;
    let largest: Reduce = |lane| lane.iter().copied().fold(-INF, f64::max);
    let smallest: Reduce = |lane| lane.iter().copied().fold(INF, f64::min);
    for (name, extreme) in [("max", largest), ("min", smallest)] {
        for d in 0..3 {
            let (got, got32) = match name {
                "max" => (
                    x.max_dim(d as isize, false).unwrap(),
                    x32.max_dim(d as isize, true).unwrap(),
                ),
                _ => (
                    x.min_dim(d as isize, false).unwrap(),
                    x32.min_dim(d as isize, true).unwrap(),
                ),
            };
            let mut want_shape = shape.to_vec();
            want_shape.remove(d);
            let (outer, size, inner) = (
                shape[..d].iter().product::<usize>(),
                shape[d],
                shape[d + 1..].iter().product::<usize>(),
            );
            let want: Vec<f64> = (0..outer * inner)
                .map(|k| {
                    let (o, i) = (k / inner, k % inner);
                    let lane: Vec<f64> = (0..size).map(|j| values[(o * size + j) * inner + i]).collect();
                    if lane.iter().any(|v| v.is_nan()) {
                        NAN
                    } else {
                        extreme(&lane)
                    }
                })
                .collect();
            assert_same(&got, &want, &want_shape);
            let same = got32
                .to_vec()
                .iter()
                .zip(&want)
                .all(|(&a, &b)| (a.is_nan() && b.is_nan()) || a as f64 == b);
            assert!(same, "f32 {name} along {d}");
        }
    }
    assert!(x.max().unwrap().item().unwrap().is_nan() && x.min().unwrap().item().unwrap().is_nan());
    let clean = t(&values[40..80], &[40]);
    assert_eq!(clean.max().unwrap().item().unwrap(), largest(&values[40..80]));
    assert_eq!(clean.min().unwrap().item().unwrap(), smallest(&values[40..80]));
}

#[test]
fn last_dim_logsumexp_is_within_an_ulp_and_keeps_pytorchs_special_values() {
    // torch: torch.tensor([[1., nan, 2.], [1., inf, 2.], [-inf, -inf, -inf], [0., -inf, 3.]]).logsumexp(1)
    //   tensor([   nan,    inf,   -inf, 3.0486])
    let inf = f32::INFINITY;
    let x = special_rows();
    let l = x.logsumexp(1, false).unwrap().to_vec();
    assert!(
        l[0].is_nan() && l[1] == inf && l[2] == -inf && (l[3] - 3.048_587_3).abs() < 1e-6,
        "{l:?}"
    );
    // The same, in rows long enough for the vector kernels.
    for (special, want) in [(f32::NAN, f32::NAN), (inf, inf), (-inf, 0.0)] {
        let mut row: Vec<f32> = (0..40).map(|i| i as f32 / 10.0).collect();
        row[20] = special;
        let got = Tensor::from_vec(row.clone(), &[1, 40])
            .unwrap()
            .logsumexp(-1, true)
            .unwrap();
        assert_eq!(got.shape(), &[1, 1]);
        let got = got.to_vec()[0];
        match want {
            w if w.is_nan() => assert!(got.is_nan()),
            w if w.is_infinite() => assert_eq!(got, w),
            _ => assert!(got.is_finite()),
        }
    }
    assert_eq!(
        Tensor::from_vec(vec![-inf; 40], &[40])
            .unwrap()
            .logsumexp(0, false)
            .unwrap()
            .to_vec(),
        vec![-inf]
    );
    // Rows of every length, against the exact value of the f32 inputs.
    for len in [1usize, 7, 16, 33, 1000] {
        let row: Vec<f32> = (0..len)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 20.0)
            .collect();
        let got = Tensor::from_vec(row.clone(), &[1, len])
            .unwrap()
            .logsumexp(1, false)
            .unwrap()
            .to_vec()[0];
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let want = (m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln()) as f32;
        assert!(
            (got.to_bits() as i64 - want.to_bits() as i64).abs() <= 1,
            "{len} values: {got} against {want}"
        );
    }
}

#[test]
fn argmax_and_argmin_take_the_first_extreme_and_the_first_nan_at_every_row_length() {
    // Values from a few integers (so ties are many), NaN in some rows at one or two places.
    for len in [1usize, 2, 15, 16, 17, 31, 32, 33, 100, 1000] {
        let rows = 40;
        let mut values: Vec<f32> = (0..rows * len).map(|i| ((i * 7919 + 13) % 5) as f32).collect();
        for r in (0..rows).step_by(3) {
            values[r * len + (r * 31) % len] = f32::NAN;
            if r % 2 == 0 {
                values[r * len + (r * 17 + 5) % len] = f32::NAN;
            }
        }
        let x = Tensor::from_vec(values.clone(), &[rows, len]).unwrap();
        let first = |lane: &[f32], beyond: &dyn Fn(f32, f32) -> bool| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                let b = lane[best];
                if !b.is_nan() && (beyond(v, b) || v.is_nan()) {
                    best = i;
                }
            }
            best as i64
        };
        let want_max: Vec<i64> = values.chunks(len).map(|l| first(l, &|v, b| v > b)).collect();
        let want_min: Vec<i64> = values.chunks(len).map(|l| first(l, &|v, b| v < b)).collect();
        assert_eq!(x.argmax(1, false).unwrap().to_vec(), want_max, "argmax, rows of {len}");
        assert_eq!(x.argmin(-1, false).unwrap().to_vec(), want_min, "argmin, rows of {len}");
        // Along the other dimension (lane by lane), the same indices of the transpose.
        let xt = Tensor::from_vec(x.transpose(0, 1).unwrap().to_vec(), &[len, rows]).unwrap();
        assert_eq!(
            xt.argmax(0, true).unwrap().to_vec(),
            want_max,
            "argmax along dim 0, {len}"
        );
        assert_eq!(
            xt.argmin(0, false).unwrap().to_vec(),
            want_min,
            "argmin along dim 0, {len}"
        );
    }
}

#[test]
fn softmax_backward_is_the_composition_bit_for_bit() {
    // The values of `y ⊙ (g - Σ_dim(g ⊙ y))` computed op by op, in f32 and f64.
    fn check<T: ferrograd_tensor::Float>(shape: &[usize], dim: isize) {
        let y = Tensor::<T>::randn(shape, 21).softmax(dim).unwrap();
        let g = Tensor::<T>::randn(shape, 22);
        let got = g.softmax_backward(&y, dim).unwrap();
        let dot = g.mul(&y).unwrap().sum_dim(dim, true).unwrap();
        let want = y.mul(&g.sub(&dot).unwrap()).unwrap();
        assert_same_bits(&got, &want, shape, dim);
    }
    for (shape, dim) in BACKWARD_SHAPES {
        check::<f32>(shape, dim);
        check::<f64>(shape, dim);
    }
    let err = Tensor::<f32>::ones(&[2, 3])
        .softmax_backward(&Tensor::ones(&[3, 2]), -1)
        .unwrap_err();
    assert!(err.to_string().contains("softmax_backward"), "{err}");
}

/// `got` has `shape` and `want`'s values, bit for bit.
fn assert_same_bits<T: ferrograd_tensor::Float>(got: &Tensor<T>, want: &Tensor<T>, shape: &[usize], dim: isize) {
    assert_eq!(got.shape(), shape);
    let same = got
        .to_vec()
        .iter()
        .zip(want.to_vec())
        .all(|(a, b)| a.f64().to_bits() == b.f64().to_bits());
    assert!(same, "{shape:?} along {dim}");
}

/// Rows along the last dimension (short and long, many blocks shared between threads) and
/// other dimensions (the composition's own path).
const BACKWARD_SHAPES: [(&[usize], isize); 5] = [
    (&[70000, 16], -1),
    (&[512, 27], -1),
    (&[40, 1000], 1),
    (&[3, 7, 5], 1),
    (&[6, 9], 0),
];

#[test]
fn log_softmax_backward_is_the_composition_bit_for_bit() {
    // The values of `g - exp(y) ⊙ Σ_dim g` computed op by op, in f32 and f64.
    fn check<T: ferrograd_tensor::Float>(shape: &[usize], dim: isize) {
        let y = Tensor::<T>::randn(shape, 23).log_softmax(dim).unwrap();
        let g = Tensor::<T>::randn(shape, 24);
        let got = g.log_softmax_backward(&y, dim).unwrap();
        let want = g.sub(&y.exp().mul(&g.sum_dim(dim, true).unwrap()).unwrap()).unwrap();
        assert_same_bits(&got, &want, shape, dim);
    }
    for (shape, dim) in BACKWARD_SHAPES {
        check::<f32>(shape, dim);
        check::<f64>(shape, dim);
    }
    let err = Tensor::<f32>::ones(&[2, 3])
        .log_softmax_backward(&Tensor::ones(&[3, 2]), -1)
        .unwrap_err();
    assert!(err.to_string().contains("log_softmax_backward"), "{err}");
}
