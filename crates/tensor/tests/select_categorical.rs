//! Masks, triangles, padding, rolling, running sums, `topk`, `split` / `chunk` against
//! PyTorch 2.15; `one_hot`; and `multinomial`'s errors, reproducibility and distribution.

use ferrograd_tensor::{BoolTensor, IndexTensor, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[track_caller]
fn assert_values(actual: &Tensor<f64>, expected: &[f64], shape: &[usize]) {
    assert_eq!(actual.shape(), shape, "{actual}");
    assert_eq!(actual.to_vec(), expected, "{actual}");
}

/// x = torch.arange(12.).reshape(3, 4)
fn x() -> Tensor<f64> {
    Tensor::arange(12).reshape(&[3, 4]).unwrap()
}

#[test]
fn masked_fill_and_where_broadcast() {
    // x.masked_fill(torch.tensor([[True], [False], [True]]), -1.5)
    let m = BoolTensor::from_vec(vec![true, false, true], &[3, 1]).unwrap();
    let want = [-1.5, -1.5, -1.5, -1.5, 4.0, 5.0, 6.0, 7.0, -1.5, -1.5, -1.5, -1.5];
    assert_values(&x().masked_fill(&m, -1.5).unwrap(), &want, &[3, 4]);
    // torch.tensor([1., 2]).masked_fill(torch.tensor([[True, False], [False, False]]), 9.)
    let m = BoolTensor::from_vec(vec![true, false, false, false], &[2, 2]).unwrap();
    assert_values(
        &t(&[1.0, 2.0], &[2]).masked_fill(&m, 9.0).unwrap(),
        &[9.0, 2.0, 1.0, 2.0],
        &[2, 2],
    );
    // torch.where(torch.tensor([True, False, True, False]), x, torch.tensor([[100.], [200], [300]]))
    let cond = BoolTensor::from_slice(&[true, false, true, false]);
    let other = t(&[100.0, 200.0, 300.0], &[3, 1]);
    let want = [0.0, 100.0, 2.0, 100.0, 4.0, 200.0, 6.0, 200.0, 8.0, 300.0, 10.0, 300.0];
    assert_values(&Tensor::where_(&cond, &x(), &other).unwrap(), &want, &[3, 4]);
    // Masks from comparisons, combined.
    let v = t(&[-1.0, 0.0, 2.0], &[3]);
    assert_eq!(v.gt_scalar(0.0).to_vec(), [false, false, true]);
    assert_eq!(
        v.lt_scalar(0.0).logical_or(&v.eq_scalar(0.0)).unwrap().to_vec(),
        [true, true, false]
    );
    assert_eq!(
        v.eq_scalar(2.0)
            .logical_and(&BoolTensor::full(&[], true))
            .unwrap()
            .to_vec(),
        [false, false, true]
    );
}

#[test]
fn masked_fill_and_where_of_many_values_take_each_from_the_right_place() {
    // Values in blocks shared between threads, the last block short; against the definition.
    let shape = [300, 1001];
    let n = shape[0] * shape[1];
    let cond: Vec<bool> = (0..n).map(|i| (i * 7919) % 13 < 6).collect();
    let mask = BoolTensor::from_vec(cond.clone(), &shape).unwrap();
    let a = Tensor::<f64>::arange(n).reshape(&shape).unwrap();
    let b = a.neg();
    let chosen = Tensor::where_(&mask, &a, &b).unwrap().to_vec();
    let filled = a.masked_fill(&mask, -0.5).unwrap().to_vec();
    for (i, &c) in cond.iter().enumerate() {
        assert_eq!(chosen[i], if c { i as f64 } else { -(i as f64) }, "where at {i}");
        assert_eq!(filled[i], if c { -0.5 } else { i as f64 }, "masked_fill at {i}");
    }
    // One operand broadcast along a leading dimension of 1: the same values in the same order.
    let row = Tensor::<f64>::arange(7).reshape(&[1, 7]).unwrap();
    let seven = BoolTensor::from_vec(vec![true, false, true, true, false, false, true], &[1, 7]).unwrap();
    let got = Tensor::where_(&seven, &row, &row.reshape(&[7]).unwrap().neg()).unwrap();
    assert_eq!(
        (got.shape(), got.to_vec()),
        (&[1usize, 7][..], vec![0.0, -1.0, 2.0, 3.0, -4.0, -5.0, 6.0])
    );
}

#[test]
fn triangles_on_the_last_two_dims() {
    // x.tril(1), x.triu(-1)
    let tril = [0.0, 1.0, 0.0, 0.0, 4.0, 5.0, 6.0, 0.0, 8.0, 9.0, 10.0, 11.0];
    assert_values(&x().tril(1).unwrap(), &tril, &[3, 4]);
    let triu = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 9.0, 10.0, 11.0];
    assert_values(&x().triu(-1).unwrap(), &triu, &[3, 4]);
    // torch.arange(24.).reshape(2, 3, 4).tril(-1)
    let b = Tensor::<f64>::arange(24).reshape(&[2, 3, 4]).unwrap();
    let want = [
        0.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 8.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 16.0, 0.0, 0.0, 0.0, 20.0,
        21.0, 0.0, 0.0,
    ];
    assert_values(&b.tril(-1).unwrap(), &want, &[2, 3, 4]);
    // Every diagonal from below the first row to past the last column, against the definition.
    for k in -4..=5isize {
        let (lower, upper) = (b.tril(k).unwrap().to_vec(), b.triu(k).unwrap().to_vec());
        for (at, v) in b.to_vec().into_iter().enumerate() {
            let offset = (at % 4) as isize - (at / 4 % 3) as isize;
            assert_eq!(lower[at], if offset <= k { v } else { 0.0 }, "tril({k}) at {at}");
            assert_eq!(upper[at], if offset >= k { v } else { 0.0 }, "triu({k}) at {at}");
        }
    }
    // Rows shared between threads (many matrices' worth), the same definition.
    let (rows, cols) = (200, 300);
    let big = Tensor::<f64>::arange(3 * rows * cols)
        .reshape(&[3, rows, cols])
        .unwrap();
    for k in [-250, -3, 0, 5, 400isize] {
        let (lower, upper) = (big.tril(k).unwrap().to_vec(), big.triu(k).unwrap().to_vec());
        for (at, v) in big.to_vec().into_iter().enumerate() {
            let offset = (at % cols) as isize - (at / cols % rows) as isize;
            assert_eq!(lower[at], if offset <= k { v } else { 0.0 }, "tril({k}) at {at}");
            assert_eq!(upper[at], if offset >= k { v } else { 0.0 }, "triu({k}) at {at}");
        }
    }
    // A causal mask: torch.ones(2, 3, dtype=torch.bool).tril()
    let causal = BoolTensor::full(&[2, 3], true).tril(0).unwrap();
    assert_eq!(causal.to_vec(), [true, false, false, true, true, false]);
    assert_eq!(
        BoolTensor::full(&[2, 2], true).triu(1).unwrap().to_vec(),
        [false, true, false, false]
    );
    // torch.tensor(1.).tril() -> RuntimeError: tril: input tensor must have at least 2 dimensions
    assert_eq!(
        Tensor::scalar(1.0f64).tril(0).unwrap_err().to_string(),
        "tril: input tensor must have at least 2 dimensions, but got shape []"
    );
}

