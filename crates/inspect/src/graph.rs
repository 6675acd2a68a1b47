//! The autograd graph of some `Var`s drawn as an SVG (or PNG) picture, with no Graphviz: a
//! layered layout computed here.
//!
//! 1. **Layers**: each node's layer is its longest path to an output (outputs are layer 0), so
//!    every edge goes from a higher layer to a lower one; inputs are drawn at the top, the
//!    outputs at the bottom. An edge that spans several layers passes through one invisible
//!    waypoint per layer, so edges bend around the boxes instead of crossing them.
//! 2. **Order within a layer**: a few sweeps down and up, each placing a node at the
//!    barycentre (mean position) of its neighbours in the layer just done, which removes most
//!    edge crossings.
//! 3. **Coordinates**: each box is as wide as its longest label line; a node is pulled towards
//!    the centre of its inputs (a parameter or input: of the ops that use it) and then pushed
//!    right until it clears the box before it, so no two boxes overlap.
//!
//! The nodes and labels are [`Graph`]'s, the same as [`to_dot`](ferrograd_autograd::to_dot)
//! writes: op (or `parameter` / `leaf`) and name, shape, value if scalar, gradient norm once
//! backward has run. Outputs are green, ops grey, parameters blue and other leaves white.

use std::fmt::Write;
use std::path::Path;

use ferrograd_autograd::{Graph, Var};
use ferrograd_tensor::{Error, Float, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::draw_png;

/// Width of a character of the labels, in pixels (11 px sans-serif, a little generous).
const CHAR_WIDTH: f64 = 6.8;
/// Height of a label line.
const LINE_HEIGHT: f64 = 14.0;
/// Padding inside a box.
const PAD: f64 = 8.0;
/// Room between boxes of one layer.
const GAP_X: f64 = 24.0;
/// Room between layers.
const GAP_Y: f64 = 40.0;
/// Margin around the picture.
const MARGIN: f64 = 16.0;
/// Sweeps of the barycentre ordering.
const SWEEPS: usize = 4;

/// What a node of the picture is; decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// One of the `Var`s the picture was asked for.
    Output,
    /// The result of an op.
    Op,
    /// A leaf that requires a gradient.
    Parameter,
    /// A leaf that does not (an input, a constant).
    Leaf,
}

/// A node's box: top-left corner, size, layer, label lines and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// Left edge, in pixels.
    pub x: f64,
    /// Top edge, in pixels.
    pub y: f64,
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// Longest path to an output (outputs are 0).
    pub layer: usize,
    /// The label, one line per entry.
    pub lines: Vec<String>,
    /// What the node is.
    pub kind: NodeKind,
}

/// The placed graph: boxes in [`Graph::of`]'s order, and each edge as a polyline from the
/// bottom of the input's box to the top of the box of the op that uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphLayout {
    /// One box per node.
    pub nodes: Vec<NodeBox>,
    /// One polyline per edge.
    pub edges: Vec<EdgeLine>,
    /// Width of the picture in pixels.
    pub width: f64,
    /// Height of the picture in pixels.
    pub height: f64,
}

/// An edge drawn as a polyline, from the bottom of an input's box to the top of the box of
/// the op that uses it, through a waypoint in every layer it crosses.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeLine {
    /// The input's node.
    pub from: usize,
    /// The node of the op that uses it.
    pub to: usize,
    /// The polyline's points, top to bottom.
    pub points: Vec<(f64, f64)>,
}

impl NodeBox {
    /// Whether two boxes share any area.
    pub fn overlaps(&self, other: &NodeBox) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }
}

