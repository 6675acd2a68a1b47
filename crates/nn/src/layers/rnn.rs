//! The recurrent cells, one time step each, as `nn.RNNCell`, `nn.GRUCell` and `nn.LSTMCell`:
//! thin modules over [`functional::rnn_tanh_cell`](crate::functional::rnn_tanh_cell) and its
//! siblings, with PyTorch's parameter names, init, unbatched inputs and default zero state.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_nn::{Forward, LSTMCell, Module};
//! use ferrograd_tensor::Tensor;
//!
//! let cell = LSTMCell::<f32>::new(4, 5, 0);
//! let x = Var::new(Tensor::randn(&[3, 4], 1));
//! let (h, c) = cell.step(&x, None)?; // zero state
//! let (h, _) = cell.step(&x, Some((&h, &c)))?; // the next step
//! assert_eq!(h.shape(), [3, 5]);
//! let names: Vec<String> = cell.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};
use rand::SeedableRng;

use crate::functional::{gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell};
use crate::{Forward, Module};

/// The nonlinearity of an [`RNNCell`], as its `nonlinearity` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RnnNonlinearity {
    /// `"tanh"`, the default.
    #[default]
    Tanh,
    /// `"relu"`.
    ReLU,
}

impl RnnNonlinearity {
    /// Reads PyTorch's string, `"tanh"` or `"relu"`; anything else is PyTorch's error
    /// `Unknown nonlinearity: ...`.
    pub fn parse(nonlinearity: &str) -> Result<Self> {
        match nonlinearity {
            "tanh" => Ok(Self::Tanh),
            "relu" => Ok(Self::ReLU),
            other => Err(Error::invalid("RNNCell", format!("Unknown nonlinearity: {other}"))),
        }
    }
}

/// The four parameters of a cell with `gates` stacked gates, uniform in `±1/√hidden_size`
/// in PyTorch's order (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
type Params<T> = (Var<T>, Var<T>, Option<Var<T>>, Option<Var<T>>);

fn init_params<T: Float, R: rand::Rng + ?Sized>(
    input_size: usize,
    hidden_size: usize,
    gates: usize,
    bias: bool,
    rng: &mut R,
) -> Params<T> {
    let bound = if hidden_size > 0 {
        1.0 / (hidden_size as f64).sqrt()
    } else {
        0.0
    };
    let rows = gates * hidden_size;
    let mut uniform =
        |shape: &[usize]| Var::parameter(Tensor::uniform(shape, -bound, bound, rng).unwrap_or_else(|e| panic!("{e}")));
    let weight_ih = uniform(&[rows, input_size]);
    let weight_hh = uniform(&[rows, hidden_size]);
    let (bias_ih, bias_hh) = if bias {
        (Some(uniform(&[rows])), Some(uniform(&[rows])))
    } else {
        (None, None)
    };
    (weight_ih, weight_hh, bias_ih, bias_hh)
}

/// PyTorch's checks of a cell's input and state ranks, and the unbatched case: a 1-D input
/// (and state) is a batch of one. Returns the 2-D input and whether it was batched.
fn batch_input<T: Float>(
    cell: &'static str,
    input: &Var<T>,
    hx: Option<&Var<T>>,
    hx_name: &str,
) -> Result<(Var<T>, bool)> {
    if !matches!(input.ndim(), 1 | 2) {
        return Err(Error::invalid(
            cell,
            format!("Expected input to be 1D or 2D, got {}D instead", input.ndim()),
        ));
    }
    if let Some(h) = hx.filter(|h| !matches!(h.ndim(), 1 | 2)) {
        return Err(Error::invalid(
            cell,
            format!("Expected {hx_name} to be 1D or 2D, got {}D instead", h.ndim()),
        ));
    }
    let batched = input.ndim() == 2;
    Ok((if batched { input.clone() } else { input.unsqueeze(0)? }, batched))
}

/// A given state as the functions take it (a batch of one for an unbatched input), or zeros.
fn state<T: Float>(hx: Option<&Var<T>>, batched: bool, batch: usize, hidden_size: usize) -> Result<Var<T>> {
    match hx {
        Some(h) if batched => Ok(h.clone()),
        Some(h) => h.unsqueeze(0),
        None => Ok(Var::new(Tensor::zeros(&[batch, hidden_size]))),
    }
}

