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

use rayon::prelude::*;
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

mod observation;
mod presets;
mod scene;
mod shapes;

pub use observation::{convolve, observe};
pub use presets::{Domain, Noise, Preset, Psf};
pub use scene::{
    label_of, render_scene, render_scene_parts, SceneKind, MERGER_MIX, NON_MERGER_MIX,
};

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
