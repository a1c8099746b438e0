//! The pieces a scene is drawn with: spectral shapes, Sérsic bulges and discs, blobs,
//! galaxies with bars and clumps, tidal tails, bridges and shells.

use super::super::rng::DataRng;
use super::{PIXELS, SIZE};

// Spectral shapes (relative flux in bands 0, 1, 2; band 1 = 1).
pub(super) const SED_BULGE: [f32; 3] = [0.45, 1.0, 1.25];
pub(super) const SED_DISC: [f32; 3] = [0.8, 1.0, 0.85];
pub(super) const SED_CLUMP: [f32; 3] = [1.7, 1.0, 0.45];
pub(super) const SED_TAIL: [f32; 3] = [0.95, 1.0, 0.75];
pub(super) const SED_SHELL: [f32; 3] = [0.6, 1.0, 1.1];

/// A three-band image buffer (band-major, 3×75×75).
pub(super) type Bands = [Vec<f32>; 3];

pub(super) fn zero_bands() -> Bands {
    [vec![0.0; PIXELS], vec![0.0; PIXELS], vec![0.0; PIXELS]]
}

pub(super) fn jitter_sed(r: &mut DataRng, sed: [f32; 3]) -> [f32; 3] {
    let mut out = sed;
    for v in &mut out {
        *v *= (0.1 * r.normal()).exp() as f32;
    }
    out
}

/// Adds `flux × sed[b] × shape / Σ shape` to every band. Shapes with no light are skipped.
pub(super) fn add_component(img: &mut Bands, shape: &[f32], flux: f32, sed: [f32; 3]) {
    let total: f64 = shape.iter().map(|&v| v as f64).sum();
    if total <= 0.0 {
        return;
    }
    let k = flux as f64 / total;
    for (band, s) in img.iter_mut().zip(sed) {
        let f = (k * s as f64) as f32;
        for (o, &v) in band.iter_mut().zip(shape) {
            *o += f * v;
        }
    }
}

/// The Sérsic b_n (Ciotti & Bertin 1999 expansion).
pub(super) fn sersic_b(n: f32) -> f32 {
    2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)
}

/// An elliptical Sérsic profile `exp(−b_n ((r/r_e)^{1/n} − 1))` sampled on the grid (4×4
/// sub-samples within 3 px of the centre, where the profile is steep).
pub(super) fn sersic_shape(cx: f32, cy: f32, r_e: f32, n: f32, q: f32, angle: f32) -> Vec<f32> {
    let mut out = vec![0.0f32; PIXELS];
    let b = sersic_b(n);
    let inv_n = 1.0 / n;
    let (s, c) = angle.sin_cos();
    let inv_re = 1.0 / r_e;
    let inv_q = 1.0 / q;
    let eval = |x: f32, y: f32| {
        let dx = x - cx;
        let dy = y - cy;
        let u = dx * c + dy * s;
        let v = (-dx * s + dy * c) * inv_q;
        let r = (u * u + v * v).sqrt() * inv_re;
        (-b * (r.powf(inv_n) - 1.0)).exp()
    };
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (fx, fy) = (x as f32, y as f32);
            let d2 = (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy);
            out[y * SIZE + x] = if d2 < 9.0 {
                let mut acc = 0.0;
                for j in 0..4 {
                    for i in 0..4 {
                        acc += eval(fx - 0.375 + 0.25 * i as f32, fy - 0.375 + 0.25 * j as f32);
                    }
                }
                acc / 16.0
            } else {
                eval(fx, fy)
            };
        }
    }
    out
}

/// Splats a round Gaussian blob of width `sigma` and weight `w` (within ±4σ).
pub(super) fn splat(shape: &mut [f32], x: f32, y: f32, sigma: f32, w: f32) {
    let rad = (4.0 * sigma).ceil() as i64;
    let inv = 1.0 / (2.0 * sigma * sigma);
    let norm = w / (std::f32::consts::TAU * sigma * sigma);
    let (x0, y0) = (x.round() as i64, y.round() as i64);
    for py in (y0 - rad).max(0)..=(y0 + rad).min(SIZE as i64 - 1) {
        for px in (x0 - rad).max(0)..=(x0 + rad).min(SIZE as i64 - 1) {
            let dx = px as f32 - x;
            let dy = py as f32 - y;
            shape[py as usize * SIZE + px as usize] += norm * (-(dx * dx + dy * dy) * inv).exp();
        }
    }
}

