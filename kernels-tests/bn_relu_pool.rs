//! The fused batch norm → ReLU → 2x2 max pool chain against an f64 CPU reference of the
//! composition, the separate ops and finite differences.

use crate::batchnorm::{bn_params, cpu_backward, cpu_stats, Bn, EPS, MOMENTUM};
use crate::common::*;
use tidal::ops::batchnorm::batch_norm;
use tidal::ops::bn_relu_pool::bn_relu_max_pool2d;
use tidal::ops::pool::max_pool2d;
use tidal::Tensor;

/// Odd shapes (odd H and W drop a row and a column; H = 3, W = 2 leaves one window), and
/// DeepMerge's three block sizes (8 x 75 x 75, 16 x 37 x 37, 32 x 18 x 18).
const POOL_SHAPES: [&[usize]; 7] = [
    &[3, 5, 7, 9],
    &[2, 3, 5, 4],
    &[1, 2, 2, 2],
    &[4, 1, 3, 2],
    &[2, 8, 75, 75],
    &[2, 16, 37, 37],
    &[3, 32, 18, 18],
];

/// f64 maxpool(relu(bn(x))) with the given statistics: the pooled values and, per window,
/// the flat input index of its first maximum.
fn cpu_brp(
    x: &[f32],
    shape: &[usize],
    stats: &[(f64, f64)],
    gamma: &[f32],
    beta: &[f32],
) -> (Vec<f32>, Vec<usize>) {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let (oh, ow) = (h / 2, w / 2);
    let z = |i: usize| {
        let ch = (i / (h * w)) % c;
        let (mu, var) = stats[ch];
        (gamma[ch] as f64 * (x[i] as f64 - mu) / (var + EPS as f64).sqrt() + beta[ch] as f64)
            .max(0.0)
    };
    let (mut y, mut arg) = (Vec::new(), Vec::new());
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = (f64::NEG_INFINITY, 0);
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let i = plane * h * w + (2 * oy + dy) * w + 2 * ox + dx;
                    if z(i) > best.0 {
                        best = (z(i), i);
                    }
                }
                y.push(best.0 as f32);
                arg.push(best.1);
            }
        }
    }
    (y, arg)
}

fn batch_or_running(x: &[f32], shape: &[usize], p: &Bn, train: bool) -> Vec<(f64, f64)> {
    if train {
        cpu_stats(x, shape).iter().map(|s| (s.0, s.1)).collect()
    } else {
        p.rm.iter()
            .zip(&p.rv)
            .map(|(&m, &v)| (m as f64, v as f64))
            .collect()
    }
}

#[test]
fn bn_relu_pool_matches_cpu_f64_forward_backward_and_running_stats() {
    for train in [true, false] {
        for (i, shape) in POOL_SHAPES.iter().enumerate() {
            let c = shape[1];
            let x = data(130 + i as u64, numel(shape));
            let p = bn_params(c);
            let (xt, gt, bt) = (
                param(&x, shape),
                param(&p.gamma, &[c]),
                param(&p.beta, &[c]),
            );
            let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
            let y = bn_relu_max_pool2d(&xt, &gt, &bt, &rm, &rv, train, MOMENTUM, EPS).unwrap();
            let st = batch_or_running(&x, shape, &p, train);
            let (y_want, arg) = cpu_brp(&x, shape, &st, &p.gamma, &p.beta);
            assert_eq!(y.shape(), &[shape[0], c, shape[2] / 2, shape[3] / 2]);
            let g = data(140 + i as u64, y.numel());
            y.backward_with(&tensor(&g, y.shape())).unwrap();
            // The gradient reaching bn(x): each window's g at its first maximum, if positive.
            let mut gz = vec![0.0f32; x.len()];
            for (o, &a) in arg.iter().enumerate() {
                if y_want[o] > 0.0 {
                    gz[a] = g[o];
                }
            }
            let (dx, dg, db) = cpu_backward(&x, &gz, shape, &st, &p.gamma, train);
            let got = Tensor::read_all(&[
                &y,
                &xt.grad().unwrap(),
                &gt.grad().unwrap(),
                &bt.grad().unwrap(),
                &rm,
                &rv,
            ])
            .unwrap();
            let what = format!("train={train} {shape:?}");
            // As batch_norm's own tests: f32 statistics and per-channel sums.
            assert_close(&got[0], &y_want, 1e-4, 2e-4, &format!("y {what}"));
            assert_close(&got[1], &dx, 1e-3, 2e-4, &format!("dx {what}"));
            assert_close(&got[2], &dg, 1e-4, 1e-3, &format!("dgamma {what}"));
            assert_close(&got[3], &db, 1e-4, 1e-3, &format!("dbeta {what}"));
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let (want_m, want_v): (Vec<f64>, Vec<f64>) = if train {
                let m = MOMENTUM as f64;
                cpu_stats(&x, shape)
                    .iter()
                    .zip(p.rm.iter().zip(&p.rv))
                    .map(|(s, (&r0, &r1))| {
                        (
                            (1.0 - m) * r0 as f64 + m * s.0,
                            (1.0 - m) * r1 as f64 + m * s.2,
                        )
                    })
                    .unzip()
            } else {
                (
                    p.rm.iter().map(|&v| v as f64).collect(),
                    p.rv.iter().map(|&v| v as f64).collect(),
                )
            };
            assert_close(
                &got[4],
                &f(&want_m),
                1e-5,
                1e-6,
                &format!("running_mean {what}"),
            );
            assert_close(
                &got[5],
                &f(&want_v),
                1e-5,
                1e-6,
                &format!("running_var {what}"),
            );
        }
    }
}

