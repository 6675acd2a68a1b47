//! One step of the recurrent cells, as `torch.rnn_tanh_cell`, `torch.rnn_relu_cell`,
//! `torch.gru_cell` and `torch.lstm_cell`: written with differentiable `Var` ops (two
//! `linear`s, the gate nonlinearities, products), so their gradients are those ops'.
//!
//! Each takes a batch `input` `[N, input_size]`, the state `[N, hidden_size]` and the
//! weights as PyTorch stacks them: `w_ih` `[gates·hidden_size, input_size]`, `w_hh`
//! `[gates·hidden_size, hidden_size]`, optional `b_ih`, `b_hh` `[gates·hidden_size]`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result};

/// `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`, as `torch.rnn_tanh_cell`.
pub fn rnn_tanh_cell<T: Float>(
    input: &Var<T>,
    hx: &Var<T>,
    w_ih: &Var<T>,
    w_hh: &Var<T>,
    b_ih: Option<&Var<T>>,
    b_hh: Option<&Var<T>>,
) -> Result<Var<T>> {
    elman_cell("rnn_tanh_cell", input, hx, [w_ih, w_hh], [b_ih, b_hh], Var::tanh)
}

/// `h' = relu(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`, as `torch.rnn_relu_cell`.
pub fn rnn_relu_cell<T: Float>(
    input: &Var<T>,
    hx: &Var<T>,
    w_ih: &Var<T>,
    w_hh: &Var<T>,
    b_ih: Option<&Var<T>>,
    b_hh: Option<&Var<T>>,
) -> Result<Var<T>> {
    elman_cell("rnn_relu_cell", input, hx, [w_ih, w_hh], [b_ih, b_hh], Var::relu)
}

/// `h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`, the two Elman cells, checked as `op`.
fn elman_cell<T: Float>(
    op: &'static str,
    input: &Var<T>,
    hx: &Var<T>,
    [w_ih, w_hh]: [&Var<T>; 2],
    [b_ih, b_hh]: [Option<&Var<T>>; 2],
    act: fn(&Var<T>) -> Var<T>,
) -> Result<Var<T>> {
    let w = Weights::check(op, 1, w_ih, w_hh, b_ih, b_hh)?;
    w.check_input(input)?;
    w.check_hidden(input, hx, 0)?;
    Ok(act(&w.igates(input)?.try_add(&w.hgates(hx)?)?))
}

/// One GRU step, as `torch.gru_cell`, the gates stacked (reset, update, new):
///
/// `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
/// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`
/// (computed as PyTorch does, `(h − n) ⊙ z + n`).
pub fn gru_cell<T: Float>(
    input: &Var<T>,
    hx: &Var<T>,
    w_ih: &Var<T>,
    w_hh: &Var<T>,
    b_ih: Option<&Var<T>>,
    b_hh: Option<&Var<T>>,
) -> Result<Var<T>> {
    let w = Weights::check("gru_cell", 3, w_ih, w_hh, b_ih, b_hh)?;
    w.check_input(input)?;
    w.check_hidden(input, hx, 0)?;
    let i = w.igates(input)?.chunk(3, 1)?;
    let h = w.hgates(hx)?.chunk(3, 1)?;
    let reset = i[0].try_add(&h[0])?.sigmoid();
    let update = i[1].try_add(&h[1])?.sigmoid();
    let new = i[2].try_add(&reset.try_mul(&h[2])?)?.tanh();
    hx.try_sub(&new)?.try_mul(&update)?.try_add(&new)
}

/// One LSTM step, as `torch.lstm_cell`, the gates stacked (input, forget, cell, output):
/// with `i, f, g, o` the four quarters of `x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh`,
/// `c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)`, `h' = σ(o) ⊙ tanh(c')`. Returns `(h', c')`.
pub fn lstm_cell<T: Float>(
    input: &Var<T>,
    hx: (&Var<T>, &Var<T>),
    w_ih: &Var<T>,
    w_hh: &Var<T>,
    b_ih: Option<&Var<T>>,
    b_hh: Option<&Var<T>>,
) -> Result<(Var<T>, Var<T>)> {
    let w = Weights::check("lstm_cell", 4, w_ih, w_hh, b_ih, b_hh)?;
    let (h, c) = hx;
    w.check_input(input)?;
    w.check_hidden(input, h, 0)?;
    w.check_hidden(input, c, 1)?;
    let gates = w.igates(input)?.try_add(&w.hgates(h)?)?.chunk(4, 1)?;
    let (i, f, g, o) = (
        gates[0].sigmoid(),
        gates[1].sigmoid(),
        gates[2].tanh(),
        gates[3].sigmoid(),
    );
    let c_next = f.try_mul(c)?.try_add(&i.try_mul(&g)?)?;
    let h_next = o.try_mul(&c_next.tanh())?;
    Ok((h_next, c_next))
}

