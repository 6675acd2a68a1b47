//! `embedding`: rows of a table picked by class indices, as `F.embedding`.

use ferrograd_autograd::Var;
use ferrograd_tensor::{Error, Float, IndexTensor, Result};

/// The rows of `weight` (`[num_embeddings, embedding_dim]`) at `input`, an index tensor of
/// any shape: the result has shape `input.shape + [embedding_dim]`, as `F.embedding`.
///
/// Gradient: each row of the output's gradient is added into the row of `weight` it was taken
/// from (repeated indices add up), except where the index is `padding_idx`, whose row gets
/// none (as PyTorch; a negative `padding_idx` counts from the end).
pub fn embedding<T: Float>(input: &IndexTensor, weight: &Var<T>, padding_idx: Option<i64>) -> Result<Var<T>> {
    let shape = weight.shape();
    let [num, dim] = shape[..] else {
        return Err(Error::invalid(
            "embedding",
            format!("'weight' must be 2-D, got a tensor of shape {:?}", shape),
        ));
    };
    let padding = padding_idx
        .map(|p| resolve_padding_idx("embedding", p, num))
        .transpose()?;
    let flat = input.reshape(&[input.numel()])?;
    if let Some(&bad) = flat.to_vec().iter().find(|&&i| i < 0 || i as usize >= num) {
        return Err(Error::invalid(
            "embedding",
            format!("index out of range in self: index {bad} is outside [0, {num}) (num_embeddings {num})"),
        ));
    }
    let mut out_shape = input.shape().to_vec();
    out_shape.push(dim);
    let rows = weight.value().index_select(0, &flat)?;
    let out = rows.reshape(&out_shape)?;
    Ok(Var::from_op(
        "EmbeddingBackward0",
        out,
        [weight.clone()],
        move |g, _, w| {
            let g = g.reshape(&[flat.numel(), dim])?;
            let (g, index) = match padding {
                Some(p) if flat.to_vec().contains(&(p as i64)) => {
                    let (positions, kept): (Vec<i64>, Vec<i64>) = flat
                        .to_vec()
                        .into_iter()
                        .enumerate()
                        .filter(|&(_, i)| i != p as i64)
                        .map(|(pos, i)| (pos as i64, i))
                        .unzip();
                    (
                        g.index_select(0, &IndexTensor::from_slice(&positions))?,
                        IndexTensor::from_slice(&kept),
                    )
                }
                _ => (g, flat.clone()),
            };
            Ok([Some(g.index_add(&w[0].shape(), 0, &index)?)])
        },
    ))
}

/// `padding_idx` as a row number: negative counts from the end, as PyTorch's `Embedding`.
pub(crate) fn resolve_padding_idx(op: &'static str, padding_idx: i64, num_embeddings: usize) -> Result<usize> {
    let n = num_embeddings as i64;
    if padding_idx >= n || padding_idx < -n {
        return Err(Error::invalid(
            op,
            format!("Padding_idx must be within num_embeddings: got padding_idx {padding_idx} for {num_embeddings} embeddings"),
        ));
    }
    Ok(if padding_idx < 0 { padding_idx + n } else { padding_idx } as usize)
}
