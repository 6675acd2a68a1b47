//! Creating tensors, reading them back, and broadcasting (with its errors).

use ferrograd_tensor::{broadcast_shape, checked_numel, DType, Error, IndexTensor, Shape, Tensor};
use rand::SeedableRng;

#[test]
fn from_vec_checks_the_length() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    assert_eq!(t.get(&[1, 0]).unwrap(), 4.0);

    let err = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[2, 2]).unwrap_err();
    assert_eq!(
        err,
        Error::DataLength {
            op: "from_vec",
            len: 3,
            shape: Shape(vec![2, 2]),
            numel: 4
        }
    );
    assert_eq!(
        err.to_string(),
        "from_vec: 3 values cannot fill shape [2, 2] (4 elements)"
    );
    assert!(IndexTensor::from_vec(vec![1, 2], &[3]).is_err());
}

#[test]
fn shapes_too_large_for_memory_are_errors() {
    assert_eq!(checked_numel("x", &[2, 3, 4]).unwrap(), 24);
    assert_eq!(checked_numel("x", &[]).unwrap(), 1);
    assert_eq!(checked_numel("x", &[usize::MAX, 0]).unwrap(), 0);
    let huge = [usize::MAX, 2];
    let err = checked_numel("x", &huge).unwrap_err();
    assert!(
        err.to_string().starts_with("x: shape [18446744073709551615, 2]"),
        "{err}"
    );

    let err = Tensor::<f32>::from_vec(vec![], &huge).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "from_vec", .. }), "{err:?}");
    let err = Tensor::<f32>::zeros(&[2]).reshape(&[usize::MAX, 4]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "reshape", .. }), "{err:?}");
    assert!(IndexTensor::from_vec(vec![], &huge).is_err());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let err = Tensor::<f32>::uniform(&huge, 0.0, 1.0, &mut rng).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "uniform", .. }), "{err:?}");
    let err = Tensor::<f32>::normal(&huge, 0.0, 1.0, &mut rng).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "normal", .. }), "{err:?}");
}

#[test]
fn arange() {
    assert_eq!(Tensor::<f32>::arange(4).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(Tensor::<f32>::arange(0).shape(), &[0]);
    // torch.arange(1., 2.5, 0.5) == tensor([1.0000, 1.5000, 2.0000])
    assert_eq!(
        Tensor::<f64>::arange_step(1.0, 2.5, 0.5).unwrap().to_vec(),
        vec![1.0, 1.5, 2.0]
    );
    // torch.arange(0, 1, 0.1).shape == torch.Size([10])
    let t = Tensor::<f64>::arange_step(0.0, 1.0, 0.1).unwrap();
    assert_eq!(t.shape(), &[10]);
    assert!((t.to_vec()[9] - 0.9).abs() < 1e-12);
    assert_eq!(
        Tensor::<f32>::arange_step(5.0, 0.0, -2.0).unwrap().to_vec(),
        vec![5.0, 3.0, 1.0]
    );
    assert_eq!(Tensor::<f32>::arange_step(2.0, 2.0, 1.0).unwrap().numel(), 0);
}

#[test]
fn arange_step_errors() {
    for (start, end, step) in [(0.0, 1.0, 0.0), (0.0, f64::NAN, 1.0), (f64::INFINITY, 1.0, 1.0)] {
        let err = Tensor::<f32>::arange_step(start, end, step).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { op: "arange", .. }), "{err:?}");
    }
    let err = Tensor::<f32>::arange_step(0.0, 1.0, -0.1).unwrap_err();
    // torch: torch.arange(0, 1, -0.1) raises "upper bound and lower bound inconsistent with step sign"
    assert!(
        err.to_string()
            .starts_with("arange: upper bound and lower bound inconsistent with step sign"),
        "{err}"
    );
}

#[test]
fn filled_tensors() {
    assert_eq!(Tensor::<f32>::zeros(&[2, 3]).to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<f64>::ones(&[4]).to_vec(), vec![1.0; 4]);
    let f = Tensor::full(&[3, 1], 2.5f32);
    assert_eq!((f.shape(), f.to_vec()), (&[3usize, 1][..], vec![2.5; 3]));
    assert_eq!(f.zeros_like().shape(), &[3, 1]);
    assert_eq!(Tensor::<f32>::zeros(&[]).to_vec(), vec![0.0]);
    let s = Tensor::scalar(7.0f64);
    assert_eq!((s.ndim(), s.numel(), s.item().unwrap()), (0, 1, 7.0));
    assert_eq!(s.dtype(), DType::F64);
    assert_eq!(Tensor::<f32>::zeros(&[1]).dtype().name(), "float32");
}

