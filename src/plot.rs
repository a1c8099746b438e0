//! Small PNG charts for run reports, sweeps and benchmarks: line charts, ROC curves,
//! reliability diagrams, confusion matrices, scatter panels and bar charts.
//!
//! Everything is drawn by plotters into an in-memory RGB buffer, with text from an embedded
//! DejaVu Sans (no system font library needed), and written as PNG atomically.

use crate::error::{Error, Result};
use crate::train::metrics;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One named line of a line chart; NaN (or infinite) points are gaps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub name: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
}

impl Series {
    pub fn new(name: impl Into<String>, xs: Vec<f64>, ys: Vec<f64>) -> Self {
        Series {
            name: name.into(),
            xs,
            ys,
        }
    }
}

/// One chart of a multi-panel line figure (`line_panels`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed y range (e.g. 0–1 for accuracies); `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Legend in the lower-right corner instead of the upper-right (for curves that live
    /// high on the chart, like accuracies).
    pub legend_bottom: bool,
}

/// One scatter plot of `scatter_panels`. Each point is (x, y, colour group, marker kind);
/// groups and markers index `group_names` and `marker_names`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScatterPanel {
    pub title: String,
    pub points: Vec<(f64, f64, usize, usize)>,
    pub group_names: Vec<String>,
    pub marker_names: Vec<String>,
}

/// Size of `roc_curves` and `reliability_diagram` pictures (square data area plus legend).
pub const SQUARE_SIZE: (u32, u32) = (700, 620);

/// Size of a `confusion_matrices` picture with `n` matrices.
pub fn confusion_size(n: usize) -> (u32, u32) {
    (40 + 400 * n.max(1) as u32, 420)
}

/// Size of a `bar_chart` picture with `n` bars: 900 wide, wider when bars need room.
pub fn bar_chart_size(n: usize) -> (u32, u32) {
    ((140 + 26 * n as u32).clamp(900, 3000), 560)
}

/// Tableau's ten colours: distinguishable, and readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// plotters looks fonts up by family name; ab_glyph has no system fonts, so the embedded
/// DejaVu Sans is registered under the name every chart uses.
fn ensure_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "the embedded DejaVu Sans font could not be loaded".into(),
        ))
    }
}

/// Draws on a white `size` canvas and writes it to `path` as PNG.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<()> {
    ensure_font()?;
    let (w, h) = size;
    if w < 100 || h < 100 || w > 10_000 || h > 10_000 {
        return Err(Error::Invalid(format!(
            "{}: picture size {w}×{h} is outside 100…10000 pixels",
            path.display()
        )));
    }
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(Into::into));
        drawn.map_err(|e| Error::Plot {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    }
    crate::data::preview::write_png(path, w as usize, h as usize, &rgb)
}

/// Tick labels for an axis spanning `lo..hi`: short, without trailing zeros; scientific on
/// the whole axis when its magnitude is small or large, so labels look alike.
fn ticks(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let m = lo.abs().max(hi.abs());
    let scientific = m > 0.0 && !(1e-2..1e5).contains(&m);
    move |&v| {
        if v.abs() < m * 1e-9 || v == 0.0 {
            "0".into()
        } else if scientific {
            format!("{v:.1e}")
        } else {
            tick(v)
        }
    }
}

/// A decimal without trailing zeros.
fn tick(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The range covering `values` (finite ones) with 5 % margins; a unit range when empty.
fn fit_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1e-300) || hi == lo {
        let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn check_series(path: &Path, series: &[Series]) -> Result<()> {
    for s in series {
        if s.xs.len() != s.ys.len() {
            return Err(Error::Invalid(format!(
                "{}: series '{}' has {} x values and {} y values",
                path.display(),
                s.name,
                s.xs.len(),
                s.ys.len()
            )));
        }
    }
    Ok(())
}

/// Splits a series into runs of finite points, so NaNs leave gaps.
fn segments(s: &Series) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for (&x, &y) in s.xs.iter().zip(&s.ys) {
        if x.is_finite() && y.is_finite() {
            out.last_mut().unwrap().push((x, y));
        } else if !out.last().unwrap().is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|seg| !seg.is_empty());
    out
}

