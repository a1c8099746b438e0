//! Kernel benchmarks: the adapter's FMA and copy peaks, then each kernel as GFLOP/s or
//! GB/s and as a fraction of those peaks. Writes target/bench/kernels.json.
//! `cargo bench --bench kernels [-- --quick]`

use tidal::bench::{print_header, Bench, Work};
use tidal::ops::conv::{conv2d, conv2d_grad_input, conv2d_grad_weight, Conv2dParams};
use tidal::{Context, Rng, Tensor};

/// (name, batch, in channels, out channels, kernel side, stride, padding, image side)
type ConvLayer = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

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

    // Convolution layers of the model zoo. FLOPs = 2·N·O·OH·OW·C·KH·KW for each of the
    // three kernels.
    let layers: &[ConvLayer] = &[
        ("deepmerge_conv1", 256, 3, 8, 5, 1, 2, 75),
        ("deepmerge_conv2", 256, 8, 16, 3, 1, 1, 37),
        ("deepmerge_conv3", 256, 16, 32, 3, 1, 1, 18),
        ("resnet_stem", 64, 3, 64, 7, 2, 3, 75),
        ("resnet_l2_3x3", 64, 128, 128, 3, 1, 1, 10),
        ("resnet_l4_3x3", 64, 512, 512, 3, 1, 1, 3),
    ];
    for &(layer, n, c, o, k, s, pad, hw) in layers {
        let p = Conv2dParams {
            stride: (s, s),
            padding: (pad, pad),
            ..Conv2dParams::default()
        };
        let x = rng.normal(&ctx, &[n, c, hw, hw], 0.0, 1.0)?;
        let w = rng.normal(&ctx, &[o, c, k, k], 0.0, 0.1)?;
        let ohw = (hw + 2 * pad - k) / s + 1;
        let g = rng.normal(&ctx, &[n, o, ohw, ohw], 0.0, 1.0)?;
        let flops = Work::Flops(2.0 * (n * o * ohw * ohw * c * k * k) as f64);
        let shape = [n, c, hw, hw, o, k, k];
        b.case(&format!("conv2d_fwd/{layer}"), &shape, flops, || {
            conv2d(&x, &w, None, p).map(|_| ())
        })?;
        b.case(&format!("conv2d_bwd_input/{layer}"), &shape, flops, || {
            conv2d_grad_input(&g, &w, x.shape(), p).map(|_| ())
        })?;
        b.case(&format!("conv2d_bwd_weight/{layer}"), &shape, flops, || {
            conv2d_grad_weight(&g, &x, w.shape(), p).map(|_| ())
        })?;
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/kernels.json");
    b.write(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
