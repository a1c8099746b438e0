//! `compare`: the same data and base settings trained with several methods and seeds, one
//! run directory per (method, seed), and the table of their test metrics with paired
//! intervals against noDA. A comparison is a sweep with a fixed plan: its directory holds a
//! `manifest.json`, so the sweep machinery runs it (finished runs are skipped, interrupted
//! ones resume, `tidal sweep run DIR --index I` trains one, the SLURM writer covers it), and
//! rerunning the command only trains what is missing before writing the table.
//!
//! With `matrix`, noDA alone is trained both ways round (pristine → noisy and noisy →
//! pristine) for the cross-domain matrix of the seed paper.

use super::plan::{write_plan, Manifest, PlannedRun, MANIFEST};
use super::{run_one, status, Outcome, Status};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::report::{compare_table, matrix_table, CompareRow, Summary};
use crate::train::{Method, TrainConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// How long each run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Budget {
    /// The base configuration as given (flags and `--config`).
    AsGiven,
    /// The documented protocol (`PAPER`): long enough for noDA's source accuracy to
    /// plateau, early stopping on source validation loss, diagnostics off, and per-method
    /// learning rates chosen on source validation.
    Paper,
}

impl std::str::FromStr for Budget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Budget> {
        match s {
            "as-given" | "none" => Ok(Budget::AsGiven),
            "paper" => Ok(Budget::Paper),
            other => Err(Error::config(
                "--budget",
                format!("unknown budget '{other}' (expected paper or as-given)"),
            )),
        }
    }
}

/// The paper budget's settings, written into every run's config and into `compare.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Protocol {
    pub epochs: usize,
    pub patience: usize,
    /// Learning rate of noDA/CORAL, MMD and DANN runs (constant schedule).
    pub lr_noda: f32,
    pub lr_mmd: f32,
    pub lr_dann: f32,
}

/// The protocol behind `--budget paper` (how it was chosen: README, "What transferred").
pub const PAPER: Protocol = Protocol {
    epochs: 30,
    patience: 10,
    lr_noda: 1e-3,
    lr_mmd: 1e-3,
    lr_dann: 1e-3,
};

impl Protocol {
    fn apply(&self, cfg: &mut TrainConfig) {
        use crate::train::Transfer;
        cfg.epochs = self.epochs;
        cfg.patience = self.patience;
        cfg.diagnostics = false;
        cfg.schedule = crate::train::config::ScheduleKind::Constant;
        cfg.lr = match cfg.method.transfer {
            Transfer::Mmd => self.lr_mmd,
            Transfer::Dann => self.lr_dann,
            Transfer::NoDa | Transfer::Coral => self.lr_noda,
        };
    }
}

/// What to compare.
pub struct Plan<'a> {
    pub base: &'a TrainConfig,
    pub methods: &'a [Method],
    pub seeds: u64,
    pub budget: Budget,
    /// The cross-domain matrix (noDA both ways round) instead of the methods.
    pub matrix: bool,
}

/// The direction of a matrix run: trained on the base source, or on the base target.
const FORWARD: &str = "forward";
const SWAPPED: &str = "swapped";

/// The run directory name of (method, seed, direction).
pub fn run_dir_name(method: Method, seed: u64, direction: &str) -> String {
    let m = method.to_string().replace('+', "_");
    if direction == FORWARD {
        format!("{m}-seed{seed}")
    } else {
        format!("{m}-{direction}-seed{seed}")
    }
}

