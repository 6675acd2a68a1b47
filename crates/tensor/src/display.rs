//! `Display` in the format of PyTorch's `repr`: `tensor([[ 0.0144, -0.0433]])`.
//!
//! Follows `torch/_tensor_str.py` with its default print options: 4 decimals, scientific
//! notation when the magnitudes span more than 1000x (or exceed 1e8 / fall below 1e-4),
//! integer-valued tensors as `1.`, lines of at most 80 columns, and tensors of more than
//! 1000 elements summarised with `...` and 3 items at each edge.

use std::fmt;

use ndarray::{ArrayViewD, Axis};

use crate::{DType, Float, Tensor};

const PRECISION: usize = 4;
const LINE_WIDTH: usize = 80;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const PREFIX: &str = "tensor(";

struct Formatter {
    int_mode: bool,
    sci_mode: bool,
    width: usize,
}

impl Formatter {
    fn new<T: Float>(values: &[T]) -> Self {
        let vals: Vec<f64> = values
            .iter()
            .map(|v| v.f64())
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        let mut f = Formatter {
            int_mode: true,
            sci_mode: false,
            width: 1,
        };
        if vals.is_empty() {
            return f;
        }
        let min = vals.iter().fold(f64::INFINITY, |a, v| a.min(v.abs()));
        let max = vals.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        f.int_mode = vals.iter().all(|v| v.ceil() == *v);
        f.sci_mode = max / min > 1000.0 || max > 1e8 || (!f.int_mode && min < 1e-4);
        f.width = vals
            .iter()
            .map(|&v| f.raw(v).len() + usize::from(f.int_mode && !f.sci_mode))
            .max()
            .unwrap_or(1);
        f
    }

    fn raw(&self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        if self.sci_mode {
            sci(v)
        } else if self.int_mode {
            format!("{v:.0}")
        } else {
            format!("{v:.PRECISION$}")
        }
    }

    fn format(&self, v: f64) -> String {
        let mut s = self.raw(v);
        if self.int_mode && !self.sci_mode && v.is_finite() {
            s.push('.');
        }
        format!("{s:>w$}", w = self.width)
    }
}

/// Python's `{:.4e}`: at least two exponent digits with a sign, `1.0000e-05`.
fn sci(v: f64) -> String {
    let s = format!("{v:.PRECISION$e}");
    let (mant, exp) = s.split_once('e').expect("exponent present");
    let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
    format!("{mant}e{sign}{digits:0>2}")
}

fn summarized<T: Float>(a: &ArrayViewD<T>, summarize: bool, out: &mut Vec<T>) {
    if a.ndim() == 0 {
        out.push(*a.first().expect("0-d has one element"));
        return;
    }
    let n = a.shape()[0];
    for i in 0..n {
        if summarize && n > 2 * EDGE_ITEMS && (EDGE_ITEMS..n - EDGE_ITEMS).contains(&i) {
            continue;
        }
        summarized(&a.index_axis(Axis(0), i), summarize, out);
    }
}

fn render<T: Float>(a: &ArrayViewD<T>, indent: usize, summarize: bool, f: &Formatter) -> String {
    let n = a.shape()[0];
    let skip = |i: usize| summarize && n > 2 * EDGE_ITEMS && (EDGE_ITEMS..n - EDGE_ITEMS).contains(&i);
    let mut parts = Vec::new();
    for i in 0..n {
        if skip(i) {
            if i == EDGE_ITEMS {
                parts.push(if a.ndim() == 1 {
                    " ...".to_string()
                } else {
                    "...".to_string()
                });
            }
            continue;
        }
        let sub = a.index_axis(Axis(0), i);
        parts.push(if a.ndim() == 1 {
            f.format(sub.first().expect("element").f64())
        } else {
            render(&sub, indent + 1, summarize, f)
        });
    }
    if a.ndim() == 1 {
        let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (f.width + 2)).max(1);
        let lines: Vec<String> = parts.chunks(per_line).map(|c| c.join(", ")).collect();
        format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(indent + 1))))
    } else {
        let sep = format!(",{}{}", "\n".repeat(a.ndim() - 1), " ".repeat(indent + 1));
        format!("[{}]", parts.join(&sep))
    }
}

impl<T: Float> Tensor<T> {
    /// PyTorch's `repr` with extra suffixes after the ones PyTorch adds itself (`size=`,
    /// `dtype=`), such as `grad_fn=<MulBackward0>`. As in PyTorch, a suffix that would take the
    /// last line past 80 columns goes on a new line, indented under the opening bracket.
    pub fn repr_with(&self, suffixes: &[&str]) -> String {
        let summarize = self.numel() > THRESHOLD;
        let mut vals = Vec::new();
        summarized(&self.data.view(), summarize, &mut vals);
        let f = Formatter::new(&vals);
        let body = if self.ndim() == 0 {
            f.raw(vals[0].f64())
                + if f.int_mode && !f.sci_mode && vals[0].is_finite() {
                    "."
                } else {
                    ""
                }
        } else if self.numel() == 0 {
            "[]".to_string()
        } else {
            render(&self.data.view(), PREFIX.len(), summarize, &f)
        };
        let mut extras = Vec::new();
        if self.numel() == 0 && self.shape() != [0] {
            let dims: Vec<String> = self.shape().iter().map(|d| d.to_string()).collect();
            extras.push(format!(
                "size=({}{})",
                dims.join(", "),
                if dims.len() == 1 { "," } else { "" }
            ));
        }
        if T::DTYPE == DType::F64 {
            extras.push("dtype=torch.float64".to_string());
        }
        extras.extend(suffixes.iter().map(|s| s.to_string()));
        // torch/_tensor_str.py `_add_suffixes`, including its count of the last line's length.
        let mut out = format!("{PREFIX}{body}");
        let mut last_line_len = match out.rfind('\n') {
            Some(p) => out.len() - p + 1,
            None => out.len() + 2,
        };
        for suffix in extras {
            if last_line_len + suffix.len() + 2 > LINE_WIDTH {
                out.push_str(&format!(",\n{}{suffix}", " ".repeat(PREFIX.len())));
                last_line_len = PREFIX.len() + suffix.len();
            } else {
                out.push_str(&format!(", {suffix}"));
                last_line_len += suffix.len() + 2;
            }
        }
        out.push(')');
        out
    }
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.repr_with(&[]))
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sci_matches_python_format_e() {
        // Python: '{:.4e}'.format(v) for each v
        assert_eq!(sci(1e-5), "1.0000e-05");
        assert_eq!(sci(-2.5), "-2.5000e+00");
        assert_eq!(sci(0.0), "0.0000e+00");
        assert_eq!(sci(-0.0), "-0.0000e+00");
        assert_eq!(sci(123456.0), "1.2346e+05");
        assert_eq!(sci(1e100), "1.0000e+100");
        assert_eq!(sci(2.5e-300), "2.5000e-300");
    }

    #[test]
    fn formatter_modes() {
        let f = Formatter::new(&[1.0f64, -20.0, f64::NAN, 0.0]);
        assert!(f.int_mode && !f.sci_mode);
        assert_eq!(f.width, 4); // "-20."
        assert_eq!(f.format(1.0), "  1.");
        assert_eq!(f.format(f64::NAN), " nan");
        let f = Formatter::new(&[0.5f64, 2000.0]);
        assert!(!f.int_mode && f.sci_mode);
        let f = Formatter::new(&[f64::INFINITY, 0.0]);
        assert!(f.int_mode && !f.sci_mode && f.width == 1);
    }
}
