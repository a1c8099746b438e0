//! Batch normalisation over [N, C, H, W] or [N, C]: batch statistics with an in-place
//! running-statistics update (training) or the running statistics (eval), and the full
//! gradient to x, γ and β. Per-channel reductions run in a fixed order (chunk partials,
//! then one ordered combine per channel), so results are bit-identical run to run.

use super::{alloc_like, storage};
use crate::autograd::make;
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};
use std::rc::Rc;

/// Fewest elements of one channel folded by one invocation of the partial passes.
pub(super) const MIN_CHUNK: usize = 256;
/// Most partials per channel: bounds the serial combine of the finalize passes.
pub(super) const MAX_CHUNKS: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub(super) struct Geom {
    pub c: usize,
    pub hw: usize,
    pub count: usize,
    pub chunk: usize,
    pub chunks: usize,
    pub total: usize,
}

impl Geom {
    pub(super) fn params(&self, training: bool, momentum: f32, eps: f32) -> Params {
        Params::new()
            .u32(self.c as u32)
            .u32(self.hw as u32)
            .u32(self.count as u32)
            .u32(self.chunk as u32)
            .u32(self.chunks as u32)
            .u32(self.total as u32)
            .u32((self.total / 4 * 4) as u32)
            .u32(training as u32)
            .f32(momentum)
            .f32(eps)
    }
}

pub(super) fn check(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
) -> Result<Geom> {
    const OP: &str = "batch_norm";
    for t in [x, gamma, beta, running_mean, running_var] {
        t.expect_dtype(OP, DType::F32)?;
        super::same_ctx(OP, x, t)?;
    }
    let (n, c, hw) = match *x.shape() {
        [n, c] => (n, c, 1),
        [n, c, h, w] => (n, c, h * w),
        _ => {
            return Err(Error::Shape {
                op: OP,
                detail: format!("expects x [N, C, H, W] or [N, C], got {:?}", x.shape()),
            })
        }
    };
    for (name, t) in [
        ("gamma", gamma),
        ("beta", beta),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ] {
        if t.shape() != [c] {
            return Err(Error::Shape {
                op: OP,
                detail: format!("{name} {:?} must be [{c}] for x {:?}", t.shape(), x.shape()),
            });
        }
    }
    let count = n * hw;
    if count == 0 {
        return Err(Error::Shape {
            op: OP,
            detail: format!("x {:?} has no elements per channel", x.shape()),
        });
    }
    if training && count < 2 {
        return Err(Error::Shape {
            op: OP,
            detail: format!(
                "training needs more than one value per channel, x is {:?}",
                x.shape()
            ),
        });
    }
    // The training update writes both in one dispatch: they must be distinct buffers.
    if training && Rc::ptr_eq(&storage(running_mean), &storage(running_var)) {
        return Err(Error::Invalid(
            "batch_norm: running_mean and running_var must be different tensors".into(),
        ));
    }
    let chunk = count.div_ceil(MAX_CHUNKS).max(MIN_CHUNK);
    Ok(Geom {
        c,
        hw,
        count,
        chunk,
        chunks: count.div_ceil(chunk),
        total: x.numel(),
    })
}

/// The `PAIR` override of the batch-norm partial sums (batchnorm.wgsl, bn_relu_pool.wgsl):
/// 1 (two elements per iteration) with `+rows+flip` on the subgroup variant, where it
/// measured faster on lavapipe; 0, the kernels of every earlier setting, elsewhere.
pub(crate) fn pair_loops(ctx: &crate::gpu::Context) -> f64 {
    let on = crate::gpu::flip(ctx)
        && crate::gpu::rows(ctx)
        && crate::gpu::Variant::for_context(ctx) == crate::gpu::Variant::Subgroup;
    on as u32 as f64
}

/// x [N, C, H, W] or [N, C]; per-channel statistics over N (and H, W).
/// training: normalise with the batch mean and biased variance, and update running_mean /
/// running_var in place: r = (1 − momentum)·r + momentum·stat, with the UNBIASED variance for
/// running_var (PyTorch). eval: normalise with the running statistics (no update).
/// y = γ·(x − μ)/sqrt(σ² + eps) + β.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<Tensor> {
    let geo = check(x, gamma, beta, running_mean, running_var, training)?;
    let p = geo.params(training, momentum, eps);
    let (stats, coef) = coefficients(
        &geo,
        &p,
        x,
        gamma,
        beta,
        running_mean,
        running_var,
        training,
    )?;
    let out = alloc_like(x, x.shape(), DType::F32)?;
    apply(&geo, &p, ("bn_apply", "bn_apply_tail"), &[x], &coef, &out)?;

    let (xs, gs) = (x.detach(), gamma.detach());
    let needs = [
        x.requires_grad(),
        gamma.requires_grad(),
        beta.requires_grad(),
    ];
    Ok(make(
        storage(&out),
        x.shape().to_vec(),
        DType::F32,
        "batch_norm",
        &[x, gamma, beta],
        move |g| {
            let ctx = g.ctx();
            let part = alloc_like(g, &[geo.c * geo.chunks, 2], DType::F32)?;
            let k = ctx.kernel("batchnorm", "bn_grad_partial", &[])?;
            ctx.dispatch(
                &k,
                p.bytes(),
                &[xs.buffer(), g.buffer(), stats.buffer(), part.buffer()],
                grid_1d((geo.c * geo.chunks) as u64, 256),
            )?;
            let (dgamma, dbeta, coef) = finalize_grad(g, &gs, &part, &stats, &p, geo.c)?;
            let dx = if needs[0] {
                let dx = alloc_like(g, xs.shape(), DType::F32)?;
                apply(
                    &geo,
                    &p,
                    ("bn_backward_apply", "bn_backward_tail"),
                    &[&xs, g],
                    &coef,
                    &dx,
                )?;
                Some(dx)
            } else {
                None
            };
            Ok(vec![
                dx,
                needs[1].then_some(dgamma),
                needs[2].then_some(dbeta),
            ])
        },
    ))
}