fn unbatch<T: Float>(out: Var<T>, batched: bool) -> Result<Var<T>> {
    if batched {
        Ok(out)
    } else {
        out.squeeze(0)
    }
}

macro_rules! cell_common {
    ($cell:ident, $gates:expr $(, $field:ident: $value:expr)*) => {
        impl<T: Float> $cell<T> {
            /// A cell initialised as PyTorch does with the given generator; `bias` chooses
            /// whether it has `bias_ih` and `bias_hh`.
            ///
            /// # Panics
            /// As `new`.
            pub fn with_rng<R: rand::Rng + ?Sized>(
                input_size: usize,
                hidden_size: usize,
                bias: bool,
                rng: &mut R,
            ) -> Self {
                let (weight_ih, weight_hh, bias_ih, bias_hh) =
                    init_params(input_size, hidden_size, $gates, bias, rng);
                Self {
                    weight_ih,
                    weight_hh,
                    bias_ih,
                    bias_hh,
                    $($field: $value,)*
                }
            }

            /// A cell with biases (an `RNNCell` with tanh), initialised as PyTorch does from a
            /// seed: every parameter uniform in `±1/√hidden_size`.
            ///
            /// # Panics
            /// If a weight is too large for a tensor (more than `isize::MAX` elements).
            pub fn new(input_size: usize, hidden_size: usize, seed: u64) -> Self {
                Self::with_rng(
                    input_size,
                    hidden_size,
                    true,
                    &mut rand::rngs::StdRng::seed_from_u64(seed),
                )
            }

            /// The size of each input vector.
            pub fn input_size(&self) -> usize {
                self.weight_ih.shape()[1]
            }

            /// The size of the state.
            pub fn hidden_size(&self) -> usize {
                self.weight_hh.shape()[1]
            }
        }
    };
}

/// A cell's `Forward` impls: `cell(input, hx)` (the state as `step` takes it, made from the
/// owned one by `$borrow`) and `cell(input)` from the zero state.
macro_rules! cell_forward {
    ($cell:ident, $state:ty, |$hx:ident| $borrow:expr) => {
        impl<T: Float> Forward<(Var<T>, Option<$state>), T> for $cell<T> {
            type Output = $state;

            /// `cell(input, hx)`: see the cell's `step`.
            fn forward(&self, (input, $hx): &(Var<T>, Option<$state>)) -> Result<$state> {
                self.step(input, $borrow)
            }
        }

        impl<T: Float> Forward<Var<T>, T> for $cell<T> {
            type Output = $state;

            /// `cell(input)`, from the zero state.
            fn forward(&self, input: &Var<T>) -> Result<$state> {
                self.step(input, None)
            }
        }
    };
}

/// An Elman RNN step, `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)` (or `relu`), as
/// `nn.RNNCell(input_size, hidden_size, bias, nonlinearity)`.
#[derive(Debug, Module)]
pub struct RNNCell<T: Float = f32> {
    /// `[hidden_size, input_size]`.
    pub weight_ih: Var<T>,
    /// `[hidden_size, hidden_size]`.
    pub weight_hh: Var<T>,
    /// `[hidden_size]`, if the cell has biases.
    pub bias_ih: Option<Var<T>>,
    /// `[hidden_size]`, if the cell has biases.
    pub bias_hh: Option<Var<T>>,
    /// `tanh` (the default) or `relu`.
    #[module(skip)]
    pub nonlinearity: RnnNonlinearity,
}

cell_common!(RNNCell, 1, nonlinearity: RnnNonlinearity::Tanh);
cell_forward!(RNNCell, Var<T>, |hx| hx.as_ref());

impl<T: Float> RNNCell<T> {
    /// Sets the nonlinearity from PyTorch's string, `"tanh"` or `"relu"`.
    pub fn nonlinearity(mut self, nonlinearity: &str) -> Result<Self> {
        self.nonlinearity = RnnNonlinearity::parse(nonlinearity)?;
        Ok(self)
    }

