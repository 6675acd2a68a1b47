//! `Var` and its gradients print as PyTorch's `repr`; every expected string was produced by
//! torch 2.x with the snippet in the comment above it.

use ferrograd_autograd::Var;
use ferrograd_tensor::{IndexTensor, Tensor};

fn logits() -> Tensor {
    Tensor::from_vec(
        vec![1.0, 2.0, 3.0, 4.0, 1.0, -1.0, 0.0, 0.5, -2.0, 0.3, 2.5, -1.2],
        &[3, 4],
    )
    .unwrap()
}

const SEED: [f64; 12] = [1., 4., 1., 1., 5., 1., 2., 1., 1., 2., 5., 1.];

#[test]
fn seed_softmax_and_cross_entropy_gradient() {
    let x = Var::parameter(Tensor::from_vec(SEED.iter().map(|&v| v as f32).collect(), &[3, 4]).unwrap());
    let p = x.softmax(1).unwrap();
    // torch: print(repr(torch.tensor([[1.,4.,1.,1.],[5.,1.,2.,1.],[1.,2.,5.,1.]], requires_grad=True).softmax(1)))
    let expected = "tensor([[0.0433, 0.8700, 0.0433, 0.0433],\n        [0.9205, 0.0169, 0.0458, 0.0169],\n        [0.0169, 0.0458, 0.9205, 0.0169]], grad_fn=<SoftmaxBackward0>)";
    assert_eq!(p.to_string(), expected);

    // cross_entropy(x, t) = -mean(log_softmax(x)[i, t_i]), from autograd ops.
    let t = IndexTensor::from_vec(vec![1, 0, 2], &[3, 1]).unwrap();
    let loss = x.log_softmax(1).unwrap().gather(1, &t).unwrap().mean().neg();
    loss.backward().unwrap();
    // torch: x = torch.tensor([[1.,4.,1.,1.],[5.,1.,2.,1.],[1.,2.,5.,1.]], requires_grad=True); torch.nn.functional.cross_entropy(x, torch.tensor([1,0,2])).backward(); print(repr(x.grad))
    let expected = "tensor([[ 0.0144, -0.0433,  0.0144,  0.0144],\n        [-0.0265,  0.0056,  0.0153,  0.0056],\n        [ 0.0056,  0.0153, -0.0265,  0.0056]])";
    assert_eq!(x.grad().unwrap().to_string(), expected);

    let x64 = Var::parameter(Tensor::from_vec(SEED.to_vec(), &[3, 4]).unwrap());
    // torch: print(repr(torch.tensor([[1.,4.,1.,1.],[5.,1.,2.,1.],[1.,2.,5.,1.]], dtype=torch.float64, requires_grad=True).softmax(1)))
    let expected = "tensor([[0.0433, 0.8700, 0.0433, 0.0433],\n        [0.9205, 0.0169, 0.0458, 0.0169],\n        [0.0169, 0.0458, 0.9205, 0.0169]], dtype=torch.float64,\n       grad_fn=<SoftmaxBackward0>)";
    assert_eq!(x64.softmax(1).unwrap().to_string(), expected);
}

#[test]
fn softmax_3x4_gradient() {
    let x = Var::parameter(logits());
    let w = Var::new(Tensor::arange(12).reshape(&[3, 4]).unwrap());
    x.softmax(1).unwrap().try_mul(&w).unwrap().sum().backward().unwrap();
    // torch: print(repr((lambda x: (x.softmax(1) * torch.arange(12.).reshape(3, 4)).sum().backward() or x.grad)(torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.0, 0.5], [-2.0, 0.3, 2.5, -1.2]], requires_grad=True))))
    let expected = "tensor([[-0.0799, -0.1301, -0.1167,  0.3267],\n        [-0.6045, -0.0177,  0.1264,  0.4958],\n        [-0.0185, -0.0875,  0.0824,  0.0236]])";
    assert_eq!(x.grad().unwrap().to_string(), expected);
}

#[test]
fn var_suffixes() {
    let x = Var::parameter(Tensor::from_vec(vec![2.0f32, 3.0], &[2]).unwrap());
    // torch: print(repr(torch.tensor([2.0, 3.0]).requires_grad_()))
    assert_eq!(x.to_string(), "tensor([2., 3.], requires_grad=True)");
    let two = Var::new(Tensor::full(&[2], 2.0f32));
    // torch: print(repr(torch.tensor([2.0, 3.0], requires_grad=True) * torch.tensor([2.0, 2.0])))
    assert_eq!((&x * &two).to_string(), "tensor([4., 6.], grad_fn=<MulBackward0>)");
    assert_eq!(two.to_string(), "tensor([2., 2.])");
    assert_eq!(format!("{two:?}"), "tensor([2., 2.])");

    let y = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
    // torch: print(repr(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True).sum()))
    assert_eq!(
        y.sum().to_string(),
        "tensor(3., dtype=torch.float64, grad_fn=<SumBackward0>)"
    );
}

#[test]
fn var_suffixes_wrap_like_pytorch() {
    let x = Var::parameter(Tensor::<f32>::arange(9).map(|v| v / 8.0));
    // torch: print(repr((torch.arange(9.) / 8).requires_grad_()))
    let expected =
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n       requires_grad=True)";
    assert_eq!(x.to_string(), expected);

    let y = Var::parameter(Tensor::<f64>::arange(9).map(|v| v / 8.0));
    let one = Var::new(Tensor::<f64>::ones(&[9]));
    // torch: print(repr((torch.arange(9., dtype=torch.float64) / 8).requires_grad_() * torch.ones(9, dtype=torch.float64)))
    let expected = "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n       dtype=torch.float64, grad_fn=<MulBackward0>)";
    assert_eq!(y.try_mul(&one).unwrap().to_string(), expected);
}
