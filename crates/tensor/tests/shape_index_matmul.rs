//! Reshaping ops, indexing ops and matmul: values, and errors (never panics) on bad arguments.

use ferrograd_tensor::{Error, IndexTensor, Shape, Tensor};

fn iota(shape: &[usize]) -> Tensor<f64> {
    Tensor::arange(shape.iter().product()).reshape(shape).unwrap()
}

fn idx(data: &[i64], shape: &[usize]) -> IndexTensor {
    IndexTensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn reshape_flatten_squeeze() {
    let x = iota(&[2, 3]);
    assert_eq!(x.reshape(&[3, 2]).unwrap().get(&[2, 0]).unwrap(), 4.0);
    let err = x.reshape(&[4, 2]).unwrap_err();
    assert_eq!(err.to_string(), "reshape: shape [4, 2] is invalid for input of size 6");
    assert_eq!(iota(&[2, 3, 4]).flatten(1, -1).unwrap().shape(), &[2, 12]);
    assert_eq!(iota(&[2, 3, 4]).flatten(0, 1).unwrap().shape(), &[6, 4]);
    assert_eq!(Tensor::scalar(1.0f64).flatten(0, 0).unwrap().shape(), &[1]);
    assert!(iota(&[2, 3, 4]).flatten(2, 1).is_err());
    assert!(iota(&[2, 3]).flatten(0, 2).is_err());
    let y = iota(&[2, 1, 3]);
    assert_eq!(y.squeeze(1).unwrap().shape(), &[2, 3]);
    assert_eq!(y.squeeze(0).unwrap().shape(), &[2, 1, 3]); // not size 1: unchanged
    assert_eq!(y.unsqueeze(-1).unwrap().shape(), &[2, 1, 3, 1]);
    assert_eq!(y.unsqueeze(3).unwrap().shape(), &[2, 1, 3, 1]);
    assert!(y.unsqueeze(4).is_err() && y.squeeze(3).is_err());
}

#[test]
fn transpose_and_permute() {
    let x = iota(&[2, 3, 4]);
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(p.get(&[3, 1, 2]).unwrap(), x.get(&[1, 2, 3]).unwrap());
    let tr = x.transpose(0, -1).unwrap();
    assert_eq!(tr.shape(), &[4, 3, 2]);
    assert_eq!(tr.get(&[1, 2, 0]).unwrap(), x.get(&[0, 2, 1]).unwrap());
    assert_eq!(iota(&[2, 3]).t().unwrap().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert_eq!(iota(&[3]).t().unwrap().shape(), &[3]);
    // Contiguous after permuting: reshape reads in logical order.
    assert_eq!(
        iota(&[2, 2]).t().unwrap().reshape(&[4]).unwrap().to_vec(),
        vec![0.0, 2.0, 1.0, 3.0]
    );

    // Copies of many blocks (shared between threads, written without being cleared first):
    // with whole lanes moved (the last dimension kept) and with strided lanes.
    let big = iota(&[8, 33, 5, 7]);
    for dims in [[0usize, 2, 1, 3], [3, 1, 0, 2], [1, 0, 3, 2]] {
        let p = big.permute(&dims).unwrap().reshape(&[big.numel()]).unwrap().to_vec();
        let mut at = 0;
        let shape: Vec<usize> = dims.iter().map(|&d| big.shape()[d]).collect();
        for i in 0..shape[0] {
            for j in 0..shape[1] {
                for k in 0..shape[2] {
                    for l in 0..shape[3] {
                        let mut index = [0; 4];
                        for (d, v) in dims.iter().zip([i, j, k, l]) {
                            index[*d] = v;
                        }
                        assert_eq!(p[at], big.get(&index).unwrap(), "{dims:?} at {index:?}");
                        at += 1;
                    }
                }
            }
        }
    }

    for dims in [&[0usize, 1][..], &[0, 0, 1], &[0, 1, 3], &[0, 1, 2, 3]] {
        let err = x.permute(dims).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { op: "permute", .. }),
            "{dims:?}: {err:?}"
        );
    }
    assert_eq!(
        x.transpose(0, 3).unwrap_err(),
        Error::DimOutOfRange {
            op: "transpose",
            dim: 3,
            ndim: 3
        }
    );
    let err = x.t().unwrap_err();
    assert!(err.to_string().contains("self is 3D"), "{err}");
}

