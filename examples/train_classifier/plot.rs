//! PNG plots with `plotters`: the loss curve, and the decision boundary of a classifier in a
//! plane of two features.
//!
//! Only plotters' bitmap backend and its `ab_glyph` text renderer are used, with the DejaVu
//! Sans font compiled into the program from `examples/assets`: no system library (fontconfig,
//! freetype) and no installed font is needed.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::register_font;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Strong colours for points, one per class: the training monitor's (matplotlib's `tab10`).
fn class_colour(class: usize) -> RGBColor {
    ferrograd_inspect::plot::colour(class)
}

/// The class colour mixed with white: the background of the region predicted as that class.
fn region_colour(class: usize) -> RGBColor {
    let RGBColor(r, g, b) = class_colour(class);
    let light = |c: u8| (c as f64 * 0.3 + 255.0 * 0.7) as u8;
    RGBColor(light(r), light(g), light(b))
}

/// Makes the shipped font plotters' `sans-serif`; call before drawing text (repeating is harmless).
pub fn register_fonts() -> Result<(), String> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the shipped font could not be read".to_string())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("plotting failed: {e}")
}

/// The training loss and test loss per epoch.
pub fn loss_curve(path: &Path, title: &str, train: &[f64], test: &[f64]) -> Result<(), String> {
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let epochs = train.len().max(2);
    let top = train
        .iter()
        .chain(test)
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..epochs as f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("cross-entropy loss")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    let series = |v: &[f64]| -> Vec<(f64, f64)> { v.iter().enumerate().map(|(i, &l)| ((i + 1) as f64, l)).collect() };
    let blue = class_colour(0);
    let red = class_colour(3);
    chart
        .draw_series(LineSeries::new(series(train), blue.stroke_width(2)))
        .map_err(err)?
        .label("train")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(series(test), red.stroke_width(2)))
        .map_err(err)?
        .label("test")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// An axis tick label, without the `-0.0` that rounding a tiny negative value gives.
fn tick(v: &f64) -> String {
    let s = format!("{v:.1}");
    if s == "-0.0" {
        "0.0".into()
    } else {
        s
    }
}

/// A labelled point in the plotted plane.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub class: usize,
}

/// What to draw in [`decision_boundary`].
pub struct Boundary<'a> {
    pub title: &'a str,
    pub x_name: &'a str,
    pub y_name: &'a str,
    pub class_names: &'a [String],
    pub train: &'a [Point],
    pub test: &'a [Point],
}

/// The plane coloured by the class `predict` gives each of a grid of points, with the
/// training points (filled) and the test points (outlined) on top.
///
/// `predict` receives the grid as `(x, y)` pairs in the plotted coordinates.
pub fn decision_boundary(
    path: &Path,
    what: &Boundary<'_>,
    predict: impl Fn(&[(f64, f64)]) -> Result<Vec<usize>, String>,
) -> Result<(), String> {
    const CELLS: usize = 300;
    let all = || what.train.iter().chain(what.test);
    let range = |f: fn(&Point) -> f64| {
        let (lo, hi) = all()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.08).max(1e-3);
        (lo - pad, hi + pad)
    };
    let ((x0, x1), (y0, y1)) = (range(|p| p.x), range(|p| p.y));
    let (dx, dy) = ((x1 - x0) / CELLS as f64, (y1 - y0) / CELLS as f64);
    let centres: Vec<(f64, f64)> = (0..CELLS * CELLS)
        .map(|k| {
            (
                x0 + (k % CELLS) as f64 * dx + dx / 2.0,
                y0 + (k / CELLS) as f64 * dy + dy / 2.0,
            )
        })
        .collect();
    let classes = predict(&centres)?;

    let root = BitMapBackend::new(path, (800, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(what.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .draw_series(centres.iter().zip(&classes).map(|(&(x, y), &c)| {
            let (hx, hy) = (dx / 2.0, dy / 2.0);
            Rectangle::new([(x - hx, y - hy), (x + hx, y + hy)], region_colour(c).filled())
        }))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(what.x_name)
        .y_desc(what.y_name)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (c, name) in what.class_names.iter().enumerate() {
        let colour = class_colour(c);
        chart
            .draw_series(
                what.train
                    .iter()
                    .filter(|p| p.class == c)
                    .map(|p| Circle::new((p.x, p.y), 3, colour.filled())),
            )
            .map_err(err)?
            .label(format!("class {name}"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
    }
    chart
        .draw_series(
            what.test
                .iter()
                .map(|p| Circle::new((p.x, p.y), 4, class_colour(p.class).filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            what.test
                .iter()
                .map(|p| Circle::new((p.x, p.y), 4, BLACK.stroke_width(1))),
        )
        .map_err(err)?
        .label("test points (outlined)")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