/// Lays out the graph behind `outputs`. Fails if `outputs` is empty.
pub fn layout<T: Float>(outputs: &[Var<T>]) -> Result<GraphLayout> {
    if outputs.is_empty() {
        return Err(Error::invalid(
            "graph_svg",
            "expected at least one output Var to draw, got none",
        ));
    }
    let graph = Graph::of(outputs);
    let n = graph.nodes.len();

    // Longest path to an output, in an order where every consumer comes before its inputs.
    let mut consumers = vec![0usize; n];
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(from, to) in &graph.edges {
        consumers[from] += 1;
        inputs[to].push(from);
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| consumers[i] == 0).collect();
    ready.reverse();
    while let Some(v) = ready.pop() {
        for &u in &inputs[v] {
            layer[u] = layer[u].max(layer[v] + 1);
            consumers[u] -= 1;
            if consumers[u] == 0 {
                ready.push(u);
            }
        }
    }

    // Layers of slots: real nodes, then one waypoint per layer crossed by a long edge.
    let layers = layer.iter().max().map_or(1, |m| m + 1);
    let mut slot_layer: Vec<usize> = layer.clone();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(graph.edges.len());
    let mut links: Vec<(usize, usize)> = Vec::new(); // (upper slot, lower slot)
    let mut dedup = std::collections::HashSet::new();
    for &(from, to) in &graph.edges {
        let mut chain = vec![from];
        for l in (layer[to] + 1..layer[from]).rev() {
            slot_layer.push(l);
            chain.push(slot_layer.len() - 1);
        }
        chain.push(to);
        for w in chain.windows(2) {
            if dedup.insert((w[0], w[1])) {
                links.push((w[0], w[1]));
            }
        }
        chains.push(chain);
    }
    let slots = slot_layer.len();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (s, &l) in slot_layer.iter().enumerate() {
        rows[layers - 1 - l].push(s); // row 0 at the top holds the deepest layer
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); slots];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); slots];
    for &(a, b) in &links {
        down[a].push(b);
        up[b].push(a);
    }

    // Crossing reduction by barycentres.
    let mut position = vec![0.0f64; slots];
    let renumber = |rows: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for row in rows {
            for (k, &s) in row.iter().enumerate() {
                position[s] = k as f64;
            }
        }
    };
    renumber(&rows, &mut position);
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for r in order {
            let neighbours = if downward { &up } else { &down };
            let mut keyed: Vec<(f64, usize)> = rows[r]
                .iter()
                .map(|&s| {
                    let ns = &neighbours[s];
                    let key = if ns.is_empty() {
                        position[s]
                    } else {
                        ns.iter().map(|&t| position[t]).sum::<f64>() / ns.len() as f64
                    };
                    (key, s)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[r] = keyed.into_iter().map(|(_, s)| s).collect();
            for (k, &s) in rows[r].iter().enumerate() {
                position[s] = k as f64;
            }
        }
    }

    // Sizes, then coordinates.
    let lines: Vec<Vec<String>> = (0..n).map(|i| graph.label_lines(i)).collect();
    let size = |s: usize| -> (f64, f64) {
        if s >= n {
            return (0.0, 0.0);
        }
        let longest = lines[s].iter().map(|l| l.chars().count()).max().unwrap_or(1);
        (
            longest as f64 * CHAR_WIDTH + 2.0 * PAD,
            lines[s].len() as f64 * LINE_HEIGHT + PAD,
        )
    };
    // Two passes: the first places each node under its inputs (sources at the left); the
    // second places the sources (parameters, inputs) over the ops that use them, as placed by
    // the first, and the rest under their inputs again.
    let mut centre_x = vec![0.0f64; slots];
    let mut top_y = vec![0.0f64; slots];
    let mut width = 0.0f64;
    let mut y = MARGIN;
    for pass in 0..2 {
        let hint: Vec<Option<f64>> = (0..slots)
            .map(|s| {
                (pass == 1 && up[s].is_empty() && !down[s].is_empty())
                    .then(|| down[s].iter().map(|&t| centre_x[t]).sum::<f64>() / down[s].len() as f64)
            })
            .collect();
        width = 0.0;
        y = MARGIN;
        for row in &rows {
            let row_height = row.iter().map(|&s| size(s).1).fold(0.0, f64::max);
            let mut right_edge = MARGIN - GAP_X;
            for &s in row {
                let (w, h) = size(s);
                let wanted = match hint[s] {
                    Some(x) => x,
                    None if up[s].is_empty() => 0.0,
                    None => up[s].iter().map(|&t| centre_x[t]).sum::<f64>() / up[s].len() as f64,
                };
                let gap = if w == 0.0 { GAP_X / 2.0 } else { GAP_X };
                let left = (wanted - w / 2.0).max(right_edge + gap);
                centre_x[s] = left + w / 2.0;
                top_y[s] = y + (row_height - h) / 2.0;
                right_edge = left + w;
            }
            width = width.max(right_edge);
            y += row_height + GAP_Y;
        }
    }
    let height = y - GAP_Y + MARGIN;

    let nodes: Vec<NodeBox> = (0..n)
        .map(|i| {
            let (w, h) = size(i);
            let var = &graph.nodes[i];
            let kind = if i < graph.outputs {
                NodeKind::Output
            } else if !var.is_leaf() {
                NodeKind::Op
            } else if var.requires_grad() {
                NodeKind::Parameter
            } else {
                NodeKind::Leaf
            };
            NodeBox {
                x: centre_x[i] - w / 2.0,
                y: top_y[i],
                width: w,
                height: h,
                layer: layer[i],
                lines: lines[i].clone(),
                kind,
            }
        })
        .collect();
    let edges = graph
        .edges
        .iter()
        .zip(&chains)
        .map(|(&(from, to), chain)| {
            let mut points = vec![(centre_x[from], top_y[from] + size(from).1)];
            points.extend(chain[1..chain.len() - 1].iter().map(|&s| (centre_x[s], top_y[s])));
            points.push((centre_x[to], top_y[to]));
            EdgeLine { from, to, points }
        })
        .collect();
    Ok(GraphLayout {
        nodes,
        edges,
        width: width + MARGIN,
        height,
    })
}

