//! The activation layers `GELU`, `SiLU`, `Softplus`, `ELU`, `Softmax`, `LogSoftmax` and
//! `Identity` against PyTorch's fixture cases (forward, input gradient, errors), their
//! functions against finite differences, and their options and errors.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional;
use ferrograd_nn::{Forward, Identity, LogSoftmax, Module, SiLU, Softmax, Softplus, ELU, GELU};
use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};

type Layer<T> = Box<dyn Fn(&Var<T>) -> Result<Var<T>>>;

/// The layer of a case, built from its `args` as PyTorch's constructor takes them.
fn build<T: Float>(case: &Case) -> Result<Layer<T>> {
    Ok(match case.layer.as_str() {
        "GELU" => {
            let l = GELU::new(case.arg_str("approximate").unwrap_or("none"))?;
            Box::new(move |x| l.forward(x))
        }
        "SiLU" => Box::new(|x| SiLU.forward(x)),
        "Softplus" => {
            let l = Softplus::new(
                case.arg_f64("beta").unwrap_or(1.0),
                case.arg_f64("threshold").unwrap_or(20.0),
            );
            Box::new(move |x| l.forward(x))
        }
        "ELU" => {
            let l = ELU::new(case.arg_f64("alpha").unwrap_or(1.0));
            Box::new(move |x| l.forward(x))
        }
        "Softmax" => {
            let l = Softmax::new(case.arg_i64("dim").expect("dim") as isize);
            Box::new(move |x| l.forward(x))
        }
        "LogSoftmax" => {
            let l = LogSoftmax::new(case.arg_i64("dim").expect("dim") as isize);
            Box::new(move |x| l.forward(x))
        }
        "Identity" => Box::new(|x| Identity.forward(x)),
        other => panic!("no layer {other}"),
    })
}

fn run_case<T: Float>(m: &mut Matcher, case: &Case) -> Result<()> {
    let x_fixture = case.inputs[0].as_ref().expect("an input");
    if !x_fixture.is_float() {
        // Identity on class indices: the same indices back.
        let step = case.single_step().expect("not an error case");
        let out = <Identity as Forward<IndexTensor>>::forward(&Identity, &x_fixture.index_tensor())?;
        m.equal_indices(case, "output", &out, &step.expected.outputs[0]);
        return Ok(());
    }
    let x = Var::parameter(x_fixture.tensor::<T>());
    let result = build::<T>(case).and_then(|layer| layer(&x));
    let Some(step) = case.single_step() else {
        let err = result.expect_err(&case.name).to_string();
        m.error_contains(case, &err);
        return Ok(());
    };
    let out = result?;
    m.close(case, "output", &out.to_tensor(), &step.expected.outputs[0]);
    let upstream = Var::new(step.upstream[0].as_ref().expect("upstream").tensor::<T>());
    out.try_mul(&upstream)?.sum().backward()?;
    let want = step.expected.input_grads[0].as_ref().expect("input grad");
    m.close(case, "input grad", &x.grad().expect("a gradient"), want);
    Ok(())
}

#[test]
fn activations_match_pytorch_on_every_fixture_case() -> Result<()> {
    for layer in ["GELU", "SiLU", "Softplus", "ELU", "Softmax", "LogSoftmax", "Identity"] {
        let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
        for case in layer_cases(layer) {
            match case.dtype.as_str() {
                "float64" => run_case::<f64>(&mut m64, case)?,
                _ => run_case::<f32>(&mut m32, case)?,
            }
        }
        println!("{layer} f32: {}", m32.summary());
        println!("{layer} f64: {}", m64.summary());
    }
    Ok(())
}

