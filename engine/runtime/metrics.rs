//! Latency histograms for `/metrics`: fixed Prometheus-style buckets per label, cheap to
//! observe from many runs at once.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Bucket upper bounds, seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Histograms by one label value (a step kind).
#[derive(Debug, Default)]
pub struct Histograms {
    by_label: Mutex<BTreeMap<String, Histogram>>,
}

impl Histograms {
    pub fn observe(&self, label: &str, seconds: f64) {
        let Ok(mut all) = self.by_label.lock() else {
            return;
        };
        let h = all.entry(label.to_string()).or_insert_with(|| Histogram {
            counts: vec![0; BUCKETS.len()],
            ..Histogram::default()
        });
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Prometheus text for metric `name` with label `kind`.
    pub fn render(&self, name: &str, help: &str) -> String {
        let all = self.by_label.lock().map(|a| a.clone()).unwrap_or_default();
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (label, h) in all {
            for (i, bound) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "{name}_bucket{{kind=\"{label}\",le=\"{bound}\"}} {}\n",
                    h.counts[i]
                ));
            }
            out.push_str(&format!(
                "{name}_bucket{{kind=\"{label}\",le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!("{name}_sum{{kind=\"{label}\"}} {:.6}\n", h.sum));
            out.push_str(&format!("{name}_count{{kind=\"{label}\"}} {}\n", h.count));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histograms::default();
        h.observe("call", 0.003);
        h.observe("call", 0.2);
        let text = h.render("x", "help");
        assert!(text.contains("x_bucket{kind=\"call\",le=\"0.005\"} 1"));
        assert!(text.contains("x_bucket{kind=\"call\",le=\"0.25\"} 2"));
        assert!(text.contains("x_count{kind=\"call\"} 2"));
    }
}
