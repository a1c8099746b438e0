//! The synthetic merging-galaxy benchmark: seeded 3-band 75×75 images of mergers and
//! non-mergers, observed through three domain presets (`pristine`, `noisy`, `sdss`).
//!
//! An image is made in two steps:
//! 1. **Scene** (`render_scene`): the intrinsic light in three bands, drawn from the stream
//!    keyed by (seed, index, 0). It depends on the seed and index only, so the same index
//!    shows the same galaxies in every domain.
//! 2. **Observation** (`observe`): band responses, per-band PSF convolution, then sky and
//!    Poisson shot noise, drawn from the stream keyed by (seed, index, 1).
//!
//! Units: pixel values are fluxes in units where magnitude `m = zero_point − 2.5 log10(F)`
//! (zero point 25 in every preset); surface brightness μ (mag/arcsec²) of a pixel with
//! flux F is `zero_point − 2.5 log10(F / pixel_scale²)`.
//!
//! Channels are ordered by wavelength like the published DeepMerge files:
//! 0 = F814W-like (bluest), 1 = F160W-like, 2 = F356W-like (reddest).

use super::rng::DataRng;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Image side in pixels.
pub const SIZE: usize = 75;
/// Bands per image.
pub const BANDS: usize = 3;
/// Pixels per band.
pub const PIXELS: usize = SIZE * SIZE;
/// Values per image (3×75×75).
pub const IMAGE_LEN: usize = BANDS * PIXELS;
/// Version of the generator's recipe; bumped whenever the same seed would give other bytes.
pub const GENERATOR_VERSION: u32 = 1;

/// The three observation domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// PSF convolution only (like the published "pristine" images).
    Pristine,
    /// PSF + sky background + Poisson shot noise to a 25 mag/arcsec² limit (like "noisy").
    Noisy,
    /// A coarser Moffat PSF, a brighter sky and different band responses (ground-based).
    Sdss,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::Pristine, Domain::Noisy, Domain::Sdss];

    pub fn name(self) -> &'static str {
        match self {
            Domain::Pristine => "pristine",
            Domain::Noisy => "noisy",
            Domain::Sdss => "sdss",
        }
    }

    /// The preset's parameters (documented in `data/README.md`).
    pub fn preset(self) -> Preset {
        // Wide-field HST/JWST-like optics shared by pristine and noisy: 0.08"/px,
        // Gaussian PSFs of FWHM 0.10", 0.15", 0.13" for F814W, F160W, F356W.
        let space_psf = [
            Psf::Gaussian { fwhm_px: 1.25 },
            Psf::Gaussian { fwhm_px: 1.9 },
            Psf::Gaussian { fwhm_px: 1.6 },
        ];
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        match self {
            Domain::Pristine => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: space_psf,
                band_response: identity,
                noise: None,
            },
            Domain::Noisy => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: space_psf,
                band_response: identity,
                noise: Some(Noise {
                    sb_limit: [25.0; 3],
                    sky_sb: [20.0; 3],
                }),
            },
            Domain::Sdss => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: [
                    Psf::Moffat {
                        fwhm_px: 3.4,
                        beta: 2.5,
                    },
                    Psf::Moffat {
                        fwhm_px: 3.1,
                        beta: 2.5,
                    },
                    Psf::Moffat {
                        fwhm_px: 2.9,
                        beta: 2.5,
                    },
                ],
                // g, r, i-like responses: broad, overlapping, mixing the intrinsic bands.
                band_response: [[0.75, 0.25, 0.0], [0.2, 0.65, 0.15], [0.0, 0.35, 0.65]],
                noise: Some(Noise {
                    sb_limit: [24.2, 24.5, 24.0],
                    sky_sb: [19.0, 18.5, 18.0],
                }),
            },
        }
    }
}

