use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tidal::data::{self, synth::Domain};
use tidal::gpu::{list_adapters, AdapterChoice};

#[derive(Parser)]
#[command(
    name = "tidal",
    version,
    about = "Deep learning on wgpu for domain adaptation of galaxy-merger classifiers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct AdapterArgs {
    /// Adapter to use: an index from `tidal info` or a name substring [env: TIDAL_ADAPTER]
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Backend to use: vulkan, metal, dx12 or gl [env: TIDAL_BACKEND]
    #[arg(long, global = true)]
    backend: Option<String>,
}

impl AdapterArgs {
    fn choice(&self) -> AdapterChoice {
        AdapterChoice::with_env_fallback(self.adapter.clone(), self.backend.clone())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train a merger classifier on source images with domain adaptation to target images
    /// (default: the built-in synthetic pristine → noisy data, DeepMerge, MMD)
    Train(Box<TrainArgs>),
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
    },
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
    /// Train noDA, MMD, DANN, MMD+Fisher+entropy and DANN+Fisher+entropy with the same
    /// seed and data, and print source and target test metrics side by side
    Compare {
        #[command(flatten)]
        train: Box<TrainArgs>,
        /// Methods to compare (comma-separated)
        #[arg(
            long,
            default_value = "noda,mmd,dann,mmd+fisher+entropy,dann+fisher+entropy"
        )]
        methods: String,
        /// Seeds per method (the table then shows mean ± std)
        #[arg(long, default_value_t = 1)]
        seeds: u64,
    },
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
        command: DataCommand,
    },
    /// Benchmark kernels and training steps on an adapter (or all of them) and write a JSON
    /// report; or compare reports side by side with --compare
    Bench(BenchArgs),
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
        command: tidal::sweep::cli::SweepCommand,
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

/// A trained model and the images to run it on.
#[derive(Args)]
struct CheckpointArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// A checkpoint written by train (RUN/best.safetensors)
    #[arg(long)]
    checkpoint: PathBuf,
    /// Images (npy or FITS)
    #[arg(long)]
    data: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Run on every adapter `tidal info` lists (one report each, then a comparison)
    #[arg(long, conflicts_with = "adapter")]
    all_adapters: bool,
    /// Fewer samples and a smaller ResNet batch: under 3 minutes on lavapipe
    #[arg(long)]
    quick: bool,
    /// Suites to run: kernels, train or all
    #[arg(long, default_value = "all")]
    suite: String,
    /// Run only cases whose name contains this (peaks always run)
    #[arg(long)]
    filter: Option<String>,
    /// The JSON report (with --all-adapters, one file per adapter named after it)
    #[arg(long, default_value = "bench-report.json")]
    out: PathBuf,
    /// Compare these reports instead of running: the same cases side by side with ratios
    /// to the first report
    #[arg(long, num_args = 2.., value_name = "REPORT")]
    compare: Vec<PathBuf>,
    /// With --compare: also write a Markdown copy of the table here
    #[arg(long, requires = "compare")]
    markdown: Option<PathBuf>,
    /// With --compare: a PNG bar chart of each report's ratios to the first (one file per
    /// report after the first when more than two are compared)
    #[arg(long, requires = "compare")]
    png: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// A TOML file with any training setting (flags override it)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Source images (npy or FITS); omit for the built-in data
    #[arg(long)]
    source: Option<String>,
    /// Source labels (npy), unless the source file carries them
    #[arg(long)]
    source_labels: Option<String>,
    /// Target images (npy or FITS)
    #[arg(long)]
    target: Option<String>,
    /// Target labels, if known (used only to report target metrics, never to train or select)
    #[arg(long)]
    target_labels: Option<String>,
    /// deepmerge or resnet18
    #[arg(long)]
    model: Option<String>,
    /// noda, mmd, dann or coral, optionally +fisher and/or +entropy
    #[arg(long)]
    method: Option<String>,
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per domain per step
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate (default: 1e-4 for MMD, 1e-3 otherwise)
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    seed: Option<u64>,
    /// Run directory
    #[arg(long)]
    out: Option<String>,
    /// Start from the model weights of a checkpoint written by tidal or by PyTorch
    /// (safetensors with `state_dict` names); the optimizer starts fresh
    #[arg(long, value_name = "FILE")]
    init: Option<String>,
    /// Continue the run in DIR from its last.safetensors (its config.toml, flags override;
    /// e.g. --epochs to train longer)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "out"])]
    resume: Option<String>,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Generate N synthetic images of a domain into DIR: X.npy (float32, N×3×75×75),
    /// y.npy (float32, 1 = merger) and params.json (the generator's parameters)
    Generate {
        /// pristine (PSF only), noisy (PSF + sky and shot noise to 25 mag/arcsec²) or sdss
        #[arg(long, value_parser = parse_domain)]
        domain: Domain,
        /// Number of images
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Seed (same seed, same bytes)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (created if missing)
        #[arg(long)]
        out: PathBuf,
        /// Surface-brightness limit in mag/arcsec² for every band (noisy and sdss only;
        /// default: the preset's, 25 for noisy)
        #[arg(long)]
        sb_limit: Option<f32>,
    },
    /// Shape, dtype, per-channel min/max/mean/std, label counts and NaN/Inf counts of .npy or
    /// FITS files (streamed, so files larger than memory work)
    Inspect {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Write a PNG grid of generated examples: per domain a merger row and a non-merger row
    /// (asinh-stretched colour composites: R = channel 2, G = 1, B = 0)
    Preview {
        /// Output PNG
        #[arg(long, default_value = "grid.png")]
        out: PathBuf,
        /// Examples per row
        #[arg(long, default_value_t = 8)]
        per_row: usize,
        /// Seed of the generated scenes
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Domains, comma-separated
        #[arg(long, value_delimiter = ',', value_parser = parse_domain, default_value = "pristine,noisy,sdss")]
        domains: Vec<Domain>,
    },
    /// Generate (or find) the default training data in the cache: source pristine and target
    /// noisy, 3000 images each
    Default {
        /// Cache folder
        #[arg(long)]
        cache: Option<PathBuf>,
    },
}

