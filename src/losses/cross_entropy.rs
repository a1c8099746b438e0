//! Cross-entropy over softmax, binary cross-entropy with logits, and DANN's domain loss
//! built on the latter. Each is one tape op: a
//! fused forward kernel writes the per-row (per-element) losses, a fixed-order reduction
//! takes their (weighted) mean, and a fused backward kernel writes the logits' gradient
//! (shaders/cross_entropy.wgsl). Only the logits get a gradient; labels, targets and weights are
//! treated as constants.

use crate::autograd::{make, no_grad};
use crate::error::{Error, Result};
use crate::gpu::Params;
use crate::gpu::{grid_1d, Context};
use crate::ops::{same_ctx, storage};
use crate::tensor::{DType, Tensor};

fn expect_shape(op: &'static str, what: &str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.shape() != shape {
        return Err(Error::Shape {
            op,
            detail: format!("{what} must have shape {shape:?}, got {:?}", t.shape()),
        });
    }
    Ok(())
}

fn check_weights(
    op: &'static str,
    logits: &Tensor,
    w: Option<&Tensor>,
    shape: &[usize],
) -> Result<()> {
    if let Some(w) = w {
        same_ctx(op, logits, w)?;
        w.expect_dtype(op, DType::F32)?;
        expect_shape(op, "weights", w, shape)?;
    }
    Ok(())
}

/// Mean of `items`, or Σ items / Σ w when weighted (items already hold w·loss); also returns
/// Σ w, which the backward divides by. Both reductions are fixed-order.
/// Dispatches `cross_entropy::entries[0]`, or, when `weighted` is not empty, `entries[1]` (the
/// weighted twin) with the weight buffers bound between `lead` and `tail`, which is where
/// every weighted entry point takes them in binding order.
fn dispatch_maybe_weighted(
    ctx: &Context,
    entries: [&'static str; 2],
    p: &Params,
    groups: [u32; 3],
    lead: &[&wgpu::Buffer],
    weighted: &[&wgpu::Buffer],
    tail: &[&wgpu::Buffer],
) -> Result<()> {
    let entry = entries[usize::from(!weighted.is_empty())];
    let kern = ctx.kernel("cross_entropy", entry, &[])?;
    let bufs: Vec<&wgpu::Buffer> = lead.iter().chain(weighted).chain(tail).copied().collect();
    ctx.dispatch(&kern, p.bytes(), &bufs, groups)
}

/// The (weighted) mean of per-item losses, and for a weighted loss the detached weights
/// and their sum, which the backward binds in that order.
fn batch_mean(items: &Tensor, weights: Option<&Tensor>) -> Result<(Tensor, Option<[Tensor; 2]>)> {
    no_grad(|| match weights {
        None => Ok((items.mean()?, None)),
        Some(w) => {
            let wsum = w.sum()?;
            Ok((items.sum()?.div(&wsum)?, Some([w.detach(), wsum])))
        }
    })
}

/// Mean over the batch of −log softmax(logits)[label]; logits [B, K] f32, labels [B] u32.
/// With weights [B]: Σ w_i·loss_i / Σ w_i (PyTorch's weighted mean). Fused forward (one kernel
/// computes per-row loss and also writes the softmax needed by the backward) and fused backward
/// (grad logits = (softmax − onehot)·w_i/Σw · upstream). Result shape [] (scalar).
///
/// Labels live on the GPU, so they are checked there: a label outside [0, K) makes its row's
/// loss, and so the result, NaN.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor, weights: Option<&Tensor>) -> Result<Tensor> {
    let (probs, rows, p) = cross_entropy_rows(logits, labels, weights)?;
    let (b, k) = (logits.shape()[0], logits.shape()[1]);
    let (loss, weighting) = batch_mean(&rows, weights)?;

    let labels = labels.detach();
    Ok(make(
        storage(&loss),
        Vec::new(),
        DType::F32,
        "cross_entropy",
        &[logits],
        move |g| {
            let ctx = probs.ctx();
            let dx = Tensor::empty(ctx, &[b, k], DType::F32)?;
            let groups = grid_1d((b * k) as u64, 64);
            let w: Vec<_> = weighting.iter().flatten().map(Tensor::buffer).collect();
            dispatch_maybe_weighted(
                ctx,
                ["cross_entropy_bwd", "cross_entropy_bwd_weighted"],
                &p,
                groups,
                &[probs.buffer(), g.buffer(), labels.buffer()],
                &w,
                &[dx.buffer()],
            )?;
            Ok(vec![Some(dx)])
        },
    ))
}

/// Per-sample cross-entropy, PyTorch's `reduction = "none"`: [B] losses −log softmax(logits)[label]
/// on the tape, each row's gradient (softmax − onehot)·g_i.
pub fn cross_entropy_per_sample(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let (probs, rows, p) = cross_entropy_rows(logits, labels, None)?;
    let (b, k) = (logits.shape()[0], logits.shape()[1]);
    let labels = labels.detach();
    Ok(make(
        storage(&rows),
        vec![b],
        DType::F32,
        "cross_entropy",
        &[logits],
        move |g| {
            let ctx = probs.ctx();
            let dx = Tensor::empty(ctx, &[b, k], DType::F32)?;
            let kern = ctx.kernel("cross_entropy", "cross_entropy_bwd_rows", &[])?;
            ctx.dispatch(
                &kern,
                p.bytes(),
                &[probs.buffer(), g.buffer(), labels.buffer(), dx.buffer()],
                grid_1d((b * k) as u64, 64),
            )?;
            Ok(vec![Some(dx)])
        },
    ))
}

