//! The PNG of the train and test loss curves, drawn with `plotters` into a bitmap with the
//! DejaVu Sans font compiled in from `examples/assets` (no system library needed).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::register_font;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn err(e: impl std::fmt::Display) -> String {
    format!("plotting failed: {e}")
}

/// Draws the train and test losses, each `(step, loss)`, into `path`.
pub fn loss_curves(path: &Path, title: &str, train: &[(f64, f64)], test: &[(f64, f64)]) -> Result<(), String> {
    register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "the shipped font could not be read".to_string())?;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let finite = || train.iter().chain(test).filter(|p| p.1.is_finite());
    let last_step = finite().map(|p| p.0).fold(1.0f64, f64::max);
    let top = finite().map(|p| p.1).fold(0.0f64, f64::max).max(1e-3) * 1.05;
    let bottom = finite().map(|p| p.1).fold(top, f64::min) * 0.95;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..last_step, bottom..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("cross-entropy loss")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    for (points, colour, label) in [(train, blue, "train"), (test, red, "test")] {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