#[test]
fn bn_relu_pool_without_a_gradient_matches_the_unfused_ops() {
    // The inference kernel (no argmax) against the three reference ops, train and eval.
    for train in [true, false] {
        for (i, shape) in POOL_SHAPES.iter().enumerate() {
            let c = shape[1];
            let x = tensor(&data(150 + i as u64, numel(shape)), shape);
            let p = bn_params(c);
            let (gamma, beta) = (tensor(&p.gamma, &[c]), tensor(&p.beta, &[c]));
            let run = |fused: bool| {
                let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
                let y = if fused {
                    bn_relu_max_pool2d(&x, &gamma, &beta, &rm, &rv, train, MOMENTUM, EPS)
                } else {
                    let z = batch_norm(&x, &gamma, &beta, &rm, &rv, train, MOMENTUM, EPS)
                        .unwrap()
                        .relu()
                        .unwrap();
                    max_pool2d(&z, (2, 2), (2, 2), (0, 0))
                }
                .unwrap();
                Tensor::read_all(&[&y, &rm, &rv]).unwrap()
            };
            let (fused, reference) = (run(true), run(false));
            let what = format!("train={train} {shape:?}");
            assert_close(&fused[0], &reference[0], 1e-5, 1e-5, &format!("y {what}"));
            assert_eq!(fused[1], reference[1], "running_mean {what}");
            assert_eq!(fused[2], reference[2], "running_var {what}");
        }
    }
}

#[test]
fn bn_relu_pool_grad_matches_fd_on_odd_shapes() {
    // The differences must not straddle a ReLU or max kink: a small step, and a draw whose
    // values keep that step away from every kink (draws 160 and 161 do not: one element
    // each, for the unfused ops too).
    for (shape, train) in [(&[2usize, 3, 5, 4][..], true), (&[2, 2, 3, 5][..], false)] {
        let c = shape[1];
        let p = bn_params(c);
        let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
        grad_check(
            &[
                (data(162, numel(shape)), shape.to_vec()),
                (p.gamma.clone(), vec![c]),
                (p.beta.clone(), vec![c]),
            ],
            |t| bn_relu_max_pool2d(&t[0], &t[1], &t[2], &rm, &rv, train, MOMENTUM, EPS),
            1e-3,
            2e-2,
            2e-3,
            &format!("bn_relu_max_pool2d train={train} {shape:?}"),
        );
    }
}