fn parse_domain(s: &str) -> Result<Domain, String> {
    s.parse::<Domain>().map_err(|e| e.to_string())
}

fn data(cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Generate {
            domain,
            n,
            seed,
            out,
            sb_limit,
        } => {
            let mut preset = domain.preset();
            if let Some(mu) = sb_limit {
                preset = preset.with_sb_limit(*mu)?;
            }
            let threads = rayon::current_num_threads();
            println!(
                "generating {n} {domain} images (seed {seed}) on {threads} thread(s) into {}",
                out.display()
            );
            let bar = data::progress_bar(*n as u64, "images");
            let t = std::time::Instant::now();
            let side = data::generate_to_dir_with(&preset, *n, *seed, out, &|d| {
                bar.set_position(d as u64)
            })?;
            bar.finish_and_clear();
            println!(
                "wrote X.npy ({n}×3×75×75 float32), y.npy ({} mergers, {} non-mergers), params.json in {:.1} s",
                side.mergers,
                side.non_mergers,
                t.elapsed().as_secs_f64()
            );
        }
        DataCommand::Inspect { files, json } => {
            let mut all = Vec::new();
            for f in files {
                let r = data::inspect(f)?;
                if !*json {
                    println!("{r}");
                }
                all.push(r);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
        }
        DataCommand::Preview {
            out,
            per_row,
            seed,
            domains,
        } => {
            let (w, h) = data::preview::write_grid(out, domains, *per_row, *seed)?;
            let names: Vec<&str> = domains.iter().map(|d| d.name()).collect();
            println!(
                "wrote {} ({w}×{h}): rows {} × (merger, non-merger), {per_row} examples each; left strip orange = merger, blue = non-merger",
                out.display(),
                names.join(", ")
            );
        }
        DataCommand::Default { cache } => {
            let dir = cache.clone().unwrap_or_else(data::default_cache_dir);
            let (s, t) = data::default_dataset(&dir)?;
            println!(
                "default dataset in {}: source pristine {} images, target noisy {} images",
                dir.display(),
                s.n,
                t.n
            );
        }
    }
    Ok(())
}

