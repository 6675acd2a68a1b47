//! `scaled_dot_product_attention` against PyTorch's fixture cases (outputs and the gradients
//! of query, key, value and an additive mask), against finite differences, and its errors.

use crate::common;

use common::fixtures::{layer_cases, Case, Matcher};
use ferrograd_autograd::{gradcheck, GradcheckOptions, Var};
use ferrograd_nn::functional::{scaled_dot_product_attention as sdpa, AttnMask};
use ferrograd_tensor::{BoolTensor, Float, Result, Tensor};

fn run_case<T: Float>(m: &mut Matcher, case: &Case) -> Result<()> {
    let float = |i: usize| Var::parameter(case.inputs[i].as_ref().expect("q, k, v").tensor::<T>());
    let (q, k, v) = (float(0), float(1), float(2));
    let mask = case.inputs[3].as_ref();
    let bool_mask = mask
        .filter(|t| !t.is_float())
        .map(|t| BoolTensor::from_vec(t.mask().data, &t.shape))
        .transpose()?;
    let additive = mask.filter(|t| t.is_float()).map(|t| Var::parameter(t.tensor::<T>()));
    let attn_mask = match (&bool_mask, &additive) {
        (Some(b), _) => Some(AttnMask::Bool(b)),
        (_, Some(a)) => Some(AttnMask::Additive(a)),
        _ => None,
    };
    assert_eq!(case.arg_f64("dropout_p"), Some(0.0), "{}", case.name);
    let result = sdpa(
        &q,
        &k,
        &v,
        attn_mask,
        case.arg_bool("is_causal").unwrap_or(false),
        case.arg_f64("scale"),
    );
    let Some(step) = case.single_step() else {
        m.error_contains(case, &result.expect_err(&case.name).to_string());
        return Ok(());
    };
    let out = result?;
    m.close(case, "output", &out.to_tensor(), &step.expected.outputs[0]);
    let upstream = Var::new(step.upstream[0].as_ref().expect("upstream").tensor::<T>());
    out.try_mul(&upstream)?.sum().backward()?;
    let grads = step.expected.input_grads.iter();
    for (what, (x, want)) in ["query grad", "key grad", "value grad"]
        .into_iter()
        .zip([&q, &k, &v].into_iter().zip(grads))
    {
        m.close(
            case,
            what,
            &x.grad().expect("a gradient"),
            want.as_ref().expect("float input"),
        );
    }
    if let Some(a) = &additive {
        let want = step.expected.input_grads[3].as_ref().expect("mask grad");
        m.close(case, "attn_mask grad", &a.grad().expect("a gradient"), want);
    }
    Ok(())
}

#[test]
fn attention_matches_pytorch_on_every_fixture_case() -> Result<()> {
    let (mut m32, mut m64) = (Matcher::new(), Matcher::new());
    for case in layer_cases("F.scaled_dot_product_attention") {
        match case.dtype.as_str() {
            "float64" => run_case::<f64>(&mut m64, case)?,
            _ => run_case::<f32>(&mut m32, case)?,
        }
    }
    println!("F.scaled_dot_product_attention f32: {}", m32.summary());
    println!("F.scaled_dot_product_attention f64: {}", m64.summary());
    Ok(())
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, seed)
}