#[test]
fn narrow_concat_stack() {
    let x = iota(&[3, 4]);
    let n = x.narrow(1, 1, 2).unwrap();
    assert_eq!(
        (n.shape(), n.to_vec()),
        (&[3usize, 2][..], vec![1.0, 2.0, 5.0, 6.0, 9.0, 10.0])
    );
    assert_eq!(x.narrow(-2, 2, 1).unwrap().to_vec(), vec![8.0, 9.0, 10.0, 11.0]);
    assert_eq!(x.narrow(0, 3, 0).unwrap().shape(), &[0, 4]);
    let err = x.narrow(1, 3, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "narrow: start (3) + length (2) exceeds dimension size (4) of dim 1 of shape [3, 4]"
    );
    assert!(x.narrow(0, usize::MAX, 2).is_err());
    assert!(x.narrow(2, 0, 1).is_err());
    // A tensor not in row-major order (a column-major buffer) narrows to the same values.
    let cm = Tensor::from_array(x.array().t().as_standard_layout().into_owned().reversed_axes());
    assert!(!cm.array().is_standard_layout());
    assert_eq!(cm.to_vec(), x.to_vec());
    assert_eq!(cm.narrow(1, 1, 2).unwrap(), n);

    // slice_backward, narrow's gradient: zeros with the slice written back where it came from.
    let back = n.slice_backward(&[3, 4], 1, 1).unwrap();
    assert_eq!(
        back.to_vec(),
        vec![0.0, 1.0, 2.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0, 9.0, 10.0, 0.0]
    );
    let rows = x.narrow(0, 1, 2).unwrap().slice_backward(&[3, 4], -2, 1).unwrap();
    assert_eq!(rows.to_vec()[..4], [0.0; 4]);
    assert_eq!(rows.to_vec()[4..], x.to_vec()[4..]);
    let err = n.slice_backward(&[3, 4], 1, 3).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ShapeMismatch {
                op: "slice_backward",
                ..
            }
        ),
        "{err}"
    );
    assert!(n.slice_backward(&[2, 4], 1, 0).is_err());
    assert!(n.slice_backward(&[3, 4], 2, 0).is_err());

    // Big enough to be shared between threads: many short runs, and runs longer than a
    // block of work; each value where the index arithmetic puts it, and back.
    for (shape, dim, start, len) in [
        ([300, 1000], 1, 100, 800),
        ([300, 1000], 0, 7, 250),
        ([3, 40_000], 1, 5, 30_000),
    ] {
        let x = iota(&shape);
        let n = x.narrow(dim, start, len).unwrap();
        let mut want_shape = shape;
        want_shape[dim as usize] = len;
        let cols = want_shape[1];
        let at = |i: usize, j: usize| {
            if dim == 0 {
                (i + start) * shape[1] + j
            } else {
                i * shape[1] + j + start
            }
        };
        let want: Vec<f64> = (0..want_shape[0] * cols)
            .map(|k| at(k / cols, k % cols) as f64)
            .collect();
        assert_eq!((n.shape(), n.to_vec()), (&want_shape[..], want), "{shape:?} {dim}");
        let back = n.slice_backward(&shape, dim, start).unwrap().to_vec();
        let inside = |k: usize| {
            let (i, j) = (k / shape[1], k % shape[1]);
            let index = if dim == 0 { i } else { j };
            (start..start + len).contains(&index)
        };
        assert!(back
            .iter()
            .enumerate()
            .all(|(k, &v)| v == if inside(k) { k as f64 } else { 0.0 }));
    }

    // narrow_add_assign: the slice's values added where slice_backward would put them, for a
    // row-major tensor and a column-major one; the rest untouched.
    for mut acc in [x.clone(), cm.clone()] {
        acc.narrow_add_assign(1, 1, &n).unwrap();
        let expected = x.add(&n.slice_backward(&[3, 4], 1, 1).unwrap()).unwrap();
        assert_eq!(acc.to_vec(), expected.to_vec());
        acc.narrow_add_assign(-2, 2, &x.narrow(0, 0, 1).unwrap()).unwrap();
        assert_eq!(acc.to_vec()[8..], [8.0, 19.0, 22.0, 14.0]); // row 2 with n (9, 10) and row 0 added
    }
    let mut acc = x.clone();
    for (dim, start) in [(1, 3), (0, 0), (2, 0)] {
        let err = acc.narrow_add_assign(dim, start, &n).unwrap_err();
        assert!(err.to_string().starts_with("narrow_add_assign"), "{err}");
    }
    assert_eq!(acc, x);
    acc.narrow_add_assign(1, 4, &x.narrow(1, 0, 0).unwrap()).unwrap();
    assert_eq!(acc, x);

    let a = iota(&[2, 2]);
    let b = iota(&[2, 3]);
    let c = Tensor::concat(&[&a, &b], 1).unwrap();
    assert_eq!(c.shape(), &[2, 5]);
    assert_eq!(c.to_vec(), vec![0.0, 1.0, 0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0]);
    assert_eq!(Tensor::concat(&[&a, &a], -2).unwrap().shape(), &[4, 2]);
    let err = Tensor::concat(&[&a, &b], 0).unwrap_err();
    assert!(matches!(
        &err,
        Error::ShapeMismatch { op: "concat", lhs, rhs, .. } if lhs == &Shape(vec![2, 2]) && rhs == &Shape(vec![2, 3])
    ));
    assert!(Tensor::concat(&[&a, &iota(&[4])], 0).is_err());
    assert!(Tensor::<f64>::concat(&[], 0).is_err());
    assert!(Tensor::concat(&[&a], 2).is_err());

    let s = Tensor::stack(&[&a, &a.mul_scalar(10.0)], -1).unwrap();
    assert_eq!(s.shape(), &[2, 2, 2]);
    assert_eq!(s.to_vec(), vec![0.0, 0.0, 1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    assert_eq!(Tensor::stack(&[&a, &a, &a], 0).unwrap().shape(), &[3, 2, 2]);
    let err = Tensor::stack(&[&a, &b], 0).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "stack", .. }), "{err:?}");
    assert!(Tensor::stack(&[&a], 3).is_err());
    assert!(Tensor::<f64>::stack(&[], 0).is_err());
}

