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

use std::borrow::Cow;
use std::rc::Rc;

use ferrograd_autograd::{is_grad_enabled, Var};
use ferrograd_tensor::tuning::ROW_BLOCK_VALUES;
use ferrograd_tensor::{wide, zeroed_block_pairs, Float, Result, Tensor, Unary};

use super::lanes::{lane_max, lane_sum, lane_sum2};

/// The attention weights of `(query, key)`, written with `Var` ops.
type Weights<T> = dyn Fn(&Var<T>, &Var<T>) -> Result<Var<T>>;

/// Columns of a product's tile: one AVX-512 register of `f32`.
const BLOCK: usize = 16;
/// Rows of a product's tile.
const ROWS: usize = 4;

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
    /// The `b`-th query, key and value matrices of the batch.
    fn qkv<'a, T>(&self, q: &'a [T], k: &'a [T], v: &'a [T], b: usize) -> (&'a [T], &'a [T], &'a [T]) {
        (
            matrix(q, b, self.l * self.e),
            matrix(k, b, self.s * self.e),
            matrix(v, b, self.s * self.ev),
        )
    }

    /// How many keys query `i` sees.
    #[inline(always)]
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
        let (q, k, v) = (query.try_value()?, key.try_value()?, value.try_value()?);
        forward(&standard(&q), &standard(&k), &standard(&v), sizes, scale)
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
            let (dq, dk, dv) = {
                let (q, k, v, g) = (x[0].try_value()?, x[1].try_value()?, x[2].try_value()?, g.try_value()?);
                let (q, k, v, g) = (standard(&q), standard(&k), standard(&v), standard(&g));
                backward(&q, &k, &v, &g, &probs, sizes, scale)
            };
            let grad = |d: Vec<T>, like: &Var<T>| Tensor::from_vec(d, &like.shape()).map(|t| Some(Var::new(t)));
            Ok([grad(dq, &x[0])?, grad(dk, &x[1])?, grad(dv, &x[2])?])
        },
    ))
}

/// The values of `x` in row-major order, borrowed unless `x` is a strided view.
fn standard<T: Float>(x: &Tensor<T>) -> Cow<'_, [T]> {
    match x.array().to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.array().iter().copied().collect()),
    }
}

/// The output `[n, L, Ev]` and the attention weights `[n, L, S]` (zero where masked), one
/// matrix of the batch at a time, the matrices shared between threads.
fn forward<T: Float>(q: &[T], k: &[T], v: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>) {
    let (out_len, probs_len) = (z.l * z.ev, z.l * z.s);
    let (work, scratch) = (z.l * z.s * (z.e + z.ev), z.s * z.e + z.l * z.s);
    for_each_matrix(
        z,
        out_len,
        probs_len,
        work,
        scratch,
        #[inline(always)]
        |b, out, probs, scratch| {
            let (qb, kb, vb) = z.qkv(q, k, v, b);
            forward_one(qb, kb, vb, z, scale, out, probs, scratch);
        },
    )
}

/// Two outputs `a` and `c` of `a_len` and `c_len` values per matrix of the batch (`c_len` may
/// be 0), zeros to which `f(b, a_b, c_b, scratch)` adds matrix `b`'s values. Matrices go to the
/// threads in blocks of about `ROW_BLOCK_VALUES` scores' worth (`work` per matrix), each block
/// cleared by its thread and with one scratch buffer of `scratch_len` values, made once per
/// block rather than once per matrix; `f` is compiled for the widest vectors the CPU has.
fn for_each_matrix<T: Float>(
    z: Sizes,
    a_len: usize,
    c_len: usize,
    work: usize,
    scratch_len: usize,
    f: impl Fn(usize, &mut [T], &mut [T], &mut [T]) + Sync + Send,
) -> (Vec<T>, Vec<T>) {
    let per = (ROW_BLOCK_VALUES / (z.l * z.s).max(1)).clamp(1, z.n.max(1));
    let (a, c) = (z.n * a_len, z.n * c_len);
    zeroed_block_pairs(a, per * a_len, c, per * c_len, per * work, |blk, a, c| {
        let mut scratch = vec![T::zero(); scratch_len];
        for (j, a) in a.chunks_exact_mut(a_len.max(1)).enumerate() {
            let c = &mut c[j * c_len..(j + 1) * c_len];
            wide(
                #[inline(always)]
                || f(blk * per + j, a, c, &mut scratch),
            );
        }
    })
}

