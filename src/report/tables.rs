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

/// One row of `compare`: a method's test metrics over seeds (`seeds[k]` gave `source[k]` and
/// `target[k]`).
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub method: String,
    pub seeds: Vec<u64>,
    pub source: Vec<Metrics>,
    pub target: Vec<Metrics>,
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom (two-sided 95 %).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        // Cornish–Fisher expansion around the normal quantile: within 1e-3 beyond 30.
        _ => {
            let (z, d) = (1.959_964f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

/// The paired difference of `row`'s target accuracy to noDA's over the seeds both have:
/// (mean, 95 % Student-t interval (lo, hi), number of pairs); the interval is NaN for one pair.
pub fn paired_difference(row: &CompareRow, noda: &CompareRow) -> Option<(f64, (f64, f64), usize)> {
    let diffs: Vec<f64> = row
        .seeds
        .iter()
        .zip(&row.target)
        .filter_map(|(s, m)| {
            let k = noda.seeds.iter().position(|x| x == s)?;
            Some(m.accuracy - noda.target.get(k)?.accuracy)
        })
        .collect();
    if diffs.is_empty() {
        return None;
    }
    let (m, sd) = mean_std(&diffs);
    let half = t975(diffs.len() - 1) * sd / (diffs.len() as f64).sqrt();
    Some((m, (m - half, m + half), diffs.len()))
}

/// The published-table view of `compare`: source and target accuracy and AUC per method
/// (mean ± std over seeds), and each method's paired difference to noDA on target accuracy
/// with its 95 % Student-t interval (df = seeds − 1). Negative transfer is flagged only when
/// that interval lies below zero.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let fmt = |v: &[f64]| {
        let (m, s) = mean_std(v);
        if v.len() > 1 {
            format!("{:.1} ± {:.1}", m * 100.0, s * 100.0)
        } else {
            format!("{:.1}", m * 100.0)
        }
    };
    let noda = rows.iter().find(|r| r.method == "noda");
    let mut s = String::from("| method | seeds | source acc % | target acc % | source AUC % | target AUC % | Δ target acc vs noDA, points (95 % CI) | note |\n|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let sa: Vec<f64> = r.source.iter().map(|m| m.accuracy).collect();
        let ta: Vec<f64> = r.target.iter().map(|m| m.accuracy).collect();
        let su: Vec<f64> = r.source.iter().map(|m| m.auc).collect();
        let tu: Vec<f64> = r.target.iter().map(|m| m.auc).collect();
        let diff = noda
            .filter(|n| n.method != r.method)
            .and_then(|n| paired_difference(r, n));
        let (delta, note) = match diff {
            None => (String::new(), ""),
            Some((m, (lo, hi), pairs)) if pairs > 1 => (
                format!("{:+.1} [{:+.1}, {:+.1}]", m * 100.0, lo * 100.0, hi * 100.0),
                if hi < 0.0 {
                    "negative transfer (interval below 0)"
                } else if lo > 0.0 {
                    "transfers (interval above 0)"
                } else {
                    ""
                },
            ),
            Some((m, _, _)) => (format!("{:+.1} (one seed: no interval)", m * 100.0), ""),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {delta} | {note} |\n",
            r.method,
            r.seeds.len(),
            fmt(&sa),
            fmt(&ta),
            fmt(&su),
            fmt(&tu)
        ));
    }
    s
}

/// The cross-domain matrix (the seed paper's first table): for each metric, mean ± std over
/// seeds of (trained on pristine: tested on pristine, on noisy) and (trained on noisy: on
/// noisy, on pristine). `pristine` and `noisy` are the two noDA rows (source = the training
/// domain).
pub fn matrix_table(pristine: &CompareRow, noisy: &CompareRow) -> String {
    let cell = |v: &[Metrics], f: fn(&Metrics) -> f64| {
        let x: Vec<f64> = v.iter().map(f).collect();
        let (m, s) = mean_std(&x);
        if x.len() > 1 {
            format!("{m:.3} ± {s:.3}")
        } else {
            format!("{m:.3}")
        }
    };
    type Pick = fn(&Metrics) -> f64;
    let metrics: [(&str, Pick); 6] = [
        ("AUC", |m| m.auc),
        ("accuracy", |m| m.accuracy),
        ("precision", |m| m.precision),
        ("recall", |m| m.recall),
        ("F1", |m| m.f1),
        ("Brier", |m| m.brier),
    ];
    let mut s = String::from("| test metric | train pristine, test pristine | train noisy, test noisy | train pristine, test noisy | train noisy, test pristine |\n|---|---|---|---|---|\n");
    for (name, f) in metrics {
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} |\n",
            cell(&pristine.source, f),
            cell(&noisy.source, f),
            cell(&pristine.target, f),
            cell(&noisy.target, f)
        ));
    }
    s
}
