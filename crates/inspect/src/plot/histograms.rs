//! Per-layer histograms at one step, overlaid: activations, or the gradients reaching them.

use ferrograd_tensor::{Error, Result};
use plotters::prelude::*;

use super::{colour, draw_png, failed, legend, legend_share, note, range, with_headroom, HEIGHT, WIDTH};
use crate::{Histogram, LayerKind, LayerStats, Record};

/// The distribution of every layer's output at `step` (or, for `None`, at the last step that
/// has histograms): one density curve per layer with a histogram, overlaid, labelled
/// `layer (type): mean, std, saturated`. As a PNG. When some of the layers are nonlinearities
/// (tanh, sigmoid, ReLU), only those are drawn: their outputs are where saturation and dead
/// units show, and the linear layers in between would crowd the picture.
///
/// Fails if the record has no such step, if the step has no activation histogram, or if a
/// histogram's edges are not `counts.len() + 1` increasing numbers.
pub fn activation_histograms(record: &Record, step: Option<usize>) -> Result<Vec<u8>> {
    histograms("activation_histograms", record, step, false)
}

/// The distribution of the gradient reaching every layer's output at `step` (or the last step
/// with histograms), overlaid as in [`activation_histograms`] (the same layers), labelled with
/// mean and std.
pub fn gradient_histograms(record: &Record, step: Option<usize>) -> Result<Vec<u8>> {
    histograms("gradient_histograms", record, step, true)
}

/// One curve: its legend and its `(x, density)` points.
type Curve = (String, Vec<(f64, f64)>);

fn histograms(op: &'static str, record: &Record, step: Option<usize>, grads: bool) -> Result<Vec<u8>> {
    let hist_of = |l: &LayerStats| if grads { l.grad_hist.clone() } else { l.hist.clone() };
    let chosen = match step {
        Some(n) => record.steps.iter().find(|s| s.step == n).ok_or_else(|| {
            Error::invalid(
                op,
                format!("step {n} is not in the record (it holds {} steps)", record.steps.len()),
            )
        })?,
        None => record
            .steps
            .iter()
            .rev()
            .find(|s| s.layers.iter().any(|l| hist_of(l).is_some()))
            .ok_or_else(|| Error::invalid(op, "the record has no step with histograms"))?,
    };
    // The nonlinearities' outputs tell the story (as in Karpathy's makemore lectures); the
    // other layers are drawn only when there are none.
    let nonlinear = |l: &LayerStats| l.kind != LayerKind::Other;
    let only_nonlinear = chosen.layers.iter().any(|l| nonlinear(l) && hist_of(l).is_some());
    let mut curves: Vec<Curve> = Vec::new();
    for layer in chosen.layers.iter().filter(|l| !only_nonlinear || nonlinear(l)) {
        let Some(h) = hist_of(layer) else { continue };
        check(op, &layer.layer, &h)?;
        let mut legend = format!(
            "{} ({}): mean {}, std {}",
            if layer.layer.is_empty() { "model" } else { &layer.layer },
            layer.module_type,
            signed(h.mean),
            plain(h.std)
        );
        if let (false, Some(s)) = (grads, h.saturated) {
            legend.push_str(&format!(", saturated {}%", plain(100.0 * s)));
        }
        curves.push((legend, density(&h)));
    }
    if curves.is_empty() {
        let what = if grads { "gradient" } else { "activation" };
        return Err(Error::invalid(
            op,
            format!("step {} has no {what} histogram", chosen.step),
        ));
    }
    let title = if grads {
        format!("gradient reaching each layer's output, step {}", chosen.step)
    } else {
        format!("activations of each layer, step {}", chosen.step)
    };
    draw_png(op, (WIDTH, HEIGHT), |root| {
        draw(root, &title, &curves, grads).map_err(failed(op))
    })
}

/// Checks that a histogram can be drawn.
fn check(op: &'static str, layer: &str, h: &Histogram) -> Result<()> {
    let ok = h.edges.len() == h.counts.len() + 1
        && !h.counts.is_empty()
        && h.edges.iter().all(|e| e.is_finite())
        && h.edges.windows(2).all(|w| w[0] < w[1]);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!(
                "the histogram of layer {layer:?} has {} edges for {} bins; expected {} increasing finite edges",
                h.edges.len(),
                h.counts.len(),
                h.counts.len() + 1
            ),
        ))
    }
}

/// Bin centres and densities (count / (total · bin width)), so layers with different numbers
/// of elements compare.
fn density(h: &Histogram) -> Vec<(f64, f64)> {
    let total = h.counts.iter().sum::<u64>().max(1) as f64;
    h.counts
        .iter()
        .zip(h.edges.windows(2))
        .map(|(&c, w)| ((w[0] + w[1]) / 2.0, c as f64 / (total * (w[1] - w[0]))))
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    curves: &[Curve],
    grads: bool,
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let xs = range(curves.iter().flat_map(|c| c.1.iter().map(|p| p.0)), 0.02).unwrap_or((-1.0, 1.0));
    let top = range(curves.iter().flat_map(|c| c.1.iter().map(|p| p.1)), 0.0).map_or(1.0, |r| r.1) * 1.05;
    let top = with_headroom((0.0, if top > 0.0 { top } else { 1.0 }), legend_share(curves.len())).1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(xs.0..xs.1, 0.0..top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(if grads { "gradient value" } else { "activation value" })
        .y_desc("density")
        .x_label_formatter(&|x| plain(*x))
        .y_label_formatter(&|y| plain(*y))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    for (i, (legend, points)) in curves.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(e)?
            .label(legend.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    if curves.iter().all(|c| c.1.iter().all(|p| p.1 == 0.0)) {
        note(root, "every bin is empty")?;
    }
    legend(&mut chart)
}

/// A number for a label: three significant digits, scientific when tiny or huge, `NaN` / `inf`
/// spelled out.
pub(crate) fn plain(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// As [`plain`], with a sign.
fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", plain(v))
    } else {
        plain(v)
    }
}
