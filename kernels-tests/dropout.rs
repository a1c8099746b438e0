use crate::common::*;
use tidal::ops::dropout::dropout;
use tidal::Rng;

/// Inputs away from zero, so a dropped element is told apart from a kept one by its value.
fn nonzero(n: usize, seed: u64) -> Vec<f32> {
    data(seed, n)
        .iter()
        .map(|v| if *v >= 0.0 { v + 0.5 } else { v - 0.5 })
        .collect()
}

#[test]
fn dropout_mask_is_the_cpu_threefry_draws_at_or_above_p() {
    // 1031: odd and no multiple of the 256-lane workgroup (or of the 2 elements per lane);
    // the second call checks that the counter advances.
    let n = 1031;
    let p = 0.3f32;
    let x = nonzero(n, 1);
    let mut rng = Rng::new(0x1234_5678_9ABC);
    let mut cpu = rng;
    for call in 0..2 {
        let got = dropout(&tensor(&x, &[n]), p, true, &mut rng)
            .unwrap()
            .to_vec()
            .unwrap();
        let words = cpu.cpu_words(n);
        for i in 0..n {
            let u = (words[i] >> 8) as f32 * (1.0 / 16777216.0);
            let want = if u >= p { x[i] / (1.0 - p) } else { 0.0 };
            assert_close(
                &got[i..=i],
                &[want],
                1e-6,
                0.0,
                &format!("call {call} element {i}"),
            );
        }
        assert_eq!(rng, cpu, "dropout advances the counter like uniform");
    }
}

#[test]
fn dropout_with_the_same_seed_gives_the_same_mask() {
    let n = 4099;
    let x = tensor(&nonzero(n, 2), &[n]);
    let run = |seed| {
        dropout(&x, 0.5, true, &mut Rng::new(seed))
            .unwrap()
            .to_vec()
            .unwrap()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn dropout_keeps_one_minus_p_of_100k_elements_scaled_by_its_inverse() {
    let n = 100_000;
    let x = nonzero(n, 3);
    for p in [0.1f32, 0.25, 0.5] {
        let got = dropout(&tensor(&x, &[n]), p, true, &mut Rng::new(11))
            .unwrap()
            .to_vec()
            .unwrap();
        let mut kept = 0usize;
        for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
            if g != 0.0 {
                kept += 1;
                let want = v / (1.0 - p);
                assert!(
                    (g - want).abs() <= 1e-6 * want.abs(),
                    "p={p} element {i}: {g} vs {want}"
                );
            }
        }
        let frac = kept as f64 / n as f64;
        let want = 1.0 - p as f64;
        // Within 1% of 1 − p: one binomial standard deviation is at most 0.32% of it here.
        assert!((frac - want).abs() <= 0.01 * want, "p={p}: kept {frac}");
    }
}

#[test]
fn dropout_in_eval_or_with_p_zero_is_the_identity() {
    let x = nonzero(37, 4);
    let t = tensor(&x, &[37]);
    let mut rng = Rng::new(5);
    let before = rng;
    assert_eq!(
        dropout(&t, 0.5, false, &mut rng).unwrap().to_vec().unwrap(),
        x
    );
    assert_eq!(
        dropout(&t, 0.0, true, &mut rng).unwrap().to_vec().unwrap(),
        x
    );
    assert_eq!(rng, before, "no counters are used");
}

#[test]
fn dropout_with_p_one_zeroes_everything_and_rejects_p_outside_0_1() {
    let t = tensor(&nonzero(9, 5), &[3, 3]);
    let mut rng = Rng::new(6);
    let got = dropout(&t, 1.0, true, &mut rng).unwrap().to_vec().unwrap();
    assert_eq!(got, vec![0.0; 9]);
    assert!(dropout(&t, 1.5, true, &mut rng).is_err());
    assert!(dropout(&t, -0.1, true, &mut rng).is_err());
}

#[test]
fn dropout_grad_matches_fd_with_a_fixed_rng_state() {
    // Every forward of the check starts from the same state, so all see the same mask.
    for shape in [vec![1usize], vec![7], vec![5, 9]] {
        let x = nonzero(numel(&shape), 6);
        grad_check(
            &[(x, shape.clone())],
            |t| dropout(&t[0], 0.4, true, &mut Rng::new(21)),
            1e-2,
            1e-2,
            1e-3,
            &format!("dropout {shape:?}"),
        );
    }
}