/// One galaxy of the scene (bulge + disc, optional bar and clumps).
#[derive(Debug, Clone)]
pub(super) struct Galaxy {
    pub(super) x: f32,
    pub(super) y: f32,
    /// Total flux (band 1, before SED jitter).
    pub(super) flux: f32,
    /// Disc effective radius, px.
    pub(super) r_disc: f32,
    pub(super) q_disc: f32,
    pub(super) angle: f32,
    pub(super) bulge_fraction: f32,
    pub(super) r_bulge: f32,
    pub(super) n_bulge: f32,
    pub(super) q_bulge: f32,
    pub(super) n_disc: f32,
    /// Offset of the bulge from the disc centre (px): asymmetry of disturbed remnants.
    pub(super) bulge_offset: (f32, f32),
    pub(super) bar: bool,
    pub(super) clumps: usize,
    /// Redness of the whole galaxy (multiplies band 2 / divides band 0); > 1 for distant ones.
    pub(super) redness: f32,
}

impl Galaxy {
    /// A random galaxy at distance factor `d` (≥ 1: sizes ∝ 1/d, fluxes ∝ 1/d²).
    pub(super) fn random(r: &mut DataRng, x: f32, y: f32, d: f32) -> Galaxy {
        let m0 = r.range(19.0, 21.0) as f32;
        let flux = 10f32.powf(0.4 * (25.0 - m0)) / (d * d);
        let r_disc = r.range(3.5, 8.0) as f32 / d;
        Galaxy {
            x,
            y,
            flux,
            r_disc,
            q_disc: r.range(0.3, 1.0) as f32,
            angle: r.range(0.0, std::f64::consts::PI) as f32,
            bulge_fraction: r.range(0.1, 0.7) as f32,
            r_bulge: (r_disc * r.range(0.2, 0.45) as f32).max(0.6),
            n_bulge: r.range(2.5, 4.5) as f32,
            q_bulge: r.range(0.65, 1.0) as f32,
            n_disc: r.range(0.8, 1.3) as f32,
            bulge_offset: (0.0, 0.0),
            bar: false,
            clumps: 0,
            redness: 1.0,
        }
    }

    pub(super) fn render(&self, r: &mut DataRng, img: &mut Bands) {
        let red = |sed: [f32; 3], k: f32| [sed[0] / k, sed[1], sed[2] * k];
        let bulge_flux = self.flux * self.bulge_fraction;
        let mut disc_flux = self.flux - bulge_flux;
        if self.bar {
            let bar_flux = disc_flux * r.range(0.15, 0.3) as f32;
            disc_flux -= bar_flux;
            let shape = sersic_shape(
                self.x,
                self.y,
                (self.r_disc * r.range(0.5, 0.8) as f32).max(1.0),
                0.5,
                r.range(0.2, 0.35) as f32,
                self.angle + r.range(0.4, 1.4) as f32,
            );
            add_component(
                img,
                &shape,
                bar_flux,
                red(jitter_sed(r, SED_SHELL), self.redness),
            );
        }
        if self.clumps > 0 {
            let clump_flux = disc_flux * r.range(0.08, 0.25) as f32;
            disc_flux -= clump_flux;
            let mut shape = vec![0.0f32; PIXELS];
            let (s, c) = self.angle.sin_cos();
            for _ in 0..self.clumps {
                let rad = self.r_disc * r.range(0.3, 1.6) as f32;
                let phi = r.range(0.0, std::f64::consts::TAU) as f32;
                let (u, v) = (rad * phi.cos(), rad * phi.sin() * self.q_disc);
                let w = r.range(0.3, 1.0) as f32;
                splat(
                    &mut shape,
                    self.x + u * c - v * s,
                    self.y + u * s + v * c,
                    r.range(0.5, 1.1) as f32,
                    w,
                );
            }
            add_component(
                img,
                &shape,
                clump_flux,
                red(jitter_sed(r, SED_CLUMP), self.redness),
            );
        }
        let disc = sersic_shape(
            self.x,
            self.y,
            self.r_disc,
            self.n_disc,
            self.q_disc,
            self.angle,
        );
        add_component(
            img,
            &disc,
            disc_flux,
            red(jitter_sed(r, SED_DISC), self.redness),
        );
        let bulge = sersic_shape(
            self.x + self.bulge_offset.0,
            self.y + self.bulge_offset.1,
            self.r_bulge,
            self.n_bulge,
            self.q_bulge,
            self.angle + r.range(-0.3, 0.3) as f32,
        );
        add_component(
            img,
            &bulge,
            bulge_flux,
            red(jitter_sed(r, SED_BULGE), self.redness),
        );
    }
}

