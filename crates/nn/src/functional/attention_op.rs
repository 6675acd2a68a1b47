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
use ferrograd_tensor::{transpose, wide, zeroed_block_pairs, Float, Result, Tensor, Unary};

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

    /// The first query that sees key `j`: with the causal mask query `i` sees keys `0..=i`,
    /// so key `j` is seen by queries `j..`.
    #[inline(always)]
    fn first_seeing(&self, j: usize) -> usize {
        if self.causal {
            j.min(self.l)
        } else {
            0
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

/// The output `[n, L, Ev]` and the attention weights transposed, `Pᵀ` `[n, S, L]` (zero where
/// masked), one matrix of the batch at a time, the matrices shared between threads.
fn forward<T: Float>(q: &[T], k: &[T], v: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>) {
    let (out_len, probs_len) = (z.l * z.ev, z.l * z.s);
    let (work, scratch) = (z.l * z.s * (z.e + z.ev), z.e * z.l + z.l * z.s + z.l);
    for_each_matrix(
        z,
        out_len,
        probs_len,
        work,
        scratch,
        #[inline(always)]
        |b, out, probs_t, scratch| {
            let (qb, kb, vb) = z.qkv(q, k, v, b);
            forward_one(qb, kb, vb, z, scale, out, probs_t, scratch);
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

/// [`forward`] of one matrix of the batch. The weights are kept transposed, one row per key
/// and one column per query, so that a query's softmax over the keys runs down a column: the
/// maxima and sums of all queries are vector operations on whole rows, in the order of the
/// keys, rather than a reduction across the lanes of a register for each query.
///
/// The scores `Sᵀ = K·Qᵀ` (every key, masked ones included), the softmax of each column over
/// the keys its query sees (zeros after), then `O = P·V`, reading `Pᵀ` by columns.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_one<T: Float>(
    q: &[T],
    k: &[T],
    v: &[T],
    z: Sizes,
    scale: T,
    out: &mut [T],
    probs_t: &mut [T],
    scratch: &mut [T],
) {
    let (qt, rest) = scratch.split_at_mut(z.e * z.l);
    let (exps, column) = rest.split_at_mut(z.s * z.l);
    transpose(&q[..z.l * z.e], z.l, z.e, qt);
    product_add(probs_t, &k[..z.s * z.e], Left::Rows, qt, z.s, z.e, z.l);
    softmax_columns(probs_t, exps, column, z, scale);
    product_add(out, probs_t, Left::Columns, &v[..z.s * z.ev], z.l, z.s, z.ev);
}

/// The gradients of `q`, `k` and `v` from the output's gradient `g` and the transposed weights
/// `pt`: `dV` in one pass over the batch, `dQ` and `dK` in another, each shared between
/// threads by matrix.
fn backward<T: Float>(q: &[T], k: &[T], v: &[T], g: &[T], pt: &[T], z: Sizes, scale: T) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (dv, _) = for_each_matrix(
        z,
        z.s * z.ev,
        0,
        z.l * z.s * z.ev,
        0,
        #[inline(always)]
        |b, dv, _, _| {
            // dV = Pᵀ·dO.
            let (pt, gb) = (matrix(pt, b, z.l * z.s), matrix(g, b, z.l * z.ev));
            product_add(dv, pt, Left::Rows, gb, z.s, z.l, z.ev);
        },
    );
    let (work, scratch) = (z.l * z.s * (2 * z.e + z.ev), z.ev * z.l + z.s * z.l + z.l);
    let (dq, dk) = for_each_matrix(
        z,
        z.l * z.e,
        z.s * z.e,
        work,
        scratch,
        #[inline(always)]
        |b, dq, dk, scratch| {
            let (qb, kb, vb) = z.qkv(q, k, v, b);
            let (pt, gb) = (matrix(pt, b, z.l * z.s), matrix(g, b, z.l * z.ev));
            backward_one(qb, kb, vb, gb, pt, z, scale, dq, dk, scratch);
        },
    );
    (dq, dk, dv)
}

/// `dQ = dS·K·scale` and `dK = dSᵀ·Q·scale` of one matrix of the batch, with
/// `dS = P ⊙ (dP - rowsum(P ⊙ dP))` and `dP = dO·Vᵀ`, all kept transposed as the weights are
/// (`dPᵀ = V·dOᵀ`), so that each query's sum runs down a column.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_one<T: Float>(
    q: &[T],
    k: &[T],
    v: &[T],
    g: &[T],
    probs_t: &[T],
    z: Sizes,
    scale: T,
    dq: &mut [T],
    dk: &mut [T],
    scratch: &mut [T],
) {
    let (gt, rest) = scratch.split_at_mut(z.ev * z.l);
    let (ds_t, weighted) = rest.split_at_mut(z.s * z.l);
    transpose(&g[..z.l * z.ev], z.l, z.ev, gt);
    ds_t.fill(T::zero());
    product_add(ds_t, &v[..z.s * z.ev], Left::Rows, gt, z.s, z.ev, z.l);
    weighted.fill(T::zero());
    for (d, p) in ds_t.chunks_exact(z.l.max(1)).zip(probs_t.chunks_exact(z.l.max(1))) {
        for ((w, &d), &p) in weighted.iter_mut().zip(d).zip(p) {
            *w += p * d;
        }
    }
    for (d, p) in ds_t.chunks_exact_mut(z.l.max(1)).zip(probs_t.chunks_exact(z.l.max(1))) {
        for ((d, &p), &w) in d.iter_mut().zip(p).zip(weighted.iter()) {
            *d = p * (*d - w) * scale;
        }
    }
    // dQ = dS·K, reading dSᵀ by columns.
    product_add(dq, ds_t, Left::Columns, &k[..z.s * z.e], z.l, z.s, z.e);
    product_add(dk, ds_t, Left::Rows, &q[..z.l * z.e], z.s, z.l, z.e);
}

/// How the `m x k` left operand of [`product_add`] lies in its slice.
#[derive(Debug, Clone, Copy)]
enum Left {
    /// Row-major: element `(i, p)` at `i·k + p`.
    Rows,
    /// A transposed view of a row-major `k x m` matrix: element `(i, p)` at `p·m + i`.
    Columns,
}

/// `out += a·b` for `a` (`m x k`, laid out as `left` says), row-major `b` (`k x n`) and `out`
/// (`m x n`). A tile of [`ROWS`] rows by [`BLOCK`] columns of `out` is held in registers while
/// the `k` rows of `b` are added in: the rows' sums are independent, so the additions overlap
/// instead of each waiting for the last, and a product of a few dozen rows runs at full vector
/// width.
#[inline(always)]
fn product_add<T: Float>(out: &mut [T], a: &[T], left: Left, b: &[T], m: usize, k: usize, n: usize) {
    let full = n - n % BLOCK;
    // Element `(i, p)` of `a` is at `i·ra + p·ca`. (Indexing through closures or arrays
    // built by `from_fn` ran at half speed in the char transformer, where they were not all
    // inlined into the vectorized loop.)
    let (ra, ca) = match left {
        Left::Rows => (k, 1),
        Left::Columns => (1, m),
    };
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

/// The transposed scores `[S, L]` replaced by their softmax over each column's seen keys
/// after scaling, as `Tensor::softmax` computes it (`exp(x - max) / Σ`, the sum in the keys'
/// order), zeros where masked. The exponentials of the whole matrix are one call of the tensor
/// crate's vectorised kernel (masked scores are `-inf` then, whose exponential is 0). A NaN or
/// an infinite score gives a column of NaN, as in PyTorch.
#[inline(always)]
fn softmax_columns<T: Float>(scores_t: &mut [T], exps: &mut [T], column: &mut [T], z: Sizes, scale: T) {
    let l = z.l.max(1);
    // Masked scores become `-inf` before the maxima are taken, so that every row is taken
    // whole; `max` leaves NaN out, as the rows' maxima of `Tensor::softmax` do.
    let maxima = column;
    maxima.fill(T::neg_infinity());
    for (j, row) in scores_t.chunks_exact_mut(l).enumerate() {
        let (masked, seen) = row.split_at_mut(z.first_seeing(j));
        masked.fill(T::neg_infinity());
        seen.iter_mut().for_each(|x| *x *= scale);
        maxima.iter_mut().zip(row.iter()).for_each(|(m, &x)| *m = m.max(x));
    }
    for row in scores_t.chunks_exact_mut(l) {
        row.iter_mut().zip(maxima.iter()).for_each(|(x, &m)| *x -= m);
    }
    T::unary(Unary::Exp, scores_t, exps);
    let sums = maxima;
    sums.fill(T::zero());
    for row in exps.chunks_exact(l) {
        sums.iter_mut().zip(row).for_each(|(s, &e)| *s += e);
    }
    for (row, e) in scores_t.chunks_exact_mut(l).zip(exps.chunks_exact(l)) {
        row.iter_mut()
            .zip(e)
            .zip(sums.iter())
            .for_each(|((x, &e), &s)| *x = e / s);
    }
}

/// `y += a·x`.
#[inline(always)]
fn axpy<T: Float>(y: &mut [T], a: T, x: &[T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}
