//! Shapes at the edges. Result-returning ops given absurd but representable shapes return the
//! constructors' "has more elements than fit in memory" error, checked in bytes, instead of
//! panicking inside ndarray ("Shape too large") or `Vec` ("capacity overflow"); a 0-d tensor's
//! dims are checked as PyTorch checks them.

use ferrograd_tensor::Tensor;

fn assert_too_large<T: std::fmt::Debug>(r: ferrograd_tensor::Result<T>, op: &str) {
    let message = r.expect_err("an error, not a result").to_string();
    assert!(message.starts_with(op), "{message}");
    assert!(message.contains("more elements than fit in memory"), "{message}");
}

#[test]
fn matmul_of_empty_operands_with_a_huge_result_is_an_error() {
    let a = Tensor::<f32>::zeros(&[1 << 33, 0]);
    let b = Tensor::<f32>::zeros(&[0, 1 << 33]);
    assert_too_large(a.matmul(&b), "matmul");
    assert_too_large(a.mm(&b, false, false), "matmul");
    // Batched: [2, 2^33, 0] @ [0, 2^33]
    let a3 = Tensor::<f32>::zeros(&[2, 1 << 33, 0]);
    assert_too_large(a3.matmul(&b), "matmul");
    // linear: [2^62, 0] · [4, 0]ᵀ is [2^62, 4]
    let x = Tensor::<f32>::zeros(&[1 << 62, 0]);
    assert_too_large(x.linear(&Tensor::zeros(&[4, 0]), None), "linear");
}

#[test]
fn arange_past_memory_is_an_error() {
    assert_too_large(Tensor::<f32>::arange_step(0.0, 5e18, 1.0), "arange");
    // 2^61 f32 values fit isize::MAX elements but not bytes
    assert_too_large(Tensor::<f32>::arange_step(0.0, 2f64.powi(62), 1.0), "arange");
}

#[test]
fn reducing_away_an_empty_dimension_into_a_huge_result_is_an_error() {
    let t = Tensor::<f32>::zeros(&[0, 1 << 62]);
    assert_too_large(t.sum_dim(0, false), "sum");
    assert_too_large(t.mean_dim(0, true), "mean");
    assert_too_large(t.logsumexp(0, false), "logsumexp");
    // a small result is still computed
    let small = Tensor::<f32>::zeros(&[0, 3]).sum_dim(0, false).unwrap();
    assert_eq!(small.to_vec(), vec![0.0; 3]);
}

#[test]
fn broadcast_to_fills_a_big_shape_with_one_value() {
    // More values than one block of work: the fill is shared between threads.
    let t = Tensor::<f32>::scalar(-2.5).broadcast_to(&[3, 70_001]).unwrap();
    assert_eq!(t.shape(), &[3, 70_001]);
    assert!(t.to_vec().iter().all(|&v| v == -2.5));
    let t = Tensor::<f64>::from_vec(vec![7.0], &[1, 1])
        .unwrap()
        .broadcast_to(&[2, 3])
        .unwrap();
    assert_eq!(t.to_vec(), vec![7.0; 6]);
}

#[test]
fn broadcast_to_a_huge_shape_is_an_error() {
    let t = Tensor::<f32>::zeros(&[1]);
    assert_too_large(t.broadcast_to(&[1 << 62]), "broadcast_to");
    assert_too_large(
        Tensor::<f64>::zeros(&[1, 1]).broadcast_to(&[1 << 61, 2]),
        "broadcast_to",
    );
}

#[test]
fn flatten_of_a_0d_tensor_checks_its_dims_as_pytorch() {
    // torch.tensor(1.).flatten(5, 9)
    // IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 5)
    let t = Tensor::<f32>::scalar(1.0);
    let m = t.flatten(5, 9).unwrap_err().to_string();
    assert_eq!(
        m,
        "flatten: dimension out of range (expected to be in range of [-1, 0], but got 5)"
    );
    assert!(t.flatten(0, 1).is_err());
    // torch.tensor(1.).flatten(-1, 0).shape  ->  torch.Size([1])
    assert_eq!(t.flatten(-1, 0).unwrap().shape(), &[1]);
    assert_eq!(t.flatten(0, 0).unwrap().shape(), &[1]);
}
