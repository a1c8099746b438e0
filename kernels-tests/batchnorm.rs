use crate::common::*;
use tidal::ops::batchnorm::batch_norm;
use tidal::Tensor;

pub(crate) const EPS: f32 = 1e-5;
pub(crate) const MOMENTUM: f32 = 0.1;

/// (n, c, hw) of an [N, C, H, W] or [N, C] shape.
fn dims(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

/// Per-channel (mean, biased variance, unbiased variance) in f64.
pub(crate) fn cpu_stats(x: &[f32], shape: &[usize]) -> Vec<(f64, f64, f64)> {
    let (n, c, hw) = dims(shape);
    let m = (n * hw) as f64;
    (0..c)
        .map(|ch| {
            let vals: Vec<f64> = (0..n)
                .flat_map(|s| (0..hw).map(move |i| (s * c + ch) * hw + i))
                .map(|i| x[i] as f64)
                .collect();
            let mean = vals.iter().sum::<f64>() / m;
            let ss = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
            (mean, ss / m, ss / (m - 1.0))
        })
        .collect()
}

/// y = γ (x − μ_c) / sqrt(σ²_c + eps) + β with the given per-channel (μ, σ²).
fn cpu_normalise(
    x: &[f32],
    shape: &[usize],
    stats: &[(f64, f64)],
    gamma: &[f32],
    beta: &[f32],
) -> Vec<f32> {
    let (_, c, hw) = dims(shape);
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / hw) % c;
            let (mu, var) = stats[ch];
            (gamma[ch] as f64 * (v as f64 - mu) / (var + EPS as f64).sqrt() + beta[ch] as f64)
                as f32
        })
        .collect()
}

/// (dx, dγ, dβ) for upstream g; `train` uses the batch-statistics backward.
pub(crate) fn cpu_backward(
    x: &[f32],
    g: &[f32],
    shape: &[usize],
    stats: &[(f64, f64)],
    gamma: &[f32],
    train: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (n, c, hw) = dims(shape);
    let m = (n * hw) as f64;
    let mut sg = vec![0.0f64; c];
    let mut sgh = vec![0.0f64; c];
    let xhat = |i: usize| {
        let ch = (i / hw) % c;
        (x[i] as f64 - stats[ch].0) / (stats[ch].1 + EPS as f64).sqrt()
    };
    for (i, &gi) in g.iter().enumerate() {
        let ch = (i / hw) % c;
        sg[ch] += gi as f64;
        sgh[ch] += gi as f64 * xhat(i);
    }
    let dx = (0..x.len())
        .map(|i| {
            let ch = (i / hw) % c;
            let a = gamma[ch] as f64 / (stats[ch].1 + EPS as f64).sqrt();
            let v = if train {
                a * (g[i] as f64 - sg[ch] / m - xhat(i) * sgh[ch] / m)
            } else {
                a * g[i] as f64
            };
            v as f32
        })
        .collect();
    let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
    (dx, f(sgh), f(sg))
}

/// Shapes with odd sizes: N = 1 planes, primes, a [N, C] input, and numel % 4 != 0.
const SHAPES: [&[usize]; 5] = [
    &[3, 5, 7, 3],
    &[5, 7],
    &[1, 3, 2, 3],
    &[2, 1, 1, 1],
    &[4, 2, 17, 19],
];

pub(crate) struct Bn {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub rm: Vec<f32>,
    pub rv: Vec<f32>,
}

pub(crate) fn bn_params(c: usize) -> Bn {
    Bn {
        gamma: data(31, c).iter().map(|v| 1.0 + 0.5 * v).collect(),
        beta: data(32, c),
        rm: data(33, c).iter().map(|v| 0.3 * v).collect(),
        rv: data(34, c).iter().map(|v| 1.0 + 0.5 * v).collect(),
    }
}

