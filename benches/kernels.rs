//! Kernel benchmarks: the adapter's FMA and copy peaks, then each kernel as GFLOP/s or
//! GB/s and as a fraction of those peaks. Writes target/bench/kernels.json.
//! `cargo bench --bench kernels [-- --quick]`

use tidal::bench::{print_header, Bench, Work};
use tidal::ops::batchnorm::batch_norm;
use tidal::ops::pool::max_pool2d;
use tidal::{Context, Rng, Tensor};

fn main() -> tidal::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let ctx = Context::from_env()?;
    let mut b = Bench::new(ctx.clone(), quick);
    print_header(&b.report.adapter);
    b.measure_peaks()?;

    let mut rng = Rng::new(1);
    let sizes: &[(usize, usize, usize)] = &[
        (256, 256, 256),
        (512, 512, 512),
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (1000, 777, 1031),
    ];
    for &(m, n, k) in sizes {
        let a = rng.normal(&ctx, &[m, k], 0.0, 1.0)?;
        let w = rng.normal(&ctx, &[k, n], 0.0, 1.0)?;
        let flops = 2.0 * (m * n * k) as f64;
        b.case("matmul", &[m, n, k], Work::Flops(flops), || {
            a.matmul(&w).map(|_| ())
        })?;
    }
    // The transposed forms backward passes use, at 1024.
    let a = rng.normal(&ctx, &[1024, 1024], 0.0, 1.0)?;
    let w = rng.normal(&ctx, &[1024, 1024], 0.0, 1.0)?;
    let flops = 2.0 * 1024f64.powi(3);
    b.case("matmul_tn", &[1024, 1024, 1024], Work::Flops(flops), || {
        a.matmul_t(&w, true, false).map(|_| ())
    })?;
    b.case("matmul_nt", &[1024, 1024, 1024], Work::Flops(flops), || {
        a.matmul_t(&w, false, true).map(|_| ())
    })?;

    let x = Tensor::zeros(&ctx, &[1 << 22])?;
    let y = Tensor::zeros(&ctx, &[1 << 22])?;
    b.case(
        "add",
        &[1 << 22],
        Work::Bytes(3.0 * 4.0 * (1 << 22) as f64),
        || x.add(&y).map(|_| ()),
    )?;
    b.case(
        "exp",
        &[1 << 22],
        Work::Bytes(2.0 * 4.0 * (1 << 22) as f64),
        || x.exp().map(|_| ()),
    )?;
    let r = x.reshape(&[1024, 4096])?;
    b.case(
        "sum_axis1",
        &[1024, 4096],
        Work::Bytes(4.0 * (1 << 22) as f64),
        || r.sum_axis(1, false).map(|_| ()),
    )?;
    b.case(
        "sum_axis0",
        &[1024, 4096],
        Work::Bytes(4.0 * (1 << 22) as f64),
        || r.sum_axis(0, false).map(|_| ()),
    )?;

    // DeepMerge's first pool and batch norm: [256, 8, 75, 75].
    let shape = [256usize, 8, 75, 75];
    let numel = shape.iter().product::<usize>() as f64;
    let x = rng.normal(&ctx, &shape, 0.0, 1.0)?;
    let pooled = 256.0 * 8.0 * 37.0 * 37.0;
    b.case(
        "maxpool/deepmerge_pool1",
        &shape,
        Work::Bytes(4.0 * (numel + pooled)),
        || max_pool2d(&x, (2, 2), (2, 2), (0, 0)).map(|_| ()),
    )?;
    let xp = x.detach().requires_grad_();
    let gamma = Tensor::ones(&ctx, &[8])?.requires_grad_();
    let beta = Tensor::zeros(&ctx, &[8])?.requires_grad_();
    let (rm, rv) = (Tensor::zeros(&ctx, &[8])?, Tensor::ones(&ctx, &[8])?);
    // Forward reads x twice (statistics, then normalise) and writes y.
    b.case(
        "batchnorm/deepmerge_bn1",
        &shape,
        Work::Bytes(3.0 * 4.0 * numel),
        || batch_norm(&x, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5).map(|_| ()),
    )?;
    let y = batch_norm(&xp, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5)?;
    let g = rng.normal(&ctx, &shape, 0.0, 1.0)?;
    // Backward reads x and g twice (gradient sums, then dx) and writes dx.
    b.case(
        "batchnorm_bwd/deepmerge_bn1",
        &shape,
        Work::Bytes(5.0 * 4.0 * numel),
        || {
            for t in [&xp, &gamma, &beta] {
                t.zero_grad();
            }
            y.backward_with(&g)
        },
    )?;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/kernels.json");
    b.write(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