#[test]
fn pad_constant_mode() {
    // F.pad(x, (1, 2), value=-1.)
    let want = [
        -1.0, 0.0, 1.0, 2.0, 3.0, -1.0, -1.0, -1.0, 4.0, 5.0, 6.0, 7.0, -1.0, -1.0, -1.0, 8.0, 9.0, 10.0, 11.0, -1.0,
        -1.0,
    ];
    assert_values(&x().pad(&[(1, 2)], -1.0).unwrap(), &want, &[3, 7]);
    // F.pad(x, (-1, 1, 1, -2), value=9.)
    let want = [9.0, 9.0, 9.0, 9.0, 1.0, 2.0, 3.0, 9.0];
    assert_values(&x().pad(&[(-1, 1), (1, -2)], 9.0).unwrap(), &want, &[2, 4]);
    // F.pad(torch.tensor([1., 2, 3]), (-2, -1)) -> tensor([])
    assert_values(&t(&[1.0, 2.0, 3.0], &[3]).pad(&[(-2, -1)], 0.0).unwrap(), &[], &[0]);
    assert_values(
        &t(&[1.0, 2.0, 3.0], &[3]).pad(&[(2, -3)], 5.0).unwrap(),
        &[5.0, 5.0],
        &[2],
    );
    // F.pad(x, (0, 0, 0, 0, 1, 0)) -> RuntimeError: Padding length should be less than or equal to two times the input dimension but got padding length 6 and input of dimension 2
    let e = x().pad(&[(0, 0), (0, 0), (1, 0)], 0.0).unwrap_err().to_string();
    assert!(e.contains("got padding length 6 and input of dimension 2"), "{e}");
}

