use crate::common::*;
use tidal::ops::conv2d::{
    conv2d, conv2d_bn_relu_pool_eval, conv2d_grad_input, conv2d_grad_weight, conv_bn_relu_pool_ok,
    Conv2dParams,
};

/// One convolution case: x [n, c, h, w], w [o, c, kh, kw].
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    p: Conv2dParams,
}

impl Case {
    fn out_hw(&self) -> (usize, usize) {
        let p = &self.p;
        let oh = (self.h + 2 * p.padding.0 - p.dilation.0 * (self.kh - 1) - 1) / p.stride.0 + 1;
        let ow = (self.w + 2 * p.padding.1 - p.dilation.1 * (self.kw - 1) - 1) / p.stride.1 + 1;
        (oh, ow)
    }
    fn x_shape(&self) -> Vec<usize> {
        vec![self.n, self.c, self.h, self.w]
    }
    fn w_shape(&self) -> Vec<usize> {
        vec![self.o, self.c, self.kh, self.kw]
    }
    fn y_shape(&self) -> Vec<usize> {
        let (oh, ow) = self.out_hw();
        vec![self.n, self.o, oh, ow]
    }

    /// Calls f(n, o, oy, ox, c, ky, kx, x index) for every in-image tap of every output.
    #[allow(clippy::too_many_arguments)]
    fn for_each_tap(
        &self,
        mut f: impl FnMut(usize, usize, usize, usize, usize, usize, usize, usize),
    ) {
        let (oh, ow) = self.out_hw();
        let p = &self.p;
        for n in 0..self.n {
            for o in 0..self.o {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for c in 0..self.c {
                            for ky in 0..self.kh {
                                let iy = (oy * p.stride.0 + ky * p.dilation.0) as isize
                                    - p.padding.0 as isize;
                                if iy < 0 || iy >= self.h as isize {
                                    continue;
                                }
                                for kx in 0..self.kw {
                                    let ix = (ox * p.stride.1 + kx * p.dilation.1) as isize
                                        - p.padding.1 as isize;
                                    if ix < 0 || ix >= self.w as isize {
                                        continue;
                                    }
                                    let xi = ((n * self.c + c) * self.h + iy as usize) * self.w
                                        + ix as usize;
                                    f(n, o, oy, ox, c, ky, kx, xi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn y_index(&self, n: usize, o: usize, oy: usize, ox: usize) -> usize {
        let (oh, ow) = self.out_hw();
        ((n * self.o + o) * oh + oy) * ow + ox
    }
    fn w_index(&self, o: usize, c: usize, ky: usize, kx: usize) -> usize {
        ((o * self.c + c) * self.kh + ky) * self.kw + kx
    }

    /// Plain-Rust forward, f64 accumulation, with the bias and ReLU epilogue.
    fn cpu_forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
        let mut acc = vec![0.0f64; self.y_shape().iter().product()];
        self.for_each_tap(|n, o, oy, ox, c, ky, kx, xi| {
            acc[self.y_index(n, o, oy, ox)] += x[xi] as f64 * w[self.w_index(o, c, ky, kx)] as f64;
        });
        let ohw: usize = self.y_shape()[2..].iter().product();
        acc.iter()
            .enumerate()
            .map(|(i, &v)| {
                let v = v + b.map_or(0.0, |b| b[(i / ohw) % self.o] as f64);
                (if self.p.relu { v.max(0.0) } else { v }) as f32
            })
            .collect()
    }

    /// Plain-Rust eval-mode max_pool2d(relu(batch_norm(conv + b)), 2, 2), all in f64: the
    /// batch norm as PyTorch writes it, (z − mean)/√(var + ε)·γ + β, first maximum per window.
    #[allow(clippy::too_many_arguments)]
    fn cpu_bn_relu_pool(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        bn: [&[f32]; 4],
        eps: f32,
    ) -> Vec<f32> {
        let (oh, ow) = self.out_hw();
        let mut z = vec![0.0f64; self.y_shape().iter().product()];
        self.for_each_tap(|n, o, oy, ox, c, ky, kx, xi| {
            z[self.y_index(n, o, oy, ox)] += x[xi] as f64 * w[self.w_index(o, c, ky, kx)] as f64;
        });
        let [gamma, beta, mean, var] = bn;
        let (ph, pw) = (oh / 2, ow / 2);
        let mut out = Vec::with_capacity(self.n * self.o * ph * pw);
        for n in 0..self.n {
            for o in 0..self.o {
                let y = |oy: usize, ox: usize| {
                    let v = z[self.y_index(n, o, oy, ox)] + b.map_or(0.0, |b| b[o] as f64);
                    let v = (v - mean[o] as f64) / (var[o] as f64 + eps as f64).sqrt()
                        * gamma[o] as f64
                        + beta[o] as f64;
                    v.max(0.0)
                };
                for py in 0..ph {
                    for px in 0..pw {
                        let (r, c) = (2 * py, 2 * px);
                        let m = y(r, c)
                            .max(y(r, c + 1))
                            .max(y(r + 1, c))
                            .max(y(r + 1, c + 1));
                        out.push(m as f32);
                    }
                }
            }
        }
        out
    }

    /// Plain-Rust grad input and grad weight for upstream gradient g, f64 accumulation.
    fn cpu_backward(&self, x: &[f32], w: &[f32], g: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut gx = vec![0.0f64; x.len()];
        let mut gw = vec![0.0f64; w.len()];
        self.for_each_tap(|n, o, oy, ox, c, ky, kx, xi| {
            let gv = g[self.y_index(n, o, oy, ox)] as f64;
            let wi = self.w_index(o, c, ky, kx);
            gx[xi] += gv * w[wi] as f64;
            gw[wi] += gv * x[xi] as f64;
        });
        let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
        (f(gx), f(gw))
    }
}

fn params(stride: usize, padding: usize, dilation: usize, relu: bool) -> Conv2dParams {
    Conv2dParams {
        stride: (stride, stride),
        padding: (padding, padding),
        dilation: (dilation, dilation),
        relu,
    }
}

#[allow(clippy::too_many_arguments)]
fn case(n: usize, c: usize, h: usize, w: usize, o: usize, k: usize, p: Conv2dParams) -> Case {
    Case {
        n,
        c,
        h,
        w,
        o,
        kh: k,
        kw: k,
        p,
    }
}

/// Odd shapes: primes, 1, channel counts that are no multiple of 8, every window option.
fn odd_cases() -> Vec<(&'static str, Case)> {
    vec![
        ("3x3", case(3, 5, 7, 9, 4, 3, params(1, 0, 1, false))),
        ("3x3 pad 1", case(3, 5, 7, 9, 11, 3, params(1, 1, 1, false))),
        ("1x1", case(2, 7, 5, 3, 13, 1, params(1, 0, 1, false))),
        (
            "1x1 single pixel",
            case(1, 1, 1, 1, 1, 1, params(1, 0, 1, false)),
        ),
        (
            "3x3 stride 2",
            case(2, 3, 11, 8, 9, 3, params(2, 1, 1, false)),
        ),
        (
            "3x3 dilation 2",
            case(2, 4, 9, 10, 5, 3, params(1, 2, 2, false)),
        ),
        (
            "3x3 stride 2 dilation 2",
            case(1, 3, 12, 13, 5, 3, params(2, 2, 2, false)),
        ),
        (
            "stem 7x7 s2 p3",
            case(2, 3, 17, 15, 10, 7, params(2, 3, 1, false)),
        ),
        (
            "2x5 kernel",
            Case {
                kh: 2,
                kw: 5,
                ..case(1, 3, 6, 13, 17, 1, params(1, 1, 1, false))
            },
        ),
        // Stride 1, the row-window kernels: the forward's (5-wide kernels; rows of 19 and
        // 39 pixels, several blocks of 8 and a partial last one) and the grad weight's
        // (rows of 32 or more; 3, 4 and 5 wide, 2 to 5 rows, chunks that start mid-row),
        // with 8, 9, 11, 17 or 19 channels (partial channel blocks, one and two blocks of 8
        // per lane).
        (
            "5x5 pad 2 rows of 19",
            case(2, 3, 13, 19, 11, 5, params(1, 2, 1, false)),
        ),
        (
            "5x5 pad 2 rows of 40",
            case(1, 3, 5, 40, 8, 5, params(1, 2, 1, false)),
        ),
        (
            "3x3 pad 1 rows of 35",
            case(2, 5, 7, 35, 19, 3, params(1, 1, 1, false)),
        ),
        (
            "4x4 no pad rows of 33",
            case(3, 2, 6, 36, 9, 4, params(1, 0, 1, false)),
        ),
        (
            "2x5 kernel rows of 39",
            Case {
                kh: 2,
                kw: 5,
                ..case(1, 3, 6, 41, 17, 1, params(1, 1, 1, false))
            },
        ),
        // More than 16 channels each way: several 16-channel blocks in the subgroup kernels.
        (
            "3x3 wide channels",
            case(2, 19, 6, 5, 21, 3, params(1, 1, 1, false)),
        ),
        (
            "mixed stride/dilation",
            Case {
                p: Conv2dParams {
                    stride: (1, 3),
                    padding: (2, 0),
                    dilation: (2, 1),
                    relu: false,
                },
                ..case(2, 2, 8, 14, 3, 3, Conv2dParams::default())
            },
        ),
    ]
}

/// DeepMerge's three conv layers (REFERENCE.md) at batch `n`.
fn deepmerge_cases(n: usize) -> Vec<(&'static str, Case)> {
    vec![
        (
            "deepmerge conv1",
            case(n, 3, 75, 75, 8, 5, params(1, 2, 1, false)),
        ),
        (
            "deepmerge conv2",
            case(n, 8, 37, 37, 16, 3, params(1, 1, 1, false)),
        ),
        (
            "deepmerge conv3",
            case(n, 16, 18, 18, 32, 3, params(1, 1, 1, false)),
        ),
    ]
}

/// Runs the forward with (bias, relu) on and off against the CPU reference.
fn check_forward(name: &str, cs: Case, seed: u64, tol: f32) {
    let x = data(seed, cs.x_shape().iter().product());
    let w = data(seed + 1, cs.w_shape().iter().product());
    let b = data(seed + 2, cs.o);
    let (xt, wt, bt) = (
        tensor(&x, &cs.x_shape()),
        tensor(&w, &cs.w_shape()),
        tensor(&b, &[cs.o]),
    );
    for (with_bias, relu) in [(false, false), (true, false), (true, true), (false, true)] {
        let cs = Case {
            p: Conv2dParams { relu, ..cs.p },
            ..cs
        };
        let y = conv2d(&xt, &wt, with_bias.then_some(&bt), cs.p).unwrap();
        assert_eq!(y.shape(), cs.y_shape().as_slice(), "{name}: output shape");
        assert_close(
            &y.to_vec().unwrap(),
            &cs.cpu_forward(&x, &w, with_bias.then_some(&b[..])),
            tol,
            tol,
            &format!("{name} bias={with_bias} relu={relu}"),
        );
    }
}

/// Runs both backward kernels and the bias gradient (through the tape) against the CPU.
fn check_backward(name: &str, cs: Case, seed: u64, rtol: f32, atol: f32) {
    let x = data(seed, cs.x_shape().iter().product());
    let w = data(seed + 1, cs.w_shape().iter().product());
    let g = data(seed + 3, cs.y_shape().iter().product());
    let gt = tensor(&g, &cs.y_shape());
    let (want_gx, want_gw) = cs.cpu_backward(&x, &w, &g);
    let gx = conv2d_grad_input(&gt, &tensor(&w, &cs.w_shape()), &cs.x_shape(), cs.p).unwrap();
    assert_eq!(gx.shape(), cs.x_shape().as_slice());
    assert_close(
        &gx.to_vec().unwrap(),
        &want_gx,
        rtol,
        atol,
        &format!("{name}: grad input"),
    );
    let gw = conv2d_grad_weight(&gt, &tensor(&x, &cs.x_shape()), &cs.w_shape(), cs.p).unwrap();
    assert_eq!(gw.shape(), cs.w_shape().as_slice());
    assert_close(
        &gw.to_vec().unwrap(),
        &want_gw,
        rtol,
        atol,
        &format!("{name}: grad weight"),
    );

    // The bias gradient comes through the tape: sum of g over n, oy, ox.
    let b = param(&data(seed + 2, cs.o), &[cs.o]);
    let y = conv2d(
        &tensor(&x, &cs.x_shape()),
        &tensor(&w, &cs.w_shape()),
        Some(&b),
        cs.p,
    )
    .unwrap();
    y.backward_with(&gt).unwrap();
    let ohw: usize = cs.y_shape()[2..].iter().product();
    let mut want_gb = vec![0.0f64; cs.o];
    for (i, &v) in g.iter().enumerate() {
        want_gb[(i / ohw) % cs.o] += v as f64;
    }
    let want_gb: Vec<f32> = want_gb.into_iter().map(|v| v as f32).collect();
    assert_close(
        &b.grad().unwrap().to_vec().unwrap(),
        &want_gb,
        rtol,
        atol,
        &format!("{name}: grad bias"),
    );
}

#[test]
fn conv2d_forward_matches_cpu_on_odd_shapes_with_and_without_bias_relu() {
    // f32 sums of at most 19*9 products of |v| < 1: 1e-5 relative and absolute.
    for_each_conv_variant(|v| {
        for (i, (name, cs)) in odd_cases().into_iter().enumerate() {
            check_forward(&format!("{v} {name}"), cs, 10 * i as u64 + 1, 1e-5);
        }
    });
}

#[test]
fn conv2d_forward_matches_cpu_on_deepmerge_layers_at_batch_3_and_5() {
    for_each_conv_variant(|v| {
        for n in [3, 5] {
            for (i, (name, cs)) in deepmerge_cases(n).into_iter().enumerate() {
                check_forward(&format!("{v} {name} batch {n}"), cs, 100 + i as u64, 1e-5);
            }
        }
    });
}

#[test]
fn conv2d_grad_input_weight_bias_match_cpu_on_odd_shapes() {
    // grad weight sums up to n*oh*ow = 2*8*8 products: 2e-5.
    for_each_conv_variant(|v| {
        for (i, (name, cs)) in odd_cases().into_iter().enumerate() {
            check_backward(&format!("{v} {name}"), cs, 20 * i as u64 + 7, 2e-5, 2e-5);
        }
    });
}

#[test]
fn conv2d_grad_input_weight_bias_match_cpu_on_deepmerge_layers_at_batch_3_and_5() {
    // grad weight and bias sum up to 5*75*75 = 28125 products of |v| < 1 in f32:
    // relative 1e-4, absolute 1e-3.
    for n in [3, 5] {
        for (i, (name, cs)) in deepmerge_cases(n).into_iter().enumerate() {
            check_backward(&format!("{name} batch {n}"), cs, 200 + i as u64, 1e-4, 1e-3);
        }
    }
}

#[test]
fn conv2d_grad_input_runs_as_the_flipped_row_forward_under_flip() {
    // With `+rows+flip` a stride-1 grad input is conv2d_flip plus conv2d_fwd_row_sg (two
    // dispatches); with `+rows` alone, conv2d_grad_input_sg (one), as before `+flip`
    // existed. The CPU tests above check both against the reference; this checks that the
    // DeepMerge layers take the flipped path and that the two paths agree.
    use tidal::gpu::{reset_variant, set_flip, set_rows, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the row kernels need 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    for (i, (name, cs)) in deepmerge_cases(3).into_iter().enumerate() {
        let wn: usize = cs.w_shape().iter().product();
        let gn: usize = cs.y_shape().iter().product();
        let w = tensor(&data(40 + i as u64, wn), &cs.w_shape());
        let g = tensor(&data(50 + i as u64, gn), &cs.y_shape());
        let run = |flip: bool| {
            set_rows(&ctx, true);
            set_flip(&ctx, flip);
            let before = ctx.stats().dispatches;
            let out = conv2d_grad_input(&g, &w, &cs.x_shape(), cs.p).unwrap();
            (out.to_vec().unwrap(), ctx.stats().dispatches - before)
        };
        let (flipped, n_flipped) = run(true);
        let (sg, n_sg) = run(false);
        assert_eq!((n_flipped, n_sg), (2, 1), "{name}: dispatches");
        assert_close(&flipped, &sg, 1e-5, 1e-5, name);
    }
    set_flip(&ctx, true);
    reset_variant(&ctx);
}

#[test]
fn row_forward_is_bit_for_bit_the_subgroup_forward_on_3x3_layers() {
    // `+rows` runs the 3x3 forwards on conv2d_fwd_row_sg since its taps were chained. A
    // setting must keep what it computes, and `subgroup+fused+rows` runs recorded before
    // rounded these layers through conv2d_fwd_sg: both sum the same products in the same
    // (c, ky, kx) order, so the outputs must agree exactly, bias and ReLU included.
    use tidal::gpu::{reset_variant, set_rows, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the row kernels need 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    let mut cases = deepmerge_cases(3);
    cases.retain(|(_, cs)| cs.kw == 3);
    cases.push((
        "3x3 pad 1 rows of 35",
        case(2, 5, 7, 35, 19, 3, params(1, 1, 1, true)),
    ));
    for (i, (name, cs)) in cases.into_iter().enumerate() {
        let wn: usize = cs.w_shape().iter().product();
        let xn: usize = cs.x_shape().iter().product();
        let x = tensor(&data(60 + i as u64, xn), &cs.x_shape());
        let w = tensor(&data(65 + i as u64, wn), &cs.w_shape());
        let b = tensor(&data(68 + i as u64, cs.o), &[cs.o]);
        let run = |rows: bool| {
            set_rows(&ctx, rows);
            let y = conv2d(&x, &w, Some(&b), cs.p).unwrap().to_vec().unwrap();
            y.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        };
        assert!(
            run(true) == run(false),
            "{name}: the row forward changed bits"
        );
    }
    set_rows(&ctx, true);
    reset_variant(&ctx);
}

#[test]
fn multi_row_kernels_are_bit_for_bit_the_one_row_kernels() {
    // conv2d_fwd_row_sg with ROWS = 2 loads each input row once for two output rows, and
    // conv2d_grad_weight_row_sg can give each lane several kernel rows: both must sum exactly
    // as the one-row kernels do. The forward (bias, ReLU), the flipped grad input that runs
    // on it and the weight gradient, on DeepMerge's layers (2 and 3 kernel rows per lane),
    // odd and two-row heights, rows that do not fill their blocks (each wide enough for the
    // row kernels) and 16 output channels per lane.
    use tidal::gpu::{reset_variant, set_row_pairs, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the row kernels need 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    let mut cases = deepmerge_cases(2);
    cases.extend([
        (
            "5x5 relu, 3 rows",
            case(2, 3, 3, 13, 5, 5, params(1, 2, 1, true)),
        ),
        (
            "3x3, 2 rows of 14",
            case(1, 4, 2, 14, 19, 3, params(1, 1, 1, false)),
        ),
        (
            "3x3 relu, 7 rows of 21",
            case(3, 6, 7, 21, 16, 3, params(1, 1, 1, true)),
        ),
        (
            "1x1, 5 rows of 13",
            case(2, 2, 5, 13, 9, 1, params(1, 0, 1, false)),
        ),
    ]);
    for (i, (name, cs)) in cases.into_iter().enumerate() {
        let wn: usize = cs.w_shape().iter().product();
        let xn: usize = cs.x_shape().iter().product();
        let xv = data(90 + i as u64, xn);
        let wv = data(95 + i as u64, wn);
        let b = tensor(&data(98 + i as u64, cs.o), &[cs.o]);
        let run = |pairs: bool| {
            set_row_pairs(&ctx, pairs);
            let x = param(&xv, &cs.x_shape());
            let w = param(&wv, &cs.w_shape());
            let y = conv2d(&x, &w, Some(&b), cs.p).unwrap();
            let g = data(99, y.numel());
            y.backward_with(&tensor(&g, y.shape())).unwrap();
            tidal::Tensor::read_all(&[&y, &x.grad().unwrap(), &w.grad().unwrap()])
                .unwrap()
                .into_iter()
                .map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
                .collect::<Vec<_>>()
        };
        let (two, one) = (run(true), run(false));
        assert!(two[0] == one[0], "{name}: the two-row forward changed bits");
        assert!(
            two[1] == one[1],
            "{name}: the two-row grad input changed bits"
        );
        assert!(
            two[2] == one[2],
            "{name}: the multi-row weight gradient changed bits"
        );
    }
    set_row_pairs(&ctx, true);
    reset_variant(&ctx);
}

/// Finite-difference check of d/dx, d/dw and d/dbias through the tape.
fn fd_check(name: &str, cs: Case, seed: u64) {
    let x = data(seed, cs.x_shape().iter().product());
    let w = data(seed + 1, cs.w_shape().iter().product());
    let b = data(seed + 2, cs.o);
    let p = cs.p;
    grad_check(
        &[(x, cs.x_shape()), (w, cs.w_shape()), (b, vec![cs.o])],
        move |t| conv2d(&t[0], &t[1], Some(&t[2]), p),
        1e-2,
        1e-2,
        2e-3,
        name,
    );
}

#[test]
fn conv2d_grad_input_weight_bias_match_fd_on_odd_shapes() {
    let cases = [
        ("3x3 pad 1", case(2, 3, 5, 4, 3, 3, params(1, 1, 1, false))),
        (
            "3x3 stride 2 pad 1",
            case(1, 2, 7, 6, 3, 3, params(2, 1, 1, false)),
        ),
        (
            "3x3 dilation 2 pad 2",
            case(1, 2, 5, 6, 2, 3, params(1, 2, 2, false)),
        ),
        ("1x1", case(2, 3, 3, 2, 5, 1, params(1, 0, 1, false))),
        (
            "7x7 stride 2 pad 3",
            case(1, 2, 6, 5, 2, 7, params(2, 3, 1, false)),
        ),
        // Rows of 33: the row-window forward and grad weight where the subgroup kernels run.
        (
            "5x5 pad 2 rows of 33",
            case(1, 2, 3, 33, 3, 5, params(1, 2, 1, false)),
        ),
    ];
    for (i, (name, cs)) in cases.into_iter().enumerate() {
        fd_check(name, cs, 300 + i as u64);
    }
}

#[test]
fn conv2d_fused_relu_gradient_matches_fd_away_from_the_kink() {
    // Inputs are drawn until no pre-activation lies within 0.02 of zero, so a perturbation
    // of 1e-2 never crosses the kink.
    let cs = case(2, 3, 5, 5, 4, 3, params(1, 1, 1, true));
    let raw = Case {
        p: Conv2dParams {
            relu: false,
            ..cs.p
        },
        ..cs
    };
    let seed = (400..)
        .find(|&s| {
            let x = data(s, cs.x_shape().iter().product());
            let w = data(s + 1, cs.w_shape().iter().product());
            let b = data(s + 2, cs.o);
            raw.cpu_forward(&x, &w, Some(&b))
                .iter()
                .all(|v| v.abs() > 0.02)
        })
        .unwrap();
    fd_check("fused relu", cs, seed);
}

#[test]
fn conv2d_rejects_mismatched_shapes_with_the_shapes_in_the_message() {
    let x = tensor(&data(1, 2 * 3 * 5 * 5), &[2, 3, 5, 5]);
    let w = tensor(&data(2, 4 * 2 * 3 * 3), &[4, 2, 3, 3]);
    let err = conv2d(&x, &w, None, Conv2dParams::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[2, 3, 5, 5]") && err.contains("[4, 2, 3, 3]"),
        "{err}"
    );
    let w = tensor(&data(2, 4 * 3 * 7 * 7), &[4, 3, 7, 7]);
    assert!(
        conv2d(&x, &w, None, Conv2dParams::default()).is_err(),
        "kernel larger than image"
    );
    let w = tensor(&data(2, 4 * 3 * 3 * 3), &[4, 3, 3, 3]);
    let b = tensor(&data(3, 5), &[5]);
    assert!(
        conv2d(&x, &w, Some(&b), Conv2dParams::default()).is_err(),
        "bias of wrong length"
    );
}

/// Batch-norm parameters for `o` channels: γ of both signs (a negative γ flips which input
/// of a window is its maximum, so the fold must come before the pool), β, running mean and
/// running variance as training leaves them.
fn bn_params(o: usize, seed: u64) -> [Vec<f32>; 4] {
    let r = |k: u64| data(seed + k, o);
    let gamma = r(0).iter().map(|v| 1.5 * v).collect();
    let var = r(3).iter().map(|v| 0.2 + v.abs()).collect();
    [gamma, r(1), r(2), var]
}

#[test]
fn conv_bn_relu_pool_eval_matches_cpu_and_the_separate_ops() {
    use tidal::gpu::{set_fused, set_rows, set_variant, subgroup_ok, Variant};
    use tidal::ops::batchnorm::batch_norm;
    use tidal::ops::pool::max_pool2d;
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the fused eval kernel needs 8-wide subgroups");
        return;
    }
    set_variant(&ctx, Variant::Subgroup);
    let cases = [
        // DeepMerge's three layers (the pooled outputs 37, 18 and 9 wide: odd and even).
        (
            "deepmerge conv1",
            case(3, 3, 75, 75, 8, 5, params(1, 2, 1, false)),
        ),
        (
            "deepmerge conv2",
            case(3, 8, 37, 37, 16, 3, params(1, 1, 1, false)),
        ),
        (
            "deepmerge conv3",
            case(3, 16, 18, 18, 32, 3, params(1, 1, 1, false)),
        ),
        // Odd shapes: odd output sizes (the last row and column are dropped), pooled rows
        // of 1 to 6, channel counts off every block size, kernels 1x1 to 5x5 and 2x5.
        (
            "3x3 pad 1 odd",
            case(2, 5, 7, 11, 11, 3, params(1, 1, 1, false)),
        ),
        (
            "5x5 no pad",
            case(1, 3, 9, 14, 19, 5, params(1, 0, 1, false)),
        ),
        ("1x1", case(2, 7, 5, 3, 13, 1, params(1, 0, 1, false))),
        ("4x4 pad 2", case(1, 2, 6, 9, 3, 4, params(1, 2, 1, false))),
        (
            "2x5 kernel",
            Case {
                kh: 2,
                kw: 5,
                ..case(2, 3, 6, 13, 17, 1, params(1, 1, 1, false))
            },
        ),
    ];
    for (i, (name, cs)) in cases.into_iter().enumerate() {
        let seed = 500 + 10 * i as u64;
        let x = data(seed, cs.x_shape().iter().product());
        let w = data(seed + 1, cs.w_shape().iter().product());
        let b = data(seed + 2, cs.o);
        let bn = bn_params(cs.o, seed + 3);
        let eps = 1e-5;
        let t = |v: &[f32], s: &[usize]| tensor(v, s);
        let (xt, wt) = (t(&x, &cs.x_shape()), t(&w, &cs.w_shape()));
        let bnt: Vec<_> = bn.iter().map(|v| t(v, &[cs.o])).collect();
        assert!(
            conv_bn_relu_pool_ok(&ctx, &cs.x_shape(), &cs.w_shape(), &cs.p),
            "{name}"
        );
        for with_bias in [true, false] {
            let bt = t(&b, &[cs.o]);
            let bias = with_bias.then_some(&bt);
            let got = conv2d_bn_relu_pool_eval(
                &xt, &wt, bias, cs.p, &bnt[0], &bnt[1], &bnt[2], &bnt[3], eps,
            )
            .unwrap();
            let (oh, ow) = cs.out_hw();
            assert_eq!(got.shape(), &[cs.n, cs.o, oh / 2, ow / 2], "{name}");
            let want = cs.cpu_bn_relu_pool(
                &x,
                &w,
                with_bias.then_some(&b[..]),
                [&bn[0], &bn[1], &bn[2], &bn[3]],
                eps,
            );
            let got = got.to_vec().unwrap();
            // f32 sums of up to 16*9 products of |v| < 1, scaled by |γ|/√var ≤ 3.4.
            assert_close(&got, &want, 1e-5, 2e-5, &format!("{name} bias={with_bias}"));
            // The separate ops in eval mode, the fused kernel's reference in the product.
            let sep = max_pool2d(
                &batch_norm(
                    &conv2d(&xt, &wt, bias, cs.p).unwrap(),
                    &bnt[0],
                    &bnt[1],
                    &bnt[2],
                    &bnt[3],
                    false,
                    0.1,
                    eps,
                )
                .unwrap()
                .relu()
                .unwrap(),
                (2, 2),
                (2, 2),
                (0, 0),
            )
            .unwrap();
            assert_close(
                &got,
                &sep.to_vec().unwrap(),
                1e-5,
                2e-5,
                &format!("{name} bias={with_bias} against the separate ops"),
            );
        }
    }
    // Off unless the fused chains and the row-window kernels are both chosen, and for a
    // stride or a dilation.
    let cs = case(1, 3, 9, 9, 8, 3, params(1, 1, 1, false));
    set_rows(&ctx, false);
    assert!(!conv_bn_relu_pool_ok(
        &ctx,
        &cs.x_shape(),
        &cs.w_shape(),
        &cs.p
    ));
    set_rows(&ctx, true);
    set_fused(&ctx, false);
    assert!(!conv_bn_relu_pool_ok(
        &ctx,
        &cs.x_shape(),
        &cs.w_shape(),
        &cs.p
    ));
    set_fused(&ctx, true);
    assert!(!conv_bn_relu_pool_ok(
        &ctx,
        &cs.x_shape(),
        &cs.w_shape(),
        &params(2, 1, 1, false)
    ));
    assert!(!conv_bn_relu_pool_ok(
        &ctx,
        &cs.x_shape(),
        &cs.w_shape(),
        &params(1, 2, 2, false)
    ));
    tidal::gpu::reset_variant(&ctx);
}

/// Max and RMS of |got − want| over the elements, want in f64.
fn abs_errors(got: &[f32], want: &[f64]) -> (f64, f64) {
    let mut max = 0.0f64;
    let mut sq = 0.0f64;
    for (&g, &w) in got.iter().zip(want) {
        let e = (g as f64 - w).abs();
        max = max.max(e);
        sq += e * e;
    }
    (max, (sq / got.len() as f64).sqrt())
}

#[test]
fn winograd_forward_and_flipped_grad_input_stay_within_twice_the_direct_error() {
    // `+wino` runs the 3x3 stride-1 forwards (and so the flipped grad inputs) as Winograd
    // F(2x2, 3x3): two dispatches (the weight transform, the kernel) where the row kernel
    // takes one. Its transforms add roundings, so it is held to the f64 sums against the
    // direct form on DeepMerge's 3x3 layers (batch 3) and on odd shapes: no more than twice
    // the direct form's largest and RMS error. README ("Winograd") quotes the figures
    // (`cargo test --release --test kernels winograd -- --nocapture` prints them).
    use tidal::gpu::{reset_variant, set_flip, set_rows, set_variant, set_wino, subgroup_ok};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the Winograd kernel needs 8-wide subgroups");
        return;
    }
    set_variant(&ctx, tidal::gpu::Variant::Subgroup);
    set_rows(&ctx, true);
    set_flip(&ctx, true);
    let mut cases: Vec<(&str, Case)> = deepmerge_cases(3).into_iter().skip(1).collect();
    cases.push((
        "3x3 pad 1 rows of 35",
        case(2, 5, 7, 35, 19, 3, params(1, 1, 1, false)),
    ));
    cases.push((
        "3x3 no pad odd rows",
        case(1, 9, 13, 14, 6, 3, params(1, 0, 1, false)),
    ));
    for (i, (name, cs)) in cases.into_iter().enumerate() {
        let seed = 700 + 10 * i as u64;
        let x = data(seed, numel(&cs.x_shape()));
        let w = data(seed + 1, numel(&cs.w_shape()));
        let g = data(seed + 2, numel(&cs.y_shape()));
        // The f64 sums: forward, and grad input (the transposed convolution).
        let mut want_y = vec![0.0f64; numel(&cs.y_shape())];
        let mut want_gx = vec![0.0f64; numel(&cs.x_shape())];
        cs.for_each_tap(|n, o, oy, ox, c, ky, kx, xi| {
            let yi = cs.y_index(n, o, oy, ox);
            let wv = w[cs.w_index(o, c, ky, kx)] as f64;
            want_y[yi] += x[xi] as f64 * wv;
            want_gx[xi] += g[yi] as f64 * wv;
        });
        let (xt, wt, gt) = (
            tensor(&x, &cs.x_shape()),
            tensor(&w, &cs.w_shape()),
            tensor(&g, &cs.y_shape()),
        );
        let run = |wino: bool| {
            set_wino(&ctx, wino);
            let before = ctx.stats().dispatches;
            let y = conv2d(&xt, &wt, None, cs.p).unwrap();
            let n_fwd = ctx.stats().dispatches - before;
            let gx = conv2d_grad_input(&gt, &wt, &cs.x_shape(), cs.p).unwrap();
            (y.to_vec().unwrap(), gx.to_vec().unwrap(), n_fwd)
        };
        let (y_w, gx_w, n_w) = run(true);
        let (y_d, gx_d, n_d) = run(false);
        assert_eq!((n_w, n_d), (2, 1), "{name}: forward dispatches");
        for (what, wino, direct, want) in [
            ("forward", &y_w, &y_d, &want_y),
            ("grad input", &gx_w, &gx_d, &want_gx),
        ] {
            let (wmax, wrms) = abs_errors(wino, want);
            let (dmax, drms) = abs_errors(direct, want);
            eprintln!(
                "{name} {what}: Winograd max {wmax:.2e} rms {wrms:.2e}, direct max {dmax:.2e} rms {drms:.2e}"
            );
            assert!(
                wmax <= 2.0 * dmax && wrms <= 2.0 * drms,
                "{name} {what}: Winograd max {wmax:e} rms {wrms:e} against direct {dmax:e} {drms:e}"
            );
        }
    }
    set_wino(&ctx, false);
    reset_variant(&ctx);
}

#[test]
fn winograd_forward_gradients_match_fd() {
    use tidal::gpu::{reset_variant, set_variant, set_wino, subgroup_ok};
    let ctx = ctx();
    if !subgroup_ok(&ctx) {
        eprintln!("skipped: the Winograd kernel needs 8-wide subgroups");
        return;
    }
    set_variant(&ctx, tidal::gpu::Variant::Subgroup);
    set_wino(&ctx, true);
    // Rows of 7 and 14 (one and two blocks of 8 columns), odd row counts (a last tile row
    // with one output row), with and without padding.
    fd_check(
        "wino 3x3 pad 1",
        case(1, 2, 5, 7, 3, 3, params(1, 1, 1, false)),
        800,
    );
    fd_check(
        "wino 3x3 no pad",
        case(2, 3, 7, 16, 9, 3, params(1, 0, 1, false)),
        810,
    );
    set_wino(&ctx, false);
    reset_variant(&ctx);
}
