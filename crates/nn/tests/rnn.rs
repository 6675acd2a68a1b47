//! `RNNCell`, `GRUCell` and `LSTMCell` against PyTorch's fixture cases (outputs, input, state
//! and parameter gradients, errors), their functions against finite differences, their init,
//! parameter names, unbatched inputs and errors.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{gradcheck, GradcheckOptions, GradcheckReport, Var};
use ferrograd_nn::functional::{gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell};
use ferrograd_nn::{Forward, GRUCell, LSTMCell, Module, RNNCell, RnnNonlinearity, StateDict};
use ferrograd_tensor::{Float, Result, Tensor};
use rand::SeedableRng;

enum Cell<T: Float> {
    Rnn(RNNCell<T>),
    Gru(GRUCell<T>),
    Lstm(LSTMCell<T>),
}

impl<T: Float> Cell<T> {
    /// The cell of a case, built from its `args` as PyTorch's constructor takes them.
    fn build(case: &Case) -> Result<Self> {
        let size = |key| case.arg_i64(key).expect(key) as usize;
        let (input, hidden) = (size("input_size"), size("hidden_size"));
        let bias = case.arg_bool("bias").unwrap_or(true);
        let rng = &mut rand::rngs::StdRng::seed_from_u64(0);
        Ok(match case.layer.as_str() {
            "RNNCell" => Cell::Rnn(
                RNNCell::with_rng(input, hidden, bias, rng)
                    .nonlinearity(case.arg_str("nonlinearity").unwrap_or("tanh"))?,
            ),
            "GRUCell" => Cell::Gru(GRUCell::with_rng(input, hidden, bias, rng)),
            "LSTMCell" => Cell::Lstm(LSTMCell::with_rng(input, hidden, bias, rng)),
            other => panic!("no cell {other}"),
        })
    }

    fn module(&self) -> &dyn Module<T> {
        match self {
            Cell::Rnn(c) => c,
            Cell::Gru(c) => c,
            Cell::Lstm(c) => c,
        }
    }

    /// `cell(x, h)` or `cell(x, (h, c))`, through `Forward` with its tuple input.
    fn forward(&self, x: &Var<T>, state: &[Option<Var<T>>]) -> Result<Vec<Var<T>>> {
        Ok(match self {
            Cell::Rnn(c) => vec![c.forward(&(x.clone(), state[0].clone()))?],
            Cell::Gru(c) => vec![c.forward(&(x.clone(), state[0].clone()))?],
            Cell::Lstm(c) => {
                let hc = state[0].clone().zip(state[1].clone());
                let (h, c) = c.forward(&(x.clone(), hc))?;
                vec![h, c]
            }
        })
    }
}

fn run_case<T: Float>(m: &mut Matcher, case: &Case) -> Result<()> {
    let inputs: Vec<Option<Var<T>>> = case
        .inputs
        .iter()
        .map(|t| t.as_ref().map(|t| Var::parameter(t.tensor())))
        .collect();
    let result = Cell::<T>::build(case).and_then(|cell| {
        let state: StateDict<T> = case
            .state
            .as_ref()
            .expect("state")
            .iter()
            .map(|(k, t)| (k.clone(), t.tensor::<T>()))
            .collect();
        cell.module().load_state_dict(&state)?;
        let out = cell.forward(inputs[0].as_ref().expect("input"), &inputs[1..])?;
        Ok((cell, out))
    });
    let Some(step) = case.single_step() else {
        let err = result.err().unwrap_or_else(|| panic!("{}: no error", case.name));
        m.error_contains(case, &err.to_string());
        return Ok(());
    };
    let (cell, outs) = result?;
    let mut loss = Var::new(Tensor::scalar(T::zero()));
    for (i, (out, want)) in outs.iter().zip(&step.expected.outputs).enumerate() {
        m.close(case, &format!("output {i}"), &out.to_tensor(), want);
        let up = Var::new(step.upstream[i].as_ref().expect("upstream").tensor::<T>());
        loss = loss.try_add(&out.try_mul(&up)?.sum())?;
    }
    loss.backward()?;
    for (i, (x, want)) in inputs.iter().zip(&step.expected.input_grads).enumerate() {
        if let (Some(x), Some(want)) = (x, want) {
            m.close(case, &format!("input {i} grad"), &x.grad().expect("a gradient"), want);
        }
    }
    let params = cell.module().named_parameters();
    assert_eq!(params.len(), step.expected.param_grads.len(), "{}", case.name);
    for ((name, p), (want_name, want)) in params.iter().zip(&step.expected.param_grads) {
        assert_eq!(name, want_name, "{}: parameter order", case.name);
        m.close(case, &format!("{name} grad"), &p.grad().expect("a gradient"), want);
    }
    Ok(())
}

