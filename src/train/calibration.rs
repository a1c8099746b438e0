//! Temperature scaling (Guo et al. 2017): one scalar T, fitted at the end of training on the
//! **source** validation split by minimising the negative log-likelihood of
//! σ(margin / T), margin = logit(merger) − logit(non-merger). A T fitted on source need not
//! calibrate the target domain; reports show both raw and calibrated Brier and ECE
//! (`report::Calibration`).

/// Merger probability of a logit margin at temperature `t` (f64 inside, so T = 1 matches
/// the GPU softmax to float32 rounding).
pub fn calibrated(margin: f32, t: f64) -> f32 {
    let z = margin as f64 / t;
    (if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }) as f32
}

/// Mean negative log-likelihood of the labels under σ(margin / t).
fn nll(margins: &[f32], labels: &[u32], t: f64) -> f64 {
    margins
        .iter()
        .zip(labels)
        .map(|(&m, &y)| {
            // −log σ(±z) = softplus(∓z), computed stably.
            let z = m as f64 / t;
            let s = if y == 1 { -z } else { z };
            s.max(0.0) + (-s.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / margins.len().max(1) as f64
}

/// The temperature minimising the NLL on (margins, labels): golden-section search over
/// log T in [ln 0.05, ln 20] (the NLL is unimodal in log T), 1 when there is nothing to fit.
pub fn fit_temperature(margins: &[f32], labels: &[u32]) -> f64 {
    if margins.is_empty() || labels.iter().all(|&y| y == labels[0]) {
        return 1.0;
    }
    let f = |lt: f64| nll(margins, labels, lt.exp());
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}
