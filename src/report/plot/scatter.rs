//! Scatter panels (t-SNE maps, score against target accuracy).

use super::*;

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
