use crate::common::*;
use tidal::ops::pool::{avg_pool2d, global_avg_pool2d, max_pool2d};

type Pair = (usize, usize);

/// One pooling configuration: input [n, c, h, w], kernel, stride, padding.
#[derive(Debug, Clone, Copy)]
struct Cfg {
    shape: [usize; 4],
    k: Pair,
    s: Pair,
    p: Pair,
}

impl Cfg {
    fn out_hw(&self) -> Pair {
        let [_, _, h, w] = self.shape;
        (
            (h + 2 * self.p.0 - self.k.0) / self.s.0 + 1,
            (w + 2 * self.p.1 - self.k.1) / self.s.1 + 1,
        )
    }
    fn out_shape(&self) -> Vec<usize> {
        let (oh, ow) = self.out_hw();
        vec![self.shape[0], self.shape[1], oh, ow]
    }
    /// In-bounds input positions (plane offsets, row-major window order) of each output.
    fn windows(&self) -> Vec<Vec<usize>> {
        let [n, c, h, w] = self.shape;
        let (oh, ow) = self.out_hw();
        let mut all = Vec::new();
        for plane in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut win = Vec::new();
                    for ky in 0..self.k.0 {
                        for kx in 0..self.k.1 {
                            let iy = (oy * self.s.0 + ky) as isize - self.p.0 as isize;
                            let ix = (ox * self.s.1 + kx) as isize - self.p.1 as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                win.push(plane * h * w + iy as usize * w + ix as usize);
                            }
                        }
                    }
                    all.push(win);
                }
            }
        }
        all
    }
}

/// CPU max pool: values and the input index of the first maximum of each window.
fn cpu_max_pool(x: &[f32], cfg: &Cfg) -> (Vec<f32>, Vec<usize>) {
    cfg.windows()
        .iter()
        .map(|win| {
            let mut best = win[0];
            for &i in win {
                if x[i] > x[best] {
                    best = i;
                }
            }
            (x[best], best)
        })
        .unzip()
}

/// CPU avg pool with count_include_pad (divisor kh * kw), f64 sums.
/// Average pool: `windows()` lists each window's real pixels, so the divisor is kh·kw with
/// count_include_pad and the window's length without.
fn cpu_avg_pool(x: &[f32], cfg: &Cfg, include_pad: bool) -> Vec<f32> {
    cfg.windows()
        .iter()
        .map(|win| {
            let div = if include_pad {
                (cfg.k.0 * cfg.k.1) as f64
            } else {
                win.len() as f64
            };
            (win.iter().map(|&i| x[i] as f64).sum::<f64>() / div) as f32
        })
        .collect()
}

/// Gradient of max pool: each g[o] goes to its window's first maximum.
fn cpu_max_pool_grad(x: &[f32], g: &[f32], cfg: &Cfg) -> Vec<f32> {
    let (_, arg) = cpu_max_pool(x, cfg);
    let mut gx = vec![0.0f64; x.len()];
    for (o, &i) in arg.iter().enumerate() {
        gx[i] += g[o] as f64;
    }
    gx.iter().map(|&v| v as f32).collect()
}

/// Gradient of avg pool: each g[o] / divisor goes to every real pixel of its window.
fn cpu_avg_pool_grad(g: &[f32], cfg: &Cfg, include_pad: bool) -> Vec<f32> {
    let mut gx = vec![0.0f64; numel(&cfg.shape)];
    for (o, win) in cfg.windows().iter().enumerate() {
        let div = if include_pad {
            (cfg.k.0 * cfg.k.1) as f64
        } else {
            win.len() as f64
        };
        for &i in win {
            gx[i] += g[o] as f64 / div;
        }
    }
    gx.iter().map(|&v| v as f32).collect()
}

/// Odd shapes: 1s, primes, overlapping windows (stride < kernel), rectangular kernels,
/// a window too large for the unrolled pipelines (8 x 7 > 49), and k2 s2 (max pool's
/// vec4 path) with an output width that is no multiple of 4.
const ODD: [Cfg; 7] = [
    Cfg {
        shape: [1, 1, 1, 1],
        k: (1, 1),
        s: (1, 1),
        p: (0, 0),
    },
    Cfg {
        shape: [2, 3, 7, 5],
        k: (3, 3),
        s: (2, 2),
        p: (1, 1),
    },
    Cfg {
        shape: [1, 2, 9, 11],
        k: (2, 2),
        s: (2, 2),
        p: (0, 0),
    },
    Cfg {
        shape: [3, 1, 8, 8],
        k: (3, 3),
        s: (1, 1),
        p: (1, 1),
    },
    Cfg {
        shape: [1, 1, 5, 7],
        k: (2, 3),
        s: (1, 2),
        p: (1, 1),
    },
    Cfg {
        shape: [2, 1, 13, 3],
        k: (5, 2),
        s: (3, 1),
        p: (2, 0),
    },
    Cfg {
        shape: [1, 2, 17, 15],
        k: (8, 7),
        s: (3, 4),
        p: (4, 3),
    },
];

