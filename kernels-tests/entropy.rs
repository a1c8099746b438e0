//! Entropy minimisation (losses/entropy.rs): exact and published forms.

use crate::common::*;
use tidal::losses::EntropyForm;

/// f64 −(1/B) Σ p log p over softmax rows; `floor` drops probabilities below it.
fn cpu_entropy(z: &[f32], k: usize, floor: f64) -> f64 {
    let b = z.len() / k;
    let mut h = 0.0f64;
    for r in z.chunks(k) {
        let mx = r.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let lse = r.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln() + mx;
        h -= r
            .iter()
            .map(|&v| (v as f64 - lse).exp())
            .filter(|&p| p >= floor)
            .map(|p| p * p.ln())
            .sum::<f64>();
    }
    h / b as f64
}

#[test]
fn entropy_matches_cpu_is_safe_near_zero_and_its_grad_checks() {
    use tidal::losses::entropy;
    let (b, k) = (5usize, 3usize);
    let mut z = data(21, b * k);
    z[0] = 60.0; // a row whose softmax has probabilities ~1e-26
    z[4] = -14.0; // p ≈ 1e-6·…: a probability near the published floor
    for (form, floor) in [(EntropyForm::Exact, 0.0), (EntropyForm::Published, 1e-6)] {
        let got = entropy(&tensor(&z, &[b, k]), form).unwrap().item().unwrap();
        assert!(got.is_finite());
        let want = cpu_entropy(&z, k, floor);
        assert_close(
            &[got],
            &[want as f32],
            1e-5,
            1e-6,
            &format!("entropy {form:?}"),
        );
        grad_check(
            &[(data(22, b * k), vec![b, k])],
            |t| entropy(&t[0], form),
            1e-2,
            2e-2,
            2e-4,
            &format!("entropy {form:?}"),
        );
    }
}

#[test]
fn published_entropy_gives_masked_probabilities_no_gradient_of_their_own() {
    use tidal::losses::entropy;
    // Row (0, 0, −20): p2 ≈ 1e-9 < 1e-6 is dropped, so dΩ/dz_2 comes only through the
    // softmax of the kept entries: Σ_{k<2} (log p_k + 1)·p_k·p_2 ≈ 0.307·p_2. Kept, its own
    // term would add −(log p_2 + 1)·p_2·(1 − p_2) ≈ 20·p_2, 65 times more.
    let z = [0.0f32, 0.0, -20.0];
    let t = param(&z, &[1, 3]);
    entropy(&t, EntropyForm::Published)
        .unwrap()
        .backward()
        .unwrap();
    let got = t.grad().unwrap().to_vec().unwrap()[2];
    let e = (-20.0f64).exp();
    let p = [1.0 / (2.0 + e), 1.0 / (2.0 + e), e / (2.0 + e)];
    let want: f64 = p[..2].iter().map(|pk| (pk.ln() + 1.0) * pk * p[2]).sum();
    assert_close(&[got], &[want as f32], 1e-3, 0.0, "masked entropy dΩ/dz_2");
}
