//! Classifier pictures: ROC curves, reliability diagrams, confusion matrices.

use super::*;
use crate::report::metrics;

/// Probabilities and labels of one named set; lengths must agree.
fn check_set(path: &Path, name: &str, p: &[f32], y: &[u32]) -> Result<()> {
    if p.len() != y.len() {
        return Err(Error::Invalid(format!(
            "{}: set '{name}' has {} probabilities and {} labels",
            path.display(),
            p.len(),
            y.len()
        )));
    }
    Ok(())
}

fn unit_square_chart<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    diagonal: &str,
) -> std::result::Result<
    ChartContext<
        'a,
        BitMapBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    Box<dyn std::error::Error>,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(62)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            8,
            6,
            RGBColor(120, 120, 120).stroke_width(1),
        ))?
        .label(diagonal)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], RGBColor(120, 120, 120)));
    Ok(chart)
}

fn fmt_metric(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".into()
    }
}

/// ROC curves (true- vs false-positive rate over every threshold) of named sets of
/// merger probabilities and labels, with each set's AUC in the legend and the chance diagonal.
pub fn roc_curves(path: &Path, curves: &[(&str, &[f32], &[u32])]) -> Result<()> {
    for (name, p, y) in curves {
        check_set(path, name, p, y)?;
    }
    render(path, SQUARE_SIZE, |root| {
        let mut chart = unit_square_chart(
            root,
            "ROC curves (test sets)",
            "false-positive rate",
            "true-positive rate",
            "chance",
        )?;
        for (i, (name, p, y)) in curves.iter().enumerate() {
            let c = colour(i);
            let auc = metrics::roc_auc(p, y);
            chart
                .draw_series(LineSeries::new(metrics::roc_curve(p, y), c.stroke_width(2)))?
                .label(format!("{name} (AUC {}, n {})", fmt_metric(auc), p.len()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, 14))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    })
}

/// Per equal-width bin of predicted merger probability: (mean probability, observed merger
/// fraction, count), for bins that hold any prediction.
pub fn reliability_bins(p: &[f32], y: &[u32], bins: usize) -> Vec<(f64, f64, usize)> {
    let bins = bins.max(1);
    let mut sum_p = vec![0.0f64; bins];
    let mut pos = vec![0usize; bins];
    let mut count = vec![0usize; bins];
    for (&pi, &yi) in p.iter().zip(y) {
        if !pi.is_finite() {
            continue;
        }
        let b = ((pi.clamp(0.0, 1.0) as f64 * bins as f64) as usize).min(bins - 1);
        sum_p[b] += pi as f64;
        pos[b] += (yi == 1) as usize;
        count[b] += 1;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let n = count[b] as f64;
            (sum_p[b] / n, pos[b] as f64 / n, count[b])
        })
        .collect()
}

/// Reliability diagram: observed merger frequency against mean predicted probability per
/// equal-width bin, the diagonal of perfect calibration, and each set's ECE (the metric of
/// `metrics::ece` with the same number of bins) in the legend. Dot area follows bin counts.
pub fn reliability_diagram(
    path: &Path,
    curves: &[(&str, &[f32], &[u32])],
    bins: usize,
) -> Result<()> {
    for (name, p, y) in curves {
        check_set(path, name, p, y)?;
    }
    if bins == 0 {
        return Err(Error::Invalid(format!(
            "{}: a reliability diagram needs at least one bin",
            path.display()
        )));
    }
    render(path, SQUARE_SIZE, |root| {
        let mut chart = unit_square_chart(
            root,
            &format!("Reliability ({bins} bins, test sets)"),
            "mean predicted merger probability",
            "observed merger fraction",
            "perfect calibration",
        )?;
        for (i, (name, p, y)) in curves.iter().enumerate() {
            let c = colour(i);
            let pts = reliability_bins(p, y, bins);
            let ece = if p.is_empty() {
                f64::NAN
            } else {
                metrics::ece(p, y, bins)
            };
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|&(x, f, _)| (x, f)),
                    c.stroke_width(2),
                ))?
                .label(format!("{name} (ECE {}, n {})", fmt_metric(ece), p.len()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2))
                });
            let n = p.len().max(1) as f64;
            chart.draw_series(pts.iter().map(|&(x, f, k)| {
                let r = (3.0 + 12.0 * (k as f64 / n).sqrt()).round() as i32;
                Circle::new((x, f), r, c.mix(0.55).filled())
            }))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    })
}