#[test]
fn scatter_add_by_rows_adds_in_index_order_on_any_thread() {
    // Along the last dimension with the index's rows those of the output, rows go in blocks
    // shared between threads (2000 rows of 70). Each row gets its own index row's values,
    // repeated positions added in the index's order: against the loop written out, bit for
    // bit, and the same bad index is an error as on the other path.
    let (rows, n, k) = (2000usize, 70usize, 5usize);
    let positions: Vec<i64> = (0..rows * k)
        .map(|a| ((a * 7919) % 13 * (a % 5)) as i64 % n as i64)
        .collect();
    let src = Tensor::<f32>::randn(&[rows, k], 3);
    let got = Tensor::scatter_add(&[rows, n], -1, &idx(&positions, &[rows, k]), &src).unwrap();
    let values = src.to_vec();
    let mut want = vec![0.0f32; rows * n];
    for (a, (&i, &v)) in positions.iter().zip(&values).enumerate() {
        want[a / k * n + i as usize] += v;
    }
    assert_eq!(got.to_vec(), want);
    let mut bad = positions.clone();
    bad[rows * k - 1] = n as i64;
    let err = Tensor::scatter_add(&[rows, n], 1, &idx(&bad, &[rows, k]), &src).unwrap_err();
    assert_eq!(
        err.to_string(),
        "scatter_add: index 70 is out of bounds for dimension 1 with size 70"
    );
}

#[test]
fn gather_by_rows_reads_each_row_on_any_thread() {
    // Along the last dimension with the index's rows those of the input: 30000 rows of 5
    // indices (blocks of rows shared between threads), each value against its row's value
    // at its index; and a bad index is the same error as on the other path.
    let (rows, n, k) = (30000usize, 8usize, 5usize);
    let positions: Vec<i64> = (0..rows * k).map(|a| ((a * 7919) % n) as i64).collect();
    let x = Tensor::<f32>::randn(&[rows, n], 4);
    let got = x.gather(-1, &idx(&positions, &[rows, k])).unwrap().to_vec();
    let values = x.to_vec();
    let want: Vec<f32> = positions
        .iter()
        .enumerate()
        .map(|(a, &i)| values[a / k * n + i as usize])
        .collect();
    assert_eq!(got, want);
    let mut bad = positions;
    bad[7] = -1;
    let err = x.gather(1, &idx(&bad, &[rows, k])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gather: index -1 is out of bounds for dimension 1 with size 8"
    );
}

