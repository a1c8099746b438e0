use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
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
    /// Train a model. Until the galaxy-merger trainer lands, this trains the foundation
    /// demo: an MLP on the built-in two-spirals data, with autodiff and SGD on the GPU
    Train {
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
    /// List every adapter wgpu finds and which one tidal would use
    Info {
        #[command(flatten)]
        adapter: AdapterArgs,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
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

fn train(args: &AdapterArgs, steps: usize, lr: f32, seed: u64) -> anyhow::Result<()> {
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
        Command::Train {
            adapter,
            steps,
            lr,
            seed,
        } => train(adapter, *steps, *lr, *seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