#[test]
fn batch_norm_train_forward_matches_cpu_f64() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let c = shape[1];
        let x = data(40 + i as u64, numel(shape));
        let p = bn_params(c);
        let rm = tensor(&p.rm, &[c]);
        let rv = tensor(&p.rv, &[c]);
        let y = batch_norm(
            &tensor(&x, shape),
            &tensor(&p.gamma, &[c]),
            &tensor(&p.beta, &[c]),
            &rm,
            &rv,
            true,
            MOMENTUM,
            EPS,
        )
        .unwrap();
        let st: Vec<(f64, f64)> = cpu_stats(&x, shape).iter().map(|s| (s.0, s.1)).collect();
        // Outputs are O(1); f32 statistics over <= 1300 values: 1e-4.
        assert_close(
            &y.to_vec().unwrap(),
            &cpu_normalise(&x, shape, &st, &p.gamma, &p.beta),
            1e-4,
            1e-4,
            &format!("train {shape:?}"),
        );
    }
}

#[test]
fn batch_norm_train_statistics_survive_a_large_mean() {
    // Values 1000 + U(-1, 1): a sum-of-squares variance would lose every digit in f32.
    let shape = [4usize, 3, 11, 13];
    let x: Vec<f32> = data(50, numel(&shape)).iter().map(|v| 1000.0 + v).collect();
    let p = bn_params(3);
    let y = batch_norm(
        &tensor(&x, &shape),
        &tensor(&p.gamma, &[3]),
        &tensor(&p.beta, &[3]),
        &tensor(&p.rm, &[3]),
        &tensor(&p.rv, &[3]),
        true,
        MOMENTUM,
        EPS,
    )
    .unwrap();
    let st: Vec<(f64, f64)> = cpu_stats(&x, &shape).iter().map(|s| (s.0, s.1)).collect();
    // x itself carries f32 rounding of 1000 + v (6e-5), amplified by 1/std ≈ 1.7: 5e-4.
    assert_close(
        &y.to_vec().unwrap(),
        &cpu_normalise(&x, &shape, &st, &p.gamma, &p.beta),
        1e-3,
        5e-4,
        "large mean",
    );
}

#[test]
fn batch_norm_eval_forward_uses_running_statistics_without_updating_them() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let c = shape[1];
        let x = data(60 + i as u64, numel(shape));
        let p = bn_params(c);
        let rm = tensor(&p.rm, &[c]);
        let rv = tensor(&p.rv, &[c]);
        let y = batch_norm(
            &tensor(&x, shape),
            &tensor(&p.gamma, &[c]),
            &tensor(&p.beta, &[c]),
            &rm,
            &rv,
            false,
            MOMENTUM,
            EPS,
        )
        .unwrap();
        let st: Vec<(f64, f64)> =
            p.rm.iter()
                .zip(&p.rv)
                .map(|(&m, &v)| (m as f64, v as f64))
                .collect();
        assert_close(
            &y.to_vec().unwrap(),
            &cpu_normalise(&x, shape, &st, &p.gamma, &p.beta),
            1e-5,
            1e-5,
            &format!("eval {shape:?}"),
        );
        assert_eq!(rm.to_vec().unwrap(), p.rm, "running_mean untouched");
        assert_eq!(rv.to_vec().unwrap(), p.rv, "running_var untouched");
    }
}

#[test]
fn batch_norm_running_stats_follow_pytorch_after_one_and_two_calls() {
    for shape in [&[3usize, 5, 7, 3][..], &[5, 7]] {
        let c = shape[1];
        let p = bn_params(c);
        let (gamma, beta) = (tensor(&p.gamma, &[c]), tensor(&p.beta, &[c]));
        let rm = tensor(&p.rm, &[c]);
        let rv = tensor(&p.rv, &[c]);
        let mut want_m: Vec<f64> = p.rm.iter().map(|&v| v as f64).collect();
        let mut want_v: Vec<f64> = p.rv.iter().map(|&v| v as f64).collect();
        for call in 0..2u64 {
            let x: Vec<f32> = data(70 + call, numel(shape))
                .iter()
                .map(|v| 2.0 * v + call as f32)
                .collect();
            batch_norm(
                &tensor(&x, shape),
                &gamma,
                &beta,
                &rm,
                &rv,
                true,
                MOMENTUM,
                EPS,
            )
            .unwrap();
            let m = MOMENTUM as f64;
            for (ch, s) in cpu_stats(&x, shape).iter().enumerate() {
                want_m[ch] = (1.0 - m) * want_m[ch] + m * s.0;
                want_v[ch] = (1.0 - m) * want_v[ch] + m * s.2;
            }
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            assert_close(
                &rm.to_vec().unwrap(),
                &f(&want_m),
                1e-5,
                1e-6,
                &format!("running_mean {shape:?} call {call}"),
            );
            assert_close(
                &rv.to_vec().unwrap(),
                &f(&want_v),
                1e-5,
                1e-6,
                &format!("running_var {shape:?} call {call}"),
            );
        }
    }
}

