//! Property tests: for every differentiable op, on random shapes (size-0 and size-1 axes,
//! every broadcasting pattern) and random values kept away from kinks and ties, the analytic
//! gradient matches central finite differences in f64 (`gradcheck`), and an op on an empty
//! tensor does not panic and gives empty gradients.
//!
//! 64 cases per property by default, from a fixed seed so that CI is reproducible;
//! `PROPTEST_CASES=2000 PROPTEST_RNG_SEED=7 cargo test --test prop_gradcheck` explores further.

use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_tensor::{IndexTensor, Result, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{contextualize_config, RngSeed};

fn config() -> ProptestConfig {
    contextualize_config(ProptestConfig {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x5eed_0006),
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// A size: 0 now and then, 1 often (the broadcasting and squeezing edge), else 2 or 3.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 3 => Just(1usize), 6 => 2usize..=3]
}

/// A shape of 0 to `max_ndim` dimensions.
fn shape(max_ndim: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(size(), 0..=max_ndim)
}

/// A shape of exactly `ndim` dimensions.
fn shape_of(ndim: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(size(), ndim)
}

/// A shape that broadcasts to `full`: some leading dimensions dropped, some sizes set to 1.
fn broadcast_from(full: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = full.len();
    (0..=n, proptest::collection::vec(any::<bool>(), n)).prop_map(move |(drop, ones)| {
        full.iter()
            .zip(&ones)
            .skip(drop)
            .map(|(&d, &one)| if one { 1 } else { d })
            .collect()
    })
}

/// `n` values drawn uniformly from `[lo, hi)`.
fn values(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(lo..hi, n)
}

fn tensor(shape: &[usize], data: Vec<f64>) -> Tensor<f64> {
    Tensor::from_vec(data, shape).unwrap()
}

/// A tensor of `shape` with values in `[lo, hi)`.
fn tensor_in(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n = shape.iter().product();
    values(n, lo, hi).prop_map(move |v| tensor(&shape, v))
}

/// Values with `|v| >= 0.1`: away from the kinks of relu, abs, leaky_relu at 0.
fn away_from_zero(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    tensor_in(shape, -2.0, 2.0).prop_map(|t| t.map(|v| if v < 0.0 { v - 0.1 } else { v + 0.1 }))
}

/// Pairwise distinct values (at least 0.09 apart), for max and max_dim: no ties.
fn distinct(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        values(n, 0.0, 0.01),
    )
        .prop_map(move |(perm, jitter)| {
            let v = perm
                .iter()
                .zip(&jitter)
                .map(|(&p, j)| p as f64 * 0.1 - 1.0 + j)
                .collect();
            tensor(&shape, v)
        })
}

/// A dimension index valid for `ndim` dimensions (as a 0-d tensor has one, for reductions),
/// negative half of the time.
fn dim_for(ndim: usize) -> impl Strategy<Value = isize> {
    let n = ndim.max(1) as isize;
    (0..n, any::<bool>()).prop_map(move |(d, neg)| if neg { d - n } else { d })
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

/// The analytic gradient of `f` at `inputs` matches finite differences; and if anything is
/// empty, backward from the sum still runs and every gradient has its input's (empty) shape.
fn check(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
) -> std::result::Result<(), TestCaseError> {
    let report = gradcheck(&f, inputs, GradcheckOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(report.passed, "{report}");
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::parameter).collect();
    let out = f(&vars).map_err(|e| TestCaseError::fail(e.to_string()))?;
    if out.numel() == 0 || inputs.iter().any(|t| t.numel() == 0) {
        out.sum().backward().map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (v, t) in vars.iter().zip(inputs) {
            if let Some(g) = v.grad() {
                prop_assert_eq!(g.shape(), t.shape());
                if t.numel() > 0 && out.numel() == 0 {
                    prop_assert!(g.to_vec().iter().all(|&x| x == 0.0), "{g}");
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Elementwise
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Unary {
    Exp,
    Log,
    Sqrt,
    Powf(f64),
    Abs,
    Relu,
    LeakyRelu(f64),
    Tanh,
    Sigmoid,
    LogSigmoid,
    Clamp,
    Neg,
    AddScalar(f64),
    MulScalar(f64),
    DivScalar(f64),
    ScalarMinus(f64),
    ScalarOver(f64),
}

fn unary() -> impl Strategy<Value = Unary> {
    prop_oneof![
        Just(Unary::Exp),
        Just(Unary::Log),
        Just(Unary::Sqrt),
        (-2.0..3.0f64).prop_map(Unary::Powf),
        Just(Unary::Abs),
        Just(Unary::Relu),
        (-0.5..0.5f64).prop_map(Unary::LeakyRelu),
        Just(Unary::Tanh),
        Just(Unary::Sigmoid),
        Just(Unary::LogSigmoid),
        Just(Unary::Clamp),
        Just(Unary::Neg),
        (-3.0..3.0f64).prop_map(Unary::AddScalar),
        (-3.0..3.0f64).prop_map(Unary::MulScalar),
        (0.5..3.0f64).prop_map(Unary::DivScalar),
        (-3.0..3.0f64).prop_map(Unary::ScalarMinus),
        (-3.0..3.0f64).prop_map(Unary::ScalarOver),
    ]
}

impl Unary {
    fn apply(self, x: &Var<f64>) -> Var<f64> {
        match self {
            Unary::Exp => x.exp(),
            Unary::Log => x.log(),
            Unary::Sqrt => x.sqrt(),
            Unary::Powf(p) => x.powf(p),
            Unary::Abs => x.abs(),
            Unary::Relu => x.relu(),
            Unary::LeakyRelu(s) => x.leaky_relu(s),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => x.sigmoid(),
            Unary::LogSigmoid => x.log_sigmoid(),
            // Bounds at ±0.05 from 0 fall between the values, which avoid (-0.1, 0.1).
            Unary::Clamp => x.clamp(Some(-1.05), Some(0.95)),
            Unary::Neg => -x,
            Unary::AddScalar(s) => x + s,
            Unary::MulScalar(s) => x * s,
            Unary::DivScalar(s) => x / s,
            Unary::ScalarMinus(s) => s - x,
            Unary::ScalarOver(s) => s / x,
        }
    }

    /// Inputs inside the op's domain and away from its kinks.
    fn input(self, shape: Vec<usize>) -> BoxedStrategy<Tensor<f64>> {
        match self {
            Unary::Log | Unary::Sqrt | Unary::Powf(_) | Unary::ScalarOver(_) => tensor_in(shape, 0.5, 2.0).boxed(),
            // The clamp bounds -1.05 and 0.95 lie at least 0.05 from every value.
            Unary::Clamp => away_from_zero(shape)
                .prop_map(|t| {
                    t.map(|v| {
                        if (v + 1.05).abs() < 0.05 || (v - 0.95).abs() < 0.05 {
                            v + 0.2
                        } else {
                            v
                        }
                    })
                })
                .boxed(),
            _ => away_from_zero(shape).boxed(),
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unary_ops((op, x) in (unary(), shape(3)).prop_flat_map(|(op, s)| (Just(op), op.input(s)))) {
        check(|v| Ok(op.apply(&v[0])), &[x])?;
    }

    #[test]
    fn broadcasting_binary_ops(
        (which, a, b) in (0..5usize, shape(3))
            .prop_flat_map(|(w, full)| (Just(w), broadcast_from(full.clone()), broadcast_from(full)))
            .prop_flat_map(|(w, sa, sb)| {
                // maximum: a on a grid of 0.25, b between its points, so |a - b| >= 0.115.
                let a = tensor_in(sa.clone(), -2.0, 2.0).prop_map(|t| t.map(|v| (v * 4.0).round() / 4.0 + v.fract().abs() * 0.01));
                let b = tensor_in(sb.clone(), 0.5, 2.0);
                let b_mid = tensor_in(sb, -2.0, 2.0).prop_map(|t| t.map(|v| (v * 4.0).round() / 4.0 + 0.125));
                (Just(w), a, if w == 4 { b_mid.boxed() } else { b.boxed() })
            })
    ) {
        let f = |v: &[Var<f64>]| match which {
            0 => v[0].try_add(&v[1]),
            1 => v[0].try_sub(&v[1]),
            2 => v[0].try_mul(&v[1]),
            3 => v[0].try_div(&v[1]),
            _ => v[0].maximum(&v[1]),
        };
        check(f, &[a.clone(), b.clone()])?;
        // And with the operands swapped (the other broadcasting direction); b > 0 divides safely.
        let g = |v: &[Var<f64>]| match which {
            0 => v[1].try_add(&v[0]),
            1 => v[1].try_sub(&v[0]),
            2 => v[1].try_mul(&v[0]),
            3 => v[0].try_div(&v[1]),
            _ => v[1].maximum(&v[0]),
        };
        check(g, &[a, b])?;
    }

    #[test]
    fn shapes_that_do_not_broadcast_are_errors(a in shape(3), b in shape(3)) {
        let x = Var::parameter(Tensor::<f64>::zeros(&a));
        let y = Var::parameter(Tensor::<f64>::zeros(&b));
        let broadcastable = ferrograd_tensor::broadcast_shape("add", &a, &b).is_ok();
        prop_assert_eq!(x.try_add(&y).is_ok(), broadcastable);
        prop_assert_eq!(x.try_mul(&y).is_ok(), broadcastable);
        prop_assert_eq!(x.maximum(&y).is_ok(), broadcastable);
    }
}

// ---------------------------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------------------------

/// Operand shapes of `matmul`: 1-D or 2-D each, or batched with broadcasting batch dims.
fn matmul_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (size(), size(), size(), shape(2), 0..6usize).prop_flat_map(|(m, k, n, batch, kind)| {
        let bb = (broadcast_from(batch.clone()), broadcast_from(batch));
        bb.prop_map(move |(ba, bb)| match kind {
            0 => (vec![k], vec![k]),
            1 => (vec![k], vec![k, n]),
            2 => (vec![m, k], vec![k]),
            3 => (vec![m, k], vec![k, n]),
            4 => ([ba, vec![m, k]].concat(), [bb, vec![k, n]].concat()),
            _ => ([ba, vec![m, k]].concat(), vec![k]),
        })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn matmul(
        (a, b) in matmul_shapes().prop_flat_map(|(sa, sb)| (tensor_in(sa, -2.0, 2.0), tensor_in(sb, -2.0, 2.0)))
    ) {
        check(|v| v[0].matmul(&v[1]), &[a, b])?;
    }
}

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sums_and_means(
        (x, dim, keepdim, which) in shape(3).prop_flat_map(|s| {
            (tensor_in(s.clone(), -2.0, 2.0), dim_for(s.len()), any::<bool>(), 0..5usize)
        })
    ) {
        check(
            |v| match which {
                0 => Ok(v[0].sum()),
                1 => Ok(v[0].mean()),
                2 => v[0].sum_dim(dim, keepdim),
                3 => v[0].mean_dim(dim, keepdim),
                _ => v[0].logsumexp(dim, keepdim),
            },
            &[x],
        )?;
    }

    #[test]
    fn maxima_without_ties(
        (x, dim, keepdim) in shape(3).prop_flat_map(|s| (distinct(s.clone()), dim_for(s.len()), any::<bool>()))
    ) {
        let empty_dim = x.ndim() > 0 && x.shape()[dim.rem_euclid(x.ndim() as isize) as usize] == 0;
        let v = Var::parameter(x.clone());
        // Over nothing there is no maximum: an error, not a panic.
        prop_assert_eq!(v.max().is_err(), x.numel() == 0);
        prop_assert_eq!(v.max_dim(dim, keepdim).is_err(), empty_dim);
        if x.numel() > 0 {
            check(|v| v[0].max(), std::slice::from_ref(&x))?;
        }
        if !empty_dim {
            check(|v| v[0].max_dim(dim, keepdim), &[x])?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reshape_flatten_squeeze_unsqueeze(
        (x, d0, d1, unsq, split) in shape(3).prop_flat_map(|s| {
            let n = s.len();
            (tensor_in(s, -2.0, 2.0), dim_for(n), dim_for(n), 0..=n as isize, any::<bool>())
        })
    ) {
        let n = x.numel();
        // Reshape to [n], [1, n] or [n, 1]: the only factorizations every n has.
        let target = if split { vec![1, n] } else { vec![n, 1] };
        check(|v| v[0].reshape(&[n]), std::slice::from_ref(&x))?;
        check(|v| v[0].reshape(&target), std::slice::from_ref(&x))?;
        let (s, e) = if d0.rem_euclid(x.ndim().max(1) as isize) <= d1.rem_euclid(x.ndim().max(1) as isize) { (d0, d1) } else { (d1, d0) };
        check(|v| v[0].flatten(s, e), std::slice::from_ref(&x))?;
        check(|v| v[0].squeeze(d0), std::slice::from_ref(&x))?;
        check(|v| v[0].unsqueeze(unsq), &[x])?;
    }

    #[test]
    fn transpose_permute_t(
        (x, d0, d1, perm) in shape(3).prop_flat_map(|s| {
            let n = s.len();
            (tensor_in(s, -2.0, 2.0), dim_for(n), dim_for(n), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        })
    ) {
        if x.ndim() > 0 {
            check(|v| v[0].transpose(d0, d1), std::slice::from_ref(&x))?;
        }
        check(|v| v[0].permute(&perm), std::slice::from_ref(&x))?;
        if x.ndim() <= 2 {
            check(|v| v[0].t(), &[x])?;
        } else {
            prop_assert!(Var::new(x).t().is_err());
        }
    }

    #[test]
    fn narrow(
        (x, dim, start, len) in (1..=3usize).prop_flat_map(shape_of)
            .prop_flat_map(|s| {
                let n = s.len();
                (tensor_in(s.clone(), -2.0, 2.0), dim_for(n), 0..=3usize, 0..=3usize)
            })
    ) {
        let d = dim.rem_euclid(x.ndim() as isize) as usize;
        let size = x.shape()[d];
        let fits = start + len <= size;
        prop_assert_eq!(Var::new(x.clone()).narrow(dim, start, len).is_ok(), fits);
        if fits {
            check(|v| v[0].narrow(dim, start, len), &[x])?;
        }
    }

    #[test]
    fn concat_and_stack(
        (parts, dim) in (1..=3usize).prop_flat_map(shape_of)
            .prop_flat_map(|s| {
                let n = s.len();
                (dim_for(n), proptest::collection::vec(size(), 1..=4), Just(s))
            })
            .prop_flat_map(|(dim, sizes, s)| {
                let d = dim.rem_euclid(s.len() as isize) as usize;
                let parts: Vec<_> = sizes
                    .iter()
                    .map(|&k| {
                        let mut p = s.clone();
                        p[d] = k;
                        tensor_in(p, -2.0, 2.0)
                    })
                    .collect();
                (parts, Just(dim))
            })
    ) {
        check(|v| Var::concat(v, dim), &parts)?;
        // stack wants equal shapes: the first part's, repeated.
        let same = vec![parts[0].clone(); parts.len()];
        let stack_dim = if dim < 0 { dim - 1 } else { dim };
        check(|v| Var::stack(v, stack_dim), &same)?;
    }

    #[test]
    fn broadcast_to_and_sum_to_shape(
        (small, full) in shape(3).prop_flat_map(|full| (broadcast_from(full.clone()), Just(full)))
            .prop_flat_map(|(small, full)| (tensor_in(small, -2.0, 2.0), tensor_in(full, -2.0, 2.0)))
    ) {
        let target = full.shape().to_vec();
        let reduced = small.shape().to_vec();
        check(|v| v[0].broadcast_to(&target), &[small])?;
        check(|v| v[0].sum_to_shape(&reduced), &[full])?;
    }
}

// ---------------------------------------------------------------------------------------------
// Indexing and softmax
// ---------------------------------------------------------------------------------------------

/// An index tensor of `shape` with values in `0..size` (all 0 when `size` is 0: unused).
fn indices(shape: Vec<usize>, size: usize) -> impl Strategy<Value = IndexTensor> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(0..size.max(1) as i64, n).prop_map(move |v| IndexTensor::from_vec(v, &shape).unwrap())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gather_and_scatter_add(
        (x, dim, index) in (1..=3usize).prop_flat_map(shape_of)
            .prop_flat_map(|s| (Just(s.clone()), dim_for(s.len())))
            .prop_flat_map(|(s, dim)| {
                let d = dim.rem_euclid(s.len() as isize) as usize;
                // The index is no larger than the input outside dim, any size along it (if the
                // input has elements to pick there).
                let index_shape: Vec<BoxedStrategy<usize>> = s
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| if i == d { if n == 0 { Just(0).boxed() } else { (0..=3usize).boxed() } } else { (0..=n).boxed() })
                    .collect();
                (tensor_in(s.clone(), -2.0, 2.0), Just(dim), index_shape.prop_flat_map(move |is| indices(is, s[d])))
            })
    ) {
        let shape = x.shape().to_vec();
        check(|v| v[0].gather(dim, &index), std::slice::from_ref(&x))?;
        let src = Tensor::<f64>::randn(index.shape(), 3);
        check(|v| v[0].scatter_add(&shape, dim, &index), &[src])?;
    }

    #[test]
    fn index_select_and_index_add(
        (x, dim, index) in (1..=3usize).prop_flat_map(shape_of)
            .prop_flat_map(|s| (Just(s.clone()), dim_for(s.len())))
            .prop_flat_map(|(s, dim)| {
                let d = dim.rem_euclid(s.len() as isize) as usize;
                let k = if s[d] == 0 { Just(0usize).boxed() } else { (0..=4usize).boxed() };
                (tensor_in(s.clone(), -2.0, 2.0), Just(dim), k.prop_flat_map(move |k| indices(vec![k], s[d])))
            })
    ) {
        let shape = x.shape().to_vec();
        check(|v| v[0].index_select(dim, &index), std::slice::from_ref(&x))?;
        let d = dim.rem_euclid(shape.len() as isize) as usize;
        let mut src_shape = shape.clone();
        src_shape[d] = index.numel();
        let src = Tensor::<f64>::randn(&src_shape, 4);
        check(|v| v[0].index_add(&shape, dim, &index), &[src])?;
    }

    #[test]
    fn out_of_range_indices_are_errors(
        (x, dim, bad) in (1..=3usize).prop_flat_map(shape_of)
            .prop_flat_map(|s| (tensor_in(s.clone(), -2.0, 2.0), dim_for(s.len()), prop_oneof![Just(-1i64), 3i64..100, Just(i64::MAX), Just(i64::MIN)]))
    ) {
        let v = Var::parameter(x.clone());
        let idx = IndexTensor::from_slice(&[bad]);
        prop_assert!(v.index_select(dim, &idx).is_err());
        let mut gshape = vec![1; x.ndim()];
        if x.shape().contains(&0) {
            gshape = x.shape().iter().map(|&n| n.min(1)).collect();
        }
        let gi = IndexTensor::from_vec(vec![bad; gshape.iter().product()], &gshape).unwrap();
        if gi.numel() > 0 {
            prop_assert!(v.gather(dim, &gi).is_err());
        }
    }

    #[test]
    fn softmax_and_log_softmax(
        (x, dim, log) in shape(3).prop_flat_map(|s| (tensor_in(s.clone(), -3.0, 3.0), dim_for(s.len()), any::<bool>()))
    ) {
        check(|v| if log { v[0].log_softmax(dim) } else { v[0].softmax(dim) }, &[x])?;
    }
}
