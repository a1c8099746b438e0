//! The pictures of a run report, drawn from its files.

use super::files::{
    any_finite, columns, csv_rows, field, parse, read_text, EpochRow, TestPrediction, TERMS,
};
use super::plot::{self, LinePanel, ScatterPanel, Series};
use super::{CLASS_NAMES, RELIABILITY_BINS};
use crate::error::Result;
use std::path::Path;

/// A picture written by the report, with its Markdown alt text and caption.
pub(super) struct Picture {
    pub(super) file: &'static str,
    pub(super) alt: &'static str,
    pub(super) caption: String,
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

pub(super) fn curve_pictures(
    dir: &Path,
    rows: &[EpochRow],
    best_epoch: usize,
) -> Result<Vec<Picture>> {
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
fn labelled_sets(rows: &[TestPrediction], calibrated: bool) -> Vec<(String, Vec<f32>, Vec<u32>)> {
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
                .filter_map(|r| {
                    let p = if calibrated {
                        r.prob_calibrated?
                    } else {
                        r.prob_merger
                    };
                    r.label.map(|l| (p, l))
                })
                .unzip();
            (!p.is_empty()).then(|| (format!("{d} test"), p, y))
        })
        .collect()
}

pub(super) fn prediction_pictures(dir: &Path, rows: &[TestPrediction]) -> Result<Vec<Picture>> {
    let sets = labelled_sets(rows, false);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let cal_sets = labelled_sets(rows, true);
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
    let mut calibrated = Vec::new();
    if !cal_sets.is_empty() {
        let curves: Vec<(&str, &[f32], &[u32])> = cal_sets
            .iter()
            .map(|(n, p, y)| (n.as_str(), p.as_slice(), y.as_slice()))
            .collect();
        plot::reliability_diagram(
            &dir.join("reliability_calibrated.png"),
            &curves,
            RELIABILITY_BINS,
        )?;
        calibrated.push(Picture {
            file: "reliability_calibrated.png",
            alt: "reliability diagram after temperature scaling",
            caption: "The same after temperature scaling with the T fitted on source validation \
                      (`summary.json`, `calibration`). Look for the source points moving onto the \
                      diagonal; a T fitted on source need not calibrate the target domain."
                .into(),
        });
    }
    let mut pictures = vec![
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
    ];
    pictures.splice(2..2, calibrated);
    Ok(pictures)
}

/// (x, y, colour group, marker kind), as `ScatterPanel` holds them.
type ScatterPoint = (f64, f64, usize, usize);

/// Reads `latent_tsne.csv` (`stage,domain,label,x,y`) into one panel per stage.
pub(super) fn tsne_panels(path: &Path) -> Result<Vec<ScatterPanel>> {
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
