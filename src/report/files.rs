//! The files of a run directory that reports read back: `summary.json` (`Summary`), the
//! loss-term names of `metrics.jsonl`, `test_predictions.csv`, and the lenient per-epoch
//! reader the pictures use.

use super::metrics::{nan_if_null, Metrics};
use crate::error::{Error, Result};
use crate::models::ModelKind;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Names of the loss terms, in the order they are logged.
pub const TERMS: [&str; 5] = ["ce", "transfer", "fisher", "entropy", "total"];

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub method: String,
    pub model: ModelKind,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub steps: u64,
    pub seconds: f64,
    pub train_images_per_s: f64,
    pub source_test: Metrics,
    pub target_test: Option<Metrics>,
    pub stopped_early: bool,
    /// Scores for choosing among runs without target labels (see `sweep summary`).
    #[serde(default)]
    pub selection: Option<SelectionScores>,
    /// Temperature scaling fitted on source validation, and its effect on the test sets.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// The adapter (name, driver) and kernel variant the run trained with.
    #[serde(default)]
    pub adapter: Option<String>,
    #[serde(default)]
    pub kernel_variant: Option<String>,
    /// High-water mark of the GPU buffer pool's bytes in use over the run (training steps
    /// and evaluation), and the process's peak resident memory (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_peak_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

/// Scores for choosing among runs without target labels (written to `summary.json`).
/// A score that cannot be computed (e.g. DEV with one validation image) is NaN, written as
/// `null` and read back as NaN.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct SelectionScores {
    /// Higher is better.
    #[serde(deserialize_with = "nan_if_null")]
    pub source_val_acc: f64,
    /// Lower is better (all below).
    #[serde(deserialize_with = "nan_if_null")]
    pub source_val_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub dev_risk: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub target_entropy: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub heldout_mmd: f64,
}

/// Brier score and ECE of one labelled test set, raw and after temperature scaling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibratedScores {
    pub brier_raw: f64,
    pub brier: f64,
    pub ece_raw: f64,
    pub ece: f64,
}

/// What `summary.json` records about calibration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Fitted on the source validation split (never on target labels).
    pub temperature: f64,
    pub source_test: CalibratedScores,
    pub target_test: Option<CalibratedScores>,
}

/// One row of `test_predictions.csv`: a test image of the kept model.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPrediction {
    /// `source` or `target`
    pub domain: String,
    /// Index of the image in its domain's file
    pub index: usize,
    /// True class, when the file has labels
    pub label: Option<u32>,
    pub prob_merger: f32,
    /// After temperature scaling (absent in files of older versions).
    pub prob_calibrated: Option<f32>,
}

/// Writes `test_predictions.csv` (`domain,index,label,prob_merger`; empty label when
/// unknown) atomically.
pub fn write_test_predictions(path: &Path, rows: &[TestPrediction]) -> Result<()> {
    let mut csv = String::from("domain,index,label,prob_merger,prob_calibrated\n");
    for r in rows {
        let label = r.label.map(|l| l.to_string()).unwrap_or_default();
        let cal = r
            .prob_calibrated
            .map(|p| format!("{p:.6}"))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{label},{:.6},{cal}\n",
            r.domain, r.index, r.prob_merger
        ));
    }
    crate::atomic::write(path, csv.as_bytes())
}

pub(super) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

pub(super) fn data_error(path: &Path, line: usize, message: impl std::fmt::Display) -> Error {
    Error::Data {
        path: path.display().to_string(),
        reason: format!("line {line}: {message}"),
    }
}

/// Column positions of `names` in a CSV header, so column order does not matter.
pub(super) fn columns<const N: usize>(
    path: &Path,
    header: &str,
    names: [&str; N],
) -> Result<[usize; N]> {
    let cols: Vec<&str> = header.trim().split(',').map(str::trim).collect();
    let mut out = [0; N];
    for (o, name) in out.iter_mut().zip(names) {
        *o = cols.iter().position(|c| *c == name).ok_or_else(|| {
            data_error(
                path,
                1,
                format!("header '{}' lacks column '{name}'", header.trim()),
            )
        })?;
    }
    Ok(out)
}

/// A CSV data line: its 1-based line number and fields.
pub(super) type CsvRow = (usize, Vec<String>);

