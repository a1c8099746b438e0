//! Layers and models: shapes, PyTorch state names, initialisers, train/eval mode, and an
//! end-to-end check that the DeepMerge CNN trains with Adam.

use crate::common::*;
use tidal::losses::cross_entropy;
use tidal::models::{Classifier, DeepMerge, Discriminator, ResNet18};
use tidal::nn::{Dropout, Linear, Module};
use tidal::optim::{Optimizer, ParamGroup, Rule};
use tidal::{no_grad, Rng, Tensor};

#[test]
fn linear_is_x_times_weight_transposed_plus_bias_with_pytorch_init_bounds() {
    let ctx = ctx();
    let mut rng = Rng::new(3);
    let (fan_in, fan_out) = (37usize, 5usize);
    let l = Linear::new(&ctx, &mut rng, fan_in, fan_out, true).unwrap();
    let w = l.weight.to_vec().unwrap();
    let b = l.bias.as_ref().unwrap().to_vec().unwrap();
    let bound = 1.0 / (fan_in as f32).sqrt();
    assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
    assert_eq!(l.weight.shape(), &[fan_out, fan_in]);
    let x = data(4, 3 * fan_in);
    let got = l
        .forward(&tensor(&x, &[3, fan_in]))
        .unwrap()
        .to_vec()
        .unwrap();
    let mut want = cpu_matmul(&x, &w, 3, fan_out, fan_in, false, true);
    for (i, v) in want.iter_mut().enumerate() {
        *v += b[i % fan_out];
    }
    assert_close(&got, &want, 1e-5, 1e-6, "linear");
}

#[test]
fn deepmerge_shapes_and_pytorch_state_names() {
    let ctx = ctx();
    let m = DeepMerge::new(&ctx, &mut Rng::new(1)).unwrap();
    let x = Rng::new(2).normal(&ctx, &[3, 3, 75, 75], 0.0, 1.0).unwrap();
    let out = m.run(&x).unwrap();
    assert_eq!(out.features.shape(), &[3, 2592]);
    assert_eq!(out.logits.shape(), &[3, 2]);
    let mut state = Vec::new();
    m.named_state("", &mut state);
    let names: Vec<String> = state.iter().map(|(n, _)| n.clone()).collect();
    let mut want = Vec::new();
    for i in 1..=3 {
        want.push(format!("conv{i}.weight"));
        want.push(format!("conv{i}.bias"));
        for s in ["weight", "bias", "running_mean", "running_var"] {
            want.push(format!("batchn{i}.{s}"));
        }
    }
    for i in 1..=3 {
        want.push(format!("fc{i}.weight"));
        want.push(format!("fc{i}.bias"));
    }
    assert_eq!(names, want);
    let shape_of = |n: &str| {
        state
            .iter()
            .find(|(k, _)| k == n)
            .unwrap()
            .1
            .shape()
            .to_vec()
    };
    assert_eq!(shape_of("conv1.weight"), vec![8, 3, 5, 5]);
    assert_eq!(shape_of("fc1.weight"), vec![64, 2592]);
}

#[test]
fn resnet18_gives_a_256_d_bottleneck_on_75px_images() {
    let ctx = ctx();
    let m = ResNet18::new(&ctx, &mut Rng::new(5)).unwrap();
    let x = Rng::new(6).normal(&ctx, &[2, 3, 75, 75], 0.0, 1.0).unwrap();
    let out = no_grad(|| m.run(&x)).unwrap();
    assert_eq!(out.features.shape(), &[2, 256]);
    assert_eq!(out.logits.shape(), &[2, 2]);
    assert!(out.logits.to_vec().unwrap().iter().all(|v| v.is_finite()));
    let mut state = Vec::new();
    m.named_state("", &mut state);
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    for n in [
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer4.1.bn2.bias",
        "bottleneck.weight",
        "fc.bias",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
}

#[test]
fn eval_mode_turns_off_dropout_and_batch_statistics() {
    let ctx = ctx();
    let d = Dropout::new(0.5, Rng::new(9));
    let x = tensor(&[1.0; 64], &[64]);
    assert_ne!(d.forward(&x).unwrap().to_vec().unwrap(), vec![1.0; 64]);
    d.set_training(false);
    assert_eq!(d.forward(&x).unwrap().to_vec().unwrap(), vec![1.0; 64]);

    let m = DeepMerge::new(&ctx, &mut Rng::new(1)).unwrap();
    let x = Rng::new(2).normal(&ctx, &[2, 3, 75, 75], 1.0, 2.0).unwrap();
    let mut state = Vec::new();
    m.named_state("", &mut state);
    let rm = state
        .iter()
        .find(|(n, _)| n == "batchn1.running_mean")
        .unwrap()
        .1
        .clone();
    m.set_training(false);
    m.run(&x).unwrap();
    assert_eq!(
        rm.to_vec().unwrap(),
        vec![0.0; 8],
        "eval leaves running stats alone"
    );
    m.set_training(true);
    m.run(&x).unwrap();
    assert!(
        rm.to_vec().unwrap().iter().any(|&v| v != 0.0),
        "training updates them"
    );
}

#[test]
fn discriminator_reverses_gradients_into_the_features() {
    let ctx = ctx();
    let mut rng = Rng::new(4);
    let d = Discriminator::new(&ctx, &mut rng, 6, 16).unwrap();
    d.set_training(false);
    let f = tensor(&data(1, 4 * 6), &[4, 6]).requires_grad_();
    d.grl.set_lambda(0.0);
    d.forward(&f).unwrap().sum().unwrap().backward().unwrap();
    assert!(f
        .grad()
        .unwrap()
        .to_vec()
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    assert!(
        d.parameters().iter().all(|p| p.grad().is_some()),
        "the discriminator itself trains"
    );
}

#[test]
fn deepmerge_overfits_a_small_batch_with_adam() {
    let ctx = ctx();
    let mut rng = Rng::new(11);
    let m = DeepMerge::new(&ctx, &mut rng).unwrap();
    let x = rng.normal(&ctx, &[8, 3, 75, 75], 0.0, 1.0).unwrap();
    let y = Tensor::from_u32(&ctx, &[0, 1, 0, 1, 1, 0, 1, 0], &[8]).unwrap();
    let mut opt = Optimizer::new(
        Rule::reference_adam(),
        vec![ParamGroup::new(m.parameters())],
    )
    .unwrap();
    let mut losses = Vec::new();
    for _ in 0..15 {
        opt.zero_grad();
        let loss = cross_entropy(&m.run(&x).unwrap().logits, &y, None).unwrap();
        loss.backward().unwrap();
        opt.step(1e-3).unwrap();
        losses.push(loss.detach());
    }
    let refs: Vec<&Tensor> = losses.iter().collect();
    let v: Vec<f32> = Tensor::read_all(&refs)
        .unwrap()
        .into_iter()
        .map(|l| l[0])
        .collect();
    assert!(v.iter().all(|l| l.is_finite()), "{v:?}");
    assert!(v[14] < 0.5 * v[0], "loss should fall: {v:?}");
}

#[test]
fn discriminator_dropout_state_is_the_one_its_forward_uses() {
    // The saved generator state must be the layers' own, or a resumed DANN run would draw
    // different masks.
    let ctx = ctx();
    let d = Discriminator::new(&ctx, &mut Rng::new(1), 6, 16).unwrap();
    let before = d.dropout_rngs();
    d.forward(&tensor(&data(3, 24), &[4, 6])).unwrap();
    let after = d.dropout_rngs();
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a.counter > b.counter),
        "{before:?} -> {after:?}"
    );
}