#[test]
fn attention_passes_gradcheck() -> Result<()> {
    let (q, k, v) = (randn(&[2, 3, 4], 1), randn(&[2, 5, 4], 2), randn(&[2, 5, 3], 3));
    let keep = BoolTensor::from_vec(
        vec![
            true, false, true, true, false, //
            false, false, false, false, false, // a row with nothing to attend to
            true, true, false, true, true,
        ],
        &[3, 5],
    )?;
    let report = |name: &str, r: ferrograd_autograd::GradcheckReport| {
        assert!(r.passed, "{name}: {r}");
        println!("{name}: {r}");
    };
    let inputs = [q.clone(), k.clone(), v.clone()];
    let opts = GradcheckOptions::default();
    report(
        "no mask",
        gradcheck(|x| sdpa(&x[0], &x[1], &x[2], None, false, None), &inputs, opts)?,
    );
    report(
        "causal, L < S, scale 0.7",
        gradcheck(|x| sdpa(&x[0], &x[1], &x[2], None, true, Some(0.7)), &inputs, opts)?,
    );
    report(
        "boolean mask with a fully masked row",
        gradcheck(
            |x| sdpa(&x[0], &x[1], &x[2], Some(AttnMask::Bool(&keep)), false, None),
            &inputs,
            opts,
        )?,
    );
    let additive = randn(&[2, 1, 5], 4);
    report(
        "additive mask broadcast over queries, its own gradient",
        gradcheck(
            |x| sdpa(&x[0], &x[1], &x[2], Some(AttnMask::Additive(&x[3])), false, None),
            &[q.clone(), k.clone(), v.clone(), additive],
            opts,
        )?,
    );
    let (q5, k3, v3) = (
        randn(&[1, 2, 5, 4], 5),
        randn(&[1, 2, 3, 4], 6),
        randn(&[1, 2, 3, 4], 7),
    );
    report(
        "causal, L > S, 4-D",
        gradcheck(|x| sdpa(&x[0], &x[1], &x[2], None, true, None), &[q5, k3, v3], opts)?,
    );
    // Sizes past the kernel's 4x16 tiles, L != S and a last partial tile, so that the
    // products reading P and dS by columns run their tiled loops too.
    let big = [randn(&[2, 20, 16], 8), randn(&[2, 24, 16], 9), randn(&[2, 24, 17], 10)];
    for causal in [false, true] {
        report(
            &format!("L 20, S 24, E 16, Ev 17, causal {causal}"),
            gradcheck(|x| sdpa(&x[0], &x[1], &x[2], None, causal, None), &big, opts)?,
        );
    }
    Ok(())
}

#[test]
fn a_fully_masked_row_gives_zeros_and_zero_gradients() -> Result<()> {
    // Every position of query 1 masked: its output row is 0 and no gradient flows from it.
    let q = Var::parameter(randn(&[1, 3, 4], 1));
    let k = Var::parameter(randn(&[1, 5, 4], 2));
    let v = Var::parameter(randn(&[1, 5, 4], 3));
    let mut keep = vec![true; 15];
    keep[5..10].fill(false);
    let keep = BoolTensor::from_vec(keep, &[3, 5])?;
    let out = sdpa(&q, &k, &v, Some(AttnMask::Bool(&keep)), false, None)?;
    assert!(out.to_tensor().all_finite());
    assert_eq!(out.to_tensor().to_vec()[4..8], [0.0; 4]);
    out.sum().backward()?;
    assert_eq!(q.grad().unwrap().to_vec()[4..8], [0.0; 4]);
    assert!(k.grad().unwrap().all_finite() && v.grad().unwrap().all_finite());
    Ok(())
}

#[test]
fn default_scale_is_one_over_sqrt_e_and_causal_is_top_left() -> Result<()> {
    let (q, k, v) = (
        Var::new(randn(&[2, 3, 4], 1)),
        Var::new(randn(&[2, 5, 4], 2)),
        Var::new(randn(&[2, 5, 3], 3)),
    );
    let default = sdpa(&q, &k, &v, None, false, None)?.to_tensor();
    let explicit = sdpa(&q, &k, &v, None, false, Some(0.5))?.to_tensor();
    assert_eq!(default.to_vec(), explicit.to_vec());
    // is_causal is the boolean mask tril(ones(L, S)) (the first is one fused op, the second
    // is composed of matmul, masked_fill and softmax: equal up to the order of the sums).
    let tril = BoolTensor::full(&[3, 5], true).tril(0)?;
    let causal = sdpa(&q, &k, &v, None, true, None)?.to_tensor();
    let masked = sdpa(&q, &k, &v, Some(AttnMask::Bool(&tril)), false, None)?.to_tensor();
    for (a, b) in causal.to_vec().iter().zip(masked.to_vec()) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
    // Query 0 sees only key 0: its output is value row 0.
    assert_eq!(causal.to_vec()[..3], v.to_tensor().to_vec()[..3]);
    Ok(())
}

