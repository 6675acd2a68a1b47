//! A [`Record`] as text tables: one row per layer, one per parameter.

use std::fmt::Write;

use crate::record::Record;

impl Record {
    /// One row per layer, as seen at the first and at the last recorded step: the output's
    /// mean and std, the saturated and dead percentages, and the std of the gradient reaching
    /// it (at the last step).
    pub fn layer_table(&self) -> String {
        let (Some(first), Some(last)) = (self.steps.first(), self.steps.last()) else {
            return "(no step recorded)\n".to_string();
        };
        let pct = |f: Option<f64>| f.map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f));
        let mut out = format!(
            "{:<10} {:<12} {:>9} {:>9} {:>10} {:>10} {:>9} {:>11}\n",
            "layer",
            "type",
            "mean",
            "std",
            format!("sat@{}", first.step),
            format!("sat@{}", last.step),
            "dead",
            "grad std"
        );
        for l in &last.layers {
            let at_first = first.layers.iter().find(|f| f.layer == l.layer);
            let _ = writeln!(
                out,
                "{:<10} {:<12} {:>9.4} {:>9.4} {:>10} {:>10} {:>9} {:>11}",
                l.layer,
                l.module_type,
                l.mean,
                l.std,
                pct(at_first.and_then(|f| f.saturated)),
                pct(l.saturated),
                pct(l.dead),
                l.grad_std.map_or("-".to_string(), |g| format!("{g:.3e}")),
            );
        }
        out
    }

    /// One row per parameter: its std and grad:data ratio at the last recorded step, and the
    /// mean `log10(std(Δθ)/std(θ))` over the last quarter of the recorded steps (healthy near
    /// -3).
    pub fn param_table(&self) -> String {
        let Some(last) = self.steps.last() else {
            return "(no step recorded)\n".to_string();
        };
        let tail = &self.steps[self.steps.len() - self.steps.len().div_ceil(4)..];
        let mut out = format!(
            "{:<16} {:<10} {:>9} {:>10} {:>14}\n",
            "parameter", "shape", "std", "grad:data", "log10 update"
        );
        for (i, p) in last.params.iter().enumerate() {
            let ratios: Vec<f64> = tail
                .iter()
                .filter_map(|s| s.params.get(i).and_then(|q| q.update_ratio_log10))
                .collect();
            let update = if ratios.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", ratios.iter().sum::<f64>() / ratios.len() as f64)
            };
            let _ = writeln!(
                out,
                "{:<16} {:<10} {:>9.4} {:>10} {:>14}",
                p.name,
                format!("{:?}", p.shape),
                p.data_std,
                p.grad_data_ratio.map_or("-".to_string(), |r| format!("{r:.2e}")),
                update,
            );
        }
        out
    }

    /// Each warning on a line.
    pub fn warning_lines(&self) -> String {
        self.warnings
            .iter()
            .map(|w| format!("warning: {}\n", w.message))
            .collect()
    }
}
