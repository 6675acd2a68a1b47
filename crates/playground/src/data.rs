//! The toy data sets of the playground: points of the plane with a class each, seeded, split
//! into a training and a test part.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::api::ApiError;

/// The names of the data sets, as the API and the page spell them.
pub const DATASETS: [&str; 5] = ["spiral", "circles", "xor", "blobs", "iris"];

/// Iris (Fisher, 1936), 150 flowers: four measurements and the species.
const IRIS_CSV: &str = include_str!("../../../examples/data/iris.csv");

/// Points of the plane with their classes, split into training and test points.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The number of classes (the labels are `0..classes`).
    pub classes: usize,
    /// Training points, `[x, y]`, all within about `[-1, 1]²`.
    pub train_x: Vec<[f32; 2]>,
    /// Their classes.
    pub train_y: Vec<usize>,
    /// Test points.
    pub test_x: Vec<[f32; 2]>,
    /// Their classes.
    pub test_y: Vec<usize>,
}

impl Dataset {
    /// `points` points of data set `name` (one of [`DATASETS`]; Iris always has its 150), with
    /// Gaussian noise of std `noise` (in units of the plane, which spans about `[-1, 1]`), a
    /// share `train_ratio` of them for training, drawn from `seed`.
    pub fn generate(name: &str, points: usize, noise: f64, train_ratio: f64, seed: u64) -> Result<Dataset, ApiError> {
        if !(noise.is_finite() && (0.0..=1.0).contains(&noise)) {
            return Err(ApiError::bad(format!(
                "noise: expected a number in [0, 1], got {noise}"
            )));
        }
        if !(train_ratio.is_finite() && (0.1..=0.9).contains(&train_ratio)) {
            return Err(ApiError::bad(format!(
                "train_ratio: expected a number in [0.1, 0.9], got {train_ratio}"
            )));
        }
        if !(20..=5000).contains(&points) {
            return Err(ApiError::bad(format!(
                "points: expected 20 to 5000 points, got {points}"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let (classes, mut xy) = match name {
            "spiral" => (2, spiral(points, &mut rng)),
            "circles" => (2, circles(points, &mut rng)),
            "xor" => (2, xor(points, &mut rng)),
            "blobs" => (3, blobs(points, &mut rng)),
            "iris" => (3, iris()),
            other => return Err(ApiError::unknown("dataset", "data set", other, &DATASETS)),
        };
        let normal = Normal::new(0.0, noise.max(1e-12)).map_err(|e| ApiError::bad(format!("noise: {e}")))?;
        if noise > 0.0 {
            for (p, _) in &mut xy {
                p[0] += normal.sample(&mut rng) as f32;
                p[1] += normal.sample(&mut rng) as f32;
            }
        }
        xy.shuffle(&mut rng);
        let n_train = ((xy.len() as f64 * train_ratio).round() as usize).clamp(1, xy.len() - 1);
        let (train, test) = xy.split_at(n_train);
        Ok(Dataset {
            classes,
            train_x: train.iter().map(|p| p.0).collect(),
            train_y: train.iter().map(|p| p.1).collect(),
            test_x: test.iter().map(|p| p.0).collect(),
            test_y: test.iter().map(|p| p.1).collect(),
        })
    }
}

/// Two arms winding around the origin, one per class, radius 0 to 1 over 1.75 turns.
fn spiral(n: usize, rng: &mut StdRng) -> Vec<([f32; 2], usize)> {
    (0..n)
        .map(|i| {
            let class = i % 2;
            let r = (i / 2) as f64 / (n / 2) as f64;
            let t = 1.75 * r * 2.0 * std::f64::consts::PI + class as f64 * std::f64::consts::PI;
            let jitter = rng.random_range(-0.02..0.02);
            ([(r * t.sin() + jitter) as f32, (r * t.cos() - jitter) as f32], class)
        })
        .collect()
}

/// A disc of radius 0.5 (class 0) inside a ring from 0.7 to 1 (class 1).
fn circles(n: usize, rng: &mut StdRng) -> Vec<([f32; 2], usize)> {
    (0..n)
        .map(|i| {
            let class = i % 2;
            let r = if class == 0 {
                rng.random_range(0.0..0.5)
            } else {
                rng.random_range(0.7..1.0)
            };
            let t: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            ([(r * t.cos()) as f32, (r * t.sin()) as f32], class)
        })
        .collect()
}

/// Uniform points of `[-1, 1]²` kept off the axes; class 1 where `x·y > 0`.
fn xor(n: usize, rng: &mut StdRng) -> Vec<([f32; 2], usize)> {
    (0..n)
        .map(|_| {
            let mut c = || {
                let v: f64 = rng.random_range(0.05..1.0);
                if rng.random_bool(0.5) {
                    v
                } else {
                    -v
                }
            };
            let (x, y) = (c(), c());
            ([x as f32, y as f32], usize::from(x * y > 0.0))
        })
        .collect()
}

/// Three Gaussian blobs (std 0.2) centred on a circle of radius 0.6.
fn blobs(n: usize, rng: &mut StdRng) -> Vec<([f32; 2], usize)> {
    let normal = Normal::new(0.0, 0.2).expect("a positive std");
    (0..n)
        .map(|i| {
            let class = i % 3;
            let t = class as f64 * std::f64::consts::TAU / 3.0 + 0.5;
            let (cx, cy) = (0.6 * t.cos(), 0.6 * t.sin());
            let p = [(cx + normal.sample(rng)) as f32, (cy + normal.sample(rng)) as f32];
            (p, class)
        })
        .collect()
}

/// Iris's petal length and width, each scaled to `[-1, 1]`; the species as the class.
fn iris() -> Vec<([f32; 2], usize)> {
    let rows: Vec<(f32, f32, usize)> = IRIS_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Some((
                f.get(2)?.parse().ok()?,
                f.get(3)?.parse().ok()?,
                f.get(4)?.parse().ok()?,
            ))
        })
        .collect();
    let range = |get: fn(&(f32, f32, usize)) -> f32| {
        let lo = rows.iter().map(get).fold(f32::INFINITY, f32::min);
        let hi = rows.iter().map(get).fold(f32::NEG_INFINITY, f32::max);
        (lo, (hi - lo).max(1e-6))
    };
    let ((lx, wx), (ly, wy)) = (range(|r| r.0), range(|r| r.1));
    rows.iter()
        .map(|&(x, y, c)| ([2.0 * (x - lx) / wx - 1.0, 2.0 * (y - ly) / wy - 1.0], c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_set_splits_and_labels_its_points() {
        for name in DATASETS {
            let d = Dataset::generate(name, 200, 0.05, 0.5, 1).unwrap();
            let n = d.train_x.len() + d.test_x.len();
            assert_eq!(n, if name == "iris" { 150 } else { 200 }, "{name}");
            assert!(d.train_y.iter().chain(&d.test_y).all(|&c| c < d.classes), "{name}");
            assert!(
                (0..d.classes).all(|c| d.train_y.contains(&c)),
                "{name}: every class in training"
            );
            let far = d
                .train_x
                .iter()
                .chain(&d.test_x)
                .flatten()
                .fold(0f32, |m, v| m.max(v.abs()));
            assert!(far < 1.6, "{name}: {far}");
        }
        let a = Dataset::generate("spiral", 100, 0.1, 0.5, 7).unwrap();
        assert_eq!(a, Dataset::generate("spiral", 100, 0.1, 0.5, 7).unwrap());
        assert_ne!(a, Dataset::generate("spiral", 100, 0.1, 0.5, 8).unwrap());
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = Dataset::generate("moons", 200, 0.0, 0.5, 0).unwrap_err();
        assert!(
            e.message.contains("dataset") && e.message.contains("\"moons\""),
            "{}",
            e.message
        );
        let e = Dataset::generate("spiral", 200, f64::NAN, 0.5, 0).unwrap_err();
        assert!(
            e.message.contains("noise") && e.message.contains("NaN"),
            "{}",
            e.message
        );
        let e = Dataset::generate("spiral", 200, 0.1, 1.0, 0).unwrap_err();
        assert!(e.message.contains("train_ratio"), "{}", e.message);
    }
}