#[test]
fn activation_functions_pass_gradcheck() -> Result<()> {
    // Points away from the kinks of ELU (0) and Softplus's threshold.
    let x = Tensor::<f64>::from_vec(vec![-2.5, -0.7, -0.1, 0.2, 0.9, 1.7, 3.1, 4.4], &[2, 4])?;
    let checks: Vec<(&str, Layer<f64>)> = vec![
        ("gelu none", Box::new(|x| functional::gelu(x, "none"))),
        ("gelu tanh", Box::new(|x| functional::gelu(x, "tanh"))),
        ("silu", Box::new(|x| Ok(functional::silu(x)))),
        ("softplus", Box::new(|x| Ok(functional::softplus(x, 1.0, 20.0)))),
        (
            "softplus beta 2 threshold 5",
            Box::new(|x| Ok(functional::softplus(x, 2.0, 5.0))),
        ),
        ("elu", Box::new(|x| Ok(functional::elu(x, 1.0)))),
        ("elu alpha 0.5", Box::new(|x| Ok(functional::elu(x, 0.5)))),
        ("softmax dim 1", Box::new(|x| functional::softmax(x, 1))),
        ("softmax dim 0", Box::new(|x| functional::softmax(x, 0))),
        ("log_softmax dim -1", Box::new(|x| functional::log_softmax(x, -1))),
    ];
    for (name, f) in checks {
        // Through a tanh, so that the checked output is not linear in the layer's.
        let report = gradcheck(
            |v| Ok(f(&v[0])?.tanh()),
            std::slice::from_ref(&x),
            GradcheckOptions::default(),
        )?;
        assert!(report.passed, "{name}: {report}");
        println!("{name}: {report}");
    }
    Ok(())
}

#[test]
fn defaults_and_options_are_pytorchs() -> Result<()> {
    assert_eq!(GELU::default(), GELU::new("none")?);
    assert_eq!(Softplus::default(), Softplus::new(1.0, 20.0));
    assert_eq!(ELU::default(), ELU::new(1.0));
    // torch.nn.Softplus(beta=2, threshold=5)(torch.tensor([2.4, 2.6], dtype=torch.float64)).tolist()
    //   -> [2.404098033669134, 2.6]  (2.6 is above the threshold: the identity)
    let y = Softplus::new(2.0, 5.0).forward(&Var::new(Tensor::<f64>::from_vec(vec![2.4, 2.6], &[2])?))?;
    let y = y.to_tensor().to_vec();
    assert!((y[0] - 2.404098033669134).abs() < 1e-15 && y[1] == 2.6, "{y:?}");
    // Option-only layers hold no parameters.
    assert!(Module::<f32>::named_parameters(&GELU::default()).is_empty());
    assert!(Module::<f64>::state_dict(&Softmax::new(1)).is_empty());
    Ok(())
}

#[test]
fn bad_options_and_dims_are_errors_in_pytorchs_words() {
    let err = GELU::new("fast").unwrap_err().to_string();
    assert!(
        err.contains("approximate argument must be either none or tanh."),
        "{err}"
    );
    let x = Var::new(Tensor::<f32>::zeros(&[2, 3]));
    for dim in [2, -3] {
        let err = Softmax::new(dim).forward(&x).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "Dimension out of range (expected to be in range of [-2, 1], but got {dim})"
            )),
            "{err}"
        );
        let err = LogSoftmax::new(dim).forward(&x).unwrap_err().to_string();
        assert!(err.contains("Dimension out of range"), "{err}");
    }
    // A 0-d tensor takes dim 0 or -1: torch.nn.Softmax(0)(torch.tensor(3.)) -> tensor(1.)
    let s = Var::new(Tensor::<f32>::scalar(3.0));
    assert_eq!(Softmax::new(0).forward(&s).unwrap().item().unwrap(), 1.0);
    assert!(Softmax::new(1).forward(&s).is_err());
}

#[test]
fn identity_returns_the_same_var() -> Result<()> {
    let x = Var::parameter(Tensor::<f32>::from_vec(vec![1.0, -2.0], &[2])?);
    let y = Identity.forward(&x)?;
    assert_eq!(y.id(), x.id());
    y.sum().backward()?;
    assert_eq!(x.grad().unwrap().to_vec(), [1.0, 1.0]);
    Ok(())
}