impl std::str::FromStr for Domain {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Domain> {
        match s.to_ascii_lowercase().as_str() {
            "pristine" => Ok(Domain::Pristine),
            "noisy" => Ok(Domain::Noisy),
            "sdss" => Ok(Domain::Sdss),
            _ => Err(crate::Error::Invalid(format!(
                "unknown domain '{s}' (expected pristine, noisy or sdss)"
            ))),
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A point-spread function; FWHM in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Psf {
    /// Gaussian, σ = FWHM / 2.3548, applied as two separable 1-D passes.
    Gaussian { fwhm_px: f32 },
    /// Moffat `(1 + r²/α²)^−β`, α = FWHM / (2 √(2^{1/β} − 1)), applied as a 2-D kernel.
    Moffat { fwhm_px: f32, beta: f32 },
}

/// Sky and shot noise of a preset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Noise {
    /// Surface-brightness limit per band, mag/arcsec²: the 1σ sky fluctuation in a
    /// 1 arcsec² aperture. Per pixel, σ = 10^(−0.4 (μ_lim − zp)) × pixel_scale.
    pub sb_limit: [f32; 3],
    /// Sky surface brightness per band, mag/arcsec². It sets the sky level S per pixel
    /// (subtracted after the noise is drawn) and with σ the gain g = S / σ², so that
    /// Poisson noise of the sky alone has exactly the σ above and sources add their own
    /// shot noise.
    pub sky_sb: [f32; 3],
}

/// A domain's observation parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preset {
    pub domain: Domain,
    /// Arcseconds per pixel.
    pub pixel_scale_arcsec: f32,
    /// Magnitude of a flux of 1.
    pub zero_point: f32,
    /// PSF per output band.
    pub psf: [Psf; 3],
    /// `observed[b] = Σ_k band_response[b][k] × intrinsic[k]`.
    pub band_response: [[f32; 3]; 3],
    /// `None`: no noise (pristine).
    pub noise: Option<Noise>,
}

impl Preset {
    /// The same preset with the surface-brightness limit of every band set to `mu`
    /// (mag/arcsec²). The sky's surface brightness moves by the same amount, so the sky
    /// counts per pixel (S²/σ²) and hence the shape of the Poisson noise stay as in the
    /// preset. An error for a preset without noise (`pristine`) or a non-finite `mu`.
    pub fn with_sb_limit(mut self, mu: f32) -> crate::Result<Preset> {
        let name = self.domain.name();
        match &mut self.noise {
            None => Err(crate::Error::Invalid(format!(
                "the {name} preset has no noise: a surface-brightness limit applies to noisy or sdss"
            ))),
            Some(_) if !mu.is_finite() => Err(crate::Error::Invalid(format!(
                "surface-brightness limit {mu}: expected a finite value in mag/arcsec²"
            ))),
            Some(n) => {
                for b in 0..3 {
                    n.sky_sb[b] += mu - n.sb_limit[b];
                    n.sb_limit[b] = mu;
                }
                Ok(self)
            }
        }
    }

    /// The 1σ sky noise per pixel in band `b` (0 without noise).
    pub fn sigma_pixel(&self, b: usize) -> f32 {
        match &self.noise {
            None => 0.0,
            Some(n) => {
                10f32.powf(-0.4 * (n.sb_limit[b] - self.zero_point)) * self.pixel_scale_arcsec
            }
        }
    }

    /// The sky level per pixel in band `b`, in flux units (0 without noise).
    pub fn sky_pixel(&self, b: usize) -> f32 {
        match &self.noise {
            None => 0.0,
            Some(n) => {
                10f32.powf(-0.4 * (n.sky_sb[b] - self.zero_point))
                    * self.pixel_scale_arcsec
                    * self.pixel_scale_arcsec
            }
        }
    }

    /// Electrons per flux unit in band `b` (sky level / σ²); infinite without noise.
    pub fn gain(&self, b: usize) -> f32 {
        let s = self.sigma_pixel(b);
        if s == 0.0 {
            f32::INFINITY
        } else {
            self.sky_pixel(b) / (s * s)
        }
    }
}

/// What kind of scene an image holds (recorded for inspection and tests; the label is
/// `kind.is_merger()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneKind {
    /// Two galaxies of flux ratio 1:1–1:4, 0–20 px apart, with tidal tails and often a bridge.
    MajorMerger,
    /// A companion of flux ratio 1:4–1:10, 5–20 px away, with only a faint tail.
    MinorMerger,
    /// One disturbed remnant whose only evidence is faint shells or a faint tail.
    PostMerger,
    /// One undisturbed galaxy.
    Isolated,
    /// One galaxy with blue star-forming clumps.
    Clumpy,
    /// One barred galaxy.
    Barred,
    /// An unrelated galaxy projected nearby (different distance, no tails).
    Projection,
}

