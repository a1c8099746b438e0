//! The command line: clap types and one handler file per command. The only place clap and
//! anyhow are used; every handler calls the library and prints.

mod bench;
mod compare;
mod data;
mod demo;
mod eval;
mod info;
mod predict;
mod report;
mod sweep;
mod train;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tidal::gpu::AdapterChoice;

#[derive(Parser)]
#[command(
    name = "tidal",
    version,
    about = "Deep learning on wgpu for domain adaptation of galaxy-merger classifiers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub struct AdapterArgs {
    /// Adapter to use: an index from `tidal info` or a name substring [env: TIDAL_ADAPTER]
    #[arg(long, global = true)]
    pub adapter: Option<String>,
    /// Backend to use: vulkan, metal, dx12 or gl [env: TIDAL_BACKEND]
    #[arg(long, global = true)]
    pub backend: Option<String>,
}

impl AdapterArgs {
    fn choice(&self) -> AdapterChoice {
        AdapterChoice::with_env_fallback(self.adapter.clone(), self.backend.clone())
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a merger classifier on source images with domain adaptation to target images
    /// (default: the built-in synthetic pristine → noisy data, DeepMerge, MMD)
    Train(Box<train::TrainArgs>),
    /// Evaluate a checkpoint on images: metrics (with labels) and predictions.csv
    Eval {
        #[command(flatten)]
        model: CheckpointArgs,
        /// Labels (npy; FITS files carry their own)
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Normalisation: the checkpoint's target (default) or source statistics, input
        /// (computed over --data; for checkpoints written by PyTorch) or a JSON file
        #[arg(long, default_value = "target")]
        norm: tidal::train::eval::NormChoice,
        /// Where to write the per-image predictions
        #[arg(long, default_value = "predictions.csv")]
        predictions: PathBuf,
        /// Raw softmax probabilities instead of the checkpoint's temperature-scaled ones
        #[arg(long)]
        uncalibrated: bool,
        #[command(flatten)]
        prepare: PrepareArgs,
    },
    /// Apply one or more checkpoints (an ensemble) to a survey: npy or FITS cubes or a
    /// directory of FITS cutouts, streamed; writes a FITS or CSV catalogue (ID, ROW,
    /// P_MERGER, CLASS, P_MERGER_RAW, P_MERGER_STD); --shard, --merge and --slurm for
    /// surveys spread over a cluster
    Predict(Box<predict::PredictArgs>),
    /// Grad-CAM / HiResCAM heat maps of the merger class on the last convolution block, over
    /// the images' colour composites (one PNG per index)
    Gradcam {
        #[command(flatten)]
        model: CheckpointArgs,
        /// Image indices, comma-separated
        #[arg(long, value_delimiter = ',', required = true)]
        index: Vec<usize>,
        /// The same scenes in the other domain (e.g. the noisy rendering of pristine images
        /// generated with the same seed), shown beside them with the other normalisation
        #[arg(long)]
        pair: Option<PathBuf>,
        /// Normalisation of --data: the checkpoint's target (default) or source statistics,
        /// input (computed over --data) or a JSON file
        #[arg(long, default_value = "target")]
        norm: tidal::train::eval::NormChoice,
        /// hirescam (gradient × activation, faithful for DeepMerge's flattened head) or
        /// gradcam (channel weights from the spatially averaged gradient)
        #[arg(long, default_value = "hirescam")]
        method: String,
        /// Output folder
        #[arg(long, default_value = "gradcam")]
        out: PathBuf,
    },
    /// Train noDA, MMD, DANN, MMD+Fisher+entropy and DANN+Fisher+entropy (or --methods) on
    /// the same data for one or more seeds, resumably, and print the table with paired 95 %
    /// intervals against noDA; --matrix for the cross-domain matrix, --slurm for a cluster
    Compare(Box<compare::CompareArgs>),
    /// The foundation demo: an MLP learns two spirals with autodiff and SGD on the GPU
    Demo {
        #[command(flatten)]
        adapter: AdapterArgs,
        /// Optimisation steps
        #[arg(long, default_value_t = 800)]
        steps: usize,
        /// Learning rate (plain SGD)
        #[arg(long, default_value_t = 0.5)]
        lr: f32,
        /// Seed for data noise and initialisation
        #[arg(long, default_value_t = 1234)]
        seed: u64,
    },
    /// Galaxy data: generate the synthetic benchmark, inspect files, preview a grid
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Benchmark kernels and training steps on an adapter (or all of them) and write a JSON
    /// report; or compare reports side by side with --compare
    Bench(bench::BenchArgs),
    /// Redraw a run directory's pictures and report.md from its files (no GPU needed)
    Report {
        /// A run directory written by train (holds metrics.jsonl and summary.json)
        run_dir: PathBuf,
    },
    /// Hyperparameter sweeps: plan runs from a sweep file, train them locally or as a SLURM
    /// array job, and compare their model-selection scores
    Sweep {
        #[command(flatten)]
        adapter: AdapterArgs,
        #[command(subcommand)]
        command: sweep::SweepCommand,
    },
    /// List every adapter wgpu finds and which one tidal would use
    Info {
        #[command(flatten)]
        adapter: AdapterArgs,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

/// How image files become the model's input: layout, band selection, resizing.
#[derive(Args, Clone, Debug)]
pub struct PrepareArgs {
    /// nchw (the published files) or nhwc (channels last)
    #[arg(long, default_value = "nchw")]
    pub layout: tidal::data::Layout,
    /// Bands to keep, in order, e.g. 0,2 (default: all)
    #[arg(long, value_delimiter = ',')]
    pub bands: Vec<usize>,
    /// Images of another size than 75×75: none (refused), area or bilinear
    #[arg(long, default_value = "none")]
    pub resize: tidal::data::Resize,
}

impl PrepareArgs {
    pub fn prepare(&self) -> tidal::data::Prepare {
        tidal::data::Prepare {
            layout: self.layout,
            bands: self.bands.clone(),
            resize: self.resize,
        }
    }
}

/// A trained model and the images to run it on.
#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub adapter: AdapterArgs,
    /// A checkpoint written by train (RUN/best.safetensors)
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Images (npy or FITS)
    #[arg(long)]
    pub data: PathBuf,
}

/// Parses the command line and runs the command; errors print as one line, no backtrace.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info { adapter, json } => info::info(adapter, *json),
        Command::Data { command } => data::data(command),
        Command::Sweep { adapter, command } => sweep::sweep(
            command,
            &AdapterChoice {
                adapter: adapter.adapter.clone(),
                backend: adapter.backend.clone(),
            },
        ),
        Command::Train(a) => train::train(a),
        Command::Bench(a) => bench::bench(a),
        Command::Gradcam {
            model,
            index,
            pair,
            norm,
            method,
            out,
        } => eval::gradcam(model, index, pair.as_deref(), norm, method, out),
        Command::Compare(a) => compare::compare(a),
        Command::Eval {
            model,
            labels,
            norm,
            predictions,
            uncalibrated,
            prepare,
        } => eval::eval(
            &model.adapter,
            &tidal::train::eval::EvalRequest {
                checkpoint: &model.checkpoint,
                images: &model.data,
                labels: labels.as_deref(),
                norm,
                calibrated: !uncalibrated,
                prepare: &prepare.prepare(),
                predictions,
            },
        ),
        Command::Predict(a) => predict::predict(a),
        Command::Demo {
            adapter,
            steps,
            lr,
            seed,
        } => demo::demo(adapter, *steps, *lr, *seed),
        Command::Report { run_dir } => report::report(run_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
