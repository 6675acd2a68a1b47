//! Pictures of a [`Record`](crate::Record) as PNG, drawn with `plotters` into an in-memory
//! bitmap and labelled with the DejaVu Sans font shipped in the crate (no system library).
//!
//! - [`activation_histograms`] / [`gradient_histograms`]: at one step, the distribution of
//!   each layer's output (or of the gradient reaching it), one curve per layer, overlaid,
//!   each labelled with its mean, std and saturated fraction;
//! - [`update_ratios`]: `log10(std(Δθ) / std(θ))` per parameter over the steps, with the guide
//!   line at -3 (updates a thousandth of the data, the healthy rate);
//! - [`grad_stds`]: the std of the gradient reaching each layer's output over the steps, on a
//!   log10 scale.
//!
//! Each returns the PNG file's bytes: write them with [`write_png`] or embed them in a
//! [`Report`](crate::report::Report). A record with nothing to draw (no steps, no histograms)
//! is an error naming the picture; NaN and infinite statistics are left out of the curves.

mod curves;
mod histograms;

use std::path::Path;

use ferrograd_tensor::{Error, Result};
use plotters::prelude::*;
use plotters::style::register_font;

pub use curves::{grad_stds, update_ratios};
pub use histograms::{activation_histograms, gradient_histograms};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Width of every picture, in pixels.
pub const WIDTH: u32 = 1000;
/// Height of every picture, in pixels.
pub const HEIGHT: u32 = 520;

/// Ten distinguishable line colours (matplotlib's `tab10`).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of the `i`-th curve (or class): matplotlib's `tab10`, cycled past ten.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Writes PNG bytes (from any picture of this module) to `path`.
pub fn write_png(path: impl AsRef<Path>, png: &[u8]) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, png).map_err(|e| Error::Io {
        op: "write_png",
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Makes the shipped font plotters' `sans-serif`.
fn register_fonts(op: &'static str) -> Result<()> {
    register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| Error::invalid(op, "the shipped font could not be read"))
}

/// Turns a plotting failure into an error naming the picture.
fn failed(op: &'static str) -> impl Fn(String) -> Error {
    move |e| Error::invalid(op, format!("drawing failed: {e}"))
}

/// Draws with `draw` into a white `width` x `height` RGB bitmap and returns it as PNG.
pub(crate) fn draw_png(
    op: &'static str,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<Vec<u8>> {
    register_fonts(op)?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(op)(e.to_string()))?;
        draw(&root)?;
        root.present().map_err(|e| failed(op)(e.to_string()))?;
    }
    encode_png(op, width, height, &rgb)
}

/// An 8-bit RGB buffer, row by row, as a PNG file.
pub(crate) fn encode_png(op: &'static str, width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Plots are mostly flat colour: choosing a row filter per row and compressing harder makes
    // the files (and the report that embeds them) several times smaller.
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    encoder.set_compression(png::Compression::Best);
    let write = |encoder: png::Encoder<'_, &mut Vec<u8>>| -> std::result::Result<(), png::EncodingError> {
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()
    };
    write(encoder).map_err(|e| Error::invalid(op, format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

/// A `(low, high)` range covering `values` (finite ones only), padded by `pad` of its span;
/// `None` if there is no finite value.
fn range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    Some((lo - pad * span, hi + pad * span))
}

/// The share of the plot's height the legend of `entries` lines takes at the top, so that the
/// axis can be extended to keep the curves below it.
fn legend_share(entries: usize) -> f64 {
    ((18.0 * entries as f64 + 24.0) / (HEIGHT as f64 - 110.0)).min(0.6)
}

/// Extends `(low, high)` upwards so that a legend taking `share` of the height sits above it.
fn with_headroom((low, high): (f64, f64), share: f64) -> (f64, f64) {
    (low, high + (high - low) * share / (1.0 - share))
}

/// The charts of this module: steps or values across, values up.
type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// Draws the legend of `chart`'s labelled curves in its upper right corner.
fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Writes a grey note in the middle of an empty plot.
fn note<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
) -> std::result::Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    area.draw_text(
        text,
        &("sans-serif", 18).into_font().color(&RGBColor(120, 120, 120)),
        (w as i32 / 2 - 4 * text.len() as i32, h as i32 / 2),
    )
    .map_err(|e| e.to_string())
}
