//! `Display` prints exactly what PyTorch's `repr` prints. Every expected string was produced
//! by torch 2.x with default print options, with the snippet in the comment above it.

use ferrograd_tensor::Tensor;

fn t32(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn t64(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn seed_softmax() {
    let x = t32(&[1., 4., 1., 1., 5., 1., 2., 1., 1., 2., 5., 1.], &[3, 4]);
    // torch: print(repr(torch.tensor([[1.,4.,1.,1.],[5.,1.,2.,1.],[1.,2.,5.,1.]]).softmax(1)))
    let expected = "tensor([[0.0433, 0.8700, 0.0433, 0.0433],\n        [0.9205, 0.0169, 0.0458, 0.0169],\n        [0.0169, 0.0458, 0.9205, 0.0169]])";
    assert_eq!(x.softmax(1).unwrap().to_string(), expected);
}

#[test]
fn softmax_3x4() {
    let x = t32(
        &[1.0, 2.0, 3.0, 4.0, 1.0, -1.0, 0.0, 0.5, -2.0, 0.3, 2.5, -1.2],
        &[3, 4],
    );
    // torch: print(repr(torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.0, 0.5], [-2.0, 0.3, 2.5, -1.2]]).softmax(1)))
    let expected = "tensor([[0.0321, 0.0871, 0.2369, 0.6439],\n        [0.4740, 0.0641, 0.1744, 0.2875],\n        [0.0097, 0.0966, 0.8721, 0.0216]])";
    assert_eq!(x.softmax(1).unwrap().to_string(), expected);
}

#[test]
fn integer_valued_floats() {
    // torch: print(repr(torch.tensor([[1., 4.], [-2., 10.]])))
    let expected = "tensor([[ 1.,  4.],\n        [-2., 10.]])";
    assert_eq!(t32(&[1.0, 4.0, -2.0, 10.0], &[2, 2]).to_string(), expected);

    // torch: print(repr(torch.zeros(2, 2)))
    let expected = "tensor([[0., 0.],\n        [0., 0.]])";
    assert_eq!(Tensor::<f32>::zeros(&[2, 2]).to_string(), expected);

    // torch: print(repr(torch.arange(-20., 20.)))
    let expected = "tensor([-20., -19., -18., -17., -16., -15., -14., -13., -12., -11., -10.,  -9.,\n         -8.,  -7.,  -6.,  -5.,  -4.,  -3.,  -2.,  -1.,   0.,   1.,   2.,   3.,\n          4.,   5.,   6.,   7.,   8.,   9.,  10.,  11.,  12.,  13.,  14.,  15.,\n         16.,  17.,  18.,  19.])";
    assert_eq!(
        Tensor::<f32>::arange_step(-20.0, 20.0, 1.0).unwrap().to_string(),
        expected
    );
}

#[test]
fn fixed_point_and_rounding() {
    // torch: print(repr(torch.tensor(4.0)/3))
    assert_eq!(Tensor::scalar(4.0f32 / 3.0).to_string(), "tensor(1.3333)");

    // torch: print(repr(torch.tensor([100.0, 0.5])))
    assert_eq!(t32(&[100.0, 0.5], &[2]).to_string(), "tensor([100.0000,   0.5000])");

    // Exact binary ties round half to even, as Python's format does.
    // torch: print(repr(torch.tensor([0.03125, 0.15625, 1.0])))
    assert_eq!(
        t32(&[0.03125, 0.15625, 1.0], &[3]).to_string(),
        "tensor([0.0312, 0.1562, 1.0000])"
    );
}

#[test]
fn scientific_notation() {
    // torch: print(repr(torch.tensor([0.5, 1500.0, -2.0])))
    let expected = "tensor([ 5.0000e-01,  1.5000e+03, -2.0000e+00])";
    assert_eq!(t32(&[0.5, 1500.0, -2.0], &[3]).to_string(), expected);

    // torch: print(repr(torch.tensor([1e-5, 0.5])))
    assert_eq!(t32(&[1e-5, 0.5], &[2]).to_string(), "tensor([1.0000e-05, 5.0000e-01])");

    // torch: print(repr(torch.tensor([1., 2000., -3.])))
    let expected = "tensor([ 1.0000e+00,  2.0000e+03, -3.0000e+00])";
    assert_eq!(t32(&[1.0, 2000.0, -3.0], &[3]).to_string(), expected);

    // torch: print(repr(torch.tensor([1e9, 1.0])))
    assert_eq!(t32(&[1e9, 1.0], &[2]).to_string(), "tensor([1.0000e+09, 1.0000e+00])");

    // torch: print(repr(torch.tensor([123456.0, 0.5])))
    assert_eq!(
        t32(&[123456.0, 0.5], &[2]).to_string(),
        "tensor([1.2346e+05, 5.0000e-01])"
    );

    // torch: print(repr(torch.tensor([1e-5, 0.0, -2.5])))
    let expected = "tensor([ 1.0000e-05,  0.0000e+00, -2.5000e+00])";
    assert_eq!(t32(&[1e-5, 0.0, -2.5], &[3]).to_string(), expected);

    // torch: print(repr(torch.tensor([0.03125, 0.15625, 0.00015625])))
    let expected = "tensor([3.1250e-02, 1.5625e-01, 1.5625e-04])";
    assert_eq!(t32(&[0.03125, 0.15625, 0.00015625], &[3]).to_string(), expected);

    // torch: print(repr(torch.tensor([1e100, 1.0], dtype=torch.float64)))
    let expected = "tensor([1.0000e+100,  1.0000e+00], dtype=torch.float64)";
    assert_eq!(t64(&[1e100, 1.0], &[2]).to_string(), expected);
}

#[test]
fn nan_inf_and_negative_zero() {
    let (nan, inf) = (f32::NAN, f32::INFINITY);
    // torch: print(repr(torch.tensor([float('nan'), float('inf'), -float('inf'), 1.5])))
    let expected = "tensor([   nan,    inf,   -inf, 1.5000])";
    assert_eq!(t32(&[nan, inf, -inf, 1.5], &[4]).to_string(), expected);

    // torch: print(repr(torch.tensor([float('nan'), 2.0, -float('inf')])))
    assert_eq!(t32(&[nan, 2.0, -inf], &[3]).to_string(), "tensor([nan, 2., -inf])");

    // torch: print(repr(torch.tensor([-0.0, 1.5, 0.0])))
    assert_eq!(
        t32(&[-0.0, 1.5, 0.0], &[3]).to_string(),
        "tensor([-0.0000, 1.5000, 0.0000])"
    );

    // torch: print(repr(torch.tensor([-0.0, 2.0])))
    assert_eq!(t32(&[-0.0, 2.0], &[2]).to_string(), "tensor([-0., 2.])");
}

#[test]
fn zero_dimensional() {
    // torch: print(repr(torch.tensor(3.25)))
    assert_eq!(Tensor::scalar(3.25f32).to_string(), "tensor(3.2500)");
    // torch: print(repr(torch.tensor(-0.0)))
    assert_eq!(Tensor::scalar(-0.0f32).to_string(), "tensor(-0.)");
    // torch: print(repr(torch.tensor(7.)))
    assert_eq!(Tensor::scalar(7.0f32).to_string(), "tensor(7.)");
    // torch: print(repr(torch.tensor(float('nan'))))
    assert_eq!(Tensor::scalar(f32::NAN).to_string(), "tensor(nan)");
    // torch: print(repr(torch.tensor(2.5, dtype=torch.float64)))
    assert_eq!(
        Tensor::scalar(2.5f64).to_string(),
        "tensor(2.5000, dtype=torch.float64)"
    );
}

#[test]
fn long_rows_wrap_at_80_columns() {
    // torch: print(repr(torch.arange(30.) / 7))
    let expected = "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n        3.8571, 4.0000, 4.1429])";
    assert_eq!(Tensor::<f32>::arange(30).map(|v| v / 7.0).to_string(), expected);
}

#[test]
fn three_dimensional() {
    // torch: print(repr(torch.arange(24.).reshape(2, 3, 4) / 10))
    let expected = "tensor([[[0.0000, 0.1000, 0.2000, 0.3000],\n         [0.4000, 0.5000, 0.6000, 0.7000],\n         [0.8000, 0.9000, 1.0000, 1.1000]],\n\n        [[1.2000, 1.3000, 1.4000, 1.5000],\n         [1.6000, 1.7000, 1.8000, 1.9000],\n         [2.0000, 2.1000, 2.2000, 2.3000]]])";
    let t = Tensor::<f32>::arange(24).reshape(&[2, 3, 4]).unwrap().map(|v| v / 10.0);
    assert_eq!(t.to_string(), expected);
}

#[test]
fn summarised_above_1000_elements() {
    // torch: print(repr(torch.arange(2000.)))
    let expected = "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])";
    assert_eq!(Tensor::<f32>::arange(2000).to_string(), expected);

    // torch: print(repr(torch.arange(1200.) % 7))
    let expected = "tensor([0., 1., 2.,  ..., 0., 1., 2.])";
    assert_eq!(Tensor::<f32>::arange(1200).map(|v| v % 7.0).to_string(), expected);

    // torch: print(repr(torch.arange(2500.).reshape(50, 50) / 100))
    let expected = "tensor([[0.0000e+00, 1.0000e-02, 2.0000e-02,  ..., 4.7000e-01, 4.8000e-01,\n         4.9000e-01],\n        [5.0000e-01, 5.1000e-01, 5.2000e-01,  ..., 9.7000e-01, 9.8000e-01,\n         9.9000e-01],\n        [1.0000e+00, 1.0100e+00, 1.0200e+00,  ..., 1.4700e+00, 1.4800e+00,\n         1.4900e+00],\n        ...,\n        [2.3500e+01, 2.3510e+01, 2.3520e+01,  ..., 2.3970e+01, 2.3980e+01,\n         2.3990e+01],\n        [2.4000e+01, 2.4010e+01, 2.4020e+01,  ..., 2.4470e+01, 2.4480e+01,\n         2.4490e+01],\n        [2.4500e+01, 2.4510e+01, 2.4520e+01,  ..., 2.4970e+01, 2.4980e+01,\n         2.4990e+01]])";
    let t = Tensor::<f32>::arange(2500)
        .reshape(&[50, 50])
        .unwrap()
        .map(|v| v / 100.0);
    assert_eq!(t.to_string(), expected);

    // torch: print(repr(torch.arange(2 * 3 * 400.).reshape(2, 3, 400)))
    let expected = "tensor([[[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 3.9700e+02,\n          3.9800e+02, 3.9900e+02],\n         [4.0000e+02, 4.0100e+02, 4.0200e+02,  ..., 7.9700e+02,\n          7.9800e+02, 7.9900e+02],\n         [8.0000e+02, 8.0100e+02, 8.0200e+02,  ..., 1.1970e+03,\n          1.1980e+03, 1.1990e+03]],\n\n        [[1.2000e+03, 1.2010e+03, 1.2020e+03,  ..., 1.5970e+03,\n          1.5980e+03, 1.5990e+03],\n         [1.6000e+03, 1.6010e+03, 1.6020e+03,  ..., 1.9970e+03,\n          1.9980e+03, 1.9990e+03],\n         [2.0000e+03, 2.0010e+03, 2.0020e+03,  ..., 2.3970e+03,\n          2.3980e+03, 2.3990e+03]]])";
    assert_eq!(
        Tensor::<f32>::arange(2400).reshape(&[2, 3, 400]).unwrap().to_string(),
        expected
    );
}

#[test]
fn empty_tensors() {
    // torch: print(repr(torch.tensor([])))
    assert_eq!(Tensor::<f32>::zeros(&[0]).to_string(), "tensor([])");
    // torch: print(repr(torch.zeros(0, 3)))
    assert_eq!(Tensor::<f32>::zeros(&[0, 3]).to_string(), "tensor([], size=(0, 3))");
    // torch: print(repr(torch.zeros(2, 0, 3, dtype=torch.float64)))
    let expected = "tensor([], size=(2, 0, 3), dtype=torch.float64)";
    assert_eq!(Tensor::<f64>::zeros(&[2, 0, 3]).to_string(), expected);
    // torch: print(repr(torch.tensor([], dtype=torch.float64)))
    assert_eq!(
        Tensor::<f64>::zeros(&[0]).to_string(),
        "tensor([], dtype=torch.float64)"
    );
}

#[test]
fn float64_suffix() {
    // torch: print(repr(torch.tensor([[0.5, -1.25], [3.0, 2.0]], dtype=torch.float64)))
    let expected = "tensor([[ 0.5000, -1.2500],\n        [ 3.0000,  2.0000]], dtype=torch.float64)";
    assert_eq!(t64(&[0.5, -1.25, 3.0, 2.0], &[2, 2]).to_string(), expected);

    // torch: print(repr(torch.tensor([[1e-8, 1.0], [2.0, -3e4]], dtype=torch.float64)))
    let expected = "tensor([[ 1.0000e-08,  1.0000e+00],\n        [ 2.0000e+00, -3.0000e+04]], dtype=torch.float64)";
    assert_eq!(t64(&[1e-8, 1.0, 2.0, -3e4], &[2, 2]).to_string(), expected);
}

#[test]
fn float64_suffix_moves_to_a_new_line_when_the_last_line_is_full() {
    // torch: print(repr(torch.linspace(0, 1, 9, dtype=torch.float64)))
    let expected =
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n       dtype=torch.float64)";
    assert_eq!(Tensor::<f64>::arange(9).map(|v| v / 8.0).to_string(), expected);

    // torch: print(repr(torch.linspace(0, 1, 20, dtype=torch.float64).reshape(2, 10)))
    let expected = "tensor([[0.0000, 0.0526, 0.1053, 0.1579, 0.2105, 0.2632, 0.3158, 0.3684, 0.4211,\n         0.4737],\n        [0.5263, 0.5789, 0.6316, 0.6842, 0.7368, 0.7895, 0.8421, 0.8947, 0.9474,\n         1.0000]], dtype=torch.float64)";
    let t = Tensor::<f64>::arange(20).map(|v| v / 19.0).reshape(&[2, 10]).unwrap();
    assert_eq!(t.to_string(), expected);
}

#[test]
fn repr_with_extra_suffixes() {
    // torch: print(repr((torch.arange(9.) / 8).requires_grad_()))
    let expected =
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n       requires_grad=True)";
    assert_eq!(
        Tensor::<f32>::arange(9)
            .map(|v| v / 8.0)
            .repr_with(&["requires_grad=True"]),
        expected
    );
    // torch: print(repr(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True).sum()))
    let expected = "tensor(3., dtype=torch.float64, grad_fn=<SumBackward0>)";
    assert_eq!(Tensor::scalar(3.0f64).repr_with(&["grad_fn=<SumBackward0>"]), expected);
}
