//! `DataLoader`: every sample exactly once per epoch, in batches of `batch_size` with a
//! smaller last one, deterministic for a seed and epoch, and its argument checks.

use ferrograd_nn::DataLoader;
use ferrograd_tensor::{Error, IndexTensor, Tensor};

/// Sample `i` has features `[i, 100 + i]` and label `i`, so a batch shows which samples it holds.
fn loader(n: usize, batch_size: usize, shuffle: bool, seed: u64) -> DataLoader<f32> {
    let features: Vec<f32> = (0..n).flat_map(|i| [i as f32, 100.0 + i as f32]).collect();
    let labels: Vec<i64> = (0..n as i64).collect();
    DataLoader::new(
        Tensor::from_vec(features, &[n, 2]).unwrap(),
        IndexTensor::from_slice(&labels),
        batch_size,
        shuffle,
        seed,
    )
    .unwrap()
}

/// The labels of each batch, after checking each batch's features belong to its labels.
fn epoch(l: &DataLoader<f32>, e: u64) -> Vec<Vec<i64>> {
    l.batches(e)
        .map(|(x, y)| {
            let labels = y.to_vec();
            let rows: Vec<f32> = labels.iter().flat_map(|&i| [i as f32, 100.0 + i as f32]).collect();
            assert_eq!(x.shape(), &[labels.len(), 2]);
            assert_eq!(x.to_vec(), rows, "features and labels stay together");
            labels
        })
        .collect()
}

#[test]
fn every_sample_once_per_epoch_with_a_smaller_last_batch() {
    let l = loader(10, 4, true, 1);
    assert_eq!((l.len(), l.num_samples()), (3, 10));
    for e in 0..3 {
        let batches = epoch(&l, e);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<i64> = batches.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
    assert_eq!(loader(8, 4, false, 0).len(), 2, "no empty last batch");
}

#[test]
fn without_shuffle_the_order_is_the_data_order() {
    let batches = epoch(&loader(7, 3, false, 5), 4);
    assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn shuffled_order_is_fixed_by_seed_and_epoch() {
    let (a, b) = (loader(50, 8, true, 11), loader(50, 8, true, 11));
    assert_eq!(epoch(&a, 0), epoch(&b, 0), "same seed and epoch, same batches");
    assert_eq!(epoch(&a, 3), epoch(&a, 3), "an epoch can be replayed");
    assert_ne!(epoch(&a, 0), epoch(&a, 1), "each epoch is shuffled anew");
    assert_ne!(
        epoch(&a, 0),
        epoch(&loader(50, 8, true, 12), 0),
        "another seed, another order"
    );
    assert_ne!(a.order(0), (0..50).collect::<Vec<_>>(), "actually shuffled");
}

#[test]
fn labels_of_any_rank_and_empty_data_sets() {
    let x = Tensor::<f64>::zeros(&[4, 3, 2]);
    let y = IndexTensor::from_vec(vec![0; 8], &[4, 2]).unwrap();
    let l = DataLoader::new(x, y, 3, true, 0).unwrap();
    let shapes: Vec<(Vec<usize>, Vec<usize>)> = l
        .batches(0)
        .map(|(x, y)| (x.shape().to_vec(), y.shape().to_vec()))
        .collect();
    assert_eq!(shapes, vec![(vec![3, 3, 2], vec![3, 2]), (vec![1, 3, 2], vec![1, 2])]);

    let empty = DataLoader::new(Tensor::<f32>::zeros(&[0, 2]), IndexTensor::from_slice(&[]), 4, true, 0).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.batches(0).count(), 0);
}

#[test]
fn mismatched_lengths_and_zero_batch_size_are_errors() {
    let x = || Tensor::<f32>::zeros(&[5, 2]);
    let e = DataLoader::new(x(), IndexTensor::from_slice(&[0, 1, 2]), 2, false, 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "DataLoader", .. }), "{e}");
    let e = DataLoader::new(x(), IndexTensor::scalar(1), 2, false, 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = DataLoader::new(Tensor::scalar(1.0), IndexTensor::scalar(1), 2, false, 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let e = DataLoader::new(x(), IndexTensor::from_slice(&[0, 1, 2, 3, 4]), 0, false, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "DataLoader: batch_size should be a positive integer value, but got batch_size=0"
    );
}
