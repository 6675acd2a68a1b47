//! The attention op: `O = softmax(Q·Kᵀ·scale + mask)·V` for each of the `n` matrices of a batch,
//! optionally with the causal mask, forward and gradient each one pass over the batch with no
//! tensor made per head. `Q` is `[L, E]`, `K` `[S, E]`, `V` `[S, Ev]`; a row whose every
//! position is masked gives zeros (PyTorch 2.x's `_safe_softmax`).
//!
//! Gradient (PyTorch's `_scaled_dot_product_attention_math` differentiated), with `P` the
//! attention weights and `dO` the output's gradient:
//! - `V`: `Pᵀ·dO`;
//! - through the softmax: `dS = P ⊙ (dO·Vᵀ - rowsum(P ⊙ dO·Vᵀ))`;
//! - `Q`: `dS·K·scale`;  `K`: `dSᵀ·Q·scale`.
//!
//! When the gradient is itself recorded (`create_graph`), the same formulas are written with
//! `Var` ops from the inputs, so that they can be differentiated again.

use std::rc::Rc;

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_tensor::{Float, Result, Tensor};

/// The attention weights of `(query, key)`, written with `Var` ops.
type Weights<T> = dyn Fn(&Var<T>, &Var<T>) -> Result<Var<T>>;

/// The sizes of one attention: `n` products of `L x E` queries, `S x E` keys and `S x Ev`
/// values, with or without the causal mask (query `i` sees keys `0..=i`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub n: usize,
    pub l: usize,
    pub s: usize,
    pub e: usize,
    pub ev: usize,
    pub causal: bool,
}

impl Sizes {
    /// How many keys query `i` sees.
    fn seen(&self, i: usize) -> usize {
        if self.causal {
            (i + 1).min(self.s)
        } else {
            self.s
        }
    }
}

/// Attention over `query`, `key`, `value` of the same batch shape (checked by the caller), as
/// one op; `weights` computes the attention weights with `Var` ops for a recorded gradient.
pub(crate) fn fused_attention<T: Float>(
    query: &Var<T>,
    key: &Var<T>,
    value: &Var<T>,
    sizes: Sizes,
    scale: T,
    weights: impl Fn(&Var<T>, &Var<T>) -> Result<Var<T>> + 'static,
) -> Result<Var<T>> {
    let mut out_shape = query.shape();
    *out_shape.last_mut().expect("at least 2-D") = sizes.ev;
    let (out, probs) = {
        let (q, k, v) = (standard(query), standard(key), standard(value));
        forward(&q, &k, &v, sizes, scale)
    };
    let probs = Rc::new(probs);
    Ok(Var::from_op(
        "ScaledDotProductAttentionBackward0",
        Tensor::from_vec(out, &out_shape)?,
        [query.clone(), key.clone(), value.clone()],
        move |g, _, x| {
            if is_grad_enabled() {
                return recorded_backward(g, &x[0], &x[1], &x[2], scale, &weights);
            }
            let (q, k, v, g) = (standard(&x[0]), standard(&x[1]), standard(&x[2]), standard(g));
            let (dq, dk, dv) = backward(&q, &k, &v, &g, &probs, sizes, scale);
            let grad = |d: Vec<T>, like: &Var<T>| Tensor::from_vec(d, &like.shape()).map(|t| Some(Var::new(t)));
            Ok([grad(dq, &x[0])?, grad(dk, &x[1])?, grad(dv, &x[2])?])
        },
    ))
}

/// The values of `x` in row-major order (copied only if `x` is a strided view).
fn standard<T: Float>(x: &Var<T>) -> Vec<T> {
    let value = x.value();
    match value.array().as_slice() {
        Some(s) => s.to_vec(),
        None => value.array().iter().copied().collect(),
    }
}

