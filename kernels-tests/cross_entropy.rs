//! Cross-entropy, per-sample cross-entropy, BCE with logits and the domain loss built on it
//! (losses/cross_entropy.rs, shaders/cross_entropy.wgsl).

use crate::common::*;
use tidal::losses::{binary_cross_entropy_with_logits, cross_entropy, cross_entropy_per_sample};
use tidal::Tensor;

fn labels_for(b: usize, k: usize, seed: u64) -> Vec<u32> {
    data(seed, b)
        .iter()
        .map(|v| (((v + 1.0) * 0.5 * k as f32) as u32).min(k as u32 - 1))
        .collect()
}

/// Positive weights in [0.1, 2).
fn weights_for(n: usize, seed: u64) -> Vec<f32> {
    data(seed, n).iter().map(|v| 1.05 + 0.95 * v).collect()
}

/// f64 (weighted) mean cross-entropy and its gradient with respect to the logits.
fn cpu_cross_entropy(x: &[f32], labels: &[u32], w: Option<&[f32]>, k: usize) -> (f32, Vec<f32>) {
    let b = labels.len();
    let wi = |i: usize| w.map_or(1.0, |w| w[i] as f64);
    let wsum: f64 = (0..b).map(wi).sum();
    let mut loss = 0.0f64;
    let mut grad = Vec::with_capacity(b * k);
    for (i, row) in x.chunks(k).enumerate() {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        let l = labels[i] as usize;
        loss += wi(i) * (m + s.ln() - row[l] as f64);
        for (j, &v) in row.iter().enumerate() {
            let p = (v as f64 - m).exp() / s;
            let hit = if j == l { 1.0 } else { 0.0 };
            grad.push(((p - hit) * wi(i) / wsum) as f32);
        }
    }
    ((loss / wsum) as f32, grad)
}

/// f64 mean of w·BCE with logits (PyTorch's `weight`: divided by n, not Σw) and its gradient.
fn cpu_bce(z: &[f32], t: &[f32], w: Option<&[f32]>) -> (f32, Vec<f32>) {
    let wi = |i: usize| w.map_or(1.0, |w| w[i] as f64);
    let wsum = z.len() as f64;
    let mut loss = 0.0f64;
    let mut grad = Vec::with_capacity(z.len());
    for (i, (&z, &t)) in z.iter().zip(t).enumerate() {
        let (z, t) = (z as f64, t as f64);
        loss += wi(i) * (z.max(0.0) - z * t + (-z.abs()).exp().ln_1p());
        grad.push(((1.0 / (1.0 + (-z).exp()) - t) * wi(i) / wsum) as f32);
    }
    ((loss / wsum) as f32, grad)
}

#[test]
fn cross_entropy_matches_cpu_on_odd_shapes_with_and_without_weights() {
    for b in [1usize, 7, 129] {
        for k in [2usize, 5, 1000] {
            let x: Vec<f32> = data((b * k) as u64, b * k)
                .iter()
                .map(|v| v * 4.0)
                .collect();
            let labels = labels_for(b, k, b as u64 + 3);
            let w = weights_for(b, k as u64);
            for weighted in [false, true] {
                let what = format!("cross_entropy {b}x{k} weighted={weighted}");
                let logits = param(&x, &[b, k]);
                let lt = Tensor::from_u32(&ctx(), &labels, &[b]).unwrap();
                let wt = tensor(&w, &[b]);
                let loss = cross_entropy(&logits, &lt, weighted.then_some(&wt)).unwrap();
                assert_eq!(loss.shape(), &[] as &[usize], "{what}");
                loss.backward().unwrap();
                let (want, want_grad) =
                    cpu_cross_entropy(&x, &labels, weighted.then_some(&w[..]), k);
                // Row sums of up to 1000 exps and a batch sum of 129 f32 losses.
                assert_close(&[loss.item().unwrap()], &[want], 1e-5, 1e-6, &what);
                let grad = logits.grad().unwrap().to_vec().unwrap();
                assert_close(&grad, &want_grad, 1e-4, 1e-7, &format!("{what} grad"));
            }
        }
    }
}

