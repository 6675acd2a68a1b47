//! The data of `train_classifier`: a seeded 3-class spiral, CSV files (read by the library's
//! [`ferrograd::nn::csv`], whose errors name the line), a seeded train/test split, and
//! standardization fitted on the training rows.
//!
//! Plain Rust over `Vec<f32>`, so that tests can include this file with `#[path]` and check it
//! on its own.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Rows of features with a class per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major `len() × n_features()` values.
    pub features: Vec<f32>,
    /// The class of each row, in `0..n_classes()`.
    pub labels: Vec<i64>,
    /// A name per feature column (`x`, `y` for the spiral; the CSV header, or `feature 1`, ...).
    pub feature_names: Vec<String>,
    /// The label each class index stands for (the spiral's `0`, `1`, `2`; the CSV's labels, sorted).
    pub class_names: Vec<String>,
}

impl Dataset {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The number of feature columns.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.n_features();
        &self.features[i * d..(i + 1) * d]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            features: indices.iter().flat_map(|&i| self.row(i).iter().copied()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        }
    }

    /// A seeded random split into `(train, test)`, `test_fraction` of the rows (at least one,
    /// and at least one left for training) going to the test set.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let n_test = ((self.len() as f64 * test_fraction).round() as usize).clamp(1, self.len().saturating_sub(1));
        let (test, train) = order.split_at(n_test);
        (self.select(train), self.select(test))
    }
}

/// `n_classes` interleaved spiral arms of `per_class` points each, as in CS231n: arm `k` has
/// radius `r` from 0 to 1 and angle `4k + 4r` plus Gaussian noise of standard deviation
/// `noise`; the same seed gives the same points.
pub fn spiral(per_class: usize, n_classes: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(per_class * n_classes * 2);
    let mut labels = Vec::with_capacity(per_class * n_classes);
    for k in 0..n_classes {
        for i in 0..per_class {
            let r = if per_class > 1 {
                i as f64 / (per_class - 1) as f64
            } else {
                0.5
            };
            let angle = 4.0 * k as f64 + 4.0 * r + noise * standard_normal(&mut rng);
            features.push((r * angle.sin()) as f32);
            features.push((r * angle.cos()) as f32);
            labels.push(k as i64);
        }
    }
    Dataset {
        features,
        labels,
        feature_names: vec!["x".into(), "y".into()],
        class_names: (0..n_classes).map(|k| k.to_string()).collect(),
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]: log is finite
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// What is wrong with a CSV file: the library's [`CsvError`](ferrograd::nn::csv::CsvError),
/// whose `Display` gives a message for the user with the 1-based line number where there is one.
pub use ferrograd::nn::csv::CsvError;

/// Parses CSV text with [`ferrograd::nn::csv::parse_csv`]: numeric feature columns, then an
/// integer label in the last column; the first line is a header if none of its fields is a
/// number (a line mixing both is an error); blank lines are skipped; classes are the distinct
/// labels in increasing order.
pub fn parse_csv(text: &str) -> Result<Dataset, CsvError> {
    let table = ferrograd::nn::csv::parse_csv::<f32>(text)?;
    Ok(Dataset {
        features: table.features.to_vec(),
        labels: table.labels.to_vec(),
        feature_names: table.feature_names,
        class_names: table.class_names,
    })
}

/// Reads and parses a CSV file; the error names the file.
pub fn load_csv(path: &str) -> Result<Dataset, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_csv(&text).map_err(|e| format!("{path}: {e}"))
}

/// Per-feature mean and standard deviation, fitted on training rows and applied to any rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// The mean of each feature.
    pub mean: Vec<f32>,
    /// The (population) standard deviation of each feature; 1 where a feature is constant.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits the mean and standard deviation of each feature of `data`.
    pub fn fit(data: &Dataset) -> Standardizer {
        let (n, d) = (data.len().max(1) as f64, data.n_features());
        let mut mean = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        for i in 0..data.len() {
            for (j, &x) in data.row(i).iter().enumerate() {
                mean[j] += x as f64 / n;
            }
        }
        for i in 0..data.len() {
            for (j, &x) in data.row(i).iter().enumerate() {
                sq[j] += (x as f64 - mean[j]).powi(2) / n;
            }
        }
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: sq
                .iter()
                .map(|&v| if v > 1e-12 { v.sqrt() as f32 } else { 1.0 })
                .collect(),
        }
    }

    /// `(x - mean) / std` for one row.
    pub fn transform_row(&self, row: &[f32]) -> Vec<f32> {
        row.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(&x, (&m, &s))| (x - m) / s)
            .collect()
    }

    /// A copy of `data` with every row standardized.
    pub fn transform(&self, data: &Dataset) -> Dataset {
        let features = (0..data.len()).flat_map(|i| self.transform_row(data.row(i))).collect();
        Dataset {
            features,
            ..data.clone()
        }
    }
}
