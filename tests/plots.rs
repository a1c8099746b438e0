//! Charts and the run report without a GPU: every plot function writes a PNG of the stated
//! size with something drawn on it, and `write_report` turns a hand-made run directory into
//! pictures and a report.md that embeds exactly the pictures it drew.

use std::path::{Path, PathBuf};
use tidal::models::ModelKind;
use tidal::report::metrics::{self, Metrics};
use tidal::report::plot::{self, LinePanel, ScatterPanel, Series};
use tidal::report::Summary;
use tidal::report::{self, TestPrediction};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tidal-plots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Decodes a PNG; returns its size and the variance of its grey levels.
fn decode(path: &Path) -> ((u32, u32), f64) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let grey: Vec<f64> = buf[..info.buffer_size()]
        .chunks(3)
        .map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0)
        .collect();
    let mean = grey.iter().sum::<f64>() / grey.len() as f64;
    let var = grey.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / grey.len() as f64;
    ((info.width, info.height), var)
}

/// A blank white picture has variance 0; axes, text and lines give hundreds.
fn assert_png(path: &Path, size: (u32, u32)) {
    let (got, var) = decode(path);
    assert_eq!(got, size, "{}", path.display());
    assert!(
        var > 50.0,
        "{} looks blank (variance {var})",
        path.display()
    );
}

/// Probabilities that rank class 1 above class 0 imperfectly, from a fixed formula.
fn toy_set(n: usize, shift: f32) -> (Vec<f32>, Vec<u32>) {
    let y: Vec<u32> = (0..n).map(|i| (i % 3 == 0) as u32).collect();
    let p = y
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let wobble = ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.8;
            (0.3 + 0.4 * l as f32 + wobble - shift).clamp(0.0, 1.0)
        })
        .collect();
    (p, y)
}