#[test]
fn seeded_random_tensors_are_reproducible() {
    let a = Tensor::<f32>::rand(&[100], 42);
    assert_eq!(a, Tensor::<f32>::rand(&[100], 42));
    assert_ne!(a, Tensor::<f32>::rand(&[100], 43));
    assert!(a.to_vec().iter().all(|&v| (0.0..1.0).contains(&v)));

    let n = Tensor::<f64>::randn(&[20_000], 7);
    assert_eq!(n, Tensor::<f64>::randn(&[20_000], 7));
    assert_ne!(n, Tensor::<f64>::randn(&[20_000], 8));
    let v = n.to_vec();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 0.03, "mean {mean}");
    assert!((var.sqrt() - 1.0).abs() < 0.03, "std {}", var.sqrt());

    let mut r1 = rand::rngs::StdRng::seed_from_u64(3);
    let mut r2 = rand::rngs::StdRng::seed_from_u64(3);
    let x = Tensor::<f64>::normal(&[10], 5.0, 2.0, &mut r1).unwrap();
    assert_eq!(x, Tensor::<f64>::normal(&[10], 5.0, 2.0, &mut r2).unwrap());
}

#[test]
fn uniform_stays_in_its_range() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let v = Tensor::<f64>::uniform(&[10_000], -2.0, 3.0, &mut rng).unwrap().to_vec();
    assert!(v.iter().all(|&x| (-2.0..3.0).contains(&x)));
    let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!(lo < -1.99 && hi > 2.99, "range [{lo}, {hi}] does not cover [-2, 3)");
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    assert!((mean - 0.5).abs() < 0.05, "mean {mean}");

    let err = Tensor::<f32>::uniform(&[2], 1.0, 1.0, &mut rng).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "uniform", .. }), "{err:?}");
    let err = Tensor::<f32>::normal(&[2], 0.0, -1.0, &mut rng).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { op: "normal", .. }), "{err:?}");
}

#[test]
fn inspection() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let err = t.item().unwrap_err();
    assert!(err.to_string().contains("4 elements"), "{err}");
    assert!(matches!(
        t.get(&[2, 0]),
        Err(Error::IndexOutOfBounds {
            op: "get",
            index: 2,
            dim: 0,
            size: 2
        })
    ));
    assert!(t.get(&[0]).is_err());
    assert_eq!(t.cast::<f64>().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    assert!(t.all_finite());
    assert!(!t.map(|v| v / 0.0).all_finite());
    let a: ndarray::ArrayD<f32> = t.clone().into();
    assert_eq!(Tensor::from(a), t);
}

#[test]
fn broadcasting_follows_numpy() {
    let col = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3, 1]).unwrap();
    let row = Tensor::from_vec(vec![10.0f32, 20.0, 30.0, 40.0], &[4]).unwrap();
    let s = col.add(&row).unwrap();
    assert_eq!(s.shape(), &[3, 4]);
    assert_eq!(s.get(&[2, 1]).unwrap(), 23.0);
    assert_eq!(col.sub(&row).unwrap().get(&[0, 3]).unwrap(), -39.0);
    assert_eq!(col.mul(&row).unwrap().get(&[1, 2]).unwrap(), 60.0);
    assert_eq!(row.div(&col).unwrap().get(&[1, 0]).unwrap(), 5.0);
    let scalar = Tensor::scalar(2.0f32);
    assert_eq!(scalar.mul(&col).unwrap().to_vec(), vec![2.0, 4.0, 6.0]);
    assert_eq!(broadcast_shape("op", &[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
    assert_eq!(broadcast_shape("op", &[], &[2, 2]).unwrap(), vec![2, 2]);
    assert_eq!(broadcast_shape("op", &[0], &[1]).unwrap(), vec![0]);

    let m = Tensor::from_vec(vec![1.0f32, 5.0, f32::NAN], &[3]).unwrap();
    let mx = m.maximum(&Tensor::scalar(2.0)).unwrap().to_vec();
    assert_eq!(&mx[..2], &[2.0, 5.0]);
    assert!(mx[2].is_nan());

    let mut acc = Tensor::<f32>::zeros(&[3, 4]);
    acc.add_assign(&row).unwrap();
    acc.add_assign(&row).unwrap();
    assert_eq!(acc.get(&[2, 3]).unwrap(), 80.0);
}

#[test]
fn broadcast_errors_name_the_op_and_both_shapes() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[4]);
    type BinaryOp = fn(&Tensor, &Tensor) -> ferrograd_tensor::Result<Tensor>;
    let cases: [(&str, BinaryOp); 5] = [
        ("add", Tensor::add),
        ("sub", Tensor::sub),
        ("mul", Tensor::mul),
        ("div", Tensor::div),
        ("maximum", Tensor::maximum),
    ];
    for (name, f) in cases {
        let err = f(&a, &b).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}: shapes [2, 3] and [4] cannot be broadcast together")
        );
        match err {
            Error::Broadcast { op, lhs, rhs } => {
                assert_eq!((op, lhs.0, rhs.0), (name, vec![2, 3], vec![4]));
            }
            e => panic!("{e:?}"),
        }
    }
    let err = Tensor::<f32>::zeros(&[2, 3])
        .add_assign(&Tensor::zeros(&[3, 3]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "add_: shapes [2, 3] and [3, 3] cannot be broadcast together"
    );
    // In place, `other` must broadcast to self's shape: [3] += [2, 3] cannot grow self.
    assert!(Tensor::<f32>::zeros(&[3]).add_assign(&Tensor::zeros(&[2, 3])).is_err());
    let err = Tensor::<f32>::zeros(&[3]).broadcast_to(&[3, 2]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "broadcast_to: shapes [3] and [3, 2] cannot be broadcast together"
    );
}

