//! Every public op, on `Tensor` and on `Var`, called with shapes that do not fit: an error
//! (never a panic) whose message starts with the op's name and names the shapes at fault (or,
//! for a dimension out of range, the dimension and the valid range), so a user can fix the
//! call without a debugger. The arithmetic operators on `Var` panic with the same message.

use ferrograd::autograd::Var;
use ferrograd::nn::functional::{
    binary_cross_entropy_with_logits, cross_entropy_with, mse_loss, nll_loss, CrossEntropyOptions,
};
use ferrograd::nn::{Forward, Linear, Reduction};
use ferrograd::tensor::{Error, IndexTensor, Result, Tensor};

fn t(shape: &[usize]) -> Tensor<f32> {
    Tensor::zeros(shape)
}

fn v(shape: &[usize]) -> Var<f32> {
    Var::parameter(t(shape))
}

/// Checks the error of `r` starts with `op: ` and contains every fragment.
#[track_caller]
fn expect<T: std::fmt::Debug>(r: Result<T>, op: &str, fragments: &[&str]) {
    let e: Error = r.expect_err("should be an error");
    let m = e.to_string();
    assert!(m.starts_with(&format!("{op}: ")), "{m:?} should start with {op:?}");
    for f in fragments {
        assert!(m.contains(f), "{m:?} should contain {f:?}");
    }
}

#[test]
fn tensor_ops_name_the_op_and_the_shapes() {
    let (a, b) = (t(&[2, 3]), t(&[4]));
    expect(a.add(&b), "add", &["[2, 3]", "[4]"]);
    expect(a.sub(&b), "sub", &["[2, 3]", "[4]"]);
    expect(a.mul(&b), "mul", &["[2, 3]", "[4]"]);
    expect(a.div(&b), "div", &["[2, 3]", "[4]"]);
    expect(a.maximum(&b), "maximum", &["[2, 3]", "[4]"]);
    expect(a.clone().add_assign(&b), "add_", &["[2, 3]", "[4]"]);
    expect(a.matmul(&a), "matmul", &["[2, 3]", "2x3 and 2x3"]);
    expect(
        t(&[2, 2, 3]).matmul(&t(&[3, 3, 4])),
        "matmul",
        &["[2, 2, 3]", "[3, 3, 4]", "[2] and [3]"],
    );
    expect(t(&[]).matmul(&a), "matmul", &["0D and 2D"]);
    expect(a.reshape(&[4]), "reshape", &["[4]", "size 6"]);
    expect(a.permute(&[0, 0]), "permute", &["[0, 0]", "[2, 3]"]);
    expect(a.transpose(0, 2), "transpose", &["[-2, 1]", "got 2"]);
    expect(t(&[2, 3, 4]).t(), "t", &["3D"]);
    expect(Tensor::concat(&[&a, &t(&[3, 2])], 0), "concat", &["[2, 3]", "[3, 2]"]);
    expect(Tensor::concat(&[&a, &t(&[2])], 0), "concat", &["[2, 3]", "[2]"]);
    expect(Tensor::stack(&[&a, &t(&[3, 2])], 0), "stack", &["[2, 3]", "[3, 2]"]);
    expect(Tensor::<f32>::concat(&[], 0), "concat", &["non-empty"]);
    let idx = IndexTensor::from_vec(vec![0; 6], &[3, 2]).unwrap();
    expect(a.gather(1, &idx), "gather", &["[2, 3]", "[3, 2]"]);
    expect(
        a.gather(1, &IndexTensor::from_vec(vec![5; 2], &[2, 1]).unwrap()),
        "gather",
        &["index 5", "size 3"],
    );
    expect(a.index_select(0, &idx), "index_select", &["[3, 2]"]);
    expect(
        a.index_select(1, &IndexTensor::from_slice(&[3])),
        "index_select",
        &["index 3", "size 3"],
    );
    expect(a.narrow(1, 2, 2), "narrow", &["[2, 3]", "start (2) + length (2)"]);
    expect(a.sum_dim(2, false), "sum", &["[-2, 1]", "got 2"]);
    expect(a.mean_dim(-3, true), "mean", &["[-2, 1]", "got -3"]);
    expect(a.max_dim(5, false), "max", &["got 5"]);
    expect(t(&[2, 0]).max_dim(1, false), "max", &["[2, 0]"]);
    expect(t(&[0]).max(), "max", &["numel() == 0"]);
    expect(a.softmax(2), "softmax", &["[-2, 1]", "got 2"]);
    expect(a.log_softmax(-3), "log_softmax", &["[-2, 1]", "got -3"]);
    expect(a.sum_to_shape(&[4]), "sum_to_shape", &["[2, 3]", "[4]"]);
    expect(a.broadcast_to(&[4, 2]), "broadcast_to", &["[2, 3]", "[4, 2]"]);
    expect(
        Tensor::scatter_add(&[2, 3], 1, &idx, &t(&[2, 2])),
        "scatter_add",
        &["[3, 2]", "[2, 2]"],
    );
    expect(
        Tensor::index_add(&[2, 3], 0, &IndexTensor::from_slice(&[0]), &t(&[2, 3])),
        "index_add",
        &["[1, 3]", "[2, 3]"],
    );
    expect(a.get(&[0]), "get", &["[0]", "[2, 3]"]);
    expect(a.item(), "item", &["6 elements", "[2, 3]"]);
    expect(
        Tensor::<f32>::from_vec(vec![0.0; 5], &[2, 3]),
        "from_vec",
        &["5 values", "[2, 3]"],
    );
    expect(
        Tensor::<f32>::from_vec(vec![], &[usize::MAX, 0]),
        "from_vec",
        &["[18446744073709551615, 0]"],
    );
    expect(IndexTensor::from_vec(vec![1], &[2]), "IndexTensor::from_vec", &["[2]"]);
}