#[test]
fn cells_match_pytorch_on_every_fixture_case() -> Result<()> {
    for layer in ["RNNCell", "GRUCell", "LSTMCell"] {
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

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, seed)
}

/// x, h, c, then weights and biases of a cell with `gates` gates (input 3, hidden 2, batch 2).
fn cell_inputs(gates: usize, bias: bool) -> Vec<Tensor<f64>> {
    let mut v = vec![
        randn(&[2, 3], 1),
        randn(&[2, 2], 2),
        randn(&[2, 2], 3),
        randn(&[gates * 2, 3], 4).mul_scalar(0.5),
        randn(&[gates * 2, 2], 5).mul_scalar(0.5),
    ];
    if bias {
        v.push(randn(&[gates * 2], 6));
        v.push(randn(&[gates * 2], 7));
    }
    v
}

fn biases(x: &[Var<f64>]) -> (Option<&Var<f64>>, Option<&Var<f64>>) {
    (x.get(5), x.get(6))
}

fn assert_passed(name: &str, r: GradcheckReport) {
    assert!(r.passed, "{name}: {r}");
    println!("{name}: {r}");
}

#[test]
fn cell_functions_pass_gradcheck() -> Result<()> {
    let opts = GradcheckOptions::default();
    for bias in [true, false] {
        let tanh = gradcheck(
            |x| {
                let (bi, bh) = biases(x);
                rnn_tanh_cell(&x[0], &x[1], &x[3], &x[4], bi, bh)
            },
            &cell_inputs(1, bias),
            opts,
        )?;
        assert_passed(&format!("rnn_tanh_cell, bias {bias}"), tanh);
        let gru = gradcheck(
            |x| {
                let (bi, bh) = biases(x);
                gru_cell(&x[0], &x[1], &x[3], &x[4], bi, bh)
            },
            &cell_inputs(3, bias),
            opts,
        )?;
        assert_passed(&format!("gru_cell, bias {bias}"), gru);
        let lstm = gradcheck(
            |x| {
                let (bi, bh) = biases(x);
                let (h, c) = lstm_cell(&x[0], (&x[1], &x[2]), &x[3], &x[4], bi, bh)?;
                Var::concat(&[h, c], 1)
            },
            &cell_inputs(4, bias),
            opts,
        )?;
        assert_passed(&format!("lstm_cell, bias {bias}"), lstm);
    }
    // relu: at these points no pre-activation is within the difference step of its kink.
    let relu = gradcheck(
        |x| {
            let (bi, bh) = biases(x);
            rnn_relu_cell(&x[0], &x[1], &x[3], &x[4], bi, bh)
        },
        &cell_inputs(1, true),
        opts,
    )?;
    assert_passed("rnn_relu_cell", relu);
    Ok(())
}

#[test]
fn parameters_are_named_shaped_and_initialised_as_pytorch() {
    for (gates, names) in [
        (1, RNNCell::<f64>::new(30, 25, 1).named_parameters()),
        (3, GRUCell::<f64>::new(30, 25, 1).named_parameters()),
        (4, LSTMCell::<f64>::new(30, 25, 1).named_parameters()),
    ] {
        let got: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
        let want_shapes = [
            vec![gates * 25, 30],
            vec![gates * 25, 25],
            vec![gates * 25],
            vec![gates * 25],
        ];
        let bound = 1.0 / 25f64.sqrt();
        for ((name, p), shape) in names.iter().zip(want_shapes) {
            assert_eq!(p.shape(), shape, "{name}");
            let v = p.to_tensor().to_vec();
            assert!(v.iter().all(|x| x.abs() <= bound), "{name} within ±1/√hidden");
            // Uniform: the spread reaches most of the bound.
            let max = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            assert!(max > 0.9 * bound, "{name}: largest |value| {max}");
        }
    }
    let rng = &mut rand::rngs::StdRng::seed_from_u64(0);
    let cell = LSTMCell::<f32>::with_rng(3, 2, false, rng);
    let keys: Vec<String> = cell.state_dict().names().map(String::from).collect();
    assert_eq!(keys, ["weight_ih", "weight_hh"]);
    assert_eq!((cell.input_size(), cell.hidden_size()), (3, 2));
}