#[test]
fn bad_arguments_are_errors_naming_the_values() {
    let t = |shape: &[usize]| Var::new(Tensor::<f32>::zeros(shape));
    let (q, k, v) = (t(&[2, 2, 3, 4]), t(&[2, 2, 5, 4]), t(&[2, 2, 5, 4]));
    let err = |r: Result<Var<f32>>| r.unwrap_err().to_string();
    let keep = BoolTensor::full(&[3, 5], true);
    // F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=True)
    //   -> "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
    let e = err(sdpa(&q, &k, &v, Some(AttnMask::Bool(&keep)), true, None));
    assert!(
        e.contains("Explicit attn_mask should not be set when is_causal=True"),
        "{e}"
    );
    // key of head size 3 -> "Expected size for first two dimensions of batch2 tensor to be: [4, 4] but got: [4, 3]."
    let e = err(sdpa(&q, &t(&[2, 2, 5, 3]), &v, None, false, None));
    assert!(e.contains("batch2 tensor to be: [4, 4] but got: [4, 3]."), "{e}");
    // A value sequence longer than the key's: PyTorch's CPU kernel returns a result without a
    // word; ferrograd refuses, with the message of PyTorch's composite (bmm) path.
    let e = err(sdpa(&q, &k, &t(&[2, 2, 6, 4]), None, false, None));
    assert!(e.contains("[4, 5] but got: [4, 6]"), "{e}");
    // key batch 3 -> "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"
    let e = err(sdpa(&q, &t(&[3, 2, 5, 4]), &t(&[3, 2, 5, 4]), None, false, None));
    assert!(
        e.contains("The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
        "{e}"
    );
    // attn_mask of shape [3, 4] -> "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 3"
    let bad = BoolTensor::full(&[3, 4], true);
    let e = err(sdpa(&q, &k, &v, Some(AttnMask::Bool(&bad)), false, None));
    assert!(
        e.contains("The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 3"),
        "{e}"
    );
    let bad = t(&[4, 5]);
    let e = err(sdpa(&q, &k, &v, Some(AttnMask::Additive(&bad)), false, None));
    assert!(
        e.contains("(3) must match the size of tensor b (4) at non-singleton dimension 2"),
        "{e}"
    );
    let e = err(sdpa(&t(&[4]), &t(&[4]), &t(&[4]), None, false, None));
    assert!(e.contains("query.dim: 1 key.dim: 1 and value.dim: 1"), "{e}");
}

#[test]
fn shapes_broadcast_and_empty_sizes_work() -> Result<()> {
    let t = |shape: &[usize], seed| Var::new(Tensor::<f32>::randn(shape, seed));
    // 2-D inputs, a 3-D key against a 4-D query, an empty query and an empty key sequence.
    assert_eq!(
        sdpa(&t(&[3, 4], 1), &t(&[5, 4], 2), &t(&[5, 6], 3), None, false, None)?.shape(),
        [3, 6]
    );
    let q = t(&[2, 2, 3, 4], 1);
    assert_eq!(
        sdpa(&q, &t(&[2, 5, 4], 2), &t(&[2, 5, 4], 3), None, false, None)?.shape(),
        [2, 2, 3, 4]
    );
    let out = sdpa(
        &t(&[2, 0, 4], 1),
        &t(&[2, 5, 4], 2),
        &t(&[2, 5, 4], 3),
        None,
        false,
        None,
    )?;
    assert_eq!(out.shape(), [2, 0, 4]);
    let out = sdpa(
        &t(&[2, 3, 4], 1),
        &t(&[2, 0, 4], 2),
        &t(&[2, 0, 4], 3),
        None,
        false,
        None,
    )?;
    assert_eq!(out.shape(), [2, 3, 4]);
    Ok(())
}

#[test]
fn the_gradient_of_unmasked_and_causal_attention_has_a_gradient() -> Result<()> {
    // The fused op's recorded gradient (create_graph), checked against finite differences.
    let inputs = [randn(&[2, 3, 4], 11), randn(&[2, 5, 4], 12), randn(&[2, 5, 3], 13)];
    for causal in [false, true] {
        let r = gradcheck(
            |x| {
                // The finite differences run without recording, on inputs without a gradient:
                // record the first gradient anyway, from leaves of their values.
                let _recording = ferrograd_autograd::enable_grad();
                let x: Vec<Var<f64>> = if x[0].requires_grad() {
                    x.to_vec()
                } else {
                    x.iter().map(|v| Var::parameter(v.to_tensor())).collect()
                };
                let out = sdpa(&x[0], &x[1], &x[2], None, causal, None)?;
                let y = out.try_mul(&out)?.sum();
                let g = ferrograd_autograd::grad(&[y], &x, None, true)?;
                let squares = |g: &Option<Var<f64>>| g.as_ref().map(|g| g.try_mul(g).map(|s| s.sum()));
                let (a, b, c) = (
                    squares(&g[0]).unwrap()?,
                    squares(&g[1]).unwrap()?,
                    squares(&g[2]).unwrap()?,
                );
                a.try_add(&b)?.try_add(&c)
            },
            &inputs,
            GradcheckOptions::default(),
        )?;
        assert!(r.passed, "causal {causal}: {r}");
    }
    Ok(())
}

/// The fused op (no mask, or `is_causal`) against the general path it bypasses (an explicit
/// boolean mask: softmax of the masked scores, then a product), at sizes past its 4x16 tiles:
/// outputs and the three gradients agree to rounding.
#[test]
fn the_fused_op_matches_the_masked_path_past_one_tile() -> Result<()> {
    for (l, s, e, ev) in [(20, 24, 16, 17), (40, 33, 24, 8), (17, 17, 5, 40)] {
        for causal in [false, true] {
            let keep: Vec<bool> = (0..l * s).map(|x| !causal || x % s <= x / s).collect();
            let keep = BoolTensor::from_vec(keep, &[l, s])?;
            let leaves = || {
                [
                    Var::parameter(Tensor::<f32>::randn(&[2, 3, l, e], 21)),
                    Var::parameter(Tensor::<f32>::randn(&[2, 3, s, e], 22)),
                    Var::parameter(Tensor::<f32>::randn(&[2, 3, s, ev], 23)),
                ]
            };
            let grad = Tensor::<f32>::randn(&[2, 3, l, ev], 24);
            let (fused, masked) = (leaves(), leaves());
            let a = sdpa(&fused[0], &fused[1], &fused[2], None, causal, None)?;
            let b = sdpa(
                &masked[0],
                &masked[1],
                &masked[2],
                Some(AttnMask::Bool(&keep)),
                false,
                None,
            )?;
            a.backward_with(&grad)?;
            b.backward_with(&grad)?;
            let close = |what: &str, x: Vec<f32>, y: Vec<f32>| {
                assert_eq!(x.len(), y.len());
                for (i, (x, y)) in x.iter().zip(&y).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                        "{l}x{s}x{e}x{ev} causal {causal}: {what}[{i}] {x} vs {y}"
                    );
                }
            };
            close("output", a.to_tensor().to_vec(), b.to_tensor().to_vec());
            for (name, (x, y)) in ["dq", "dk", "dv"].iter().zip(fused.iter().zip(&masked)) {
                close(name, x.grad().unwrap().to_vec(), y.grad().unwrap().to_vec());
            }
        }
    }
    Ok(())
}

