//! Generated datasets on disk: `generate_to_dir` (X.npy, y.npy, params.json) and the cache
//! of the default pristine → noisy data, generated on first use.

use super::{load, npy, synth, Dataset, IMAGE_SHAPE};
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use synth::Domain;

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

/// Most images one `generate` call holds in memory (6.75 GB of float32 pixels); generate
/// larger sets in parts with different seeds.
pub const MAX_GENERATE: usize = 100_000;

fn check_generate_size(n: usize) -> Result<()> {
    if n == 0 || n > MAX_GENERATE {
        return Err(Error::config(
            format!("--n = {n}"),
            format!(
                "expected 1 to {MAX_GENERATE} images per call ({:.1} GB in memory at most); generate larger sets in parts with different --seed",
                (MAX_GENERATE * synth::IMAGE_LEN * 4) as f64 / 1e9
            ),
        ));
    }
    Ok(())
}

/// [`generate_to_dir`] through any preset.
pub fn generate_to_dir_with(
    preset: &synth::Preset,
    n: usize,
    seed: u64,
    dir: &Path,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Sidecar> {
    check_generate_size(n)?;
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
    crate::atomic::write_with(&dir.join("params.json"), |w| {
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

/// The default cache directory and where it comes from: `$TIDAL_DATA_CACHE` if set; else
/// `data/cache` in the source tree the binary was built from (git-ignored), while that tree
/// exists; else the user's cache directory (`$XDG_CACHE_HOME/tidal`, `~/.cache/tidal`).
pub fn cache_dir_and_origin() -> (PathBuf, &'static str) {
    if let Some(d) = std::env::var_os("TIDAL_DATA_CACHE").filter(|d| !d.is_empty()) {
        return (PathBuf::from(d), "TIDAL_DATA_CACHE");
    }
    let tree = Path::new(env!("CARGO_MANIFEST_DIR"));
    if tree.join("Cargo.toml").is_file() {
        return (tree.join("data").join("cache"), "the source tree");
    }
    let user = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    (user.join("tidal"), "the user's cache directory")
}

/// The default cache directory (see `cache_dir_and_origin`).
pub fn default_cache_dir() -> PathBuf {
    cache_dir_and_origin().0
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
