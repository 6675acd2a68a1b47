//! The graph behind some `Var`s as plain data: its nodes, in the order a walk from the outputs
//! meets them, and its edges. [`to_dot`](crate::to_dot) writes it as Graphviz DOT; pictures
//! drawn elsewhere (ferrograd-inspect's SVG) read the same walk and the same labels.
//!
//! ```
//! use ferrograd_autograd::{Graph, Var};
//! use ferrograd_tensor::Tensor;
//!
//! let w = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
//! let loss = (&w * &w).sum();
//! let graph = Graph::of(&[loss]);
//! assert_eq!(graph.nodes.len(), 3); // sum, mul, w (used twice, drawn once)
//! assert_eq!(graph.edges, vec![(1, 0), (2, 1), (2, 1)]);
//! assert_eq!(graph.kind(2), "parameter");
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::collections::HashMap;

use ferrograd_tensor::{Float, Shape, Tensor};

use crate::Var;

/// Gradients with at most this many elements are printed in full.
const MAX_VALUES_SHOWN: usize = 4;

/// The nodes reachable from some outputs and the edges between them.
#[derive(Clone)]
pub struct Graph<T: Float> {
    /// Every node once, numbered in the order the walk meets them, outputs first.
    pub nodes: Vec<Var<T>>,
    /// `(from, to)`: node `from` is an input of the op that made node `to`; an input used
    /// twice by one op gives two edges.
    pub edges: Vec<(usize, usize)>,
    /// How many of the first nodes are the outputs the walk started from.
    pub outputs: usize,
}

impl<T: Float> Graph<T> {
    /// Walks the graph behind `outputs`. The walk is a loop with an explicit stack, so graphs
    /// of any depth are fine, and the numbering is the same for the same graph.
    pub fn of(outputs: &[Var<T>]) -> Self {
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
        let outputs = nodes.len();
        stack.reverse(); // visit the first output first
        while let Some(var) = stack.pop() {
            let to = visit(&var, &mut nodes, &mut stack);
            for input in var.inputs() {
                let from = visit(input, &mut nodes, &mut stack);
                edges.push((from, to));
            }
        }
        Graph { nodes, edges, outputs }
    }

    /// What node `i` is: its op (`MulBackward0`, ...), or `parameter` for a leaf that needs a
    /// gradient, or `leaf`.
    pub fn kind(&self, i: usize) -> &'static str {
        kind(&self.nodes[i])
    }

    /// The lines describing node `i`, as DOT labels show them: its name and kind, its shape,
    /// its value if it has one element, and its gradient once backward has filled it (the
    /// values when there are at most four, otherwise the shape and the L2 norm).
    pub fn label_lines(&self, i: usize) -> Vec<String> {
        let var = &self.nodes[i];
        let kind = kind(var);
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
        lines
    }
}

fn kind<T: Float>(var: &Var<T>) -> &'static str {
    match var.op_name() {
        Some(op) => op,
        None if var.requires_grad() => "parameter",
        None => "leaf",
    }
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
