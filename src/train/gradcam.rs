//! Class-activation maps on the last convolution block: where the network looks when it
//! calls an image a merger. The gradient comes from the engine's own autodiff: the block's
//! activations A are made a leaf and the class score is back-propagated to them. The score
//! is the class logit minus the mean of the others (softmax depends only on differences).
//! - Grad-CAM (Selvaraju et al., 2017): ReLU(Σ_c α_c A_c), α_c the spatial mean of ∂s/∂A_c.
//! - HiResCAM (Draelos & Carin, 2020): ReLU(Σ_c ∂s/∂A_c ⊙ A_c), element-wise. Equal to
//!   Grad-CAM up to scale for a global-average-pooled head (ResNet18), and faithful where the
//!   head flattens the maps (DeepMerge), for which averaging the gradient's sign away often
//!   leaves Grad-CAM's map empty. The default.
//!
//! Either map is upsampled bilinearly to the image.

use super::eval::{load_model, NormChoice};
use crate::autograd::no_grad;
use crate::data::synth::SIZE;
use crate::data::{self, preview};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::models::Classifier;
use crate::ops::softmax::softmax;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Which map `grad_cam` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamMethod {
    GradCam,
    HiResCam,
}

impl std::str::FromStr for CamMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<CamMethod> {
        match s {
            "gradcam" => Ok(CamMethod::GradCam),
            "hirescam" => Ok(CamMethod::HiResCam),
            _ => Err(Error::config(
                "method",
                format!("unknown CAM method '{s}' (expected hirescam or gradcam)"),
            )),
        }
    }
}

/// Heat maps of `class` for each image of `x` ([N, C, H, W], normalised as in training),
/// at the input's H×W, each scaled to [0, 1] (all zero where nothing speaks for the class),
/// and the class probabilities.
pub fn grad_cam(
    model: &dyn Classifier,
    x: &Tensor,
    class: usize,
    method: CamMethod,
) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
    let (n, h, w) = (x.shape()[0], x.shape()[2], x.shape()[3]);
    model.module().set_training(false);
    let a = no_grad(|| model.last_conv(x))?.detach().requires_grad_();
    let logits = model.logits_from_last_conv(&a)?;
    let classes = logits.shape()[1];
    if class >= classes {
        return Err(Error::Invalid(format!(
            "class {class} out of range: the model has {classes} classes"
        )));
    }
    // Σ over the batch of each image's score: in eval mode images do not interact, so each
    // image's activations receive exactly its own gradient.
    let other = -1.0 / (classes as f32 - 1.0).max(1.0);
    let mut mask = vec![other; n * classes];
    for i in 0..n {
        mask[i * classes + class] = 1.0;
    }
    let mask = Tensor::from_slice(x.ctx(), &mask, &[n, classes])?;
    logits.mul(&mask)?.sum()?.backward()?;
    let grad = a
        .grad()
        .ok_or_else(|| Error::Invalid("no gradient reached the last convolution".into()))?;
    let (c, ah, aw) = (a.shape()[1], a.shape()[2], a.shape()[3]);
    let cam = no_grad(|| -> Result<Tensor> {
        let g = grad.reshape(&[n, c, ah * aw])?;
        let weights = match method {
            CamMethod::GradCam => g.mean_axis(2, true)?,
            CamMethod::HiResCam => g,
        };
        a.detach()
            .reshape(&[n, c, ah * aw])?
            .mul(&weights)?
            .sum_axis(1, false)?
            .relu()
    })?;
    let probs = no_grad(|| softmax(&logits.detach()))?;
    let v = Tensor::read_all(&[&cam, &probs])?;
    let maps = v[0]
        .chunks(ah * aw)
        .map(|m| {
            let up = bilinear(m, ah, aw, h, w);
            let top = up.iter().cloned().fold(0.0f32, f32::max);
            up.iter()
                .map(|&v| if top > 0.0 { v / top } else { 0.0 })
                .collect()
        })
        .collect();
    let p = v[1].chunks(classes).map(|r| r[class]).collect();
    for t in model.module().parameters() {
        t.zero_grad();
    }
    Ok((maps, p))
}

/// Bilinear resampling of an ih×iw map to oh×ow, pixel centres aligned.
pub fn bilinear(m: &[f32], ih: usize, iw: usize, oh: usize, ow: usize) -> Vec<f32> {
    let coord = |o: usize, osz: usize, isz: usize| {
        let f = ((o as f32 + 0.5) * isz as f32 / osz as f32 - 0.5).clamp(0.0, (isz - 1) as f32);
        let i0 = f.floor() as usize;
        (i0, (i0 + 1).min(isz - 1), f - i0 as f32)
    };
    let mut out = Vec::with_capacity(oh * ow);
    for oy in 0..oh {
        let (y0, y1, fy) = coord(oy, oh, ih);
        for ox in 0..ow {
            let (x0, x1, fx) = coord(ox, ow, iw);
            let top = m[y0 * iw + x0] * (1.0 - fx) + m[y0 * iw + x1] * fx;
            let bot = m[y1 * iw + x0] * (1.0 - fx) + m[y1 * iw + x1] * fx;
            out.push(top * (1.0 - fy) + bot * fy);
        }
    }
    out
}

