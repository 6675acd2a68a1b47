//! The statistics of one tensor: mean, standard deviation, saturated and dead fractions and
//! histograms, in `f64`, as the [`record`](crate::record) types hold them.

use ferrograd_tensor::{Float, Tensor};

use crate::record::{Histogram, LayerKind};

/// A tanh unit is saturated where `|y|` is above this; a sigmoid unit where `y` is below
/// `1 - SATURATION` (0.03) or above `SATURATION` (0.97).
pub const SATURATION: f64 = 0.97;

/// Mean and population standard deviation of the tensor's elements (two passes, in `f64`),
/// and whether every element is finite. An empty tensor has mean and std 0.
pub fn mean_std<T: Float>(t: &Tensor<T>) -> (f64, f64, bool) {
    with_values(t, |v| mean_std_of(v.len(), |i| to_f64(v[i])))
}

/// [`mean_std`] of the elementwise difference `a - b` of two tensors of one shape (the
/// change an update made), without forming it; `None` if the shapes differ.
pub fn mean_std_of_difference<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> Option<(f64, f64, bool)> {
    if a.shape() != b.shape() {
        return None;
    }
    Some(with_values(a, |a| {
        with_values(b, |b| mean_std_of(a.len(), |i| to_f64(a[i]) - to_f64(b[i])))
    }))
}

/// The elements as one slice: the tensor's own memory when it is contiguous in standard
/// order (almost always), a copy otherwise.
fn with_values<T: Float, R>(t: &Tensor<T>, f: impl FnOnce(&[T]) -> R) -> R {
    match t.array().to_slice() {
        Some(v) => f(v),
        None => f(&t.array().iter().copied().collect::<Vec<_>>()),
    }
}

/// Mean, population std and finiteness of the `n` values `value(0..n)`, in two passes.
fn mean_std_of(n: usize, value: impl Fn(usize) -> f64) -> (f64, f64, bool) {
    if n == 0 {
        return (0.0, 0.0, true);
    }
    let sum = sum_of(n, &value);
    let mean = sum / n as f64;
    let var = sum_of(n, |i| (value(i) - mean) * (value(i) - mean)) / n as f64;
    (mean, var.sqrt(), sum.is_finite() && var.is_finite())
}

/// `value(0) + ... + value(n - 1)` in eight running sums, which the processor adds side by
/// side (one running sum waits for each addition to finish).
fn sum_of(n: usize, value: impl Fn(usize) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let whole = n - n % 8;
    for base in (0..whole).step_by(8) {
        for (lane, a) in acc.iter_mut().enumerate() {
            *a += value(base + lane);
        }
    }
    for i in whole..n {
        acc[i - whole] += value(i);
    }
    acc.iter().sum()
}

/// The fraction of elements that are saturated for a layer of `kind` (`None` for kinds that do
/// not saturate): `|y| > 0.97` for tanh, `y < 0.03` or `y > 0.97` for sigmoid.
pub fn saturated<T: Float>(kind: LayerKind, t: &Tensor<T>) -> Option<f64> {
    with_values(t, |a| saturated_of(kind, a))
}

fn saturated_of<T: Float>(kind: LayerKind, a: &[T]) -> Option<f64> {
    let n = a.len().max(1) as f64;
    let count = match kind {
        LayerKind::Tanh => a.iter().filter(|x| to_f64(**x).abs() > SATURATION).count(),
        LayerKind::Sigmoid => a
            .iter()
            .filter(|x| {
                let y = to_f64(**x);
                !(1.0 - SATURATION..=SATURATION).contains(&y)
            })
            .count(),
        LayerKind::Relu | LayerKind::Other => return None,
    };
    Some(count as f64 / n)
}

/// The fraction of units (positions in every dimension but the first, the batch) that are
/// exactly 0 for every example of the batch; `None` unless `kind` is ReLU. A tensor of fewer
/// than two dimensions is one example.
pub fn dead<T: Float>(kind: LayerKind, t: &Tensor<T>) -> Option<f64> {
    if kind != LayerKind::Relu {
        return None;
    }
    let batch = if t.ndim() < 2 { 1 } else { t.shape()[0] };
    with_values(t, |a| dead_of(a, batch))
}

fn dead_of<T: Float>(a: &[T], batch: usize) -> Option<f64> {
    let units = a.len().checked_div(batch).unwrap_or(0);
    if units == 0 {
        return Some(0.0);
    }
    let mut alive = vec![false; units];
    for (i, x) in a.iter().enumerate() {
        if *x != T::zero() {
            alive[i % units] = true;
        }
    }
    Some(alive.iter().filter(|a| !**a).count() as f64 / units as f64)
}

/// A histogram of the finite elements in `bins` equal bins from the smallest to the largest
/// (one bin of width 1 around the value when they are all equal).
pub fn histogram<T: Float>(t: &Tensor<T>, bins: usize, kind: LayerKind) -> Histogram {
    let bins = bins.max(1);
    let values: Vec<f64> = with_values(t, |v| v.iter().map(|x| to_f64(*x)).filter(|x| x.is_finite()).collect());
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
        (lo.min(x), hi.max(x))
    });
    let (lo, hi) = if values.is_empty() {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let width = (hi - lo) / bins as f64;
    let edges = (0..=bins)
        .map(|i| if i == bins { hi } else { lo + width * i as f64 })
        .collect();
    let mut counts = vec![0u64; bins];
    for x in &values {
        let i = (((x - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let (mean, std, _) = mean_std(t);
    Histogram {
        edges,
        counts,
        mean,
        std,
        saturated: saturated(kind, t),
    }
}

/// Whether every element is finite.
pub fn all_finite<T: Float>(t: &Tensor<T>) -> bool {
    t.array().iter().all(|x| x.is_finite())
}

/// The element as `f64` (NaN for one that has no `f64` value, which a float always has).
pub fn to_f64<T: Float>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// What a module's type name says about its output.
pub fn kind_of(module_type: &str) -> LayerKind {
    match module_type {
        "Tanh" => LayerKind::Tanh,
        "Sigmoid" => LayerKind::Sigmoid,
        "ReLU" => LayerKind::Relu,
        _ => LayerKind::Other,
    }
}