/// The graph behind `outputs` as a standalone SVG document (see the module page). Fails if
/// `outputs` is empty.
pub fn graph_svg<T: Float>(outputs: &[Var<T>]) -> Result<String> {
    Ok(layout(outputs)?.to_svg())
}

/// The graph behind `outputs` as a PNG (the picture of [`graph_svg`]). Fails if `outputs` is
/// empty.
pub fn graph_png<T: Float>(outputs: &[Var<T>]) -> Result<Vec<u8>> {
    layout(outputs)?.to_png()
}

/// Writes [`graph_svg`] to `path`.
pub fn write_graph_svg<T: Float>(path: impl AsRef<Path>, outputs: &[Var<T>]) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, graph_svg(outputs)?).map_err(|e| Error::Io {
        op: "write_graph_svg",
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl GraphLayout {
    /// The layout drawn as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let (w, h) = (self.width.ceil(), self.height.ceil());
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">"#
        );
        svg.push_str(
            r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
"##,
        );
        let _ = writeln!(svg, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        for edge in &self.edges {
            let path: Vec<String> = edge.points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"/>"##,
                path.join(" ")
            );
        }
        for node in &self.nodes {
            let (fill, stroke) = colours(node.kind);
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{fill}" stroke="{stroke}"/>"#,
                node.x, node.y, node.width, node.height
            );
            for (k, line) in node.lines.iter().enumerate() {
                let weight = if k == 0 { r#" font-weight="bold""# } else { "" };
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle"{weight}>{}</text>"#,
                    node.x + node.width / 2.0,
                    node.y + PAD / 2.0 + LINE_HEIGHT * (k as f64 + 0.8),
                    escape_xml(line)
                );
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

impl GraphLayout {
    /// The layout drawn as a PNG (the same picture as [`to_svg`](GraphLayout::to_svg), with the
    /// shipped font). Fails only if drawing fails.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let op = "GraphLayout::to_png";
        let size = (self.width.ceil().max(1.0) as u32, self.height.ceil().max(1.0) as u32);
        draw_png(op, size, |root| {
            let fail = |e: String| Error::invalid(op, format!("drawing failed: {e}"));
            let ink = RGBColor(85, 85, 85);
            for edge in &self.edges {
                let points: Vec<(i32, i32)> = edge.points.iter().map(|&(x, y)| (x as i32, y as i32)).collect();
                root.draw(&PathElement::new(points.clone(), ink.stroke_width(1)))
                    .map_err(|e| fail(e.to_string()))?;
                if let [.., (ax, ay), (bx, by)] = points[..] {
                    // an arrow head at the end, pointing along the last segment
                    let (dx, dy) = ((bx - ax) as f64, (by - ay) as f64);
                    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
                    let (ux, uy) = (dx / len, dy / len);
                    let corner = |side: f64| {
                        (
                            (bx as f64 - 8.0 * ux + side * 4.0 * uy) as i32,
                            (by as f64 - 8.0 * uy - side * 4.0 * ux) as i32,
                        )
                    };
                    root.draw(&Polygon::new(vec![(bx, by), corner(1.0), corner(-1.0)], ink.filled()))
                        .map_err(|e| fail(e.to_string()))?;
                }
            }
            for node in &self.nodes {
                let (fill, stroke) = colours(node.kind);
                let corners = [
                    (node.x as i32, node.y as i32),
                    ((node.x + node.width) as i32, (node.y + node.height) as i32),
                ];
                root.draw(&Rectangle::new(corners, rgb(fill).filled()))
                    .map_err(|e| fail(e.to_string()))?;
                root.draw(&Rectangle::new(corners, rgb(stroke)))
                    .map_err(|e| fail(e.to_string()))?;
                for (k, line) in node.lines.iter().enumerate() {
                    let style = ("sans-serif", 11)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Top));
                    let at = (
                        (node.x + node.width / 2.0) as i32,
                        (node.y + PAD / 2.0 + LINE_HEIGHT * k as f64 + 1.0) as i32,
                    );
                    root.draw_text(line, &style, at).map_err(|e| fail(e.to_string()))?;
                }
            }
            Ok(())
        })
    }
}

/// Fill and stroke of a node, as `#rrggbb`.
fn colours(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Output => ("#caff70", "#556b2f"),
        NodeKind::Op => ("#e8e8e8", "#777777"),
        NodeKind::Parameter => ("#add8e6", "#1f5f8b"),
        NodeKind::Leaf => ("#ffffff", "#777777"),
    }
}

/// `#rrggbb` as a plotters colour.
fn rgb(hex: &str) -> RGBColor {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    RGBColor(byte(1), byte(3), byte(5))
}

/// Escapes text for SVG or HTML.
pub(crate) fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