/// A perceptual dark-blue → red → yellow ramp for heat values in [0, 1].
fn heat_colour(v: f32) -> [f32; 3] {
    let v = v.clamp(0.0, 1.0);
    [
        (1.6 * v).min(1.0),
        (2.0 * v - 0.8).clamp(0.0, 1.0),
        (0.5 - 1.5 * v).max(0.0) + (3.0 * v - 2.2).clamp(0.0, 0.8),
    ]
}

/// The heat map over the composite: opacity grows with heat, so cold regions show the galaxy.
fn overlay(rgb: &[u8], heat: &[f32]) -> Vec<u8> {
    let mut out = rgb.to_vec();
    for (p, &v) in heat.iter().enumerate() {
        let c = heat_colour(v);
        let alpha = 0.65 * v;
        for k in 0..3 {
            let base = rgb[p * 3 + k] as f32 / 255.0;
            out[p * 3 + k] = ((base * (1.0 - alpha) + c[k] * alpha) * 255.0).round() as u8;
        }
    }
    out
}

/// Copies `tiles` (each side×side RGB) into one row, scaled `scale`× with `gap` pixels between.
fn row_of_tiles(
    tiles: &[Vec<u8>],
    side: usize,
    scale: usize,
    gap: usize,
) -> (usize, usize, Vec<u8>) {
    let s = side * scale;
    let width = tiles.len() * s + (tiles.len().saturating_sub(1)) * gap;
    let mut out = vec![255u8; width * s * 3];
    for (t, tile) in tiles.iter().enumerate() {
        let x0 = t * (s + gap);
        for y in 0..s {
            for x in 0..s {
                let src = ((y / scale) * side + x / scale) * 3;
                let dst = (y * width + x0 + x) * 3;
                out[dst..dst + 3].copy_from_slice(&tile[src..src + 3]);
            }
        }
    }
    (width, s, out)
}

/// What `tidal gradcam` draws.
pub struct Request<'a> {
    /// A checkpoint written by train.
    pub checkpoint: &'a Path,
    pub data: &'a Path,
    /// The same scenes in the other domain, drawn beside `data`.
    pub pair: Option<&'a Path>,
    pub indices: &'a [usize],
    /// The normalisation of `data`; with the checkpoint's source (target) statistics, `pair`
    /// gets the target (source) ones, otherwise the same choice.
    pub norm: &'a NormChoice,
    pub method: CamMethod,
    /// Output folder.
    pub out: &'a Path,
}

/// One picture per image of `indices`: its composite and class-activation overlay for the
/// merger class, then the same for `pair` (normalised with the checkpoint's other
/// statistics) when given. Returns each picture and the merger probability per file.
pub fn write_gradcam(ctx: &Rc<Context>, req: &Request) -> Result<Vec<(PathBuf, Vec<f32>)>> {
    let Request {
        checkpoint,
        data: data_path,
        pair,
        indices,
        norm,
        method,
        out,
    } = *req;
    let other = match norm {
        NormChoice::Source => NormChoice::Target,
        NormChoice::Target => NormChoice::Source,
        same => same.clone(),
    };
    let mut sets = vec![(data_path, norm.clone())];
    if let Some(p) = pair {
        sets.push((p, other));
    }
    let mut tiles: Vec<Vec<Vec<u8>>> = vec![Vec::new(); indices.len()];
    let mut probs: Vec<Vec<f32>> = vec![Vec::new(); indices.len()];
    let loaded = load_model(ctx, checkpoint)?;
    let model = &loaded.model;
    for (path, norm) in sets {
        let raw = data::load(path, None)?;
        let stats = loaded.normalisation(&norm, &raw)?;
        if (raw.c, raw.h, raw.w) != (3, SIZE, SIZE) {
            return Err(Error::Invalid(format!(
                "{}: Grad-CAM pictures need 3×75×75 images, got {}×{}×{}",
                path.display(),
                raw.c,
                raw.h,
                raw.w
            )));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= raw.n) {
            return Err(Error::Invalid(format!(
                "{}: index {bad} out of range ({} images)",
                path.display(),
                raw.n
            )));
        }
        let mut buf = Vec::new();
        raw.gather_images(indices, Some(&stats), &mut buf);
        let x = Tensor::from_slice(ctx, &buf, &[indices.len(), raw.c, raw.h, raw.w])?;
        let (maps, p) = grad_cam(model.as_ref(), &x, 1, method)?;
        let mut img = Vec::new();
        for (k, &i) in indices.iter().enumerate() {
            raw.gather_images(&[i], None, &mut img);
            let (soft, top) = preview::stretch_of(&img);
            let rgb = preview::asinh_rgb(&img, soft, top);
            let heat = overlay(&rgb, &maps[k]);
            tiles[k].push(rgb);
            tiles[k].push(heat);
            probs[k].push(p[k]);
        }
    }
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (k, &i) in indices.iter().enumerate() {
        let (w, h, rgb) = row_of_tiles(&tiles[k], SIZE, 4, 8);
        let path = out.join(format!("gradcam_{i:05}.png"));
        preview::write_png(&path, w, h, &rgb)?;
        written.push((path, probs[k].clone()));
    }
    Ok(written)
}