/// Draws one line chart; a legend when at least `legend_from` series have names.
fn draw_line_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    panel: &LinePanel,
    title_size: u32,
    legend_from: usize,
) -> DrawResult {
    let (x0, x1) = fit_range(panel.series.iter().flat_map(|s| s.xs.iter().copied()));
    let (y0, y1) = panel.y_range.unwrap_or_else(|| {
        fit_range(
            panel
                .series
                .iter()
                .flat_map(|s| s.xs.iter().zip(&s.ys))
                .filter(|(x, _)| x.is_finite())
                .map(|(_, &y)| y),
        )
    });
    // Epoch axes: integer x values get integer ticks only.
    let integer_x = panel
        .series
        .iter()
        .flat_map(|s| s.xs.iter())
        .all(|x| !x.is_finite() || x.fract() == 0.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, title_size))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_ticks = ticks(x0, x1);
    let x_fmt = |v: &f64| {
        if integer_x && v.fract().abs() > 1e-9 {
            String::new()
        } else {
            x_ticks(v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&ticks(y0, y1))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let total_points: usize = panel.series.iter().map(|s| s.xs.len()).sum();
    let labelled = panel.series.iter().filter(|s| !s.name.is_empty()).count();
    for (i, s) in panel.series.iter().enumerate() {
        let segs = segments(s);
        if segs.is_empty() {
            continue;
        }
        let c = colour(i);
        let style = c.stroke_width(2);
        let anno =
            chart.draw_series(segs.iter().map(|seg| PathElement::new(seg.clone(), style)))?;
        if !s.name.is_empty() {
            anno.label(s.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(2))
            });
        }
        // Few points (a short run): dots show where the measurements are.
        if total_points <= 60 {
            chart.draw_series(
                segs.iter()
                    .flatten()
                    .map(|&p| Circle::new(p, 3, c.filled())),
            )?;
        }
    }
    if labelled > 0 && labelled >= legend_from {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, 14))
            .position(if panel.legend_bottom {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .draw()?;
    }
    Ok(())
}

/// A line chart of several named series with a legend; NaN points are left out (gaps).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    size: (u32, u32),
) -> Result<()> {
    line_chart_panel(
        path,
        &LinePanel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: series.to_vec(),
            ..LinePanel::default()
        },
        size,
    )
}

/// `line_chart` with the panel's options (a fixed y range).
pub fn line_chart_panel(path: &Path, panel: &LinePanel, size: (u32, u32)) -> Result<()> {
    check_series(path, &panel.series)?;
    render(path, size, |root| draw_line_panel(root, panel, 22, 1))
}

/// Several line charts in a grid of `cols` columns under one title, for quantities whose
/// scales differ too much to share an axis (a learning rate and λ, loss terms).
pub fn line_panels(
    path: &Path,
    title: &str,
    panels: &[LinePanel],
    cols: usize,
    size: (u32, u32),
) -> Result<()> {
    for p in panels {
        check_series(path, &p.series)?;
    }
    if panels.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no panels to draw",
            path.display()
        )));
    }
    let cols = cols.clamp(1, panels.len());
    let rows = panels.len().div_ceil(cols);
    render(path, size, |root| {
        let body = root.titled(title, (FONT, 22))?;
        for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
            // A panel's title names its single series: legends only for several.
            draw_line_panel(area, panel, 17, 2)?;
        }
        Ok(())
    })
}

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

/// Scatter panels side by side under one title; colour = group, marker shape = kind
/// (circle, triangle, square, cross). Axes carry no labels (suits t-SNE maps); see
/// `scatter_panels_labelled`.
pub fn scatter_panels(
    path: &Path,
    title: &str,
    panels: &[ScatterPanel],
    size: (u32, u32),
) -> Result<()> {
    scatter_panels_labelled(path, title, panels, ("", ""), size)
}

/// `scatter_panels` with axis labels (x, y) on every panel.
pub fn scatter_panels_labelled(
    path: &Path,
    title: &str,
    panels: &[ScatterPanel],
    axis_labels: (&str, &str),
    size: (u32, u32),
) -> Result<()> {
    if panels.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no scatter panels to draw",
            path.display()
        )));
    }
    render(path, size, |root| {
        let body = root.titled(title, (FONT, 22))?;
        for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(panels) {
            draw_scatter(area, panel, axis_labels)?;
        }
        Ok(())
    })
}