/// DeepMerge's pools 75 → 37 → 18 → 9 (k2 s2) and the ResNet stem maxpool (k3 s2 p1
/// on the 38 × 38 map of a 75 × 75 input), at batch 3 and 5.
fn model_cfgs() -> Vec<(Cfg, Pair)> {
    let mut v = Vec::new();
    for n in [3, 5] {
        for (c, hw, out) in [(8, 75, 37), (16, 37, 18), (32, 18, 9)] {
            let cfg = Cfg {
                shape: [n, c, hw, hw],
                k: (2, 2),
                s: (2, 2),
                p: (0, 0),
            };
            v.push((cfg, (out, out)));
        }
        let cfg = Cfg {
            shape: [n, 64, 38, 38],
            k: (3, 3),
            s: (2, 2),
            p: (1, 1),
        };
        v.push((cfg, (19, 19)));
    }
    v
}

/// Forward and input gradient (upstream g) of max and avg pool against the CPU.
fn check_against_cpu(cfg: &Cfg, seed: u64) {
    let x = data(seed, numel(&cfg.shape));
    let g = data(seed + 1, numel(&cfg.out_shape()));
    let what = format!("{cfg:?}");

    // Max selects an input value: exact, with and without the saved argmax.
    let want = cpu_max_pool(&x, cfg).0;
    let y = max_pool2d(&tensor(&x, &cfg.shape), cfg.k, cfg.s, cfg.p).unwrap();
    assert_eq!(y.to_vec().unwrap(), want, "max (no grad) {what}");
    let xt = param(&x, &cfg.shape);
    let y = max_pool2d(&xt, cfg.k, cfg.s, cfg.p).unwrap();
    assert_eq!(y.shape(), cfg.out_shape().as_slice(), "max {what}");
    assert_eq!(y.to_vec().unwrap(), want, "max {what}");
    y.backward_with(&tensor(&g, y.shape())).unwrap();
    // Each input sums at most k*k upstream values: f32 vs f64 order, 1e-6.
    assert_close(
        &xt.grad().unwrap().to_vec().unwrap(),
        &cpu_max_pool_grad(&x, &g, cfg),
        1e-6,
        1e-6,
        &format!("max grad {what}"),
    );

    for include_pad in [true, false] {
        let xt = param(&x, &cfg.shape);
        let y = avg_pool2d(&xt, cfg.k, cfg.s, cfg.p, include_pad).unwrap();
        let what = format!("{what} count_include_pad={include_pad}");
        assert_eq!(y.shape(), cfg.out_shape().as_slice(), "avg {what}");
        assert_close(
            &y.to_vec().unwrap(),
            &cpu_avg_pool(&x, cfg, include_pad),
            1e-5,
            1e-6,
            &format!("avg {what}"),
        );
        y.backward_with(&tensor(&g, y.shape())).unwrap();
        assert_close(
            &xt.grad().unwrap().to_vec().unwrap(),
            &cpu_avg_pool_grad(&g, cfg, include_pad),
            1e-5,
            1e-6,
            &format!("avg grad {what}"),
        );
    }
}

#[test]
fn max_and_avg_pool_match_cpu_forward_and_backward_on_odd_shapes() {
    for (i, cfg) in ODD.iter().enumerate() {
        check_against_cpu(cfg, 100 + i as u64);
    }
}

#[test]
fn pools_match_cpu_on_deepmerge_and_resnet_stem_shapes() {
    for (i, (cfg, out)) in model_cfgs().iter().enumerate() {
        assert_eq!(cfg.out_hw(), *out, "{cfg:?}");
        check_against_cpu(cfg, 200 + i as u64);
    }
}

#[test]
fn deepmerge_pool_chain_gives_75_37_18_9() {
    let x = tensor(&data(3, 3 * 2 * 75 * 75), &[3, 2, 75, 75]);
    let mut t = x;
    for want in [37, 18, 9] {
        t = max_pool2d(&t, (2, 2), (2, 2), (0, 0)).unwrap();
        assert_eq!(t.shape(), &[3, 2, want, want]);
    }
}

#[test]
fn max_pool2d_grad_goes_to_the_first_maximum_in_window_order() {
    // All-equal values in overlapping windows: every window picks its top-left pixel.
    let cfg = Cfg {
        shape: [1, 1, 3, 4],
        k: (2, 2),
        s: (1, 1),
        p: (0, 0),
    };
    let x = param(&[1.0; 12], &cfg.shape);
    let y = max_pool2d(&x, cfg.k, cfg.s, cfg.p).unwrap();
    let g: Vec<f32> = (1..=6).map(|v| v as f32).collect();
    y.backward_with(&tensor(&g, y.shape())).unwrap();
    let want = [1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), want);
}