impl SceneKind {
    pub fn is_merger(self) -> bool {
        matches!(
            self,
            SceneKind::MajorMerger | SceneKind::MinorMerger | SceneKind::PostMerger
        )
    }
}

/// Shares of the scene kinds within each class.
pub const MERGER_MIX: [(SceneKind, f64); 3] = [
    (SceneKind::MajorMerger, 0.45),
    (SceneKind::MinorMerger, 0.30),
    (SceneKind::PostMerger, 0.25),
];
pub const NON_MERGER_MIX: [(SceneKind, f64); 4] = [
    (SceneKind::Isolated, 0.35),
    (SceneKind::Clumpy, 0.20),
    (SceneKind::Barred, 0.20),
    (SceneKind::Projection, 0.25),
];

// Spectral shapes (relative flux in bands 0, 1, 2; band 1 = 1).
const SED_BULGE: [f32; 3] = [0.45, 1.0, 1.25];
const SED_DISC: [f32; 3] = [0.8, 1.0, 0.85];
const SED_CLUMP: [f32; 3] = [1.7, 1.0, 0.45];
const SED_TAIL: [f32; 3] = [0.95, 1.0, 0.75];
const SED_SHELL: [f32; 3] = [0.6, 1.0, 1.1];

/// The label of image `index` under `seed`: pairs of consecutive indices hold one merger
/// and one non-merger in a random order, so classes are balanced to within one image and
/// labels carry no parity pattern.
pub fn label_of(seed: u64, index: usize) -> u8 {
    let mut r = DataRng::keyed(seed, (index / 2) as u64, 2);
    let first_is_merger = r.next_u64() & 1 == 1;
    (index.is_multiple_of(2) == first_is_merger) as u8
}

/// A three-band image buffer (band-major, 3×75×75).
type Bands = [Vec<f32>; 3];

fn zero_bands() -> Bands {
    [vec![0.0; PIXELS], vec![0.0; PIXELS], vec![0.0; PIXELS]]
}

fn jitter_sed(r: &mut DataRng, sed: [f32; 3]) -> [f32; 3] {
    let mut out = sed;
    for v in &mut out {
        *v *= (0.1 * r.normal()).exp() as f32;
    }
    out
}

/// Adds `flux × sed[b] × shape / Σ shape` to every band. Shapes with no light are skipped.
fn add_component(img: &mut Bands, shape: &[f32], flux: f32, sed: [f32; 3]) {
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
fn sersic_b(n: f32) -> f32 {
    2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)
}

