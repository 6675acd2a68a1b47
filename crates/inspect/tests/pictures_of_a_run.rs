//! The pictures and the report from a record the Monitor filled while a small tanh MLP trained.

use crate::common;

use common::assert_picture;
use ferrograd_autograd::Var;
use ferrograd_inspect::plot::{activation_histograms, grad_stds, gradient_histograms, update_ratios, HEIGHT, WIDTH};
use ferrograd_inspect::{graph_png, graph_svg, Monitor, MonitorOptions, Report};
use ferrograd_nn::{Adam, CrossEntropyLoss, Embedding, Flatten, Forward, Linear, Module, Optimizer, Sequential, Tanh};
use ferrograd_tensor::{IndexTensor, Result};

#[test]
fn a_monitored_run_gives_every_picture_and_a_report() -> Result<()> {
    let model: Sequential = Sequential::new()
        .add(Embedding::new(27, 8, 0))
        .add(Flatten::default())
        .add(Linear::new(24, 48, 1))
        .add(Tanh)
        .add(Linear::new(48, 48, 2))
        .add(Tanh)
        .add(Linear::new(48, 27, 3));
    let mut opt = Adam::new(model.parameters(), 1e-2);
    let options = MonitorOptions {
        histogram_steps: vec![0, 29],
        ..MonitorOptions::default()
    };
    let mut monitor = Monitor::attach(&model, options);
    let mut last = None;
    for step in 0..30 {
        let x = (0..96).map(|i| ((i * 7 + step * 13) % 27) as i64).collect();
        let y = (0..32).map(|i| ((i * 5 + step * 3) % 27) as i64).collect();
        let (x, y) = (IndexTensor::from_vec(x, &[32, 3])?, IndexTensor::from_vec(y, &[32])?);
        let loss = CrossEntropyLoss::new().forward(&model.call(&x)?, &y)?;
        opt.zero_grad();
        loss.backward()?;
        monitor.step(&mut opt, loss.item()? as f64)?;
        last = Some(loss);
    }
    let record = monitor.into_record();
    let pictures = [
        ("activations.png", activation_histograms(&record, None)?),
        ("gradients.png", gradient_histograms(&record, Some(0))?),
        ("update_ratios.png", update_ratios(&record)?),
        ("grad_stds.png", grad_stds(&record)?),
    ];
    for (_, png) in &pictures {
        assert_picture(png, WIDTH, HEIGHT);
    }
    let loss: Var<f32> = last.expect("thirty steps ran");
    for (name, p) in model.named_parameters() {
        p.set_name(&name);
    }
    let graph = graph_png(std::slice::from_ref(&loss))?;
    assert!(common::decode(&graph).2 > 8);

    let mut report = Report::new("a character MLP, 30 steps of Adam");
    report.record("Adam, lr 0.01", &record)?;
    report.heading("Graph").svg("the last loss", &graph_svg(&[loss])?)?;
    let html = report.to_html();
    assert_eq!(html.matches("data:image/png;base64,").count(), 4);
    for layer in [
        "<td>2</td><td>Linear</td>",
        "<td>3</td><td>Tanh</td>",
        "<td>2.weight</td>",
    ] {
        assert!(html.contains(layer), "no row {layer}");
    }
    if let Ok(dir) = std::env::var("FERROGRAD_PICTURES") {
        for (name, png) in &pictures {
            ferrograd_inspect::plot::write_png(format!("{dir}/run_{name}"), png)?;
        }
        ferrograd_inspect::plot::write_png(format!("{dir}/run_graph.png"), &graph)?;
        report.write(format!("{dir}/run_report.html"))?;
    }
    Ok(())
}
