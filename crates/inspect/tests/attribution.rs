//! Saliency is the gradient's magnitude; integrated gradients add up to
//! score(input) − score(baseline); the overlay picture is a PNG; mistakes are errors.

use crate::common;

use common::assert_picture;
use ferrograd_autograd::Var;
use ferrograd_inspect::attribution::{integrated_gradients, overlay_png, saliency, IgOptions, Integration, Tile};
use ferrograd_nn::{Conv2d, Flatten, Forward, Linear, Sequential, Tanh};
use ferrograd_tensor::{Result, Tensor};

/// A small f64 image model: Conv2d(1, 4, 3) - Tanh - Flatten - Linear(4·4·4, 3) on 6x6 images.
fn cnn() -> Sequential<f64> {
    Sequential::new()
        .add(Conv2d::new(1, 4, 3, 0).unwrap())
        .add(Tanh)
        .add(Flatten::default())
        .add(Linear::new(4 * 4 * 4, 3, 1))
}

fn images() -> Tensor<f64> {
    Tensor::randn(&[2, 1, 6, 6], 5)
}

#[test]
fn integrated_gradients_add_up_to_the_change_of_the_score() {
    let model = cnn();
    let forward = |x: &Var<f64>| model.forward(x);
    let x = images();
    let classes = [2, 0];
    let ig = integrated_gradients(
        forward,
        &x,
        &classes,
        &IgOptions {
            steps: 300,
            ..IgOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ig.attributions.shape(), x.shape());

    // score(x) - score(0), computed here from the model directly
    let scores = |t: &Tensor<f64>| model.forward(&Var::new(t.clone())).unwrap().to_tensor().to_vec();
    let (at_x, at_0) = (scores(&x), scores(&x.zeros_like()));
    let attributions = ig.attributions.to_vec();
    for (i, &c) in classes.iter().enumerate() {
        let total: f64 = attributions[i * 36..(i + 1) * 36].iter().sum();
        let change = at_x[i * 3 + c] - at_0[i * 3 + c];
        // The stated tolerance: 1e-5 of the change (trapezoid rule, 300 steps, f64).
        assert!(
            (total - change).abs() <= 1e-5 * change.abs().max(1.0),
            "example {i}: attributions sum to {total}, the score changed by {change}"
        );
        assert!((ig.gap[i] - (total - change)).abs() < 1e-12);
    }
}

#[test]
fn the_trapezoid_rule_beats_a_riemann_sum_and_the_baseline_is_used() {
    let model = cnn();
    let forward = |x: &Var<f64>| model.forward(x);
    let x = images();
    let gap = |integration, baseline: Option<Tensor<f64>>| {
        let options = IgOptions {
            steps: 20,
            integration,
            baseline,
        };
        let ig = integrated_gradients(forward, &x, &[1, 1], &options).unwrap();
        ig.gap.iter().map(|g| g.abs()).fold(0.0, f64::max)
    };
    let (trapezoid, left) = (gap(Integration::Trapezoid, None), gap(Integration::RiemannLeft, None));
    assert!(trapezoid < left / 10.0, "trapezoid {trapezoid}, left {left}");
    assert!(gap(Integration::RiemannMiddle, None) < left / 10.0);
    assert!(gap(Integration::RiemannRight, None) > trapezoid);
    // from the input itself every attribution is 0
    let options = IgOptions {
        baseline: Some(x.clone()),
        ..IgOptions::default()
    };
    let ig = integrated_gradients(forward, &x, &[0, 1], &options).unwrap();
    assert!(ig.attributions.to_vec().iter().all(|&a| a == 0.0));
}

#[test]
fn saliency_is_the_magnitude_of_the_gradient() {
    // scores = x W^T, so the gradient of score c is row c of W.
    let w = Tensor::from_vec(vec![1.0, -2.0, 0.5, 0.0, 3.0, -4.0], &[2, 3]).unwrap();
    let model = |x: &Var<f64>| x.matmul(&Var::new(w.transpose(0, 1)?));
    let x = Tensor::from_vec(vec![0.1, 0.2, 0.3, -1.0, 2.0, 0.5], &[2, 3]).unwrap();
    let s = saliency(model, &x, &[0, 1]).unwrap();
    assert_eq!(s.to_vec(), vec![1.0, 2.0, 0.5, 0.0, 3.0, 4.0]);

    // and on the CNN, against central differences
    let net = cnn();
    let forward = |x: &Var<f64>| net.forward(x);
    let x = images();
    let s = saliency(forward, &x, &[1, 2]).unwrap().to_vec();
    let mut values = x.to_vec();
    for j in [0, 7, 20, 35, 36 + 14] {
        let score = |v: &[f64]| -> f64 {
            let out = net
                .forward(&Var::new(Tensor::from_vec(v.to_vec(), &[2, 1, 6, 6]).unwrap()))
                .unwrap();
            let out = out.to_tensor().to_vec();
            if j < 36 {
                out[1]
            } else {
                out[3 + 2]
            }
        };
        let eps = 1e-6;
        values[j] += eps;
        let up = score(&values);
        values[j] -= 2.0 * eps;
        let down = score(&values);
        values[j] += eps;
        let numeric = ((up - down) / (2.0 * eps)).abs();
        assert!((s[j] - numeric).abs() < 1e-7, "pixel {j}: {} vs {numeric}", s[j]);
    }
}

#[test]
fn mistakes_are_errors_naming_the_values() {
    let model = cnn();
    let forward = |x: &Var<f64>| model.forward(x);
    let x = images();
    let message = |r: Result<Tensor<f64>>| r.unwrap_err().to_string();
    let e = message(saliency(forward, &x, &[3, 0]));
    assert!(
        e.contains("saliency") && e.contains("class 3 is out of bounds for scores with 3 classes"),
        "{e}"
    );
    let e = message(saliency(forward, &x, &[0]));
    assert!(e.contains("2 examples, 1 classes given"), "{e}");
    let flat = |x: &Var<f64>| Ok(model.forward(x)?.sum());
    let e = message(saliency(flat, &x, &[0, 0]));
    assert!(
        e.contains("expected the model to return scores of shape [2, classes]"),
        "{e}"
    );
    let e = integrated_gradients(
        forward,
        &x,
        &[0, 0],
        &IgOptions {
            steps: 0,
            ..IgOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("steps must be at least 1"), "{e}");
    let options = IgOptions {
        baseline: Some(Tensor::zeros(&[1, 1, 6, 6])),
        ..IgOptions::default()
    };
    let e = integrated_gradients(forward, &x, &[0, 0], &options)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[1, 1, 6, 6]") && e.contains("[2, 1, 6, 6]"), "{e}");
    // a model that fails passes its error on
    let failing = |x: &Var<f64>| x.narrow(1, 5, 1);
    assert!(saliency(failing, &x, &[0, 0]).is_err());
}

#[test]
fn the_overlay_is_a_grid_of_tiles() {
    let image: Vec<f64> = (0..64).map(|i| (i % 8) as f64 / 8.0).collect();
    let map: Vec<f64> = (0..64)
        .map(|i| if i == 27 { f64::NAN } else { (i as f64 - 32.0) / 10.0 })
        .collect();
    let tiles = vec![
        Tile {
            image: image.clone(),
            map: None,
            caption: "digit 3".into(),
        },
        Tile {
            image: image.clone(),
            map: Some(map.clone()),
            caption: "saliency".into(),
        },
        Tile {
            image: image.clone(),
            map: Some(vec![0.0; 64]),
            caption: "IG".into(),
        },
        Tile {
            image,
            map: Some(map),
            caption: "again".into(),
        },
    ];
    let png = overlay_png("maps", &tiles, (8, 8), 3, 10).unwrap();
    // 3 columns of (8·10 + 20) px + 20; 2 rows of (8·10 + 34) px + 50
    assert_picture(&png, 3 * 100 + 20, 2 * 114 + 50);
    let wide = overlay_png("maps", &tiles, (8, 8), 4, 10).unwrap();
    assert_picture(&wide, 4 * 100 + 20, 114 + 50);
    if let Ok(dir) = std::env::var("FERROGRAD_PICTURES") {
        ferrograd_inspect::plot::write_png(format!("{dir}/overlay.png"), &png).unwrap();
    }
    let bad = vec![Tile {
        image: vec![0.0; 63],
        map: None,
        caption: "short".into(),
    }];
    let e = overlay_png("maps", &bad, (8, 8), 3, 10).unwrap_err().to_string();
    assert!(
        e.contains("tile 0 (\"short\"): expected 8x8 = 64 values, got an image of 63"),
        "{e}"
    );
    assert!(overlay_png("maps", &[], (8, 8), 3, 10).is_err());
    assert!(overlay_png("maps", &tiles, (8, 8), 0, 10).is_err());
}