#[test]
fn gather_and_scatter_add() {
    let x = iota(&[2, 3]);
    let g = x.gather(1, &idx(&[2, 0, 1, 1], &[2, 2])).unwrap();
    assert_eq!(g.to_vec(), vec![2.0, 0.0, 4.0, 4.0]);
    let g0 = x.gather(0, &idx(&[1, 0, 1], &[1, 3])).unwrap();
    assert_eq!(g0.to_vec(), vec![3.0, 1.0, 5.0]);

    let src = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let s = Tensor::scatter_add(&[2, 3], 1, &idx(&[2, 2, 0, 1], &[2, 2]), &src).unwrap();
    assert_eq!(s.to_vec(), vec![0.0, 0.0, 3.0, 3.0, 4.0, 0.0]);

    for bad in [3, -1, i64::MAX, i64::MIN] {
        let err = x.gather(1, &idx(&[0, bad], &[1, 2])).unwrap_err();
        assert_eq!(
            err,
            Error::IndexOutOfBounds {
                op: "gather",
                index: bad,
                dim: 1,
                size: 3
            }
        );
        let err = Tensor::scatter_add(&[2, 3], 1, &idx(&[bad, 0], &[1, 2]), &iota(&[1, 2])).unwrap_err();
        assert!(
            matches!(err, Error::IndexOutOfBounds { op: "scatter_add", .. }),
            "{err:?}"
        );
    }
    // torch: "index 3 is out of bounds for dimension 1 with size 3"
    let err = x.gather(1, &idx(&[3], &[1, 1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gather: index 3 is out of bounds for dimension 1 with size 3"
    );

    // torch: torch.tensor(5.).gather(0, torch.tensor(3)) -> "index 3 is out of bounds for dimension 0 with size 1"
    let err = Tensor::scalar(5.0f64).gather(0, &IndexTensor::scalar(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gather: index 3 is out of bounds for dimension 0 with size 1"
    );
    assert_eq!(
        Tensor::scalar(5.0f64)
            .gather(0, &IndexTensor::scalar(0))
            .unwrap()
            .to_vec(),
        vec![5.0]
    );
    // torch: torch.zeros(()).scatter_add(0, torch.tensor(2), torch.tensor(1.)) -> "index 2 is out of bounds ..."
    assert!(Tensor::scatter_add(&[], 0, &IndexTensor::scalar(2), &Tensor::scalar(1.0f64)).is_err());
    assert_eq!(
        Tensor::scatter_add(&[], 0, &IndexTensor::scalar(0), &Tensor::scalar(1.5f64))
            .unwrap()
            .to_vec(),
        vec![1.5]
    );
    assert!(x.gather(1, &idx(&[0, 1], &[2])).is_err()); // wrong number of dims
    assert!(x.gather(1, &idx(&[0; 3], &[3, 1])).is_err()); // larger outside dim
    assert!(x.gather(2, &idx(&[0; 2], &[1, 2])).is_err());
    let err = Tensor::scatter_add(&[2, 3], 1, &idx(&[0, 1], &[1, 2]), &iota(&[2, 1])).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "scatter_add", .. }), "{err:?}");
}

#[test]
fn index_select_and_index_add() {
    let x = iota(&[3, 2]);
    let s = x.index_select(0, &IndexTensor::from_slice(&[2, 0, 2])).unwrap();
    assert_eq!(s.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    assert_eq!(
        x.index_select(-1, &IndexTensor::from_slice(&[1])).unwrap().to_vec(),
        vec![1.0, 3.0, 5.0]
    );
    let a = Tensor::index_add(&[3, 2], 0, &IndexTensor::from_slice(&[2, 0, 2]), &s).unwrap();
    assert_eq!(a.to_vec(), vec![0.0, 1.0, 0.0, 0.0, 8.0, 10.0]);

    for bad in [3, -1] {
        let err = x.index_select(0, &IndexTensor::from_slice(&[0, bad])).unwrap_err();
        assert_eq!(
            err,
            Error::IndexOutOfBounds {
                op: "index_select",
                index: bad,
                dim: 0,
                size: 3
            }
        );
        let err = Tensor::index_add(&[3, 2], 0, &IndexTensor::from_slice(&[bad]), &iota(&[1, 2])).unwrap_err();
        assert!(
            matches!(err, Error::IndexOutOfBounds { op: "index_add", .. }),
            "{err:?}"
        );
    }
    assert!(x.index_select(0, &idx(&[0, 1], &[1, 2])).is_err());
    assert!(x.index_select(2, &IndexTensor::from_slice(&[0])).is_err());
    let err = Tensor::index_add(&[3, 2], 0, &IndexTensor::from_slice(&[0, 1]), &iota(&[1, 2])).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "index_add", .. }), "{err:?}");
    assert!(Tensor::index_add(&[3, 2], 2, &IndexTensor::from_slice(&[0]), &iota(&[3, 1])).is_err());
}

