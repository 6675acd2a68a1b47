//! Statistics and their gradients: `var` / `std` over one or several dimensions with
//! Bessel's correction, and the minimum.

use ferrograd_tensor::{normalize_dims, Float, Result, Tensor};

use crate::Var;

impl<T: Float> Var<T> {
    /// The variance over `dims` (all if empty) with `correction` (PyTorch's default is 1),
    /// as `torch.var(x, dims, correction=c, keepdim=k)`; see [`Tensor::var_dim`].
    ///
    /// Gradient (PyTorch's `var_backward`): `2/(N - c) · g · (x - mean)`.
    pub fn var_dim(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().var_dim(dims, correction, keepdim)?;
        let reduced = normalize_dims("var", dims, self.ndim())?;
        Ok(Var::from_op("VarBackward0", out, [self.clone()], move |g, _, x| {
            let g = restore_dims(g, &reduced, keepdim)?;
            Ok([Some(var_backward(&g, &x[0], &reduced, correction)?)])
        }))
    }

    /// The standard deviation over `dims` (all if empty), as `torch.std(x, dims,
    /// correction=c, keepdim=k)`.
    ///
    /// Gradient (PyTorch's `std_backward`): the variance's, of `g / (2·std)`, with 0 where the
    /// standard deviation is 0 (a constant input gets gradient 0, not NaN).
    pub fn std_dim(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().std_dim(dims, correction, keepdim)?;
        let reduced = normalize_dims("std", dims, self.ndim())?;
        Ok(Var::from_op("StdBackward0", out, [self.clone()], move |g, out, x| {
            let (g, out) = (
                restore_dims(g, &reduced, keepdim)?,
                restore_dims(out, &reduced, keepdim)?,
            );
            let zero = out.value().eq_scalar(T::zero());
            let g_var = g.try_div(&out.mul_scalar(T::of(2.0)))?.masked_fill(&zero, T::zero())?;
            Ok([Some(var_backward(&g_var, &x[0], &reduced, correction)?)])
        }))
    }

    /// The variance of every element (a 0-d `Var`), as `torch.var(x, correction=c)`.
    pub fn var(&self, correction: usize) -> Var<T> {
        self.var_dim(&[], correction, false).expect("every dimension is valid")
    }

    /// The standard deviation of every element, as `torch.std(x, correction=c)`.
    pub fn std(&self, correction: usize) -> Var<T> {
        self.std_dim(&[], correction, false).expect("every dimension is valid")
    }

    /// The smallest element; the gradient is shared evenly among tied minima, as `torch.min(t)`.
    pub fn min(&self) -> Result<Var<T>> {
        let out = self.value().min()?;
        Ok(Var::from_op("MinBackward1", out, [self.clone()], |g, out, x| {
            Ok([Some(g.try_mul(&share_among_equal(&x[0].value(), &out.value())?)?)])
        }))
    }

    /// The smallest element along `dim`; the gradient is shared evenly among tied minima, as
    /// `torch.amin(t, dim)` (the mirror of [`max_dim`](Var::max_dim)).
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<Var<T>> {
        let out = self.value().min_dim(dim, keepdim)?;
        let reduced = normalize_dims("min", &[dim], self.ndim())?;
        Ok(Var::from_op("AminBackward0", out, [self.clone()], move |g, out, x| {
            let out_k = restore_dims(out, &reduced, keepdim)?.to_tensor();
            let g_k = restore_dims(g, &reduced, keepdim)?;
            Ok([Some(g_k.try_mul(&share_among_equal(&x[0].value(), &out_k)?)?)])
        }))
    }
}

/// `2/(N - c) · g · (x - mean)` with the mean over `reduced` and `g` of the kept shape:
/// written with `Var` ops, so that it can be differentiated again. `N <= c` divides by zero,
/// as in PyTorch.
fn var_backward<T: Float>(g: &Var<T>, x: &Var<T>, reduced: &[usize], correction: usize) -> Result<Var<T>> {
    let shape = x.shape();
    let n: usize = reduced.iter().map(|&d| shape[d]).product();
    let mut sum = x.clone();
    for &d in reduced {
        sum = sum.sum_dim(d as isize, true)?;
    }
    let mean = sum.div_scalar(T::of(n as f64));
    let scale = T::of(2.0) / T::of(n.saturating_sub(correction) as f64);
    g.mul_scalar(scale).try_mul(&x.try_sub(&mean)?)
}

/// Puts back the reduced dimensions (size 1) of a reduction's output or its gradient.
fn restore_dims<T: Float>(v: &Var<T>, reduced: &[usize], keepdim: bool) -> Result<Var<T>> {
    if keepdim {
        return Ok(v.clone());
    }
    let mut v = v.clone();
    for &d in reduced {
        v = v.unsqueeze(d as isize)?;
    }
    Ok(v)
}

/// `1/k` at each of the `k` positions equal to the (broadcast) extreme `m`, 0 elsewhere.
fn share_among_equal<T: Float>(x: &Tensor<T>, m: &Tensor<T>) -> Result<Var<T>> {
    let is_m = x.zip_map(m, "min", |a, m| if a == m { T::one() } else { T::zero() })?;
    let count = is_m.sum_to_shape(m.shape())?;
    Ok(Var::new(is_m.div(&count)?))
}
