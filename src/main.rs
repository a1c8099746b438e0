use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;
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
    /// List every adapter wgpu finds and which one tidal would use
    Info {
        #[command(flatten)]
        adapter: AdapterArgs,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
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
