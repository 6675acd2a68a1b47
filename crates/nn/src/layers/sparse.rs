//! [`Embedding`]: a lookup table of vectors indexed by class, as `nn.Embedding`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Tensor};
use rand::SeedableRng;

use crate::functional::embedding::{embedding, resolve_padding_idx};
use crate::{Forward, Module};

/// A table of `num_embeddings` vectors of size `embedding_dim`; `forward` takes class indices
/// of any shape and returns their rows, shape `indices.shape + [embedding_dim]`.
///
/// Initialised N(0, 1) as PyTorch; the `padding_idx` row starts at zero and never gets a
/// gradient.
///
/// ```
/// use ferrograd_nn::{Embedding, Forward, Module};
/// use ferrograd_tensor::IndexTensor;
///
/// let emb = Embedding::<f32>::new(27, 8, 0).padding_idx(0)?;
/// let out = emb.forward(&IndexTensor::from_vec(vec![0, 3, 3, 1], &[2, 2])?)?;
/// assert_eq!(out.shape(), [2, 2, 8]);
/// out.sum().backward()?;
/// let grad = emb.weight.grad().unwrap();
/// assert!(grad.to_vec()[..8].iter().all(|&g| g == 0.0)); // row 0 is the padding row
/// assert!(grad.to_vec()[24..32].iter().all(|&g| g == 2.0)); // index 3 twice
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Module)]
pub struct Embedding<T: Float = f32> {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Var<T>,
    /// The row that gets no gradient, if any (as a row number, `0..num_embeddings`).
    #[module(skip)]
    pub padding_idx: Option<usize>,
}

impl<T: Float> Embedding<T> {
    /// A table initialised N(0, 1) from a seed.
    ///
    /// # Panics
    /// If `num_embeddings × embedding_dim` is too large for a tensor, as [`Tensor::zeros`].
    pub fn new(num_embeddings: usize, embedding_dim: usize, seed: u64) -> Self {
        Self::with_rng(
            num_embeddings,
            embedding_dim,
            &mut rand::rngs::StdRng::seed_from_u64(seed),
        )
    }

    /// A table initialised N(0, 1) with the given generator.
    ///
    /// # Panics
    /// As [`Embedding::new`].
    pub fn with_rng<R: rand::Rng + ?Sized>(num_embeddings: usize, embedding_dim: usize, rng: &mut R) -> Self {
        let shape = [num_embeddings, embedding_dim];
        let weight = Tensor::normal(&shape, 0.0, 1.0, rng).unwrap_or_else(|e| panic!("{e}"));
        Self {
            weight: Var::parameter(weight),
            padding_idx: None,
        }
    }

    /// A table with the given weight `[num_embeddings, embedding_dim]`, as
    /// `nn.Embedding.from_pretrained(weight, freeze=False)`.
    pub fn from_tensor(weight: Tensor<T>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(Error::invalid(
                "Embedding",
                format!(
                    "Embeddings parameter is expected to be 2-dimensional, got shape {:?}",
                    weight.shape()
                ),
            ));
        }
        Ok(Self {
            weight: Var::parameter(weight),
            padding_idx: None,
        })
    }

    /// Makes row `padding_idx` (negative counts from the end) the padding row: set to zero
    /// now, and never given a gradient.
    pub fn padding_idx(mut self, padding_idx: i64) -> Result<Self> {
        let shape = self.weight.shape();
        let row = resolve_padding_idx("Embedding", padding_idx, shape[0])?;
        let mut w = self.weight.try_value_mut()?;
        for j in 0..shape[1] {
            w.array_mut()[[row, j]] = T::zero();
        }
        drop(w);
        self.padding_idx = Some(row);
        Ok(self)
    }

    /// The number of rows.
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The size of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }
}

impl<T: Float> Forward<IndexTensor, T> for Embedding<T> {
    type Output = Var<T>;

    fn forward(&self, input: &IndexTensor) -> Result<Var<T>> {
        embedding(input, &self.weight, self.padding_idx.map(|p| p as i64))
    }
}
