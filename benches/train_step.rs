//! Training-step benchmarks: images per second of a full step (forward, backward, update;
//! 128 source + 128 target images) for DeepMerge with noDA, MMD (19 kernels) and DANN, and
//! ResNet18 with MMD; dispatches, submissions and buffer allocations per step after
//! warm-up; time from start to the end of the first step; eval-mode inference at batch 256.
//! Writes target/bench/train_step.json. `cargo bench --bench train_step [-- --quick]`
//! (the same suite as `tidal bench --suite train`).

use tidal::bench::{print_header, suites, Bench};
use tidal::Context;

fn main() -> tidal::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut b = Bench::new(Context::from_env()?, quick);
    print_header(&b.report);
    suites::run(&mut b, suites::Suite::Train)?;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/train_step.json");
    b.write(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
