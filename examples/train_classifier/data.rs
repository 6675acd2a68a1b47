//! The data of `train_classifier`: a seeded 3-class spiral, a CSV reader with errors that
//! name the line, a seeded train/test split, and standardization fitted on the training rows.
//!
//! Plain Rust over `Vec<f32>`, with no ferrograd types, so that tests can include this file
//! with `#[path]` and check it on its own.

use std::fmt;

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

/// What is wrong with a CSV file; [`fmt::Display`] gives a message for the user, with the
/// 1-based line number where there is one.
#[derive(Debug, Clone, PartialEq)]
pub enum CsvError {
    /// No data rows at all.
    Empty,
    /// A row with a different number of columns than the first.
    Columns { line: usize, expected: usize, found: usize },
    /// A feature that is not a finite number.
    Number { line: usize, column: usize, value: String },
    /// A label that is not an integer.
    Label { line: usize, value: String },
    /// Fewer than two columns: no feature, or no label.
    TooFewColumns { line: usize, found: usize },
    /// Fewer than two distinct labels.
    OneClass { label: String },
    /// Too few rows to split into a training and a test set.
    TooFewRows { rows: usize },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Empty => write!(f, "no data rows"),
            CsvError::Columns { line, expected, found } => {
                write!(f, "line {line}: expected {expected} columns, found {found}")
            }
            CsvError::Number { line, column, value } => {
                write!(f, "line {line}, column {column}: {value:?} is not a finite number")
            }
            CsvError::Label { line, value } => {
                write!(
                    f,
                    "line {line}: label {value:?} is not an integer (the last column holds the class)"
                )
            }
            CsvError::TooFewColumns { line, found } => write!(
                f,
                "line {line}: {found} column(s); expected at least one feature column and a label column"
            ),
            CsvError::OneClass { label } => {
                write!(f, "every row has label {label}: a classifier needs at least 2 classes")
            }
            CsvError::TooFewRows { rows } => {
                write!(
                    f,
                    "{rows} data row(s): at least 2 are needed for a training and a test set"
                )
            }
        }
    }
}

impl std::error::Error for CsvError {}

/// Parses CSV text: numeric feature columns, then an integer label in the last column. The
/// first line is a header if any of its fields is not a number. Blank lines are skipped.
/// Classes are the distinct labels in increasing order.
pub fn parse_csv(text: &str) -> Result<Dataset, CsvError> {
    let mut header: Option<Vec<String>> = None;
    let mut width = None;
    let mut features = Vec::new();
    let mut raw_labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < 2 {
            return Err(CsvError::TooFewColumns {
                line: line_no,
                found: fields.len(),
            });
        }
        let is_first = width.is_none();
        if is_first && fields.iter().any(|f| f.parse::<f64>().is_err()) {
            header = Some(fields.iter().map(|s| s.to_string()).collect());
            width = Some(fields.len());
            continue;
        }
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(CsvError::Columns {
                line: line_no,
                expected,
                found: fields.len(),
            });
        }
        let (label, values) = fields.split_last().expect("at least two fields");
        for (c, v) in values.iter().enumerate() {
            match v.parse::<f32>() {
                Ok(x) if x.is_finite() => features.push(x),
                _ => {
                    return Err(CsvError::Number {
                        line: line_no,
                        column: c + 1,
                        value: v.to_string(),
                    })
                }
            }
        }
        let Some(label) = parse_integer(label) else {
            return Err(CsvError::Label {
                line: line_no,
                value: label.to_string(),
            });
        };
        raw_labels.push(label);
    }
    let Some(width) = width else {
        return Err(CsvError::Empty);
    };
    if raw_labels.is_empty() {
        return Err(CsvError::Empty);
    }
    let mut classes = raw_labels.clone();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return Err(CsvError::OneClass {
            label: classes[0].to_string(),
        });
    }
    if raw_labels.len() < 2 {
        return Err(CsvError::TooFewRows { rows: raw_labels.len() });
    }
    let labels = raw_labels
        .iter()
        .map(|l| classes.binary_search(l).expect("a known class") as i64)
        .collect();
    let feature_names = match header {
        Some(h) => h[..width - 1].to_vec(),
        None => (1..width).map(|c| format!("feature {c}")).collect(),
    };
    Ok(Dataset {
        features,
        labels,
        feature_names,
        class_names: classes.iter().map(i64::to_string).collect(),
    })
}

/// `3`, or `3.0` as written by tools that save every column as a float.
fn parse_integer(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| {
        let x = s.parse::<f64>().ok()?;
        (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
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