/// The fused forward: softmax [B, K] (saved for the backward), per-row (weighted) losses
/// [B], and the parameter block both passes use.
fn cross_entropy_rows(
    logits: &Tensor,
    labels: &Tensor,
    weights: Option<&Tensor>,
) -> Result<(Tensor, Tensor, Params)> {
    const OP: &str = "cross_entropy";
    logits.expect_dtype(OP, DType::F32)?;
    labels.expect_dtype(OP, DType::U32)?;
    same_ctx(OP, logits, labels)?;
    let &[b, k] = logits.shape() else {
        return Err(Error::Shape {
            op: OP,
            detail: format!("logits must be [batch, classes], got {:?}", logits.shape()),
        });
    };
    expect_shape(OP, "labels", labels, &[b])?;
    check_weights(OP, logits, weights, &[b])?;

    let ctx = logits.ctx();
    let probs = Tensor::empty(ctx, &[b, k], DType::F32)?;
    let rows = Tensor::empty(ctx, &[b], DType::F32)?;
    let p = Params::new()
        .u32(b as u32)
        .u32(k as u32)
        .f32(1.0 / b as f32)
        .u32(0);
    dispatch_maybe_weighted(
        ctx,
        ["cross_entropy_fwd", "cross_entropy_fwd_weighted"],
        &p,
        grid_1d(b as u64, 64),
        &[logits.buffer(), labels.buffer()],
        &weights.map(|w| w.buffer()).into_iter().collect::<Vec<_>>(),
        &[probs.buffer(), rows.buffer()],
    )?;
    Ok((probs, rows, p))
}

/// Mean of max(z,0) − z·t + log(1 + exp(−|z|)) (stable); logits and targets same shape (f32).
/// Optional per-element weights as PyTorch's `weight`: the plain mean of w·loss (not divided
/// by Σw, unlike cross-entropy's class weights). Backward: (sigmoid(z) − t)·w/n.
pub fn binary_cross_entropy_with_logits(
    logits: &Tensor,
    targets: &Tensor,
    weights: Option<&Tensor>,
) -> Result<Tensor> {
    const OP: &str = "binary_cross_entropy_with_logits";
    logits.expect_dtype(OP, DType::F32)?;
    targets.expect_dtype(OP, DType::F32)?;
    same_ctx(OP, logits, targets)?;
    expect_shape(OP, "targets", targets, logits.shape())?;
    check_weights(OP, logits, weights, logits.shape())?;

    let ctx = logits.ctx();
    let n = logits.numel();
    let items = Tensor::empty(ctx, logits.shape(), DType::F32)?;
    let p = Params::new()
        .u32(1)
        .u32(n as u32)
        .f32(1.0 / n as f32)
        .u32(0);
    let groups = grid_1d(n as u64, 64);
    dispatch_maybe_weighted(
        ctx,
        ["bce_logits_fwd", "bce_logits_fwd_weighted"],
        &p,
        groups,
        &[logits.buffer()],
        &weights.map(|w| w.buffer()).into_iter().collect::<Vec<_>>(),
        &[targets.buffer(), items.buffer()],
    )?;
    let loss = no_grad(|| items.mean())?;
    let weighting = weights.map(Tensor::detach);

    let (z, t) = (logits.detach(), targets.detach());
    Ok(make(
        storage(&loss),
        Vec::new(),
        DType::F32,
        OP,
        &[logits],
        move |g| {
            let ctx = z.ctx();
            let dz = Tensor::empty(ctx, z.shape(), DType::F32)?;
            let w: Vec<_> = weighting.iter().map(Tensor::buffer).collect();
            dispatch_maybe_weighted(
                ctx,
                ["bce_logits_bwd", "bce_logits_bwd_weighted"],
                &p,
                groups,
                &[z.buffer(), g.buffer()],
                &w,
                &[t.buffer(), dz.buffer()],
            )?;
            Ok(vec![Some(dz)])
        },
    ))
}

/// The discriminator's binary loss with source = 1 and target = 0: mean BCE over the
/// concatenated domain logits ([n] or [n, 1] each).
pub fn domain_loss(source_logits: &Tensor, target_logits: &Tensor) -> Result<Tensor> {
    let ctx = source_logits.ctx();
    let logits = Tensor::concat(&[source_logits, target_logits])?;
    let (n, m) = (source_logits.shape()[0], target_logits.shape()[0]);
    let tail: usize = logits.shape()[1..].iter().product();
    let mut t = vec![1.0f32; n * tail];
    t.extend(std::iter::repeat_n(0.0, m * tail));
    let targets = Tensor::from_slice(ctx, &t, logits.shape())?;
    binary_cross_entropy_with_logits(&logits, &targets, None)
}
