//! `sweep summary`: every run with its status, varied hyperparameters and unsupervised
//! model-selection scores, which run each score would pick, and how well each score ranks
//! runs like the target accuracy does (an oracle, known only when target labels exist and
//! never used to pick).

use super::{failure, status, Manifest, Status};
use crate::error::{Error, Result};
use crate::train::TrainConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The selection scores of `summary.json`'s `selection` object and whether higher is better.
pub const SCORES: [(&str, bool); 5] = [
    ("source_val_acc", true),
    ("source_val_loss", false),
    ("dev_risk", false),
    ("target_entropy", false),
    ("heldout_mmd", false),
];

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub index: usize,
    pub status: Status,
    pub params: BTreeMap<String, serde_json::Value>,
    /// In the order of `SCORES`; None where the run has no such score (yet).
    pub scores: Vec<Option<f64>>,
    pub target_acc: Option<f64>,
    pub epochs_done: usize,
    pub epochs: usize,
    /// Why a failed run failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub score: &'static str,
    pub higher_is_better: bool,
    /// The done run this score ranks best (ties: the lower index).
    pub run: Option<usize>,
    pub value: Option<f64>,
    pub target_acc: Option<f64>,
    /// Spearman correlation of the score, signed so that +1 ranks runs as target accuracy
    /// does, over the `n` done runs having both; None below 3 runs or for constant values.
    pub spearman: Option<f64>,
    pub n: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepSummary {
    pub varied: Vec<String>,
    pub rows: Vec<RunRow>,
    pub picks: Vec<Pick>,
    /// The done run with the best target accuracy, and that accuracy.
    pub oracle: Option<(usize, f64)>,
}

/// Ranks from 1, ties sharing their average rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    crate::report::metrics::average_ranks(v)
}

/// Spearman's rank correlation: the Pearson correlation of the (tie-averaged) ranks.
/// None for fewer than 3 pairs or when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    if n < 3 {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mean) * (b - mean);
        sxx += (a - mean).powi(2);
        syy += (b - mean).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Reads every run of the sweep in `sweep_dir`; works while runs are still going.
pub fn collect(sweep_dir: &Path) -> Result<SweepSummary> {
    let manifest = Manifest::load(sweep_dir)?;
    let mut rows = Vec::with_capacity(manifest.runs.len());
    for run in &manifest.runs {
        let dir = sweep_dir.join(&run.dir);
        let st = status(&dir);
        let summary = if st == Status::Done {
            read_json(&dir.join("summary.json"))
        } else {
            None
        };
        let num = |v: &serde_json::Value| v.as_f64().filter(|x| x.is_finite());
        let scores = SCORES
            .iter()
            .map(|(k, _)| summary.as_ref().and_then(|s| num(&s["selection"][*k])))
            .collect();
        let target_acc = summary
            .as_ref()
            .and_then(|s| num(&s["target_test"]["accuracy"]));
        let epochs_done = std::fs::read_to_string(dir.join("metrics.jsonl"))
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0);
        let epochs = TrainConfig::from_toml_file(&sweep_dir.join(&run.config))
            .map(|c| c.epochs)
            .unwrap_or(0);
        rows.push(RunRow {
            index: run.index,
            status: st,
            params: run.params.clone(),
            scores,
            target_acc,
            epochs_done,
            epochs,
            error: (st == Status::Failed).then(|| {
                failure(&dir)
                    .map(|f| f.error)
                    .unwrap_or_else(|| "failed.json is unreadable".into())
            }),
        });
    }
    let done: Vec<&RunRow> = rows.iter().filter(|r| r.status == Status::Done).collect();
    let mut picks = Vec::new();
    for (k, (name, higher)) in SCORES.iter().enumerate() {
        let sign = if *higher { 1.0 } else { -1.0 };
        let mut best: Option<(&RunRow, f64)> = None;
        for r in &done {
            if let Some(v) = r.scores[k] {
                if best.is_none_or(|(_, b)| sign * v > sign * b) {
                    best = Some((r, v));
                }
            }
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = done
            .iter()
            .filter_map(|r| Some((sign * r.scores[k]?, r.target_acc?)))
            .unzip();
        picks.push(Pick {
            score: name,
            higher_is_better: *higher,
            run: best.map(|b| b.0.index),
            value: best.map(|b| b.1),
            target_acc: best.and_then(|b| b.0.target_acc),
            spearman: spearman(&xs, &ys),
            n: xs.len(),
        });
    }
    let mut oracle: Option<(usize, f64)> = None;
    for r in &done {
        if let Some(a) = r.target_acc {
            if oracle.is_none_or(|(_, b)| a > b) {
                oracle = Some((r.index, a));
            }
        }
    }
    Ok(SweepSummary {
        varied: manifest.varied,
        rows,
        picks,
        oracle,
    })
}

fn fmt_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

/// Columns padded to their widest cell (counted in characters, for the arrows and dashes).
fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s}{}", " ".repeat(width[c] - s.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