#[test]
fn pad_flip_and_roll_give_the_same_values_whatever_the_layout() {
    // A row-major tensor is padded, flipped or rolled lane by lane (lanes shared between
    // threads when there are many); one in another layout through ndarray's views. Both must
    // agree, element by element: padding and cropping on every side of up to three
    // dimensions, flips of any set of dimensions, shifts of either sign along any of them.
    for shape in [[2, 3, 5], [4, 50, 600]] {
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let rows = Tensor::from_vec(values.clone(), &shape).unwrap();
        let array = ndarray::Array::from_shape_vec(shape.to_vec(), values).unwrap();
        let other = Tensor::from_array(array.t().as_standard_layout().into_owned().reversed_axes());
        assert!(!other.array().is_standard_layout());
        assert_eq!(other.to_vec(), rows.to_vec());
        for pad in [
            &[(1, 2)][..],
            &[(-1, 2), (2, -1)],
            &[(0, 0), (0, 0), (1, 1)],
            &[(3, -4), (-1, -1), (-1, 2)],
            &[(-5, 0), (1, 0)],
            &[(0, 0), (-3, 0), (0, 0)],
        ] {
            let (a, b) = (rows.pad(pad, -7.0).unwrap(), other.pad(pad, -7.0).unwrap());
            assert_eq!((a.shape(), a.to_vec()), (b.shape(), b.to_vec()), "{shape:?} {pad:?}");
        }
        for dims in [&[2][..], &[0], &[1, 2], &[0, -1], &[0, 1, 2]] {
            let (a, b) = (rows.flip(dims).unwrap(), other.flip(dims).unwrap());
            assert_eq!(a.to_vec(), b.to_vec(), "{shape:?} flip {dims:?}");
        }
        for (shifts, dims) in [
            (&[1][..], &[2][..]),
            (&[-3], &[1]),
            (&[2, 7], &[0, -1]),
            (&[5, -1, 4], &[2, 1, 2]),
            (&[-602], &[2]),
        ] {
            let (a, b) = (rows.roll(shifts, dims).unwrap(), other.roll(shifts, dims).unwrap());
            assert_eq!(a.to_vec(), b.to_vec(), "{shape:?} roll {shifts:?} {dims:?}");
        }
    }
}

#[test]
fn roll_flip_cumsum() {
    // torch.roll(torch.arange(5.), 1)
    assert_values(
        &Tensor::<f64>::arange(5).roll(&[1], &[]).unwrap(),
        &[4.0, 0.0, 1.0, 2.0, 3.0],
        &[5],
    );
    // torch.roll(x, (1, -1), (0, 1))
    let want = [9.0, 10.0, 11.0, 8.0, 1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 7.0, 4.0];
    assert_values(&x().roll(&[1, -1], &[0, 1]).unwrap(), &want, &[3, 4]);
    // torch.roll(x, 5)
    let want = [7.0, 8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_values(&x().roll(&[5], &[]).unwrap(), &want, &[3, 4]);
    // torch.roll(x, (1, 2)) -> RuntimeError: shifts and dimensions must align. shifts: 2, dims:0
    assert_eq!(
        x().roll(&[1, 2], &[]).unwrap_err().to_string(),
        "roll: shifts and dimensions must align. shifts: 2, dims:0"
    );
    // x.flip((0, 1))
    let want: Vec<f64> = (0..12).rev().map(f64::from).collect();
    assert_values(&x().flip(&[0, 1]).unwrap(), &want, &[3, 4]);
    // Each set of dims of a [2, 3, 4] against the definition; torch.tensor(1.).flip(0) is tensor(1.)
    let b = Tensor::<f64>::arange(24).reshape(&[2, 3, 4]).unwrap();
    for dims in [&[2isize][..], &[1], &[0, 2], &[-1, 1, 0]] {
        let flipped = |d: usize, i: usize, n: usize| {
            if dims.iter().any(|&f| f.rem_euclid(3) as usize == d) {
                n - 1 - i
            } else {
                i
            }
        };
        let want: Vec<f64> = (0..24)
            .map(|at| (flipped(0, at / 12, 2) * 12 + flipped(1, at / 4 % 3, 3) * 4 + flipped(2, at % 4, 4)) as f64)
            .collect();
        assert_values(&b.flip(dims).unwrap(), &want, &[2, 3, 4]);
    }
    assert_values(&Tensor::scalar(1.0).flip(&[0]).unwrap(), &[1.0], &[]);
    // x.cumsum(0); torch.tensor([[1., -2, 3.5], [0.25, 4, -1]]).cumsum(-1)
    let want = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 21.0];
    assert_values(&x().cumsum(0).unwrap(), &want, &[3, 4]);
    let y = t(&[1.0, -2.0, 3.5, 0.25, 4.0, -1.0], &[2, 3]);
    assert_values(&y.cumsum(-1).unwrap(), &[1.0, -1.0, 2.5, 0.25, 4.25, 3.25], &[2, 3]);
    assert_values(&Tensor::scalar(2.0).cumsum(0).unwrap(), &[2.0], &[]);
}

