//! Observation: band responses, per-band PSF convolution, then sky and Poisson shot noise
//! drawn from the stream keyed by (seed, index, 1).

use super::super::rng::DataRng;
use super::presets::{Preset, Psf};
use super::{BANDS, IMAGE_LEN, PIXELS, SIZE};

/// A normalised 1-D Gaussian kernel of width σ (radius ⌈4σ⌉).
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let rad = (4.0 * sigma).ceil().max(1.0) as i64;
    let mut k: Vec<f32> = (-rad..=rad)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// A normalised 2-D Moffat kernel (radius ⌈2.5 FWHM⌉, truncated and renormalised).
fn moffat_kernel(fwhm: f32, beta: f32) -> (usize, Vec<f32>) {
    let alpha = fwhm / (2.0 * (2f32.powf(1.0 / beta) - 1.0).sqrt());
    let rad = (2.5 * fwhm).ceil() as i64;
    let side = (2 * rad + 1) as usize;
    let mut k = Vec::with_capacity(side * side);
    for y in -rad..=rad {
        for x in -rad..=rad {
            let r2 = (x * x + y * y) as f32;
            k.push((1.0 + r2 / (alpha * alpha)).powf(-beta));
        }
    }
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    (rad as usize, k)
}

/// Convolves one 75×75 band with `psf` (zero padding: light spread past the edge is lost,
/// as in a real cut-out).
pub fn convolve(band: &[f32], psf: &Psf) -> Vec<f32> {
    let n = SIZE as i64;
    match *psf {
        Psf::Gaussian { fwhm_px } => {
            let k = gaussian_kernel(fwhm_px / 2.354_82);
            let rad = (k.len() / 2) as i64;
            let mut tmp = vec![0.0f32; PIXELS];
            for y in 0..n {
                for x in 0..n {
                    let mut acc = 0.0;
                    for (j, &w) in k.iter().enumerate() {
                        let xx = x + j as i64 - rad;
                        if (0..n).contains(&xx) {
                            acc += w * band[(y * n + xx) as usize];
                        }
                    }
                    tmp[(y * n + x) as usize] = acc;
                }
            }
            let mut out = vec![0.0f32; PIXELS];
            for y in 0..n {
                for x in 0..n {
                    let mut acc = 0.0;
                    for (j, &w) in k.iter().enumerate() {
                        let yy = y + j as i64 - rad;
                        if (0..n).contains(&yy) {
                            acc += w * tmp[(yy * n + x) as usize];
                        }
                    }
                    out[(y * n + x) as usize] = acc;
                }
            }
            out
        }
        Psf::Moffat { fwhm_px, beta } => {
            // Direct 2-D gather: each output pixel sums the kernel over its neighbours.
            let (rad, k) = moffat_kernel(fwhm_px, beta);
            let rad = rad as i64;
            let side = 2 * rad + 1;
            let mut out = vec![0.0f32; PIXELS];
            for y in 0..n {
                for x in 0..n {
                    let mut acc = 0.0;
                    for ky in 0..side {
                        let yy = y + ky - rad;
                        if !(0..n).contains(&yy) {
                            continue;
                        }
                        let row = &k[(ky * side) as usize..((ky + 1) * side) as usize];
                        let x0 = (x - rad).max(0);
                        let x1 = (x + rad).min(n - 1);
                        let src = &band[(yy * n + x0) as usize..=(yy * n + x1) as usize];
                        let ker = &row[(x0 - (x - rad)) as usize..=(x1 - (x - rad)) as usize];
                        for (a, b) in src.iter().zip(ker.iter().rev()) {
                            acc += a * b;
                        }
                    }
                    out[(y * n + x) as usize] = acc;
                }
            }
            out
        }
    }
}

/// Observes an intrinsic scene (3×75×75) through `preset`: band responses, PSF, then (with
/// noise) sky + Poisson shot noise with the sky subtracted again. Noise draws come from the
/// stream keyed by (seed, index, 1).
pub fn observe(scene: &[f32], preset: &Preset, seed: u64, index: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(IMAGE_LEN);
    let mut r = DataRng::keyed(seed, index as u64, 1);
    for b in 0..BANDS {
        let mut mixed = vec![0.0f32; PIXELS];
        for (k, &w) in preset.band_response[b].iter().enumerate() {
            if w != 0.0 {
                for (m, &s) in mixed.iter_mut().zip(&scene[k * PIXELS..(k + 1) * PIXELS]) {
                    *m += w * s;
                }
            }
        }
        let mut band = convolve(&mixed, &preset.psf[b]);
        if preset.noise.is_some() {
            let sky = preset.sky_pixel(b) as f64;
            let gain = preset.gain(b) as f64;
            for v in &mut band {
                let lambda = (sky + (*v as f64).max(0.0)) * gain;
                let counts = r.poisson(lambda);
                *v = (counts / gain - sky) as f32;
            }
        }
        out.extend_from_slice(&band);
    }
    out
}
