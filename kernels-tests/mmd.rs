//! MMD (losses/mmd.rs, shaders/mmd.wgsl): value and gradient against f64 references by
//! direct differences at every preset, estimator and bandwidth mode.

use crate::common::*;
use tidal::losses::mmd::{mmd, Bandwidth, Estimator, MmdConfig, REFERENCE_SIGMAS};
use tidal::Rng;

/// f64 MMD² from direct distances (no Gram expansion).
fn cpu_mmd(x: &[f32], y: &[f32], d: usize, cfg: &MmdConfig) -> f64 {
    let (n, m) = (x.len() / d, y.len() / d);
    let z: Vec<&[f32]> = x.chunks(d).chain(y.chunks(d)).collect();
    let nn = n + m;
    let dist = |i: usize, j: usize| -> f64 {
        z[i].iter()
            .zip(z[j])
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum()
    };
    let (scales, base) = match &cfg.bandwidth {
        Bandwidth::Fixed(s) => (s.clone(), 1.0),
        Bandwidth::BatchMean(s) => {
            let mut tot = 0.0;
            for i in 0..nn {
                for j in 0..nn {
                    tot += dist(i, j);
                }
            }
            (s.clone(), tot / (nn * (nn - 1)) as f64)
        }
        Bandwidth::BatchMedian(s) => {
            let mut all: Vec<f64> = (0..nn)
                .flat_map(|i| (0..nn).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| dist(i, j))
                .collect();
            all.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (s.clone(), all[all.len().div_ceil(2) - 1])
        }
    };
    let k = |i: usize, j: usize| -> f64 {
        let dd = dist(i, j);
        scales
            .iter()
            .map(|&s| (-dd / (2.0 * s as f64 * base)).exp())
            .sum()
    };
    let v = match cfg.estimator {
        Estimator::Biased | Estimator::Unbiased => {
            let unb = cfg.estimator == Estimator::Unbiased;
            let (mut kxx, mut kyy, mut kxy) = (0.0, 0.0, 0.0);
            for i in 0..n {
                for j in 0..n {
                    if !(unb && i == j) {
                        kxx += k(i, j);
                    }
                }
                for j in 0..m {
                    kxy += k(i, n + j);
                }
            }
            for i in 0..m {
                for j in 0..m {
                    if !(unb && i == j) {
                        kyy += k(n + i, n + j);
                    }
                }
            }
            let (fx, fy) = if unb {
                ((n * (n - 1)) as f64, (m * (m - 1)) as f64)
            } else {
                ((n * n) as f64, (m * m) as f64)
            };
            kxx / fx + kyy / fy - 2.0 * kxy / (n * m) as f64
        }
        Estimator::Linear => {
            let p = n.min(m) / 2;
            let mut s = 0.0;
            for t in 0..p {
                let (a, b) = (2 * t, 2 * t + 1);
                s += k(a, b) + k(n + a, n + b) - k(a, n + b) - k(b, n + a);
            }
            s / p as f64
        }
    };
    match cfg.clamp_min {
        Some(lo) => v.max(lo as f64),
        None => v,
    }
}

fn fixed(estimator: Estimator) -> MmdConfig {
    MmdConfig {
        bandwidth: Bandwidth::Fixed(vec![0.5, 1.0, 2.0]),
        estimator,
        clamp_min: None,
    }
}

#[test]
fn mmd_matches_the_f64_reference_for_every_estimator_and_bandwidth() {
    let configs = [
        fixed(Estimator::Biased),
        fixed(Estimator::Unbiased),
        fixed(Estimator::Linear),
        MmdConfig::reference(),
        MmdConfig::dan(),
        MmdConfig {
            estimator: Estimator::Unbiased,
            ..MmdConfig::dan()
        },
        MmdConfig {
            bandwidth: Bandwidth::BatchMedian(vec![0.5, 1.0, 2.0]),
            ..MmdConfig::dan()
        },
    ];
    // Odd n != m, d prime; and n > m with an odd linear-time remainder.
    for (n, m, d) in [(5usize, 7usize, 3usize), (9, 4, 13), (1, 1, 2)] {
        let x = data(1 + n as u64, n * d);
        let y: Vec<f32> = data(2 + m as u64, m * d)
            .iter()
            .map(|v| v * 1.3 + 0.2)
            .collect();
        for cfg in &configs {
            if cfg.estimator == Estimator::Linear && n.min(m) < 2 {
                continue;
            }
            if cfg.estimator == Estimator::Unbiased && n.min(m) < 2 {
                continue;
            }
            let got = mmd(&tensor(&x, &[n, d]), &tensor(&y, &[m, d]), cfg)
                .unwrap()
                .item()
                .unwrap();
            let want = cpu_mmd(&x, &y, d, cfg) as f32;
            assert_close(
                &[got],
                &[want],
                1e-4,
                1e-5,
                &format!("{cfg:?} n={n} m={m} d={d}"),
            );
        }
    }
}

