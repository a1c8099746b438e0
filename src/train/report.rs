//! The run report: pictures of a run directory (training curves, domain shift, ROC,
//! calibration, confusion matrices, latent t-SNE maps) and `report.md` embedding them.
//! Everything is read back from the run's files, so `tidal report DIR` can regenerate it.

use super::metrics::{self, Metrics};
use super::{checkpoint, metrics_table, Summary, TERMS};
use crate::error::{Error, Result};
use crate::plot::{self, LinePanel, ScatterPanel, Series};
use std::path::{Path, PathBuf};

/// Class names of label 0 and 1.
pub const CLASS_NAMES: [&str; 2] = ["non-merger", "merger"];

/// Bins of the reliability diagram: the 15 of the ECE in the metrics table.
const RELIABILITY_BINS: usize = 15;

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
}

/// Writes `test_predictions.csv` (`domain,index,label,prob_merger`; empty label when
/// unknown) atomically.
pub fn write_test_predictions(path: &Path, rows: &[TestPrediction]) -> Result<()> {
    let mut csv = String::from("domain,index,label,prob_merger\n");
    for r in rows {
        let label = r.label.map(|l| l.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{label},{:.6}\n",
            r.domain, r.index, r.prob_merger
        ));
    }
    checkpoint::write_atomic(path, csv.as_bytes())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn data_error(path: &Path, line: usize, message: impl std::fmt::Display) -> Error {
    Error::Data {
        path: path.display().to_string(),
        message: format!("line {line}: {message}"),
    }
}

/// Column positions of `names` in a CSV header, so column order does not matter.
fn columns<const N: usize>(path: &Path, header: &str, names: [&str; N]) -> Result<[usize; N]> {
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
type CsvRow = (usize, Vec<String>);

/// The header and data lines of a CSV file.
fn csv_rows(path: &Path, text: &str) -> Result<(String, Vec<CsvRow>)> {
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

fn field<'a>(path: &Path, line: usize, row: &'a [String], col: usize) -> Result<&'a str> {
    row.get(col)
        .map(String::as_str)
        .ok_or_else(|| data_error(path, line, format!("expected at least {} fields", col + 1)))
}

fn parse<T: std::str::FromStr>(path: &Path, line: usize, what: &str, s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| data_error(path, line, format!("{what} '{s}' is not a number")))
}

/// Reads `test_predictions.csv`.
pub fn read_test_predictions(path: &Path) -> Result<Vec<TestPrediction>> {
    let text = read_text(path)?;
    let (header, rows) = csv_rows(path, &text)?;
    let [d, i, l, p] = columns(path, &header, ["domain", "index", "label", "prob_merger"])?;
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
            })
        })
        .collect()
}

/// The per-epoch numbers the pictures need, read leniently from `metrics.jsonl` (a field
/// that is absent or null is NaN), so logs from older or newer trainers still plot.
#[derive(Debug, Clone)]
struct EpochRow {
    /// Counted from 1, like the CLI.
    epoch: f64,
    lr: f64,
    lambda: f64,
    losses: Vec<(String, f64)>,
    source_acc: f64,
    target_acc: f64,
    disc: (f64, f64),
    heldout_mmd: f64,
    proxy_a_distance: f64,
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn read_epochs(path: &Path) -> Result<Vec<EpochRow>> {
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
            message: "no epochs logged yet".into(),
        });
    }
    Ok(rows)
}

fn any_finite(v: &[f64]) -> bool {
    v.iter().any(|x| x.is_finite())
}

/// A picture written by the report, with its Markdown alt text and caption.
struct Picture {
    file: &'static str,
    alt: &'static str,
    caption: String,
}

fn series(name: &str, rows: &[EpochRow], f: impl Fn(&EpochRow) -> f64) -> Series {
    Series::new(
        name,
        rows.iter().map(|r| r.epoch).collect(),
        rows.iter().map(f).collect(),
    )
}

fn panel(title: &str, y_label: &str, series: Vec<Series>) -> LinePanel {
    LinePanel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y_label.into(),
        series,
        ..LinePanel::default()
    }
}

