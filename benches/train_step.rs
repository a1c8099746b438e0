//! Training-step benchmarks: images per second of a full step (forward, backward, update;
//! 128 source + 128 target images) for DeepMerge with noDA, MMD (19 kernels) and DANN, and
//! ResNet18 with MMD; dispatches, submissions and buffer allocations per step after
//! warm-up; time from start to the end of the first step; eval-mode inference at batch 256.
//! Writes target/bench/train_step.json. `cargo bench --bench train_step [-- --quick]`

use std::time::Instant;
use tidal::bench::{print_header, Bench, Work};
use tidal::train::{config::ModelKind, Learner, TrainConfig};
use tidal::{no_grad, Context, Rng, Tensor};

fn main() -> tidal::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let ctx = Context::from_env()?;
    let mut b = Bench::new(ctx.clone(), quick);
    print_header(&b.report.adapter);
    b.measure_peaks()?;
    let batch = 128;
    let mut rng = Rng::new(7);
    let x = rng.normal(&ctx, &[2 * batch, 3, 75, 75], 0.0, 1.0)?;
    let y = Tensor::from_u32(
        &ctx,
        &(0..batch as u32).map(|i| i % 2).collect::<Vec<_>>(),
        &[batch],
    )?;
    let cases = [
        ("train_step/deepmerge/noda", ModelKind::DeepMerge, "noda"),
        ("train_step/deepmerge/mmd", ModelKind::DeepMerge, "mmd"),
        ("train_step/deepmerge/dann", ModelKind::DeepMerge, "dann"),
        ("train_step/resnet18/mmd", ModelKind::ResNet18, "mmd"),
    ];
    for (name, model, method) in cases {
        let cfg = TrainConfig {
            model,
            method: method.into(),
            ..TrainConfig::default()
        };
        let t0 = Instant::now();
        let mut learner = Learner::new(&ctx, &cfg)?;
        learner.step(&x, &y, 1e-4, 0.5)?;
        ctx.sync()?;
        let first_step_s = t0.elapsed().as_secs_f64();
        learner.step(&x, &y, 1e-4, 0.5)?;
        ctx.sync()?;
        let before = ctx.stats();
        learner.step(&x, &y, 1e-4, 0.5)?;
        ctx.sync()?;
        let after = ctx.stats();
        b.case(
            name,
            &[2 * batch, 3, 75, 75],
            Work::Images((2 * batch) as f64),
            || learner.step(&x, &y, 1e-4, 0.5).map(|_| ()),
        )?;
        b.counter("first_step_s", first_step_s);
        b.counter(
            "dispatches_per_step",
            (after.dispatches - before.dispatches) as f64,
        );
        b.counter("submits_per_step", (after.submits - before.submits) as f64);
        b.counter(
            "allocations_per_step_after_warmup",
            (after.buffer_allocations - before.buffer_allocations) as f64,
        );
        println!(
            "    first step {first_step_s:.1} s; per step: {} dispatches, {} submit(s), {} allocations after warm-up",
            after.dispatches - before.dispatches,
            after.submits - before.submits,
            after.buffer_allocations - before.buffer_allocations
        );
        if model == ModelKind::DeepMerge && method == "noda" {
            learner.set_training(false);
            let xe = x.slice_rows(0, 256.min(2 * batch))?;
            b.case(
                "inference/deepmerge",
                &[256, 3, 75, 75],
                Work::Images(256.0),
                || no_grad(|| learner.model.run(&xe).map(|_| ())),
            )?;
        }
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/train_step.json");
    b.write(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