/// The runs of `plan` under `root` (absolute): the manifest and every run's config, each
/// validated before anything trains.
pub fn expand(plan: &Plan, root: &Path) -> Result<(Manifest, Vec<TrainConfig>)> {
    let noda: Method = "noda".parse()?;
    let (methods, directions): (Vec<Method>, Vec<&str>) = if plan.matrix {
        (vec![noda], vec![FORWARD, SWAPPED])
    } else {
        (plan.methods.to_vec(), vec![FORWARD])
    };
    if methods.is_empty() {
        return Err(Error::config("--methods", "no method to compare"));
    }
    if plan.seeds == 0 {
        return Err(Error::config("--seeds", "must be at least 1"));
    }
    let mut runs = Vec::new();
    let mut configs = Vec::new();
    for &method in &methods {
        for &direction in &directions {
            for k in 0..plan.seeds {
                let mut cfg = plan.base.clone();
                cfg.method = method;
                cfg.seed = plan.base.seed + k;
                if plan.budget == Budget::Paper {
                    PAPER.apply(&mut cfg);
                }
                if direction == SWAPPED {
                    swap(&mut cfg)?;
                }
                let dir = run_dir_name(method, cfg.seed, direction);
                cfg.out = root.join(&dir).display().to_string();
                cfg.validate()?;
                let mut params = BTreeMap::new();
                params.insert("method".into(), serde_json::json!(method.to_string()));
                params.insert("seed".into(), serde_json::json!(cfg.seed));
                if plan.matrix {
                    params.insert("direction".into(), serde_json::json!(direction));
                }
                runs.push(PlannedRun {
                    index: runs.len(),
                    params,
                    config: format!("{dir}/config.toml"),
                    dir,
                });
                configs.push(cfg);
            }
        }
    }
    let mut varied = vec!["method".to_string(), "seed".to_string()];
    if plan.matrix {
        varied.push("direction".into());
    }
    let manifest = Manifest {
        name: if plan.matrix {
            "crossdomain"
        } else {
            "compare"
        }
        .into(),
        sweep_file: String::new(),
        varied,
        runs,
    };
    Ok((manifest, configs))
}

/// Trains on the other domain: the built-in data's noisy images, or the target files (which
/// then need labels).
fn swap(cfg: &mut TrainConfig) -> Result<()> {
    match (&cfg.source, &cfg.target) {
        (None, None) => cfg.swap_domains = !cfg.swap_domains,
        (Some(_), Some(_)) => {
            if cfg.target_labels.is_none()
                && !cfg
                    .target
                    .as_deref()
                    .is_some_and(|t: &str| crate::data::is_fits(Path::new(t)))
            {
                return Err(Error::config(
                    "--matrix",
                    "training on the target domain needs its labels (--target-labels)",
                ));
            }
            std::mem::swap(&mut cfg.source, &mut cfg.target);
            std::mem::swap(&mut cfg.source_labels, &mut cfg.target_labels);
        }
        _ => {}
    }
    Ok(())
}

/// Writes the plan into `root` (created). A comparison already there may be extended (its
/// runs are the first of the new plan: more methods, or more seeds of a single method);
/// a different one is refused, so results never mix. Returns the manifest.
pub fn write(plan: &Plan, root: &Path) -> Result<Manifest> {
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let (manifest, configs) = expand(plan, &root)?;
    if root.join(MANIFEST).exists() {
        let old = Manifest::load(&root)?;
        if !manifest.runs.starts_with(&old.runs) {
            return Err(Error::data(
                &root.join(MANIFEST),
                "already holds a different comparison or sweep; use another --out",
            ));
        }
    }
    write_plan(&root, &manifest, &configs)?;
    Ok(manifest)
}

/// What `run` reports as it goes.
pub enum Event<'a> {
    Started {
        k: usize,
        n: usize,
        run: &'a PlannedRun,
    },
    Finished {
        k: usize,
        n: usize,
        run: &'a PlannedRun,
        outcome: std::result::Result<Outcome, String>,
        seconds: f64,
        /// Wall time so far, and the estimated time left (from the runs trained so far).
        elapsed: f64,
        left: Option<f64>,
    },
}

/// Trains every unfinished run of the comparison in `root`, in this process, one after
/// another. A run that fails is recorded (`failed.json`) and the others go on; an
/// interrupted one (Ctrl-C, SIGTERM) stops the comparison, resumable. Returns the number of
/// failed runs.
pub fn run(
    root: &Path,
    ctx: &Rc<Context>,
    retry_failed: bool,
    mut event: impl FnMut(Event),
) -> Result<usize> {
    let manifest = Manifest::load(root)?;
    let n = manifest.runs.len();
    let started = Instant::now();
    let (mut trained, mut train_secs, mut failed) = (0usize, 0.0f64, 0usize);
    // Runs with something to train; the time left is estimated from those trained so far.
    let pending: Vec<bool> = manifest
        .runs
        .iter()
        .map(|r| match status(&root.join(&r.dir)) {
            Status::Done => false,
            Status::Failed => retry_failed,
            _ => true,
        })
        .collect();
    let mut remaining = pending.iter().filter(|p| **p).count();
    for (k, r) in manifest.runs.iter().enumerate() {
        event(Event::Started { k, n, run: r });
        let t = Instant::now();
        let outcome = match run_one(
            root,
            r.index,
            retry_failed,
            || Ok(ctx.clone()),
            |_, _, _, _| {},
        ) {
            Ok(o) => Ok(o),
            Err(e @ Error::Interrupted { .. }) => return Err(e),
            Err(e) => {
                failed += 1;
                Err(e.to_string())
            }
        };
        let seconds = t.elapsed().as_secs_f64();
        if pending[k] {
            remaining -= 1;
            if outcome.is_ok() {
                trained += 1;
                train_secs += seconds;
            }
        }
        let left = (trained > 0).then(|| train_secs / trained as f64 * remaining as f64);
        event(Event::Finished {
            k,
            n,
            run: r,
            outcome,
            seconds,
            elapsed: started.elapsed().as_secs_f64(),
            left,
        });
    }
    Ok(failed)
}