#[test]
fn deepmerge_fused_blocks_match_the_separate_ops_in_training_and_eval() {
    // The fused BN → ReLU → pool chain against the reference ops, through the whole model:
    // logits, features, the last conv activation and every parameter's gradient.
    let ctx = ctx();
    let before = tidal::gpu::fused(&ctx);
    let x = Rng::new(3).normal(&ctx, &[5, 3, 75, 75], 0.5, 1.0).unwrap();
    let y = Tensor::from_u32(&ctx, &[0, 1, 1, 0, 1], &[5]).unwrap();
    let run = |fused: bool, training: bool| {
        tidal::gpu::set_fused(&ctx, fused);
        let m = DeepMerge::new(&ctx, &mut Rng::new(1)).unwrap();
        m.set_training(training);
        let out = m.run(&x).unwrap();
        cross_entropy(&out.logits, &y, None)
            .unwrap()
            .backward()
            .unwrap();
        let mut all = vec![
            out.logits.clone(),
            out.features.clone(),
            m.last_conv(&x).unwrap(),
        ];
        all.extend(m.parameters().iter().map(|p| p.grad().unwrap()));
        let refs: Vec<&Tensor> = all.iter().collect();
        Tensor::read_all(&refs).unwrap()
    };
    for training in [true, false] {
        let (fused, reference) = (run(true, training), run(false, training));
        tidal::gpu::set_fused(&ctx, before);
        assert_eq!(fused.len(), reference.len());
        for (k, (a, b)) in fused.iter().zip(&reference).enumerate() {
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
            assert_close(
                a,
                b,
                1e-3,
                1e-4 * scale,
                &format!("training={training} output {k}"),
            );
        }
    }
}

#[test]
fn deepmerge_eval_folds_each_block_into_one_kernel_and_matches_the_layers() {
    // Eval mode without gradients, `+fused+rows`: each block runs as the folded
    // conv → BN → ReLU → pool kernel (two dispatches instead of the fused chain's four or
    // the layers' eight). Logits and features against the layers, with running statistics
    // that training has moved away from their start.
    use tidal::gpu::{set_fused, set_rows, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the folded blocks need 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    let x = Rng::new(5).normal(&ctx, &[7, 3, 75, 75], 0.3, 1.2).unwrap();
    let m = DeepMerge::new(&ctx, &mut Rng::new(2)).unwrap();
    m.set_training(true);
    for _ in 0..3 {
        no_grad(|| m.run(&x)).unwrap();
    }
    m.set_training(false);
    let eval = |fused: bool, rows: bool| {
        set_fused(&ctx, fused);
        set_rows(&ctx, rows);
        let before = ctx.stats().dispatches;
        let out = no_grad(|| m.run(&x)).unwrap();
        let v = Tensor::read_all(&[&out.logits, &out.features]).unwrap();
        (v, ctx.stats().dispatches - before)
    };
    let (layers, n_layers) = eval(false, false);
    let (chain, n_chain) = eval(true, false);
    let (folded, n_folded) = eval(true, true);
    set_fused(&ctx, true);
    set_rows(&ctx, true);
    tidal::gpu::reset_variant(&ctx);
    // Per block, fold + convolve-and-pool (2) replace the convolution and the chain's
    // coefficients and pass (3), which replace the layers' convolution, batch norm,
    // ReLU and pool (5).
    assert_eq!(
        (n_chain - n_folded, n_layers - n_chain),
        (3, 6),
        "{n_folded} {n_chain} {n_layers}"
    );
    for (name, got) in [("folded", &folded), ("fused chain", &chain)] {
        for (k, (a, b)) in got.iter().zip(&layers).enumerate() {
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
            assert_close(a, b, 1e-4, 1e-4 * scale, &format!("{name} output {k}"));
        }
    }
}
