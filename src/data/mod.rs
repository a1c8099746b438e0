//! Galaxy data: the synthetic benchmark (`synth`), `.npy` and FITS loaders, splits and
//! normalisation (`split`), batch sampling, the default cached dataset, and `inspect`.
//!
//! Formats and presets are described in `data/README.md`.

pub mod fits;
pub mod npy;
pub mod preview;
pub mod rng;
pub mod split;
pub mod synth;
pub mod table;

mod cache;
mod inspect;

pub use cache::{
    cache_dir_and_origin, cache_entry, cached, default_cache_dir, default_dataset, generate_to_dir,
    generate_to_dir_with, progress_bar, Sidecar, DEFAULT_N, DEFAULT_SOURCE_SEED,
    DEFAULT_TARGET_SEED,
};
pub use inspect::{inspect, ChannelStats, Inspection};

use crate::error::{Error, Result};
use rng::DataRng;
use std::path::Path;

/// The image shape every tidal model takes: 3 bands × 75 × 75.
pub const IMAGE_SHAPE: [usize; 3] = [synth::BANDS, synth::SIZE, synth::SIZE];

/// Images (N×C×H×W float32, C order) with optional labels (1 = merger).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub images: Vec<f32>,
    pub labels: Option<Vec<u8>>,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dataset {
    /// Values per image (C×H×W).
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Image `i` (C×H×W).
    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.images[i * l..(i + 1) * l]
    }

    /// (non-mergers, mergers), or None without labels.
    pub fn label_counts(&self) -> Option<(usize, usize)> {
        self.labels.as_ref().map(|l| {
            let m = l.iter().filter(|&&v| v == 1).count();
            (l.len() - m, m)
        })
    }

    /// Copies the images `indices` into `out` (B×C×H×W), normalised with `norm` if given.
    pub fn gather_images(
        &self,
        indices: &[usize],
        norm: Option<&split::Normalisation>,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        for &i in indices {
            out.extend_from_slice(self.image(i));
        }
        if let Some(n) = norm {
            n.apply(out, self.h * self.w);
        }
    }

    /// The labels of `indices` as u32 (for `Tensor::from_u32`); None without labels.
    pub fn gather_labels(&self, indices: &[usize]) -> Option<Vec<u32>> {
        self.labels
            .as_ref()
            .map(|l| indices.iter().map(|&i| l[i] as u32).collect())
    }

    /// Normalises every image in place.
    pub fn normalise(&mut self, norm: &split::Normalisation) {
        let plane = self.h * self.w;
        norm.apply(&mut self.images, plane);
    }
}

pub(crate) fn is_fits(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".fits") || name.ends_with(".fit") || name.ends_with(".fts")
}

/// Loads images (and labels) expecting 3×75×75 images; see [`load_with`].
pub fn load(path_x: &Path, path_y: Option<&Path>) -> Result<Dataset> {
    load_with(path_x, path_y, Some(IMAGE_SHAPE))
}

/// Loads images from `path_x` and labels from `path_y`, each `.npy` or FITS by extension.
/// A FITS image file without `path_y` takes its labels from its HDU1 (the MAST layout).
/// Checks: images 4-D N×C×H×W (equal to `expect` for C×H×W when given) of float32/float64,
/// every pixel finite, labels N values of 0/1 (int, float or bool), not truncated. Errors name
/// the file and the expectation.
pub fn load_with(
    path_x: &Path,
    path_y: Option<&Path>,
    expect: Option<[usize; 3]>,
) -> Result<Dataset> {
    let (shape, images, fits_labels) = if is_fits(path_x) {
        let f = fits::read(path_x, path_y.is_none())?;
        (f.shape, f.images, f.labels)
    } else {
        let f = npy::NpyFile::open(path_x)?;
        if !f.elem.is_float() {
            return Err(Error::data(
                path_x,
                format!(
                    "images have dtype {}: expected float32 or float64",
                    f.elem.name()
                ),
            ));
        }
        check_image_shape(path_x, &f.shape, expect)?;
        let shape = f.shape.clone();
        (shape, f.read_all_f32()?, None)
    };
    check_image_shape(path_x, &shape, expect)?;
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    if let Some(bad) = images.iter().position(|v| !v.is_finite()) {
        let per = c * h * w;
        let (i, rem) = (bad / per, bad % per);
        return Err(Error::data(
            path_x,
            format!(
                "image {i} has a non-finite pixel ({}) at channel {}, y {}, x {}: expected finite values",
                images[bad],
                rem / (h * w),
                rem % (h * w) / w,
                rem % w
            ),
        ));
    }
    let labels = match path_y {
        Some(py) => Some(read_labels(py, n, path_x)?),
        None => fits_labels,
    };
    Ok(Dataset {
        images,
        labels,
        n,
        c,
        h,
        w,
    })
}