#[test]
fn bn_relu_pool_refuses_inputs_it_cannot_pool() {
    let p = bn_params(2);
    let (g, b) = (tensor(&p.gamma, &[2]), tensor(&p.beta, &[2]));
    let (rm, rv) = (tensor(&p.rm, &[2]), tensor(&p.rv, &[2]));
    for shape in [&[3usize, 2, 1, 4][..], &[3, 2]] {
        let x = tensor(&data(170, numel(shape)), shape);
        let e = bn_relu_max_pool2d(&x, &g, &b, &rm, &rv, true, MOMENTUM, EPS).unwrap_err();
        assert!(e.to_string().contains("bn_relu_max_pool2d"), "{e}");
    }
}

#[test]
fn the_paired_partial_sums_of_flip_are_bit_for_bit_the_one_element_loops() {
    // With `+rows+flip` the batch-norm statistics and brp_grad_partial take two elements
    // per iteration (PAIR = 1; the tests above run them against the f64 reference); every
    // other setting keeps the one-element loops. Same sums in the same order: the outputs
    // and all three gradients must agree exactly, on odd shapes and DeepMerge's blocks.
    use tidal::gpu::{reset_variant, set_flip, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: +flip needs 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    for (i, shape) in POOL_SHAPES.iter().enumerate() {
        let c = shape[1];
        let x = data(150 + i as u64, numel(shape));
        let p = bn_params(c);
        let run = |flip: bool| {
            set_flip(&ctx, flip);
            let (xt, gt, bt) = (
                param(&x, shape),
                param(&p.gamma, &[c]),
                param(&p.beta, &[c]),
            );
            let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
            let y = bn_relu_max_pool2d(&xt, &gt, &bt, &rm, &rv, true, MOMENTUM, EPS).unwrap();
            let g = data(160 + i as u64, y.numel());
            y.backward_with(&tensor(&g, y.shape())).unwrap();
            let (gx, gg, gb) = (xt.grad().unwrap(), gt.grad().unwrap(), bt.grad().unwrap());
            let plain = batch_norm(
                &tensor(&x, shape),
                &tensor(&p.gamma, &[c]),
                &tensor(&p.beta, &[c]),
                &tensor(&p.rm, &[c]),
                &tensor(&p.rv, &[c]),
                true,
                MOMENTUM,
                EPS,
            )
            .unwrap();
            Tensor::read_all(&[&y, &gx, &gg, &gb, &rm, &rv, &plain])
                .unwrap()
                .into_iter()
                .map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
                .collect::<Vec<_>>()
        };
        let (paired, single) = (run(true), run(false));
        for (k, (a, b)) in paired.iter().zip(&single).enumerate() {
            assert!(a == b, "{shape:?}: output {k} changed bits");
        }
    }
    set_flip(&ctx, true);
    reset_variant(&ctx);
}

#[test]
fn bn_relu_pool_at_the_training_batch_matches_the_unfused_ops() {
    // DeepMerge's first block at the step's batch of 256 (778k invocations per pass, the
    // range the passes' float index division must get exactly right), forward and
    // backward, against batch_norm → relu → max_pool2d.
    let shape = [256usize, 8, 75, 75];
    let c = shape[1];
    let x = data(180, numel(&shape));
    let p = bn_params(c);
    let run = |fused: bool| {
        let (xt, gt, bt) = (
            param(&x, &shape),
            param(&p.gamma, &[c]),
            param(&p.beta, &[c]),
        );
        let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
        let y = if fused {
            bn_relu_max_pool2d(&xt, &gt, &bt, &rm, &rv, true, MOMENTUM, EPS)
        } else {
            let z = batch_norm(&xt, &gt, &bt, &rm, &rv, true, MOMENTUM, EPS)
                .unwrap()
                .relu()
                .unwrap();
            max_pool2d(&z, (2, 2), (2, 2), (0, 0))
        }
        .unwrap();
        let g = data(181, y.numel());
        y.backward_with(&tensor(&g, y.shape())).unwrap();
        Tensor::read_all(&[
            &y,
            &xt.grad().unwrap(),
            &gt.grad().unwrap(),
            &bt.grad().unwrap(),
        ])
        .unwrap()
    };
    let (fused, reference) = (run(true), run(false));
    for (i, what) in ["y", "dx", "dgamma", "dbeta"].iter().enumerate() {
        assert_close(&fused[i], &reference[i], 1e-4, 1e-4, what);
    }
}