#[test]
fn matmul_values() {
    let a = iota(&[2, 3]);
    let b = iota(&[3, 2]);
    let c = a.matmul(&b).unwrap();
    assert_eq!(
        (c.shape(), c.to_vec()),
        (&[2usize, 2][..], vec![10.0, 13.0, 28.0, 40.0])
    );
    let v = Tensor::from_vec(vec![1.0, -1.0, 2.0], &[3]).unwrap();
    let av = a.matmul(&v).unwrap();
    assert_eq!((av.shape(), av.to_vec()), (&[2usize][..], vec![3.0, 9.0]));
    let vb = v.matmul(&b).unwrap();
    assert_eq!((vb.shape(), vb.to_vec()), (&[2usize][..], vec![6.0, 8.0]));
    // torch: torch.ones(3) @ torch.ones(3) == tensor(3.), a 0-d result
    let vv = v.matmul(&v).unwrap();
    assert_eq!((vv.shape(), vv.to_vec()), (&[][..], vec![6.0]));

    // Batched, with broadcast batch dimensions: [2,1,3,4] @ [5,4,2] -> [2,5,3,2].
    let x = iota(&[2, 1, 3, 4]);
    let y = iota(&[5, 4, 2]).map(|v| v - 20.0);
    let z = x.matmul(&y).unwrap();
    assert_eq!(z.shape(), &[2, 5, 3, 2]);
    let x1 = x.narrow(0, 1, 1).unwrap().reshape(&[3, 4]).unwrap();
    let y3 = y.narrow(0, 3, 1).unwrap().reshape(&[4, 2]).unwrap();
    let expected = x1.matmul(&y3).unwrap();
    assert_eq!(
        z.narrow(0, 1, 1)
            .unwrap()
            .narrow(1, 3, 1)
            .unwrap()
            .reshape(&[3, 2])
            .unwrap(),
        expected
    );
    assert_eq!(iota(&[2, 3, 4]).matmul(&iota(&[4])).unwrap().shape(), &[2, 3]);
    assert_eq!(iota(&[4]).matmul(&iota(&[2, 4, 3])).unwrap().shape(), &[2, 3]);
    assert_eq!(iota(&[3, 4]).matmul(&iota(&[2, 4, 5])).unwrap().shape(), &[2, 3, 5]);
}

#[test]
fn batched_matmul_takes_operands_stored_in_any_order() {
    // The same values stored row-major and stored with the last two axes swapped in memory
    // (as an array handed over by `from_array`): the products are equal.
    let a = iota(&[2, 3, 4]);
    let b = iota(&[2, 4, 2]);
    let swapped = |t: &Tensor<f64>| {
        let [n, r, c] = t.shape()[..] else { unreachable!() };
        let stored = t
            .transpose(1, 2)
            .unwrap()
            .into_array()
            .into_shape_with_order((n, c, r))
            .unwrap();
        Tensor::from_array(stored.permuted_axes([0, 2, 1]))
    };
    let (a2, b2) = (swapped(&a), swapped(&b));
    assert_eq!(a2, a);
    let want = a.matmul(&b).unwrap();
    assert_eq!(a2.matmul(&b).unwrap(), want);
    assert_eq!(a.matmul(&b2).unwrap(), want);
    assert_eq!(a2.matmul(&b2).unwrap(), want);
}