#[test]
fn cross_entropy_with_huge_logits_stays_finite() {
    // Row 0: the label is the (tied) max; row 1: the label is 2e4 below the max.
    let x = [1e4, -1e4, 1e4, 0.0, 5.0, 1e4, -1e4, 0.0];
    let labels = [0u32, 1];
    let logits = param(&x, &[2, 4]);
    let lt = Tensor::from_u32(&ctx(), &labels, &[2]).unwrap();
    let loss = cross_entropy(&logits, &lt, None).unwrap();
    loss.backward().unwrap();
    let (want, want_grad) = cpu_cross_entropy(&x, &labels, None, 4);
    let got = loss.item().unwrap();
    assert!(got.is_finite(), "{got}");
    assert_close(&[got], &[want], 1e-6, 1e-6, "loss");
    let grad = logits.grad().unwrap().to_vec().unwrap();
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    assert_close(&grad, &want_grad, 1e-6, 1e-7, "grad");
}

#[test]
fn cross_entropy_with_an_out_of_range_label_is_nan() {
    let logits = tensor(&data(1, 6), &[2, 3]);
    let lt = Tensor::from_u32(&ctx(), &[1, 3], &[2]).unwrap();
    let loss = cross_entropy(&logits, &lt, None).unwrap().item().unwrap();
    assert!(loss.is_nan(), "{loss}");
}

#[test]
fn cross_entropy_grad_matches_fd_with_and_without_weights() {
    for (b, k) in [(1usize, 2usize), (3, 5), (2, 8)] {
        let x = data(21, b * k);
        let labels = labels_for(b, k, 4);
        let w = weights_for(b, 6);
        for weighted in [false, true] {
            grad_check(
                &[(x.clone(), vec![b, k])],
                |t| {
                    let lt = Tensor::from_u32(&ctx(), &labels, &[b])?;
                    let wt = tensor(&w, &[b]);
                    cross_entropy(&t[0], &lt, weighted.then_some(&wt))
                },
                1e-2,
                2e-2,
                2e-3,
                &format!("cross_entropy {b}x{k} weighted={weighted}"),
            );
        }
    }
}

#[test]
fn cross_entropy_rejects_mismatched_shapes_and_dtypes() {
    let logits = tensor(&data(1, 6), &[2, 3]);
    let three = Tensor::from_u32(&ctx(), &[0, 1, 2], &[3]).unwrap();
    let err = cross_entropy(&logits, &three, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2]") && err.contains("[3]"), "{err}");
    let float_labels = tensor(&[0.0, 1.0], &[2]);
    assert!(cross_entropy(&logits, &float_labels, None).is_err());
    let two = Tensor::from_u32(&ctx(), &[0, 1], &[2]).unwrap();
    let bad_w = tensor(&[1.0; 3], &[3]);
    let err = cross_entropy(&logits, &two, Some(&bad_w))
        .unwrap_err()
        .to_string();
    assert!(err.contains("weights"), "{err}");
    let flat = tensor(&data(1, 6), &[6]);
    assert!(cross_entropy(&flat, &two, None).is_err());
}

#[test]
fn bce_with_logits_matches_the_formula_on_odd_shapes_with_and_without_weights() {
    for shape in [vec![1usize], vec![7], vec![129, 5]] {
        let n = numel(&shape);
        let z: Vec<f32> = data(n as u64, n).iter().map(|v| v * 8.0).collect();
        // Soft targets in [0, 1] and a few hard ones.
        let t: Vec<f32> = data(n as u64 + 1, n)
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i % 3 == 0 {
                    (i % 2) as f32
                } else {
                    0.5 + 0.5 * v
                }
            })
            .collect();
        let w = weights_for(n, 9);
        for weighted in [false, true] {
            let what = format!("bce {shape:?} weighted={weighted}");
            let zt = param(&z, &shape);
            let wt = tensor(&w, &shape);
            let loss =
                binary_cross_entropy_with_logits(&zt, &tensor(&t, &shape), weighted.then_some(&wt))
                    .unwrap();
            assert_eq!(loss.shape(), &[] as &[usize], "{what}");
            loss.backward().unwrap();
            let (want, want_grad) = cpu_bce(&z, &t, weighted.then_some(&w[..]));
            assert_close(&[loss.item().unwrap()], &[want], 1e-5, 1e-6, &what);
            let grad = zt.grad().unwrap().to_vec().unwrap();
            assert_close(&grad, &want_grad, 1e-5, 1e-7, &format!("{what} grad"));
        }
    }
}

