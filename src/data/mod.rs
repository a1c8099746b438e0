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

use crate::error::{Error, Result};
use rng::DataRng;
use serde::Serialize;
use std::path::{Path, PathBuf};
use synth::Domain;

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

fn data_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn is_fits(path: &Path) -> bool {
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
            return Err(data_err(
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
        return Err(data_err(
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
        return Err(data_err(
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
            return Err(data_err(
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
        return Err(data_err(
            path,
            format!("images have shape {shape:?}: expected 4-D {want}"),
        ));
    }
    if let Some(e) = expect {
        if shape[1..] != e {
            return Err(data_err(
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
            return Err(data_err(
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
        return Err(data_err(
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
                Err(data_err(
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

/// The generator parameters written next to `X.npy` / `y.npy` as `params.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Sidecar {
    pub generator: &'static str,
    pub generator_version: u32,
    pub domain: Domain,
    pub seed: u64,
    pub n: usize,
    pub image_shape: [usize; 3],
    pub mergers: usize,
    pub non_mergers: usize,
    pub scene_kinds: std::collections::BTreeMap<String, usize>,
    pub merger_mix: Vec<(synth::SceneKind, f64)>,
    pub non_merger_mix: Vec<(synth::SceneKind, f64)>,
    pub preset: synth::Preset,
    pub derived: serde_json::Value,
    pub files: serde_json::Value,
}

/// Generates `n` images of `domain` from `seed` into `dir` (`X.npy`, `y.npy`,
/// `params.json`), every file written atomically. Returns the sidecar.
pub fn generate_to_dir(
    domain: Domain,
    n: usize,
    seed: u64,
    dir: &Path,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Sidecar> {
    generate_to_dir_with(&domain.preset(), n, seed, dir, progress)
}

/// [`generate_to_dir`] through any preset.
pub fn generate_to_dir_with(
    preset: &synth::Preset,
    n: usize,
    seed: u64,
    dir: &Path,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Sidecar> {
    let domain = preset.domain;
    let preset = *preset;
    let g = synth::generate_with(&preset, n, seed, progress);
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    let mergers = g.labels.iter().filter(|&&l| l == 1).count();
    let mut scene_kinds = std::collections::BTreeMap::new();
    for k in &g.kinds {
        let name = serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *scene_kinds.entry(name).or_insert(0) += 1;
    }
    let sidecar = Sidecar {
        generator: "tidal synthetic merging-galaxy benchmark",
        generator_version: synth::GENERATOR_VERSION,
        domain,
        seed,
        n,
        image_shape: IMAGE_SHAPE,
        mergers,
        non_mergers: n - mergers,
        scene_kinds,
        merger_mix: synth::MERGER_MIX.to_vec(),
        non_merger_mix: synth::NON_MERGER_MIX.to_vec(),
        preset,
        derived: serde_json::json!({
            "sigma_pixel": (0..3).map(|b| preset.sigma_pixel(b)).collect::<Vec<_>>(),
            "sky_pixel": (0..3).map(|b| preset.sky_pixel(b)).collect::<Vec<_>>(),
            "gain": (0..3).map(|b| if preset.noise.is_some() { Some(preset.gain(b)) } else { None }).collect::<Vec<_>>(),
        }),
        files: serde_json::json!({
            "X": "X.npy: float32, N×3×75×75, C order; channels 0,1,2 = F814W-, F160W-, F356W-like",
            "y": "y.npy: float32, N labels, 1 = merger",
        }),
    };
    npy::write_f32(
        &dir.join("X.npy"),
        &[n, 3, synth::SIZE, synth::SIZE],
        &g.images,
    )?;
    npy::write_labels(&dir.join("y.npy"), &g.labels)?;
    let text = serde_json::to_string_pretty(&sidecar).expect("serialisable");
    npy::write_atomic(&dir.join("params.json"), |w| {
        std::io::Write::write_all(w, text.as_bytes())
    })?;
    Ok(sidecar)
}

/// Images per domain in the default dataset: trains in minutes on a 2-core CPU.
pub const DEFAULT_N: usize = 3000;
/// Seeds of the default source (pristine) and target (noisy) sets: different seeds, so the
/// target holds other galaxies than the source.
pub const DEFAULT_SOURCE_SEED: u64 = 1;
pub const DEFAULT_TARGET_SEED: u64 = 2;

/// The default cache directory: `$TIDAL_DATA_CACHE` if set, else `data/cache` under the
/// crate root (git-ignored).
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("TIDAL_DATA_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join("cache"),
    }
}

/// The folder of a cached generated set.
pub fn cache_entry(cache_dir: &Path, domain: Domain, n: usize, seed: u64) -> PathBuf {
    cache_dir.join(format!(
        "{}-n{n}-seed{seed}-v{}",
        domain.name(),
        synth::GENERATOR_VERSION
    ))
}

/// Loads a generated set from the cache, generating it first (with a progress bar on
/// stderr) if missing. Generation goes to a temporary folder (`NAME.partial-PID`) renamed
/// into place when complete, so an interrupted run leaves no half-written entry.
pub fn cached(cache_dir: &Path, domain: Domain, n: usize, seed: u64) -> Result<Dataset> {
    let dir = cache_entry(cache_dir, domain, n, seed);
    let complete = ["X.npy", "y.npy", "params.json"]
        .iter()
        .all(|f| dir.join(f).is_file());
    if !complete {
        // A per-process temporary folder, so two processes filling the cache at once do not
        // write into each other's files; the first complete one is renamed into place.
        let tmp = dir.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        eprintln!(
            "generating {n} {} images (seed {seed}) into {}",
            domain.name(),
            dir.display()
        );
        let bar = progress_bar(n as u64, "images");
        let made = generate_to_dir(domain, n, seed, &tmp, &|d| bar.set_position(d as u64));
        bar.finish_and_clear();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            if !dir.join("params.json").is_file() {
                return Err(Error::Io {
                    path: dir.display().to_string(),
                    source: e,
                });
            }
        }
    }
    load(&dir.join("X.npy"), Some(&dir.join("y.npy")))
}

/// The default training data: (source = pristine, target = noisy), `DEFAULT_N` images each,
/// generated into `cache_dir` on first use and reused afterwards.
pub fn default_dataset(cache_dir: &Path) -> Result<(Dataset, Dataset)> {
    let source = cached(cache_dir, Domain::Pristine, DEFAULT_N, DEFAULT_SOURCE_SEED)?;
    let target = cached(cache_dir, Domain::Noisy, DEFAULT_N, DEFAULT_TARGET_SEED)?;
    Ok((source, target))
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit}  [{{elapsed_precise}}, eta {{eta}}]"
        ))
        .expect("valid template"),
    );
    bar
}

/// Per-channel statistics of a file (see [`inspect`]).
#[derive(Debug, Clone, Serialize)]
pub struct ChannelStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

/// What `tidal data inspect` reports about one file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub path: String,
    pub format: &'static str,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// Per channel for 4-D images; one entry for anything else.
    pub channels: Vec<ChannelStats>,
    /// Value → count for label-like arrays (1-D or N×1 with at most 16 distinct values).
    pub label_counts: Option<std::collections::BTreeMap<String, usize>>,
    pub nan: usize,
    pub inf: usize,
}

struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    sq: f64,
    count: u64,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            sq: 0.0,
            count: 0,
        }
    }
    fn stats(&self) -> ChannelStats {
        let n = self.count.max(1) as f64;
        let mean = self.sum / n;
        ChannelStats {
            min: self.min,
            max: self.max,
            mean,
            std: (self.sq / n - mean * mean).max(0.0).sqrt(),
        }
    }
}

/// Streams a `.npy` or FITS file and reports shape, dtype, per-channel min/max/mean/std
/// (finite values only), label counts and NaN/Inf counts.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let (format, shape, dtype, values): (&str, Vec<usize>, String, Box<dyn ValueSource>) =
        if is_fits(path) {
            let f = fits::read_any(path)?;
            let shape = f.shape.clone();
            ("FITS", shape, f.dtype.clone(), Box::new(f.values))
        } else {
            let f = npy::NpyFile::open(path)?;
            let dtype = f.elem.name().to_string();
            ("npy", f.shape.clone(), dtype, Box::new(f))
        };
    let (c, plane) = if shape.len() == 4 {
        (shape[1], shape[2] * shape[3])
    } else {
        (1, shape.iter().product::<usize>().max(1))
    };
    let label_like = shape.len() == 1 || (shape.len() == 2 && shape[1] == 1);
    let mut accs: Vec<Acc> = (0..c).map(|_| Acc::new()).collect();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut too_many = false;
    let (mut nan, mut inf) = (0usize, 0usize);
    let chunk = plane.max(1) * 64;
    values.each(chunk, &mut |start, vals| {
        for (k, &v) in vals.iter().enumerate() {
            let e = start + k;
            if v.is_nan() {
                nan += 1;
                continue;
            }
            if v.is_infinite() {
                inf += 1;
                continue;
            }
            let a = &mut accs[(e / plane) % c];
            let v64 = v as f64;
            a.min = a.min.min(v64);
            a.max = a.max.max(v64);
            a.sum += v64;
            a.sq += v64 * v64;
            a.count += 1;
            if label_like && !too_many {
                *counts.entry(format!("{v}")).or_insert(0) += 1;
                too_many = counts.len() > 16;
            }
        }
        Ok(())
    })?;
    Ok(Inspection {
        path: path.display().to_string(),
        format,
        shape,
        dtype,
        channels: accs.iter().map(Acc::stats).collect(),
        label_counts: if label_like && !too_many {
            Some(counts)
        } else {
            None
        },
        nan,
        inf,
    })
}

/// Something that streams f32 values in chunks (an open `.npy` file or FITS data in memory).
trait ValueSource {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()>;
}

impl ValueSource for npy::NpyFile {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        self.for_each_chunk(chunk, f)
    }
}

impl ValueSource for Vec<f32> {
    fn each(
        self: Box<Self>,
        chunk: usize,
        f: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        for (k, c) in self.chunks(chunk.max(1)).enumerate() {
            f(k * chunk.max(1), c)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        writeln!(f, "{} ({})", self.path, self.format)?;
        writeln!(f, "  shape {}  dtype {}", shape.join("×"), self.dtype)?;
        let many = self.channels.len() > 1 || self.shape.len() == 4;
        for (i, s) in self.channels.iter().enumerate() {
            let name = if many {
                format!("channel {i}")
            } else {
                "values".to_string()
            };
            writeln!(
                f,
                "  {name:<10} min {:>11.4e}  max {:>11.4e}  mean {:>11.4e}  std {:>11.4e}",
                s.min, s.max, s.mean, s.std
            )?;
        }
        if let Some(c) = &self.label_counts {
            let total: usize = c.values().sum();
            let parts: Vec<String> = c
                .iter()
                .map(|(k, v)| format!("{k}: {v} ({:.1}%)", 100.0 * *v as f64 / total.max(1) as f64))
                .collect();
            writeln!(f, "  labels     {}", parts.join(", "))?;
        }
        write!(f, "  NaN {}  Inf {}", self.nan, self.inf)
    }
}