#[test]
fn matmul_shape_errors() {
    // torch: torch.ones(2, 4) @ torch.ones(2, 2) -> "mat1 and mat2 shapes cannot be multiplied (2x4 and 2x2)"
    let err = iota(&[2, 4]).matmul(&iota(&[2, 2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: shape mismatch: [2, 4] vs [2, 2]: mat1 and mat2 shapes cannot be multiplied (2x4 and 2x2)"
    );
    // torch: torch.ones(3) @ torch.ones(4, 5) -> "... cannot be multiplied (1x3 and 4x5)"
    let err = iota(&[3]).matmul(&iota(&[4, 5])).unwrap_err();
    assert!(err.to_string().ends_with("(1x3 and 4x5)"), "{err}");
    assert!(iota(&[3]).matmul(&iota(&[4])).is_err());
    assert!(iota(&[2, 3]).matmul(&iota(&[4])).is_err());
    let err = iota(&[2, 3, 4]).matmul(&iota(&[3, 4, 5])).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }), "{err:?}");
    assert!(err.to_string().contains("[2, 3, 4] vs [3, 4, 5]"), "{err}");
    assert!(err.to_string().contains("batch dimensions [2] and [3]"), "{err}");
    let err = Tensor::scalar(1.0).matmul(&iota(&[2])).unwrap_err();
    assert!(err.to_string().contains("at least 1D, but they are 0D and 1D"), "{err}");
}

#[test]
fn index_select_and_index_add_along_a_middle_dim() {
    // x = torch.arange(24.).reshape(2, 3, 4); x.index_select(1, torch.tensor([2, 0, 2]))
    let x = Tensor::<f64>::arange(24).reshape(&[2, 3, 4]).unwrap();
    let index = IndexTensor::from_slice(&[2, 0, 2]);
    let picked = x.index_select(1, &index).unwrap();
    assert_eq!(picked.shape(), &[2, 3, 4]);
    let rows: Vec<f64> = [
        8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 20, 21, 22, 23, 12, 13, 14, 15, 20, 21, 22, 23,
    ]
    .iter()
    .map(|&v| v as f64)
    .collect();
    assert_eq!(picked.to_vec(), rows);
    // The adjoint: the repeated row 2 gets both slices, row 1 none.
    let src = Tensor::<f64>::ones(&[2, 3, 4]);
    let added = Tensor::index_add(&[2, 3, 4], 1, &index, &src).unwrap();
    let expect: Vec<f64> = (0..24).map(|i| [1.0, 0.0, 2.0][(i / 4) % 3]).collect();
    assert_eq!(added.to_vec(), expect);
}

#[test]
fn concat_of_every_size_puts_each_part_where_it_belongs() {
    // Results of a few values to millions (blocks of 16 K values that start inside a part's
    // block or a row, shared between threads when big), many narrow parts, an empty part, and
    // strided (transposed) parts: element for element the parts' blocks row after row.
    let cases: [(&[&[usize]], usize); 6] = [
        (&[&[32, 64], &[32, 64]], 1),
        (&[&[1024, 1000], &[1024, 1000]], 1),
        (&[&[600, 1000], &[0, 1000], &[1000, 1000]], 0),
        (&[&[3, 4, 5000], &[3, 7, 5000], &[3, 1, 5000]], 1),
        (&[&[512usize, 16] as &[usize]; 16], 1),
        (&[&[4, 2, 3], &[4, 2, 9]], 2),
    ];
    for (shapes, dim) in cases {
        let parts: Vec<Tensor<f32>> = shapes.iter().zip(1..).map(|(s, seed)| Tensor::randn(s, seed)).collect();
        let refs: Vec<&Tensor<f32>> = parts.iter().collect();
        let got = Tensor::concat(&refs, dim as isize).unwrap();
        let outer: usize = shapes[0][..dim].iter().product();
        let mut want = Vec::new();
        for o in 0..outer {
            for p in &parts {
                let block = p.numel() / outer;
                want.extend_from_slice(&p.to_vec()[o * block..][..block]);
            }
        }
        assert_eq!(got.to_vec(), want, "{shapes:?} along {dim}");
    }
    // Parts that are transposed views are read in their logical order.
    let a = Tensor::<f32>::randn(&[300, 200], 7).transpose(0, 1).unwrap();
    let b = Tensor::<f32>::randn(&[200, 50], 8);
    let got = Tensor::concat(&[&a, &b], 1).unwrap();
    assert_eq!(got.shape(), &[200, 350]);
    for (i, row) in got.to_vec().chunks(350).enumerate() {
        assert_eq!(
            row[..300],
            a.narrow(0, i, 1).unwrap().to_vec()[..],
            "row {i} of the transposed part"
        );
        assert_eq!(
            row[300..],
            b.narrow(0, i, 1).unwrap().to_vec()[..],
            "row {i} of the second part"
        );
    }
}

