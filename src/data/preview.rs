//! `tidal data preview`: a PNG grid of generated examples per domain and class, as asinh-
//! stretched colour composites (R = channel 2, G = channel 1, B = channel 0).

use super::synth::{self, Domain, PIXELS, SIZE};
use crate::error::{Error, Result};
use std::path::Path;

/// Layout of the grid.
pub const SCALE: usize = 2;
pub const GAP: usize = 4;
pub const MARK: usize = 8;

/// Asinh stretch of one image into RGB bytes (75×75×3), `soft` the linear-to-log knee and
/// `top` the value mapped to full brightness.
pub fn asinh_rgb(img: &[f32], soft: f32, top: f32) -> Vec<u8> {
    let norm = (top / soft).asinh();
    let mut out = vec![0u8; PIXELS * 3];
    for p in 0..PIXELS {
        for (o, ch) in [2usize, 1, 0].iter().enumerate() {
            let v = img[ch * PIXELS + p];
            let s = ((v / soft).asinh() / norm).clamp(0.0, 1.0);
            out[p * 3 + o] = (s * 255.0).round() as u8;
        }
    }
    out
}

/// The stretch (soft, top) for an image: top = its 99.7th-percentile pixel, soft = top/100.
pub fn stretch_of(img: &[f32]) -> (f32, f32) {
    let mut v: Vec<f32> = img.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let top = v
        .get(((v.len() as f64 * 0.997) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(1.0)
        .max(1e-6);
    (top / 100.0, top)
}

/// Writes a grid: one row per (domain, class) — for each domain a merger row then a
/// non-merger row — and `per_row` columns. The same scenes appear in every domain, each
/// stretched like its pristine version, so the rows compare directly. A strip on the left
/// marks the class: orange = merger, blue = non-merger. Returns (width, height).
/// Most examples per row of a preview grid.
pub const MAX_PER_ROW: usize = 64;

pub fn write_grid(
    out: &Path,
    domains: &[Domain],
    per_row: usize,
    seed: u64,
) -> Result<(usize, usize)> {
    if !(1..=MAX_PER_ROW).contains(&per_row) || domains.is_empty() {
        return Err(crate::Error::config(
            format!("--per-row = {per_row}"),
            format!("expected 1 to {MAX_PER_ROW} examples per row and at least one domain"),
        ));
    }
    let tile = SIZE * SCALE;
    // The first `per_row` indices of each class.
    let mut by_class: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    let mut i = 0;
    while by_class[0].len() < per_row || by_class[1].len() < per_row {
        let l = synth::label_of(seed, i) as usize;
        if by_class[l].len() < per_row {
            by_class[l].push(i);
        }
        i += 1;
    }
    let rows = domains.len() * 2;
    let width = MARK + GAP + per_row * (tile + GAP);
    let height = rows * (tile + GAP) + GAP;
    let mut rgb = vec![24u8; width * height * 3];
    let pristine = Domain::Pristine.preset();
    for (d, domain) in domains.iter().enumerate() {
        let preset = domain.preset();
        for (c, class) in [1usize, 0].iter().enumerate() {
            let row = d * 2 + c;
            let y0 = GAP + row * (tile + GAP);
            let colour: [u8; 3] = if *class == 1 {
                [235, 140, 30]
            } else {
                [60, 120, 220]
            };
            for y in y0..y0 + tile {
                for x in 0..MARK {
                    rgb[(y * width + x) * 3..(y * width + x) * 3 + 3].copy_from_slice(&colour);
                }
            }
            for (k, &idx) in by_class[*class].iter().enumerate() {
                let (_, scene) = synth::render_scene(seed, idx);
                let reference = synth::observe(&scene, &pristine, seed, idx);
                let (soft, top) = stretch_of(&reference);
                let img = synth::observe(&scene, &preset, seed, idx);
                let tile_rgb = asinh_rgb(&img, soft, top);
                let x0 = MARK + GAP + k * (tile + GAP);
                for y in 0..tile {
                    for x in 0..tile {
                        let s = ((y / SCALE) * SIZE + x / SCALE) * 3;
                        let o = ((y0 + y) * width + x0 + x) * 3;
                        rgb[o..o + 3].copy_from_slice(&tile_rgb[s..s + 3]);
                    }
                }
            }
        }
    }
    write_png(out, width, height, &rgb)?;
    Ok((width, height))
}

/// Writes 8-bit RGB pixels as a PNG, atomically.
pub fn write_png(path: &Path, width: usize, height: usize, rgb: &[u8]) -> Result<()> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| Error::Data {
            path: path.display().to_string(),
            reason: format!("PNG encoding failed: {e}"),
        })?;
        w.write_image_data(rgb).map_err(|e| Error::Data {
            path: path.display().to_string(),
            reason: format!("PNG encoding failed: {e}"),
        })?;
    }
    crate::atomic::write(path, &bytes)
}
