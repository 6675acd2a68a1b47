//! The digits data: a CSV of 64 pixel values (an 8x8 image, row by row, each 0-16) and a label
//! 0-9 per line, read with every fault reported by line and column; and the seeded train/test
//! split.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Pixels per image.
pub const PIXELS: usize = 64;
/// Image side.
pub const SIDE: usize = 8;
/// Classes (the digits 0-9).
pub const CLASSES: usize = 10;
/// The largest pixel value of the data set.
const MAX_PIXEL: f32 = 16.0;

/// Images scaled to [0, 1] and their labels.
#[derive(Debug, Clone, Default)]
pub struct Digits {
    /// `len() * 64` pixels, image after image.
    pub pixels: Vec<f32>,
    /// The digit of each image.
    pub labels: Vec<i64>,
}

impl Digits {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Digits {
        let mut out = Digits::default();
        for &i in indices {
            out.pixels.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
        }
        out
    }
}

/// Parses the CSV text: blank lines are skipped, anything else must be 64 numbers 0-16 and a
/// label 0-9. Errors name the 1-based line and column.
pub fn parse_digits(text: &str) -> Result<Digits, String> {
    let mut data = Digits::default();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != PIXELS + 1 {
            return Err(format!(
                "line {line_no}: expected {} columns (64 pixels and a label), found {}",
                PIXELS + 1,
                fields.len()
            ));
        }
        for (c, field) in fields[..PIXELS].iter().enumerate() {
            let value: f32 = field
                .parse()
                .ok()
                .filter(|v: &f32| v.is_finite())
                .ok_or_else(|| format!("line {line_no}, column {}: {field:?} is not a number", c + 1))?;
            if !(0.0..=MAX_PIXEL).contains(&value) {
                return Err(format!(
                    "line {line_no}, column {}: pixel value {field} is outside 0-16",
                    c + 1
                ));
            }
            data.pixels.push(value / MAX_PIXEL);
        }
        let label = fields[PIXELS];
        match label.parse::<i64>() {
            Ok(d) if (0..CLASSES as i64).contains(&d) => data.labels.push(d),
            _ => {
                return Err(format!(
                    "line {line_no}, column {}: label {label:?} is not a digit 0-9",
                    PIXELS + 1
                ))
            }
        }
    }
    if data.len() == 0 {
        return Err("no data rows".into());
    }
    Ok(data)
}

/// A seeded shuffle of `0..n` cut into training and test indices, `test_fraction` of them
/// (at least one) for testing.
pub fn split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1.min(n), n);
    let test = order.split_off(n - n_test);
    (order, test)
}