#[test]
fn batch_norm_backward_matches_cpu_in_train_and_eval() {
    for train in [true, false] {
        for (i, shape) in SHAPES.iter().enumerate() {
            let c = shape[1];
            let x = data(80 + i as u64, numel(shape));
            let g = data(90 + i as u64, numel(shape));
            let p = bn_params(c);
            let (xt, gt, bt) = (
                param(&x, shape),
                param(&p.gamma, &[c]),
                param(&p.beta, &[c]),
            );
            let y = batch_norm(
                &xt,
                &gt,
                &bt,
                &tensor(&p.rm, &[c]),
                &tensor(&p.rv, &[c]),
                train,
                MOMENTUM,
                EPS,
            )
            .unwrap();
            y.backward_with(&tensor(&g, shape)).unwrap();
            let st: Vec<(f64, f64)> = if train {
                cpu_stats(&x, shape).iter().map(|s| (s.0, s.1)).collect()
            } else {
                p.rm.iter()
                    .zip(&p.rv)
                    .map(|(&m, &v)| (m as f64, v as f64))
                    .collect()
            };
            let (dx, dg, db) = cpu_backward(&x, &g, shape, &st, &p.gamma, train);
            let grads = Tensor::read_all(&[
                &xt.grad().unwrap(),
                &gt.grad().unwrap(),
                &bt.grad().unwrap(),
            ])
            .unwrap();
            let what = format!("train={train} {shape:?}");
            // dx cancels sums of O(1) terms per channel (f32): 2e-4; dγ, dβ sum <= 1300 terms: 1e-4 relative.
            assert_close(&grads[0], &dx, 1e-3, 2e-4, &format!("dx {what}"));
            assert_close(&grads[1], &dg, 1e-4, 1e-4, &format!("dgamma {what}"));
            assert_close(&grads[2], &db, 1e-4, 1e-4, &format!("dbeta {what}"));
        }
    }
}

#[test]
fn batch_norm_matches_cpu_on_deepmerge_sized_channels() {
    // 48 x 75 x 75 = 270000 values per channel: more than 1024 partials of the minimum
    // chunk, so the chunk grows (264) and the wrap from sample to sample falls mid-chunk.
    let shape = [48usize, 3, 75, 75];
    let x = data(120, numel(&shape));
    let g = data(121, numel(&shape));
    let p = bn_params(3);
    let (xt, gt, bt) = (
        param(&x, &shape),
        param(&p.gamma, &[3]),
        param(&p.beta, &[3]),
    );
    let (rm, rv) = (tensor(&p.rm, &[3]), tensor(&p.rv, &[3]));
    let y = batch_norm(&xt, &gt, &bt, &rm, &rv, true, MOMENTUM, EPS).unwrap();
    y.backward_with(&tensor(&g, &shape)).unwrap();
    let full = cpu_stats(&x, &shape);
    let st: Vec<(f64, f64)> = full.iter().map(|s| (s.0, s.1)).collect();
    let (dx, dg, db) = cpu_backward(&x, &g, &shape, &st, &p.gamma, true);
    let got = Tensor::read_all(&[
        &y,
        &xt.grad().unwrap(),
        &gt.grad().unwrap(),
        &bt.grad().unwrap(),
        &rv,
    ])
    .unwrap();
    // f32 partial sums over 270000 terms: 2e-4 on O(1) outputs; dγ, dβ are O(500) sums.
    let y_want = cpu_normalise(&x, &shape, &st, &p.gamma, &p.beta);
    assert_close(&got[0], &y_want, 1e-4, 2e-4, "y");
    assert_close(&got[1], &dx, 1e-3, 2e-4, "dx");
    assert_close(&got[2], &dg, 1e-4, 2e-3, "dgamma");
    assert_close(&got[3], &db, 1e-4, 2e-3, "dbeta");
    let rv_want: Vec<f32> =
        p.rv.iter()
            .zip(&full)
            .map(|(&r, s)| ((1.0 - MOMENTUM as f64) * r as f64 + MOMENTUM as f64 * s.2) as f32)
            .collect();
    assert_close(&got[4], &rv_want, 1e-5, 1e-6, "running_var");
}

