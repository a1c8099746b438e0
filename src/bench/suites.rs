//! The benchmark suites, shared by `cargo bench` and `tidal bench`: kernels (matmul sizes,
//! elementwise and reductions, Adam, the transfer losses, softmax, pooling, batch norm and
//! conv2d at the DeepMerge and ResNet18 shapes) and full training steps.

use super::{Bench, Clock, Work};
use crate::error::Result;
use crate::losses::cross_entropy;
use crate::losses::fisher::{fisher_loss, FisherConfig};
use crate::losses::mmd::{mmd, MmdConfig};
use crate::models::ModelKind;
use crate::ops::batchnorm::batch_norm;
use crate::ops::bn_relu_pool::bn_relu_max_pool2d;
use crate::ops::conv2d::{conv2d, conv2d_grad_input, conv2d_grad_weight, Conv2dParams};
use crate::ops::pool::max_pool2d;
use crate::ops::softmax::softmax;
use crate::optim::{Optimizer, ParamGroup, Rule};
use crate::train::{Learner, TrainConfig};
use crate::{no_grad, Rng, Tensor};
use std::time::Instant;

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

/// Which suites `run` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Kernels,
    Train,
    All,
}

impl std::str::FromStr for Suite {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Suite> {
        match s {
            "kernels" => Ok(Suite::Kernels),
            "train" => Ok(Suite::Train),
            "all" => Ok(Suite::All),
            _ => Err(crate::Error::config(
                "suite",
                format!("unknown suite '{s}' (expected kernels, train or all)"),
            )),
        }
    }
}

/// Peaks first, then the chosen suites.
pub fn run(b: &mut Bench, suite: Suite) -> Result<()> {
    b.measure_peaks()?;
    if suite != Suite::Train {
        kernels(b)?;
    }
    if suite != Suite::Kernels {
        train_steps(b)?;
    }
    Ok(())
}