/// A tidal tail: a widening, fading arc of blobs leaving galaxy `g` along a spiral.
pub(super) fn add_tail(r: &mut DataRng, img: &mut Bands, g: &Galaxy, flux: f32) {
    let mut shape = vec![0.0f32; PIXELS];
    let phi0 = r.range(0.0, std::f64::consts::TAU) as f32;
    let turn = (r.range(0.5, 1.6) * if r.chance(0.5) { 1.0 } else { -1.0 }) as f32;
    let r0 = g.r_disc * 0.8;
    let length = r.range(10.0, 26.0) as f32;
    let (w0, w1) = (r.range(0.8, 1.4) as f32, r.range(1.8, 3.0) as f32);
    let steps = 48;
    for i in 0..steps {
        let t = i as f32 / (steps - 1) as f32;
        let phi = phi0 + turn * t;
        let rad = r0 + length * t;
        splat(
            &mut shape,
            g.x + rad * phi.cos(),
            g.y + rad * phi.sin(),
            w0 + (w1 - w0) * t,
            1.0 - 0.7 * t,
        );
    }
    add_component(img, &shape, flux, jitter_sed(r, SED_TAIL));
}

/// A bridge: a slightly curved band of blobs joining two galaxies.
pub(super) fn add_bridge(r: &mut DataRng, img: &mut Bands, a: &Galaxy, b: &Galaxy, flux: f32) {
    let mut shape = vec![0.0f32; PIXELS];
    let (mx, my) = ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let bend = r.range(-0.35, 0.35) as f32;
    let (cx, cy) = (mx - dy * bend, my + dx * bend);
    let sigma = r.range(1.2, 2.0) as f32;
    let steps = 32;
    for i in 0..steps {
        let t = i as f32 / (steps - 1) as f32;
        let (u, v) = ((1.0 - t) * (1.0 - t), 2.0 * t * (1.0 - t));
        let w = t * t;
        splat(
            &mut shape,
            u * a.x + v * cx + w * b.x,
            u * a.y + v * cy + w * b.y,
            sigma,
            1.0,
        );
    }
    add_component(img, &shape, flux, jitter_sed(r, SED_TAIL));
}

/// Shells: 2–4 thin concentric arcs around a remnant.
pub(super) fn add_shells(r: &mut DataRng, img: &mut Bands, g: &Galaxy, flux: f32) {
    let mut shape = vec![0.0f32; PIXELS];
    let axis = r.range(0.0, std::f64::consts::TAU) as f32;
    for k in 0..r.int(2, 4) {
        let rad = r.range(5.0, 9.0) as f32 + 4.5 * k as f32;
        let span = r.range(1.5, 3.0) as f32;
        // Shells alternate sides along the merger axis.
        let centre = axis
            + if k % 2 == 0 {
                0.0
            } else {
                std::f32::consts::PI
            };
        let steps = (rad * span * 2.0) as usize + 2;
        for i in 0..steps {
            let t = i as f32 / (steps - 1) as f32 - 0.5;
            let phi = centre + span * t;
            splat(
                &mut shape,
                g.x + rad * phi.cos(),
                g.y + rad * phi.sin(),
                0.8,
                1.0 - 1.2 * t * t,
            );
        }
    }
    add_component(img, &shape, flux, jitter_sed(r, SED_SHELL));
}
