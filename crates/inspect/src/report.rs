//! One self-contained HTML file that gathers the pictures, the per-layer tables and the
//! warnings: PNGs embedded as base64 `data:` URIs, SVGs inline, CSS inline, no script and
//! nothing fetched from the network, so it opens in any browser, offline, and can be mailed.
//!
//! A [`Report`] is built section by section: [`Report::record`] adds everything known about a
//! training run (a summary, its warnings, the tables of its last step and its pictures), and
//! [`Report::heading`], [`Report::paragraph`], [`Report::png`], [`Report::svg`] and
//! [`Report::table`] add anything else (a graph picture, attribution maps, a comparison).
//!
//! ```
//! use ferrograd_inspect::report::Report;
//! use ferrograd_inspect::Record;
//!
//! let mut report = Report::new("an empty run");
//! report.record("plain init", &Record::default())?;
//! report.heading("Notes").paragraph("Nothing was recorded.");
//! let html = report.to_html();
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Nothing was recorded."));
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::fmt::Write;
use std::path::Path;

use ferrograd_tensor::{Error, Result};

use crate::graph::escape_xml;
use crate::plot::{activation_histograms, grad_stds, gradient_histograms, update_ratios};
use crate::{Record, StepRecord, Warning, WarningKind};

/// Warnings listed in full per run; the rest are counted.
const MAX_WARNINGS_LISTED: usize = 200;

/// The PNG file signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A part of the page.
#[derive(Debug, Clone)]
enum Block {
    Heading {
        text: String,
        id: String,
    },
    Paragraph(String),
    Png {
        caption: String,
        base64: String,
    },
    Svg {
        caption: String,
        svg: String,
    },
    Table {
        caption: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Warnings(Vec<Warning>),
}

/// An HTML report under construction; see the module page.
#[derive(Debug, Clone)]
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

impl Report {
    /// An empty report with a title.
    pub fn new(title: &str) -> Self {
        Report {
            title: title.to_string(),
            blocks: Vec::new(),
        }
    }

    /// Starts a section; it is listed in the contents at the top of the page.
    pub fn heading(&mut self, text: &str) -> &mut Self {
        let id = format!(
            "s{}",
            self.blocks
                .iter()
                .filter(|b| matches!(b, Block::Heading { .. }))
                .count()
        );
        self.blocks.push(Block::Heading {
            text: text.to_string(),
            id,
        });
        self
    }