#[test]
fn mmd_works_at_deepmerge_and_bottleneck_sizes() {
    let ctx = ctx();
    let mut rng = Rng::new(9);
    for d in [2592usize, 256] {
        let x = rng.normal(&ctx, &[128, d], 0.0, 1.0).unwrap();
        let y = rng.normal(&ctx, &[128, d], 0.3, 1.2).unwrap();
        let (xs, ys) = (x.to_vec().unwrap(), y.to_vec().unwrap());
        for cfg in [MmdConfig::reference(), MmdConfig::dan()] {
            let got = mmd(&x, &y, &cfg).unwrap().item().unwrap();
            let want = cpu_mmd(&xs, &ys, d, &cfg) as f32;
            // Distances of ~2d from a float32 Gram expansion: 1e-3 relative.
            assert_close(
                &[got],
                &[want],
                1e-3,
                1e-5,
                &format!("d={d} {:?}", cfg.bandwidth),
            );
        }
    }
}

#[test]
fn reference_preset_reproduces_the_published_formula_by_hand() {
    // X = {(0,0)}, Y = {(1,0)}: ‖x−y‖² = 1. Biased MMD² = Kxx + Kyy − 2Kxy with
    // Kxx = Kyy = 19 (each σ gives exp(0) = 1) and Kxy = Σ_σ exp(−1/(2σ)) over the 19
    // published σ: σ ≤ 1e-2 contribute 0 (exp(−50) and below), then 0.1 → e^−5 = 0.006738,
    // 1 → e^−0.5 = 0.606531, 5 → 0.904837, 10 → 0.951229, 15 → 0.967216, 20 → 0.975310,
    // 25 → 0.980199, 30 → 0.983471, 35 → 0.985816, 100 → 0.995012, 1e3 → 0.999500,
    // 1e4 → 0.999950, 1e5 → 0.999995, 1e6 → 0.9999995; Kxy = 12.3558045.
    // MMD² = 38 − 2·12.3558045 = 13.2883909.
    let got = mmd(
        &tensor(&[0.0, 0.0], &[1, 2]),
        &tensor(&[1.0, 0.0], &[1, 2]),
        &MmdConfig::reference(),
    )
    .unwrap()
    .item()
    .unwrap();
    assert!((got - 13.288_391).abs() < 1e-4, "{got}");
    assert_eq!(REFERENCE_SIGMAS.len(), 19);
    // Identical sets: 0, clamped to the published floor of 1e-4.
    let p = [0.3, -0.2, 0.5, 0.1];
    let same = mmd(
        &tensor(&p, &[2, 2]),
        &tensor(&p, &[2, 2]),
        &MmdConfig::reference(),
    )
    .unwrap()
    .item()
    .unwrap();
    assert_eq!(same, 1e-4);
}

#[test]
fn mmd_properties_nonnegative_zero_on_itself_and_growing_with_shift() {
    let (n, d) = (16usize, 5usize);
    let x = data(3, n * d);
    let cfg = fixed(Estimator::Biased);
    let self_mmd = mmd(&tensor(&x, &[n, d]), &tensor(&x, &[n, d]), &cfg)
        .unwrap()
        .item()
        .unwrap();
    assert!(self_mmd.abs() < 1e-5, "{self_mmd}");
    let mut last = self_mmd;
    for shift in [0.25f32, 0.5, 1.0, 2.0] {
        let y: Vec<f32> = data(4, n * d).iter().map(|v| v + shift).collect();
        let v = mmd(&tensor(&x, &[n, d]), &tensor(&y, &[n, d]), &cfg)
            .unwrap()
            .item()
            .unwrap();
        assert!(v >= 0.0 && v > last, "shift {shift}: {v} after {last}");
        last = v;
    }
}