/// Streams the images of a `.npy` file larger than memory in batches of up to `batch`
/// images: `f(first_index, images)` gets B×C×H×W values, checked finite (an error names the
/// file, image and pixel). Returns the shape (N, C, H, W). Memory use is one batch.
pub fn stream_images(
    path: &Path,
    batch: usize,
    expect: Option<[usize; 3]>,
    mut f: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<[usize; 4]> {
    let file = npy::NpyFile::open(path)?;
    if !file.elem.is_float() {
        return Err(Error::data(
            path,
            format!(
                "images have dtype {}: expected float32 or float64",
                file.elem.name()
            ),
        ));
    }
    check_image_shape(path, &file.shape, expect)?;
    let s = [file.shape[0], file.shape[1], file.shape[2], file.shape[3]];
    let per = s[1] * s[2] * s[3];
    file.for_each_chunk(per * batch.max(1), |start, vals| {
        if let Some(bad) = vals.iter().position(|v| !v.is_finite()) {
            let e = start + bad;
            return Err(Error::data(
                path,
                format!(
                    "image {} has a non-finite pixel ({}) at channel {}, y {}, x {}: expected finite values",
                    e / per,
                    vals[bad],
                    e % per / (s[2] * s[3]),
                    e % (s[2] * s[3]) / s[3],
                    e % s[3]
                ),
            ));
        }
        f(start / per, vals)
    })?;
    Ok(s)
}

fn check_image_shape(path: &Path, shape: &[usize], expect: Option<[usize; 3]>) -> Result<()> {
    let want = match expect {
        Some([c, h, w]) => format!("N×{c}×{h}×{w}"),
        None => "N×C×H×W".to_string(),
    };
    if shape.len() != 4 {
        return Err(Error::data(
            path,
            format!("images have shape {shape:?}: expected 4-D {want}"),
        ));
    }
    if let Some(e) = expect {
        if shape[1..] != e {
            return Err(Error::data(
                path,
                format!("images have shape {shape:?}: expected {want}"),
            ));
        }
    }
    Ok(())
}

/// Reads `n` labels (0/1) from `.npy` or FITS (HDU1 or the primary array).
pub fn read_labels(path: &Path, n: usize, images_path: &Path) -> Result<Vec<u8>> {
    let vals: Vec<f32> = if is_fits(path) {
        fits::read_labels(path)?
    } else {
        let f = npy::NpyFile::open(path)?;
        let ok_shape = f.shape.len() == 1 || (f.shape.len() == 2 && f.shape[1] == 1);
        if !ok_shape {
            return Err(Error::data(
                path,
                format!(
                    "labels have shape {:?}: expected ({n},) or ({n}, 1)",
                    f.shape
                ),
            ));
        }
        f.read_all_f32()?
    };
    if vals.len() != n {
        return Err(Error::data(
            path,
            format!(
                "{} labels but {} holds {n} images: expected {n} labels",
                vals.len(),
                images_path.display()
            ),
        ));
    }
    vals.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0.0 || v == 1.0 {
                Ok(v as u8)
            } else {
                Err(Error::data(
                    path,
                    format!("label {i} is {v}: expected 0 (non-merger) or 1 (merger)"),
                ))
            }
        })
        .collect()
}

/// Draws batch indices with replacement from a seeded stream.
#[derive(Debug, Clone)]
pub struct Sampler {
    rng: DataRng,
}

/// Source and target images per training step.
pub const BATCH_PER_DOMAIN: usize = 128;

