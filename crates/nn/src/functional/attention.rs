//! `scaled_dot_product_attention`, as `F.scaled_dot_product_attention`: written with
//! differentiable `Var` ops (batched matmul, masking, softmax), or, without a mask tensor and
//! with one batch shape for the three inputs, as one op with its own gradient (`attention_op`).

use ferrograd_autograd::Var;
use ferrograd_tensor::ndarray::Axis;
use ferrograd_tensor::{BoolTensor, Error, Float, Result};

use super::attention_op::{fused_attention, Sizes};

const OP: &str = "scaled_dot_product_attention";

/// The `attn_mask` of [`scaled_dot_product_attention`]: a boolean mask that keeps the
/// positions where it is `true`, or a float mask added to the attention scores (`-inf`
/// removes a position). Either broadcasts to the scores' shape `(..., L, S)`.
#[derive(Debug, Clone, Copy)]
pub enum AttnMask<'a, T: Float> {
    /// `true` = take part in the attention, `false` = masked out.
    Bool(&'a BoolTensor),
    /// Added to `q·kᵀ·scale` before the softmax; a gradient flows into it.
    Additive(&'a Var<T>),
}

/// Attention, as `F.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p=0,
/// is_causal, scale)`: `softmax(q·kᵀ·scale + mask) · v` over the last two dimensions.
///
/// - `query` `(..., L, E)`, `key` `(..., S, E)`, `value` `(..., S, Ev)`, at least 2-D each;
///   the leading dimensions broadcast. The result is `(..., L, Ev)`.
/// - `attn_mask`: see [`AttnMask`]. `is_causal` masks with the top-left aligned lower triangle
///   of shape `(L, S)` (query `i` sees keys `0..=i`, also when `L ≠ S`); giving both is an
///   error, as in PyTorch.
/// - `scale` defaults to `1/√E`.
/// - A query whose every position is masked out gets zeros (and a zero gradient), not NaN,
///   as PyTorch 2.x's `_safe_softmax`.
///
/// There is no `dropout_p`: this is PyTorch's function with `dropout_p = 0`, as in
/// evaluation or in a model without attention dropout.
pub fn scaled_dot_product_attention<T: Float>(
    query: &Var<T>,
    key: &Var<T>,
    value: &Var<T>,
    attn_mask: Option<AttnMask<'_, T>>,
    is_causal: bool,
    scale: Option<f64>,
) -> Result<Var<T>> {
    let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
    if qs.len() < 2 || ks.len() < 2 || vs.len() < 2 {
        return Err(Error::invalid(
            OP,
            format!(
                "Expected query, key, and value to all be at least 2 dimensional, but got query.dim: {} key.dim: {} and value.dim: {} instead.",
                qs.len(),
                ks.len(),
                vs.len()
            ),
        ));
    }
    if attn_mask.is_some() && is_causal {
        return Err(Error::invalid(
            OP,
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True",
        ));
    }
    let (l, e) = (qs[qs.len() - 2], qs[qs.len() - 1]);
    let (s, ek) = (ks[ks.len() - 2], ks[ks.len() - 1]);
    let (sv, _) = (vs[vs.len() - 2], vs[vs.len() - 1]);
    let qk_batch = broadcast_batch(&qs[..qs.len() - 2], &ks[..ks.len() - 2])?;
    let batch = broadcast_batch(&qk_batch, &vs[..vs.len() - 2])?;
    let count: usize = qk_batch.iter().product();
    if ek != e {
        return Err(bmm_error(count, e, ek));
    }
    if sv != s {
        return Err(bmm_error(batch.iter().product(), s, sv));
    }
    let scale = T::of(scale.unwrap_or_else(|| 1.0 / (e as f64).sqrt()));
    let same_batch = qs[..qs.len() - 2] == ks[..ks.len() - 2] && ks[..ks.len() - 2] == vs[..vs.len() - 2];
    if attn_mask.is_none() && same_batch {
        let sizes = Sizes {
            n: count,
            l,
            s,
            e,
            ev: vs[vs.len() - 1],
            causal: is_causal,
        };
        let weights = move |q: &Var<T>, k: &Var<T>| attention_weights(q, k, None, is_causal, scale);
        return fused_attention(query, key, value, sizes, scale, weights);
    }
    attention_weights(query, key, attn_mask, is_causal, scale)?.matmul(value)
}

/// `softmax(q·kᵀ·scale + mask)` over the last dimension, a fully masked row giving zeros;
/// the mask's shape is checked against the scores'.
fn attention_weights<T: Float>(
    query: &Var<T>,
    key: &Var<T>,
    attn_mask: Option<AttnMask<'_, T>>,
    is_causal: bool,
    scale: T,
) -> Result<Var<T>> {
    let mut scores = query.matmul(&key.transpose(-2, -1)?)?.mul_scalar(scale);
    let scores_shape = scores.shape();
    let (l, s) = (
        scores_shape[scores_shape.len() - 2],
        scores_shape[scores_shape.len() - 1],
    );
    let masked = attn_mask.is_some() || is_causal;
    match attn_mask {
        Some(AttnMask::Bool(mask)) => {
            check_mask(mask.shape(), &scores_shape)?;
            scores = scores.masked_fill(&mask.logical_not(), T::neg_infinity())?;
        }
        Some(AttnMask::Additive(mask)) => {
            check_mask(&mask.shape(), &scores_shape)?;
            scores = scores.try_add(mask)?;
        }
        None if is_causal => {
            let above = BoolTensor::full(&[l, s], true).triu(1)?;
            scores = scores.masked_fill(&above, T::neg_infinity())?;
        }
        None => {}
    }
    match masked.then(|| fully_masked_rows(&scores)).flatten() {
        // Such a row is set to 0 before the softmax (which would give NaN) and its weights to 0
        // after: both fills send a zero gradient back through that row.
        Some(rows) => scores
            .masked_fill(&rows, T::zero())?
            .softmax(-1)?
            .masked_fill(&rows, T::zero()),
        None => scores.softmax(-1),
    }
}

/// `(..., L, 1)`, true where every score of the row is `-inf`; `None` if no row is.
fn fully_masked_rows<T: Float>(scores: &Var<T>) -> Option<BoolTensor> {
    let value = scores.value();
    let last = Axis(value.ndim() - 1);
    let rows = value
        .array()
        .map_axis(last, |row| row.iter().all(|&x| x == T::neg_infinity()));
    rows.iter()
        .any(|&r| r)
        .then(|| BoolTensor::from_array(rows.insert_axis(last)))
}

/// The broadcast of two batch shapes, with PyTorch's message when they do not broadcast.
fn broadcast_batch(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            (x, y) => Err(Error::invalid(
                OP,
                format!(
                    "The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {i}"
                ),
            )),
        })
        .collect()
}

/// A mask must broadcast to the scores' shape without enlarging it.
fn check_mask(mask: &[usize], scores: &[usize]) -> Result<()> {
    let fits = mask.len() <= scores.len()
        && mask
            .iter()
            .rev()
            .zip(scores.iter().rev())
            .all(|(&m, &s)| m == s || m == 1);
    if fits {
        return Ok(());
    }
    let n = mask.len().max(scores.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    let i = (0..n)
        .rev()
        .find(|&i| at(mask, i) != at(scores, i) && at(mask, i) != 1)
        .unwrap_or(0);
    Err(Error::invalid(
        OP,
        format!(
            "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {i} (attn_mask of shape {mask:?} for attention scores of shape {scores:?})",
            at(scores, i),
            at(mask, i),
        ),
    ))
}

/// PyTorch's `bmm` message for a second operand of the wrong inner size.
fn bmm_error(batch: usize, want: usize, got: usize) -> Error {
    Error::invalid(
        OP,
        format!("Expected size for first two dimensions of batch2 tensor to be: [{batch}, {want}] but got: [{batch}, {got}]."),
    )
}