/// The `b`-th matrix of `len` values of a batch stored one after another.
fn matrix<T>(x: &[T], b: usize, len: usize) -> &[T] {
    &x[b * len..][..len]
}

/// [`forward`] of one matrix of the batch: the scores `Q·Kᵀ` (every key, masked ones
/// included), the softmax of each row over the keys it sees (zeros after), then `P·V`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_one<T: Float>(
    q: &[T],
    k: &[T],
    v: &[T],
    z: Sizes,
    scale: T,
    out: &mut [T],
    probs: &mut [T],
    scratch: &mut [T],
) {
    let (kt, exps) = scratch.split_at_mut(z.s * z.e);
    transpose_into(&k[..z.s * z.e], z.s, z.e, kt);
    product_add(probs, &q[..z.l * z.e], (z.e, 1), kt, z.l, z.e, z.s);
    softmax_rows(probs, exps, z, scale);
    product_add(out, probs, (z.s, 1), &v[..z.s * z.ev], z.l, z.s, z.ev);
}

/// The gradients of `q`, `k` and `v` from the output's gradient `g`: `dV` in one pass over
/// the batch, `dQ` and `dK` in another, each shared between threads by matrix.
fn backward<T: Float>(q: &[T], k: &[T], v: &[T], g: &[T], probs: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (dv, _) = for_each_matrix(
        z,
        z.s * z.ev,
        0,
        z.l * z.s * z.ev,
        0,
        #[inline(always)]
        |b, dv, _, _| {
            // dV = Pᵀ·dO, reading P by columns.
            let (p, gb) = (matrix(probs, b, z.l * z.s), matrix(g, b, z.l * z.ev));
            product_add(dv, p, (1, z.s), gb, z.s, z.l, z.ev);
        },
    );
    let (work, scratch) = (z.l * z.s * (2 * z.e + z.ev), z.s * z.ev + z.l * z.s);
    let (dq, dk) = for_each_matrix(
        z,
        z.l * z.e,
        z.s * z.e,
        work,
        scratch,
        #[inline(always)]
        |b, dq, dk, scratch| {
            let (qb, kb, vb) = z.qkv(q, k, v, b);
            let (p, gb) = (matrix(probs, b, z.l * z.s), matrix(g, b, z.l * z.ev));
            backward_one(qb, kb, vb, gb, p, z, scale, dq, dk, scratch);
        },
    );
    (dq, dk, dv)
}

/// `dQ = dS·K·scale` and `dK = dSᵀ·Q·scale` of one matrix of the batch, with
/// `dS = P ⊙ (dP - rowsum(P ⊙ dP))` and `dP = dO·Vᵀ`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_one<T: Float>(
    q: &[T],
    k: &[T],
    v: &[T],
    g: &[T],
    probs: &[T],
    z: Sizes,
    scale: T,
    dq: &mut [T],
    dk: &mut [T],
    scratch: &mut [T],
) {
    let (vt, ds) = scratch.split_at_mut(z.s * z.ev);
    transpose_into(&v[..z.s * z.ev], z.s, z.ev, vt);
    ds.fill(T::zero());
    product_add(ds, &g[..z.l * z.ev], (z.ev, 1), vt, z.l, z.ev, z.s);
    for (d, p) in ds.chunks_exact_mut(z.s.max(1)).zip(probs.chunks_exact(z.s.max(1))) {
        let weighted = lane_sum2(p, d, |a, b| a * b);
        d.iter_mut()
            .zip(p)
            .for_each(|(d, &pj)| *d = pj * (*d - weighted) * scale);
    }
    product_add(dq, ds, (z.s, 1), &k[..z.s * z.e], z.l, z.s, z.e);
    // dK = dSᵀ·Q, reading dS by columns.
    product_add(dk, ds, (1, z.s), &q[..z.l * z.e], z.s, z.l, z.e);
}

