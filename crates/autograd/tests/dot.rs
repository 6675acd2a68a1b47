//! `to_dot`: the Graphviz picture of a graph has the expected nodes, edges and labels, before
//! and after backward, and is well-formed line by line.

use std::collections::HashMap;

use ferrograd_autograd::{to_dot, Var};
use ferrograd_tensor::Tensor;

/// A parsed DOT file: node id -> label (with `\n` kept as the two characters), and edges.
struct Dot {
    labels: HashMap<String, String>,
    edges: Vec<(String, String)>,
}

impl Dot {
    /// The id of the one node whose label starts with `prefix`.
    fn node(&self, prefix: &str) -> &str {
        let found: Vec<&String> = self
            .labels
            .keys()
            .filter(|k| self.labels[*k].starts_with(prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one node labelled {prefix:?} expected in {:?}",
            self.labels
        );
        found[0]
    }

    fn label(&self, prefix: &str) -> &str {
        &self.labels[self.node(prefix)]
    }

    fn has_edge(&self, from: &str, to: &str) -> bool {
        let (f, t) = (self.node(from), self.node(to));
        self.edges.iter().any(|(a, b)| a == f && b == t)
    }
}

/// Checks the structure (one statement a line, balanced braces and quotes, edges between
/// declared nodes) and returns the nodes and edges.
fn parse(dot: &str) -> Dot {
    let lines: Vec<&str> = dot.lines().collect();
    assert_eq!(lines.first(), Some(&"digraph ferrograd {"), "{dot}");
    assert_eq!(lines.last(), Some(&"}"), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "{dot}");
    let mut labels = HashMap::new();
    let mut edges = Vec::new();
    for line in &lines[1..lines.len() - 1] {
        let line = line.trim();
        assert!(line.ends_with(';'), "statement without ';': {line}");
        let unescaped_quotes = line.replace("\\\"", "").matches('"').count();
        assert_eq!(unescaped_quotes % 2, 0, "unbalanced quotes: {line}");
        if line.starts_with("node ") {
            continue;
        }
        if let Some((from, to)) = line.trim_end_matches(';').split_once(" -> ") {
            edges.push((from.to_string(), to.to_string()));
        } else {
            let (id, rest) = line.split_once(" [label=\"").expect("a node statement");
            let label = &rest[..rest.find("\", fillcolor=").expect("a fill colour")];
            assert!(
                labels.insert(id.to_string(), label.to_string()).is_none(),
                "node {id} twice"
            );
        }
    }
    for (a, b) in &edges {
        assert!(
            labels.contains_key(a) && labels.contains_key(b),
            "edge {a} -> {b} to an undeclared node"
        );
    }
    Dot { labels, edges }
}

fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn small_graph_before_and_after_backward() {
    // loss = sum(relu(x @ w) * 2)
    let x = Var::new(t(&[1.0, -2.0, 0.5, 3.0], &[2, 2]));
    let w = Var::parameter(t(&[0.5, -1.0, 2.0, 0.25, 1.0, -0.5], &[2, 3]));
    w.set_name("w");
    let h = x.matmul(&w).unwrap().relu();
    h.retain_grad();
    let loss = (&h * 2.0).sum();

    let before = parse(&loss.to_dot());
    assert_eq!(
        before.labels.len(),
        6,
        "x, w, matmul, relu, mul, sum: {:?}",
        before.labels
    );
    assert_eq!(before.edges.len(), 5);
    assert_eq!(before.label("leaf"), "leaf\\n[2, 2]");
    assert_eq!(before.label("w (parameter)"), "w (parameter)\\n[2, 3]");
    assert!(before.label("ReluBackward0").ends_with("[2, 3]"));
    assert!(before.label("SumBackward0").starts_with("SumBackward0\\n[]\\nvalue "));
    for (from, to) in [
        ("leaf", "MmBackward0"),
        ("w (parameter)", "MmBackward0"),
        ("MmBackward0", "ReluBackward0"),
        ("ReluBackward0", "MulBackward1"),
        ("MulBackward1", "SumBackward0"),
    ] {
        assert!(before.has_edge(from, to), "{from} -> {to} in {:?}", before.edges);
    }
    assert!(
        !before.labels.values().any(|l| l.contains("grad")),
        "no gradient before backward"
    );

    loss.backward().unwrap();
    let after = parse(&to_dot(std::slice::from_ref(&loss)));
    assert_eq!(after.labels.len(), 6);
    // The parameter and the retained intermediate show their gradient; its norm is that of
    // w.grad, which we compute here independently.
    let g = w.grad().unwrap().to_vec();
    let norm = g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    assert_eq!(
        after.label("w (parameter)"),
        format!("w (parameter)\\n[2, 3]\\ngrad [2, 3] norm {norm:.4}")
    );
    assert!(
        after.label("ReluBackward0").ends_with("\\ngrad [2, 3] norm 4.8990"),
        "six 2s: √24"
    );
    assert!(!after.label("leaf").contains("grad"), "the data needs no gradient");
    assert!(!after.label("MmBackward0").contains("grad"), "not retained");
}

#[test]
fn small_gradients_are_printed_in_full_and_shared_inputs_drawn_once() {
    let x = Var::parameter(t(&[1.0, -2.0], &[2]));
    let y = (&x * &x).sum(); // x used twice by one op
    y.backward().unwrap();
    let dot = parse(&y.to_dot());
    assert_eq!(dot.labels.len(), 3);
    let x_id = dot.node("parameter").to_string();
    let mul = dot.node("MulBackward0").to_string();
    assert_eq!(dot.edges.iter().filter(|(a, b)| *a == x_id && *b == mul).count(), 2);
    assert_eq!(dot.label("parameter"), "parameter\\n[2]\\ngrad [2.0000, -4.0000]");
}

#[test]
fn several_outputs_share_their_graph() {
    let a = Var::parameter(t(&[1.0], &[1]));
    let b = a.exp();
    let (y1, y2) = (b.sum(), (&b * 3.0).sum());
    let dot = to_dot(&[y1.clone(), y2.clone(), y1]);
    let parsed = parse(&dot);
    assert_eq!(parsed.labels.len(), 5, "a, exp, two sums, one mul: {dot}");
    assert_eq!(
        dot.matches("darkolivegreen1").count(),
        2,
        "both outputs highlighted once"
    );
}

#[test]
fn names_are_escaped() {
    let x = Var::parameter(t(&[1.0], &[]));
    x.set_name("say \"hi\"\\");
    assert_eq!(x.name().as_deref(), Some("say \"hi\"\\"));
    let dot = parse(&x.to_dot());
    assert!(
        dot.label("say").starts_with("say \\\"hi\\\"\\\\ (parameter)"),
        "{:?}",
        dot.labels
    );
}

#[test]
fn a_deep_chain_needs_no_recursion() {
    let x = Var::parameter(t(&[0.5], &[1]));
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = &y * 1.0;
    }
    let dot = y.to_dot();
    assert_eq!(dot.lines().count(), 100_001 + 100_000 + 3);
}