    /// A paragraph of plain text (escaped, not HTML).
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.to_string()));
        self
    }

    /// A PNG picture (its file's bytes) with a caption, embedded as a `data:` URI. Fails if
    /// the bytes do not start with the PNG signature.
    pub fn png(&mut self, caption: &str, png: &[u8]) -> Result<&mut Self> {
        if !png.starts_with(PNG_SIGNATURE) {
            return Err(Error::invalid(
                "Report::png",
                format!(
                    "{caption:?}: expected PNG bytes (starting \\x89PNG), got {} bytes that are not",
                    png.len()
                ),
            ));
        }
        self.blocks.push(Block::Png {
            caption: caption.to_string(),
            base64: base64(png),
        });
        Ok(self)
    }

    /// An SVG document (as [`graph_svg`](crate::graph_svg) returns), inlined, with a caption.
    /// Fails if the text is not an `<svg>` element.
    pub fn svg(&mut self, caption: &str, svg: &str) -> Result<&mut Self> {
        let body = svg.trim();
        let Some(start) = body.find("<svg").filter(|_| body.ends_with("</svg>")) else {
            return Err(Error::invalid(
                "Report::svg",
                format!("{caption:?}: expected an <svg> ... </svg> document"),
            ));
        };
        self.blocks.push(Block::Svg {
            caption: caption.to_string(),
            svg: body[start..].to_string(),
        });
        Ok(self)
    }

    /// A table: a caption, the column names, and rows of already formatted cells. Fails if a
    /// row has a different number of cells than the header.
    pub fn table(&mut self, caption: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<&mut Self> {
        if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != header.len()) {
            return Err(Error::invalid(
                "Report::table",
                format!(
                    "{caption:?}: row {i} has {} cells, expected {} (one per column)",
                    row.len(),
                    header.len()
                ),
            ));
        }
        self.blocks.push(Block::Table {
            caption: caption.to_string(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
        });
        Ok(self)
    }

    /// A list of warnings: one line per kind and layer (how often, first and last step), then
    /// every message under a fold (a `<details>` element, no script needed).
    pub fn warnings(&mut self, warnings: &[Warning]) -> &mut Self {
        self.blocks.push(Block::Warnings(warnings.to_vec()));
        self
    }

    /// Everything about one training run, under the heading `name`: a summary (steps, loss),
    /// the warnings, the per-layer and per-parameter tables of the last step, and the
    /// pictures (activation and gradient histograms when the record has some, update:data
    /// ratios, gradient std per layer). A record with no steps gives a section that says so.
    pub fn record(&mut self, name: &str, record: &Record) -> Result<&mut Self> {
        self.heading(name);
        let Some(last) = record.steps.last() else {
            self.paragraph("No step was recorded.");
            return Ok(self.warnings(&record.warnings));
        };
        let first = record.steps[0].step;
        let mut summary = format!(
            "{} steps recorded, from step {first} to step {}.",
            record.steps.len(),
            last.step
        );
        let losses: Vec<(usize, f64)> = record
            .steps
            .iter()
            .filter_map(|s| s.loss.map(|l| (s.step, l)))
            .collect();
        if let (Some(a), Some(b)) = (losses.first(), losses.last()) {
            let _ = write!(
                summary,
                " Loss {} at step {}, {} at step {}.",
                cell(a.1),
                a.0,
                cell(b.1),
                b.0
            );
        }
        let _ = write!(summary, " {} warnings.", record.warnings.len());
        self.paragraph(&summary);
        self.warnings(&record.warnings);
        self.table(
            &format!("Layers at step {}", last.step),
            &[
                "layer",
                "type",
                "shape",
                "mean",
                "std",
                "saturated",
                "dead",
                "grad mean",
                "grad std",
            ],
            layer_rows(last),
        )?;
        self.table(
            &format!("Parameters at step {}", last.step),
            &[
                "parameter",
                "shape",
                "data std",
                "grad std",
                "grad:data",
                "log10 update:data",
            ],
            param_rows(last),
        )?;
        let has = |grads: bool| {
            record.steps.iter().flat_map(|s| &s.layers).any(|l| {
                if grads {
                    l.grad_hist.is_some()
                } else {
                    l.hist.is_some()
                }
            })
        };
        if has(false) {
            self.png(
                "Activations of each layer (density), at the last step with histograms",
                &activation_histograms(record, None)?,
            )?;
        }
        if has(true) {
            self.png(
                "Gradient reaching each layer's output (density), at the last step with histograms",
                &gradient_histograms(record, None)?,
            )?;
        }
        self.png(
            "Update:data ratio per parameter over the steps (log10; the dashed line is 1e-3)",
            &update_ratios(record)?,
        )?;
        self.png(
            "Std of the gradient reaching each layer's output over the steps (log10)",
            &grad_stds(record)?,
        )
    }

    /// The whole page.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        let title = escape_xml(&self.title);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        let headings: Vec<(&str, &str)> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Heading { text, id } => Some((text.as_str(), id.as_str())),
                _ => None,
            })
            .collect();
        if !headings.is_empty() {
            html.push_str("<nav><ul>\n");
            for (text, id) in headings {
                let _ = writeln!(html, "<li><a href=\"#{id}\">{}</a></li>", escape_xml(text));
            }
            html.push_str("</ul></nav>\n");
        }
        for block in &self.blocks {
            block.write_html(&mut html);
        }
        html.push_str("</body>\n</html>\n");
        html
    }

    /// Writes [`to_html`](Report::to_html) to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_html()).map_err(|e| Error::Io {
            op: "Report::write",
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