#[test]
fn running_sums_follow_their_definition_on_every_block_of_rows_and_columns() {
    // Along the last dimension rows go 16 at a time through tiles of 64 columns: 37 rows of
    // 150 columns leave a short group of rows and a short tile; along earlier dimensions the
    // lanes go side by side. Each running sum is checked against its f64 loop written out,
    // and the one from the end against flip, cumsum, flip (PyTorch's reversed_cumsum).
    for shape in [&[37usize, 150][..], &[5, 7, 9], &[1, 64], &[2, 1]] {
        let x = Tensor::<f32>::randn(shape, 7);
        let v = x.to_vec();
        for dim in 0..shape.len() {
            let (n, inner) = (shape[dim], shape[dim + 1..].iter().product::<usize>());
            let mut want = vec![0.0f32; v.len()];
            for start in (0..v.len()).filter(|i| i / inner % n == 0) {
                let mut sum = 0.0f64;
                for i in 0..n {
                    sum += f64::from(v[start + i * inner]);
                    want[start + i * inner] = sum as f32;
                }
            }
            let d = dim as isize;
            assert_eq!(x.cumsum(d).unwrap().to_vec(), want, "{shape:?} along {dim}");
            let back = x.flip(&[d]).unwrap().cumsum(d).unwrap().flip(&[d]).unwrap();
            assert_eq!(
                x.reversed_cumsum(d).unwrap().to_vec(),
                back.to_vec(),
                "{shape:?} along {dim}"
            );
        }
    }
}

#[test]
fn cumsum_keeps_its_running_sums_in_f64_as_pytorch() {
    // torch.tensor([1e8, 1, 1, 1, 1, 1, -1e8]).cumsum(0).tolist()
    //   [100000000.0, 100000000.0, 100000000.0, 100000000.0, 100000000.0, 100000008.0, 5.0]
    // (an f32 running sum would stay at 1e8 and end at 0). Along the last dimension of 11
    // rows (more than one block of rows side by side) and along the first of 3 lanes.
    let want = [1e8f32, 1e8, 1e8, 1e8, 1e8, 100_000_008.0, 5.0];
    let row = [1e8f32, 1.0, 1.0, 1.0, 1.0, 1.0, -1e8];
    let rows: Vec<f32> = row.iter().cycle().take(11 * 7).copied().collect();
    let got = Tensor::from_vec(rows, &[11, 7]).unwrap().cumsum(1).unwrap().to_vec();
    assert!(got.chunks(7).all(|r| r == want), "{got:?}");
    let lanes: Vec<f32> = row.iter().flat_map(|&v| [v; 3]).collect();
    let got = Tensor::from_vec(lanes, &[7, 3]).unwrap().cumsum(0).unwrap().to_vec();
    let want_lanes: Vec<f32> = want.iter().flat_map(|&v| [v; 3]).collect();
    assert_eq!(got, want_lanes);
}