fn fd_check(shape: &[usize], train: bool) {
    let c = shape[1];
    let p = bn_params(c);
    let (rm, rv) = (tensor(&p.rm, &[c]), tensor(&p.rv, &[c]));
    grad_check(
        &[
            (data(100, numel(shape)), shape.to_vec()),
            (p.gamma.clone(), vec![c]),
            (p.beta.clone(), vec![c]),
        ],
        |t| batch_norm(&t[0], &t[1], &t[2], &rm, &rv, train, MOMENTUM, EPS),
        1e-2,
        2e-2,
        2e-3,
        &format!("batch_norm train={train} {shape:?}"),
    );
}

#[test]
fn batch_norm_train_grad_matches_fd_on_odd_shapes() {
    fd_check(&[3, 5, 7, 3], true);
    fd_check(&[5, 7], true);
}

#[test]
fn batch_norm_eval_grad_matches_fd_on_odd_shapes() {
    fd_check(&[3, 5, 7, 3], false);
    fd_check(&[5, 7], false);
}

#[test]
fn batch_norm_is_bit_identical_across_runs() {
    let shape = [6usize, 3, 29, 31];
    let x = data(110, numel(&shape));
    let p = bn_params(3);
    let run = || {
        let xt = param(&x, &shape);
        let y = batch_norm(
            &xt,
            &tensor(&p.gamma, &[3]),
            &tensor(&p.beta, &[3]),
            &tensor(&p.rm, &[3]),
            &tensor(&p.rv, &[3]),
            true,
            MOMENTUM,
            EPS,
        )
        .unwrap();
        y.sum().unwrap().backward().unwrap();
        (y.to_vec().unwrap(), xt.grad().unwrap().to_vec().unwrap())
    };
    let (a, b) = (run(), run());
    assert!(
        a.0.iter()
            .zip(&b.0)
            .all(|(u, v)| u.to_bits() == v.to_bits()),
        "forward"
    );
    assert!(
        a.1.iter()
            .zip(&b.1)
            .all(|(u, v)| u.to_bits() == v.to_bits()),
        "backward"
    );
}

#[test]
fn batch_norm_rejects_mismatched_shapes_and_single_values() {
    let x = tensor(&data(1, 2 * 3 * 4), &[2, 3, 4]);
    let c3 = tensor(&[1.0; 3], &[3]);
    let e = batch_norm(
        &x,
        &c3,
        &c3,
        &c3.zeros_like().unwrap(),
        &c3,
        true,
        MOMENTUM,
        EPS,
    )
    .unwrap_err();
    assert!(e.to_string().contains("[2, 3, 4]"), "{e}");
    let x = tensor(&data(1, 6), &[2, 3]);
    let c4 = tensor(&[1.0; 4], &[4]);
    let e = batch_norm(
        &x,
        &c4,
        &c3,
        &c3.zeros_like().unwrap(),
        &c3,
        true,
        MOMENTUM,
        EPS,
    )
    .unwrap_err();
    assert!(e.to_string().contains("gamma [4] must be [3]"), "{e}");
    let one = tensor(&data(1, 3), &[1, 3]);
    let e = batch_norm(
        &one,
        &c3,
        &c3,
        &c3.zeros_like().unwrap(),
        &c3,
        true,
        MOMENTUM,
        EPS,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("more than one value per channel"),
        "{e}"
    );
}