/// The output `[n, L, Ev]` and the attention weights `[n, L, S]` (zero where masked).
fn forward<T: Float>(q: &[T], k: &[T], v: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>) {
    let mut out = vec![T::zero(); z.n * z.l * z.ev];
    let mut probs = vec![T::zero(); z.n * z.l * z.s];
    for b in 0..z.n {
        let (qb, kb, vb) = (&q[b * z.l * z.e..], &k[b * z.s * z.e..], &v[b * z.s * z.ev..]);
        for i in 0..z.l {
            let row = &mut probs[(b * z.l + i) * z.s..][..z.s];
            let seen = z.seen(i);
            if seen == 0 {
                continue; // every key masked: zero weights, zero output
            }
            let qi = &qb[i * z.e..][..z.e];
            for (j, p) in row[..seen].iter_mut().enumerate() {
                *p = dot(qi, &kb[j * z.e..][..z.e]) * scale;
            }
            softmax_in_place(&mut row[..seen]);
            let oi = &mut out[(b * z.l + i) * z.ev..][..z.ev];
            for (j, &p) in row[..seen].iter().enumerate() {
                axpy(oi, p, &vb[j * z.ev..][..z.ev]);
            }
        }
    }
    (out, probs)
}

/// The gradients of `q`, `k` and `v` from the output's gradient `g`.
fn backward<T: Float>(q: &[T], k: &[T], v: &[T], g: &[T], probs: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dq = vec![T::zero(); q.len()];
    let mut dk = vec![T::zero(); k.len()];
    let mut dv = vec![T::zero(); v.len()];
    let mut ds = vec![T::zero(); z.s];
    for b in 0..z.n {
        let (qb, kb, vb) = (&q[b * z.l * z.e..], &k[b * z.s * z.e..], &v[b * z.s * z.ev..]);
        let dkb = &mut dk[b * z.s * z.e..][..z.s * z.e];
        let dvb = &mut dv[b * z.s * z.ev..][..z.s * z.ev];
        for i in 0..z.l {
            let seen = z.seen(i);
            let p = &probs[(b * z.l + i) * z.s..][..seen];
            let gi = &g[(b * z.l + i) * z.ev..][..z.ev];
            // dV[j] += P[i, j]·dO[i];  dP[i, j] = dO[i]·V[j]
            let mut weighted = T::zero();
            for (j, (&pj, d)) in p.iter().zip(ds.iter_mut()).enumerate() {
                axpy(&mut dvb[j * z.ev..][..z.ev], pj, gi);
                *d = dot(gi, &vb[j * z.ev..][..z.ev]);
                weighted += pj * *d;
            }
            // dS[i, j] = P[i, j]·(dP[i, j] - Σ P⊙dP), then dQ[i] and dK[j], scaled.
            let qi = &qb[i * z.e..][..z.e];
            let dqi = &mut dq[(b * z.l + i) * z.e..][..z.e];
            for (j, (&pj, &d)) in p.iter().zip(&ds).enumerate() {
                let s = pj * (d - weighted) * scale;
                axpy(dqi, s, &kb[j * z.e..][..z.e]);
                axpy(&mut dkb[j * z.e..][..z.e], s, qi);
            }
        }
    }
    (dq, dk, dv)
}

/// The same gradients as [`backward`], written with `Var` ops so that they are recorded.
fn recorded_backward<T: Float>(
    g: &Var<T>,
    q: &Var<T>,
    k: &Var<T>,
    v: &Var<T>,
    scale: T,
    weights: &Weights<T>,
) -> Result<[Option<Var<T>>; 3]> {
    let p = weights(q, k)?;
    let dv = p.transpose(-2, -1)?.matmul(g)?;
    let dp = g.matmul(&v.transpose(-2, -1)?)?;
    let ds = p.try_mul(&dp.try_sub(&p.try_mul(&dp)?.sum_dim(-1, true)?)?)?;
    let dq = ds.matmul(k)?.mul_scalar(scale);
    let dk = ds.transpose(-2, -1)?.matmul(q)?.mul_scalar(scale);
    Ok([Some(dq), Some(dk), Some(dv)])
}

/// `exp(x - max) / Σ exp(x - max)` over `row`, as `Tensor::softmax`.
fn softmax_in_place<T: Float>(row: &mut [T]) {
    let m = row.iter().copied().fold(T::neg_infinity(), |a, b| {
        if a.is_nan() || b.is_nan() {
            T::nan()
        } else {
            a.max(b)
        }
    });
    row.iter_mut().for_each(|x| *x = (*x - m).exp());
    let sum = row.iter().copied().fold(T::zero(), |a, b| a + b);
    row.iter_mut().for_each(|x| *x /= sum);
}

/// `Σ x·y`, in four running sums so that the loop vectorises.
fn dot<T: Float>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: T = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(&a, &b)| a * b)
        .fold(T::zero(), |a, b| a + b);
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `y += a·x`.
fn axpy<T: Float>(y: &mut [T], a: T, x: &[T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}
