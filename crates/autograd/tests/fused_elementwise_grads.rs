//! The one-pass gradients of `tanh`, `sigmoid`, GELU, SiLU, Softplus, ELU and leaky ReLU (taken
//! when the gradient is not recorded) against the `Var`-op rules they replace (taken with
//! `create_graph`), in `f32` over a wide range of inputs.

use ferrograd_autograd::Var;
use ferrograd_tensor::Tensor;

/// 4099 inputs from -12 to 12, and an incoming gradient that is not all ones.
fn inputs() -> (Tensor<f32>, Tensor<f32>) {
    let n = 4099;
    let x: Vec<f32> = (0..n).map(|i| -12.0 + 24.0 * i as f32 / (n - 1) as f32).collect();
    let g: Vec<f32> = (0..n).map(|i| 0.5 + (i % 5) as f32 * 0.375).collect();
    (Tensor::from_vec(x, &[n]).unwrap(), Tensor::from_vec(g, &[n]).unwrap())
}

/// `x`'s gradient through `f` with gradient `g`, recorded (`create_graph`) or not.
fn grad(f: &dyn Fn(&Var<f32>) -> Var<f32>, x: &Tensor<f32>, g: &Tensor<f32>, create_graph: bool) -> Vec<f32> {
    let x = Var::parameter(x.clone());
    let y = f(&x);
    let gx = ferrograd_autograd::grad(&[y], &[x], Some(vec![g.clone()]), create_graph).unwrap();
    let gx = gx[0].as_ref().expect("x is used").value().to_vec();
    gx
}

#[test]
fn one_pass_gradients_match_the_var_op_rules() {
    let (x, g) = inputs();
    type Op<'a> = &'a dyn Fn(&Var<f32>) -> Var<f32>;
    let ops: [(&str, Op); 8] = [
        ("tanh", &|x| x.tanh()),
        ("sigmoid", &|x| x.sigmoid()),
        ("gelu none", &|x| x.gelu("none").unwrap()),
        ("gelu tanh", &|x| x.gelu("tanh").unwrap()),
        ("silu", &|x| x.silu()),
        ("softplus", &|x| x.softplus(2.0, 5.0)),
        ("elu", &|x| x.elu(1.3)),
        ("leaky_relu", &|x| x.leaky_relu(0.07)),
    ];
    for (name, f) in ops {
        let fused = grad(f, &x, &g, false);
        let composite = grad(f, &x, &g, true);
        for (((a, b), xv), gv) in fused.iter().zip(&composite).zip(x.to_vec()).zip(g.to_vec()) {
            // Both forms cancel (1 + erf, 1 + tanh → 0) for negative x: the bound is in ulp
            // of the incoming gradient there.
            let tol = 4.0 * f32::EPSILON * a.abs().max(b.abs()).max(gv);
            assert!((a - b).abs() <= tol, "{name} at {xv}: one pass {a:e}, Var ops {b:e}");
        }
    }
}