#[test]
fn mmd_grads_match_finite_differences() {
    let (n, m, d) = (4usize, 5usize, 3usize);
    let ins = [
        (data(5, n * d), vec![n, d]),
        (data(6, m * d).iter().map(|v| v + 0.3).collect(), vec![m, d]),
    ];
    for est in [Estimator::Biased, Estimator::Unbiased, Estimator::Linear] {
        let cfg = fixed(est);
        grad_check(
            &ins,
            |t| mmd(&t[0], &t[1], &cfg),
            1e-2,
            2e-2,
            2e-4,
            &format!("mmd {est:?}"),
        );
    }
}

#[test]
fn mmd_rejects_mismatched_features() {
    let e = mmd(
        &tensor(&[0.0; 6], &[2, 3]),
        &tensor(&[0.0; 4], &[2, 2]),
        &MmdConfig::reference(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("same d"), "{e}");
}

/// f64 ∂MMD²/∂Z (Z = [X; Y]) by direct differences: g_a = 4 Σ_j w_aj k'(d_aj) (z_a − z_j),
/// with the bandwidth base detached as in the op; zero when the clamp binds.
fn cpu_mmd_grad(x: &[f32], y: &[f32], d: usize, cfg: &MmdConfig) -> Vec<f64> {
    let (n, m) = (x.len() / d, y.len() / d);
    let z: Vec<&[f32]> = x.chunks(d).chain(y.chunks(d)).collect();
    let nn = n + m;
    let dist = |i: usize, j: usize| -> f64 {
        z[i].iter()
            .zip(z[j])
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum()
    };
    let dd: Vec<f64> = (0..nn * nn).map(|e| dist(e / nn, e % nn)).collect();
    let (scales, base) = match &cfg.bandwidth {
        Bandwidth::Fixed(s) => (s.clone(), 1.0),
        Bandwidth::BatchMean(s) => (s.clone(), dd.iter().sum::<f64>() / (nn * (nn - 1)) as f64),
        Bandwidth::BatchMedian(s) => {
            let mut off: Vec<f64> = (0..nn * nn)
                .filter(|e| e / nn != e % nn)
                .map(|e| dd[e])
                .collect();
            off.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (s.clone(), off[off.len().div_ceil(2) - 1])
        }
    };
    if let Some(lo) = cfg.clamp_min {
        if cpu_mmd(x, y, d, cfg) <= lo as f64 {
            return vec![0.0; nn * d];
        }
    }
    let weight = |i: usize, j: usize| -> f64 {
        let (xi, xj) = (i < n, j < n);
        let (fnn, fm) = (n as f64, m as f64);
        match cfg.estimator {
            Estimator::Linear => {
                let p = n.min(m) / 2;
                let li = if xi { i } else { i - n };
                let lj = if xj { j } else { j - n };
                if p == 0 || li / 2 != lj / 2 || li == lj || li / 2 >= p {
                    return 0.0;
                }
                let w = 0.5 / p as f64;
                if xi == xj {
                    w
                } else {
                    -w
                }
            }
            est => {
                let unb = est == Estimator::Unbiased;
                match (xi, xj) {
                    (true, true) if unb && i == j => 0.0,
                    (true, true) if unb => 1.0 / (fnn * (fnn - 1.0)),
                    (true, true) => 1.0 / (fnn * fnn),
                    (false, false) if unb && i == j => 0.0,
                    (false, false) if unb => 1.0 / (fm * (fm - 1.0)),
                    (false, false) => 1.0 / (fm * fm),
                    _ => -1.0 / (fnn * fm),
                }
            }
        }
    };
    let mut g = vec![0.0f64; nn * d];
    for a in 0..nn {
        for j in 0..nn {
            let w = weight(a, j);
            if w == 0.0 || a == j {
                continue;
            }
            // k'(d) = −Σ_s exp(−d/(2σ_s))/(2σ_s)
            let kd: f64 = scales
                .iter()
                .map(|&s| {
                    let inv = 1.0 / (2.0 * s as f64 * base);
                    -(-dd[a * nn + j] * inv).exp() * inv
                })
                .sum();
            for k in 0..d {
                g[a * d + k] += 4.0 * w * kd * (z[a][k] as f64 - z[j][k] as f64);
            }
        }
    }
    g
}

/// Compares the op's ∂(MMD²)/∂X and ∂/∂Y with the f64 direct-difference gradient: relative
/// error of the whole gradient below `rel`, and elementwise within 1e-4·|g| + atol with atol
/// = `atol_frac` × the largest reference element.
fn check_mmd_grad(
    x: &[f32],
    y: &[f32],
    d: usize,
    cfg: &MmdConfig,
    rel: f64,
    atol_frac: f64,
    what: &str,
) {
    let (n, m) = (x.len() / d, y.len() / d);
    let xt = param(x, &[n, d]);
    let yt = param(y, &[m, d]);
    mmd(&xt, &yt, cfg).unwrap().backward().unwrap();
    let mut got = xt.grad().unwrap().to_vec().unwrap();
    got.extend(yt.grad().unwrap().to_vec().unwrap());
    let want = cpu_mmd_grad(x, y, d, cfg);
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|a| a * a).sum::<f64>().sqrt();
    let err = norm(&mut got.iter().zip(&want).map(|(g, w)| *g as f64 - w));
    let scale = norm(&mut want.iter().copied());
    let max = want.iter().fold(0.0f64, |a, w| a.max(w.abs()));
    eprintln!("{what}: relative error {:.2e}", err / scale.max(1e-30));
    assert!(
        err <= rel * scale.max(1e-30),
        "{what}: ‖g − g_ref‖/‖g_ref‖ = {:.3e} (‖g_ref‖ {scale:.3e}, max {max:.3e})",
        err / scale
    );
    let atol = atol_frac * max;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-4 * w.abs() + atol,
            "{what}: element {i}: got {g:e}, want {w:e} (atol {atol:.2e})"
        );
    }
}