#[test]
fn unbatched_inputs_and_the_zero_state() -> Result<()> {
    let x = Var::new(Tensor::<f64>::randn(&[3], 1));
    let h = Var::new(Tensor::<f64>::randn(&[2], 2));
    let gru = GRUCell::<f64>::new(3, 2, 0);
    let one = gru.step(&x, Some(&h))?;
    assert_eq!(one.shape(), [2]);
    let batch = gru.step(&x.unsqueeze(0)?, Some(&h.unsqueeze(0)?))?;
    assert_eq!(batch.to_tensor().to_vec(), one.to_tensor().to_vec());
    // No state is the zero state, through the method and the one-input Forward.
    let zero = Var::new(Tensor::<f64>::zeros(&[2]));
    assert_eq!(
        gru.forward(&x)?.to_tensor().to_vec(),
        gru.step(&x, Some(&zero))?.to_tensor().to_vec()
    );
    let lstm = LSTMCell::<f64>::new(3, 2, 0);
    let (h1, c1) = lstm.forward(&x)?;
    assert_eq!((h1.shape(), c1.shape()), (vec![2], vec![2]));
    let (h2, _) = lstm.step(&x, Some((&zero, &zero)))?;
    assert_eq!(h1.to_tensor().to_vec(), h2.to_tensor().to_vec());
    let rnn = RNNCell::<f64>::new(3, 2, 0).nonlinearity("relu")?;
    assert_eq!(rnn.nonlinearity, RnnNonlinearity::ReLU);
    assert!(rnn.forward(&x)?.to_tensor().to_vec().iter().all(|&v| v >= 0.0));
    Ok(())
}

#[test]
fn bad_inputs_are_errors_in_pytorchs_words() {
    let t = |shape: &[usize]| Var::new(Tensor::<f32>::zeros(shape));
    let rnn = RNNCell::<f32>::new(4, 5, 0);
    let gru = GRUCell::<f32>::new(4, 5, 0);
    let lstm = LSTMCell::<f32>::new(4, 5, 0);
    let msg = |r: Result<Var<f32>>| r.unwrap_err().to_string();
    let lstm_msg = |r: Result<(Var<f32>, Var<f32>)>| r.unwrap_err().to_string();
    // Each message below is PyTorch 2.15's for the same call (nn.RNNCell(4, 5) etc.).
    let cases = [
        // cell(torch.randn(2, 3, 4))
        (
            msg(rnn.step(&t(&[2, 3, 4]), None)),
            "RNNCell: Expected input to be 1D or 2D, got 3D instead",
        ),
        (
            msg(gru.step(&t(&[]), None)),
            "GRUCell: Expected input to be 1D or 2D, got 0D instead",
        ),
        // cell(torch.randn(3, 4), torch.randn(1, 3, 5))
        (
            msg(rnn.step(&t(&[3, 4]), Some(&t(&[1, 3, 5])))),
            "RNNCell: Expected hidden to be 1D or 2D, got 3D instead",
        ),
        (
            lstm_msg(lstm.step(&t(&[3, 4]), Some((&t(&[1, 3, 5]), &t(&[3, 5]))))),
            "LSTMCell: Expected hx[0] to be 1D or 2D, got 3D instead",
        ),
        // cell(torch.randn(3, 4), torch.randn(2, 5))
        (
            msg(gru.step(&t(&[3, 4]), Some(&t(&[2, 5])))),
            "Input batch size 3 doesn't match hidden0 batch size 2",
        ),
        // cell(torch.randn(4), torch.randn(1, 5)) and cell(torch.randn(3, 4), torch.randn(5))
        (
            msg(rnn.step(&t(&[4]), Some(&t(&[1, 5])))),
            "Expected 2D hidden0 (batch x hidden_size), but got 3D tensor",
        ),
        (
            msg(gru.step(&t(&[3, 4]), Some(&t(&[5])))),
            "Expected 2D hidden0 (batch x hidden_size), but got 1D tensor",
        ),
        // cell(torch.randn(3))
        (
            msg(rnn.step(&t(&[3]), None)),
            "input has inconsistent input_size: got 3 expected 4",
        ),
        // LSTMCell: c of hidden size 6, then of batch 2
        (
            lstm_msg(lstm.step(&t(&[3, 4]), Some((&t(&[3, 5]), &t(&[3, 6]))))),
            "hidden1 has inconsistent hidden_size: got 6, expected 5",
        ),
        (
            lstm_msg(lstm.step(&t(&[3, 4]), Some((&t(&[3, 5]), &t(&[2, 5]))))),
            "Input batch size 3 doesn't match hidden1 batch size 2",
        ),
    ];
    for (got, want) in cases {
        assert!(got.contains(want), "{got:?} does not contain {want:?}");
    }
    // nn.RNNCell(4, 5, nonlinearity='gelu')(x) -> "Unknown nonlinearity: gelu"
    let err = RNNCell::<f32>::new(4, 5, 0)
        .nonlinearity("gelu")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Unknown nonlinearity: gelu"), "{err}");
    // Inconsistent weights given to the function directly.
    let err = gru_cell(&t(&[3, 4]), &t(&[3, 5]), &t(&[15, 4]), &t(&[10, 5]), None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gru_cell") && err.contains("w_hh [10, 5]"), "{err}");
    // A batch of zero rows works, as in PyTorch.
    assert_eq!(lstm.step(&t(&[0, 4]), None).unwrap().0.shape(), [0, 5]);
}
