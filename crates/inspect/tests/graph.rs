//! The graph picture: no two boxes overlap, every edge goes down a layer, the labels and
//! colours are there, and an empty request is an error.

use crate::common;

use ferrograd_autograd::Var;
use ferrograd_inspect::graph::{graph_svg, layout, GraphLayout, NodeKind};
use ferrograd_nn::{CrossEntropyLoss, Forward, Linear, Module, ReLU, Sequential, Tanh};
use ferrograd_tensor::{IndexTensor, Tensor};

fn assert_no_overlap(l: &GraphLayout) {
    for (i, a) in l.nodes.iter().enumerate() {
        assert!(a.width > 0.0 && a.height > 0.0);
        assert!(a.x >= 0.0 && a.y >= 0.0 && a.x + a.width <= l.width && a.y + a.height <= l.height);
        for b in &l.nodes[i + 1..] {
            assert!(!a.overlaps(b), "{:?} overlaps {:?}", a.lines, b.lines);
        }
    }
    for e in &l.edges {
        assert!(l.nodes[e.from].layer > l.nodes[e.to].layer);
        assert!(e.points.len() >= 2);
        assert!(e.points.windows(2).all(|w| w[0].1 <= w[1].1), "edges run downwards");
    }
}

#[test]
fn an_mlp_loss_is_laid_out_without_overlaps() {
    let model: Sequential<f64> = Sequential::new()
        .add(Linear::new(3, 5, 0))
        .add(Tanh)
        .add(Linear::new(5, 4, 1))
        .add(ReLU)
        .add(Linear::new(4, 2, 2));
    for (name, p) in model.named_parameters() {
        p.set_name(&name);
    }
    let x = Var::new(Tensor::randn(&[6, 3], 7));
    let y = IndexTensor::from_slice(&[0, 1, 1, 0, 1, 0]);
    let loss = CrossEntropyLoss::new()
        .forward(&model.forward(&x).unwrap(), &y)
        .unwrap();
    loss.backward().unwrap();
    let l = layout(std::slice::from_ref(&loss)).unwrap();
    assert_no_overlap(&l);
    assert_eq!(l.nodes[0].kind, NodeKind::Output);
    assert_eq!(l.nodes[0].layer, 0);
    assert_eq!(l.nodes.iter().filter(|n| n.kind == NodeKind::Parameter).count(), 6);
    assert!(l.nodes.iter().any(|n| n.lines.iter().any(|s| s.contains("norm"))));
    let png = l.to_png().unwrap();
    common::assert_picture(&png, l.width.ceil() as u32, l.height.ceil() as u32);
    if let Ok(dir) = std::env::var("FERROGRAD_PICTURES") {
        ferrograd_inspect::plot::write_png(format!("{dir}/graph.png"), &png).unwrap();
    }
    let svg = graph_svg(&[loss]).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("0.weight (parameter)") && svg.contains("TanhBackward0"));
}

#[test]
fn shared_inputs_long_edges_and_two_outputs() {
    let a = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
    let b = Var::new(Tensor::from_vec(vec![0.5f64, -1.0], &[2]).unwrap());
    // a reaches the output directly and through a chain of four ops.
    let mut h = &a * &b;
    for _ in 0..4 {
        h = h.tanh() + &b;
    }
    let out1 = (&h * &a).sum();
    let out2 = (&a.exp() - &h).sum();
    let l = layout(&[out1.clone(), out2]).unwrap();
    assert_no_overlap(&l);
    assert_eq!(l.nodes.iter().filter(|n| n.kind == NodeKind::Output).count(), 2);
    // long edges pass through waypoints, one per layer crossed
    assert!(l.edges.iter().any(|e| e.points.len() > 2));
    // an output that is also an input elsewhere
    let l = layout(&[out1.clone(), out1.exp()]).unwrap();
    assert_no_overlap(&l);
}

#[test]
fn a_wide_graph_and_a_single_leaf() {
    let leaves: Vec<Var<f32>> = (0..12)
        .map(|i| Var::parameter(Tensor::from_vec(vec![i as f32], &[1]).unwrap()))
        .collect();
    let mut total = leaves[0].clone();
    for (i, leaf) in leaves.iter().enumerate().skip(1) {
        total = if i % 3 == 0 { &total * leaf } else { &total + leaf };
    }
    assert_no_overlap(&layout(&[total]).unwrap());
    let alone = layout(&[Var::new(Tensor::<f32>::zeros(&[2, 2]))]).unwrap();
    assert_eq!(alone.nodes.len(), 1);
    assert_eq!(alone.nodes[0].kind, NodeKind::Output);
}

#[test]
fn no_outputs_is_an_error() {
    let e = graph_svg::<f32>(&[]).unwrap_err().to_string();
    assert!(e.contains("graph_svg") && e.contains("at least one"), "{e}");
}