fn curve_pictures(dir: &Path, rows: &[EpochRow], best_epoch: usize) -> Result<Vec<Picture>> {
    let mut out = Vec::new();

    // Known terms in logging order, then any others; a term that is zero throughout (not
    // part of this method) gets no panel, the total always does.
    let mut names: Vec<String> = TERMS.iter().map(|t| t.to_string()).collect();
    for r in rows {
        for (k, _) in &r.losses {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let loss = |r: &EpochRow, k: &str| {
        r.losses
            .iter()
            .find(|(n, _)| n == k)
            .map_or(f64::NAN, |x| x.1)
    };
    let panels: Vec<LinePanel> = names
        .iter()
        .filter(|k| {
            let v: Vec<f64> = rows.iter().map(|r| loss(r, k)).collect();
            k.as_str() == "total" || v.iter().any(|x| x.is_finite() && *x != 0.0)
        })
        .map(|k| panel(k, "mean loss", vec![series(k, rows, |r| loss(r, k))]))
        .collect();
    let cols = panels.len().min(3);
    let grid_rows = panels.len().div_ceil(cols) as u32;
    plot::line_panels(
        &dir.join("curves_losses.png"),
        "Loss terms per epoch (means over the epoch's steps)",
        &panels,
        cols,
        (if cols == 1 { 900 } else { 1200 }, 50 + 360 * grid_rows),
    )?;
    out.push(Picture {
        file: "curves_losses.png",
        alt: "loss terms per epoch",
        caption: "Each loss term per epoch (terms that stay zero for this method are left out). \
                  Look for the classification loss (`ce`) falling while the transfer term stays \
                  bounded; a term that keeps growing is pulling against classification."
            .into(),
    });

    plot::line_panels(
        &dir.join("curves_schedule.png"),
        "Schedule (value at each epoch's last step)",
        &[
            panel(
                "learning rate",
                "learning rate",
                vec![series("lr", rows, |r| r.lr)],
            ),
            panel(
                "λ (transfer weight ramp)",
                "λ",
                vec![series("λ", rows, |r| r.lambda)],
            ),
        ],
        2,
        (1000, 440),
    )?;
    out.push(Picture {
        file: "curves_schedule.png",
        alt: "learning rate and lambda per epoch",
        caption: "Learning rate and λ (the transfer term's weight, the gradient-reversal strength \
                  for DANN). Look for the schedule you asked for: a ramp in λ explains a transfer \
                  loss that rises early."
            .into(),
    });

    let mut acc = vec![series("source validation", rows, |r| r.source_acc)];
    let t: Vec<f64> = rows.iter().map(|r| r.target_acc).collect();
    if any_finite(&t) {
        acc.push(series("target validation", rows, |r| r.target_acc));
    }
    let disc = any_finite(&rows.iter().map(|r| r.disc.0).collect::<Vec<_>>());
    if disc {
        acc.push(series("discriminator on source", rows, |r| r.disc.0));
        acc.push(series("discriminator on target", rows, |r| r.disc.1));
    }
    let kept = (best_epoch + 1) as f64;
    acc.push(Series::new(
        format!("kept model (epoch {})", best_epoch + 1),
        vec![kept, kept],
        vec![0.0, 1.0],
    ));
    plot::line_chart_panel(
        &dir.join("curves_accuracy.png"),
        &LinePanel {
            title: "Accuracy per epoch".into(),
            x_label: "epoch".into(),
            y_label: "accuracy".into(),
            series: acc,
            y_range: Some((0.0, 1.02)),
            legend_bottom: true,
        },
        (900, 500),
    )?;
    let mut caption = String::from(
        "Validation accuracy per epoch; the vertical line marks the kept model (best source \
         validation accuracy). ",
    );
    if any_finite(&t) {
        caption.push_str(
            "Look for the gap between source and target curves (target labels are only \
             reported, never used to train or select). ",
        );
    }
    if disc {
        caption.push_str(
            "The discriminator's accuracy per domain near 0.5 means it can no longer tell the \
             domains' features apart; near 1 it still can.",
        );
    }
    out.push(Picture {
        file: "curves_accuracy.png",
        alt: "validation accuracy per epoch",
        caption: caption.trim_end().into(),
    });

    let mmd: Vec<f64> = rows.iter().map(|r| r.heldout_mmd).collect();
    let pad: Vec<f64> = rows.iter().map(|r| r.proxy_a_distance).collect();
    if any_finite(&mmd) || any_finite(&pad) {
        plot::line_panels(
            &dir.join("shift.png"),
            "Domain shift of the features per epoch",
            &[
                panel(
                    "held-out MMD",
                    "MMD²",
                    vec![series("held-out MMD", rows, |r| r.heldout_mmd)],
                ),
                panel(
                    "proxy A-distance",
                    "2 (1 − 2 · domain-classifier error)",
                    vec![series("proxy A-distance", rows, |r| r.proxy_a_distance)],
                ),
            ],
            2,
            (1000, 440),
        )?;
        out.push(Picture {
            file: "shift.png",
            alt: "domain shift per epoch",
            caption: "Distance between source and target features on held-out images: MMD and \
                      the proxy A-distance (0 = a classifier cannot tell the domains apart, 2 = it \
                      always can). Look for both falling as training aligns the domains."
                .into(),
        });
    }
    Ok(out)
}

/// Probabilities and labels per labelled domain, source first.
fn labelled_sets(rows: &[TestPrediction]) -> Vec<(String, Vec<f32>, Vec<u32>)> {
    let mut domains: Vec<&str> = Vec::new();
    for r in rows {
        if !domains.contains(&r.domain.as_str()) {
            domains.push(&r.domain);
        }
    }
    domains.sort_by_key(|d| match *d {
        "source" => 0,
        "target" => 1,
        _ => 2,
    });
    domains
        .into_iter()
        .filter_map(|d| {
            let (p, y): (Vec<f32>, Vec<u32>) = rows
                .iter()
                .filter(|r| r.domain == d)
                .filter_map(|r| r.label.map(|l| (r.prob_merger, l)))
                .unzip();
            (!p.is_empty()).then(|| (format!("{d} test"), p, y))
        })
        .collect()
}

fn prediction_pictures(dir: &Path, rows: &[TestPrediction]) -> Result<Vec<Picture>> {
    let sets = labelled_sets(rows);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let curves: Vec<(&str, &[f32], &[u32])> = sets
        .iter()
        .map(|(n, p, y)| (n.as_str(), p.as_slice(), y.as_slice()))
        .collect();
    plot::roc_curves(&dir.join("roc.png"), &curves)?;
    plot::reliability_diagram(&dir.join("reliability.png"), &curves, RELIABILITY_BINS)?;
    let mats: Vec<(&str, [[u64; 2]; 2])> = sets
        .iter()
        .map(|(n, p, y)| (n.as_str(), plot::confusion(p, y)))
        .collect();
    plot::confusion_matrices(&dir.join("confusion.png"), &mats, CLASS_NAMES)?;
    Ok(vec![
        Picture {
            file: "roc.png",
            alt: "ROC curves of the test sets",
            caption: "ROC curves of the kept model on each labelled test set, AUC in the legend. \
                      Look for the target curve lying on the source curve: a lower one is the \
                      ranking ability lost to the domain shift."
                .into(),
        },
        Picture {
            file: "reliability.png",
            alt: "reliability diagram of the test sets",
            caption: format!(
                "Observed merger fraction against mean predicted probability in {RELIABILITY_BINS} \
                 bins (dot area ∝ images in the bin), ECE in the legend. Look for points on the \
                 diagonal; below it the model overstates the merger probability, above it understates it."
            ),
        },
        Picture {
            file: "confusion.png",
            alt: "confusion matrices of the test sets",
            caption: "Counts at threshold 0.5, shaded by the share of each true class. Look for \
                      the merger row: a shifted domain often shows mergers predicted as \
                      non-mergers."
                .into(),
        },
    ])
}

/// (x, y, colour group, marker kind), as `ScatterPanel` holds them.
type ScatterPoint = (f64, f64, usize, usize);

/// Reads `latent_tsne.csv` (`stage,domain,label,x,y`) into one panel per stage.
fn tsne_panels(path: &Path) -> Result<Vec<ScatterPanel>> {
    let text = read_text(path)?;
    let (header, rows) = csv_rows(path, &text)?;
    let [s, d, l, x, y] = columns(path, &header, ["stage", "domain", "label", "x", "y"])?;
    let domains = ["source", "target"];
    let markers = ["non-merger", "merger", "unlabelled"];
    // (stage name, points) in order of first appearance.
    let mut stages: Vec<(String, Vec<ScatterPoint>)> = Vec::new();
    let mut extra_domains: Vec<String> = Vec::new();
    for (line, row) in &rows {
        let stage = field(path, *line, row, s)?;
        let domain = field(path, *line, row, d)?;
        let g = match domains.iter().position(|n| *n == domain) {
            Some(g) => g,
            None => {
                let k = extra_domains.iter().position(|n| n == domain);
                2 + k.unwrap_or_else(|| {
                    extra_domains.push(domain.to_string());
                    extra_domains.len() - 1
                })
            }
        };
        let k = match field(path, *line, row, l)? {
            "" => 2,
            lab => match parse::<u32>(path, *line, "label", lab)? {
                0 => 0,
                _ => 1,
            },
        };
        let pt = (
            parse(path, *line, "x", field(path, *line, row, x)?)?,
            parse(path, *line, "y", field(path, *line, row, y)?)?,
            g,
            k,
        );
        match stages.iter_mut().find(|(n, _)| n == stage) {
            Some((_, pts)) => pts.push(pt),
            None => stages.push((stage.to_string(), vec![pt])),
        }
    }
    // Before-training map on the left.
    stages.sort_by_key(|(n, _)| match n.as_str() {
        "initial" => 0,
        "final" => 1,
        _ => 2,
    });
    let group_names: Vec<String> = domains
        .iter()
        .map(|d| d.to_string())
        .chain(extra_domains)
        .collect();
    Ok(stages
        .into_iter()
        .map(|(stage, points)| ScatterPanel {
            title: match stage.as_str() {
                "initial" => "before training (initial)".into(),
                "final" => "after training (final)".into(),
                other => other.to_string(),
            },
            points,
            group_names: group_names.clone(),
            marker_names: markers.iter().map(|m| m.to_string()).collect(),
        })
        .collect())
}

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
        return Err(Error::Invalid(format!(
            "{} is not a finished tidal run directory: it lacks {} (written by `tidal train`)",
            run_dir.display(),
            missing.join(" and ")
        )));
    }
    let summary_path = run_dir.join("summary.json");
    let summary: Summary =
        serde_json::from_str(&read_text(&summary_path)?).map_err(|e| Error::Data {
            path: summary_path.display().to_string(),
            message: format!("not a tidal summary: {e}"),
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
    checkpoint::write_atomic(&report_path, md.as_bytes())?;
    let mut written: Vec<PathBuf> = pictures.iter().map(|p| run_dir.join(p.file)).collect();
    written.push(report_path);
    Ok(written)
}