#[test]
fn topk_values_and_indices() {
    // y = torch.tensor([[1., 5, 3, 5, 2], [0, -1, 4, 2, 8]])
    let y = t(&[1.0, 5.0, 3.0, 5.0, 2.0, 0.0, -1.0, 4.0, 2.0, 8.0], &[2, 5]);
    // y.topk(3, dim=1) -> values [[5, 5, 3], [8, 4, 2]], indices [[1, 3, 2], [4, 2, 3]]
    let (v, i) = y.topk(3, 1, true, true).unwrap();
    assert_values(&v, &[5.0, 5.0, 3.0, 8.0, 4.0, 2.0], &[2, 3]);
    assert_eq!(i, IndexTensor::from_vec(vec![1, 3, 2, 4, 2, 3], &[2, 3]).unwrap());
    // y.topk(2, dim=1, largest=False) -> values [[1, 2], [-1, 0]], indices [[0, 4], [1, 0]]
    let (v, i) = y.topk(2, 1, false, true).unwrap();
    assert_values(&v, &[1.0, 2.0, -1.0, 0.0], &[2, 2]);
    assert_eq!(i, IndexTensor::from_vec(vec![0, 4, 1, 0], &[2, 2]).unwrap());
    // y.topk(1, dim=0) -> values [[1, 5, 4, 5, 8]], indices [[0, 0, 1, 0, 1]]
    let (v, i) = y.topk(1, 0, true, true).unwrap();
    assert_values(&v, &[1.0, 5.0, 4.0, 5.0, 8.0], &[1, 5]);
    assert_eq!(i, IndexTensor::from_vec(vec![0, 0, 1, 0, 1], &[1, 5]).unwrap());
    // Unsorted: the chosen elements in input order.
    let (v, i) = y.topk(3, 1, true, false).unwrap();
    assert_values(&v, &[5.0, 3.0, 5.0, 4.0, 2.0, 8.0], &[2, 3]);
    assert_eq!(i.to_vec(), [1, 2, 3, 2, 3, 4]);
    // NaN is the largest: torch.tensor([1., nan, 3, 2, 1]).topk(2) -> values [nan, 3], indices [1, 2]
    let (v, i) = t(&[1.0, f64::NAN, 3.0, 2.0, 1.0], &[5]).topk(2, 0, true, true).unwrap();
    assert!(v.to_vec()[0].is_nan() && v.to_vec()[1] == 3.0);
    assert_eq!(i.to_vec(), [1, 2]);
    // Ties: the lower index first.
    let (_, i) = t(&[3.0, 3.0, 3.0, 3.0], &[4]).topk(2, 0, true, true).unwrap();
    assert_eq!(i.to_vec(), [0, 1]);
    // torch.tensor([1., 2, 3]).topk(4) -> RuntimeError: selected index k out of range
    let e = t(&[1.0, 2.0, 3.0], &[3])
        .topk(4, 0, true, true)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "topk: selected index k out of range (k = 4, dimension 0 has size 3)");
}

#[test]
fn split_and_chunk() {
    // torch.arange(10.).split(4) -> [0..4], [4..8], [8, 9]
    let pieces = Tensor::<f64>::arange(10).split(4, 0).unwrap();
    let got: Vec<Vec<f64>> = pieces.iter().map(|p| p.to_vec()).collect();
    assert_eq!(
        got,
        vec![vec![0.0, 1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0, 7.0], vec![8.0, 9.0]]
    );
    // torch.arange(12.).reshape(3, 4).chunk(3, 1) -> two pieces of shape [3, 2]
    let chunks = x().chunk(3, 1).unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.shape().to_vec()).collect::<Vec<_>>(),
        vec![vec![3, 2], vec![3, 2]]
    );
    // split_size 0 of an empty dimension: one empty piece
    assert_eq!(Tensor::<f64>::zeros(&[0, 2]).split(0, 0).unwrap().len(), 1);
}

