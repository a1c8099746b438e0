//! SLURM array job scripts: one array task per unit of work, each running one tidal command
//! with `$SLURM_ARRAY_TASK_ID` in it (a sweep's or a comparison's runs call `tidal sweep run
//! DIR --index ID`; other commands bring their own). SLURM does the scheduling; this only
//! writes the script.

use super::Manifest;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// At most this many array tasks at once (`%M`).
    pub max_parallel: usize,
    pub time: String,
    pub partition: Option<String>,
    /// Empty = no `--gres` line.
    pub gres: String,
    pub cpus_per_task: Option<usize>,
    pub job_name: Option<String>,
    /// `#SBATCH ...` lines go into the header; any other line runs before the task
    /// (e.g. `module load cuda`). Raw by design: they are written as given, unchecked.
    pub extra: Vec<String>,
    /// Extra arguments for `sweep run` (adapter choice).
    pub run_args: Vec<String>,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            max_parallel: 8,
            time: "04:00:00".into(),
            partition: None,
            gres: "gpu:1".into(),
            cpus_per_task: None,
            job_name: None,
            extra: Vec::new(),
            run_args: Vec::new(),
        }
    }
}

/// A value for an `#SBATCH --key=value` line: names, partitions, times and resources from
/// a conservative character set, so no value can end the line or start another.
fn sbatch_word(key: &str, v: &str) -> Result<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._:+=,@%/-".contains(c);
    if v.is_empty() || !v.chars().all(ok) {
        return Err(Error::config(
            key,
            format!("{v:?}: expected letters, digits and . _ : + = , @ % / - only (it goes into an #SBATCH line)"),
        ));
    }
    Ok(v.to_string())
}

/// A path for an `#SBATCH --output=...` line: anything but control characters and double
/// quotes, double-quoted when it holds spaces (sbatch reads quotes in directives).
fn sbatch_path(key: &str, p: &Path) -> Result<String> {
    let v = p.display().to_string();
    if v.chars().any(|c| c.is_control() || c == '"') {
        return Err(Error::config(
            key,
            format!("{v:?}: a path with a control character (a newline?) or a double quote cannot go into an #SBATCH line"),
        ));
    }
    Ok(if v.contains(char::is_whitespace) {
        format!("\"{v}\"")
    } else {
        v
    })
}

/// A job name from a sweep's name: characters outside the safe set become `_`.
fn job_name_from(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Single-quotes for bash.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The array task id, as the task command refers to it.
pub const TASK_ID: &str = "\"$SLURM_ARRAY_TASK_ID\"";

/// One array job: `tasks` tasks, each running `command` (arguments, already quoted where
/// needed; `TASK_ID` stands for the task's index), logging into `dir/logs`.
pub struct ArrayJob<'a> {
    pub name: String,
    pub tasks: usize,
    pub dir: &'a Path,
    pub what: String,
    pub command: Vec<String>,
}

/// The script text of a sweep; `tidal` and `sweep_dir` must be absolute (tasks start
/// elsewhere).
pub fn script(
    manifest: &Manifest,
    sweep_dir: &Path,
    tidal: &Path,
    o: &SlurmOptions,
) -> Result<String> {
    let n = manifest.runs.len();
    if n == 0 {
        return Err(Error::data(
            &sweep_dir.join(super::plan::MANIFEST),
            "the sweep has no runs",
        ));
    }
    let mut command = vec![
        quote(&tidal.display().to_string()),
        "sweep".into(),
        "run".into(),
        quote(&sweep_dir.display().to_string()),
        "--index".into(),
        TASK_ID.into(),
    ];
    command.extend(o.run_args.iter().map(|a| quote(a)));
    array_script(
        &ArrayJob {
            name: o
                .job_name
                .clone()
                .unwrap_or_else(|| format!("tidal-{}", job_name_from(&manifest.name))),
            tasks: n,
            dir: sweep_dir,
            what: format!(
                "{n} runs planned in {}; finished runs are skipped and interrupted ones resume,\n# so the array can be resubmitted as is.",
                sweep_dir.display()
            ),
            command,
        },
        o,
    )
}

/// The script text of any array job.
pub fn array_script(job: &ArrayJob, o: &SlurmOptions) -> Result<String> {
    let n = job.tasks;
    if n == 0 {
        return Err(Error::config(
            "tasks",
            "an array job needs at least one task",
        ));
    }
    if o.max_parallel == 0 {
        return Err(Error::config("--max-parallel", "must be at least 1"));
    }
    let logs = job.dir.join("logs");
    // Every value checked before a line is written: a newline, quote or `$(...)` in a name,
    // partition, time or path must not reach the script.
    let name = sbatch_word("--job-name", &job.name)?;
    let time = sbatch_word("--time", &o.time)?;
    let gres = if o.gres.is_empty() {
        None
    } else {
        Some(sbatch_word("--gres", &o.gres)?)
    };
    let partition = o
        .partition
        .as_deref()
        .map(|p| sbatch_word("--partition", p))
        .transpose()?;
    let out = sbatch_path("the sweep directory", &logs.join("%A_%a.out"))?;
    let err = sbatch_path("the sweep directory", &logs.join("%A_%a.err"))?;
    if job.what.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::config(
            "the sweep directory",
            "contains a control character",
        ));
    }
    let mut s = String::from("#!/bin/bash\n");
    let mut sb = |line: String| s.push_str(&format!("#SBATCH {line}\n"));
    sb(format!("--job-name={name}"));
    sb(format!("--array=0-{}%{}", n - 1, o.max_parallel.min(n)));
    sb(format!("--time={time}"));
    // SIGTERM to the batch shell (which execs tidal) two minutes before the limit: tidal
    // stops after a step with last.safetensors written, so a resubmitted task resumes.
    sb("--signal=B:TERM@120".into());
    if let Some(g) = gres {
        sb(format!("--gres={g}"));
    }
    if let Some(p) = partition {
        sb(format!("--partition={p}"));
    }
    if let Some(c) = o.cpus_per_task {
        sb(format!("--cpus-per-task={c}"));
    }
    sb(format!("--output={out}"));
    sb(format!("--error={err}"));
    let (header, setup): (Vec<&String>, Vec<&String>) = o
        .extra
        .iter()
        .partition(|l| l.trim_start().starts_with("#SBATCH"));
    for l in header {
        s.push_str(l.trim());
        s.push('\n');
    }
    s.push_str(&format!("# {}\nset -euo pipefail\n", job.what));
    for l in setup {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!("exec {}\n", job.command.join(" ")));
    Ok(s)
}

/// Writes `sweep.sbatch` (and the logs folder SLURM writes into) and returns its path.
pub fn write(sweep_dir: &Path, tidal: &Path, o: &SlurmOptions) -> Result<PathBuf> {
    let manifest = Manifest::load(sweep_dir)?;
    let logs = sweep_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| Error::Io {
        path: logs.display().to_string(),
        source,
    })?;
    let path = sweep_dir.join("sweep.sbatch");
    let text = script(&manifest, sweep_dir, tidal, o)?;
    crate::atomic::write(&path, text.as_bytes())?;
    Ok(path)
}