/// The kernel suite (call `measure_peaks` first so cases report fractions of peak).
pub fn kernels(b: &mut Bench) -> Result<()> {
    let ctx = b.ctx.clone();
    b.expect(41);
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
        b.case("matmul/nn", &[m, n, k], Work::Flops(flops), || {
            a.matmul(&w).map(|_| ())
        })?;
    }
    // The transposed forms backward passes use, at 1024.
    let a = rng.normal(&ctx, &[1024, 1024], 0.0, 1.0)?;
    let w = rng.normal(&ctx, &[1024, 1024], 0.0, 1.0)?;
    let flops = 2.0 * 1024f64.powi(3);
    b.case("matmul/tn", &[1024, 1024, 1024], Work::Flops(flops), || {
        a.matmul_t(&w, true, false).map(|_| ())
    })?;
    b.case("matmul/nt", &[1024, 1024, 1024], Work::Flops(flops), || {
        a.matmul_t(&w, false, true).map(|_| ())
    })?;

    let x = Tensor::zeros(&ctx, &[1 << 22])?;
    let y = Tensor::zeros(&ctx, &[1 << 22])?;
    b.case(
        "elementwise/add",
        &[1 << 22],
        Work::Bytes(3.0 * 4.0 * (1 << 22) as f64),
        || x.add(&y).map(|_| ()),
    )?;
    b.case(
        "elementwise/exp",
        &[1 << 22],
        Work::Bytes(2.0 * 4.0 * (1 << 22) as f64),
        || x.exp().map(|_| ()),
    )?;
    let r = x.reshape(&[1024, 4096])?;
    b.case(
        "reduce/sum_axis1",
        &[1024, 4096],
        Work::Bytes(4.0 * (1 << 22) as f64),
        || r.sum_axis(1, false).map(|_| ()),
    )?;
    b.case(
        "reduce/sum_axis0",
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
    // Rotated over several copies so the case reads memory, not a warm cache, as a
    // training step does (the working set exceeds a CPU's last-level cache; 64 MiB on a GPU).
    let copies = if ctx.is_cpu() { 8 } else { 24 };
    let mut opts = Vec::with_capacity(copies);
    for _ in 0..copies {
        let params: Vec<Tensor> = shapes
            .iter()
            .map(|s| rng.normal(&ctx, s, 0.0, 0.1).map(|t| t.requires_grad_()))
            .collect::<crate::Result<_>>()?;
        for p in &params {
            p.set_grad(Some(rng.normal(&ctx, p.shape(), 0.0, 1.0)?));
        }
        opts.push(Optimizer::new(
            Rule::reference_adam(),
            vec![ParamGroup::new(params)],
        )?);
    }
    let n = opts[0].num_params();
    let mut turn = 0;
    // Reads p, g, m, v; writes p, m, v; plus the gather/scatter copies of p and g.
    b.case(
        "optim/adam_deepmerge",
        &[n],
        Work::Bytes((4 * 7 + 4 * 4) as f64 * n as f64),
        || {
            turn = (turn + 1) % copies;
            opts[turn].step(1e-4)
        },
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
            crate::losses::entropy(&logits, crate::losses::EntropyForm::Exact)?.backward()
        },
    )?;
    // DeepMerge's first pool and batch norm: [256, 8, 75, 75].
    let shape = [256usize, 8, 75, 75];
    let numel = shape.iter().product::<usize>() as f64;
    let x = rng.normal(&ctx, &shape, 0.0, 1.0)?;
    let pooled = 256.0 * 8.0 * 37.0 * 37.0;
    b.case(
        "pool/max_pool2d/deepmerge_pool1",
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
        "batchnorm/forward/deepmerge_bn1",
        &shape,
        Work::Bytes(3.0 * 4.0 * numel),
        || batch_norm(&x, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5).map(|_| ()),
    )?;
    let y = batch_norm(&xp, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5)?;
    let g = rng.normal(&ctx, &shape, 0.0, 1.0)?;
    // Backward reads x and g twice (gradient sums, then dx) and writes dx.
    b.case(
        "batchnorm/backward/deepmerge_bn1",
        &shape,
        Work::Bytes(5.0 * 4.0 * numel),
        || {
            for t in [&xp, &gamma, &beta] {
                t.zero_grad();
            }
            y.backward_with(&g)
        },
    )?;
    // The fused chain of the same block, against the three separate ops' passes: forward
    // reads x twice and writes the pooled output and argmax; backward reads x once more,
    // gathers the pooled gradient and writes dx.
    b.case(
        "bn_relu_pool/forward/deepmerge_block1",
        &shape,
        Work::Bytes(4.0 * (2.0 * numel + 2.0 * pooled)),
        || bn_relu_max_pool2d(&x, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5).map(|_| ()),
    )?;
    let yp = bn_relu_max_pool2d(&xp, &gamma, &beta, &rm, &rv, true, 0.1, 1e-5)?;
    let gp = rng.normal(&ctx, yp.shape(), 0.0, 1.0)?;
    b.case(
        "bn_relu_pool/backward/deepmerge_block1",
        &shape,
        Work::Bytes(4.0 * (2.0 * numel + 3.0 * pooled)),
        || {
            for t in [&xp, &gamma, &beta] {
                t.zero_grad();
            }
            yp.backward_with(&gp)
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
        b.case(&format!("conv2d/forward/{layer}"), &shape, flops, || {
            conv2d(&x, &w, None, p).map(|_| ())
        })?;
        b.case(&format!("conv2d/grad_input/{layer}"), &shape, flops, || {
            conv2d_grad_input(&g, &w, x.shape(), p).map(|_| ())
        })?;
        b.case(
            &format!("conv2d/grad_weight/{layer}"),
            &shape,
            flops,
            || conv2d_grad_weight(&g, &x, w.shape(), p).map(|_| ()),
        )?;
    }

    Ok(())
}

