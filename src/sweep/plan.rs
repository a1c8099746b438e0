//! Sweep files and their expansion into numbered run configurations.
//!
//! A sweep file is TOML: `[base]` holds any training setting, `[grid]` lists values whose
//! Cartesian product is taken, `[random]` draws `samples` points from distributions, and
//! `seeds` repeats every point once per seed. The expansion is a pure function of the file
//! (random draws use `sample_seed`), so planning twice gives the same runs.

use crate::data::rng::DataRng;
use crate::error::{Error, Result};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A distribution for one `[random]` axis.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform in [lo, hi].
    Uniform([f64; 2]),
    /// exp(uniform(ln lo, ln hi)), for scales such as learning rates; lo > 0.
    LogUniform([f64; 2]),
    /// An integer uniform in [lo, hi], both inclusive.
    IntUniform([i64; 2]),
    /// One of the listed values, equally likely.
    Choice(Vec<toml::Value>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Job name for SLURM; defaults to the sweep file's stem.
    pub name: Option<String>,
    #[serde(default)]
    pub base: toml::Table,
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    pub random: BTreeMap<String, Distribution>,
    /// Random draws per grid point (required when `[random]` has axes).
    pub samples: Option<usize>,
    /// Seed of the random draws (not of training).
    #[serde(default)]
    pub sample_seed: u64,
    /// Training seeds; every hyperparameter point runs once per seed. Default: the base seed.
    pub seeds: Option<Vec<u64>>,
    /// Refuse to plan more runs than this (a guard against an accidental huge grid).
    pub max_runs: Option<usize>,
}

/// One planned run, as listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    pub index: usize,
    /// The varied hyperparameters (grid, random and seed) of this run.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Paths relative to the sweep directory, so a moved sweep directory still works.
    pub config: String,
    pub dir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// The sweep file as given, for the record (a copy is `sweep.toml` in the directory).
    pub sweep_file: String,
    /// Names of the varied hyperparameters, in column order.
    pub varied: Vec<String>,
    pub runs: Vec<PlannedRun>,
}

pub const MANIFEST: &str = "manifest.json";

/// Most runs a sweep file may expand to unless its `max_runs` says otherwise.
pub const DEFAULT_MAX_RUNS: usize = 1000;

fn invalid(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::data(path, msg.to_string())
}

/// The directory of run `index` inside a sweep directory.
pub fn run_dir_name(index: usize) -> String {
    format!("runs/{index:04}")
}

impl Manifest {
    /// Reads `manifest.json`; every run's directory and config must lie inside the sweep
    /// directory (relative, no `..`), so a damaged or hostile manifest cannot send a run
    /// anywhere else.
    pub fn load(sweep_dir: &Path) -> Result<Manifest> {
        let path = sweep_dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| invalid(&path, e))?;
        for r in &m.runs {
            for p in [&r.dir, &r.config] {
                let inside = Path::new(p)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !inside || p.is_empty() {
                    return Err(invalid(
                        &path,
                        format!(
                            "run {}: '{p}' is not a path inside the sweep directory",
                            r.index
                        ),
                    ));
                }
            }
        }
        Ok(m)
    }
}

/// Rounds to 4 significant digits, so drawn values read well in tables and configs.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

impl Distribution {
    fn check(&self) -> std::result::Result<(), String> {
        match self {
            Distribution::Uniform([lo, hi]) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
                Err(format!("uniform = [{lo}, {hi}] needs finite lo ≤ hi"))
            }
            Distribution::LogUniform([lo, hi])
                if !(lo.is_finite() && hi.is_finite() && *lo > 0.0 && lo <= hi) =>
            {
                Err(format!("log_uniform = [{lo}, {hi}] needs 0 < lo ≤ hi"))
            }
            Distribution::IntUniform([lo, hi]) if lo > hi => {
                Err(format!("int_uniform = [{lo}, {hi}] needs lo ≤ hi"))
            }
            Distribution::Choice(v) if v.is_empty() => Err("choice = [] is empty".into()),
            _ => Ok(()),
        }
    }

    fn draw(&self, rng: &mut DataRng) -> toml::Value {
        match self {
            Distribution::Uniform([lo, hi]) => {
                toml::Value::Float(round_sig(rng.range(*lo, *hi)).clamp(*lo, *hi))
            }
            Distribution::LogUniform([lo, hi]) => {
                toml::Value::Float(round_sig(rng.log_range(*lo, *hi)).clamp(*lo, *hi))
            }
            Distribution::IntUniform([lo, hi]) => {
                let span = (hi - lo) as u64 + 1;
                toml::Value::Integer(lo + (rng.next_u64() % span) as i64)
            }
            Distribution::Choice(v) => v[(rng.next_u64() % v.len() as u64) as usize].clone(),
        }
    }
}