/// A NaN reaches exactly the outputs whose scores it enters, as in PyTorch's math backend:
///
/// ```python
/// from torch.nn.attention import sdpa_kernel, SDPBackend
/// q, k, v = (torch.randn(1, 1, 4, 3, dtype=torch.float64) for _ in range(3))
/// q[0, 0, 1, 0] = float("nan")
/// with sdpa_kernel(SDPBackend.MATH):
///     F.scaled_dot_product_attention(q, k, v, is_causal=True).isnan().any(-1)
/// # tensor([[[False,  True, False, False]]])
/// # and with k[0, 0, 2, 1] = nan instead: tensor([[[False, False,  True,  True]]])
/// ```
///
/// (PyTorch's default CPU kernel, flash attention, gives no NaN at all for the first case.)
#[test]
fn a_nan_reaches_the_rows_that_see_it() -> Result<()> {
    let input = |seed| Tensor::<f64>::randn(&[1, 1, 4, 3], seed);
    let nan_rows = |q: Tensor<f64>, k: Tensor<f64>| -> Result<Vec<bool>> {
        let out = sdpa(&Var::new(q), &Var::new(k), &Var::new(input(3)), None, true, None)?.to_tensor();
        Ok(out
            .to_vec()
            .chunks(3)
            .map(|row| row.iter().any(|x| x.is_nan()))
            .collect())
    };
    let mut q = input(1).to_vec();
    q[3] = f64::NAN; // query 1, element 0
    let q = Tensor::from_vec(q, &[1, 1, 4, 3])?;
    assert_eq!(nan_rows(q, input(2))?, [false, true, false, false]);
    let mut k = input(2).to_vec();
    k[7] = f64::NAN; // key 2, element 1
    let k = Tensor::from_vec(k, &[1, 1, 4, 3])?;
    assert_eq!(nan_rows(input(1), k)?, [false, false, true, true]);
    Ok(())
}