#[test]
fn broadcast_to_gives_every_value_its_source() {
    // Lanes of 16 values or more are written a lane at a time (copied, or one value
    // repeated), shared between threads for [256, 1] to [256, 1024]; shorter ones value by
    // value. Each value against the source value its index says, dimensions right-aligned.
    let cases: [(&[usize], &[usize]); 7] = [
        (&[3, 1, 20], &[2, 3, 4, 20]),
        (&[3, 1], &[3, 40]),
        (&[1, 40], &[5, 40]),
        (&[256, 1], &[256, 1024]),
        (&[1, 1024], &[256, 1024]),
        (&[4, 1, 3], &[4, 5, 3]),
        (&[2, 1, 1], &[2, 0, 16]),
    ];
    for (from, to) in cases {
        let n: usize = from.iter().product();
        let x = Tensor::<f32>::from_vec((0..n).map(|v| v as f32).collect(), from).unwrap();
        let got = x.broadcast_to(to).unwrap();
        assert_eq!(got.shape(), to);
        let padded: Vec<usize> = std::iter::repeat_n(1, to.len() - from.len())
            .chain(from.iter().copied())
            .collect();
        let want: Vec<f32> = (0..got.numel())
            .map(|at| {
                let (mut rest, mut source, mut stride) = (at, 0, 1);
                for (&size, &src) in to.iter().zip(&padded).rev() {
                    let i = rest % size;
                    rest /= size;
                    source += if src == 1 { 0 } else { i * stride };
                    stride *= src;
                }
                source as f32
            })
            .collect();
        assert_eq!(got.to_vec(), want, "{from:?} to {to:?}");
    }
}

#[test]
fn shapes_ndarray_cannot_hold_are_errors_not_panics() {
    // No element, but the product of the nonzero sizes overflows isize: ndarray refuses such a
    // shape, so every constructor checks it first (a checkpoint could declare it).
    for shape in [&[usize::MAX, 0][..], &[0, usize::MAX, usize::MAX], &[0, 1 << 62, 4]] {
        assert!(Tensor::<f32>::from_vec(vec![], shape).is_err(), "{shape:?}");
        assert!(IndexTensor::from_vec(vec![], shape).is_err(), "{shape:?}");
        assert!(Tensor::<f32>::zeros(&[0]).reshape(shape).is_err(), "{shape:?}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        assert!(Tensor::<f32>::uniform(shape, 0.0, 1.0, &mut rng).is_err(), "{shape:?}");
    }
    assert_eq!(
        Tensor::<f32>::from_vec(vec![], &[isize::MAX as usize, 0])
            .unwrap()
            .numel(),
        0
    );
    let idx = IndexTensor::from_vec(vec![], &[0, 0]).unwrap();
    let src = Tensor::<f32>::zeros(&[0, 0]);
    assert!(Tensor::scatter_add(&[usize::MAX, 2], 0, &idx, &src).is_err());
    let src = Tensor::<f32>::zeros(&[0, usize::MAX >> 2]);
    assert!(Tensor::index_add(
        &[usize::MAX >> 2, usize::MAX >> 2],
        0,
        &IndexTensor::from_slice(&[]),
        &src
    )
    .is_err());
    assert!(Tensor::<f32>::arange_step(0.0, 1e300, 1.0).is_err());
}

#[test]
fn clones_and_row_major_reshapes_share_a_buffer_copied_on_write() {
    let a = Tensor::<f32>::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
    assert!(!a.is_shared());
    let b = a.clone();
    let r = a.reshape(&[3, 2]).unwrap();
    assert!(a.is_shared() && b.is_shared() && r.is_shared());
    assert_eq!(a.array().as_ptr(), b.array().as_ptr());
    assert_eq!(a.array().as_ptr(), r.array().as_ptr());

    // A change to one copies its buffer first: the others keep their values.
    let mut c = a.clone();
    c.map_inplace(|v| v * 10.0);
    c.array_mut()[[1, 2]] = -1.0;
    assert_eq!(c.to_vec(), [0.0, 10.0, 20.0, 30.0, 40.0, -1.0]);
    assert_eq!(a.to_vec(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(r.to_vec(), a.to_vec());
    assert!(!c.is_shared());

    // A tensor whose buffer is not in row-major order (column-major here) is copied by
    // reshape, in row-major order.
    let t = Tensor::from_array(a.array().to_owned().reversed_axes());
    let flat = t.reshape(&[6]).unwrap();
    assert_eq!(flat.to_vec(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(!flat.is_shared());

    // Once the others are dropped, the buffer is the last tensor's own: no copy to change it.
    drop((b, r, t));
    let ptr = a.array().as_ptr();
    let mut a = a;
    a.map_inplace(|v| v + 1.0);
    assert_eq!(a.array().as_ptr(), ptr);
    assert_eq!(a.into_array().as_ptr(), ptr);
}