/// Confusion counts at threshold 0.5: `m[true class][predicted class]`.
pub fn confusion(p: &[f32], y: &[u32]) -> [[u64; 2]; 2] {
    let mut m = [[0u64; 2]; 2];
    for (&pi, &yi) in p.iter().zip(y) {
        m[(yi == 1) as usize][(pi >= 0.5) as usize] += 1;
    }
    m
}

/// Side-by-side 2×2 confusion matrices (`m[true][predicted]`), each cell shaded by its
/// share of its true class and labelled with the count and that share.
pub fn confusion_matrices(
    path: &Path,
    mats: &[(&str, [[u64; 2]; 2])],
    class_names: [&str; 2],
) -> Result<()> {
    if mats.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no confusion matrices to draw",
            path.display()
        )));
    }
    render(path, confusion_size(mats.len()), |root| {
        let body = root.titled("Confusion matrices (threshold 0.5)", (FONT, 22))?;
        for (area, (name, m)) in body.split_evenly((1, mats.len())).iter().zip(mats) {
            draw_confusion(area, name, m, class_names)?;
        }
        Ok(())
    })
}

fn draw_confusion(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    name: &str,
    m: &[[u64; 2]; 2],
    class_names: [&str; 2],
) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let n: u64 = m.iter().flatten().sum();
    let centre = |size: u32| {
        TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
    };
    area.draw(&Text::new(
        format!("{name} (n {n})"),
        (w / 2, 22),
        centre(18),
    ))?;
    // Grid geometry: room on the left for the true-class labels, below for predicted.
    let cell = ((w - 150).min(h - 150) / 2).max(20);
    let gx = 110 + ((w - 130) - 2 * cell).max(0) / 2;
    let gy = 52;
    for (t, row) in m.iter().enumerate() {
        let row_total: u64 = row.iter().sum();
        for (pr, &count) in row.iter().enumerate() {
            let share = if row_total == 0 {
                0.0
            } else {
                count as f64 / row_total as f64
            };
            // White → deep blue by the share of the true class.
            let shade = |lo: f64, hi: f64| (lo + (hi - lo) * share).round() as u8;
            let fill = RGBColor(shade(247.0, 8.0), shade(251.0, 48.0), shade(255.0, 107.0));
            let (x0, y0) = (gx + pr as i32 * cell, gy + t as i32 * cell);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                fill.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                RGBColor(90, 90, 90).stroke_width(1),
            ))?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            area.draw(&Text::new(
                count.to_string(),
                (x0 + cell / 2, y0 + cell / 2 - 12),
                centre(24).color(&ink),
            ))?;
            area.draw(&Text::new(
                format!("{:.1} %", share * 100.0),
                (x0 + cell / 2, y0 + cell / 2 + 16),
                centre(15).color(&ink),
            ))?;
        }
    }
    for (k, cname) in class_names.iter().enumerate() {
        // Predicted classes under the columns, true classes left of the rows.
        area.draw(&Text::new(
            cname.to_string(),
            (gx + k as i32 * cell + cell / 2, gy + 2 * cell + 14),
            centre(14),
        ))?;
        area.draw(&Text::new(
            cname.to_string(),
            (gx - 8, gy + k as i32 * cell + cell / 2),
            TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    area.draw(&Text::new(
        "predicted",
        (gx + cell, gy + 2 * cell + 38),
        centre(16),
    ))?;
    area.draw(&Text::new(
        "true",
        (gx - 8, gy - 14),
        TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Right, VPos::Center)),
    ))?;
    Ok(())
}
