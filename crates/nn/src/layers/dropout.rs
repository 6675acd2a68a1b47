//! [`Dropout`]: random zeroing in training, the identity in evaluation.

use std::cell::RefCell;

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, Result, Tensor};
use rand::distr::Bernoulli;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Forward, Module, TrainingFlag};

/// `nn.Dropout`: in training mode (the default) each element is zeroed with probability `p`
/// and the others are scaled by `1/(1-p)`, so the expected value is unchanged; in evaluation
/// mode it is the identity.
///
/// The masks come from a generator seeded at construction: the same seed gives the same
/// sequence of masks, one per `forward`. The output is `x · mask` with a constant mask, so the
/// gradient is the mask too.
///
/// ```
/// use ferrograd_autograd::Var;
/// use ferrograd_nn::{Dropout, Forward};
/// use ferrograd_tensor::Tensor;
///
/// let dropout = Dropout::new(0.5, 42)?;
/// let x = Var::new(Tensor::<f32>::ones(&[1000]));
/// let y = dropout.forward(&x)?.to_tensor().to_vec();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// dropout.eval();
/// assert_eq!(dropout.forward(&x)?.to_tensor(), x.to_tensor());
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Module)]
#[module(any_float)]
pub struct Dropout {
    p: f64,
    training: TrainingFlag,
    #[module(skip)]
    rng: RefCell<StdRng>,
}

impl Dropout {
    /// Drops with probability `p` in `[0, 1]`, masks drawn from `seed`; starts in training mode.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "Dropout",
                format!("dropout probability has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Self {
            p,
            training: TrainingFlag::default(),
            rng: RefCell::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// The probability of zeroing an element.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training.get()
    }

    /// Training mode, as `dropout.train()` (the same as [`Module::train`], without having to
    /// name the element type).
    pub fn train(&self) {
        self.training.set(true);
    }

    /// Evaluation mode, as `dropout.eval()`.
    pub fn eval(&self) {
        self.training.set(false);
    }
}

impl<T: Float> Forward<Var<T>, T> for Dropout {
    type Output = Var<T>;

    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        if !self.training.get() || self.p == 0.0 {
            return Ok(x.clone());
        }
        // As ATen's `_dropout_impl`: a Bernoulli(1-p) mask divided by 1-p, times the input.
        let keep = 1.0 - self.p;
        let scale = T::one() / T::of(keep);
        // `rng.random_bool(keep)` for each element, with its Bernoulli set up once: the same
        // draws (one u64 each) and so the same masks.
        let keep = Bernoulli::new(keep).map_err(|e| Error::invalid("Dropout", e.to_string()))?;
        let mut rng = self.rng.borrow_mut();
        let mask = (0..x.numel())
            .map(|_| if rng.sample(keep) { scale } else { T::zero() })
            .collect();
        x.try_mul(&Var::new(Tensor::from_vec(mask, &x.shape())?))
    }
}
