//! `Embedding` / `F.embedding`: rows picked by index, gradients added back per row, the
//! padding row left out, and bad indices refused.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::embedding;
use ferrograd_nn::{Embedding, Forward, Module};
use ferrograd_tensor::{Float, IndexTensor, Result, Tensor};

#[test]
fn rows_are_picked_for_indices_of_any_shape() -> Result<()> {
    let w = Tensor::<f32>::from_vec((0..12).map(|v| v as f32).collect(), &[4, 3])?;
    let emb = Embedding::from_tensor(w)?;
    let out = emb.forward(&IndexTensor::from_vec(vec![3, 0, 1, 3], &[2, 2])?)?;
    assert_eq!(out.shape(), [2, 2, 3]);
    assert_eq!(
        out.to_tensor().to_vec(),
        [9., 10., 11., 0., 1., 2., 3., 4., 5., 9., 10., 11.]
    );
    assert_eq!(emb.forward(&IndexTensor::scalar(2))?.shape(), [3]);
    assert_eq!(
        emb.forward(&IndexTensor::from_vec(vec![1; 6], &[1, 2, 3])?)?.shape(),
        [1, 2, 3, 3]
    );
    Ok(())
}

#[test]
fn gradients_of_repeated_indices_add_up_and_the_padding_row_gets_none() -> Result<()> {
    // import torch
    // e = torch.nn.Embedding(4, 2, padding_idx=1); e.weight.data = torch.arange(8.).view(4, 2)
    // out = e(torch.tensor([[1, 2, 2], [0, 1, 2]])); (out * torch.arange(12.).view(2, 3, 2)).sum().backward()
    // e.weight.grad.tolist()  # [[6.0, 7.0], [0.0, 0.0], [16.0, 19.0], [0.0, 0.0]]
    let emb = Embedding::from_tensor(Tensor::<f32>::from_vec((0..8).map(|v| v as f32).collect(), &[4, 2])?)?;
    let emb = Embedding {
        padding_idx: Some(1),
        ..emb
    };
    let out = emb.forward(&IndexTensor::from_vec(vec![1, 2, 2, 0, 1, 2], &[2, 3])?)?;
    let up = Var::new(Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[2, 3, 2])?);
    out.try_mul(&up)?.sum().backward()?;
    assert_eq!(emb.weight.grad().unwrap().to_vec(), [6., 7., 0., 0., 16., 19., 0., 0.]);
    Ok(())
}

#[test]
fn padding_idx_zeroes_its_row_and_counts_from_the_end_when_negative() -> Result<()> {
    let emb = Embedding::<f32>::new(5, 3, 0).padding_idx(-1)?;
    assert_eq!(emb.padding_idx, Some(4));
    assert_eq!(emb.weight.to_tensor().to_vec()[12..], [0.0; 3]);
    let err = Embedding::<f32>::new(5, 3, 0).padding_idx(5).unwrap_err().to_string();
    assert!(err.contains("Padding_idx must be within num_embeddings"), "{err}");
    assert!(Embedding::<f32>::new(5, 3, 0).padding_idx(-6).is_err());
    Ok(())
}

#[test]
fn out_of_range_indices_are_an_error_naming_the_index() {
    let emb = Embedding::<f32>::new(5, 3, 0);
    for bad in [5, -1] {
        let err = emb
            .forward(&IndexTensor::from_slice(&[0, bad]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("index out of range in self") && err.contains(&format!("index {bad}")),
            "{err}"
        );
    }
    let err = embedding(
        &IndexTensor::from_slice(&[0]),
        &Var::new(Tensor::<f32>::zeros(&[3])),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("'weight' must be 2-D"), "{err}");
}

#[test]
fn init_is_standard_normal_and_the_weight_is_a_parameter() {
    let emb = Embedding::<f64>::new(200, 50, 3);
    let v = emb.weight.to_tensor().to_vec();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, var {var}");
    assert_eq!(emb.named_parameters()[0].0, "weight");
}

#[test]
fn gradient_matches_finite_differences() -> Result<()> {
    let index = IndexTensor::from_vec(vec![0, 2, 2, 3, 1, 0], &[3, 2])?;
    let f = |w: &Var<f64>, padding| embedding(&index, w, padding)?.tanh().sum_dim(-1, false);
    let report = gradcheck(
        |v| f(&v[0], None),
        &[Tensor::randn(&[4, 3], 7)],
        GradcheckOptions::default(),
    )?;
    assert!(report.passed, "{report:?}");
    // With a padding row the gradient is, on purpose, not the derivative there: it is the
    // derivative with that row's gradient set to zero.
    for (padding, row) in [(Some(2), 2), (Some(-4), 0)] {
        let full = Var::parameter(Tensor::randn(&[4, 3], 7));
        f(&full, None)?.sum().backward()?;
        let padded = Var::parameter(full.to_tensor());
        f(&padded, padding)?.sum().backward()?;
        let mut expected = full.grad().unwrap().to_vec();
        expected[row * 3..row * 3 + 3].fill(0.0);
        assert_eq!(padded.grad().unwrap().to_vec(), expected, "padding {padding:?}");
    }
    Ok(())
}

/// One fixture case through `Embedding` in `T`: the weight from `state`, forward, backward of
/// `sum(out * upstream)`, the output and the weight's gradient compared with PyTorch's.
fn run_embedding_case<T: Float>(case: &Case, m: &mut Matcher) {
    let num = case.arg_i64("num_embeddings").unwrap() as usize;
    let dim = case.arg_i64("embedding_dim").unwrap() as usize;
    let build = || -> Result<Embedding<T>> {
        let emb = match case.state_tensor("weight") {
            Some(w) => Embedding::from_tensor(w.tensor::<T>())?,
            None => Embedding::new(num, dim, 0),
        };
        match case.arg_i64("padding_idx") {
            Some(p) => emb.padding_idx(p),
            None => Ok(emb),
        }
    };
    let indices = case.inputs[0].as_ref().unwrap().index_tensor();
    if case.is_error() {
        let err = build().and_then(|emb| emb.forward(&indices)).unwrap_err();
        m.error_contains(case, &err.to_string());
        return;
    }
    let emb = build().unwrap();
    let step = case.single_step().unwrap();
    let out = emb.forward(&indices).unwrap();
    m.close(case, "output", &out.to_tensor(), &step.expected.outputs[0]);
    let up = Var::new(step.upstream[0].as_ref().unwrap().tensor::<T>());
    out.try_mul(&up).unwrap().sum().backward().unwrap();
    let grad = emb.weight.grad().unwrap_or_else(|| emb.weight.to_tensor().zeros_like());
    m.close(case, "weight.grad", &grad, step.expected.param_grad("weight").unwrap());
}

#[test]
fn every_pytorch_fixture_case_matches() {
    // Cases from tests/fixtures/generate_layers.py (layer "Embedding"), e.g.
    // e = torch.nn.Embedding(10, 4, padding_idx=0); out = e(idx); (out * up).sum().backward()
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases("Embedding") {
        match case.dtype.as_str() {
            "float64" => run_embedding_case::<f64>(case, &mut m64),
            _ => run_embedding_case::<f32>(case, &mut m32),
        }
    }
    println!("Embedding f32: {}", m32.summary());
    println!("Embedding f64: {}", m64.summary());
    assert_eq!(m32.cases() + m64.cases(), layer_cases("Embedding").len());
}
