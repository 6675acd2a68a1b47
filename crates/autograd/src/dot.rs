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

use std::fmt::Write;

use ferrograd_tensor::Float;

use crate::{Graph, Var};

/// The graph that `outputs` were computed by, as Graphviz DOT: one line per node, one per edge.
///
/// The nodes are those of [`Graph::of`], numbered `n0`, `n1`, ... in the order the walk meets
/// them, outputs first, so the text is the same for the same graph.
pub fn to_dot<T: Float>(outputs: &[Var<T>]) -> String {
    let graph = Graph::of(outputs);
    let mut dot = String::from("digraph ferrograd {\n");
    dot.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n");
    for (i, var) in graph.nodes.iter().enumerate() {
        let fill = if i < graph.outputs {
            "darkolivegreen1"
        } else if !var.is_leaf() {
            "lightgray"
        } else if var.requires_grad() {
            "lightblue"
        } else {
            "white"
        };
        let label = graph.label_lines(i).join("\n");
        let _ = writeln!(dot, "  n{i} [label=\"{}\", fillcolor={fill}];", escape(&label));
    }
    for (from, to) in graph.edges {
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
