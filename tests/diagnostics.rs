//! Shift diagnostics and selection scores on features with a known answer: t-SNE separates
//! two distant clouds, the proxy A-distance and held-out MMD tell shifted from identical
//! feature sets, and DEV reduces to the plain mean loss when the weights are constant.

use tidal::data::rng::DataRng;
use tidal::train::diagnostics::{
    dev_risk, heldout_mmd, mean_entropy, proxy_a_distance, tsne, Features,
};
use tidal::Context;

fn cloud(rng: &mut DataRng, n: usize, dim: usize, centre: f64) -> Features {
    Features {
        probs: vec![0.5; n],
        feats: (0..n * dim)
            .map(|j| (centre * ((j % dim) < 5) as u8 as f64 + rng.normal()) as f32)
            .collect(),
        dim,
        ..Features::default()
    }
}

#[test]
fn tsne_separates_two_distant_gaussian_clouds() {
    let mut rng = DataRng::new(3);
    let (n, dim) = (120, 40);
    let a = cloud(&mut rng, n, dim, 0.0);
    let b = cloud(&mut rng, n, dim, 8.0);
    let mut all = a.feats.clone();
    all.extend_from_slice(&b.feats);
    let xy = tsne(&all, dim, 1);
    assert_eq!(xy.len(), 2 * n);
    let centre = |pts: &[(f32, f32)]| {
        let k = pts.len() as f32;
        (
            pts.iter().map(|p| p.0).sum::<f32>() / k,
            pts.iter().map(|p| p.1).sum::<f32>() / k,
        )
    };
    let (ca, cb) = (centre(&xy[..n]), centre(&xy[n..]));
    let d = |p: (f32, f32), c: (f32, f32)| ((p.0 - c.0).powi(2) + (p.1 - c.1).powi(2)).sqrt();
    // Every point lies nearer its own cloud's centre than the other's.
    assert!(xy[..n].iter().all(|&p| d(p, ca) < d(p, cb)));
    assert!(xy[n..].iter().all(|&p| d(p, cb) < d(p, ca)));
    // Too few rows for a neighbourhood: zeros, not a panic.
    assert_eq!(tsne(&all[..6 * dim], dim, 1), vec![(0.0, 0.0); 6]);
}

#[test]
fn proxy_a_distance_and_heldout_mmd_tell_shifted_from_identical_sets() {
    let ctx = Context::from_env().unwrap();
    let mut rng = DataRng::new(5);
    let (n, dim) = (200, 64);
    let s = cloud(&mut rng, n, dim, 0.0);
    let same = cloud(&mut rng, n, dim, 0.0);
    let shifted = cloud(&mut rng, n, dim, 3.0);
    let pad_same = proxy_a_distance(&ctx, &s, &same).unwrap();
    let pad_shift = proxy_a_distance(&ctx, &s, &shifted).unwrap();
    assert!(pad_same < 0.6, "{pad_same}");
    // Bayes error here is 0.04%; the regularised classifier gets within a few percent.
    assert!(pad_shift > 1.5, "{pad_shift}");
    let mmd_same = heldout_mmd(&ctx, &s, &same).unwrap();
    let mmd_shift = heldout_mmd(&ctx, &s, &shifted).unwrap();
    // Unbiased: near 0 without shift (the biased estimator would sit near 0.19 here).
    assert!(mmd_same.abs() < 0.02, "{mmd_same}");
    assert!(mmd_shift > 0.2, "{mmd_shift}");
}

#[test]
fn dev_risk_and_entropy_known_values() {
    // Constant weights: no covariance, so DEV is the weighted mean loss.
    let losses = [0.2, 0.4, 0.9, 0.5];
    let r = dev_risk(&[1.0; 4], &losses);
    assert!((r - 0.5).abs() < 1e-12, "{r}");
    // Weights that only repeat the losses' pattern: the control variate takes the
    // importance-weighting noise back out (η = −Cov(wl, w)/Var(w)).
    let w = [0.5, 1.5, 0.5, 1.5];
    let wl: Vec<f64> = w.iter().zip(&losses).map(|(a, b)| a * b).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let cov = wl
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - mean(&wl)) * (b - 1.0))
        .sum::<f64>()
        / 3.0;
    let var = w.iter().map(|b| (b - 1.0).powi(2)).sum::<f64>() / 3.0;
    let eta = -cov / var;
    assert!((dev_risk(&w, &losses) - (mean(&wl) + eta * 1.0 - eta)).abs() < 1e-12);
    assert!(dev_risk(&[1.0], &[0.3]).is_nan());
    assert!((mean_entropy(&[0.5, 0.5]) - std::f64::consts::LN_2).abs() < 1e-9);
    assert!(mean_entropy(&[0.0, 1.0]) < 1e-5);
}

#[test]
fn a_score_that_cannot_be_computed_survives_the_summary_round_trip() {
    // DEV with one validation image is NaN; serde_json writes it as null, and reading the
    // summary back (as `tidal report` does) must not fail on it.
    let s = tidal::report::SelectionScores {
        source_val_acc: 0.5,
        source_val_loss: 0.7,
        dev_risk: dev_risk(&[1.0], &[0.3]),
        target_entropy: 0.6,
        heldout_mmd: f64::NAN,
    };
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"dev_risk\":null"), "{json}");
    let back: tidal::report::SelectionScores = serde_json::from_str(&json).unwrap();
    assert!(back.dev_risk.is_nan() && back.heldout_mmd.is_nan());
    assert_eq!(back.source_val_acc, 0.5);
}