#[test]
fn one_hot_matches_pytorch() {
    // F.one_hot(torch.tensor([[0, 3], [1, 0]]), -1)
    let y = IndexTensor::from_vec(vec![0, 3, 1, 0], &[2, 2])
        .unwrap()
        .one_hot(-1)
        .unwrap();
    assert_eq!(y.shape(), &[2, 2, 4]);
    assert_eq!(y.to_vec(), [1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0]);
    // F.one_hot(torch.tensor([2, 0]), 5)
    let y = IndexTensor::from_slice(&[2, 0]).one_hot(5).unwrap();
    assert_eq!(y.to_vec(), [0, 0, 1, 0, 0, 1, 0, 0, 0, 0]);
    // F.one_hot(torch.tensor(2), 4) -> tensor([0, 0, 1, 0])
    assert_eq!(IndexTensor::scalar(2).one_hot(4).unwrap().to_vec(), [0, 0, 1, 0]);
    // Errors, in PyTorch's words:
    // F.one_hot(torch.tensor([0, -1]), 3) -> Class values must be non-negative.
    // F.one_hot(torch.tensor([0, 3]), 3) -> Class values must be smaller than num_classes.
    // F.one_hot(torch.tensor([], dtype=torch.long), -1) -> Can not infer total number of classes from empty tensor.
    let msg = |i: &IndexTensor, n| i.one_hot(n).unwrap_err().to_string();
    assert_eq!(
        msg(&IndexTensor::from_slice(&[0, -1]), 3),
        "one_hot: Class values must be non-negative. (got -1)"
    );
    assert_eq!(
        msg(&IndexTensor::from_slice(&[0, 3]), 3),
        "one_hot: Class values must be smaller than num_classes. (got 3, num_classes 3)"
    );
    assert!(msg(&IndexTensor::from_slice(&[]), -1)
        .starts_with("one_hot: Can not infer total number of classes from empty tensor"));
    assert_eq!(IndexTensor::from_slice(&[]).one_hot(3).unwrap().shape(), &[0, 3]);
}

#[test]
fn multinomial_errors_match_pytorch() {
    let mut rng = StdRng::seed_from_u64(0);
    let msg = |p: &[f64], shape: &[usize], n: usize, replacement: bool, rng: &mut StdRng| {
        t(p, shape).multinomial(n, replacement, rng).unwrap_err().to_string()
    };
    // torch.multinomial(torch.tensor([1., -1]), 1) -> probability tensor contains either `inf`, `nan` or element < 0
    let e = msg(&[1.0, -1.0], &[2], 1, true, &mut rng);
    assert_eq!(
        e,
        "multinomial: probability tensor contains either `inf`, `nan` or element < 0 (got -1)"
    );
    assert!(msg(&[1.0, f64::NAN], &[2], 1, true, &mut rng).contains("`inf`, `nan` or element < 0"));
    assert!(msg(&[1.0, f64::INFINITY], &[2], 1, false, &mut rng).contains("`inf`, `nan` or element < 0"));
    // torch.multinomial(torch.tensor([0., 0]), 1) -> invalid multinomial distribution (sum of probabilities <= 0)
    let e = msg(&[1.0, 1.0, 0.0, 0.0], &[2, 2], 1, true, &mut rng);
    assert_eq!(
        e,
        "multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row 1"
    );
    // torch.multinomial(torch.tensor([1., 1]), 3) -> cannot sample n_sample > prob_dist.size(-1) samples without replacement
    let e = msg(&[1.0, 1.0], &[2], 3, false, &mut rng);
    assert!(e.starts_with("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement"));
    // torch.multinomial(torch.tensor([1., 1]), 0) -> cannot sample n_sample <= 0 samples
    assert!(msg(&[1.0, 1.0], &[2], 0, true, &mut rng).starts_with("multinomial: cannot sample n_sample <= 0 samples"));
    // torch.multinomial(torch.tensor([[[1., 0, 0]]]), 3) -> prob_dist must be 1 or 2 dim
    assert!(
        msg(&[1.0, 0.0, 0.0], &[1, 1, 3], 1, true, &mut rng).starts_with("multinomial: prob_dist must be 1 or 2 dim")
    );
    assert!(msg(&[1.0], &[], 1, true, &mut rng).starts_with("multinomial: prob_dist must be 1 or 2 dim"));
}

