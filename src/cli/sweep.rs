//! The `tidal sweep` subcommands.

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tidal::gpu::{AdapterChoice, Context};
use tidal::sweep::{plan, slurm, status, summary, Outcome, Status};

/// How the SLURM array job of a sweep (or a comparison) is written and submitted.
#[derive(Args, Debug, Clone)]
pub struct SlurmArgs {
    /// At most this many tasks at once (--array=0-N%M)
    #[arg(long, default_value_t = 8)]
    pub max_parallel: usize,
    /// Time limit per task
    #[arg(long, default_value = "04:00:00")]
    pub time: String,
    #[arg(long)]
    pub partition: Option<String>,
    /// Generic resources per task; "" for none
    #[arg(long, default_value = "gpu:1")]
    pub gres: String,
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Job name (default: tidal-<sweep name>)
    #[arg(long)]
    pub job_name: Option<String>,
    /// Extra script line, repeatable: "#SBATCH ..." lines join the header, others
    /// (e.g. "module load cuda") run before the task
    #[arg(long)]
    pub extra: Vec<String>,
    /// Run sbatch on the script
    #[arg(long)]
    pub submit: bool,
}

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Expand a sweep file (TOML: [base], [grid], [random], seeds, samples) into numbered
    /// run configs DIR/runs/NNNN/config.toml and DIR/manifest.json
    Plan {
        /// The sweep file
        sweep: PathBuf,
        /// Sweep directory
        #[arg(long)]
        out: PathBuf,
    },
    /// Train one planned run in this process (what each SLURM array task calls): a finished
    /// run is skipped, an interrupted one resumes from last.safetensors
    Run {
        dir: PathBuf,
        #[arg(long)]
        index: usize,
        /// Train runs that failed before again (by default they are skipped)
        #[arg(long)]
        retry_failed: bool,
    },
    /// Train every unfinished run on this machine, J at a time, each in its own process
    /// (with one GPU, J > 1 shares it)
    Local {
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Train runs that failed before again (by default they are skipped)
        #[arg(long)]
        retry_failed: bool,
    },
    /// Write DIR/sweep.sbatch, a SLURM array job with one task per run, and print the
    /// sbatch command
    Slurm {
        dir: PathBuf,
        #[command(flatten)]
        slurm: SlurmArgs,
    },
    /// Table of all runs (status, hyperparameters, selection scores, target accuracy as an
    /// oracle column), which run each score picks and how each score correlates with
    /// target accuracy; writes DIR/summary.csv, DIR/score_vs_target.csv and .png
    Summary {
        dir: PathBuf,
        /// Print JSON instead of the table
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `tidal sweep` subcommand; `adapter` holds the --adapter/--backend flags given
/// (environment fallbacks apply where a device is opened).
pub fn sweep(cmd: &SweepCommand, adapter: &AdapterChoice) -> anyhow::Result<()> {
    let adapter_args = || adapter_args(adapter);
    match cmd {
        SweepCommand::Plan { sweep, out } => {
            let m = plan::plan(sweep, out)?;
            let dir = out.canonicalize()?;
            println!(
                "planned {} runs into {} (varied: {})",
                m.runs.len(),
                dir.display(),
                m.varied.join(", ")
            );
            for r in &m.runs {
                println!("  {:04}  {}", r.index, plan::show(&r.params));
            }
            println!(
                "next: tidal sweep local {d} --jobs 1, or tidal sweep slurm {d}",
                d = out.display()
            );
        }
        SweepCommand::Run {
            dir,
            index,
            retry_failed,
        } => {
            // Ctrl-C, and SIGTERM at a SLURM time limit, stop after a step with
            // last.safetensors written, so a resubmitted task resumes.
            tidal::train::install_interrupt_handler();
            let choice =
                AdapterChoice::with_env_fallback(adapter.adapter.clone(), adapter.backend.clone());
            let outcome = tidal::sweep::run_one(
                dir,
                *index,
                *retry_failed,
                || Context::new(&choice),
                |epoch, step, steps, msg| {
                    if step == steps {
                        eprintln!("run {index:04} epoch {}: {msg}", epoch + 1);
                    }
                },
            )?;
            match outcome {
                Outcome::AlreadyDone => {
                    println!("run {index:04} is already done (summary.json); skipped")
                }
                Outcome::SkippedFailed(why) => println!(
                    "run {index:04} failed before ({why}); skipped (--retry-failed trains it again)"
                ),
                Outcome::Trained { resumed } => println!(
                    "run {index:04} done{}",
                    if resumed { " (resumed)" } else { "" }
                ),
            }
        }
        SweepCommand::Local {
            dir,
            jobs,
            retry_failed,
        } => local(dir, *jobs, *retry_failed, &adapter_args())?,
        SweepCommand::Slurm { dir, slurm } => write_slurm(dir, slurm, &adapter_args())?,
        SweepCommand::Summary { dir, json } => {
            let s = summary::collect(dir)?;
            summary::write(dir, &s)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", s.text());
                println!(
                    "wrote {}, {} and score_vs_target.png (when target accuracies exist)",
                    dir.join("summary.csv").display(),
                    dir.join("score_vs_target.csv").display()
                );
            }
        }
    }
    Ok(())
}