#[test]
fn max_pool2d_ties_with_padding_resolve_like_the_cpu_reference() {
    // Values in {-1, 0, 1}: most windows hold tied maxima, some next to padding.
    for cfg in &ODD {
        let x: Vec<f32> = data(5, numel(&cfg.shape))
            .iter()
            .map(|v| (v * 1.5).round())
            .collect();
        let g = data(6, numel(&cfg.out_shape()));
        let xt = param(&x, &cfg.shape);
        let y = max_pool2d(&xt, cfg.k, cfg.s, cfg.p).unwrap();
        y.backward_with(&tensor(&g, y.shape())).unwrap();
        assert_close(
            &xt.grad().unwrap().to_vec().unwrap(),
            &cpu_max_pool_grad(&x, &g, cfg),
            1e-6,
            1e-6,
            &format!("{cfg:?}"),
        );
    }
}

#[test]
fn max_pool2d_padding_never_wins_over_negative_values() {
    let x = tensor(&[-5.0, -6.0, -7.0, -8.0], &[1, 1, 2, 2]);
    let y = max_pool2d(&x, (3, 3), (2, 2), (1, 1)).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![-5.0]);
}

/// Distinct values 0.05 apart (a fixed permutation), so a 1e-2 perturbation never changes
/// which element is a window's maximum.
fn distinct(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 31) % n) as f32 * 0.05 - n as f32 * 0.025)
        .collect()
}

#[test]
fn max_pool2d_grad_matches_fd_with_distinct_values() {
    for (i, cfg) in [ODD[1], ODD[2], ODD[3], ODD[4]].iter().enumerate() {
        let n = numel(&cfg.shape);
        grad_check(
            &[(distinct(n, i), cfg.shape.to_vec())],
            |t| max_pool2d(&t[0], cfg.k, cfg.s, cfg.p),
            1e-2,
            1e-2,
            1e-3,
            &format!("max_pool2d {cfg:?}"),
        );
    }
}

#[test]
fn avg_pool2d_grad_matches_fd_on_odd_shapes() {
    for cfg in [ODD[1], ODD[3], ODD[5]] {
        for include_pad in [true, false] {
            grad_check(
                &[(data(7, numel(&cfg.shape)), cfg.shape.to_vec())],
                |t| avg_pool2d(&t[0], cfg.k, cfg.s, cfg.p, include_pad),
                1e-2,
                1e-2,
                1e-3,
                &format!("avg_pool2d {cfg:?} count_include_pad={include_pad}"),
            );
        }
    }
}

#[test]
fn global_avg_pool2d_matches_cpu_and_fd() {
    // [2, 3, 9, 10]: a 90-pixel window, beyond the unrolled pipelines.
    for shape in [[2usize, 3, 5, 7], [1, 1, 1, 1], [5, 4, 3, 3], [2, 3, 9, 10]] {
        let x = data(9, numel(&shape));
        let hw = shape[2] * shape[3];
        let want: Vec<f32> = x
            .chunks(hw)
            .map(|p| (p.iter().map(|&v| v as f64).sum::<f64>() / hw as f64) as f32)
            .collect();
        let y = global_avg_pool2d(&tensor(&x, &shape)).unwrap();
        assert_eq!(y.shape(), &shape[..2]);
        assert_close(
            &y.to_vec().unwrap(),
            &want,
            1e-5,
            1e-6,
            &format!("{shape:?}"),
        );
    }
    grad_check(
        &[(data(10, 2 * 3 * 5 * 7), vec![2, 3, 5, 7])],
        |t| global_avg_pool2d(&t[0]),
        1e-2,
        1e-2,
        1e-3,
        "global_avg_pool2d",
    );
}

#[test]
fn pools_reject_bad_geometry_with_the_shapes() {
    let x = tensor(&data(1, 2 * 3 * 4 * 4), &[2, 3, 4, 4]);
    let e = max_pool2d(&x, (2, 2), (2, 2), (2, 2)).unwrap_err();
    assert!(e.to_string().contains("at most half the kernel"), "{e}");
    let e = avg_pool2d(&x, (7, 7), (1, 1), (1, 1), true).unwrap_err();
    assert!(e.to_string().contains("[2, 3, 4, 4]"), "{e}");
    let flat = tensor(&data(1, 12), &[3, 4]);
    let e = global_avg_pool2d(&flat).unwrap_err();
    assert!(e.to_string().contains("[3, 4]"), "{e}");
}
