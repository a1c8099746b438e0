//! Line charts: one chart, or panels under one title.

use super::*;

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