fn info(args: &AdapterArgs, json: bool) -> anyhow::Result<()> {
    let choice = args.choice();
    let (list, chosen) = list_adapters(&choice)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "adapters": list, "chosen": chosen })
            )?
        );
        return Ok(());
    }
    if list.is_empty() {
        anyhow::bail!(tidal::error::LAVAPIPE_HINT);
    }
    println!(
        "{:<3} {:<2} {:<36} {:<8} {:<13} {:>8} {:>14} {:>15} {:>10}",
        "", "#", "name", "backend", "type", "vendor", "max storage", "max wg size", "wg storage"
    );
    for a in &list {
        let mark = if Some(a.index) == chosen { "->" } else { "" };
        println!(
            "{:<3} {:<2} {:<36} {:<8} {:<13} {:>#8x} {:>10} MiB {:>15} {:>6} KiB",
            mark,
            a.index,
            a.name,
            a.backend,
            a.device_type,
            a.vendor,
            a.max_storage_buffer_binding_size >> 20,
            format!("{:?}", a.max_compute_workgroup_size),
            a.max_compute_workgroup_storage_size >> 10,
        );
        if !a.driver.is_empty() || !a.driver_info.is_empty() {
            println!("{:<6} driver: {} {}", "", a.driver, a.driver_info);
        }
    }
    match chosen {
        Some(i) => println!("\ntidal would use adapter {i} ({}).", list[i].name),
        None => println!("\nno adapter matches the requested --adapter/--backend."),
    }
    Ok(())
}

fn train_config(a: &TrainArgs) -> anyhow::Result<tidal::train::TrainConfig> {
    use tidal::train::{config::ModelKind, TrainConfig};
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
        cfg.model = match m.to_ascii_lowercase().as_str() {
            "deepmerge" => ModelKind::DeepMerge,
            "resnet18" => ModelKind::ResNet18,
            other => anyhow::bail!("unknown model '{other}' (expected deepmerge or resnet18)"),
        };
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &a.$f { cfg.$f = v.clone().into(); } )* };
    }
    set!(method, epochs, batch, lr, seed, out);
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