#[test]
fn line_chart_draws_several_series_with_gaps() {
    let d = scratch("line");
    let path = d.join("lines.png");
    let xs: Vec<f64> = (1..=20).map(f64::from).collect();
    let series = [
        Series::new("falling", xs.clone(), xs.iter().map(|x| 1.0 / x).collect()),
        Series::new(
            "with a gap",
            xs.clone(),
            xs.iter()
                .map(|&x| if x == 7.0 { f64::NAN } else { 0.02 * x })
                .collect(),
        ),
    ];
    plot::line_chart(&path, "Two series", "epoch", "value", &series, (900, 500)).unwrap();
    assert_png(&path, (900, 500));

    let bad = [Series::new("short", vec![1.0, 2.0], vec![1.0])];
    let e = plot::line_chart(&path, "t", "x", "y", &bad, (900, 500)).unwrap_err();
    assert!(
        e.to_string()
            .contains("'short' has 2 x values and 1 y values"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn line_panels_and_a_single_point_series_draw() {
    let d = scratch("panels");
    let path = d.join("panels.png");
    let panels: Vec<LinePanel> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(k, t)| LinePanel {
            title: t.to_string(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            // One epoch: a single point, which must still be visible.
            series: vec![Series::new(*t, vec![1.0], vec![k as f64])],
            ..LinePanel::default()
        })
        .collect();
    plot::line_panels(&path, "Four panels", &panels, 2, (1000, 700)).unwrap();
    assert_png(&path, (1000, 700));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn roc_and_reliability_draw_each_set() {
    let d = scratch("roc");
    let (ps, ys) = toy_set(300, 0.0);
    let (pt, yt) = toy_set(200, 0.15);
    let sets: [(&str, &[f32], &[u32]); 2] = [("source", &ps, &ys), ("target", &pt, &yt)];
    plot::roc_curves(&d.join("roc.png"), &sets).unwrap();
    assert_png(&d.join("roc.png"), plot::SQUARE_SIZE);
    plot::reliability_diagram(&d.join("rel.png"), &sets, 10).unwrap();
    assert_png(&d.join("rel.png"), plot::SQUARE_SIZE);

    let e = plot::roc_curves(&d.join("x.png"), &[("bad", &ps[..3], &ys[..2])]).unwrap_err();
    assert!(
        e.to_string().contains("3 probabilities and 2 labels"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn reliability_bins_hold_mean_probability_and_observed_fraction() {
    // Bin [0, 0.5): 0.1, 0.3 with one merger; bin [0.5, 1]: 0.8, 0.9, 1.0 all mergers.
    let bins = plot::reliability_bins(&[0.1, 0.3, 0.8, 0.9, 1.0], &[0, 1, 1, 1, 1], 2);
    assert_eq!(bins.len(), 2);
    assert!((bins[0].0 - 0.2).abs() < 1e-6 && bins[0].1 == 0.5 && bins[0].2 == 2);
    assert!((bins[1].0 - 0.9).abs() < 1e-6 && bins[1].1 == 1.0 && bins[1].2 == 3);
}

#[test]
fn confusion_counts_and_matrices_draw() {
    let d = scratch("confusion");
    // m[true][predicted] at threshold 0.5.
    let m = plot::confusion(&[0.9, 0.2, 0.6, 0.4, 0.5], &[1, 0, 0, 1, 1]);
    assert_eq!(m, [[1, 1], [1, 2]]);
    let path = d.join("c.png");
    plot::confusion_matrices(
        &path,
        &[("source", [[50, 10], [5, 35]]), ("target", m)],
        ["non-merger", "merger"],
    )
    .unwrap();
    assert_png(&path, plot::confusion_size(2));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn scatter_panels_draw_groups_and_markers() {
    let d = scratch("scatter");
    let panel = |shift: f64| ScatterPanel {
        title: format!("shift {shift}"),
        points: (0..200)
            .map(|i| {
                let a = i as f64 * 0.31;
                let g = i % 2;
                (
                    a.cos() * (1.0 + g as f64) + shift * g as f64,
                    a.sin(),
                    g,
                    i % 3 % 2,
                )
            })
            .collect(),
        group_names: vec!["source".into(), "target".into()],
        marker_names: vec!["non-merger".into(), "merger".into()],
    };
    let path = d.join("s.png");
    plot::scatter_panels(&path, "Maps", &[panel(2.0), panel(0.0)], (1100, 560)).unwrap();
    assert_png(&path, (1100, 560));
    let path = d.join("l.png");
    plot::scatter_panels_labelled(
        &path,
        "Score vs accuracy",
        &[panel(0.5)],
        ("score", "target accuracy"),
        (700, 500),
    )
    .unwrap();
    assert_png(&path, (700, 500));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bar_chart_draws_few_and_many_bars_with_a_reference() {
    let d = scratch("bars");
    let few: Vec<(String, f64)> = vec![("matmul".into(), 1.3), ("conv".into(), 0.8)];
    plot::bar_chart(&d.join("few.png"), "Ratios", "ratio", &few, Some(1.0)).unwrap();
    assert_png(&d.join("few.png"), plot::bar_chart_size(2));
    let many: Vec<(String, f64)> = (0..60)
        .map(|i| (format!("kernel_{i}_long_name"), 0.5 + (i % 7) as f64 * 0.2))
        .collect();
    plot::bar_chart(&d.join("many.png"), "Many", "ratio", &many, Some(1.0)).unwrap();
    assert_png(&d.join("many.png"), plot::bar_chart_size(60));
    assert!(plot::bar_chart_size(60).0 > 900);
    let _ = std::fs::remove_dir_all(&d);
}

fn summary(target: Option<Metrics>) -> Summary {
    let (ps, ys) = toy_set(90, 0.0);
    Summary {
        method: "dann".into(),
        model: ModelKind::DeepMerge,
        epochs_run: 3,
        best_epoch: 1,
        steps: 30,
        seconds: 12.5,
        train_images_per_s: 40.0,
        source_test: metrics::compute(&ps, &ys),
        target_test: target,
        stopped_early: false,
        selection: None,
        calibration: None,
        adapter: None,
        kernel_variant: None,
        gpu_peak_bytes: None,
        peak_rss_bytes: None,
    }
}

/// metrics.jsonl lines as the trainer writes them (written by hand, so the report's reader
/// is checked against the documented format, `shift` included).
fn epoch_line(epoch: usize, with_shift: bool, target: bool) -> String {
    let m = |acc: f64| {
        serde_json::json!({"n": 30, "accuracy": acc, "precision": 0.7, "recall": 0.6,
            "f1": 0.65, "auc": null, "brier": 0.2, "ece": 0.05})
    };
    let mut v = serde_json::json!({
        "epoch": epoch, "step": 10 * (epoch + 1), "lr": 1e-3 / (epoch + 1) as f64,
        "lambda": 0.3 * epoch as f64,
        "losses": {"ce": 0.7 - 0.1 * epoch as f64, "transfer": 0.69, "fisher": 0.0,
                   "entropy": 0.0, "total": 1.2 - 0.1 * epoch as f64},
        "source_val_loss": 0.6, "source_val": m(0.6 + 0.05 * epoch as f64),
        "target_val": if target { m(0.5 + 0.04 * epoch as f64) } else { serde_json::Value::Null },
        "discriminator_accuracy": [0.9 - 0.1 * epoch as f64, 0.8 - 0.1 * epoch as f64],
        "seconds": 4.0
    });
    if with_shift {
        v["shift"] = serde_json::json!({"heldout_mmd": 0.3 / (epoch + 1) as f64,
            "proxy_a_distance": 1.8 - 0.4 * epoch as f64});
    }
    v.to_string()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const ALL_PICTURES: [&str; 8] = [
    "curves_losses.png",
    "curves_schedule.png",
    "curves_accuracy.png",
    "shift.png",
    "roc.png",
    "reliability.png",
    "confusion.png",
    "latent_tsne.png",
];

#[test]
fn write_report_draws_every_picture_of_a_full_run_directory() {
    let d = scratch("report-full");
    let (pt, yt) = toy_set(60, 0.1);
    let s = summary(Some(metrics::compute(&pt, &yt)));
    write(
        &d,
        "summary.json",
        &serde_json::to_string_pretty(&s).unwrap(),
    );
    let lines: Vec<String> = (0..3).map(|e| epoch_line(e, true, true)).collect();
    write(&d, "metrics.jsonl", &(lines.join("\n") + "\n"));
    let (ps, ys) = toy_set(90, 0.0);
    let mut rows: Vec<TestPrediction> = Vec::new();
    for (domain, p, y) in [("source", &ps, &ys), ("target", &pt, &yt)] {
        rows.extend(
            p.iter()
                .zip(y)
                .enumerate()
                .map(|(i, (&p, &y))| TestPrediction {
                    domain: domain.into(),
                    index: 3 * i,
                    label: Some(y),
                    prob_merger: p,
                    prob_calibrated: None,
                }),
        );
    }
    report::write_test_predictions(&d.join("test_predictions.csv"), &rows).unwrap();
    let back = report::read_test_predictions(&d.join("test_predictions.csv")).unwrap();
    assert_eq!(back.len(), rows.len());
    for (a, b) in back.iter().zip(&rows) {
        assert_eq!((&a.domain, a.index, a.label), (&b.domain, b.index, b.label));
        // Six decimals are stored.
        assert!(
            (a.prob_merger - b.prob_merger).abs() <= 1e-6,
            "{a:?} vs {b:?}"
        );
    }
    let mut tsne = String::from("stage,domain,label,x,y\n");
    for stage in ["final", "initial"] {
        for i in 0..80 {
            let (domain, label) = match i % 4 {
                0 => ("source", "0"),
                1 => ("source", "1"),
                2 => ("target", "1"),
                _ => ("target", ""),
            };
            let a = i as f64 * 0.4;
            tsne.push_str(&format!(
                "{stage},{domain},{label},{:.3},{:.3}\n",
                a.cos() * (i % 4) as f64,
                a.sin() * 3.0
            ));
        }
    }
    write(&d, "latent_tsne.csv", &tsne);

    let written = report::write_report(&d).unwrap();
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    for f in ALL_PICTURES {
        assert!(written.contains(&d.join(f)), "{f} not reported as written");
        assert!(
            md.contains(&format!("]({f})")),
            "report.md does not embed {f}"
        );
    }
    assert_eq!(written.last(), Some(&d.join("report.md")));
    for f in &ALL_PICTURES[..7] {
        let (size, var) = decode(&d.join(f));
        assert!(size.0 >= 700 && size.1 >= 400, "{f} is {size:?}");
        assert!(var > 50.0, "{f} looks blank");
    }
    assert_png(&d.join("latent_tsne.png"), (40 + 2 * 540, 580));
    assert_png(&d.join("curves_accuracy.png"), (900, 500));
    assert!(md.starts_with("# tidal run: dann on DeepMerge"), "{md}");
    assert!(md.contains("kept model: epoch 2"), "{md}");
    assert!(md.contains("| source | 90 |"), "{md}");
    assert!(md.contains("Source → target accuracy drop"), "{md}");
    assert!(md.contains("target cloud lies on the source cloud"), "{md}");
    assert!(!md.contains("Warning"), "{md}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn write_report_skips_pictures_the_files_do_not_allow() {
    let d = scratch("report-partial");
    // No target labels, no shift field, no t-SNE file: target rows keep empty labels.
    write(
        &d,
        "summary.json",
        &serde_json::to_string_pretty(&summary(None)).unwrap(),
    );
    let lines: Vec<String> = (0..2).map(|e| epoch_line(e, false, false)).collect();
    write(&d, "metrics.jsonl", &lines.join("\n"));
    let (ps, ys) = toy_set(90, 0.0);
    let mut csv = String::from("domain,index,label,prob_merger\n");
    for (i, (p, y)) in ps.iter().zip(&ys).enumerate() {
        csv.push_str(&format!("source,{i},{y},{p}\n"));
        csv.push_str(&format!("target,{i},,{p}\n"));
    }
    write(&d, "test_predictions.csv", &csv);
    let written = report::write_report(&d).unwrap();
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    for f in ["shift.png", "latent_tsne.png"] {
        assert!(
            !d.join(f).exists() && !md.contains(f),
            "{f} should be absent"
        );
    }
    assert_eq!(written.len(), 7);
    // ROC, reliability and confusion of the labelled source set only.
    assert_png(&d.join("confusion.png"), plot::confusion_size(1));
    assert!(md.contains("| target | – | no labels |"), "{md}");
    assert!(!md.contains("accuracy drop"), "{md}");

    // Predictions from another run (other counts) are flagged, not silently plotted.
    let other: String = csv.lines().take(41).map(|l| format!("{l}\n")).collect();
    write(&d, "test_predictions.csv", &other);
    report::write_report(&d).unwrap();
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    assert!(
        md.contains("**Warning:** the test predictions do not match"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn write_report_on_a_directory_without_run_files_is_a_clear_error() {
    let d = scratch("report-empty");
    let e = report::write_report(&d).unwrap_err().to_string();
    assert!(e.contains("lacks metrics.jsonl and summary.json"), "{e}");
    write(&d, "summary.json", "{}");
    write(&d, "metrics.jsonl", "");
    let e = report::write_report(&d).unwrap_err().to_string();
    assert!(e.contains("summary.json: not a tidal summary"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn cli_report_prints_the_written_paths_and_fails_in_one_line_without_run_files() {
    let d = scratch("report-cli");
    write(
        &d,
        "summary.json",
        &serde_json::to_string(&summary(None)).unwrap(),
    );
    write(&d, "metrics.jsonl", &epoch_line(0, false, false));
    let exe = env!("CARGO_BIN_EXE_tidal");
    let out = std::process::Command::new(exe)
        .args(["report", d.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("curves_losses.png") && stdout.contains("report.md"),
        "{stdout}"
    );
    let empty = scratch("report-cli-empty");
    let out = std::process::Command::new(exe)
        .args(["report", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("lacks metrics.jsonl"), "{stderr}");
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&empty);
}
