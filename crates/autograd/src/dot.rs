//! The graph behind some `Var`s as a Graphviz DOT picture, as torchviz's `make_dot`.
//!
//! Every node reachable from the outputs is drawn once, labelled with its name (if given with
//! [`Var::set_name`]), its op (`MulBackward0`, ...) or `parameter` / `leaf`, its shape, its
//! value if it has one element, and, once backward has filled it, its gradient: the values
//! when there are at most four, otherwise the shape and the L2 norm. Edges go from each input
//! to the op that uses it. Render with `dot -Tpng graph.dot -o graph.png`.
//!
//! ```
//! use ferrograd_autograd::Var;
//! use ferrograd_tensor::Tensor;
//!
//! let w = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
//! w.set_name("w");
//! let loss = (&w * &w).sum();
//! loss.backward()?;
//! let dot = loss.to_dot();
//! assert!(dot.contains("w (parameter)") && dot.contains("MulBackward0") && dot.contains("grad [2.0000, 4.0000]"));
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write;

use ferrograd_tensor::{Float, Shape, Tensor};

use crate::Var;

/// Gradients with at most this many elements are printed in full.
const MAX_VALUES_SHOWN: usize = 4;

/// The graph that `outputs` were computed by, as Graphviz DOT: one line per node, one per edge.
///
/// The walk is a loop with an explicit stack, so graphs of any depth are fine. Nodes are
/// numbered `n0`, `n1`, ... in the order the walk meets them, outputs first, so the text is
/// the same for the same graph.
pub fn to_dot<T: Float>(outputs: &[Var<T>]) -> String {
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut nodes: Vec<Var<T>> = Vec::new();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut stack: Vec<Var<T>> = Vec::new();
    let mut visit = |v: &Var<T>, nodes: &mut Vec<Var<T>>, stack: &mut Vec<Var<T>>| -> usize {
        *index.entry(v.id()).or_insert_with(|| {
            nodes.push(v.clone());
            stack.push(v.clone());
            nodes.len() - 1
        })
    };
    for out in outputs {
        visit(out, &mut nodes, &mut stack);
    }
    stack.reverse(); // visit the first output first
    while let Some(var) = stack.pop() {
        let to = visit(&var, &mut nodes, &mut stack);
        for input in var.inputs() {
            let from = visit(input, &mut nodes, &mut stack);
            edges.push((from, to));
        }
    }

    let output_ids: Vec<usize> = outputs.iter().map(Var::id).collect();
    let mut dot = String::from("digraph ferrograd {\n");
    dot.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n");
    for (i, var) in nodes.iter().enumerate() {
        let fill = if output_ids.contains(&var.id()) {
            "darkolivegreen1"
        } else if !var.is_leaf() {
            "lightgray"
        } else if var.requires_grad() {
            "lightblue"
        } else {
            "white"
        };
        let _ = writeln!(dot, "  n{i} [label=\"{}\", fillcolor={fill}];", escape(&label(var)));
    }
    for (from, to) in edges {
        let _ = writeln!(dot, "  n{from} -> n{to};");
    }
    dot.push_str("}\n");
    dot
}

impl<T: Float> Var<T> {
    /// The graph that computed this `Var`, as Graphviz DOT; see [`to_dot`](crate::to_dot).
    pub fn to_dot(&self) -> String {
        to_dot(std::slice::from_ref(self))
    }
}

/// The lines of a node's label: what it is, its shape, its value if scalar, its gradient.
fn label<T: Float>(var: &Var<T>) -> String {
    let kind = match var.op_name() {
        Some(op) => op,
        None if var.requires_grad() => "parameter",
        None => "leaf",
    };
    let mut lines = vec![match var.name() {
        Some(name) => format!("{name} ({kind})"),
        None => kind.to_string(),
    }];
    lines.push(Shape(var.shape()).to_string());
    if var.numel() == 1 {
        lines.push(format!("value {}", number(var.value().to_vec()[0].f64())));
    }
    if let Some(g) = var.grad() {
        lines.push(grad_summary(&g));
    }
    lines.join("\n")
}

/// `grad [v, ...]` for small gradients, `grad [shape] norm x` otherwise.
fn grad_summary<T: Float>(g: &Tensor<T>) -> String {
    let values: Vec<f64> = g.to_vec().into_iter().map(Float::f64).collect();
    if values.len() <= MAX_VALUES_SHOWN {
        let shown: Vec<String> = values.iter().map(|&v| number(v)).collect();
        return format!("grad [{}]", shown.join(", "));
    }
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    format!("grad {} norm {}", Shape(g.shape().to_vec()), number(norm))
}

/// Four decimals, or scientific notation for very small or very large magnitudes.
fn number(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) || !v.is_finite() {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// Escapes a label for a double-quoted DOT string; line breaks become `\n`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