fn compare(a: &TrainArgs, methods: &str, seeds: u64) -> anyhow::Result<()> {
    let base = train_config(a)?;
    let ctx = tidal::Context::new(&a.adapter.choice())?;
    let root = if a.out.is_some() {
        base.out.clone()
    } else {
        "runs/compare".to_string()
    };
    let mut rows = Vec::new();
    for method in methods.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let mut row = tidal::train::CompareRow {
            method: method.to_string(),
            source: Vec::new(),
            target: Vec::new(),
        };
        for k in 0..seeds.max(1) {
            let mut cfg = base.clone();
            cfg.method = method.to_string();
            cfg.seed = base.seed + k;
            cfg.out = format!("{root}/{}-seed{}", method.replace('+', "_"), cfg.seed);
            cfg.validate()?;
            eprintln!("compare: {method}, seed {} → {}", cfg.seed, cfg.out);
            let s = tidal::train::train(&ctx, &cfg, false, |_, _, _, _| {})?;
            println!(
                "{method} seed {}: source acc {:.3}, target acc {}",
                cfg.seed,
                s.source_test.accuracy,
                s.target_test
                    .map(|t| format!("{:.3}", t.accuracy))
                    .unwrap_or_else(|| "n/a".into())
            );
            row.source.push(s.source_test);
            row.target.extend(s.target_test);
        }
        rows.push(row);
    }
    let table = tidal::train::compare_table(&rows);
    println!("\n{table}");
    std::fs::create_dir_all(&root)?;
    std::fs::write(format!("{root}/compare.md"), &table)?;
    std::fs::write(
        format!("{root}/compare.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    Ok(())
}

fn bench_compare(
    paths: &[PathBuf],
    markdown: Option<&Path>,
    png: Option<&Path>,
) -> anyhow::Result<()> {
    use tidal::bench::{compare, Report};
    let reports = paths
        .iter()
        .map(|p| Report::load(p).map(|r| (compare::label(p, &r), r)))
        .collect::<tidal::Result<Vec<_>>>()?;
    for (l, r) in &reports {
        println!(
            "{l}: {} {} on {} ({}, {} threads), {}{}",
            r.adapter.backend,
            r.adapter.driver,
            r.system.os,
            r.system.cpu,
            r.system.cpu_threads,
            r.created,
            if r.quick { ", quick" } else { "" }
        );
    }
    let cmp = compare::compare(&reports);
    let table = cmp.table();
    println!("\nratio = throughput over the first report's (> 1: faster)\n{table}");
    if let Some(md) = markdown {
        std::fs::write(md, &table)?;
        println!("wrote {}", md.display());
    }
    if let Some(png) = png {
        for j in 1..cmp.labels.len() {
            let path = if cmp.labels.len() > 2 {
                let stem = png.file_stem().unwrap_or_default().to_string_lossy();
                png.with_file_name(format!("{stem}-{j}.png"))
            } else {
                png.to_path_buf()
            };
            let bars: Vec<(String, f64)> = cmp
                .rows
                .iter()
                .filter_map(|r| {
                    let dims: Vec<String> = r.shape.iter().map(|d| d.to_string()).collect();
                    r.ratios[j].map(|x| (format!("{} {}", r.name, dims.join("×")), x))
                })
                .collect();
            let title = format!("{} vs {}", cmp.labels[j], cmp.labels[0]);
            tidal::plot::bar_chart(&path, &title, "throughput ratio", &bars, Some(1.0))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn bench_one(
    choice: &AdapterChoice,
    a: &BenchArgs,
    suite: tidal::bench::suites::Suite,
    out: &Path,
) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(choice)?;
    let mut b = tidal::bench::Bench::new(ctx, a.quick);
    b.filter = a.filter.clone();
    tidal::bench::print_header(&b.report);
    b.show_progress();
    let started = std::time::Instant::now();
    let r = tidal::bench::suites::run(&mut b, suite);
    b.finish_progress();
    r?;
    b.write(out)?;
    println!(
        "{} cases in {:.0} s; wrote {}",
        b.report.cases.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    if !a.compare.is_empty() {
        return bench_compare(&a.compare, a.markdown.as_deref(), a.png.as_deref());
    }
    let suite: tidal::bench::suites::Suite = a.suite.parse()?;
    if !a.all_adapters {
        return bench_one(&a.adapter.choice(), a, suite, &a.out);
    }
    let base = a.adapter.choice();
    let (list, _) = list_adapters(&base)?;
    if list.is_empty() {
        return Err(tidal::Error::NoAdapter.into());
    }
    let mut written = Vec::new();
    for ad in &list {
        let slug: String = ad
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let stem = a.out.file_stem().unwrap_or_default().to_string_lossy();
        let out = a.out.with_file_name(format!(
            "{stem}-{}-{}-{}.json",
            ad.index,
            slug.trim_matches('-'),
            ad.backend.to_lowercase()
        ));
        println!("\n== [{}] {} ({}) ==", ad.index, ad.name, ad.backend);
        let choice = AdapterChoice {
            adapter: Some(ad.index.to_string()),
            backend: base.backend.clone(),
        };
        // One adapter failing (a GL context without compute, say) must not lose the others.
        match bench_one(&choice, a, suite, &out) {
            Ok(()) => written.push(out),
            Err(e) => eprintln!("adapter [{}] {}: {e}", ad.index, ad.name),
        }
    }
    if written.len() > 1 {
        bench_compare(&written, None, None)?;
    }
    Ok(())
}

fn train(a: &TrainArgs) -> anyhow::Result<()> {
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
    let summary =
        tidal::train::train(&ctx, &cfg, a.resume.is_some(), |epoch, step, steps, msg| {
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
        tidal::train::metrics_table(&[
            ("source", Some(&summary.source_test)),
            ("target", summary.target_test.as_ref())
        ])
    );
    println!("run directory: {} (config.toml, metrics.jsonl, best/last.safetensors, summary.json, test_predictions.csv, report.md with pictures)", cfg.out);
    Ok(())
}

fn eval(
    args: &AdapterArgs,
    checkpoint: &Path,
    data_path: &Path,
    labels: Option<&Path>,
    norm: &tidal::train::eval::NormChoice,
    predictions: &Path,
) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(&args.choice())?;
    let summary =
        tidal::train::eval::evaluate(&ctx, checkpoint, data_path, labels, norm, predictions)?;
    println!(
        "{} images; predictions written to {}",
        summary.n,
        predictions.display()
    );
    if let Some(m) = summary.metrics {
        print!("{}", tidal::train::metrics_table(&[("data", Some(&m))]));
    }
    Ok(())
}

fn demo(args: &AdapterArgs, steps: usize, lr: f32, seed: u64) -> anyhow::Result<()> {
    let ctx = tidal::Context::new(&args.choice())?;
    println!("adapter: {} ({:?})", ctx.info.name, ctx.info.backend);
    println!("training the two-spirals MLP demo (2-64-64-2, tanh, SGD lr {lr}, {steps} steps, seed {seed})");
    let cfg = tidal::demo::SpiralsConfig {
        steps,
        lr,
        seed,
        ..Default::default()
    };
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps  {msg}  [{elapsed_precise}]",
        )
        .expect("valid template"),
    );
    let t = std::time::Instant::now();
    let report = tidal::demo::train_spirals(&ctx, &cfg, |step, loss| {
        bar.set_position(step as u64 + 1);
        bar.set_message(format!("loss {loss:.4}"));
    })?;
    bar.finish();
    let secs = t.elapsed().as_secs_f64();
    let last = report.losses.last().map(|l| l.1).unwrap_or(f32::NAN);
    println!(
        "final loss {last:.4}, training accuracy {:.1}%",
        report.accuracy * 100.0
    );
    println!(
        "{:.1} steps/s; per step: {} dispatches, {} submission(s); buffers allocated after warm-up: {}",
        steps as f64 / secs,
        report.dispatches_per_step,
        report.max_submits_per_step,
        report.allocations_after_warmup
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info { adapter, json } => info(adapter, *json),
        Command::Data { command } => data(command),
        Command::Sweep { adapter, command } => tidal::sweep::cli::main(
            command,
            &AdapterChoice {
                adapter: adapter.adapter.clone(),
                backend: adapter.backend.clone(),
            },
        ),
        Command::Train(a) => train(a),
        Command::Bench(a) => bench(a),
        Command::Gradcam {
            model,
            index,
            pair,
            norm,
            method,
            out,
        } => (|| -> anyhow::Result<()> {
            let ctx = tidal::Context::new(&model.adapter.choice())?;
            let req = tidal::train::gradcam::Request {
                checkpoint: &model.checkpoint,
                data: &model.data,
                pair: pair.as_deref(),
                indices: index,
                norm,
                method: method.parse()?,
                out,
            };
            let written = tidal::train::gradcam::write_gradcam(&ctx, &req)?;
            for (path, p) in written {
                let probs: Vec<String> = p.iter().map(|v| format!("{v:.3}")).collect();
                println!("{} (p(merger) = {})", path.display(), probs.join(" | "));
            }
            Ok(())
        })(),
        Command::Compare {
            train,
            methods,
            seeds,
        } => compare(train, methods, *seeds),
        Command::Eval {
            model,
            labels,
            norm,
            predictions,
        } => eval(
            &model.adapter,
            &model.checkpoint,
            &model.data,
            labels.as_deref(),
            norm,
            predictions,
        ),
        Command::Demo {
            adapter,
            steps,
            lr,
            seed,
        } => demo(adapter, *steps, *lr, *seed),
        Command::Report { run_dir } => tidal::train::report::write_report(run_dir)
            .map(|paths| paths.iter().for_each(|p| println!("{}", p.display())))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