/// A cell's weights, checked to be stacked consistently.
struct Weights<'a, T: Float> {
    op: &'static str,
    w_ih: &'a Var<T>,
    w_hh: &'a Var<T>,
    b_ih: Option<&'a Var<T>>,
    b_hh: Option<&'a Var<T>>,
    input_size: usize,
    hidden_size: usize,
}

impl<'a, T: Float> Weights<'a, T> {
    fn check(
        op: &'static str,
        gates: usize,
        w_ih: &'a Var<T>,
        w_hh: &'a Var<T>,
        b_ih: Option<&'a Var<T>>,
        b_hh: Option<&'a Var<T>>,
    ) -> Result<Self> {
        let (ih, hh) = (w_ih.shape(), w_hh.shape());
        let hidden_size = hh.get(1).copied().unwrap_or(0);
        let rows = gates * hidden_size;
        let bias_ok = |b: Option<&Var<T>>| b.is_none_or(|b| b.shape() == [rows]);
        if ih.len() != 2 || hh != [rows, hidden_size] || ih[0] != rows || !bias_ok(b_ih) || !bias_ok(b_hh) {
            return Err(Error::invalid(
                op,
                format!(
                    "expected w_ih [{gates}·hidden_size, input_size], w_hh [{gates}·hidden_size, hidden_size] and biases [{gates}·hidden_size], got w_ih {ih:?}, w_hh {hh:?}, b_ih {:?}, b_hh {:?}",
                    b_ih.map(Var::shape),
                    b_hh.map(Var::shape)
                ),
            ));
        }
        Ok(Self {
            op,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            input_size: ih[1],
            hidden_size,
        })
    }

    /// PyTorch's `check_rnn_cell_forward_input`.
    fn check_input(&self, input: &Var<T>) -> Result<()> {
        let shape = input.shape();
        if shape.len() != 2 {
            return Err(Error::invalid(
                self.op,
                format!(
                    "Expected 2D input (batch x input_size), but got {}D tensor",
                    shape.len()
                ),
            ));
        }
        if shape[1] != self.input_size {
            return Err(Error::invalid(
                self.op,
                format!(
                    "input has inconsistent input_size: got {} expected {}",
                    shape[1], self.input_size
                ),
            ));
        }
        Ok(())
    }

    /// PyTorch's `check_rnn_cell_forward_hidden`; `label` 0 for `h`, 1 for an LSTM's `c`.
    fn check_hidden(&self, input: &Var<T>, hx: &Var<T>, label: usize) -> Result<()> {
        let shape = hx.shape();
        if shape.len() != 2 {
            return Err(Error::invalid(
                self.op,
                format!(
                    "Expected 2D hidden{label} (batch x hidden_size), but got {}D tensor",
                    shape.len()
                ),
            ));
        }
        let batch = input.shape()[0];
        if shape[0] != batch {
            return Err(Error::invalid(
                self.op,
                format!(
                    "Input batch size {batch} doesn't match hidden{label} batch size {}",
                    shape[0]
                ),
            ));
        }
        if shape[1] != self.hidden_size {
            return Err(Error::invalid(
                self.op,
                format!(
                    "hidden{label} has inconsistent hidden_size: got {}, expected {}",
                    shape[1], self.hidden_size
                ),
            ));
        }
        Ok(())
    }

    fn igates(&self, input: &Var<T>) -> Result<Var<T>> {
        input.linear(self.w_ih, self.b_ih)
    }

    fn hgates(&self, hx: &Var<T>) -> Result<Var<T>> {
        hx.linear(self.w_hh, self.b_hh)
    }
}
