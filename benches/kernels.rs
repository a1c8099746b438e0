//! Kernel benchmarks: the adapter's FMA and copy peaks, then each kernel as GFLOP/s or
//! GB/s and as a fraction of those peaks. Writes target/bench/kernels.json.
//! `cargo bench --bench kernels [-- --quick]` (the same suite as `tidal bench --suite kernels`).

use tidal::bench::{print_header, suites, Bench};
use tidal::Context;

fn main() -> tidal::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut b = Bench::new(Context::from_env()?, quick);
    print_header(&b.report);
    suites::run(&mut b, suites::Suite::Kernels)?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/kernels.json");
    b.write(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
