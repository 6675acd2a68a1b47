//! PNG plots with `plotters` (bitmap backend, text with the DejaVu Sans font from
//! `examples/assets`, no system library): the confusion matrix and a grid of misclassified digits.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::register_font;

use crate::data::{Digits, CLASSES, SIDE};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Makes the shipped font plotters' `sans-serif`; call before drawing text.
pub fn register_fonts() -> Result<(), String> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the shipped font could not be read".to_string())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("plotting failed: {e}")
}

/// The 10x10 counts: rows are the true digits, columns the predicted ones.
pub fn confusion(labels: &[i64], predicted: &[usize]) -> [[usize; CLASSES]; CLASSES] {
    let mut m = [[0; CLASSES]; CLASSES];
    for (&l, &p) in labels.iter().zip(predicted) {
        m[l as usize][p] += 1;
    }
    m
}

/// Draws the confusion matrix: a cell per (true, predicted) pair, shaded by its share of the row.
pub fn confusion_matrix(path: &Path, title: &str, m: &[[usize; CLASSES]; CLASSES]) -> Result<(), String> {
    let (cell, left, top) = (50i32, 70i32, 90i32);
    let side = cell * CLASSES as i32;
    let root = BitMapBackend::new(path, ((left + side + 20) as u32, (top + side + 60) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let text = |size| ("sans-serif", size).into_font();
    root.draw_text(title, &text(20).color(&BLACK), (left, 15))
        .map_err(err)?;
    for (t, row) in m.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (p, &count) in row.iter().enumerate() {
            // A mistake stays visible however rare it is.
            let share = match count as f64 / total {
                s if t != p && count > 0 => s.max(0.3),
                s => s,
            };
            let shade = (255.0 * (1.0 - 0.85 * share)) as u8;
            let colour = if t == p {
                RGBColor(shade, shade, 255)
            } else {
                RGBColor(255, shade, shade)
            };
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], colour.filled()))
                .map_err(err)?;
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], RGBColor(200, 200, 200)))
                .map_err(err)?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            root.draw_text(&count.to_string(), &text(16).color(&ink), (x + 12, y + 16))
                .map_err(err)?;
        }
        root.draw_text(
            &t.to_string(),
            &text(16).color(&BLACK),
            (left - 22, top + t as i32 * cell + 16),
        )
        .map_err(err)?;
        root.draw_text(
            &t.to_string(),
            &text(16).color(&BLACK),
            (left + t as i32 * cell + 20, top - 22),
        )
        .map_err(err)?;
    }
    root.draw_text("predicted", &text(16).color(&BLACK), (left + side / 2 - 35, top - 45))
        .map_err(err)?;
    root.draw_text("true digit (rows)", &text(16).color(&BLACK), (left, top + side + 15))
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws up to `max` misclassified images of `data` in a grid, each captioned `true -> predicted`.
pub fn misclassified(path: &Path, data: &Digits, predicted: &[usize], max: usize) -> Result<usize, String> {
    let wrong: Vec<usize> = (0..data.len())
        .filter(|&i| predicted[i] as i64 != data.labels[i])
        .take(max)
        .collect();
    let (scale, cols) = (10i32, 8usize);
    let tile = (SIDE as i32 * scale + 10, SIDE as i32 * scale + 30);
    let rows = wrong.len().div_ceil(cols).max(1);
    let size = ((tile.0 * cols as i32 + 10) as u32, (tile.1 * rows as i32 + 40) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!("misclassified test digits: {} (true -> predicted)", wrong.len());
    root.draw_text(&title, &("sans-serif", 16).into_font().color(&BLACK), (10, 10))
        .map_err(err)?;
    for (k, &i) in wrong.iter().enumerate() {
        let (x0, y0) = (10 + (k % cols) as i32 * tile.0, 40 + (k / cols) as i32 * tile.1);
        for (j, &v) in data.image(i).iter().enumerate() {
            let ink = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
            let (x, y) = (x0 + (j % SIDE) as i32 * scale, y0 + (j / SIDE) as i32 * scale);
            root.draw(&Rectangle::new(
                [(x, y), (x + scale, y + scale)],
                RGBColor(ink, ink, ink).filled(),
            ))
            .map_err(err)?;
        }
        let caption = format!("{} -> {}", data.labels[i], predicted[i]);
        root.draw_text(
            &caption,
            &("sans-serif", 14).into_font().color(&RED),
            (x0 + 15, y0 + SIDE as i32 * scale + 4),
        )
        .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(wrong.len())
}
