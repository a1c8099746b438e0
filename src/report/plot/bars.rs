//! Bar charts of named values (benchmark ratios).

use super::*;

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
