//! Small PNG charts for run reports, sweeps and benchmarks: line charts, ROC curves,
//! reliability diagrams, confusion matrices, scatter panels and bar charts.
//!
//! One file per kind: `lines` (line charts, panels), `classification` (ROC, reliability,
//! confusion), `scatter`, `bars`. Everything is drawn by plotters into an in-memory RGB buffer, with text from an embedded
//! DejaVu Sans (no system font library needed), and written as PNG atomically.

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

mod bars;
mod classification;
mod lines;
mod scatter;

pub use bars::bar_chart;
pub use classification::{
    confusion, confusion_matrices, reliability_bins, reliability_diagram, roc_curves,
};
pub use lines::{line_chart, line_chart_panel, line_panels};
pub use scatter::{scatter_panels, scatter_panels_labelled};

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
pub(super) const PALETTE: [RGBColor; 10] = [
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

pub(super) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(super) const FONT: &str = "sans-serif";

pub(super) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// plotters looks fonts up by family name; ab_glyph has no system fonts, so the embedded
/// DejaVu Sans is registered under the name every chart uses.
pub(super) fn ensure_font() -> Result<()> {
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
pub(super) fn render(
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
pub(super) fn ticks(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
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
pub(super) fn tick(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The range covering `values` (finite ones) with 5 % margins; a unit range when empty.
pub(super) fn fit_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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

pub(super) fn check_series(path: &Path, series: &[Series]) -> Result<()> {
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
pub(super) fn segments(s: &Series) -> Vec<Vec<(f64, f64)>> {
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