#[test]
fn var_ops_name_the_op_and_the_shapes() {
    let (a, b) = (v(&[2, 3]), v(&[4]));
    expect(a.try_add(&b), "add", &["[2, 3]", "[4]"]);
    expect(a.try_sub(&b), "sub", &["[2, 3]", "[4]"]);
    expect(a.try_mul(&b), "mul", &["[2, 3]", "[4]"]);
    expect(a.try_div(&b), "div", &["[2, 3]", "[4]"]);
    expect(a.maximum(&b), "maximum", &["[2, 3]", "[4]"]);
    expect(a.matmul(&a), "matmul", &["[2, 3]", "2x3 and 2x3"]);
    expect(v(&[3]).matmul(&v(&[4])), "matmul", &["1x3 and 4x1"]);
    expect(a.reshape(&[4]), "reshape", &["[4]", "size 6"]);
    expect(a.permute(&[1]), "permute", &["[1]", "[2, 3]"]);
    expect(a.transpose(0, 2), "transpose", &["[-2, 1]", "got 2"]);
    expect(
        Var::concat(&[a.clone(), v(&[3, 2])], 0),
        "concat",
        &["[2, 3]", "[3, 2]"],
    );
    expect(Var::stack(&[a.clone(), v(&[3, 2])], 0), "stack", &["[2, 3]", "[3, 2]"]);
    let idx = IndexTensor::from_vec(vec![0; 6], &[3, 2]).unwrap();
    expect(a.gather(1, &idx), "gather", &["[2, 3]", "[3, 2]"]);
    expect(a.index_select(0, &idx), "index_select", &["[3, 2]"]);
    expect(a.narrow(0, 1, 2), "narrow", &["[2, 3]", "start (1) + length (2)"]);
    expect(a.sum_dim(2, false), "sum", &["[-2, 1]", "got 2"]);
    expect(a.softmax(-3), "softmax", &["[-2, 1]", "got -3"]);
    expect(a.log_softmax(2), "log_softmax", &["[-2, 1]", "got 2"]);
    expect(a.broadcast_to(&[3]), "broadcast_to", &["[2, 3]", "[3]"]);
    expect(a.sum_to_shape(&[2]), "sum_to_shape", &["[2, 3]", "[2]"]);
    expect(a.set_grad(Some(t(&[3]))), "set_grad", &["[2, 3]", "[3]"]);
    expect((&a * 2.0).backward(), "backward", &["[2, 3]"]);
    expect(a.backward_with(&t(&[3])), "backward", &["[2, 3]", "[3]"]);
    let linear = Linear::<f32>::new(3, 2, 0);
    expect(linear.forward(&v(&[4, 5])), "linear", &["[4, 5]", "[3, 2]", "[2, 3]"]);
    expect(linear.forward(&v(&[5])), "linear", &["[5]", "1x5 and 3x2"]);
}

#[test]
fn losses_name_the_op_and_the_shapes() {
    let x = v(&[3, 4]);
    let opts = CrossEntropyOptions::default();
    expect(
        cross_entropy_with(&x, &IndexTensor::from_slice(&[0, 1]), &opts),
        "cross_entropy",
        &["batch_size (3)", "batch_size (2)"],
    );
    expect(
        cross_entropy_with(
            &v(&[2, 4, 5]),
            &IndexTensor::from_vec(vec![0; 6], &[2, 3]).unwrap(),
            &opts,
        ),
        "cross_entropy",
        &["[2, 5]", "[2, 3]"],
    );
    expect(
        cross_entropy_with(&x, &IndexTensor::from_vec(vec![0; 6], &[3, 2]).unwrap(), &opts),
        "cross_entropy",
        &["multi-target not supported"],
    );
    let weighted = CrossEntropyOptions {
        weight: Some(t(&[3])),
        ..Default::default()
    };
    expect(
        cross_entropy_with(&x, &IndexTensor::from_slice(&[0, 1, 2]), &weighted),
        "cross_entropy",
        &["all 4 classes", "[3]"],
    );
    expect(
        nll_loss(&x, &IndexTensor::from_slice(&[0])),
        "nll_loss",
        &["batch_size (3)", "batch_size (1)"],
    );
    expect(mse_loss(&x, &v(&[5]), Reduction::Mean), "mse_loss", &["[3, 4]", "[5]"]);
    expect(
        binary_cross_entropy_with_logits(&x, &v(&[4, 3]), None, None, Reduction::Mean),
        "binary_cross_entropy_with_logits",
        &["[4, 3]", "[3, 4]"],
    );
}

#[test]
#[should_panic(expected = "div: shapes [2, 3] and [4] cannot be broadcast together")]
fn var_operators_panic_with_the_message_of_their_try_form() {
    let _ = v(&[2, 3]) / v(&[4]);
}

#[test]
#[should_panic(expected = "uniform: shape [18446744073709551615, 2] has more elements than fit in memory")]
fn tensor_rand_panics_with_the_message_of_uniform() {
    let _ = Tensor::<f32>::rand(&[usize::MAX, 2], 0);
}