fn draw_scatter(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    panel: &ScatterPanel,
    (x_label, y_label): (&str, &str),
) -> DrawResult {
    let finite: Vec<_> = panel
        .points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (x0, x1) = fit_range(finite.iter().map(|p| p.0));
    let (y0, y1) = fit_range(finite.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 17))
        .margin(10)
        .x_label_area_size(if x_label.is_empty() { 28 } else { 48 })
        .y_label_area_size(if y_label.is_empty() { 48 } else { 70 })
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&ticks(x0, x1))
        .y_label_formatter(&ticks(y0, y1))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()?;
    // One series per (group, marker) pair present, so the legend names each combination.
    let mut pairs: Vec<(usize, usize)> = finite.iter().map(|p| (p.2, p.3)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let name = |names: &[String], i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let distinct_markers = pairs
        .iter()
        .map(|p| p.1)
        .collect::<std::collections::BTreeSet<_>>();
    for &(g, k) in &pairs {
        let c = colour(g);
        let label = if distinct_markers.len() > 1 || !panel.marker_names.is_empty() {
            format!(
                "{} · {}",
                name(&panel.group_names, g),
                name(&panel.marker_names, k)
            )
        } else {
            name(&panel.group_names, g)
        };
        let pts = finite
            .iter()
            .filter(|p| p.2 == g && p.3 == k)
            .map(|p| (p.0, p.1));
        // Marker kinds: circle, triangle, square, cross, then round again. Each arm has its
        // own element type (plotters' dynamic elements need a 'static backend).
        let (fill, solid) = (c.mix(0.6).filled(), c.filled());
        match k % 4 {
            0 => {
                chart
                    .draw_series(pts.map(|p| Circle::new(p, 4, fill)))?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, solid));
            }
            1 => {
                chart
                    .draw_series(pts.map(|p| TriangleMarker::new(p, 5, fill)))?
                    .label(label)
                    .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 5, solid));
            }
            2 => {
                chart
                    .draw_series(
                        pts.map(|p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], fill)),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Rectangle::new([(x + 4, y - 4), (x + 12, y + 4)], solid));
            }
            _ => {
                chart
                    .draw_series(pts.map(|p| Cross::new(p, 4, c.mix(0.7).stroke_width(2))))?
                    .label(label)
                    .legend(move |(x, y)| Cross::new((x + 8, y), 4, c.stroke_width(2)));
            }
        }
    }
    if !pairs.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

/// A bar chart of named values (size `bar_chart_size(bars.len())`), optionally with a
/// dashed horizontal reference line (e.g. 1.0 for ratios). Labels are turned vertical
/// when they do not fit under their bar.
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
    reference: Option<f64>,
) -> Result<()> {
    if bars.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no bars to draw",
            path.display()
        )));
    }
    let size = bar_chart_size(bars.len());
    render(path, size, |root| {
        let n = bars.len();
        let (lo, hi) = fit_range(
            bars.iter()
                .map(|b| b.1)
                .chain(reference)
                .chain(std::iter::once(0.0)),
        );
        // Bars grow from zero: no margin below zero unless there are negative values.
        let lo = if bars.iter().all(|b| b.1.is_nan() || b.1 >= 0.0)
            && reference.is_none_or(|r| r >= 0.0)
        {
            0.0
        } else {
            lo
        };
        let label_font = (FONT, 13).into_font();
        let widest = bars
            .iter()
            .map(|b| label_font.box_size(&b.0).map(|s| s.0).unwrap_or(0))
            .max()
            .unwrap_or(0) as i32;
        let plot_w = size.0 as i32 - 110;
        let slot = plot_w / n as i32;
        let vertical = widest + 4 > slot;
        let label_area = if vertical {
            (widest + 12).clamp(30, 240)
        } else {
            30
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(14)
            .x_label_area_size(label_area)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..n as f64, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_label)
            .y_label_formatter(&ticks(lo, hi))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
            let v = if b.1.is_finite() { b.1 } else { 0.0 };
            Rectangle::new(
                [(i as f64 + 0.15, 0.0f64.max(lo)), (i as f64 + 0.85, v)],
                colour(0).filled(),
            )
        }))?;
        if let Some(r) = reference {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, r), (n as f64, r)],
                10,
                6,
                colour(3).stroke_width(2),
            ))?;
        }
        // Labels under the bars, drawn on the whole canvas in pixel coordinates.
        let base = chart.backend_coord(&(0.0, lo));
        for (i, b) in bars.iter().enumerate() {
            let (cx, _) = chart.backend_coord(&(i as f64 + 0.5, lo));
            if vertical {
                // Rotated 90° clockwise the text runs downwards, extending left of `x`.
                root.draw(&Text::new(
                    b.0.clone(),
                    (cx + 7, base.1 + 6),
                    label_font.clone().transform(FontTransform::Rotate90),
                ))?;
            } else {
                root.draw(&Text::new(
                    b.0.clone(),
                    (cx, base.1 + 6),
                    TextStyle::from(label_font.clone()).pos(Pos::new(HPos::Center, VPos::Top)),
                ))?;
            }
            // Values above the bars while they have room to be read.
            let value = if b.1.is_finite() {
                if n <= 40 {
                    tick(b.1)
                } else {
                    String::new()
                }
            } else {
                "n/a".into()
            };
            if !value.is_empty() {
                let top = if b.1.is_finite() {
                    b.1.max(0.0)
                } else {
                    0.0f64.max(lo)
                };
                let (_, y) = chart.backend_coord(&(0.0, top));
                root.draw(&Text::new(
                    value,
                    (cx, y - 3),
                    TextStyle::from((FONT, 11).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                ))?;
            }
        }
        Ok(())
    })
}
