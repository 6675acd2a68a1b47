//! A tour of ferrograd's gradient tools on a tiny model, Linear(2, 3) - Tanh - Linear(3, 2)
//! with cross-entropy on four points, in `f64`:
//!
//! 1. each parameter's gradient after `backward` (name, shape, norm, values);
//! 2. the gradient of an intermediate kept with `retain_grad`;
//! 3. a hook (`register_hook`) that scales the gradient flowing through the hidden layer,
//!    and its effect on the parameters before it;
//! 4. `gradcheck`: the gradients against finite differences;
//! 5. second derivatives with `grad(.., create_graph = true)`: d²/dx² of a scalar function,
//!    and a Hessian-vector product of the loss checked against finite differences;
//! 6. the graph as a Graphviz DOT file, and as an SVG picture laid out by ferrograd-inspect
//!    (no Graphviz needed): ops, shapes and gradient norms, parameters in blue.
//!
//!     cargo run --release --example inspect_gradients [-- --out target/inspect_gradients.dot --svg target/inspect_gradients.svg]

use std::error::Error;
use std::process::ExitCode;

use ferrograd::autograd::{grad, gradcheck, no_grad, GradcheckOptions, Var};
use ferrograd::nn::{CrossEntropyLoss, Forward, Linear, Module};
use ferrograd::tensor::{IndexTensor, Result, Tensor};
use ferrograd_inspect::graph_svg;

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

/// `fc2(tanh(fc1(x)))`, keeping the hidden activation for inspection. Its parameters are
/// named by its fields: `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias`.
#[derive(Module)]
#[module(float = f64)]
struct Mlp {
    fc1: Linear<f64>,
    fc2: Linear<f64>,
}

impl Mlp {
    /// The hidden activation and the logits.
    fn forward_with_hidden(&self, x: &Var<f64>) -> Result<(Var<f64>, Var<f64>)> {
        let hidden = self.fc1.forward(x)?.tanh();
        let logits = self.fc2.forward(&hidden)?;
        Ok((hidden, logits))
    }

    /// A model whose parameters are the given `Var`s: fc1.weight, fc1.bias, fc2.weight, fc2.bias.
    fn from_vars(p: &[Var<f64>]) -> Mlp {
        let linear = |w: &Var<f64>, b: &Var<f64>| Linear {
            weight: w.clone(),
            bias: Some(b.clone()),
        };
        Mlp {
            fc1: linear(&p[0], &p[1]),
            fc2: linear(&p[2], &p[3]),
        }
    }
}

impl Forward<Var<f64>, f64> for Mlp {
    type Output = Var<f64>;

    fn forward(&self, x: &Var<f64>) -> Result<Var<f64>> {
        Ok(self.forward_with_hidden(x)?.1)
    }
}

fn norm(t: &Tensor<f64>) -> f64 {
    t.to_vec().iter().map(|v| v * v).sum::<f64>().sqrt()
}

const USAGE: &str = "cargo run --example inspect_gradients -- [--out FILE.dot] [--svg FILE.svg]";