/// `out += a·b` for `a` (`m x k`, element `(i, p)` at `i·a_strides.0 + p·a_strides.1`: row-major
/// or a transposed view), row-major `b` (`k x n`) and `out` (`m x n`). A tile of [`ROWS`] rows
/// by [`BLOCK`] columns of `out` is held in registers while the `k` rows of `b` are added in:
/// the rows' sums are independent, so the additions overlap instead of each waiting for the
/// last, and a product of a few dozen rows runs at full vector width.
#[inline(always)]
fn product_add<T: Float>(out: &mut [T], a: &[T], a_strides: (usize, usize), b: &[T], m: usize, k: usize, n: usize) {
    let (ra, ca) = a_strides;
    let full = n - n % BLOCK;
    let mut i = 0;
    while i + ROWS <= m {
        for col in (0..full).step_by(BLOCK) {
            let mut acc = [[T::zero(); BLOCK]; ROWS];
            for (r, acc) in acc.iter_mut().enumerate() {
                acc.copy_from_slice(&out[(i + r) * n + col..][..BLOCK]);
            }
            for p in 0..k {
                let bp = &b[p * n + col..][..BLOCK];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let ap = a[(i + r) * ra + p * ca];
                    for (acc, &bp) in acc.iter_mut().zip(bp) {
                        *acc += ap * bp;
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                out[(i + r) * n + col..][..BLOCK].copy_from_slice(acc);
            }
        }
        i += ROWS;
    }
    for i in 0..m {
        let oi = &mut out[i * n..][..n];
        // Rows of the last partial tile in full, then every row's last columns.
        let from = if i < m - m % ROWS { full } else { 0 };
        if from < n {
            for p in 0..k {
                axpy(&mut oi[from..], a[i * ra + p * ca], &b[p * n + from..(p + 1) * n]);
            }
        }
    }
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

/// The scores `[L, S]` replaced by their softmax over each row's seen keys after scaling,
/// as `Tensor::softmax` computes it (`exp(x - max) / Σ`), zeros after them and in a row that
/// sees none. The exponentials of the whole matrix are one call of the tensor crate's
/// vectorised kernel (masked scores are `-inf` then, whose exponential is 0). A NaN or an
/// infinite score gives a row of NaN, as in PyTorch.
#[inline(always)]
fn softmax_rows<T: Float>(scores: &mut [T], exps: &mut [T], z: Sizes, scale: T) {
    for (i, row) in scores.chunks_exact_mut(z.s.max(1)).enumerate() {
        let seen = z.seen(i);
        row[..seen].iter_mut().for_each(|x| *x *= scale);
        let m = lane_max(&row[..seen]);
        row[..seen].iter_mut().for_each(|x| *x -= m);
        row[seen..].fill(T::neg_infinity());
    }
    T::unary(Unary::Exp, scores, exps);
    for (i, (row, e)) in scores
        .chunks_exact_mut(z.s.max(1))
        .zip(exps.chunks_exact(z.s.max(1)))
        .enumerate()
    {
        let seen = z.seen(i);
        if seen == 0 {
            row.fill(T::zero());
            continue;
        }
        let sum = lane_sum(&e[..seen], |x| x);
        row.iter_mut().zip(e).for_each(|(x, &e)| *x = e / sum);
    }
}

/// `x` (`rows x cols`, row-major) transposed into `t`.
#[inline(always)]
fn transpose_into<T: Float>(x: &[T], rows: usize, cols: usize, t: &mut [T]) {
    for (r, row) in x.chunks_exact(cols.max(1)).enumerate().take(rows) {
        for (c, &value) in row.iter().enumerate() {
            t[c * rows + r] = value;
        }
    }
}

/// `y += a·x`.
#[inline(always)]
fn axpy<T: Float>(y: &mut [T], a: T, x: &[T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}
