//! Hyperparameter sweeps: a sweep file expands into numbered run configurations
//! (`plan`), which run one at a time in-process (`run_one`, what each SLURM array task
//! calls), as local child processes (`local`) or as a SLURM array job (`slurm`); `summary`
//! tabulates them with the unsupervised model-selection scores of each run.
//!
//! Run state lives in the run directories only, so any mix of local runs, array tasks and
//! restarts agrees on it: `summary.json` = done, `failed.json` = failed, `running.json` =
//! a process is on it, `metrics.jsonl`/`last.safetensors` alone = partial (resumable).

pub mod compare;
pub mod plan;
pub mod slurm;
pub mod summary;

pub use plan::{expand, plan, write_plan, Manifest, PlannedRun};

use crate::atomic;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub const FAILED: &str = "failed.json";
pub const RUNNING: &str = "running.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Failed,
    Running,
    Partial,
    Pending,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Running => "running",
            Status::Partial => "partial",
            Status::Pending => "pending",
        })
    }
}

/// What `failed.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
    pub host: String,
    pub time: String,
}

/// What `running.json` holds: who is training the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Running {
    pid: u32,
    host: String,
    started: String,
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A `running.json` left by a process that no longer exists (killed hard, node rebooted)
/// must not keep the run "running" forever; liveness is checkable only on the same host.
fn is_stale(r: &Running) -> bool {
    cfg!(target_os = "linux")
        && r.host == hostname()
        && !Path::new(&format!("/proc/{}", r.pid)).exists()
}

fn read_running(run_dir: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(run_dir.join(RUNNING)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The state of one run directory.
pub fn status(run_dir: &Path) -> Status {
    if run_dir.join("summary.json").is_file() {
        return Status::Done;
    }
    if run_dir.join(FAILED).is_file() {
        return Status::Failed;
    }
    match read_running(run_dir) {
        Some(r) if !is_stale(&r) => Status::Running,
        _ if run_dir.join("metrics.jsonl").is_file()
            || run_dir.join("last.safetensors").is_file() =>
        {
            Status::Partial
        }
        Some(_) => Status::Partial,
        None => Status::Pending,
    }
}

/// The failure recorded for a run, if any.
pub fn failure(run_dir: &Path) -> Option<Failure> {
    let text = std::fs::read_to_string(run_dir.join(FAILED)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records that a run failed, with the reason; `summary` lists it and never picks it.
pub fn mark_failed(run_dir: &Path, error: &str) -> Result<()> {
    let f = Failure {
        error: error.to_string(),
        host: hostname(),
        time: now(),
    };
    atomic::write(
        &run_dir.join(FAILED),
        serde_json::to_string_pretty(&f)
            .expect("failure serialises")
            .as_bytes(),
    )
}

/// The planned run `index` of the sweep in `sweep_dir`.
pub fn planned(sweep_dir: &Path, index: usize) -> Result<(Manifest, PlannedRun)> {
    let m = Manifest::load(sweep_dir)?;
    let run = m.runs.get(index).cloned().ok_or_else(|| {
        Error::data(
            &sweep_dir.join(plan::MANIFEST),
            format!(
                "no run {index}; the sweep has runs 0 to {}",
                m.runs.len().saturating_sub(1)
            ),
        )
    })?;
    Ok((m, run))
}

/// What `run_one` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// summary.json was already there.
    AlreadyDone,
    /// An earlier attempt failed and `retry_failed` was not given.
    SkippedFailed(String),
    Trained {
        resumed: bool,
    },
}

/// Runs planned run `index` in this process: skips a finished run, resumes a partial one
/// from `last.safetensors`, and records an error or panic in `failed.json` before
/// returning it. `ctx` is created only when there is something to train.
pub fn run_one(
    sweep_dir: &Path,
    index: usize,
    retry_failed: bool,
    ctx: impl FnOnce() -> Result<Rc<Context>>,
    progress: impl FnMut(usize, usize, usize, &str),
) -> Result<Outcome> {
    let (_, run) = planned(sweep_dir, index)?;
    // Absolute, so the paths in messages and failed.json mean something from anywhere.
    let sweep_dir = sweep_dir.canonicalize().map_err(|source| Error::Io {
        path: sweep_dir.display().to_string(),
        source,
    })?;
    let dir: PathBuf = sweep_dir.join(&run.dir);
    match status(&dir) {
        Status::Done => return Ok(Outcome::AlreadyDone),
        Status::Failed if !retry_failed => {
            let why = failure(&dir).map(|f| f.error).unwrap_or_default();
            return Ok(Outcome::SkippedFailed(why));
        }
        Status::Running => {
            let r = read_running(&dir);
            let (pid, host) = r.map(|r| (r.pid, r.host)).unwrap_or_default();
            // Two trainers in one directory would corrupt it; a live process on this host
            // is certain, one on another host may be a killed task that left its marker.
            if host == hostname() {
                return Err(Error::data(
                    &dir,
                    format!("run {index} is being trained by process {pid} on this host"),
                ));
            }
            eprintln!("run {index}: {RUNNING} names process {pid} on {host}; assuming it was killed and taking over");
        }
        _ => {}
    }
    let mut cfg = TrainConfig::from_toml_file(&sweep_dir.join(&run.config))?;
    // The manifest's relative path wins over the absolute one in config.toml, so a sweep
    // directory that was moved or mounted elsewhere still writes into itself.
    cfg.out = dir.display().to_string();
    let _ = std::fs::remove_file(dir.join(FAILED));
    let resumed = dir.join("last.safetensors").is_file();
    atomic::write(
        &dir.join(RUNNING),
        serde_json::to_string(&Running {
            pid: std::process::id(),
            host: hostname(),
            started: now(),
        })
        .expect("serialises")
        .as_bytes(),
    )?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
        let ctx = ctx()?;
        // A failed run retried from scratch replaces what its first attempt left.
        let start = if resumed {
            crate::train::Start::Resume
        } else if crate::train::holds_run(&dir) {
            crate::train::Start::Overwrite
        } else {
            crate::train::Start::New
        };
        crate::train::train_run(&ctx, &cfg, start, progress).map(|_| ())
    }));
    let _ = std::fs::remove_file(dir.join(RUNNING));
    let err = match result {
        Ok(Ok(())) => return Ok(Outcome::Trained { resumed }),
        // Stopped on a signal with last.safetensors written: resumable, not failed.
        Ok(Err(e @ Error::Interrupted { .. })) => return Err(e),
        Ok(Err(e)) => e.to_string(),
        Err(panic) => format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        ),
    };
    mark_failed(&dir, &err)?;
    Err(Error::Invalid(format!("run {index} failed: {err}")))
}