impl Sampler {
    pub fn new(seed: u64) -> Sampler {
        Sampler {
            rng: DataRng::keyed(seed, 0, 0x5A11),
        }
    }

    /// `k` indices drawn uniformly with replacement from `pool` (non-empty).
    pub fn draw(&mut self, pool: &[usize], k: usize) -> Vec<usize> {
        assert!(!pool.is_empty(), "Sampler::draw from an empty pool");
        (0..k).map(|_| pool[self.rng.below(pool.len())]).collect()
    }

    /// One training step's indices: `batch` from the source pool, then `batch` from the
    /// target pool (128 + 128 in the reference recipe).
    pub fn step(
        &mut self,
        source_pool: &[usize],
        target_pool: &[usize],
        batch: usize,
    ) -> (Vec<usize>, Vec<usize>) {
        let s = self.draw(source_pool, batch);
        let t = self.draw(target_pool, batch);
        (s, t)
    }
}

/// Sequential evaluation batches over `indices` (the last one may be short).
pub fn batches(indices: &[usize], batch: usize) -> std::slice::Chunks<'_, usize> {
    indices.chunks(batch.max(1))
}

/// The axis order of image arrays on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// N×C×H×W (the published files).
    #[default]
    Nchw,
    /// N×H×W×C (channels last).
    Nhwc,
}

impl std::str::FromStr for Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Layout> {
        match s.to_ascii_lowercase().as_str() {
            "nchw" | "chw" => Ok(Layout::Nchw),
            "nhwc" | "hwc" => Ok(Layout::Nhwc),
            other => Err(Error::config(
                "--layout",
                format!("unknown layout '{other}' (expected nchw or nhwc)"),
            )),
        }
    }
}

/// How images of another size become the models' 75×75.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Other sizes are refused.
    #[default]
    None,
    /// Each output pixel is the mean of the input area it covers (for shrinking).
    Area,
    /// Bilinear interpolation at pixel centres (for enlarging).
    Bilinear,
}

impl std::str::FromStr for Resize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Resize> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Resize::None),
            "area" => Ok(Resize::Area),
            "bilinear" => Ok(Resize::Bilinear),
            other => Err(Error::config(
                "--resize",
                format!("unknown resize '{other}' (expected none, area or bilinear)"),
            )),
        }
    }
}

/// What turns arrays on disk into the models' C×75×75 images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepare {
    pub layout: Layout,
    /// Bands to keep, in order (empty: all).
    pub bands: Vec<usize>,
    pub resize: Resize,
}

impl Prepare {
    /// The C×H×W of images of `shape` (C×H×W as stored: H×W×C for `Nhwc`) after this.
    pub fn output(&self, path: &Path, stored: [usize; 3]) -> Result<[usize; 3]> {
        let [c, h, w] = match self.layout {
            Layout::Nchw => stored,
            Layout::Nhwc => [stored[2], stored[0], stored[1]],
        };
        if let Some(&b) = self.bands.iter().find(|&&b| b >= c) {
            return Err(Error::config(
                "--bands",
                format!("band {b} of images with {c} bands ({})", path.display()),
            ));
        }
        let mut seen = self.bands.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.bands.len() {
            return Err(Error::config(
                "--bands",
                format!("{:?} repeats a band", self.bands),
            ));
        }
        let c = if self.bands.is_empty() {
            c
        } else {
            self.bands.len()
        };
        let size = synth::SIZE;
        if (h, w) != (size, size) && self.resize == Resize::None {
            let fix = if c == h || c == w {
                " (channels last? try --layout nhwc)"
            } else {
                ""
            };
            return Err(Error::data(
                path,
                format!("images of {c}×{h}×{w}: the models take {size}×{size}; pass --resize area or --resize bilinear{fix}"),
            ));
        }
        if c == 0 || c > 64 {
            return Err(Error::data(
                path,
                format!("{c} bands: expected 1 to 64 (channels last? try --layout nhwc)"),
            ));
        }
        Ok([c, size, size])
    }

