//! The network of a session: a multi-layer perceptron built from a [`ModelSpec`] out of
//! ferrograd-nn layers in a [`Sequential`].

use ferrograd_autograd::Var;
use ferrograd_nn::init::{self, FanMode};
use ferrograd_nn::{
    BatchNorm1d, Dropout, Identity, LeakyReLU, Linear, Module, ReLU, Sequential, SiLU, Sigmoid, Tanh, GELU,
};
use ferrograd_tensor::Result;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::api::ApiError;

/// The activations the page offers.
pub const ACTIVATIONS: [&str; 7] = ["relu", "tanh", "sigmoid", "leaky_relu", "gelu", "silu", "linear"];
/// The initialisations the page offers.
pub const INITS: [&str; 5] = ["pytorch", "kaiming", "xavier", "normal", "small"];
/// The most hidden layers a model may have.
pub const MAX_LAYERS: usize = 6;
/// The widest a hidden layer may be.
pub const MAX_WIDTH: usize = 64;

/// What a model is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The width of each hidden layer, in order (1 to [`MAX_LAYERS`] layers of 1 to
    /// [`MAX_WIDTH`] units).
    pub hidden: Vec<usize>,
    /// One of [`ACTIVATIONS`], after every hidden layer.
    pub activation: String,
    /// One of [`INITS`]: `pytorch` keeps `nn.Linear`'s own; `kaiming` draws weights
    /// N(0, gain²/fan_in) with the activation's gain (`kaiming_normal_`); `xavier` is
    /// `xavier_uniform_` with that gain; `normal` draws N(0, 1) (too large: watch the
    /// saturation); `small` draws N(0, 0.01²) (too small: watch the gradients vanish). Biases
    /// start at 0 except with `pytorch`.
    pub init: String,
    /// A `BatchNorm1d` between each hidden `Linear` and its activation.
    pub batch_norm: bool,
    /// Dropout probability after each activation (0 for none; below 1).
    pub dropout: f64,
}

/// The network with the names of its hidden layers.
pub struct Built {
    /// `Linear [BatchNorm1d] activation [Dropout]` per hidden layer, then `Linear` to the classes.
    pub model: Sequential,
    /// The `Sequential` index (the monitor's layer name) of each hidden layer's activation,
    /// whose output the unit maps draw.
    pub hidden_outputs: Vec<usize>,
}

