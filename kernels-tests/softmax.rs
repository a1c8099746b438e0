use crate::common::*;
use tidal::ops::softmax::{log_softmax, softmax};

/// f64 softmax and log-softmax of each row of length k.
fn cpu_softmax(x: &[f32], k: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut sm, mut lsm) = (Vec::new(), Vec::new());
    for row in x.chunks(k) {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        for &v in row {
            sm.push(((v as f64 - m).exp() / s) as f32);
            lsm.push((v as f64 - m - s.ln()) as f32);
        }
    }
    (sm, lsm)
}

#[test]
fn softmax_and_log_softmax_match_cpu_on_odd_shapes() {
    // K = 1000 takes the vec4 kernels, K = 2 and 5 the scalar ones; B = 129 is past two
    // workgroups of 64 rows.
    for b in [1usize, 7, 129] {
        for k in [2usize, 5, 1000] {
            let x: Vec<f32> = data((b * k) as u64, b * k)
                .iter()
                .map(|v| v * 6.0)
                .collect();
            let t = tensor(&x, &[b, k]);
            let (sm, lsm) = cpu_softmax(&x, k);
            // exp differs from f64 by a few ulp and the row sum adds K roundings.
            let got = softmax(&t).unwrap().to_vec().unwrap();
            assert_close(&got, &sm, 1e-5, 1e-7, &format!("softmax {b}x{k}"));
            let got = log_softmax(&t).unwrap().to_vec().unwrap();
            assert_close(&got, &lsm, 1e-5, 1e-5, &format!("log_softmax {b}x{k}"));
        }
    }
}

#[test]
fn softmax_acts_on_the_last_axis_of_a_3d_tensor() {
    for shape in [[3usize, 5, 7], [2, 3, 8]] {
        let x = data(5, numel(&shape));
        let t = tensor(&x, &shape);
        let (sm, lsm) = cpu_softmax(&x, shape[2]);
        let got = softmax(&t).unwrap();
        assert_eq!(got.shape(), &shape);
        assert_close(&got.to_vec().unwrap(), &sm, 1e-5, 1e-7, "softmax 3d");
        let got = log_softmax(&t).unwrap().to_vec().unwrap();
        assert_close(&got, &lsm, 1e-5, 1e-6, "log_softmax 3d");
    }
}

#[test]
fn softmax_rows_with_huge_logits_stay_finite() {
    // K = 5 (scalar kernels) and K = 8 (vec4 kernels), with the max first, last and repeated.
    let rows5 = [
        1e4, -1e4, 0.0, 1e4, 5.0, //
        -1e4, -1e4, -1e4, -1e4, -1e4, //
        -1e4, 3.0, 2.0, 1.0, 1e4,
    ];
    let rows8 = [
        1e4, -1e4, 0.0, 1e4, 5.0, -3.0, 2.0, 1.0, //
        -1e4, -1e4, -1e4, -1e4, -1e4, -1e4, -1e4, 1e4,
    ];
    for (x, k) in [(&rows5[..], 5usize), (&rows8[..], 8)] {
        let t = tensor(x, &[x.len() / k, k]);
        let (sm, lsm) = cpu_softmax(x, k);
        let got = softmax(&t).unwrap().to_vec().unwrap();
        assert!(got.iter().all(|v| v.is_finite()), "softmax k={k}: {got:?}");
        assert_close(&got, &sm, 1e-6, 1e-7, &format!("softmax k={k}"));
        let got = log_softmax(&t).unwrap().to_vec().unwrap();
        assert!(
            got.iter().all(|v| v.is_finite()),
            "log_softmax k={k}: {got:?}"
        );
        assert_close(&got, &lsm, 1e-6, 1e-6, &format!("log_softmax k={k}"));
    }
}

#[test]
fn softmax_grad_matches_fd_on_odd_shapes() {
    for shape in [vec![1usize, 2], vec![3, 5], vec![2, 8], vec![2, 3, 3]] {
        let x = data(11, numel(&shape));
        grad_check(
            &[(x, shape.clone())],
            |t| softmax(&t[0]),
            1e-2,
            2e-2,
            2e-3,
            &format!("softmax {shape:?}"),
        );
    }
}

#[test]
fn log_softmax_grad_matches_fd_on_odd_shapes() {
    for shape in [vec![1usize, 2], vec![3, 5], vec![2, 8], vec![2, 3, 3]] {
        let x = data(12, numel(&shape));
        grad_check(
            &[(x, shape.clone())],
            |t| log_softmax(&t[0]),
            1e-2,
            2e-2,
            2e-3,
            &format!("log_softmax {shape:?}"),
        );
    }
}

#[test]
fn softmax_of_a_zero_dimensional_tensor_is_a_shape_error() {
    let t = tensor(&[1.0], &[]);
    let err = softmax(&t).unwrap_err().to_string();
    assert!(err.contains("softmax") && err.contains("[]"), "{err}");
}
