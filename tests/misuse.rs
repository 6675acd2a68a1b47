//! Wrong calls return errors that name the operation and the values at fault.

use ferrograd::prelude::*;

fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("should be an error").to_string()
}

#[test]
fn mismatched_shapes_name_the_op_and_shapes() {
    let a = Var::new(Tensor::<f32>::zeros(&[3]));
    let b = Var::new(Tensor::<f32>::zeros(&[4]));
    assert_eq!(
        message(a.try_add(&b)),
        "add: shapes [3] and [4] cannot be broadcast together"
    );
    let m = Var::new(Tensor::<f32>::zeros(&[2, 3]));
    let msg = message(m.matmul(&m));
    assert!(msg.starts_with("matmul:") && msg.contains("(2x3 and 2x3)"), "{msg}");
    assert!(message(m.reshape(&[4])).contains("shape [4] is invalid for input of size 6"));
    assert!(message(m.sum_dim(2, false)).contains("dimension out of range"));
}

#[test]
#[should_panic(expected = "mul: shapes [2] and [3] cannot be broadcast together")]
fn operators_panic_with_the_same_message() {
    let _ = Var::new(Tensor::<f32>::zeros(&[2])) * Var::new(Tensor::<f32>::zeros(&[3]));
}

#[test]
fn a_target_out_of_range_names_it() {
    let x = Var::new(Tensor::<f32>::zeros(&[3, 4]));
    let t = IndexTensor::from_slice(&[1, 4, 0]);
    assert_eq!(
        message(cross_entropy(&x, &t)),
        "cross_entropy: Target 4 is out of bounds."
    );
    let short = IndexTensor::from_slice(&[1, 2]);
    assert_eq!(
        message(cross_entropy(&x, &short)),
        "cross_entropy: Expected input batch_size (3) to match target batch_size (2)."
    );
    let opts = CrossEntropyOptions {
        weight: Some(Tensor::ones(&[3])),
        ..Default::default()
    };
    assert!(
        message(cross_entropy_with(&x, &t, &opts)).contains("weight tensor should be defined either for all 4 classes")
    );
    assert_eq!(
        message("avg".parse::<Reduction>()),
        "reduction: avg is not a valid value for reduction"
    );
}

#[test]
fn backward_of_a_non_scalar_says_what_to_do() {
    let x = Var::parameter(Tensor::<f32>::ones(&[2, 2]));
    let msg = message((&x * 2.0).backward());
    assert!(
        msg.contains("only for scalar outputs") && msg.contains("[2, 2]"),
        "{msg}"
    );
}