/// Checks that `key = value` is a valid training setting on its own, so an unknown key or
/// a value of the wrong type is reported with the axis that holds it.
fn check_key(path: &Path, section: &str, key: &str, value: &toml::Value) -> Result<()> {
    if key == "out" {
        return Err(invalid(
            path,
            format!("[{section}] sets 'out'; the sweep chooses each run's directory"),
        ));
    }
    let mut t = toml::Table::new();
    t.insert(key.to_string(), value.clone());
    toml::Value::Table(t)
        .try_into::<TrainConfig>()
        .map(|_| ())
        .map_err(|e| invalid(path, format!("[{section}] {key} = {value}: {e}")))
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Relative data paths are taken from the directory `plan` runs in and written absolute,
/// so runs started by SLURM in another directory find them.
fn absolutise_paths(t: &mut toml::Table) -> Result<()> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
    for key in ["source", "source_labels", "target", "target_labels"] {
        if let Some(toml::Value::String(s)) = t.get_mut(key) {
            if Path::new(s.as_str()).is_relative() {
                *s = cwd.join(&*s).display().to_string();
            }
        }
    }
    Ok(())
}

/// Reads and expands a sweep file: the run configurations (with `out` pointing into
/// `sweep_dir`) and the manifest, each config validated. Writes nothing.
pub fn expand(sweep_path: &Path, sweep_dir: &Path) -> Result<(Manifest, Vec<TrainConfig>)> {
    let text = std::fs::read_to_string(sweep_path).map_err(|e| Error::io(sweep_path, e))?;
    let sweep: SweepFile = toml::from_str(&text).map_err(|e| invalid(sweep_path, e))?;
    let p = sweep_path;

    for (k, v) in &sweep.base {
        check_key(p, "base", k, v)?;
    }
    for (k, values) in &sweep.grid {
        if values.is_empty() {
            return Err(invalid(p, format!("[grid] {k} = [] has no values")));
        }
        for v in values {
            check_key(p, "grid", k, v)?;
        }
    }
    for (k, d) in &sweep.random {
        if sweep.grid.contains_key(k) {
            return Err(invalid(
                p,
                format!("'{k}' is both a [grid] and a [random] axis"),
            ));
        }
        d.check()
            .map_err(|e| invalid(p, format!("[random] {k}: {e}")))?;
        let probe = match d {
            Distribution::Choice(v) => v.clone(),
            _ => vec![d.draw(&mut DataRng::new(0))],
        };
        for v in &probe {
            check_key(p, "random", k, v)?;
        }
    }
    let seeds = match &sweep.seeds {
        Some(s) if s.is_empty() => return Err(invalid(p, "seeds = [] has no seeds")),
        Some(s) => {
            if sweep.grid.contains_key("seed") || sweep.random.contains_key("seed") {
                return Err(invalid(
                    p,
                    "'seed' is varied in [grid]/[random] and by seeds = [...]; use one",
                ));
            }
            Some(s.clone())
        }
        None => None,
    };
    let samples = match (sweep.random.is_empty(), sweep.samples) {
        (true, None) => 1,
        (true, Some(_)) => {
            return Err(invalid(
                p,
                "samples is set but [random] has no axes to draw",
            ))
        }
        (false, None) => {
            return Err(invalid(
                p,
                "[random] has axes but no samples = N (how many points to draw)",
            ))
        }
        (false, Some(0)) => return Err(invalid(p, "samples must be at least 1")),
        (false, Some(n)) => n,
    };

    // The run count first (checked arithmetic), so a huge grid or sample count is refused
    // before anything is expanded in memory or written.
    let seed_count = seeds.as_ref().map_or(1, |s| s.len());
    let limit = sweep.max_runs.unwrap_or(DEFAULT_MAX_RUNS);
    let grid_points = sweep
        .grid
        .values()
        .try_fold(1usize, |a, v| a.checked_mul(v.len()));
    let total = grid_points
        .and_then(|g| g.checked_mul(samples))
        .and_then(|x| x.checked_mul(seed_count));
    match total {
        Some(t) if t <= limit => {}
        _ => {
            return Err(invalid(
                p,
                format!(
                    "expands to {} runs ({} grid points × {samples} samples × {seed_count} seeds), more than max_runs = {limit}{}",
                    total.map_or("more than 2^64".to_string(), |t| t.to_string()),
                    grid_points.map_or("more than 2^64".to_string(), |g| g.to_string()),
                    if sweep.max_runs.is_none() { " (the default; set max_runs to plan more)" } else { "" }
                ),
            ))
        }
    }
    // Grid points: the Cartesian product, the last key varying fastest.
    let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (k, values) in &sweep.grid {
        points = points
            .into_iter()
            .flat_map(|pt| {
                values.iter().map(move |v| {
                    let mut pt = pt.clone();
                    pt.push((k.clone(), v.clone()));
                    pt
                })
            })
            .collect();
    }
    // Each grid point gets `samples` random draws; one stream for the whole sweep.
    let mut rng = DataRng::new(sweep.sample_seed);
    let mut hyper: Vec<Vec<(String, toml::Value)>> = Vec::new();
    for pt in &points {
        for _ in 0..samples {
            let mut h = pt.clone();
            for (k, d) in &sweep.random {
                h.push((k.clone(), d.draw(&mut rng)));
            }
            hyper.push(h);
        }
    }
    let seed_list: Vec<Option<u64>> = match &seeds {
        Some(s) => s.iter().copied().map(Some).collect(),
        None => vec![None],
    };
    let total = hyper.len() * seed_list.len();

    let mut base = sweep.base.clone();
    absolutise_paths(&mut base)?;
    let mut varied: Vec<String> = sweep
        .grid
        .keys()
        .chain(sweep.random.keys())
        .cloned()
        .collect();
    if seeds.is_some() {
        varied.push("seed".into());
    }
    let mut runs = Vec::with_capacity(total);
    let mut configs = Vec::with_capacity(total);
    for h in &hyper {
        for seed in &seed_list {
            let index = runs.len();
            let dir = run_dir_name(index);
            let mut table = base.clone();
            let mut params = BTreeMap::new();
            for (k, v) in h {
                table.insert(k.clone(), v.clone());
                params.insert(k.clone(), toml_to_json(v));
            }
            if let Some(s) = seed {
                table.insert("seed".into(), toml::Value::Integer(*s as i64));
                params.insert("seed".into(), serde_json::json!(s));
            }
            absolutise_paths(&mut table)?;
            // A sweep file without the key gets today's default, not the reading of a
            // run's config from before the key existed (TrainConfig::fused).
            table
                .entry("kernels")
                .or_insert(toml::Value::String(TrainConfig::default().kernels));
            table.insert(
                "out".into(),
                toml::Value::String(sweep_dir.join(&dir).display().to_string()),
            );
            let cfg: TrainConfig = toml::Value::Table(table)
                .try_into()
                .map_err(|e| invalid(p, format!("run {index} ({}): {e}", show(&params))))?;
            cfg.validate()
                .map_err(|e| invalid(p, format!("run {index} ({}): {e}", show(&params))))?;
            runs.push(PlannedRun {
                index,
                params,
                config: format!("{dir}/config.toml"),
                dir,
            });
            configs.push(cfg);
        }
    }
    let name = sweep.name.clone().unwrap_or_else(|| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into())
    });
    Ok((
        Manifest {
            name,
            sweep_file: p.display().to_string(),
            varied,
            runs,
        },
        configs,
    ))
}