#[test]
fn index_select_of_every_size_gives_each_slice_where_it_belongs() {
    // Results of a few values to millions (blocks of whole runs, shared between threads from
    // 128 K values), runs of 1 to 1000 values, blocks that start inside an outer slice, and
    // an empty index: each run is the slice the index names, element for element.
    let cases: [(&[usize], usize, usize); 7] = [
        (&[27, 64], 0, 512),
        (&[28, 64], 0, 8192),
        (&[1024, 1000], 0, 4099),
        (&[3, 50, 7], 1, 333),
        (&[5, 40, 1], 1, 70000),
        (&[6, 4], 1, 9),
        (&[4, 8], 0, 0),
    ];
    for (shape, dim, len) in cases {
        let x = Tensor::<f32>::randn(shape, 3);
        let size = shape[dim] as i64;
        let picks: Vec<i64> = (0..len as i64).map(|i| (i * 7 + i / 3) % size).collect();
        let got = x.index_select(dim as isize, &IndexTensor::from_slice(&picks)).unwrap();
        let mut want_shape = shape.to_vec();
        want_shape[dim] = len;
        assert_eq!(got.shape(), want_shape.as_slice());
        let (outer, inner): (usize, usize) = (shape[..dim].iter().product(), shape[dim + 1..].iter().product());
        let (src, got) = (x.to_vec(), got.to_vec());
        for o in 0..outer {
            for (j, &p) in picks.iter().enumerate() {
                let at = (o * len + j) * inner;
                let from = (o * shape[dim] + p as usize) * inner;
                assert_eq!(
                    got[at..at + inner],
                    src[from..from + inner],
                    "{shape:?} dim {dim}, run {o}, {j}"
                );
            }
        }
    }
}

#[test]
fn every_matrix_of_a_batched_product_is_its_own_product() {
    // One, two and three batch dimensions, some broadcast, f32 at sizes the kernel takes and
    // with enough matrices to be shared between threads: matrix i of the result is the 2-D
    // product of the operands' matrices that broadcast to it.
    let cases: [(&[usize], &[usize]); 4] = [
        (&[40, 16, 16], &[16, 24]),
        (&[6, 7, 16, 12], &[6, 7, 12, 16]),
        (&[3, 1, 16, 9], &[1, 5, 9, 32]),
        (&[2, 3, 2, 8, 16], &[3, 1, 16, 16]),
    ];
    for (sa, sb) in cases {
        let a = Tensor::<f32>::randn(sa, 1);
        let b = Tensor::<f32>::randn(sb, 2);
        let c = a.matmul(&b).unwrap();
        let (m, k, n) = (sa[sa.len() - 2], sa[sa.len() - 1], sb[sb.len() - 1]);
        let batch = &c.shape()[..c.ndim() - 2];
        let (av, bv, cv) = (a.to_vec(), b.to_vec(), c.to_vec());
        // The matrix of `x` (batch dims `xb`, aligned to the right) for batch index `idx`.
        let matrix = |x: &[f32], xb: &[usize], idx: &[usize], len: usize| {
            let skip = idx.len() - xb.len();
            let at = xb
                .iter()
                .zip(&idx[skip..])
                .fold(0, |at, (&size, &i)| at * size + if size == 1 { 0 } else { i });
            x[at * len..][..len].to_vec()
        };
        let count: usize = batch.iter().product();
        for i in 0..count {
            let mut idx = vec![0; batch.len()];
            let mut rest = i;
            for (d, &size) in batch.iter().enumerate().rev() {
                idx[d] = rest % size;
                rest /= size;
            }
            let am = Tensor::from_vec(matrix(&av, &sa[..sa.len() - 2], &idx, m * k), &[m, k]).unwrap();
            let bm = Tensor::from_vec(matrix(&bv, &sb[..sb.len() - 2], &idx, k * n), &[k, n]).unwrap();
            let want = am.mm(&bm, false, false).unwrap().to_vec();
            assert_eq!(&cv[i * m * n..][..m * n], &want[..], "{sa:?} @ {sb:?}, matrix {idx:?}");
        }
    }
}
