//! `tidal predict`: checkpoints on a survey, a catalogue out; shards, merging, SLURM.

use super::sweep::{adapter_args, SlurmArgs};
use super::AdapterArgs;
use clap::Args;
use std::path::PathBuf;
use tidal::predict::{self, input::Layout, Ids, Options};
use tidal::train::eval::NormChoice;

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub adapter: AdapterArgs,
    /// One checkpoint, or several (an ensemble: their probabilities are averaged and the
    /// spread written as P_MERGER_STD)
    #[arg(long, num_args = 1.., required_unless_present = "merge")]
    pub checkpoint: Vec<PathBuf>,
    /// Inputs in order: .npy or FITS cubes (N×C×H×W), FITS cutouts, or directories of them
    #[arg(long, num_args = 1.., required_unless_present = "merge")]
    pub data: Vec<PathBuf>,
    /// The catalogue: .fits (binary table) or .csv
    #[arg(long)]
    pub out: PathBuf,
    /// Object IDs from a catalogue column, CATALOGUE.csv:COLUMN or CATALOGUE.fits:COLUMN
    /// (default: cutout file names, else the input row)
    #[arg(long)]
    pub ids: Option<Ids>,
    /// Columns of the --ids catalogue to copy into the output (e.g. RA,DEC)
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Normalisation: the checkpoint's target (default) or source statistics, input
    /// (computed over all inputs) or a JSON file
    #[arg(long, default_value = "target")]
    pub norm: NormChoice,
    /// Raw softmax probabilities instead of the temperature-scaled ones
    #[arg(long)]
    pub uncalibrated: bool,
    /// Only the I-th of N contiguous slices of the rows (0-based), e.g. 3/16
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// nchw (the published files) or nhwc (channels last)
    #[arg(long, default_value = "nchw")]
    pub layout: Layout,
    /// Bands to keep, in order, e.g. 0,2 (default: all; the model's band count must match)
    #[arg(long, value_delimiter = ',')]
    pub bands: Vec<usize>,
    /// Images of another size than 75×75: none (refused), area (averaging; for larger
    /// cutouts) or bilinear
    #[arg(long, default_value = "none")]
    pub resize: tidal::data::Resize,
    /// Images per chunk read from disk (a multiple of 256; memory holds about three)
    #[arg(long, default_value_t = 2048)]
    pub chunk: usize,
    /// Merge these shard catalogues into --out (checks every row is there once)
    #[arg(long, num_args = 1.., conflicts_with_all = ["checkpoint", "data", "slurm"])]
    pub merge: Vec<PathBuf>,
    /// Write a SLURM array job of N tasks (one shard each) instead of predicting here
    #[arg(long, value_name = "N")]
    pub slurm: Option<usize>,
    #[command(flatten)]
    pub slurm_args: SlurmArgs,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 3/16")?;
    let (i, n) = (
        i.parse().map_err(|_| "I is not a number")?,
        n.parse().map_err(|_| "N is not a number")?,
    );
    if n == 0 || i >= n {
        return Err(format!("{i}/{n}: expected 0 ≤ I < N"));
    }
    Ok((i, n))
}

pub fn predict(a: &PredictArgs) -> anyhow::Result<()> {
    if !a.merge.is_empty() {
        let n = predict::merge(&a.merge, &a.out)?;
        println!(
            "merged {} shards: {n} rows into {}",
            a.merge.len(),
            a.out.display()
        );
        return Ok(());
    }
    if let Some(n) = a.slurm {
        return write_slurm(a, n);
    }
    let o = Options {
        checkpoints: a.checkpoint.clone(),
        inputs: a.data.clone(),
        out: a.out.clone(),
        ids: a.ids.clone().unwrap_or(Ids::Default),
        keep: a.keep.clone(),
        norm: a.norm.clone(),
        calibrated: !a.uncalibrated,
        shard: a.shard,
        prepare: tidal::data::Prepare {
            layout: a.layout,
            bands: a.bands.clone(),
            resize: a.resize,
        },
        chunk: a.chunk,
    };
    let ctx = tidal::Context::new(&a.adapter.choice())?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}  [{elapsed}]",
        )
        .expect("valid template"),
    );
    let outcome = predict::predict(&ctx, &o, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    println!(
        "{} images in {:.1} s ({:.0} images/s); catalogue {}",
        outcome.rows,
        outcome.seconds,
        outcome.images_per_s,
        a.out.display()
    );
    Ok(())
}

