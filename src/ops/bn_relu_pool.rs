//! Batch norm → ReLU → 2×2 max pool (stride 2, no padding) as one fused kernel chain
//! (shaders/bn_relu_pool.wgsl): the tail of each DeepMerge block. The statistics come
//! from batch_norm's passes; the separate ops are the tested reference.

use super::batchnorm::{check, coefficients, finalize_grad, Geom, MAX_CHUNKS, MIN_CHUNK};
use super::{alloc_like, storage};
use crate::autograd::{is_grad_enabled, make};
use crate::error::{Error, Result};
use crate::gpu::grid_1d;
use crate::gpu::Params;
use crate::tensor::{DType, Tensor};

/// `max_pool2d(relu(batch_norm(x, ...)), 2, 2)` as one forward pass over x [N, C, H, W]
/// (after the statistics) and a backward of three passes, none of which writes the
/// normalised, rectified or pooled gradient; the same arguments and semantics as those
/// three ops (first maximum of each window, floor output size, ReLU gradient 0 at 0). The
/// unfused composition is the tested reference. `bn_relu_pool_ok` says whether x qualifies.
#[allow(clippy::too_many_arguments)]
pub fn bn_relu_max_pool2d(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    training: bool,
    momentum: f32,
    eps: f32,
) -> Result<Tensor> {
    const OP: &str = "bn_relu_max_pool2d";
    if !bn_relu_pool_ok(x) {
        return Err(Error::Shape {
            op: OP,
            detail: format!(
                "expects f32 x [N, C, H, W] with H, W >= 2 in a buffer of whole vec4s, got {:?}",
                x.shape()
            ),
        });
    }
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
    let &[n, c, h, w] = x.shape() else {
        unreachable!("bn_relu_pool_ok checked the rank")
    };
    let (oh, ow) = (h / 2, w / 2);
    let count_out = n * oh * ow;
    let chunk = count_out.div_ceil(MAX_CHUNKS).max(MIN_CHUNK / 4);
    let chunks = count_out.div_ceil(chunk);
    let fp = Params::new()
        .u32(c as u32)
        .u32(h as u32)
        .u32(w as u32)
        .u32(oh as u32)
        .u32(ow as u32)
        .u32((n * c) as u32)
        .u32(chunk as u32)
        .u32(chunks as u32)
        .u32(count_out as u32);
    let ctx = x.ctx();
    let out_shape = vec![n, c, oh, ow];
    let out = alloc_like(x, &out_shape, DType::F32)?;
    let quads = (n * c * oh * ow.div_ceil(4)) as u64;
    // The per-element passes divide in f32 below 2^22 invocations, exactly from there.
    let blocks = n * c * h.div_ceil(2) * w.div_ceil(8);
    let exact: Vec<(&'static str, f64)> = if (quads as usize).max(blocks) >= 1 << 22 {
        vec![("EXACT", 1.0)]
    } else {
        Vec::new()
    };
    let want_grad =
        is_grad_enabled() && (x.requires_grad() || gamma.requires_grad() || beta.requires_grad());
    let arg = if want_grad {
        // Four windows' argmax codes to a word (bn_relu_pool.wgsl).
        let arg = alloc_like(x, &[n, c, oh, ow.div_ceil(4)], DType::U32)?;
        let k = ctx.kernel("bn_relu_pool", "brp_forward", &exact)?;
        let bufs = [x.buffer(), coef.buffer(), out.buffer(), arg.buffer()];
        ctx.dispatch(&k, fp.bytes(), &bufs, grid_1d(quads, 256))?;
        Some(arg)
    } else {
        let k = ctx.kernel("bn_relu_pool", "brp_forward_eval", &exact)?;
        let bufs = [x.buffer(), coef.buffer(), out.buffer()];
        ctx.dispatch(&k, fp.bytes(), &bufs, grid_1d(quads, 256))?;
        None
    };

    let (xs, gs) = (x.detach(), gamma.detach());
    let needs = [
        x.requires_grad(),
        gamma.requires_grad(),
        beta.requires_grad(),
    ];
    // The finalize pass folds the fused partials: chunks of outputs instead of inputs.
    let gp = Geom {
        chunk,
        chunks,
        ..geo
    }
    .params(training, momentum, eps);
    Ok(make(
        storage(&out),
        out_shape,
        DType::F32,
        OP,
        &[x, gamma, beta],
        move |g| {
            let ctx = g.ctx();
            let arg = arg
                .as_ref()
                .expect("argmax saved when a gradient is needed");
            let part = alloc_like(g, &[c * chunks, 2], DType::F32)?;
            let pair = crate::ops::batchnorm::pair_loops(ctx);
            let k = ctx.kernel("bn_relu_pool", "brp_grad_partial", &[("PAIR", pair)])?;
            ctx.dispatch(
                &k,
                fp.bytes(),
                &[
                    xs.buffer(),
                    stats.buffer(),
                    g.buffer(),
                    arg.buffer(),
                    part.buffer(),
                ],
                grid_1d((c * chunks) as u64, 256),
            )?;
            let (dgamma, dbeta, coef) = finalize_grad(g, &gs, &part, &stats, &gp, c)?;
            let dx = if needs[0] {
                let dx = alloc_like(g, xs.shape(), DType::F32)?;
                let k = ctx.kernel("bn_relu_pool", "brp_backward_apply", &exact)?;
                ctx.dispatch(
                    &k,
                    fp.bytes(),
                    &[
                        xs.buffer(),
                        coef.buffer(),
                        g.buffer(),
                        arg.buffer(),
                        dx.buffer(),
                    ],
                    grid_1d(blocks as u64, 256),
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

/// Whether `bn_relu_max_pool2d` takes x: f32 [N, C, H, W] with H, W ≥ 2, in a buffer of
/// whole vec4s (its vec4 loads bind the whole buffer).
pub fn bn_relu_pool_ok(x: &Tensor) -> bool {
    matches!(*x.shape(), [_, _, h, w] if h >= 2 && w >= 2)
        && x.dtype() == DType::F32
        && x.buffer().size().is_multiple_of(16)
}