impl ModelSpec {
    /// Checks every field, naming the one at fault and its value.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.hidden.is_empty() {
            return Err(ApiError::bad(
                "hidden: a model needs at least 1 hidden layer, got 0 (hidden = [])",
            ));
        }
        if self.hidden.len() > MAX_LAYERS {
            return Err(ApiError::bad(format!(
                "hidden: at most {MAX_LAYERS} hidden layers, got {}",
                self.hidden.len()
            )));
        }
        if let Some((i, w)) = self
            .hidden
            .iter()
            .enumerate()
            .find(|(_, w)| !(1..=MAX_WIDTH).contains(*w))
        {
            return Err(ApiError::bad(format!(
                "hidden[{i}]: a layer's width must be in [1, {MAX_WIDTH}], got {w}"
            )));
        }
        ApiError::one_of("activation", "activation", &self.activation, &ACTIVATIONS)?;
        ApiError::one_of("init", "initialisation", &self.init, &INITS)?;
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(ApiError::bad(format!(
                "dropout: dropout probability has to be between 0 and 1 (1 excluded), but got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// The network for `inputs` features and `classes` classes, weights drawn from `seed`.
    pub fn build(&self, inputs: usize, classes: usize, seed: u64) -> Result<Built> {
        let mut model = Sequential::new();
        let mut hidden_outputs = Vec::new();
        let mut width = inputs;
        for (i, &w) in self.hidden.iter().enumerate() {
            model = model.add(Linear::new(width, w, seed.wrapping_add(i as u64)));
            if self.batch_norm {
                model = model.add(BatchNorm1d::new(w));
            }
            model = add_activation(model, &self.activation);
            hidden_outputs.push(model.len() - 1);
            if self.dropout > 0.0 {
                model = model.add(Dropout::new(self.dropout, seed.wrapping_add(100 + i as u64))?);
            }
            width = w;
        }
        model = model.add(Linear::new(width, classes, seed.wrapping_add(99)));
        self.initialise(&model, seed)?;
        Ok(Built { model, hidden_outputs })
    }

    /// Draws the weights as [`init`](ModelSpec::init) says (biases 0), except for `pytorch`.
    fn initialise(&self, model: &Sequential, seed: u64) -> Result<()> {
        if self.init == "pytorch" {
            return Ok(());
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let gain_of = match self.activation.as_str() {
            "tanh" => "tanh",
            "sigmoid" => "sigmoid",
            "leaky_relu" => "leaky_relu",
            "linear" => "linear",
            _ => "relu",
        };
        let params = model.named_parameters();
        let last_weight = params.iter().rposition(|(_, p)| p.shape().len() == 2);
        for (i, (_, p)) in params.iter().enumerate() {
            if p.shape().len() != 2 {
                // Biases start at 0; BatchNorm's scales (its 1-D `weight`) stay 1.
                if params[i].0.ends_with(".bias") {
                    init::zeros_(p);
                }
                continue;
            }
            // The last layer feeds the loss, not an activation: gain 1.
            let nonlinearity = if Some(i) == last_weight { "linear" } else { gain_of };
            let slope = (nonlinearity == "leaky_relu").then_some(0.01);
            let gain = init::calculate_gain(nonlinearity, slope)?;
            match self.init.as_str() {
                "kaiming" => init::kaiming_normal_(p, slope.unwrap_or(0.0), FanMode::FanIn, nonlinearity, &mut rng)?,
                "xavier" => init::xavier_uniform_(p, gain, &mut rng)?,
                "normal" => init::normal_(p, 0.0, 1.0, &mut rng)?,
                _ => init::normal_(p, 0.0, 0.01, &mut rng)?,
            }
        }
        Ok(())
    }
}

fn add_activation(model: Sequential, activation: &str) -> Sequential {
    match activation {
        "relu" => model.add(ReLU),
        "tanh" => model.add(Tanh),
        "sigmoid" => model.add(Sigmoid),
        "leaky_relu" => model.add(LeakyReLU::new(0.01)),
        "gelu" => model.add(GELU::default()),
        "silu" => model.add(SiLU),
        _ => model.add::<Var, _>(Identity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hidden: Vec<usize>) -> ModelSpec {
        ModelSpec {
            hidden,
            activation: "tanh".into(),
            init: "kaiming".into(),
            batch_norm: true,
            dropout: 0.1,
        }
    }

    #[test]
    fn builds_the_layers_in_order() {
        let built = spec(vec![8, 4]).build(2, 3, 0).unwrap();
        // Linear, BatchNorm1d, Tanh, Dropout twice, then Linear.
        assert_eq!(built.model.len(), 9);
        assert_eq!(built.hidden_outputs, [2, 6]);
        let names: Vec<String> = built.model.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[..4], ["0.weight", "0.bias", "1.weight", "1.bias"]);
        let bn_scale = built.model.named_parameters()[2].1.to_tensor().to_vec();
        assert!(bn_scale.iter().all(|&v| v == 1.0), "BatchNorm's scale stays 1");
    }

    #[test]
    fn bad_specs_name_the_field() {
        let msg = |s: ModelSpec| s.validate().unwrap_err().message;
        assert!(msg(spec(vec![])).starts_with("hidden:"));
        assert!(msg(spec(vec![4, 0])).contains("hidden[1]") && msg(spec(vec![4, 0])).contains("got 0"));
        assert!(msg(spec(vec![65])).contains("got 65"));
        let mut s = spec(vec![4]);
        s.activation = "swish".into();
        assert!(msg(s).contains("\"swish\""));
        let mut s = spec(vec![4]);
        s.dropout = 1.0;
        assert!(msg(s).contains("dropout"));
    }
}
