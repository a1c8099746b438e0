//! Shared test helpers: one context per test thread, host data, comparisons and the
//! finite-difference gradient check.

#![allow(dead_code)]

use std::rc::Rc;
use tidal::{no_grad, Context, Result, Tensor};

thread_local! {
    static CTX: Rc<Context> = Context::from_env().expect("a wgpu adapter (install mesa-vulkan-drivers)");
}

pub fn ctx() -> Rc<Context> {
    CTX.with(|c| c.clone())
}

/// Runs `f` once per CPU kernel family this adapter has (the register kernels, and the
/// subgroup ones where it has 8-wide subgroups; matmul and conv follow the same switch),
/// then restores the adapter's default.
pub fn for_each_cpu_variant(mut f: impl FnMut(&str)) {
    use tidal::gpu::{reset_variant, set_variant, subgroup_ok, Variant};
    let ctx = ctx();
    let mut variants = vec![Variant::Register];
    if subgroup_ok(&ctx) {
        variants.push(Variant::Subgroup);
    }
    for v in variants {
        set_variant(&ctx, v);
        f(&format!("{v:?}"));
    }
    reset_variant(&ctx);
}

/// `for_each_cpu_variant` with the subgroup family run four times: the row-window
/// convolutions (`gpu::rows`) with the flipped grad input (`gpu::flip`) and the Winograd 3x3
/// forward (`gpu::wino`), with the flipped grad input alone, alone, and none of them. All
/// four are what some runs use.
pub fn for_each_conv_variant(mut f: impl FnMut(&str)) {
    use tidal::gpu::{set_flip, set_rows, set_wino, Variant};
    let ctx = ctx();
    for_each_cpu_variant(|v| {
        if v == format!("{:?}", Variant::Subgroup) {
            for (rows, flip, wino) in [
                (true, true, true),
                (true, true, false),
                (true, false, false),
                (false, false, false),
            ] {
                set_rows(&ctx, rows);
                set_flip(&ctx, flip);
                set_wino(&ctx, wino);
                f(&format!("{v} rows={rows} flip={flip} wino={wino}"));
            }
            // the defaults
            set_rows(&ctx, true);
            set_flip(&ctx, true);
            set_wino(&ctx, false);
        } else {
            f(v);
        }
    });
}

/// Deterministic host data in [-1, 1) from a small LCG (independent of the GPU generator).
pub fn data(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

pub fn tensor(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(&ctx(), data, shape).unwrap()
}

pub fn param(data: &[f32], shape: &[usize]) -> Tensor {
    tensor(data, shape).requires_grad_()
}

/// Asserts |got - want| <= atol + rtol * |want| elementwise, naming the first failure.
pub fn assert_close(got: &[f32], want: &[f32], rtol: f32, atol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = approx::relative_eq!(g, w, epsilon = atol, max_relative = rtol)
            || (g - w).abs() <= atol + rtol * w.abs();
        assert!(
            ok,
            "{what}: element {i}: got {g}, want {w} (rtol {rtol}, atol {atol})"
        );
    }
}

/// Checks the tape's gradient of `f` against central finite differences.
///
/// The scalar checked is sum(f(inputs) * r) with fixed random weights r, so every output
/// element's gradient path is exercised. All perturbed forwards are recorded first and read
/// back in one bulk readback.
pub fn grad_check(
    inputs: &[(Vec<f32>, Vec<usize>)],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    eps: f32,
    rtol: f32,
    atol: f32,
    what: &str,
) {
    let params: Vec<Tensor> = inputs.iter().map(|(d, s)| param(d, s)).collect();
    let out = f(&params).unwrap();
    let r = data(99, out.numel());
    let rt = tensor(&r, out.shape());
    let loss = out.mul(&rt).unwrap().sum().unwrap();
    loss.backward().unwrap();
    let analytic: Vec<Vec<f32>> = params
        .iter()
        .map(|p| p.grad().expect("gradient reached input").to_vec().unwrap())
        .collect();

    no_grad(|| {
        for (pi, (d, s)) in inputs.iter().enumerate() {
            let mut outs = Vec::new();
            for j in 0..d.len() {
                for sign in [1.0f32, -1.0] {
                    let mut xs: Vec<Tensor> = inputs.iter().map(|(d, s)| tensor(d, s)).collect();
                    let mut dj = d.clone();
                    dj[j] += sign * eps;
                    xs[pi] = tensor(&dj, s);
                    outs.push(f(&xs).unwrap());
                }
            }
            let refs: Vec<&Tensor> = outs.iter().collect();
            let vals = Tensor::read_all(&refs).unwrap();
            let dot = |v: &Vec<f32>| {
                v.iter()
                    .zip(&r)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
            };
            let numeric: Vec<f32> = (0..d.len())
                .map(|j| ((dot(&vals[2 * j]) - dot(&vals[2 * j + 1])) / (2.0 * eps as f64)) as f32)
                .collect();
            assert_close(
                &analytic[pi],
                &numeric,
                rtol,
                atol,
                &format!("{what}: d/d input {pi}"),
            );
        }
    });
}

/// Plain-Rust C = op(A) op(B) for one batch, f64 accumulation.
pub fn cpu_matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] };
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                s += av as f64 * bv as f64;
            }
            c[i * n + j] = s as f32;
        }
    }
    c
}
