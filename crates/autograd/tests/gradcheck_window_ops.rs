//! The window ops of convolution and pooling against finite differences: `im2col` / `col2im`,
//! `gather_rows` / `scatter_add_rows` and `batch_transpose`, each one's rule being the other,
//! and `max_pool2d`.

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
