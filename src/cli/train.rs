//! `tidal train`: flags over a config file, a progress bar per epoch, the test metrics.

use super::AdapterArgs;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub adapter: AdapterArgs,
    /// A TOML file with any training setting (flags override it)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Source images (npy or FITS); omit for the built-in data
    #[arg(long)]
    pub source: Option<String>,
    /// Source labels (npy), unless the source file carries them
    #[arg(long)]
    pub source_labels: Option<String>,
    /// Target images (npy or FITS)
    #[arg(long)]
    pub target: Option<String>,
    /// Target labels, if known (used only to report target metrics, never to train or select)
    #[arg(long)]
    pub target_labels: Option<String>,
    /// deepmerge or resnet18
    #[arg(long)]
    pub model: Option<String>,
    /// noda, mmd, dann or coral, optionally +fisher and/or +entropy
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per domain per step
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate (default 1e-3 for every method; 0 picks the reference recipe's:
    /// 1e-4 for MMD, 1e-3 otherwise)
    #[arg(long)]
    pub lr: Option<f32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run directory
    #[arg(long)]
    pub out: Option<String>,
    /// Bands to keep, in order, e.g. 0,2 (default: all; the model's first layer takes them)
    #[arg(long, value_delimiter = ',')]
    pub bands: Option<Vec<usize>>,
    /// nchw (the published files) or nhwc (channels-last image files)
    #[arg(long)]
    pub layout: Option<tidal::data::Layout>,
    /// Images of another size than 75×75: none (refused), area or bilinear
    #[arg(long)]
    pub resize: Option<tidal::data::Resize>,
    /// Start from the model weights of a checkpoint written by tidal or by PyTorch
    /// (safetensors with `state_dict` names); the optimizer starts fresh
    #[arg(long, value_name = "FILE")]
    pub init: Option<String>,
    /// Kernel variants: auto (timed once per adapter, cached), default (the adapter's
    /// default with the separate batch-norm/ReLU/pool ops) or pinned, e.g. subgroup+fused+rows+flip
    /// or register; the run's config.toml records what auto resolved to
    #[arg(long, value_name = "SETTING")]
    pub kernels: Option<String>,
    /// Replace the run that --out already holds (by default an existing run there is kept
    /// and the command refused; runs/latest moves to runs/previous)
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue the run in DIR from its last.safetensors (its config.toml, flags override;
    /// e.g. --epochs to train longer)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "out"])]
    pub resume: Option<String>,
}

pub fn train_config(a: &TrainArgs) -> anyhow::Result<tidal::train::TrainConfig> {
    use tidal::train::TrainConfig;
    let mut cfg = match (&a.resume, &a.config) {
        (Some(dir), _) => {
            let mut c = TrainConfig::from_toml_file(&Path::new(dir).join("config.toml"))?;
            c.out = dir.clone();
            c
        }
        (None, Some(p)) => TrainConfig::from_toml_file(p)?,
        (None, None) => TrainConfig::default(),
    };
    if let Some(m) = &a.model {
        cfg.model = m.parse()?;
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &a.$f { cfg.$f = v.clone().into(); } )* };
    }
    set!(epochs, batch, lr, seed, out, kernels);
    if let Some(m) = &a.method {
        cfg.method = m.parse()?;
    }
    if let Some(b) = &a.bands {
        cfg.bands = b.clone();
    }
    if let Some(l) = a.layout {
        cfg.layout = l;
    }
    if let Some(r) = a.resize {
        cfg.resize = r;
    }
    for (dst, src) in [
        (&mut cfg.source, &a.source),
        (&mut cfg.source_labels, &a.source_labels),
        (&mut cfg.target, &a.target),
        (&mut cfg.target_labels, &a.target_labels),
        (&mut cfg.init, &a.init),
    ] {
        if src.is_some() {
            *dst = src.clone();
        }
    }
    cfg.validate()?;
    Ok(cfg)
}

pub fn train(a: &TrainArgs) -> anyhow::Result<()> {
    let cfg = train_config(a)?;
    tidal::train::install_interrupt_handler();
    let ctx = tidal::Context::new(&a.adapter.choice())?;
    println!(
        "adapter: {} ({:?}); model {:?}, method {}, {} epochs, batch {} + {}, run directory {}",
        ctx.info.name,
        ctx.info.backend,
        cfg.model,
        cfg.method,
        cfg.epochs,
        cfg.batch,
        cfg.batch,
        cfg.out
    );
    let mut bar: Option<(usize, indicatif::ProgressBar)> = None;
    let start = match (&a.resume, a.overwrite) {
        (Some(_), _) => tidal::train::Start::Resume,
        (None, true) => tidal::train::Start::Overwrite,
        (None, false) => tidal::train::Start::New,
    };
    let summary = tidal::train::train_run(&ctx, &cfg, start, |epoch, step, steps, msg| {
        if bar.as_ref().map(|(e, _)| *e) != Some(epoch) {
            if let Some((_, b)) = bar.take() {
                b.finish();
            }
            let b = indicatif::ProgressBar::new(steps as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "epoch {:>3} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed}}]",
                    epoch + 1
                ))
                .expect("valid template"),
            );
            bar = Some((epoch, b));
        }
        if let Some((_, b)) = &bar {
            b.set_position(step as u64);
            b.set_message(msg.to_string());
        }
    })?;
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    println!(
        "\n{} epochs, {} steps in {:.0} s ({:.0} training images/s); kept epoch {} (best source validation accuracy)",
        summary.epochs_run, summary.steps, summary.seconds, summary.train_images_per_s, summary.best_epoch + 1
    );
    print!(
        "{}",
        tidal::report::metrics_table(&[
            ("source", Some(&summary.source_test)),
            ("target", summary.target_test.as_ref())
        ])
    );
    println!("run directory: {} (config.toml, metrics.jsonl, best/last.safetensors, summary.json, test_predictions.csv, report.md with pictures)", cfg.out);
    Ok(())
}
