//! Side-by-side comparison of bench reports (adapters, commits, machines): the same cases
//! matched by name and shape, each report's figure of merit and its ratio to the first
//! report's. Cases present in only some reports are listed, never dropped silently.

use super::{Case, Report};

/// One case across the compared reports.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub shape: Vec<usize>,
    /// Per report: the figure of merit and its unit, if the report has the case.
    pub values: Vec<Option<(f64, &'static str)>>,
    /// Per report: its throughput over the first report's (> 1: faster than the first).
    pub ratios: Vec<Option<f64>>,
    /// The reports timed this case with different clocks (GPU timestamps on one adapter,
    /// wall-clock on another): its ratios compare launch overhead too.
    pub mixed_clocks: bool,
}

#[derive(Debug, Clone)]
pub struct Comparison {
    pub labels: Vec<String>,
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Case keys (name and shape) each report lacks but another has.
    pub fn missing(&self) -> Vec<(String, Vec<String>)> {
        self.labels
            .iter()
            .enumerate()
            .map(|(j, l)| {
                let keys = self
                    .rows
                    .iter()
                    .filter(|r| r.values[j].is_none())
                    .map(|r| format!("{} {:?}", r.name, r.shape))
                    .collect();
                (l.clone(), keys)
            })
            .filter(|(_, k): &(String, Vec<String>)| !k.is_empty())
            .collect()
    }

    /// Geometric mean of report `j`'s ratios over the cases both it and the first report
    /// have (the peak rows excluded: they are the yardstick, not a tidal kernel).
    pub fn geomean_ratio(&self, j: usize) -> Option<f64> {
        let logs: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| !r.name.starts_with("peak/"))
            .filter_map(|r| r.ratios[j])
            .filter(|v| *v > 0.0)
            .map(f64::ln)
            .collect();
        (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
    }

    /// The table for a terminal (or Markdown: it is a pipe table).
    pub fn table(&self) -> String {
        let mut s = String::from("| case | shape |");
        for (j, l) in self.labels.iter().enumerate() {
            if j == 0 {
                s.push_str(&format!(" {l} |"));
            } else {
                s.push_str(&format!(" {l} | ratio |"));
            }
        }
        s.push_str("\n|---|---|");
        for j in 0..self.labels.len() {
            s.push_str(if j == 0 { "---|" } else { "---|---|" });
        }
        s.push('\n');
        for r in &self.rows {
            let mark = if r.mixed_clocks { " †" } else { "" };
            s.push_str(&format!("| {}{mark} | {:?} |", r.name, r.shape));
            for (j, v) in r.values.iter().enumerate() {
                let cell = v.map_or("—".to_string(), |(x, u)| format!("{x:.3} {u}"));
                if j == 0 {
                    s.push_str(&format!(" {cell} |"));
                } else {
                    let ratio = r.ratios[j].map_or("—".to_string(), |x| format!("{x:.2}×"));
                    s.push_str(&format!(" {cell} | {ratio} |"));
                }
            }
            s.push('\n');
        }
        for j in 1..self.labels.len() {
            if let Some(g) = self.geomean_ratio(j) {
                let zero = self
                    .rows
                    .iter()
                    .filter(|r| !r.name.starts_with("peak/"))
                    .filter(|r| {
                        r.values[0].is_some()
                            && r.values[j].is_some()
                            && !r.ratios[j].is_some_and(|v| v > 0.0)
                    })
                    .count();
                s.push_str(&format!(
                    "\n{} vs {}: geometric mean ratio {g:.2}× over the shared cases{}",
                    self.labels[j],
                    self.labels[0],
                    if zero > 0 {
                        format!(" ({zero} shared case(s) with zero throughput left out)")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if self.rows.iter().any(|r| r.mixed_clocks) {
            s.push_str(
                "\n† timed with different clocks in different reports (GPU timestamps vs \
                 wall-clock): compare with care",
            );
        }
        for (l, keys) in self.missing() {
            s.push_str(&format!(
                "\nmissing in {l} ({} case(s)): {}",
                keys.len(),
                keys.join(", ")
            ));
        }
        s.push('\n');
        s
    }
}

/// Case names before the one renaming to `<family>/...` (the family being the op's file
/// name): old name or prefix → new. Reports written before it load with their cases
/// renamed, so `--compare` matches them with newer ones.
pub const ALIASES: &[(&str, &str)] = &[
    ("matmul", "matmul/nn"),
    ("matmul_tn", "matmul/tn"),
    ("matmul_nt", "matmul/nt"),
    ("add", "elementwise/add"),
    ("exp", "elementwise/exp"),
    ("sum_axis1", "reduce/sum_axis1"),
    ("sum_axis0", "reduce/sum_axis0"),
    ("adam/deepmerge", "optim/adam_deepmerge"),
    ("maxpool/", "pool/max_pool2d/"),
    ("batchnorm_bwd/", "batchnorm/backward/"),
    ("batchnorm/deepmerge_bn1", "batchnorm/forward/deepmerge_bn1"),
    ("conv2d_fwd/", "conv2d/forward/"),
    ("conv2d_bwd_input/", "conv2d/grad_input/"),
    ("conv2d_bwd_weight/", "conv2d/grad_weight/"),
];

/// The current name of a case called `name` in an older report (itself when not renamed).
/// Entries ending in `/` rename a prefix, the others a whole name.
pub fn current_name(name: &str) -> String {
    for (old, new) in ALIASES {
        if old.ends_with('/') {
            if let Some(rest) = name.strip_prefix(old) {
                return format!("{new}{rest}");
            }
        } else if name == *old {
            return new.to_string();
        }
    }
    name.to_string()
}

fn key(c: &Case) -> (String, Vec<usize>) {
    (c.name.clone(), c.shape.clone())
}

/// Matches the cases of `reports` (label, report); rows keep the order in which cases first
/// appear. A case run twice in one report counts once (its first run).
pub fn compare(reports: &[(String, Report)]) -> Comparison {
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for (_, r) in reports {
        for c in &r.cases {
            let k = key(c);
            if !order.contains(&k) {
                order.push(k);
            }
        }
    }
    let rows = order
        .into_iter()
        .map(|(name, shape)| {
            let cases: Vec<Option<&Case>> = reports
                .iter()
                .map(|(_, r)| r.cases.iter().find(|c| c.name == name && c.shape == shape))
                .collect();
            let values: Vec<Option<(f64, &'static str)>> =
                cases.iter().map(|c| c.map(Case::throughput)).collect();
            let clocks: Vec<&str> = cases.iter().flatten().map(|c| c.timing.as_str()).collect();
            let mixed_clocks = clocks.windows(2).any(|w| w[0] != w[1]);
            let base = values[0];
            let ratios = values
                .iter()
                .map(|v| match (base, v) {
                    (Some((b, _)), Some((x, _))) if b > 0.0 => Some(x / b),
                    _ => None,
                })
                .collect();
            Row {
                name,
                shape,
                values,
                ratios,
                mixed_clocks,
            }
        })
        .collect();
    Comparison {
        labels: reports.iter().map(|(l, _)| l.clone()).collect(),
        rows,
    }
}

/// A short label for a report: file stem, adapter, commit.
pub fn label(path: &std::path::Path, r: &Report) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let commit = if r.git_commit.is_empty() {
        String::new()
    } else {
        format!(" @{}", r.git_commit)
    };
    format!("{stem} ({}{commit})", r.adapter.name)
}