#[test]
fn multinomial_is_reproducible_and_never_draws_zero_weights() {
    let p = t(&[0.0, 2.0, 0.0, 1.0, 5.0], &[5]);
    let draw = |seed| p.multinomial(50, true, &mut StdRng::seed_from_u64(seed)).unwrap();
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
    assert!(draw(7).to_vec().iter().all(|&i| i == 1 || i == 3 || i == 4));
    // Without replacement, once only zero weights remain they follow in index order:
    // torch.multinomial(torch.tensor([1., 0, 0]), 3) -> tensor([0, 1, 2])
    let mut rng = StdRng::seed_from_u64(1);
    let s = t(&[1.0, 0.0, 0.0], &[3]).multinomial(3, false, &mut rng).unwrap();
    assert_eq!(s.to_vec(), [0, 1, 2]);
    let s = p.multinomial(5, false, &mut rng).unwrap().to_vec();
    let mut sorted = s.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2, 3, 4]);
    assert!(
        s[3..].contains(&0) && s[3..].contains(&2),
        "zero weights come last: {s:?}"
    );
}

/// Pearson's chi-square statistic of observed counts against expected ones.
fn chi_square(observed: &[f64], expected: &[f64]) -> f64 {
    observed.iter().zip(expected).map(|(o, e)| (o - e) * (o - e) / e).sum()
}

#[test]
fn multinomial_follows_the_distribution() {
    let weights = [1.0, 2.0, 3.0, 4.0]; // unnormalised: probabilities 0.1 .. 0.4
    let total: f64 = weights.iter().sum();
    let rows = 20_000;
    let probs = t(&weights.repeat(rows), &[rows, 4]);
    let mut rng = StdRng::seed_from_u64(2024);

    // With replacement: 20,000 rows of 2 draws; each draw's counts against 40,000·p.
    let s = probs.multinomial(2, true, &mut rng).unwrap();
    assert_eq!(s.shape(), &[rows, 2]);
    let mut counts = [0.0; 4];
    s.to_vec().iter().for_each(|&i| counts[i as usize] += 1.0);
    let expected: Vec<f64> = weights.iter().map(|w| w / total * 2.0 * rows as f64).collect();
    let chi2 = chi_square(&counts, &expected);
    assert!(
        chi2 < 16.27,
        "chi-square {chi2} with 3 degrees of freedom (p < 0.001 above 16.27)"
    );

    // Without replacement: the ordered pair (i, j) has probability w_i/W · w_j/(W - w_i).
    let s = probs.multinomial(2, false, &mut rng).unwrap().to_vec();
    let mut pairs = [0.0; 16];
    for pair in s.chunks_exact(2) {
        assert_ne!(pair[0], pair[1]);
        pairs[(pair[0] * 4 + pair[1]) as usize] += 1.0;
    }
    let (mut observed, mut expected) = (vec![], vec![]);
    for i in 0..4 {
        for j in (0..4).filter(|&j| j != i) {
            observed.push(pairs[i * 4 + j]);
            expected.push(rows as f64 * weights[i] / total * weights[j] / (total - weights[i]));
        }
    }
    let chi2 = chi_square(&observed, &expected);
    assert!(
        chi2 < 31.26,
        "chi-square {chi2} with 11 degrees of freedom (p < 0.001 above 31.26)"
    );
}

#[test]
fn topk_of_many_lanes_shared_between_threads_equals_each_lane_sorted() {
    // 1300 lanes of 100 values (blocks of lanes go to both threads), and 100 lanes of 1300
    // along the first dimension: every lane against its own full sort, largest first.
    let x = Tensor::<f32>::randn(&[1300, 100], 11);
    let all = x.to_vec();
    for (dim, lanes, n) in [(1isize, 1300usize, 100usize), (0, 100, 1300)] {
        let (v, i) = x.topk(3, dim, true, true).unwrap();
        let (v, i) = (v.to_vec(), i.to_vec());
        for lane in 0..lanes {
            let value = |j: usize| all[if dim == 1 { lane * 100 + j } else { j * 100 + lane }];
            let mut want: Vec<usize> = (0..n).collect();
            want.sort_by(|&a, &b| value(b).total_cmp(&value(a)).then(a.cmp(&b)));
            let at = |r: usize| if dim == 1 { lane * 3 + r } else { r * lanes + lane };
            for (r, &w) in want[..3].iter().enumerate() {
                assert_eq!((i[at(r)], v[at(r)]), (w as i64, value(w)), "lane {lane} along {dim}");
            }
        }
    }
}