/// Every bandwidth mode and estimator `train` offers, with the published 19 σ among them.
fn presets() -> Vec<MmdConfig> {
    let with = |estimator, c: MmdConfig| MmdConfig { estimator, ..c };
    vec![
        MmdConfig::reference(),
        MmdConfig {
            clamp_min: None,
            ..MmdConfig::reference()
        },
        with(
            Estimator::Unbiased,
            MmdConfig {
                clamp_min: None,
                ..MmdConfig::reference()
            },
        ),
        with(
            Estimator::Linear,
            MmdConfig {
                clamp_min: None,
                ..MmdConfig::reference()
            },
        ),
        MmdConfig::dan(),
        with(Estimator::Unbiased, MmdConfig::dan()),
        MmdConfig::dan_median(),
        MmdConfig {
            bandwidth: Bandwidth::Fixed(vec![0.5, 1.0, 2.0]),
            estimator: Estimator::Biased,
            clamp_min: None,
        },
    ]
}

#[test]
fn mmd_grad_matches_direct_differences_at_every_preset_on_odd_shapes() {
    // The published σ go down to 1e-6: a self-pair (or a duplicated row) has d = 0 and its
    // kernel coefficients are ~1e6, so a Gram-form backward that does not drop them returns
    // float32 rounding instead of the gradient.
    let (n, m, d) = (5usize, 7usize, 7usize);
    let x = data(31, n * d);
    let y: Vec<f32> = data(32, m * d).iter().map(|v| v * 0.8 + 0.1).collect();
    for cfg in presets() {
        check_mmd_grad(&x, &y, d, &cfg, 1e-4, 1e-4, &format!("5+7x7 {cfg:?}"));
    }
}

