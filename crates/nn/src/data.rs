//! [`DataLoader`]: seeded, shuffled mini-batches of a labelled data set.

use ferrograd_tensor::ndarray::Axis;
use ferrograd_tensor::{Error, Float, IndexTensor, Result, Shape, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Mini-batches of `(features, labels)` along the first dimension, as
/// `torch.utils.data.DataLoader(TensorDataset(x, y), batch_size, shuffle)`: the last batch
/// may be smaller; with `shuffle` the order is a permutation drawn from `(seed, epoch)`, so
/// every epoch differs and any epoch can be replayed.
///
/// ```
/// use ferrograd_nn::DataLoader;
/// use ferrograd_tensor::{IndexTensor, Tensor};
///
/// let x = Tensor::<f32>::arange(10).reshape(&[5, 2])?;
/// let y = IndexTensor::from_slice(&[0, 1, 0, 1, 1]);
/// let loader = DataLoader::new(x, y, 2, true, 7)?;
/// let sizes: Vec<usize> = loader.batches(0).map(|(x, y)| y.numel()).collect();
/// assert_eq!(sizes, vec![2, 2, 1]);
/// # Ok::<(), ferrograd_tensor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DataLoader<T: Float = f32> {
    features: Tensor<T>,
    labels: IndexTensor,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
}

impl<T: Float> DataLoader<T> {
    /// A loader of `features` (`[n, ...]`) and `labels` (`[n, ...]`) in batches of
    /// `batch_size`; the lengths must agree and `batch_size` be positive.
    pub fn new(features: Tensor<T>, labels: IndexTensor, batch_size: usize, shuffle: bool, seed: u64) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid(
                "DataLoader",
                "batch_size should be a positive integer value, but got batch_size=0",
            ));
        }
        let (n, m) = (features.shape().first(), labels.shape().first());
        if n.is_none() || n != m {
            return Err(Error::ShapeMismatch {
                op: "DataLoader",
                lhs: Shape(features.shape().to_vec()),
                rhs: Shape(labels.shape().to_vec()),
                reason: "features and labels need the same size along a first dimension".into(),
            });
        }
        Ok(Self {
            features,
            labels,
            batch_size,
            shuffle,
            seed,
        })
    }

    /// The number of samples.
    pub fn num_samples(&self) -> usize {
        self.features.shape()[0]
    }

    /// The number of batches in an epoch.
    pub fn len(&self) -> usize {
        self.num_samples().div_ceil(self.batch_size)
    }

    /// Whether an epoch has no batch (no samples).
    pub fn is_empty(&self) -> bool {
        self.num_samples() == 0
    }

    /// The sample indices of `epoch`, in the order they are served.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.num_samples()).collect();
        if self.shuffle {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&self.seed.to_le_bytes());
            key[8..16].copy_from_slice(&epoch.to_le_bytes());
            order.shuffle(&mut StdRng::from_seed(key));
        }
        order
    }

    /// The batches of `epoch`.
    pub fn batches(&self, epoch: u64) -> impl Iterator<Item = (Tensor<T>, IndexTensor)> + '_ {
        let order = self.order(epoch);
        (0..self.len()).map(move |b| {
            let idx = &order[b * self.batch_size..((b + 1) * self.batch_size).min(order.len())];
            (
                Tensor::from_array(self.features.array().select(Axis(0), idx)),
                IndexTensor::from_array(self.labels.array().select(Axis(0), idx)),
            )
        })
    }
}