fn main() -> ExitCode {
    let mut out = "target/inspect_gradients.dot".to_string();
    let mut svg = "target/inspect_gradients.svg".to_string();
    let mut args = lexopt::Parser::from_env();
    loop {
        match args.next() {
            Ok(None) => break,
            Ok(Some(lexopt::Arg::Long("out"))) => match args.value().map(|v| v.into_string()) {
                Ok(Ok(v)) => out = v,
                _ => return usage_error("--out needs a UTF-8 path"),
            },
            Ok(Some(lexopt::Arg::Long("svg"))) => match args.value().map(|v| v.into_string()) {
                Ok(Ok(v)) => svg = v,
                _ => return usage_error("--svg needs a UTF-8 path"),
            },
            Ok(Some(lexopt::Arg::Long("help") | lexopt::Arg::Short('h'))) => {
                println!("Usage: {USAGE}");
                return ExitCode::SUCCESS;
            }
            Ok(Some(other)) => return usage_error(&other.unexpected().to_string()),
            Err(e) => return usage_error(&e.to_string()),
        }
    }
    match run(&out, &svg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\nUsage: {USAGE}");
    ExitCode::from(2)
}

fn run(dot_path: &str, svg_path: &str) -> std::result::Result<(), Box<dyn Error>> {
    let model = Mlp {
        fc1: Linear::new(2, 3, 1),
        fc2: Linear::new(3, 2, 2),
    };
    for (name, p) in model.named_parameters() {
        p.set_name(&name);
    }
    let x = Var::new(Tensor::from_vec(
        vec![0.5, -1.0, 1.5, 0.25, -0.75, 2.0, -1.25, -0.5],
        &[4, 2],
    )?);
    x.set_name("x");
    let y = IndexTensor::from_slice(&[0, 1, 1, 0]);
    let loss_fn = CrossEntropyLoss::new();

    println!("== model: Linear(2, 3) - Tanh - Linear(3, 2), cross-entropy on 4 points ==");
    let (hidden, logits) = model.forward_with_hidden(&x)?;
    hidden.set_name("hidden");
    hidden.retain_grad();
    let loss = loss_fn.forward(&logits, &y)?;
    loss.set_name("loss");
    println!("loss = {:.6}", loss.item()?);
    loss.backward()?;

    println!("\n== 1. parameter gradients after loss.backward() ==");
    for (name, p) in model.named_parameters() {
        let g = p.grad().ok_or("a parameter got no gradient")?;
        println!("{name}: shape {:?}, norm {:.6}\n{g}", g.shape(), norm(&g));
    }

    println!("\n== 2. an intermediate: hidden = tanh(fc1(x)), kept with retain_grad() ==");
    let h_grad = hidden.grad().ok_or("retain_grad kept nothing")?;
    println!(
        "hidden.grad: shape {:?}, norm {:.6}\n{h_grad}",
        h_grad.shape(),
        norm(&h_grad)
    );
    println!(
        "logits.grad (not retained): {:?}",
        logits.grad().map(|g| g.shape().to_vec())
    );

    let dot = loss.to_dot(); // the graph with the gradients of this first backward
    let svg = graph_svg(std::slice::from_ref(&loss))?; // the same graph, drawn

    println!("\n== 3. a hook on hidden that halves the gradient passing through it ==");
    let before: Vec<f64> = model
        .named_parameters()
        .iter()
        .map(|(_, p)| norm(&p.grad().unwrap()))
        .collect();
    hidden.register_hook(|g| {
        let scaled = g.mul_scalar(0.5);
        println!(
            "  hook: gradient reaching hidden has norm {:.6}; passing on half: {:.6}",
            norm(g),
            norm(&scaled)
        );
        Some(scaled)
    });
    model.zero_grad();
    hidden.zero_grad();
    loss.backward()?; // the graph is kept, so the same loss can be differentiated again
    for ((name, p), b) in model.named_parameters().iter().zip(&before) {
        let after = norm(&p.grad().unwrap());
        println!(
            "  {name:<10} grad norm {b:.6} without the hook, {after:.6} with it (ratio {:.3})",
            after / b
        );
    }
    println!("  (fc2 comes after hidden and is unchanged; fc1 comes before it and gets half)");

    println!("\n== 4. gradcheck: analytic gradients against central differences (f64) ==");
    let params: Vec<Tensor<f64>> = model.parameters().iter().map(Var::to_tensor).collect();
    let report = gradcheck(
        |p| loss_fn.forward(&Mlp::from_vars(p).forward(&x)?, &y),
        &params,
        GradcheckOptions::default(),
    )?;
    println!("{report}");
    if !report.passed {
        return Err("gradcheck failed".into());
    }

    println!("\n== 5. second derivatives with grad(.., create_graph = true) ==");
    second_derivative()?;
    hessian_vector_product(&model, &x, &y, &loss_fn)?;

    println!("\n== 6. the graph of the loss ==");
    if let Some(dir) = std::path::Path::new(dot_path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(dot_path, &dot).map_err(|e| format!("cannot write {dot_path}: {e}"))?;
    println!(
        "wrote {dot_path} ({} nodes, {} edges); render it with: dot -Tpng {dot_path} -o graph.png",
        dot.lines().filter(|l| l.contains("[label=")).count(),
        dot.lines().filter(|l| l.contains("->")).count()
    );
    if let Some(dir) = std::path::Path::new(svg_path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(svg_path, &svg).map_err(|e| format!("cannot write {svg_path}: {e}"))?;
    println!("wrote {svg_path}: the same graph drawn without Graphviz (open it in a browser)");
    Ok(())
}

/// f(x) = x³·tanh(x): f'' from two `grad` calls, against the closed form.
fn second_derivative() -> std::result::Result<(), Box<dyn Error>> {
    let xs = [-1.0, 0.5, 2.0];
    let x = Var::parameter(Tensor::from_vec(xs.to_vec(), &[3])?);
    let f = (x.powf(3.0) * x.tanh()).sum();
    let first = |outputs: &[Var<f64>], create_graph| -> std::result::Result<Var<f64>, Box<dyn Error>> {
        let g = grad(outputs, std::slice::from_ref(&x), None, create_graph)?;
        Ok(g.into_iter().next().flatten().ok_or("x got no gradient")?)
    };
    let df = first(&[f], true)?; // f'(x), recorded so that it can be differentiated again
    let d2f = first(&[df.sum()], false)?; // each f'(x[i]) depends on x[i] only
    println!("f(x) = x³·tanh(x) at x = {xs:?}");
    for (i, (&xv, d2)) in xs.iter().zip(d2f.to_tensor().to_vec()).enumerate() {
        // f'' = 6x·t + 6x²·s - 2x³·t·s, with t = tanh x, s = 1 - t².
        let (t, s) = (xv.tanh(), 1.0 - xv.tanh().powi(2));
        let exact = 6.0 * xv * t + 6.0 * xv * xv * s - 2.0 * xv.powi(3) * t * s;
        println!(
            "  f''(x[{i}]) = {d2:.10}   closed form {exact:.10}   |diff| {:.1e}",
            (d2 - exact).abs()
        );
    }
    Ok(())
}

/// H·v for the loss with respect to all parameters: the gradient of (∇L · v), against
/// (∇L(θ + εv) - ∇L(θ - εv)) / 2ε.
fn hessian_vector_product(
    model: &Mlp,
    x: &Var<f64>,
    y: &IndexTensor,
    loss_fn: &CrossEntropyLoss<f64>,
) -> std::result::Result<(), Box<dyn Error>> {
    let params = model.parameters();
    let v: Vec<Tensor<f64>> = params
        .iter()
        .enumerate()
        .map(|(i, p)| Tensor::randn(&p.shape(), 100 + i as u64))
        .collect();
    let loss = loss_fn.forward(&model.forward(x)?, y)?;
    let grads = grad(&[loss], &params, None, true)?;
    let mut dot: Option<Var<f64>> = None;
    for (g, vi) in grads.iter().zip(&v) {
        let g = g.as_ref().ok_or("a parameter got no gradient")?;
        let term = g.try_mul(&Var::new(vi.clone()))?.sum();
        dot = Some(match dot {
            Some(d) => d.try_add(&term)?,
            None => term,
        });
    }
    let hv = grad(&[dot.ok_or("no parameters")?], &params, None, false)?;

    // Finite differences of the gradient along v.
    let eps = 1e-6;
    let grad_at = |sign: f64| -> std::result::Result<Vec<f64>, Box<dyn Error>> {
        let shifted: Vec<Var<f64>> = params
            .iter()
            .zip(&v)
            .map(|(p, vi)| Ok(Var::parameter(p.to_tensor().add(&vi.mul_scalar(sign * eps))?)))
            .collect::<Result<_>>()?;
        let l = loss_fn.forward(&Mlp::from_vars(&shifted).forward(x)?, y)?;
        let g = grad(&[l], &shifted, None, false)?;
        Ok(g.into_iter()
            .flat_map(|g| g.map(|g| g.to_tensor().to_vec()).unwrap_or_default())
            .collect())
    };
    let (plus, minus) = (grad_at(1.0)?, grad_at(-1.0)?);
    let _guard = no_grad();
    let analytic: Vec<f64> = hv
        .into_iter()
        .flat_map(|g| g.map(|g| g.to_tensor().to_vec()).unwrap_or_default())
        .collect();
    let max_diff = analytic
        .iter()
        .zip(plus.iter().zip(&minus))
        .map(|(a, (p, m))| (a - (p - m) / (2.0 * eps)).abs())
        .fold(0.0, f64::max);
    println!(
        "Hessian-vector product of the loss ({} parameters): |Hv| = {:.6}, max |Hv - finite difference| = {max_diff:.1e}",
        analytic.len(),
        analytic.iter().map(|a| a * a).sum::<f64>().sqrt()
    );
    if max_diff > 1e-5 {
        return Err(format!("the Hessian-vector product disagrees with finite differences by {max_diff:.1e}").into());
    }
    Ok(())
}
