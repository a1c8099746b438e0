//! Scenes: the intrinsic three-band light of an image, drawn from the stream keyed by
//! (seed, index, 0), so the same index shows the same galaxies in every domain.

use super::super::rng::DataRng;
use super::shapes::*;
use super::SIZE;
use serde::Serialize;

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

/// The label of image `index` under `seed`: pairs of consecutive indices hold one merger
/// and one non-merger in a random order, so classes are balanced to within one image and
/// labels carry no parity pattern.
pub fn label_of(seed: u64, index: usize) -> u8 {
    let mut r = DataRng::keyed(seed, (index / 2) as u64, 2);
    let first_is_merger = r.next_u64() & 1 == 1;
    (index.is_multiple_of(2) == first_is_merger) as u8
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