impl SweepSummary {
    /// The run table, the picks and the notes, for the terminal.
    pub fn text(&self) -> String {
        let mut header: Vec<String> = vec!["run".into(), "status".into(), "epochs".into()];
        header.extend(self.varied.iter().cloned());
        header.extend(
            SCORES
                .iter()
                .map(|(k, h)| format!("{k} {}", if *h { "↑" } else { "↓" })),
        );
        header.push("target acc (oracle)".into());
        let mut table = vec![header];
        for r in &self.rows {
            let mut line = vec![
                format!("{:04}", r.index),
                r.status.to_string(),
                format!("{}/{}", r.epochs_done, r.epochs),
            ];
            line.extend(
                self.varied
                    .iter()
                    .map(|k| r.params.get(k).map(fmt_value).unwrap_or_else(|| "–".into())),
            );
            line.extend(r.scores.iter().map(|s| fmt_opt(*s, 4)));
            line.push(fmt_opt(r.target_acc, 4));
            table.push(line);
        }
        let mut out = align(&table);
        let count = |s: Status| self.rows.iter().filter(|r| r.status == s).count();
        out.push_str(&format!(
            "\n{} runs: {} done, {} failed, {} running, {} partial, {} pending\n",
            self.rows.len(),
            count(Status::Done),
            count(Status::Failed),
            count(Status::Running),
            count(Status::Partial),
            count(Status::Pending)
        ));
        for r in self.rows.iter().filter(|r| r.status == Status::Failed) {
            out.push_str(&format!(
                "run {:04} failed: {}\n",
                r.index,
                r.error.as_deref().unwrap_or("")
            ));
        }
        out.push_str("\nWhich run each score picks (done runs only; target accuracy is never used to pick):\n");
        let mut picks = vec![vec![
            "score".to_string(),
            "better".into(),
            "picks run".into(),
            "score there".into(),
            "its target acc".into(),
            "Spearman with target acc".into(),
        ]];
        for p in &self.picks {
            picks.push(vec![
                p.score.to_string(),
                if p.higher_is_better {
                    "higher"
                } else {
                    "lower"
                }
                .into(),
                p.run
                    .map(|i| format!("{i:04}"))
                    .unwrap_or_else(|| "–".into()),
                fmt_opt(p.value, 4),
                fmt_opt(p.target_acc, 4),
                match p.spearman {
                    Some(r) => format!("{r:+.2} (n = {})", p.n),
                    None => "–".into(),
                },
            ]);
        }
        out.push_str(&align(&picks));
        match self.oracle {
            Some((i, a)) => out.push_str(&format!(
                "oracle: run {i:04} has the best target accuracy, {a:.4}.\n"
            )),
            None => out
                .push_str("No done run has target labels: the scores are all there is to go by.\n"),
        }
        let done = self.rows.iter().filter(|r| r.status == Status::Done);
        if done.clone().count() > 0 && done.clone().all(|r| r.scores.iter().all(Option::is_none)) {
            out.push_str("No done run's summary.json has selection scores (a `selection` object), so no score can pick.\n");
        }
        if self.picks.iter().any(|p| p.spearman.is_some()) {
            out.push_str("Spearman +1: the score orders runs exactly as target accuracy does; 0: no relation; −1: reversed. Trust the score closest to +1.\n");
        } else if self.oracle.is_some() {
            out.push_str(
                "Spearman needs at least 3 done runs with both the score and target accuracy.\n",
            );
        }
        out
    }

    /// One row per run: index, status, epochs, varied hyperparameters, scores, target
    /// accuracy, error.
    pub fn csv(&self) -> String {
        let mut head = vec!["index", "status", "epochs_done", "epochs"];
        head.extend(self.varied.iter().map(String::as_str));
        head.extend(SCORES.iter().map(|(k, _)| *k));
        head.extend(["target_accuracy", "error"]);
        let mut out = head.join(",") + "\n";
        for r in &self.rows {
            let mut f = vec![
                r.index.to_string(),
                r.status.to_string(),
                r.epochs_done.to_string(),
                r.epochs.to_string(),
            ];
            f.extend(
                self.varied
                    .iter()
                    .map(|k| r.params.get(k).map(fmt_value).unwrap_or_default()),
            );
            let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            f.extend(r.scores.iter().map(|s| num(*s)));
            f.push(num(r.target_acc));
            f.push(r.error.clone().unwrap_or_default());
            out.push_str(&f.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `summary.csv` and the score-versus-target-accuracy data into `sweep_dir`.
pub fn write(sweep_dir: &Path, s: &SweepSummary) -> Result<()> {
    write_file(&sweep_dir.join("summary.csv"), &s.csv())?;
    write_scatter(sweep_dir, s)
}

/// Score against target accuracy, one row per done run and score that has a target
/// accuracy: `score_vs_target.csv`, and `score_vs_target.png` with one panel per score (a
/// trustworthy score lines its runs up along a diagonal).
fn write_scatter(sweep_dir: &Path, s: &SweepSummary) -> Result<()> {
    let mut out = String::from("index,score,value,target_accuracy\n");
    let mut panels = Vec::new();
    for (k, (name, higher_better)) in SCORES.iter().enumerate() {
        let mut points = Vec::new();
        for r in s.rows.iter().filter(|r| r.status == Status::Done) {
            let (Some(acc), Some(v)) = (r.target_acc, r.scores[k]) else {
                continue;
            };
            out.push_str(&format!("{},{name},{v},{acc}\n", r.index));
            points.push((v, acc, 0, 0));
        }
        if !points.is_empty() {
            panels.push(crate::report::plot::ScatterPanel {
                title: format!(
                    "{name} ({} is better)",
                    if *higher_better { "higher" } else { "lower" }
                ),
                points,
                group_names: vec!["run".into()],
                marker_names: vec!["run".into()],
            });
        }
    }
    write_file(&sweep_dir.join("score_vs_target.csv"), &out)?;
    if !panels.is_empty() {
        crate::report::plot::scatter_panels_labelled(
            &sweep_dir.join("score_vs_target.png"),
            "selection score vs target accuracy (oracle)",
            &panels,
            ("score", "target accuracy"),
            (360 * panels.len() as u32, 420),
        )?;
    }
    Ok(())
}