    /// Applies the layout, band selection and resize to `n` stored images.
    pub fn apply(&self, stored: [usize; 3], images: &[f32]) -> Vec<f32> {
        let [c, h, w] = match self.layout {
            Layout::Nchw => stored,
            Layout::Nhwc => [stored[2], stored[0], stored[1]],
        };
        let bands: Vec<usize> = if self.bands.is_empty() {
            (0..c).collect()
        } else {
            self.bands.clone()
        };
        let per = c * h * w;
        let size = synth::SIZE;
        let mut out = Vec::with_capacity(images.len() / per.max(1) * bands.len() * size * size);
        let mut plane = vec![0f32; h * w];
        for img in images.chunks(per) {
            for &b in &bands {
                match self.layout {
                    Layout::Nchw => plane.copy_from_slice(&img[b * h * w..(b + 1) * h * w]),
                    Layout::Nhwc => {
                        for (k, v) in plane.iter_mut().enumerate() {
                            *v = img[k * c + b];
                        }
                    }
                }
                if (h, w) == (size, size) {
                    out.extend_from_slice(&plane);
                } else {
                    out.extend(resize_plane(&plane, h, w, size, self.resize));
                }
            }
        }
        out
    }
}

/// One band of h×w pixels resized to size×size.
fn resize_plane(p: &[f32], h: usize, w: usize, size: usize, how: Resize) -> Vec<f32> {
    let mut out = Vec::with_capacity(size * size);
    for oy in 0..size {
        for ox in 0..size {
            out.push(match how {
                Resize::Bilinear | Resize::None => {
                    // Pixel centres: output (oy + ½)·h/size − ½ in input coordinates.
                    let fy = ((oy as f64 + 0.5) * h as f64 / size as f64 - 0.5)
                        .clamp(0.0, (h - 1) as f64);
                    let fx = ((ox as f64 + 0.5) * w as f64 / size as f64 - 0.5)
                        .clamp(0.0, (w - 1) as f64);
                    let (y0, x0) = (fy.floor() as usize, fx.floor() as usize);
                    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
                    let (ty, tx) = (fy - y0 as f64, fx - x0 as f64);
                    let v = |y: usize, x: usize| p[y * w + x] as f64;
                    ((v(y0, x0) * (1.0 - tx) + v(y0, x1) * tx) * (1.0 - ty)
                        + (v(y1, x0) * (1.0 - tx) + v(y1, x1) * tx) * ty) as f32
                }
                Resize::Area => {
                    // The input rectangle [oy·h/size, (oy+1)·h/size) × …, partial pixels
                    // weighted by their overlap.
                    let (ya, yb) = (
                        oy as f64 * h as f64 / size as f64,
                        (oy + 1) as f64 * h as f64 / size as f64,
                    );
                    let (xa, xb) = (
                        ox as f64 * w as f64 / size as f64,
                        (ox + 1) as f64 * w as f64 / size as f64,
                    );
                    let (mut s, mut wsum) = (0f64, 0f64);
                    for y in ya.floor() as usize..(yb.ceil() as usize).min(h) {
                        let wy = (yb.min(y as f64 + 1.0) - ya.max(y as f64)).max(0.0);
                        for x in xa.floor() as usize..(xb.ceil() as usize).min(w) {
                            let wx = (xb.min(x as f64 + 1.0) - xa.max(x as f64)).max(0.0);
                            s += p[y * w + x] as f64 * wy * wx;
                            wsum += wy * wx;
                        }
                    }
                    (s / wsum.max(1e-12)) as f32
                }
            });
        }
    }
    out
}

/// Loads images (any band count) and labels, then `prep` makes them C×75×75.
pub fn load_prepared(path_x: &Path, path_y: Option<&Path>, prep: &Prepare) -> Result<Dataset> {
    let raw = load_with(path_x, path_y, None)?;
    if prep == &Prepare::default() && (raw.h, raw.w) == (synth::SIZE, synth::SIZE) {
        prep.output(path_x, [raw.c, raw.h, raw.w])?;
        return Ok(raw);
    }
    let [c, h, w] = prep.output(path_x, [raw.c, raw.h, raw.w])?;
    let images = prep.apply([raw.c, raw.h, raw.w], &raw.images);
    Ok(Dataset {
        images,
        labels: raw.labels,
        n: raw.n,
        c,
        h,
        w,
    })
}