/// One (method, seed) of `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub method: String,
    pub seed: u64,
    pub direction: String,
    /// Relative to `compare.json`'s directory, so the file can move (e.g. into a repository).
    pub dir: PathBuf,
    pub status: Status,
    /// The run's resolved configuration (its `config.toml`, with `out` relative like `dir`).
    pub config: String,
    /// Test metrics, adapter and kernel variant of a finished run.
    pub summary: Option<Summary>,
}

/// `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub tidal_version: String,
    pub git_commit: String,
    pub budget: Budget,
    /// The paper budget's settings (also in every run's config).
    pub protocol: Option<Protocol>,
    pub runs: Vec<RunRecord>,
    /// Per method: seeds and test metrics of the finished runs (source first).
    pub rows: Vec<CompareRow>,
    /// The Markdown table (`compare.md`).
    pub table: String,
}

/// Reads every run of the comparison in `root` and writes `compare.json` and `compare.md`
/// from the finished ones.
pub fn collect(root: &Path, budget: Budget) -> Result<CompareReport> {
    let manifest = Manifest::load(root)?;
    let mut runs = Vec::new();
    for r in &manifest.runs {
        let dir = root.join(&r.dir);
        let summary_path = dir.join("summary.json");
        let summary: Option<Summary> = if summary_path.is_file() {
            let text =
                std::fs::read_to_string(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| Error::data(&summary_path, e.to_string()))?,
            )
        } else {
            None
        };
        let config_path = root.join(&r.config);
        let mut config = TrainConfig::from_toml_file(&config_path)?;
        config.out = r.dir.clone();
        runs.push(RunRecord {
            method: r.params["method"].as_str().unwrap_or_default().to_string(),
            seed: r.params["seed"].as_u64().unwrap_or_default(),
            direction: r
                .params
                .get("direction")
                .and_then(|d| d.as_str())
                .unwrap_or(FORWARD)
                .to_string(),
            dir: PathBuf::from(&r.dir),
            status: status(&dir),
            config: config.to_toml(),
            summary,
        });
    }
    let mut rows: Vec<CompareRow> = Vec::new();
    for rec in &runs {
        let Some(s) = &rec.summary else { continue };
        let key = if rec.direction == FORWARD {
            rec.method.clone()
        } else {
            format!("{} ({})", rec.method, rec.direction)
        };
        let row = match rows.iter_mut().find(|r| r.method == key) {
            Some(r) => r,
            None => {
                rows.push(CompareRow {
                    method: key,
                    seeds: Vec::new(),
                    source: Vec::new(),
                    target: Vec::new(),
                });
                rows.last_mut().expect("just pushed")
            }
        };
        if let Some(t) = &s.target_test {
            row.seeds.push(rec.seed);
            row.source.push(s.source_test);
            row.target.push(*t);
        }
    }
    let table = if manifest.name == "crossdomain" {
        match (rows.first(), rows.get(1)) {
            (Some(p), Some(q)) => matrix_table(p, q),
            _ => String::from("(the cross-domain matrix needs finished runs both ways round)\n"),
        }
    } else {
        compare_table(&rows)
    };
    let report = CompareReport {
        tidal_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: crate::bench::git_commit(),
        budget,
        protocol: (budget == Budget::Paper).then_some(PAPER),
        runs,
        rows,
        table: table.clone(),
    };
    crate::atomic::write(&root.join("compare.md"), table.as_bytes())?;
    crate::atomic::write(
        &root.join("compare.json"),
        serde_json::to_string_pretty(&report)
            .expect("report serialises")
            .as_bytes(),
    )?;
    Ok(report)
}