/// Writes DIR/sweep.sbatch for the runs planned in `dir` (a sweep or a comparison), and
/// submits it with `--submit`.
pub fn write_slurm(dir: &Path, a: &SlurmArgs, run_args: &[String]) -> anyhow::Result<()> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    let exe = std::env::current_exe()?.canonicalize()?;
    let opts = slurm::SlurmOptions {
        max_parallel: a.max_parallel,
        time: a.time.clone(),
        partition: a.partition.clone(),
        gres: a.gres.clone(),
        cpus_per_task: a.cpus_per_task,
        job_name: a.job_name.clone(),
        extra: a.extra.clone(),
        run_args: run_args.to_vec(),
    };
    let path = slurm::write(&dir, &exe, &opts)?;
    println!("wrote {}", path.display());
    let cmd = format!("sbatch {}", slurm::quote(&path.display().to_string()));
    if a.submit {
        let out = Command::new("sbatch")
            .arg(&path)
            .output()
            .context("running sbatch (is SLURM installed here?)")?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            bail!(
                "{cmd} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        println!(
            "submitted; follow with: tidal sweep summary {}",
            dir.display()
        );
    } else {
        println!("submit with: {cmd}");
    }
    Ok(())
}

/// The --adapter/--backend flags to pass on to child processes and array tasks.
pub fn adapter_args(adapter: &AdapterChoice) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(x) = &adapter.adapter {
        a.extend(["--adapter".to_string(), x.clone()]);
    }
    if let Some(x) = &adapter.backend {
        a.extend(["--backend".to_string(), x.clone()]);
    }
    a
}

/// The last non-empty line of a log, to say why a process died.
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Runs the unfinished runs as child processes `tidal sweep run DIR --index I`, at most
/// `jobs` at a time, each logging to DIR/logs/local-NNNN.log. A child that dies without
/// recording why (a crash, a kill) is marked failed here, so no run vanishes silently.
fn local(
    dir: &Path,
    jobs: usize,
    retry_failed: bool,
    adapter_args: &[String],
) -> anyhow::Result<()> {
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let manifest = tidal::sweep::Manifest::load(dir)?;
    let exe = std::env::current_exe()?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut queue = Vec::new();
    let (mut skipped_done, mut skipped_failed) = (0, 0);
    for r in &manifest.runs {
        match status(&dir.join(&r.dir)) {
            Status::Done => skipped_done += 1,
            Status::Failed if !retry_failed => skipped_failed += 1,
            Status::Running => println!("run {:04} is running elsewhere; left to it", r.index),
            _ => queue.push(r.clone()),
        }
    }
    println!(
        "{} runs to train, {} at a time; {skipped_done} already done, {skipped_failed} failed before{}",
        queue.len(),
        jobs,
        if skipped_failed > 0 { " (--retry-failed trains them again)" } else { "" }
    );
    let total = queue.len();
    queue.reverse();
    let mut active: Vec<(tidal::sweep::PlannedRun, Child, Instant, PathBuf)> = Vec::new();
    let (mut finished, mut failed) = (0usize, 0usize);
    while !queue.is_empty() || !active.is_empty() {
        while active.len() < jobs {
            let Some(r) = queue.pop() else { break };
            let log = logs.join(format!("local-{:04}.log", r.index));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            let child = Command::new(&exe)
                .args(["sweep", "run"])
                .arg(dir)
                .args(["--index", &r.index.to_string()])
                .args(retry_failed.then_some("--retry-failed"))
                .args(adapter_args)
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .with_context(|| format!("starting {}", exe.display()))?;
            println!("run {:04} started: {}", r.index, plan::show(&r.params));
            active.push((r, child, Instant::now(), log));
        }
        std::thread::sleep(Duration::from_millis(200));
        let mut k = 0;
        while k < active.len() {
            let Some(exit) = active[k].1.try_wait()? else {
                k += 1;
                continue;
            };
            let (r, _, started, log) = active.swap_remove(k);
            finished += 1;
            let run_dir = dir.join(&r.dir);
            let secs = started.elapsed().as_secs_f64();
            if exit.success() && status(&run_dir) == Status::Done {
                println!(
                    "[{finished}/{total}] run {:04} done in {secs:.0} s",
                    r.index
                );
                continue;
            }
            failed += 1;
            let why = match tidal::sweep::failure(&run_dir) {
                Some(f) => f.error,
                None => {
                    let why = format!(
                        "process exited with {exit} without recording an error; {}: {}",
                        log.display(),
                        last_line(&log)
                    );
                    tidal::sweep::mark_failed(&run_dir, &why)?;
                    why
                }
            };
            println!(
                "[{finished}/{total}] run {:04} failed after {secs:.0} s: {why}",
                r.index
            );
        }
    }
    println!("see the results: tidal sweep summary {}", dir.display());
    if failed > 0 {
        bail!("{failed} of {total} runs failed (tidal sweep summary lists why)");
    }
    Ok(())
}