#[test]
fn mmd_grad_matches_direct_differences_with_duplicated_rows() {
    // The sampler draws with replacement: rows 0 and 3 of X coincide, row 2 of Y repeats
    // row 5 of Y, and X row 1 also appears in Y.
    let (n, m, d) = (6usize, 7usize, 11usize);
    let mut x = data(41, n * d);
    let mut y: Vec<f32> = data(42, m * d).iter().map(|v| v + 0.2).collect();
    x.copy_within(0..d, 3 * d);
    y.copy_within(5 * d..6 * d, 2 * d);
    y[4 * d..5 * d].copy_from_slice(&x[d..2 * d]);
    let mut near = x.clone();
    // Row 4 of X becomes row 2 moved by 1e-3 in one coordinate: d = 1e-6, where the
    // σ = 1e-6 kernel is exp(−0.5) and a Gram-expansion residue of eps·‖z‖² would change it
    // completely. That pair's coefficient is ~1e6/n², so the Gram-form backward's
    // subtraction leaves ~eps·1e6/n²·|z|: 1e-3 relative is what float32 allows there.
    near.copy_within(2 * d..3 * d, 4 * d);
    near[4 * d + 5] += 1e-3;
    for (x, rel, what) in [(&x, 1e-4, "duplicates"), (&near, 1e-3, "near-duplicate")] {
        for cfg in presets() {
            check_mmd_grad(x, &y, d, &cfg, rel, rel, &format!("{what} {cfg:?}"));
            let got = mmd(&tensor(x, &[n, d]), &tensor(&y, &[m, d]), &cfg)
                .unwrap()
                .item()
                .unwrap();
            let want = cpu_mmd(x, &y, d, &cfg) as f32;
            assert_close(
                &[got],
                &[want],
                1e-4,
                1e-6,
                &format!("{what} value {cfg:?}"),
            );
        }
    }
}

#[test]
fn mmd_grad_matches_direct_differences_at_the_deepmerge_training_size() {
    // 128 + 128 rows of 2592 non-negative features (as after ReLU + max-pool), with a few
    // duplicated rows in each domain as a with-replacement batch has.
    let ctx = ctx();
    let mut rng = Rng::new(77);
    let (n, d) = (128usize, 2592usize);
    let mut x: Vec<f32> = rng
        .normal(&ctx, &[n, d], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let mut y: Vec<f32> = rng
        .normal(&ctx, &[n, d], 0.2, 1.1)
        .unwrap()
        .to_vec()
        .unwrap();
    for v in x.iter_mut().chain(y.iter_mut()) {
        *v = v.max(0.0);
    }
    for (from, to) in [(3usize, 40usize), (7, 99), (7, 100)] {
        x.copy_within(from * d..(from + 1) * d, to * d);
        y.copy_within((from + 1) * d..(from + 2) * d, (to + 1) * d);
    }
    for cfg in [MmdConfig::reference(), MmdConfig::dan()] {
        check_mmd_grad(
            &x,
            &y,
            d,
            &cfg,
            1e-3,
            1e-3,
            &format!("128+128x2592 {:?}", cfg.bandwidth),
        );
    }
}

#[test]
fn mmd_on_the_joint_batch_is_mmd_on_its_halves_bit_for_bit() {
    // The training step passes its [source; target] features whole (mmd_joint); the value
    // and the gradient must be those of mmd(x, y) on the two halves, at the step's shapes.
    use tidal::losses::mmd_joint;
    for (n, m, d) in [(128usize, 128usize, 2592usize), (5, 3, 7)] {
        let zv = data(77, (n + m) * d);
        for cfg in [MmdConfig::reference(), MmdConfig::dan()] {
            let z = param(&zv, &[n + m, d]);
            let joint = mmd_joint(&z, n, &cfg).unwrap();
            joint.backward().unwrap();
            let (x, y) = (param(&zv[..n * d], &[n, d]), param(&zv[n * d..], &[m, d]));
            let split = mmd(&x, &y, &cfg).unwrap();
            split.backward().unwrap();
            let got = tidal::Tensor::read_all(&[&joint, &z.grad().unwrap()]).unwrap();
            let want =
                tidal::Tensor::read_all(&[&split, &x.grad().unwrap(), &y.grad().unwrap()]).unwrap();
            assert_eq!(got[0], want[0], "value, {n}+{m}x{d}");
            let halves: Vec<f32> = want[1].iter().chain(&want[2]).copied().collect();
            assert_eq!(got[1], halves, "gradient, {n}+{m}x{d}");
        }
    }
    let z = tensor(&data(78, 12), &[4, 3]);
    for n in [0, 4] {
        let e = mmd_joint(&z, n, &MmdConfig::reference()).unwrap_err();
        assert!(e.to_string().contains("split at"), "{e}");
    }
}
