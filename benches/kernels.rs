//! Kernel benchmarks: the adapter's FMA and copy peaks, then each kernel as GFLOP/s or
//! GB/s and as a fraction of those peaks. Writes target/bench/kernels.json.
//! `cargo bench --bench kernels [-- --quick]`

use tidal::bench::{print_header, Bench, Work};
use tidal::losses::cross_entropy;
use tidal::losses::fisher::{fisher_loss, FisherConfig};
use tidal::losses::mmd::{mmd, MmdConfig};
use tidal::ops::batchnorm::batch_norm;
use tidal::ops::conv::{conv2d, conv2d_grad_input, conv2d_grad_weight, Conv2dParams};
use tidal::ops::pool::max_pool2d;
use tidal::ops::softmax::softmax;
use tidal::optim::{Method, Optimizer, ParamGroup};
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

    // Adam over the DeepMerge parameter set (conv1-3, batch norms, fc1-3: 174,626 values).
    let shapes: &[&[usize]] = &[
        &[8, 3, 5, 5],
        &[8],
        &[16, 8, 3, 3],
        &[16],
        &[32, 16, 3, 3],
        &[32],
        &[8],
        &[8],
        &[16],
        &[16],
        &[32],
        &[32],
        &[64, 2592],
        &[64],
        &[32, 64],
        &[32],
        &[2, 32],
        &[2],
    ];
    let params: Vec<Tensor> = shapes
        .iter()
        .map(|s| rng.normal(&ctx, s, 0.0, 0.1).map(|t| t.requires_grad_()))
        .collect::<tidal::Result<_>>()?;
    for p in &params {
        p.set_grad(Some(rng.normal(&ctx, p.shape(), 0.0, 1.0)?));
    }
    let mut opt = Optimizer::new(Method::reference_adam(), vec![ParamGroup::new(params)])?;
    let n = opt.num_params();
    // Reads p, g, m, v; writes p, m, v; plus the gather/scatter copies of p and g.
    b.case(
        "adam/deepmerge",
        &[n],
        Work::Bytes((4 * 7 + 4 * 4) as f64 * n as f64),
        || opt.step(1e-4),
    )?;

    // Transfer losses, forward + backward: MMD at the DeepMerge flatten (2592) and the
    // ResNet bottleneck (256) sizes, Fisher on 128 DeepMerge features.
    for d in [2592usize, 256] {
        let x = rng.normal(&ctx, &[128, d], 0.0, 1.0)?.requires_grad_();
        let y = rng.normal(&ctx, &[128, d], 0.2, 1.0)?.requires_grad_();
        // Two Gram-sized matmuls (forward G, backward A·Z) dominate.
        let flops = 2.0 * 2.0 * (256.0 * 256.0 * d as f64);
        for (name, cfg) in [
            ("reference", MmdConfig::reference()),
            ("dan", MmdConfig::dan()),
        ] {
            b.case(
                &format!("mmd/{name}_fwd_bwd"),
                &[128, 128, d],
                Work::Flops(flops),
                || {
                    x.zero_grad();
                    y.zero_grad();
                    mmd(&x, &y, &cfg)?.backward()
                },
            )?;
        }
    }
    let h = rng.normal(&ctx, &[128, 2592], 0.0, 1.0)?.requires_grad_();
    let centres = rng.normal(&ctx, &[2, 2592], 0.0, 1.0)?.requires_grad_();
    let labels = Tensor::from_u32(
        &ctx,
        &(0..128u32).map(|i| i % 2).collect::<Vec<_>>(),
        &[128],
    )?;
    let cfg = FisherConfig::default();
    b.case(
        "fisher/deepmerge_fwd_bwd",
        &[128, 2592],
        Work::Bytes(4.0 * 3.0 * 128.0 * 2592.0),
        || {
            h.zero_grad();
            centres.zero_grad();
            fisher_loss(&h, &labels, &centres, &cfg)?.backward()
        },
    )?;
    // The DeepMerge classifier's loss: 256 logits of 2 classes, forward and backward. Bytes
    // counted: logits read, softmax written, then read again and the gradient written.
    let logits = rng.normal(&ctx, &[256, 2], 0.0, 1.0)?.requires_grad_();
    let labels: Vec<u32> = (0..256).map(|i| i % 2).collect();
    let labels = Tensor::from_u32(&ctx, &labels, &[256])?;
    b.case(
        "cross_entropy/deepmerge",
        &[256, 2],
        Work::Bytes(4.0 * 4.0 * 512.0),
        || {
            logits.zero_grad();
            cross_entropy(&logits, &labels, None)?.backward()
        },
    )?;
    // Bytes counted: one read of x and one write of the result.
    let x = rng.normal(&ctx, &[1024, 1000], 0.0, 1.0)?;
    b.case(
        "softmax/1024x1000",
        &[1024, 1000],
        Work::Bytes(2.0 * 4.0 * 1024.0 * 1000.0),
        || softmax(&x).map(|_| ()),
    )?;

    let logits = rng.normal(&ctx, &[256, 2], 0.0, 1.0)?.requires_grad_();
    b.case(
        "entropy/deepmerge_fwd_bwd",
        &[256, 2],
        Work::Bytes(4.0 * 4.0 * 512.0),
        || {
            logits.zero_grad();
            tidal::losses::entropy(&logits)?.backward()
        },
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
