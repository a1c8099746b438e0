//! `tidal demo`: the two-spirals MLP.

use super::AdapterArgs;

pub fn demo(args: &AdapterArgs, steps: usize, lr: f32, seed: u64) -> anyhow::Result<()> {
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