/// The header and data lines of a CSV file.
pub(super) fn csv_rows(path: &Path, text: &str) -> Result<(String, Vec<CsvRow>)> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, h)| h.to_string())
        .ok_or_else(|| data_error(path, 1, "empty file, expected a header"))?;
    let rows = lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split(',').map(|f| f.trim().to_string()).collect()))
        .collect();
    Ok((header, rows))
}

pub(super) fn field<'a>(
    path: &Path,
    line: usize,
    row: &'a [String],
    col: usize,
) -> Result<&'a str> {
    row.get(col)
        .map(String::as_str)
        .ok_or_else(|| data_error(path, line, format!("expected at least {} fields", col + 1)))
}

pub(super) fn parse<T: std::str::FromStr>(
    path: &Path,
    line: usize,
    what: &str,
    s: &str,
) -> Result<T> {
    s.parse()
        .map_err(|_| data_error(path, line, format!("{what} '{s}' is not a number")))
}

/// Reads `test_predictions.csv`.
pub fn read_test_predictions(path: &Path) -> Result<Vec<TestPrediction>> {
    let text = read_text(path)?;
    let (header, rows) = csv_rows(path, &text)?;
    let [d, i, l, p] = columns(path, &header, ["domain", "index", "label", "prob_merger"])?;
    let cal = header
        .trim()
        .split(',')
        .map(str::trim)
        .position(|c| c == "prob_calibrated");
    rows.iter()
        .map(|(line, row)| {
            let label = field(path, *line, row, l)?;
            Ok(TestPrediction {
                domain: field(path, *line, row, d)?.to_string(),
                index: parse(path, *line, "index", field(path, *line, row, i)?)?,
                label: if label.is_empty() {
                    None
                } else {
                    Some(parse(path, *line, "label", label)?)
                },
                prob_merger: parse(path, *line, "prob_merger", field(path, *line, row, p)?)?,
                prob_calibrated: match cal.map(|c| field(path, *line, row, c)).transpose()? {
                    Some(v) if !v.is_empty() => Some(parse(path, *line, "prob_calibrated", v)?),
                    _ => None,
                },
            })
        })
        .collect()
}

/// The per-epoch numbers the pictures need, read leniently from `metrics.jsonl` (a field
/// that is absent or null is NaN), so logs from older or newer trainers still plot.
#[derive(Debug, Clone)]
pub(super) struct EpochRow {
    /// Counted from 1, like the CLI.
    pub(super) epoch: f64,
    pub(super) lr: f64,
    pub(super) lambda: f64,
    pub(super) losses: Vec<(String, f64)>,
    pub(super) source_acc: f64,
    pub(super) target_acc: f64,
    pub(super) disc: (f64, f64),
    pub(super) heldout_mmd: f64,
    pub(super) proxy_a_distance: f64,
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub(super) fn read_epochs(path: &Path) -> Result<Vec<EpochRow>> {
    let text = read_text(path)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| data_error(path, i + 1, e))?;
        let epoch = v["epoch"]
            .as_u64()
            .ok_or_else(|| data_error(path, i + 1, "no integer 'epoch' field"))?;
        let mut losses: Vec<(String, f64)> = v["losses"]
            .as_object()
            .map(|m| m.iter().map(|(k, x)| (k.clone(), num(x))).collect())
            .unwrap_or_default();
        losses.sort_by(|a, b| a.0.cmp(&b.0));
        let disc = &v["discriminator_accuracy"];
        rows.push(EpochRow {
            epoch: epoch as f64 + 1.0,
            lr: num(&v["lr"]),
            lambda: num(&v["lambda"]),
            losses,
            source_acc: num(&v["source_val"]["accuracy"]),
            target_acc: num(&v["target_val"]["accuracy"]),
            disc: (num(&disc[0]), num(&disc[1])),
            heldout_mmd: num(&v["shift"]["heldout_mmd"]),
            proxy_a_distance: num(&v["shift"]["proxy_a_distance"]),
        });
    }
    if rows.is_empty() {
        return Err(Error::Data {
            path: path.display().to_string(),
            reason: "no epochs logged yet".into(),
        });
    }
    Ok(rows)
}

pub(super) fn any_finite(v: &[f64]) -> bool {
    v.iter().any(|x| x.is_finite())
}
