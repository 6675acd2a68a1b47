//! What a user can do wrong through the public API of the graph gives an error in PyTorch's
//! words, never a panic, a leak or a silently wrong gradient (docs/reliability.md, §3 and §7).

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

fn param(data: &[f32]) -> Var {
    Var::parameter(Tensor::from_vec(data.to_vec(), &[data.len()]).unwrap())
}

#[test]
fn var_matmul_with_a_huge_result_is_an_error() {
    let a = Var::parameter(Tensor::<f32>::zeros(&[1 << 33, 0]));
    let b = Var::parameter(Tensor::<f32>::zeros(&[0, 1 << 33]));
    let message = a.matmul(&b).unwrap_err().to_string();
    assert!(message.contains("more elements than fit in memory"), "{message}");
    let c = Var::parameter(Tensor::<f32>::zeros(&[0, 1 << 62]));
    assert!(c.sum_dim(0, false).is_err());
    assert!(param(&[1.0]).broadcast_to(&[1 << 62]).is_err());
}
