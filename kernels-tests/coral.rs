//! CORAL (losses/coral.rs): both normalisations against the covariance formula.

use crate::common::*;
use tidal::losses::{coral, CoralForm};

fn cpu_cov(x: &[f32], n: usize, d: usize) -> Vec<f64> {
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| x[i * d + j] as f64).sum::<f64>() / n as f64)
        .collect();
    let mut c = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            c[a * d + b] = (0..n)
                .map(|i| (x[i * d + a] as f64 - mean[a]) * (x[i * d + b] as f64 - mean[b]))
                .sum::<f64>()
                / (n - 1) as f64;
        }
    }
    c
}

#[test]
fn coral_matches_the_covariance_formula_and_its_grad_checks() {
    let (n, m, d) = (7usize, 5usize, 3usize);
    let x = data(7, n * d);
    let y: Vec<f32> = data(8, m * d).iter().map(|v| v * 2.0).collect();
    let (cs, ct) = (cpu_cov(&x, n, d), cpu_cov(&y, m, d));
    let sq = cs
        .iter()
        .zip(&ct)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>();
    for (form, div) in [
        (CoralForm::DeepCoral, 4.0 * (d * d) as f64),
        (CoralForm::Published, (d * d) as f64),
    ] {
        let got = coral(&tensor(&x, &[n, d]), &tensor(&y, &[m, d]), form)
            .unwrap()
            .item()
            .unwrap();
        assert_close(
            &[got],
            &[(sq / div) as f32],
            1e-5,
            1e-7,
            &format!("coral {form:?}"),
        );
        grad_check(
            &[(x.clone(), vec![n, d]), (y.clone(), vec![m, d])],
            |t| coral(&t[0], &t[1], form),
            1e-2,
            2e-2,
            2e-4,
            &format!("coral {form:?}"),
        );
    }
}