/// Full training steps (forward, backward, update) of 128 source + 128 target images, with
/// dispatches, submissions and allocations per step after warm-up, time to the end of the
/// first step, and eval-mode inference at batch 256. Wall-clock: a step's cost includes
/// recording on the host. In quick mode ResNet18 runs 32 + 32 images (its shape says so).
pub fn train_steps(b: &mut Bench) -> Result<()> {
    let ctx = b.ctx.clone();
    b.expect(6);
    let mut rng = Rng::new(7);
    let cases = [
        ("train_step/deepmerge/noda", ModelKind::DeepMerge, "noda"),
        ("train_step/deepmerge/mmd", ModelKind::DeepMerge, "mmd"),
        ("train_step/deepmerge/dann", ModelKind::DeepMerge, "dann"),
        ("train_step/resnet18/mmd", ModelKind::ResNet18, "mmd"),
    ];
    for (name, model, method) in cases {
        let inference = model == ModelKind::DeepMerge && method == "noda";
        let wanted = b.wants(name) || (inference && b.wants("inference/deepmerge"));
        if !wanted {
            continue;
        }
        // A ResNet18 step takes ~30 s on lavapipe: quick mode runs a quarter of the batch.
        let batch = if b.quick && model == ModelKind::ResNet18 {
            32
        } else {
            128
        };
        let x = rng.normal(&ctx, &[2 * batch, 3, 75, 75], 0.0, 1.0)?;
        let y = Tensor::from_u32(
            &ctx,
            &(0..batch as u32).map(|i| i % 2).collect::<Vec<_>>(),
            &[batch],
        )?;
        let cfg = TrainConfig {
            model,
            method: method.parse()?,
            batch,
            ..TrainConfig::default()
        };
        let t0 = Instant::now();
        let mut learner = Learner::new(&ctx, &cfg)?;
        learner.step(&x, &y, 1e-4, 0.5)?;
        ctx.sync()?;
        let first_step_s = t0.elapsed().as_secs_f64();
        let before = ctx.stats();
        learner.step(&x, &y, 1e-4, 0.5)?;
        ctx.sync()?;
        let after = ctx.stats();
        if b.wants(name) {
            b.case_with(
                name,
                &[2 * batch, 3, 75, 75],
                Work::Images((2 * batch) as f64),
                Clock::Wall,
                true,
                || learner.step(&x, &y, 1e-4, 0.5).map(|_| ()),
            )?;
            let per_step = |f: fn(&crate::gpu::Stats) -> u64| (f(&after) - f(&before)) as f64;
            let counters = [
                ("first_step_s", first_step_s),
                ("dispatches_per_step", per_step(|s| s.dispatches)),
                ("submits_per_step", per_step(|s| s.submits)),
                (
                    "allocations_per_step_after_warmup",
                    per_step(|s| s.buffer_allocations),
                ),
            ];
            for (k, v) in counters {
                b.counter(k, v);
            }
            b.println(&format!(
                "    first step {first_step_s:.1} s; per step: {} dispatches, {} submit(s), {} allocations after warm-up",
                counters[1].1, counters[2].1, counters[3].1
            ));
        }
        if inference {
            learner.set_training(false);
            let xe = x.slice_rows(0, 256.min(2 * batch))?;
            b.case_with(
                "inference/deepmerge",
                &[256, 3, 75, 75],
                Work::Images(256.0),
                Clock::Wall,
                false,
                || no_grad(|| learner.model.run(&xe).map(|_| ())),
            )?;
        }
    }
    if b.wants("predict/deepmerge") {
        predict_case(b)?;
    }
    Ok(())
}

/// `tidal predict` end to end: a DeepMerge checkpoint over an npy file on disk (read,
/// normalised, batches of 256, catalogue written), in images per second.
fn predict_case(b: &mut Bench) -> Result<()> {
    let ctx = b.ctx.clone();
    let n = if b.quick { 512 } else { 2048 };
    let dir = std::env::temp_dir().join(format!("tidal-bench-predict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let mut rng = Rng::new(11);
    // Drawn 512 images at a time: 2048 at once is a 138 MB buffer, over lavapipe's 128 MiB
    // binding cap (the full bench failed there).
    let mut images = Vec::with_capacity(n * 3 * 75 * 75);
    for _ in 0..n / 512 {
        images.extend(rng.normal(&ctx, &[512, 3, 75, 75], 0.0, 1.0)?.to_vec()?);
    }
    let x = dir.join("X.npy");
    crate::data::npy::write_f32(&x, &[n, 3, 75, 75], &images)?;
    let model = crate::models::DeepMerge::new(&ctx, &mut rng)?;
    let (mut state, mut counters) = (Vec::new(), Vec::new());
    crate::nn::Module::named_state(&model, "", &mut state);
    crate::nn::Module::named_counters(&model, "", &mut counters);
    let ckpt = dir.join("model.safetensors");
    crate::train::checkpoint::save(&ckpt, &state, &counters, Default::default())?;
    let norm = dir.join("norm.json");
    crate::data::split::Normalisation {
        mean: vec![0.0; 3],
        std: vec![1.0; 3],
    }
    .save(&norm)?;
    let opts = crate::predict::Options {
        checkpoints: vec![ckpt],
        inputs: vec![x],
        out: dir.join("catalogue.fits"),
        ids: crate::predict::Ids::Default,
        keep: Vec::new(),
        norm: crate::train::eval::NormChoice::File(norm),
        calibrated: true,
        shard: None,
        prepare: Default::default(),
        chunk: 2048,
    };
    let r = b.case_with(
        "predict/deepmerge",
        &[n, 3, 75, 75],
        Work::Images(n as f64),
        Clock::Wall,
        false,
        || crate::predict::predict(&ctx, &opts, |_, _| {}).map(|_| ()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    r
}
