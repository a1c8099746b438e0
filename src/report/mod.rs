//! Reports: PNG charts by kind (`plot`), the metrics of a classifier (`metrics`), the run
//! directory's files (`files`), the run report with its pictures and `report.md`, and the
//! Markdown tables of `train` and `compare` (`tables`). Everything is read back from the
//! run's files, so `tidal report DIR` can regenerate it without a GPU.

pub mod files;
pub mod metrics;
mod pictures;
pub mod plot;
pub mod tables;

pub use files::{
    read_test_predictions, write_test_predictions, CalibratedScores, Calibration, SelectionScores,
    Summary, TestPrediction, TERMS,
};
pub use tables::{compare_table, matrix_table, metrics_table, CompareRow};

use crate::error::{Error, Result};
use files::{read_epochs, read_text};
use metrics::Metrics;
use pictures::{curve_pictures, prediction_pictures, tsne_panels, Picture};
use std::path::{Path, PathBuf};

/// Class names of label 0 and 1.
pub const CLASS_NAMES: [&str; 2] = ["non-merger", "merger"];

/// Bins of the reliability diagram: the 15 of the ECE in the metrics table.
const RELIABILITY_BINS: usize = 15;

fn summary_markdown(s: &Summary) -> String {
    let mut r = format!(
        "# tidal run: {} on {:?}\n\n{} epochs ({} steps, {:.0} s, {:.0} training images/s); kept model: epoch {} (best source validation accuracy; target labels are never used for selection){}.\n\n",
        s.method,
        s.model,
        s.epochs_run,
        s.steps,
        s.seconds,
        s.train_images_per_s,
        s.best_epoch + 1,
        if s.stopped_early { ", stopped early on source validation loss" } else { "" }
    );
    r.push_str(&metrics_table(&[
        ("source", Some(&s.source_test)),
        ("target", s.target_test.as_ref()),
    ]));
    if let Some(t) = &s.target_test {
        r.push_str(&format!(
            "\nSource → target accuracy drop: {:.1} points.\n",
            (s.source_test.accuracy - t.accuracy) * 100.0
        ));
    }
    if let Some(c) = &s.calibration {
        r.push_str(&format!(
            "\nTemperature scaling: T = {:.3}, fitted on source validation. Source test Brier {:.3} → {:.3}, ECE {:.3} → {:.3}",
            c.temperature, c.source_test.brier_raw, c.source_test.brier, c.source_test.ece_raw, c.source_test.ece
        ));
        if let Some(t) = &c.target_test {
            r.push_str(&format!(
                "; target test Brier {:.3} → {:.3}, ECE {:.3} → {:.3} (a T fitted on source need not calibrate the target)",
                t.brier_raw, t.brier, t.ece_raw, t.ece
            ));
        }
        r.push_str(".\n");
    }
    r
}

/// Test metrics recomputed from `test_predictions.csv` must match the summary's; a mismatch
/// means the files come from different runs, which the report should say.
fn consistency_note(s: &Summary, rows: &[TestPrediction]) -> Option<String> {
    let check = |name: &str, m: Option<&Metrics>| -> Option<String> {
        let (p, y): (Vec<f32>, Vec<u32>) = rows
            .iter()
            .filter(|r| r.domain == name)
            .filter_map(|r| r.label.map(|l| (r.prob_merger, l)))
            .unzip();
        let m = m?;
        if p.is_empty() {
            return None;
        }
        let again = metrics::compute(&p, &y);
        // Probabilities are stored with 6 decimals: counts must agree, accuracy nearly.
        (again.n != m.n || (again.accuracy - m.accuracy).abs() > 0.005).then(|| {
            format!(
                "{name}: {} images at accuracy {:.3} in test_predictions.csv, {} at {:.3} in summary.json",
                again.n, again.accuracy, m.n, m.accuracy
            )
        })
    };
    let notes: Vec<String> = [
        check("source", Some(&s.source_test)),
        check("target", s.target_test.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!notes.is_empty()).then(|| {
        format!(
            "\n**Warning:** the test predictions do not match the summary ({}); the files may come from different runs.\n",
            notes.join("; ")
        )
    })
}

/// Reads the run directory's files (`summary.json`, `metrics.jsonl`, and when present
/// `test_predictions.csv` and `latent_tsne.csv`), draws every picture they allow and writes
/// `report.md` embedding them. Returns the paths written, `report.md` last.
pub fn write_report(run_dir: &Path) -> Result<Vec<PathBuf>> {
    let missing: Vec<&str> = ["metrics.jsonl", "summary.json"]
        .into_iter()
        .filter(|f| !run_dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(Error::data(
            run_dir,
            format!(
                "not a finished tidal run directory: it lacks {} (written by `tidal train`)",
                missing.join(" and ")
            ),
        ));
    }
    let summary_path = run_dir.join("summary.json");
    let summary: Summary =
        serde_json::from_str(&read_text(&summary_path)?).map_err(|e| Error::Data {
            path: summary_path.display().to_string(),
            reason: format!("not a tidal summary: {e}"),
        })?;
    let epochs = read_epochs(&run_dir.join("metrics.jsonl"))?;

    let mut pictures = curve_pictures(run_dir, &epochs, summary.best_epoch)?;
    let preds_path = run_dir.join("test_predictions.csv");
    let preds = if preds_path.is_file() {
        Some(read_test_predictions(&preds_path)?)
    } else {
        None
    };
    if let Some(rows) = &preds {
        pictures.extend(prediction_pictures(run_dir, rows)?);
    }
    let tsne_path = run_dir.join("latent_tsne.csv");
    if tsne_path.is_file() {
        let panels = tsne_panels(&tsne_path)?;
        if !panels.is_empty() {
            plot::scatter_panels(
                &run_dir.join("latent_tsne.png"),
                "t-SNE of the classifier's features (colour = domain, marker = class)",
                &panels,
                (40 + 540 * panels.len() as u32, 580),
            )?;
            pictures.push(Picture {
                file: "latent_tsne.png",
                alt: "t-SNE maps of the features",
                caption: "2-D t-SNE maps of the classifier's features (from `latent_tsne.csv`). \
                          Look for whether the target cloud lies on the source cloud after training, and \
                          whether mergers and non-mergers separate in both domains."
                    .into(),
            });
        }
    }

    let mut md = summary_markdown(&summary);
    if let Some(note) = preds
        .as_ref()
        .and_then(|rows| consistency_note(&summary, rows))
    {
        md.push_str(&note);
    }
    md.push_str("\n## Pictures\n");
    for p in &pictures {
        md.push_str(&format!("\n![{}]({})\n\n{}\n", p.alt, p.file, p.caption));
    }
    md.push_str("\n## Files\n\nPer-epoch losses and validation metrics: `metrics.jsonl`. ");
    if preds.is_some() {
        md.push_str("Per-image test probabilities of the kept model: `test_predictions.csv`. ");
    }
    md.push_str(
        "Weights: `best.safetensors` (PyTorch state_dict names). \
         Regenerate this report and its pictures with `tidal report <run directory>`.\n",
    );
    let report_path = run_dir.join("report.md");
    crate::atomic::write(&report_path, md.as_bytes())?;
    let mut written: Vec<PathBuf> = pictures.iter().map(|p| run_dir.join(p.file)).collect();
    written.push(report_path);
    Ok(written)
}
