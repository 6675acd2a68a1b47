//! Statistics over the steps, one curve per parameter or per layer.

use ferrograd_tensor::{Error, Result};
use plotters::prelude::*;

use super::histograms::plain;
use super::{colour, draw_png, failed, legend, legend_share, note, range, with_headroom, HEIGHT, WIDTH};
use crate::Record;

/// The healthy update:data ratio, as log10: an update a thousandth of the data.
const GUIDE: f64 = -3.0;

/// One named curve of `(step, value)` points.
type Series = (String, Vec<(f64, f64)>);

/// `log10(std(Δθ) / std(θ))` of each parameter over the recorded steps, with the guide line at
/// -3, as a PNG. Only the weight matrices and kernels (parameters of two or more dimensions)
/// are drawn when there are any, as biases and gains crowd the picture; otherwise all are.
///
/// Fails if the record has no steps; steps where a ratio is missing, NaN or infinite are left
/// out of its curve, and a record with no ratio at all gives the axes and a note.
pub fn update_ratios(record: &Record) -> Result<Vec<u8>> {
    let op = "update_ratios";
    nonempty(op, record)?;
    let matrices = record.steps.iter().flat_map(|s| &s.params).any(|p| p.shape.len() >= 2);
    let mut series: Vec<Series> = Vec::new();
    for step in &record.steps {
        for p in step.params.iter().filter(|p| !matrices || p.shape.len() >= 2) {
            if let Some(r) = p.update_ratio_log10 {
                push(&mut series, &p.name, (step.step as f64, r));
            }
        }
    }
    let title = "update:data ratio per parameter, log10(std(update) / std(data))";
    draw_png(op, (WIDTH, HEIGHT), |root| {
        lines(root, record, title, "log10 update:data ratio", &series, Some(GUIDE)).map_err(failed(op))
    })
}

/// The std of the gradient reaching each layer's output over the recorded steps, on a log10
/// scale, as a PNG: a layer whose curve sits far below the next one's is where the gradient
/// vanishes. Fails if the record has no steps; missing, zero and non-finite values are left
/// out.
pub fn grad_stds(record: &Record) -> Result<Vec<u8>> {
    let op = "grad_stds";
    nonempty(op, record)?;
    let mut series: Vec<Series> = Vec::new();
    for step in &record.steps {
        for l in &step.layers {
            if let Some(g) = l.grad_std.filter(|g| *g > 0.0) {
                let name = if l.layer.is_empty() {
                    "model".to_string()
                } else {
                    format!("{} ({})", l.layer, l.module_type)
                };
                push(&mut series, &name, (step.step as f64, g.log10()));
            }
        }
    }
    let title = "gradient reaching each layer's output: std over the steps";
    draw_png(op, (WIDTH, HEIGHT), |root| {
        lines(root, record, title, "log10 std of the output gradient", &series, None).map_err(failed(op))
    })
}

fn nonempty(op: &'static str, record: &Record) -> Result<()> {
    if record.steps.is_empty() {
        return Err(Error::invalid(
            op,
            "the record has no steps: record at least one training step first",
        ));
    }
    Ok(())
}

/// Adds a finite point to the curve called `name`, creating it in first-seen order.
fn push(series: &mut Vec<Series>, name: &str, point: (f64, f64)) {
    if !(point.0.is_finite() && point.1.is_finite()) {
        return;
    }
    match series.iter_mut().find(|s| s.0 == name) {
        Some(s) => s.1.push(point),
        None => series.push((name.to_string(), vec![point])),
    }
}

fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    record: &Record,
    title: &str,
    y_desc: &str,
    series: &[Series],
    guide: Option<f64>,
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let steps = record.steps.iter().map(|s| s.step as f64);
    let (first, last) = range(steps.clone(), 0.0).unwrap_or((0.0, 1.0));
    let (first, last) = if last > first {
        (first, last)
    } else {
        (first - 0.5, first + 0.5)
    };
    let ys = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).chain(guide);
    let entries = series.len() + usize::from(guide.is_some());
    let (low, high) = with_headroom(range(ys, 0.08).unwrap_or((-1.0, 1.0)), legend_share(entries));
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 21))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(first..last, low..high)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| plain(*y))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    if let Some(g) = guide {
        let grey = RGBColor(60, 60, 60);
        chart
            .draw_series(DashedLineSeries::new(
                [(first, g), (last, g)],
                8,
                6,
                grey.stroke_width(2),
            ))
            .map_err(e)?
            .label(format!("guide: 1e{g}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)));
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(e)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        if points.len() == 1 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(e)?;
        }
    }
    if series.is_empty() {
        note(root, "no finite value was recorded")?;
    }
    legend(&mut chart)
}