/// An elliptical Sérsic profile `exp(−b_n ((r/r_e)^{1/n} − 1))` sampled on the grid (4×4
/// sub-samples within 3 px of the centre, where the profile is steep).
fn sersic_shape(cx: f32, cy: f32, r_e: f32, n: f32, q: f32, angle: f32) -> Vec<f32> {
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
fn splat(shape: &mut [f32], x: f32, y: f32, sigma: f32, w: f32) {
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
struct Galaxy {
    x: f32,
    y: f32,
    /// Total flux (band 1, before SED jitter).
    flux: f32,
    /// Disc effective radius, px.
    r_disc: f32,
    q_disc: f32,
    angle: f32,
    bulge_fraction: f32,
    r_bulge: f32,
    n_bulge: f32,
    q_bulge: f32,
    n_disc: f32,
    /// Offset of the bulge from the disc centre (px): asymmetry of disturbed remnants.
    bulge_offset: (f32, f32),
    bar: bool,
    clumps: usize,
    /// Redness of the whole galaxy (multiplies band 2 / divides band 0); > 1 for distant ones.
    redness: f32,
}

impl Galaxy {
    /// A random galaxy at distance factor `d` (≥ 1: sizes ∝ 1/d, fluxes ∝ 1/d²).
    fn random(r: &mut DataRng, x: f32, y: f32, d: f32) -> Galaxy {
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

    fn render(&self, r: &mut DataRng, img: &mut Bands) {
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
fn add_tail(r: &mut DataRng, img: &mut Bands, g: &Galaxy, flux: f32) {
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
fn add_bridge(r: &mut DataRng, img: &mut Bands, a: &Galaxy, b: &Galaxy, flux: f32) {
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
fn add_shells(r: &mut DataRng, img: &mut Bands, g: &Galaxy, flux: f32) {
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

fn pick<T: Copy>(r: &mut DataRng, mix: &[(T, f64)]) -> T {
    let mut u = r.uniform();
    for &(k, p) in mix {
        if u < p {
            return k;
        }
        u -= p;
    }
    mix[mix.len() - 1].0
}

/// Renders the intrinsic (noise-free, unconvolved) three-band scene of image `index`.
pub fn render_scene(seed: u64, index: usize) -> (SceneKind, Vec<f32>) {
    let (kind, mut galaxies, features) = render_scene_parts(seed, index);
    for (g, f) in galaxies.iter_mut().zip(&features) {
        *g += f;
    }
    (kind, galaxies)
}

/// The scene of image `index` in two parts: the galaxies, and the low-surface-brightness
/// merger features (tails, bridges, shells); `render_scene` is their sum.
pub fn render_scene_parts(seed: u64, index: usize) -> (SceneKind, Vec<f32>, Vec<f32>) {
    let label = label_of(seed, index);
    let mut r = DataRng::keyed(seed, index as u64, 0);
    let kind = if label == 1 {
        pick(&mut r, &MERGER_MIX)
    } else {
        pick(&mut r, &NON_MERGER_MIX)
    };
    let mut img = zero_bands();
    let mut feat = zero_bands();
    let c = (SIZE as f32 - 1.0) / 2.0;
    let d = r.log_range(1.0, 2.5) as f32;
    let jitter = |r: &mut DataRng| r.range(-3.0, 3.0) as f32;
    let (jx, jy) = (jitter(&mut r), jitter(&mut r));
    let mut host = Galaxy::random(&mut r, c + jx, c + jy, d);
    host.clumps = if r.chance(0.25) { r.int(2, 6) } else { 0 };
    host.bar = r.chance(0.1);
    match kind {
        SceneKind::Isolated => host.render(&mut r, &mut img),
        SceneKind::Clumpy => {
            host.clumps = r.int(3, 8);
            host.render(&mut r, &mut img)
        }
        SceneKind::Barred => {
            host.bar = true;
            host.bulge_fraction = host.bulge_fraction.min(0.4);
            host.render(&mut r, &mut img)
        }
        SceneKind::Projection => {
            let sep = r.range(6.0, 28.0) as f32;
            let phi = r.range(0.0, std::f64::consts::TAU) as f32;
            let d2 = d * r.log_range(1.2, 3.0) as f32;
            let mut other = Galaxy::random(&mut r, host.x, host.y, d2);
            other.x = (host.x + sep * phi.cos()).clamp(4.0, SIZE as f32 - 5.0);
            other.y = (host.y + sep * phi.sin()).clamp(4.0, SIZE as f32 - 5.0);
            other.redness = 1.0 + 0.25 * (d2 / d - 1.0);
            other.flux = other.flux.max(host.flux * 0.08);
            host.render(&mut r, &mut img);
            other.render(&mut r, &mut img);
        }
        SceneKind::MajorMerger | SceneKind::MinorMerger => {
            let major = kind == SceneKind::MajorMerger;
            let ratio = if major {
                r.log_range(1.0, 4.0)
            } else {
                r.log_range(4.0, 10.0)
            } as f32;
            let sep = if major {
                r.range(0.0, 20.0)
            } else {
                r.range(5.0, 20.0)
            } as f32;
            let phi = r.range(0.0, std::f64::consts::TAU) as f32;
            let mut comp = Galaxy::random(&mut r, host.x, host.y, d);
            comp.flux = host.flux / ratio;
            let shrink = ratio.powf(0.3);
            comp.r_disc = (comp.r_disc / shrink).max(1.0);
            comp.r_bulge = (comp.r_bulge / shrink).max(0.6);
            // Keep the pair's light roughly centred.
            let fx = 1.0 / (1.0 + ratio);
            host.x -= sep * fx * phi.cos();
            host.y -= sep * fx * phi.sin();
            comp.x = host.x + sep * phi.cos();
            comp.y = host.y + sep * phi.sin();
            if major {
                host.bulge_offset = (r.range(-1.0, 1.0) as f32, r.range(-1.0, 1.0) as f32);
            }
            host.render(&mut r, &mut img);
            comp.render(&mut r, &mut img);
            if major {
                for g in [&host, &comp] {
                    for _ in 0..r.int(1, 2) {
                        let f = g.flux * r.range(0.04, 0.12) as f32;
                        add_tail(&mut r, &mut feat, g, f);
                    }
                }
                if r.chance(0.5) && sep > 6.0 {
                    let f = (host.flux + comp.flux) * r.range(0.02, 0.05) as f32;
                    add_bridge(&mut r, &mut feat, &host, &comp, f);
                }
            } else {
                let g = if r.chance(0.5) { &host } else { &comp };
                let f = host.flux * r.range(0.01, 0.04) as f32;
                add_tail(&mut r, &mut feat, g, f);
            }
        }
        SceneKind::PostMerger => {
            host.bulge_offset = (r.range(-2.0, 2.0) as f32, r.range(-2.0, 2.0) as f32);
            host.render(&mut r, &mut img);
            let f = host.flux * r.range(0.02, 0.05) as f32;
            if r.chance(0.5) {
                add_shells(&mut r, &mut feat, &host, f);
            } else {
                add_tail(&mut r, &mut feat, &host, f);
            }
        }
    }
    (kind, img.concat(), feat.concat())
}

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

/// Renders image `index` of the `domain` dataset with `seed`: (label, 3×75×75 pixels).
pub fn render_image(domain: Domain, seed: u64, index: usize) -> (u8, Vec<f32>) {
    let (kind, scene) = render_scene(seed, index);
    (
        kind.is_merger() as u8,
        observe(&scene, &domain.preset(), seed, index),
    )
}

/// Generated images and labels.
#[derive(Debug, Clone)]
pub struct Generated {
    /// N×3×75×75 float32, C order.
    pub images: Vec<f32>,
    /// N labels, 1 = merger.
    pub labels: Vec<u8>,
    /// The scene kind of every image.
    pub kinds: Vec<SceneKind>,
}

/// Generates `n` images of `domain` from `seed` on all cores (rayon). Every image draws from
/// its own stream keyed by (seed, index), so the bytes do not depend on the thread count.
/// `progress(done)` is called as images complete (from worker threads).
pub fn generate(
    domain: Domain,
    n: usize,
    seed: u64,
    progress: &(dyn Fn(usize) + Sync),
) -> Generated {
    generate_with(&domain.preset(), n, seed, progress)
}

/// [`generate`] through any preset (e.g. `Domain::Noisy.preset().with_sb_limit(24.0)`).
pub fn generate_with(
    preset: &Preset,
    n: usize,
    seed: u64,
    progress: &(dyn Fn(usize) + Sync),
) -> Generated {
    let preset = *preset;
    let mut images = vec![0.0f32; n * IMAGE_LEN];
    let mut labels = vec![0u8; n];
    let mut kinds = vec![SceneKind::Isolated; n];
    let done = AtomicUsize::new(0);
    images
        .par_chunks_mut(IMAGE_LEN)
        .zip(labels.par_iter_mut())
        .zip(kinds.par_iter_mut())
        .enumerate()
        .for_each(|(i, ((img, label), kind))| {
            let (k, scene) = render_scene(seed, i);
            img.copy_from_slice(&observe(&scene, &preset, seed, i));
            *label = k.is_merger() as u8;
            *kind = k;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
        });
    Generated {
        images,
        labels,
        kinds,
    }
}