#[test]
fn bce_with_logits_is_finite_and_accurate_at_extreme_logits() {
    // Confident and right (tiny losses, where log(1 + exp(-|z|)) must not round to 0),
    // confident and wrong (losses of 1e4).
    let z = [1e4, -1e4, 20.0, -20.0, 1e4, -1e4];
    let t = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    for i in 0..z.len() {
        let loss = binary_cross_entropy_with_logits(
            &tensor(&z[i..=i], &[1]),
            &tensor(&t[i..=i], &[1]),
            None,
        )
        .unwrap()
        .item()
        .unwrap();
        let (want, _) = cpu_bce(&z[i..=i], &t[i..=i], None);
        assert!(loss.is_finite(), "z={} t={}: {loss}", z[i], t[i]);
        assert_close(
            &[loss],
            &[want],
            1e-5,
            0.0,
            &format!("z={} t={}", z[i], t[i]),
        );
    }
}

#[test]
fn bce_with_logits_grad_matches_fd_with_and_without_weights() {
    for shape in [vec![1usize], vec![7], vec![3, 5]] {
        let n = numel(&shape);
        let z: Vec<f32> = data(31, n).iter().map(|v| v * 3.0).collect();
        let t: Vec<f32> = data(32, n).iter().map(|v| 0.5 + 0.5 * v).collect();
        let w = weights_for(n, 33);
        for weighted in [false, true] {
            grad_check(
                &[(z.clone(), shape.clone())],
                |x| {
                    let wt = tensor(&w, &shape);
                    binary_cross_entropy_with_logits(
                        &x[0],
                        &tensor(&t, &shape),
                        weighted.then_some(&wt),
                    )
                },
                1e-2,
                2e-2,
                2e-3,
                &format!("bce {shape:?} weighted={weighted}"),
            );
        }
    }
}

#[test]
fn bce_with_logits_rejects_targets_of_another_shape() {
    let z = tensor(&data(1, 6), &[2, 3]);
    let t = tensor(&data(2, 6), &[3, 2]);
    let err = binary_cross_entropy_with_logits(&z, &t, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 3]") && err.contains("[3, 2]"), "{err}");
}

#[test]
fn cross_entropy_per_sample_matches_cpu_rows_and_fd() {
    for (b, k) in [(1usize, 2usize), (7, 5), (129, 3)] {
        let x: Vec<f32> = data(b as u64 + 50, b * k).iter().map(|v| v * 3.0).collect();
        let labels = labels_for(b, k, b as u64 + 51);
        let lt = Tensor::from_u32(&ctx(), &labels, &[b]).unwrap();
        let rows = cross_entropy_per_sample(&tensor(&x, &[b, k]), &lt).unwrap();
        assert_eq!(rows.shape(), &[b]);
        let want: Vec<f32> = x
            .chunks(k)
            .zip(&labels)
            .map(|(r, &l)| cpu_cross_entropy(r, &[l], None, k).0)
            .collect();
        assert_close(
            &rows.to_vec().unwrap(),
            &want,
            1e-5,
            1e-6,
            &format!("{b}x{k}"),
        );
        if b <= 7 {
            grad_check(
                &[(x.clone(), vec![b, k])],
                |t| cross_entropy_per_sample(&t[0], &lt),
                1e-2,
                1e-2,
                1e-4,
                &format!("cross_entropy_per_sample {b}x{k}"),
            );
        }
    }
}

#[test]
fn domain_loss_labels_source_one_and_target_zero() {
    use tidal::losses::domain_loss;
    let s = [2.0f32, -1.0];
    let t = [0.5f32, -3.0, 1.0];
    let got = domain_loss(&tensor(&s, &[2, 1]), &tensor(&t, &[3, 1]))
        .unwrap()
        .item()
        .unwrap();
    let bce = |z: f64, y: f64| z.max(0.0) - z * y + (1.0 + (-z.abs()).exp()).ln();
    let want = (s.iter().map(|&z| bce(z as f64, 1.0)).sum::<f64>()
        + t.iter().map(|&z| bce(z as f64, 0.0)).sum::<f64>())
        / 5.0;
    assert_close(&[got], &[want as f32], 1e-5, 1e-7, "domain loss");
}