#[test]
fn topk_of_few_equals_the_full_sort_with_ties_and_nan() {
    // Lanes of 1 to 300 values from a few integers (many ties), NaN in some; every k up to
    // 40 (the pass that keeps the few best, and the selection past it), both directions,
    // sorted or in input order; against a full sort by (value, NaN greatest; then index).
    for n in [1usize, 2, 5, 33, 300] {
        let mut values: Vec<f32> = (0..n).map(|i| ((i * 7919 + 3) % 7) as f32).collect();
        if n > 4 {
            values[n / 2] = f32::NAN;
            values[n / 3] = f32::NAN;
        }
        let x = Tensor::from_vec(values.clone(), &[1, n]).unwrap();
        for k in 0..=n.min(40) {
            for largest in [true, false] {
                let rank = |i: usize| {
                    let v = values[i];
                    // Larger first when `largest`, NaN the greatest either way.
                    let key = if v.is_nan() { f64::INFINITY } else { v as f64 };
                    (if largest { -key } else { key }, i)
                };
                let mut want: Vec<usize> = (0..n).collect();
                want.sort_by(|&a, &b| rank(a).partial_cmp(&rank(b)).unwrap());
                want.truncate(k);
                for sorted in [true, false] {
                    let (v, i) = x.topk(k, 1, largest, sorted).unwrap();
                    let mut want = want.clone();
                    if !sorted {
                        want.sort_unstable();
                    }
                    let got: Vec<usize> = i.to_vec().iter().map(|&j| j as usize).collect();
                    assert_eq!(got, want, "n {n}, k {k}, largest {largest}, sorted {sorted}");
                    let same = v
                        .to_vec()
                        .iter()
                        .zip(&want)
                        .all(|(a, &j)| a.to_bits() == values[j].to_bits());
                    assert!(same, "values, n {n}, k {k}");
                }
            }
        }
    }
}

#[test]
fn masked_fill_of_a_same_shape_mask_fills_every_marked_value() {
    // 3 x 1001 values (blocks of the loop's staging and a part), the mask every third value,
    // filled with -inf and with NaN; against the values chosen one by one.
    let x = Tensor::<f32>::randn(&[3, 1001], 9);
    let mask = Tensor::from_vec((0..3003).map(|i| (i % 3 == 0) as u8 as f32).collect(), &[3, 1001])
        .unwrap()
        .gt_scalar(0.5);
    for value in [f32::NEG_INFINITY, f32::NAN] {
        let got = x.masked_fill(&mask, value).unwrap().to_vec();
        let want: Vec<f32> = x
            .to_vec()
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 3 == 0 { value } else { v })
            .collect();
        assert!(
            got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{value}"
        );
    }
}

#[test]
fn masked_fill_of_a_broadcast_mask_fills_every_marked_value() {
    // A causal mask over a batch of scores, a padding mask [B, 1, 1, T], a mask with more
    // dimensions than the tensor (the result takes the broadcast shape, as PyTorch's), filled
    // with -inf and NaN, big enough to be shared between threads: against the values chosen
    // one by one through the broadcast indices.
    let cases: [(&[usize], &[usize]); 4] = [
        (&[32, 4, 16, 16], &[16, 16]),
        (&[64, 8, 32, 64], &[64, 1, 1, 64]),
        (&[5, 7], &[3, 1, 7]),
        (&[2, 3], &[1]),
    ];
    for (xs, ms) in cases {
        let x = Tensor::<f32>::randn(xs, 4);
        let n: usize = ms.iter().product();
        let mask = Tensor::from_vec((0..n).map(|i| ((i * 7) % 5 < 2) as u8 as f32).collect(), ms)
            .unwrap()
            .gt_scalar(0.5);
        let shape = ferrograd_tensor::broadcast_shape("test", xs, ms).unwrap();
        let xb = x.broadcast_to(&shape).unwrap().to_vec();
        let mb: Vec<bool> = mask.array().broadcast(shape.clone()).unwrap().iter().copied().collect();
        for value in [f32::NEG_INFINITY, f32::NAN] {
            let got = x.masked_fill(&mask, value).unwrap();
            assert_eq!(got.shape(), shape.as_slice());
            let want = xb.iter().zip(&mb).map(|(&v, &m)| if m { value } else { v });
            assert!(
                got.to_vec().iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{xs:?} with a mask {ms:?}, {value}"
            );
        }
    }
}