    /// One step: `input` `[N, input_size]` or `[input_size]`, state `hx` of the same
    /// batchedness `[N, hidden_size]` / `[hidden_size]` (zeros if `None`); returns `h'`.
    pub fn step(&self, input: &Var<T>, hx: Option<&Var<T>>) -> Result<Var<T>> {
        let (x, batched) = batch_input("RNNCell", input, hx, "hidden")?;
        let h = state(hx, batched, x.shape()[0], self.hidden_size())?;
        let cell = match self.nonlinearity {
            RnnNonlinearity::Tanh => rnn_tanh_cell,
            RnnNonlinearity::ReLU => rnn_relu_cell,
        };
        let out = cell(
            &x,
            &h,
            &self.weight_ih,
            &self.weight_hh,
            self.bias_ih.as_ref(),
            self.bias_hh.as_ref(),
        )?;
        unbatch(out, batched)
    }
}

/// A GRU step, as `nn.GRUCell(input_size, hidden_size, bias)`, the gates stacked (reset,
/// update, new): `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
/// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
#[derive(Debug, Module)]
pub struct GRUCell<T: Float = f32> {
    /// `[3·hidden_size, input_size]`, the (reset, update, new) weights stacked.
    pub weight_ih: Var<T>,
    /// `[3·hidden_size, hidden_size]`.
    pub weight_hh: Var<T>,
    /// `[3·hidden_size]`, if the cell has biases.
    pub bias_ih: Option<Var<T>>,
    /// `[3·hidden_size]`, if the cell has biases.
    pub bias_hh: Option<Var<T>>,
}

cell_common!(GRUCell, 3);
cell_forward!(GRUCell, Var<T>, |hx| hx.as_ref());

impl<T: Float> GRUCell<T> {
    /// One step: `input` `[N, input_size]` or `[input_size]`, state `hx` of the same
    /// batchedness (zeros if `None`); returns `h'`.
    pub fn step(&self, input: &Var<T>, hx: Option<&Var<T>>) -> Result<Var<T>> {
        let (x, batched) = batch_input("GRUCell", input, hx, "hidden")?;
        let h = state(hx, batched, x.shape()[0], self.hidden_size())?;
        let out = gru_cell(
            &x,
            &h,
            &self.weight_ih,
            &self.weight_hh,
            self.bias_ih.as_ref(),
            self.bias_hh.as_ref(),
        )?;
        unbatch(out, batched)
    }
}

/// An LSTM step, as `nn.LSTMCell(input_size, hidden_size, bias)`, the gates stacked (input,
/// forget, cell, output): `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`.
#[derive(Debug, Module)]
pub struct LSTMCell<T: Float = f32> {
    /// `[4·hidden_size, input_size]`, the (input, forget, cell, output) weights stacked.
    pub weight_ih: Var<T>,
    /// `[4·hidden_size, hidden_size]`.
    pub weight_hh: Var<T>,
    /// `[4·hidden_size]`, if the cell has biases.
    pub bias_ih: Option<Var<T>>,
    /// `[4·hidden_size]`, if the cell has biases.
    pub bias_hh: Option<Var<T>>,
}

cell_common!(LSTMCell, 4);
cell_forward!(LSTMCell, LstmState<T>, |hx| hx.as_ref().map(|(h, c)| (h, c)));

impl<T: Float> LSTMCell<T> {
    /// One step: `input` `[N, input_size]` or `[input_size]`, state `(h, c)` of the same
    /// batchedness (zeros if `None`); returns `(h', c')`.
    pub fn step(&self, input: &Var<T>, hx: Option<(&Var<T>, &Var<T>)>) -> Result<(Var<T>, Var<T>)> {
        let (x, batched) = batch_input("LSTMCell", input, hx.map(|(h, _)| h), "hx[0]")?;
        let (n, size) = (x.shape()[0], self.hidden_size());
        let h = state(hx.map(|(h, _)| h), batched, n, size)?;
        let c = state(hx.map(|(_, c)| c), batched, n, size)?;
        let (h, c) = lstm_cell(
            &x,
            (&h, &c),
            &self.weight_ih,
            &self.weight_hh,
            self.bias_ih.as_ref(),
            self.bias_hh.as_ref(),
        )?;
        Ok((unbatch(h, batched)?, unbatch(c, batched)?))
    }
}

/// The state of an [`LSTMCell`], `(h, c)`.
type LstmState<T> = (Var<T>, Var<T>);
