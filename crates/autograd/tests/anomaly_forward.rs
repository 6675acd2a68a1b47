//! Anomaly mode, forward side: the first recorded op that turns finite inputs into NaN or
//! infinity is remembered and reported by backward, with its name and input shapes.

use ferrograd_autograd::{detect_anomaly, is_anomaly_enabled, take_forward_anomaly, ForwardAnomaly, Var};
use ferrograd_tensor::Tensor;

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn backward_names_the_first_op_that_made_nan_or_inf() {
    let _guard = detect_anomaly();
    let x = Var::parameter(t(&[1.0, 0.0, 4.0], &[3]));
    let w = Var::parameter(t(&[1.0, 2.0, 3.0], &[3]));
    // log(0) = -inf from finite inputs; then -inf * w and the sum are not finite either,
    // but their inputs were not finite: only LogBackward0 is the origin.
    let loss = (x.log() * &w).sum();
    assert!(loss.item().unwrap().is_infinite());
    let err = loss.backward().unwrap_err().to_string();
    assert!(err.contains("Function 'LogBackward0'"), "{err}");
    assert!(err.contains("0 nan and 1 inf"), "{err}");
    assert!(err.contains("from finite inputs of shapes ([3])"), "{err}");
    assert!(x.grad().is_none() && w.grad().is_none(), "nothing accumulated");
    assert_eq!(take_forward_anomaly(), None, "reported once, then forgotten");
}

#[test]
fn take_forward_anomaly_gives_the_op_and_input_shapes() {
    let _guard = detect_anomaly();
    let a = Var::parameter(t(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3]));
    let b = Var::new(t(&[0.0, 1.0, 1.0], &[3]));
    let q = a.try_div(&b).unwrap(); // 0/0 = NaN, 3/0 = inf
    let _later = q.exp(); // not finite, but from a non-finite input: not recorded
    assert_eq!(
        take_forward_anomaly(),
        Some(ForwardAnomaly {
            op: "DivBackward0",
            input_shapes: vec![vec![2, 3], vec![3]],
            output_shape: vec![2, 3],
            nan: 1,
            inf: 1,
        })
    );
    assert_eq!(take_forward_anomaly(), None);
}

#[test]
fn only_the_first_anomaly_is_kept() {
    let _guard = detect_anomaly();
    let x = Var::parameter(t(&[0.0], &[1]));
    let _first = x.log();
    let _second = x.powf(-1.0);
    assert_eq!(take_forward_anomaly().unwrap().op, "LogBackward0");
}

#[test]
fn an_anomaly_in_another_graph_does_not_fail_this_backward() {
    let _guard = detect_anomaly();
    let x = Var::parameter(t(&[0.0], &[1]));
    let _elsewhere = x.log();
    let y = Var::parameter(t(&[2.0], &[1]));
    (&y * &y).sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().to_vec(), vec![4.0]);
    assert_eq!(take_forward_anomaly().unwrap().op, "LogBackward0", "still there");
}

#[test]
fn a_freed_node_is_not_confused_with_a_new_one() {
    let _guard = detect_anomaly();
    let x = Var::parameter(t(&[0.0], &[1]));
    drop(x.log()); // recorded, then freed; its address may be reused below
    for _ in 0..10 {
        let y = x.exp().sum();
        y.backward().unwrap();
    }
    assert!(take_forward_anomaly().is_some());
}

#[test]
fn nothing_is_recorded_when_off_or_from_non_finite_inputs_or_constants() {
    assert!(!is_anomaly_enabled());
    let x = Var::parameter(t(&[0.0], &[1]));
    let _off = x.log();
    {
        let _guard = detect_anomaly();
        assert_eq!(take_forward_anomaly(), None, "nothing while off");
        let inf = Var::parameter(t(&[f32::INFINITY, 1.0], &[2]));
        let _ = inf.exp();
        let constant = Var::new(t(&[0.0], &[1]));
        let _ = constant.log(); // not recorded: no input requires grad
        assert_eq!(take_forward_anomaly(), None);
    }
    assert!(!is_anomaly_enabled());
}

#[test]
fn turning_the_mode_on_again_forgets_an_old_anomaly() {
    let x = Var::parameter(t(&[0.0], &[1]));
    {
        let _guard = detect_anomaly();
        let _ = x.log();
    }
    let _guard = detect_anomaly();
    assert_eq!(take_forward_anomaly(), None);
}

#[test]
fn the_backward_side_still_names_the_gradient_rule() {
    // sqrt(0) = 0 is finite, but its gradient 1/(2·0) is inf.
    let _guard = detect_anomaly();
    let x = Var::parameter(t(&[0.0, 4.0], &[2]));
    let err = x.sqrt().sum().backward().unwrap_err().to_string();
    assert!(
        err.contains("Function 'SqrtBackward0' returned nan or inf values in its gradient for input 0"),
        "{err}"
    );
}
