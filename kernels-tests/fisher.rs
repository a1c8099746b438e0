//! Fisher loss (losses/fisher.rs): traces in both normalisations, gradients, centres.

use crate::common::*;
use tidal::losses::fisher::{fisher_loss, update_centres, FisherConfig, FisherForm, FisherNorm};
use tidal::Tensor;

#[test]
fn fisher_traces_match_cpu_and_grads_reach_features_and_centres() {
    let (b, d, k) = (7usize, 3usize, 2usize);
    let h = data(11, b * d);
    let c = data(12, k * d);
    let labels = [0u32, 1, 1, 0, 1, 1, 1];
    let lt = Tensor::from_u32(&ctx(), &labels, &[b]).unwrap();
    let sw: f64 = (0..b)
        .map(|i| {
            (0..d)
                .map(|j| (h[i * d + j] as f64 - c[labels[i] as usize * d + j] as f64).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>();
    let cbar: Vec<f64> = (0..d)
        .map(|j| (0..k).map(|q| c[q * d + j] as f64).sum::<f64>() / k as f64)
        .collect();
    let sb: f64 = (0..k)
        .map(|q| {
            (0..d)
                .map(|j| (c[q * d + j] as f64 - cbar[j]).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>();
    for norm in [FisherNorm::PerSample, FisherNorm::Published] {
        // tidal averages tr(S_w) over the batch and tr(S_b) over the classes; the
        // reference code sums both and has no ε in the ratio.
        let (sw, sb, eps) = match norm {
            FisherNorm::PerSample => (sw / b as f64, sb / k as f64, 1e-6),
            FisherNorm::Published => (sw, sb, 0.0),
        };
        for form in [FisherForm::TraceDifference, FisherForm::TraceRatio] {
            let cfg = FisherConfig {
                form,
                intra: 0.01,
                inter: 1.0,
                norm,
            };
            let got = fisher_loss(&tensor(&h, &[b, d]), &lt, &tensor(&c, &[k, d]), &cfg)
                .unwrap()
                .item()
                .unwrap();
            let want = match form {
                FisherForm::TraceDifference => 0.01 * sw - sb,
                FisherForm::TraceRatio => 0.01 * sw / (sb + eps),
            };
            let what = format!("{form:?} {norm:?}");
            assert_close(&[got], &[want as f32], 1e-5, 1e-7, &what);
            grad_check(
                &[(h.clone(), vec![b, d]), (c.clone(), vec![k, d])],
                |t| fisher_loss(&t[0], &lt, &t[1], &cfg),
                1e-2,
                2e-2,
                2e-4,
                &format!("fisher {what}"),
            );
        }
    }
}

#[test]
fn moving_average_centres_skip_classes_missing_from_the_batch() {
    let (d, k) = (2usize, 3usize);
    let centres = tensor(&[0.0, 0.0, 1.0, 1.0, 5.0, 5.0], &[k, d]);
    let h = tensor(&[2.0, 4.0, 4.0, 0.0, 3.0, 3.0], &[3, d]);
    // Classes 0 (two rows) and 1 (one row); class 2 is absent.
    let labels = Tensor::from_u32(&ctx(), &[0, 0, 1], &[3]).unwrap();
    update_centres(&centres, &h, &labels, 0.5).unwrap();
    let got = centres.to_vec().unwrap();
    // class 0: mean (3, 2) → 0 + 0.5·(3, 2); class 1: mean (3, 3) → 1 + 0.5·(2, 2); class 2 kept.
    assert_eq!(got, vec![1.5, 1.0, 2.0, 2.0, 5.0, 5.0]);
    assert!(got.iter().all(|v| v.is_finite()));
}
