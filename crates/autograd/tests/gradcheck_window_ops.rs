//! The window ops of convolution and pooling against finite differences: `convolution`,
//! `im2col` / `col2im`, `gather_rows` / `scatter_add_rows` and `batch_transpose`, each one's
//! rule being the other, `max_pool2d`, and `channels_to_batch` (a convolution's output from its
//! product).

use crate::common;

use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_tensor::{IndexTensor, Result, Tensor, Window2d};

const WINDOW: Window2d = Window2d {
    input: [5, 4],
    output: [3, 2],
    kernel: [3, 2],
    stride: [2, 2],
    dilation: [1, 2],
    padding: [1, 1],
};

fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let report = gradcheck(f, inputs, GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{report}");
}

#[test]
fn convolution() {
    // Three samples (two chunks), with and without a bias, and differentiated twice (through
    // the rule's differentiable ops).
    let (x, w, b) = (
        Tensor::randn(&[3, 4, 5, 4], 1),
        Tensor::randn(&[2, 4 * 6], 2),
        Tensor::randn(&[2], 3),
    );
    check(
        |v| Ok(v[0].convolution(&v[1], Some(&v[2]), &WINDOW)?.tanh()),
        &[x.clone(), w.clone(), b.clone()],
    );
    check(
        |v| Ok(v[0].convolution(&v[1], None, &WINDOW)?.powf(2.0)),
        &[x.clone(), w.clone()],
    );
    common::check_second(
        |v| Ok(v[0].convolution(&v[1], Some(&v[2]), &WINDOW)?.powf(3.0).sum()),
        &[x, w, b],
    );
}

#[test]
fn im2col_and_col2im() {
    // Squared, so that the gradient depends on the values and not only on the layout.
    check(
        |v| Ok(v[0].im2col(&WINDOW)?.powf(2.0)),
        &[Tensor::randn(&[2, 4, 5, 4], 1)],
    );
    check(
        |v| Ok(v[0].col2im(&WINDOW)?.powf(2.0)),
        &[Tensor::randn(&[4 * 6, 2 * 6], 2)],
    );
}

#[test]
fn gather_and_scatter_rows() {
    let index = IndexTensor::from_vec(vec![0, 3, 3, 1, 2, 2], &[2, 3]).unwrap();
    check(
        |v| Ok(v[0].gather_rows(&index)?.powf(2.0)),
        &[Tensor::randn(&[2, 4], 3)],
    );
    check(
        |v| Ok(v[0].scatter_add_rows(&index, 4)?.powf(2.0)),
        &[Tensor::randn(&[2, 3], 4)],
    );
}

#[test]
fn batch_transpose() {
    check(
        |v| Ok(v[0].batch_transpose()?.powf(2.0)),
        &[Tensor::randn(&[2, 3, 4], 5)],
    );
}

#[test]
fn channels_to_batch() {
    // 3 channels, 2 samples of 4 positions; with and without a bias, and differentiated twice
    // (the product squared, so that the first gradient depends on the values).
    let (y, b) = (Tensor::randn(&[3, 8], 6), Tensor::randn(&[3], 7));
    check(
        |v| Ok(v[0].channels_to_batch(2, Some(&v[1]))?.powf(2.0)),
        &[y.clone(), b.clone()],
    );
    check(
        |v| Ok(v[0].channels_to_batch(2, None)?.powf(3.0)),
        std::slice::from_ref(&y),
    );
    common::check_second(
        |v| Ok(v[0].channels_to_batch(2, Some(&v[1]))?.powf(3.0).sum()),
        &[y.clone(), b],
    );
    // The same values as a transpose and a broadcast addition, bit for bit.
    let (y, b) = (Tensor::<f32>::randn(&[5, 6 * 7], 8), Tensor::<f32>::randn(&[5], 9));
    let fused = y.channels_to_batch(6, Some(&b)).unwrap();
    let composed = y
        .add(&b.reshape(&[5, 1]).unwrap())
        .unwrap()
        .reshape(&[5, 6, 7])
        .unwrap()
        .transpose(0, 1)
        .unwrap();
    assert_eq!(fused.shape(), [6, 5, 7]);
    assert_eq!(fused.to_vec(), composed.to_vec());
    // Errors name the op and the shapes.
    let err = y.channels_to_batch(4, None).unwrap_err().to_string();
    assert!(err.contains("channels_to_batch") && err.contains("[5, 42]"), "{err}");
    let err = y
        .channels_to_batch(6, Some(&Tensor::zeros(&[4])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("channels_to_batch") && err.contains("[4]"), "{err}");
    assert!(y.reshape(&[5, 6, 7]).unwrap().channels_to_batch(6, None).is_err());
    assert_eq!(
        Tensor::<f32>::zeros(&[3, 0])
            .channels_to_batch(0, None)
            .unwrap()
            .shape(),
        [0, 3, 0]
    );
}

#[test]
fn max_pool2d() {
    // Random normal values: no ties, and no maximum within the finite-difference step of
    // another, so the maxima's positions hold under the perturbation. 20 planes: laid side by
    // side 16 at a time, then the last 4 padded (3 planes: taken one by one). The windows
    // overlap (kernel 3 > stride 2), so one value can be the maximum of two windows.
    for planes in [20, 3] {
        check(
            |v| Ok(v[0].max_pool2d(&WINDOW)?.powf(2.0)),
            &[Tensor::randn(&[planes, 5, 4], 6)],
        );
    }
}

#[test]
fn max_pool2d_with_indices_gives_the_positions_it_routes_the_gradient_to() {
    let x = Var::parameter(Tensor::<f64>::randn(&[20, 5, 4], 7));
    let (y, index) = x.max_pool2d_with_indices(&WINDOW).unwrap();
    assert_eq!(
        y.to_tensor().to_vec(),
        x.max_pool2d(&WINDOW).unwrap().to_tensor().to_vec()
    );
    y.sum().backward().unwrap();
    // Each window sends 1 to the position of its maximum.
    let mut want = vec![0.0; 20 * 5 * 4];
    let per = WINDOW.output_numel();
    for (k, &at) in index.to_vec().iter().enumerate() {
        want[k / per * 20 + at as usize] += 1.0;
    }
    assert_eq!(x.grad().unwrap().to_vec(), want);
}