impl Block {
    fn write_html(&self, html: &mut String) {
        match self {
            Block::Heading { text, id } => {
                let _ = writeln!(html, "<h2 id=\"{id}\">{}</h2>", escape_xml(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(html, "<p>{}</p>", escape_xml(text));
            }
            Block::Png { caption, base64 } => {
                let caption = escape_xml(caption);
                let _ = writeln!(
                    html,
                    "<figure><img alt=\"{caption}\" src=\"data:image/png;base64,{base64}\"><figcaption>{caption}</figcaption></figure>"
                );
            }
            Block::Svg { caption, svg } => {
                let _ = writeln!(
                    html,
                    "<figure class=\"svg\">{svg}<figcaption>{}</figcaption></figure>",
                    escape_xml(caption)
                );
            }
            Block::Table { caption, header, rows } => {
                let _ = writeln!(html, "<table>\n<caption>{}</caption>", escape_xml(caption));
                html.push_str("<tr>");
                for h in header {
                    let _ = write!(html, "<th>{}</th>", escape_xml(h));
                }
                html.push_str("</tr>\n");
                for row in rows {
                    html.push_str("<tr>");
                    for c in row {
                        let _ = write!(html, "<td>{}</td>", escape_xml(c));
                    }
                    html.push_str("</tr>\n");
                }
                html.push_str("</table>\n");
            }
            Block::Warnings(warnings) => {
                if warnings.is_empty() {
                    html.push_str("<p class=\"healthy\">No warnings.</p>\n");
                    return;
                }
                // One line per kind and layer, then every warning under a fold.
                let mut groups: Vec<(WarningKind, &str, usize, usize, usize)> = Vec::new();
                for w in warnings {
                    match groups.iter_mut().find(|g| g.0 == w.kind && g.1 == w.layer) {
                        Some(g) => {
                            g.2 += 1;
                            g.3 = g.3.min(w.step);
                            g.4 = g.4.max(w.step);
                        }
                        None => groups.push((w.kind, &w.layer, 1, w.step, w.step)),
                    }
                }
                let _ = writeln!(html, "<div class=\"warnings\"><p>{} warnings:</p><ul>", warnings.len());
                for (kind, layer, count, first, last) in groups {
                    let steps = if first == last {
                        format!("step {first}")
                    } else {
                        format!("{count} times, steps {first} to {last}")
                    };
                    let _ = writeln!(
                        html,
                        "<li><b>{}</b> in {}: {steps}</li>",
                        kind_words(kind),
                        escape_xml(if layer.is_empty() { "model" } else { layer })
                    );
                }
                html.push_str("</ul>\n<details><summary>every warning</summary><ul>\n");
                for w in warnings.iter().take(MAX_WARNINGS_LISTED) {
                    let _ = writeln!(html, "<li>{}</li>", escape_xml(&w.message));
                }
                if warnings.len() > MAX_WARNINGS_LISTED {
                    let _ = writeln!(html, "<li>... and {} more</li>", warnings.len() - MAX_WARNINGS_LISTED);
                }
                html.push_str("</ul></details>\n");
                html.push_str("</div>\n");
            }
        }
    }
}

/// What a warning is about, in words.
fn kind_words(kind: WarningKind) -> &'static str {
    match kind {
        WarningKind::Saturation => "saturation",
        WarningKind::DeadUnits => "dead units",
        WarningKind::VanishingGradient => "vanishing gradient",
        WarningKind::ExplodingGradient => "exploding gradient",
        WarningKind::UpdateRatio => "update:data ratio",
        WarningKind::NonFinite => "NaN or infinity",
    }
}

/// One row per layer: name, type, shape, then its statistics.
fn layer_rows(step: &StepRecord) -> Vec<Vec<String>> {
    step.layers
        .iter()
        .map(|l| {
            vec![
                if l.layer.is_empty() {
                    "model".into()
                } else {
                    l.layer.clone()
                },
                l.module_type.clone(),
                format!("{:?}", l.shape),
                cell(l.mean),
                cell(l.std),
                percent(l.saturated),
                percent(l.dead),
                optional(l.grad_mean),
                optional(l.grad_std),
            ]
        })
        .collect()
}

/// One row per parameter: name, shape, then its statistics.
fn param_rows(step: &StepRecord) -> Vec<Vec<String>> {
    step.params
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                format!("{:?}", p.shape),
                cell(p.data_std),
                optional(p.grad_std),
                optional(p.grad_data_ratio),
                p.update_ratio_log10.map_or("-".into(), |r| format!("{r:.2}")),
            ]
        })
        .collect()
}

/// A statistic for a table cell: four significant digits.
fn cell(v: f64) -> String {
    if !v.is_finite() {
        format!("{v}")
    } else if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn optional(v: Option<f64>) -> String {
    v.map_or("-".into(), cell)
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// Standard base64 (RFC 4648, with padding), as `data:` URIs take it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const CSS: &str = "body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #444; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
nav ul { columns: 2; }
figure { margin: 1.5em 0; }
figure img, figure svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
figure.svg { overflow-x: auto; }
figcaption { color: #555; font-size: .9em; margin-top: .3em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
.warnings { background: #fff4e5; border-left: 4px solid #e67e00; padding: .2em 1em; }
.healthy { background: #eaf7ea; border-left: 4px solid #2c9c2c; padding: .5em 1em; }
";