/// The forward pass's statistics: (mean, 1/std) per channel, saved for the gradient, and
/// the coefficients (a, b) of bn(x) = a x + b; in training the batch statistics, with the
/// running statistics updated in place.
#[allow(clippy::too_many_arguments)]
pub(super) fn coefficients(
    geo: &Geom,
    p: &Params,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
) -> Result<(Tensor, Tensor)> {
    let ctx = x.ctx();
    // (mean, 1/std) per channel, saved for the gradient; coefficients (a, b) of y = a x + b.
    let stats = alloc_like(x, &[geo.c, 2], DType::F32)?;
    let coef = alloc_like(x, &[geo.c, 4], DType::F32)?;
    let per_channel = grid_1d(geo.c as u64, 64);
    if training {
        let part = alloc_like(x, &[geo.c * geo.chunks, 2], DType::F32)?;
        let k = ctx.kernel(
            "batchnorm",
            "bn_stats_partial",
            &[("PAIR", pair_loops(ctx))],
        )?;
        ctx.dispatch(
            &k,
            p.bytes(),
            &[x.buffer(), part.buffer()],
            grid_1d((geo.c * geo.chunks) as u64, 256),
        )?;
        let k = ctx.kernel("batchnorm", "bn_finalize_train", &[])?;
        ctx.dispatch(
            &k,
            p.bytes(),
            &[
                gamma.buffer(),
                beta.buffer(),
                part.buffer(),
                stats.buffer(),
                coef.buffer(),
                running_mean.buffer(),
                running_var.buffer(),
            ],
            per_channel,
        )?;
    } else {
        let k = ctx.kernel("batchnorm", "bn_finalize_eval", &[])?;
        ctx.dispatch(
            &k,
            p.bytes(),
            &[
                gamma.buffer(),
                beta.buffer(),
                running_mean.buffer(),
                running_var.buffer(),
                stats.buffer(),
                coef.buffer(),
            ],
            per_channel,
        )?;
    }
    Ok((stats, coef))
}

/// Folds the per-channel gradient partials (`part`, [c · chunks, 2]) into dγ, dβ and the
/// input-gradient coefficients (A, B, D) of dx = A g + B x + D (`bn_finalize_grad`).
pub(super) fn finalize_grad(
    g: &Tensor,
    gamma: &Tensor,
    part: &Tensor,
    stats: &Tensor,
    p: &Params,
    c: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    let ctx = g.ctx();
    let dgamma = alloc_like(g, &[c], DType::F32)?;
    let dbeta = alloc_like(g, &[c], DType::F32)?;
    let coef = alloc_like(g, &[c, 4], DType::F32)?;
    let k = ctx.kernel("batchnorm", "bn_finalize_grad", &[])?;
    ctx.dispatch(
        &k,
        p.bytes(),
        &[
            gamma.buffer(),
            part.buffer(),
            stats.buffer(),
            coef.buffer(),
            dgamma.buffer(),
            dbeta.buffer(),
        ],
        grid_1d(c as u64, 64),
    )?;
    Ok((dgamma, dbeta, coef))
}

/// Runs an elementwise pass with per-channel coefficients: `entries.0` on the whole
/// vec4s, `entries.1` on the last numel % 4 elements.
fn apply(
    geo: &Geom,
    p: &Params,
    (vec4_entry, tail_entry): (&'static str, &'static str),
    inputs: &[&Tensor],
    coef: &Tensor,
    out: &Tensor,
) -> Result<()> {
    let ctx = out.ctx();
    let mut bufs: Vec<&wgpu::Buffer> = inputs.iter().map(|t| t.buffer()).collect();
    bufs.push(coef.buffer());
    bufs.push(out.buffer());
    let k = ctx.kernel("batchnorm", vec4_entry, &[])?;
    ctx.dispatch(&k, p.bytes(), &bufs, grid_1d((geo.total / 4) as u64, 256))?;
    if !geo.total.is_multiple_of(4) {
        let k = ctx.kernel("batchnorm", tail_entry, &[])?;
        ctx.dispatch(&k, p.bytes(), &bufs, [1, 1, 1])?;
    }
    Ok(())
}
