//! Graphs of extreme shape: backward through a chain of 1,000,000 ops, and through one op with
//! 100,000 inputs (`concat` and `stack` of one-element `Var`s), each on a thread with a 512 KiB
//! stack, which any recursion over the graph (in backward, the topological sort or the drop of
//! the graph) would overflow.

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

/// Runs `f` on a thread with a 512 KiB stack.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn backward_through_a_chain_of_1_000_000_ops() {
    let grad = on_small_stack(|| {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -2.0], &[2]).unwrap());
        let mut z = x.clone();
        // Alternating ·1.000001 and +1: z = aⁿ·x + (a^(n/2)... ), dΣz/dx = a^(n/2) exactly in theory.
        for i in 0..1_000_000 {
            z = if i % 2 == 0 {
                z.mul_scalar(1.000001)
            } else {
                z.add_scalar(1.0)
            };
        }
        z.sum().backward().unwrap();
        drop(z);
        x.grad().unwrap().to_vec()
    });
    let expected = 1.000001f64.powi(500_000);
    for g in grad {
        assert!((g - expected).abs() <= 1e-9 * expected, "{g} vs {expected}");
    }
}

#[test]
fn backward_through_concat_and_stack_of_100_000_inputs() {
    let (cat, stack) = on_small_stack(|| {
        let xs: Vec<Var<f32>> = (0..100_000)
            .map(|i| Var::parameter(Tensor::from_vec(vec![i as f32], &[1]).unwrap()))
            .collect();
        // Σ (concat(xs) · 2): every input's gradient is 2.
        let y = Var::concat(&xs, 0).unwrap();
        assert_eq!(y.shape(), [100_000]);
        (y * 2.0f32).sum().backward().unwrap();
        let cat: Vec<f32> = xs.iter().map(|x| x.grad().unwrap().to_vec()[0]).collect();
        xs.iter().for_each(Var::zero_grad);
        // Σ stack(xs)², stacked along a new dimension 1: every gradient is 2x.
        let s = Var::stack(&xs, 1).unwrap();
        assert_eq!(s.shape(), [1, 100_000]);
        (&s * &s).sum().backward().unwrap();
        let stack: Vec<f32> = xs.iter().map(|x| x.grad().unwrap().to_vec()[0]).collect();
        (cat, stack)
    });
    assert!(cat.iter().all(|&g| g == 2.0));
    assert!(stack.iter().enumerate().all(|(i, &g)| g == 2.0 * i as f32));
}