/// `k = v, k = v` for messages.
pub fn show(params: &BTreeMap<String, serde_json::Value>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes each run's `config.toml` (unless it exists: a run that started keeps the config it
/// trains with) and `manifest.json` into `sweep_dir` (absolute).
pub fn write_plan(sweep_dir: &Path, manifest: &Manifest, configs: &[TrainConfig]) -> Result<()> {
    for (run, cfg) in manifest.runs.iter().zip(configs) {
        let dir = sweep_dir.join(&run.dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = sweep_dir.join(&run.config);
        if !path.exists() {
            crate::atomic::write(&path, cfg.to_toml().as_bytes())?;
        }
    }
    crate::atomic::write(
        &sweep_dir.join(MANIFEST),
        serde_json::to_string_pretty(manifest)
            .expect("manifest serialises")
            .as_bytes(),
    )
}

/// Expands `sweep_path` into `sweep_dir`: `runs/NNNN/config.toml` per run, `manifest.json`
/// and a copy of the sweep file as `sweep.toml`. Planning the same file into the same
/// directory again is a no-op; a different sweep there is refused, so results never mix.
pub fn plan(sweep_path: &Path, sweep_dir: &Path) -> Result<Manifest> {
    std::fs::create_dir_all(sweep_dir).map_err(|e| Error::io(sweep_dir, e))?;
    let sweep_dir: PathBuf = sweep_dir
        .canonicalize()
        .map_err(|e| Error::io(sweep_dir, e))?;
    let (manifest, configs) = expand(sweep_path, &sweep_dir)?;
    if sweep_dir.join(MANIFEST).exists() {
        let old = Manifest::load(&sweep_dir)?;
        if old.runs != manifest.runs {
            return Err(invalid(
                &sweep_dir,
                "already holds a different sweep (manifest.json); plan into another --out",
            ));
        }
    }
    let copy = sweep_dir.join("sweep.toml");
    let text = std::fs::read(sweep_path).map_err(|e| Error::io(sweep_path, e))?;
    crate::atomic::write(&copy, &text)?;
    write_plan(&sweep_dir, &manifest, &configs)?;
    Ok(manifest)
}
