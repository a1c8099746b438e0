//! The Markdown tables `train`, `eval` and `compare` print.

use super::metrics::Metrics;
use serde::Serialize;

/// The metrics table, as Markdown.
pub fn metrics_table(rows: &[(&str, Option<&Metrics>)]) -> String {
    let mut s = String::from("| test set | n | accuracy | precision | recall | F1 | ROC AUC | Brier | ECE |\n|---|---|---|---|---|---|---|---|---|\n");
    for (name, m) in rows {
        match m {
            Some(m) => s.push_str(&format!(
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                m.n, m.accuracy, m.precision, m.recall, m.f1, m.auc, m.brier, m.ece
            )),
            None => s.push_str(&format!("| {name} | – | no labels | | | | | | |\n")),
        }
    }
    s
}

/// One row of `compare`: a method's test metrics over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub method: String,
    pub source: Vec<Metrics>,
    pub target: Vec<Metrics>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// The published-table view of `compare`: source and target accuracy and AUC per method
/// (mean ± std over seeds), marking methods whose target accuracy is below noDA's.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let fmt = |v: &[f64]| {
        let (m, s) = mean_std(v);
        if v.len() > 1 {
            format!("{:.1} ± {:.1}", m * 100.0, s * 100.0)
        } else {
            format!("{:.1}", m * 100.0)
        }
    };
    let noda = rows
        .iter()
        .find(|r| r.method == "noda")
        .map(|r| mean_std(&r.target.iter().map(|m| m.accuracy).collect::<Vec<_>>()).0);
    let mut s = String::from("| method | source acc % | target acc % | source AUC % | target AUC % | note |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let sa: Vec<f64> = r.source.iter().map(|m| m.accuracy).collect();
        let ta: Vec<f64> = r.target.iter().map(|m| m.accuracy).collect();
        let su: Vec<f64> = r.source.iter().map(|m| m.auc).collect();
        let tu: Vec<f64> = r.target.iter().map(|m| m.auc).collect();
        let note = match noda {
            Some(n) if r.method != "noda" && !ta.is_empty() && mean_std(&ta).0 < n => {
                "negative transfer (target below noDA)"
            }
            _ => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {note} |\n",
            r.method,
            fmt(&sa),
            fmt(&ta),
            fmt(&su),
            fmt(&tu)
        ));
    }
    s
}
