//! `tidal compare`: methods × seeds (or the cross-domain matrix) trained under one protocol,
//! resumable, locally or as a SLURM array, and the table with paired intervals.

use super::sweep::{adapter_args, write_slurm, SlurmArgs};
use super::train::{train_config, TrainArgs};
use clap::Args;
use std::path::PathBuf;
use tidal::sweep::compare::{self, Budget, Event, Plan};

#[derive(Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// Methods to compare (comma-separated)
    #[arg(
        long,
        default_value = "noda,mmd,dann,mmd+fisher+entropy,dann+fisher+entropy"
    )]
    pub methods: String,
    /// Seeds per method (seed, seed + 1, ...): the table shows mean ± std and 95 % intervals
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// paper: the documented protocol (30 epochs, early stopping with patience 10 on source
    /// validation loss, diagnostics off, the README's learning rates); as-given: the
    /// training settings as given
    #[arg(long, default_value = "as-given")]
    pub budget: Budget,
    /// The cross-domain matrix instead: noDA trained on each domain, tested on both
    #[arg(long)]
    pub matrix: bool,
    /// Train runs that failed before again (by default they are skipped)
    #[arg(long)]
    pub retry_failed: bool,
    /// Write DIR/sweep.sbatch (one array task per run) instead of training here; rerun the
    /// same command afterwards for the table
    #[arg(long)]
    pub slurm: bool,
    #[command(flatten)]
    pub slurm_args: SlurmArgs,
}

fn hms(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

pub fn compare(a: &CompareArgs) -> anyhow::Result<()> {
    let base = train_config(&a.train)?;
    let root = PathBuf::from(match (&a.train.out, a.matrix) {
        (Some(_), _) => base.out.as_str(),
        (None, false) => "runs/compare",
        (None, true) => "runs/crossdomain",
    });
    let methods = a
        .methods
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::parse)
        .collect::<tidal::Result<Vec<tidal::train::Method>>>()?;
    let plan = Plan {
        base: &base,
        methods: &methods,
        seeds: a.seeds,
        budget: a.budget,
        matrix: a.matrix,
    };
    let manifest = compare::write(&plan, &root)?;
    let root = root.canonicalize()?;
    if a.slurm {
        let choice = a.train.adapter.choice();
        write_slurm(&root, &a.slurm_args, &adapter_args(&choice))?;
        println!(
            "{} runs; when the array has finished, rerun this command for the table",
            manifest.runs.len()
        );
        return Ok(());
    }
    tidal::train::install_interrupt_handler();
    let ctx = tidal::Context::new(&a.train.adapter.choice())?;
    let failed = compare::run(&root, &ctx, a.retry_failed, |e| match e {
        Event::Started { k, n, run } => {
            eprintln!(
                "[{}/{n}] {} → {}",
                k + 1,
                tidal::sweep::plan::show(&run.params),
                run.dir
            )
        }
        Event::Finished {
            k,
            n,
            run,
            outcome,
            seconds,
            elapsed,
            left,
        } => {
            let what = match outcome {
                Ok(tidal::sweep::Outcome::AlreadyDone) => "already done".to_string(),
                Ok(tidal::sweep::Outcome::SkippedFailed(why)) => {
                    format!("failed before ({why}); skipped (--retry-failed trains it again)")
                }
                Ok(tidal::sweep::Outcome::Trained { resumed }) => format!(
                    "done in {}{}",
                    hms(seconds),
                    if resumed { " (resumed)" } else { "" }
                ),
                Err(e) => format!("failed: {e}"),
            };
            let eta = left
                .map(|l| format!(", about {} left", hms(l)))
                .unwrap_or_default();
            eprintln!(
                "[{}/{n}] {}: {what}; {} elapsed{eta}",
                k + 1,
                run.dir,
                hms(elapsed)
            );
        }
    })?;
    let report = compare::collect(&root, a.budget)?;
    println!("\n{}", report.table);
    println!(
        "wrote {} and {}",
        root.join("compare.json").display(),
        root.join("compare.md").display()
    );
    if failed > 0 {
        anyhow::bail!("{failed} run(s) failed; their reasons are in their failed.json");
    }
    Ok(())
}
