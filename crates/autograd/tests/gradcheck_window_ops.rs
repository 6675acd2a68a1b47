//! The window ops of convolution and pooling against finite differences: `im2col` / `col2im`,
//! `gather_rows` / `scatter_add_rows` and `batch_transpose`, each one's rule being the other.

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