/// The array job: task I runs this same command with --shard I/N into OUT_I.ext.
fn write_slurm(a: &PredictArgs, n: usize) -> anyhow::Result<()> {
    use tidal::sweep::slurm::{array_script, quote, ArrayJob, SlurmOptions, TASK_ID};
    if n == 0 {
        anyhow::bail!("--slurm: expected at least 1 task");
    }
    let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let out = abs(&a.out);
    let dir = out
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let stem = out
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ext = out
        .extension()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let exe = std::env::current_exe()?.canonicalize()?;
    let mut cmd = vec![
        quote(&exe.display().to_string()),
        "predict".into(),
        "--checkpoint".into(),
    ];
    cmd.extend(
        a.checkpoint
            .iter()
            .map(|c| quote(&abs(c).display().to_string())),
    );
    cmd.push("--data".into());
    cmd.extend(a.data.iter().map(|d| quote(&abs(d).display().to_string())));
    let shard_out = dir.join(format!("{stem}_${{SLURM_ARRAY_TASK_ID}}.{ext}"));
    cmd.extend([
        "--out".into(),
        format!("\"{}\"", shard_out.display().to_string().replace('"', "")),
        "--shard".into(),
        format!("{TASK_ID}/{n}"),
    ]);
    if let Some(Ids::Catalogue { path, column }) = &a.ids {
        cmd.extend([
            "--ids".into(),
            quote(&format!("{}:{column}", abs(path).display())),
        ]);
    }
    if !a.keep.is_empty() {
        cmd.extend(["--keep".into(), quote(&a.keep.join(","))]);
    }
    let norm = match &a.norm {
        NormChoice::Source => "source".to_string(),
        NormChoice::Target => "target".to_string(),
        NormChoice::Input => "input".to_string(),
        NormChoice::File(p) => abs(p).display().to_string(),
    };
    cmd.extend(["--norm".into(), quote(&norm)]);
    if a.uncalibrated {
        cmd.push("--uncalibrated".into());
    }
    cmd.extend([
        "--layout".into(),
        if a.layout == Layout::Nhwc {
            "nhwc"
        } else {
            "nchw"
        }
        .into(),
        "--chunk".into(),
        a.chunk.to_string(),
    ]);
    cmd.extend(adapter_args(&a.adapter.choice()).iter().map(|x| quote(x)));
    let s = &a.slurm_args;
    let opts = SlurmOptions {
        max_parallel: s.max_parallel,
        time: s.time.clone(),
        partition: s.partition.clone(),
        gres: s.gres.clone(),
        cpus_per_task: s.cpus_per_task,
        job_name: s.job_name.clone(),
        extra: s.extra.clone(),
        run_args: Vec::new(),
    };
    let job = ArrayJob {
        name: s.job_name.clone().unwrap_or_else(|| "tidal-predict".into()),
        tasks: n,
        dir: &dir,
        what: format!("{n} shards of tidal predict into {}/{stem}_I.{ext}; merge them with tidal predict --merge", dir.display()),
        command: cmd,
    };
    std::fs::create_dir_all(dir.join("logs"))?;
    let script = array_script(&job, &opts)?;
    let path = dir.join(format!("{stem}.sbatch"));
    tidal::atomic::write(&path, script.as_bytes())?;
    println!(
        "wrote {}; submit with: sbatch {}",
        path.display(),
        quote(&path.display().to_string())
    );
    println!(
        "then: tidal predict --merge {}/{stem}_*.{ext} --out {}",
        dir.display(),
        out.display()
    );
    Ok(())
}
