//! The foundation's end-to-end demo: an MLP learns two interleaved spirals with the tape
//! and plain SGD, one submission per step. `tidal train` runs it until the galaxy trainer
//! (model zoo, data, domain adaptation) lands; the kernels-tests run it as a property test.

use crate::autograd::no_grad;
use crate::error::Result;
use crate::gpu::Context;
use crate::ops::random::Rng;
use crate::tensor::Tensor;
use std::rc::Rc;

/// Two spirals of `n_per_class` points each: (inputs [2n, 2], one-hot [2n, 2], labels).
pub fn spirals(n_per_class: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let noise: Vec<f32> = rng
        .cpu_words(4 * n_per_class)
        .iter()
        .map(|w| (w >> 8) as f32 / 16777216.0 * 2.0 - 1.0)
        .collect();
    let (mut x, mut onehot, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for class in 0..2u32 {
        for i in 0..n_per_class {
            let t = i as f32 / n_per_class as f32;
            let r = 0.1 + 0.9 * t;
            let a = 3.0 * std::f32::consts::PI * t + class as f32 * std::f32::consts::PI;
            let j = (class as usize * n_per_class + i) * 2;
            x.push(r * a.cos() + 0.02 * noise[j]);
            x.push(r * a.sin() + 0.02 * noise[j + 1]);
            onehot.extend(if class == 0 { [1.0, 0.0] } else { [0.0, 1.0] });
            labels.push(class);
        }
    }
    (x, onehot, labels)
}

/// Mean cross-entropy of softmax(logits) against one-hot targets, composed from tape ops.
pub fn cross_entropy(logits: &Tensor, onehot: &Tensor) -> Result<Tensor> {
    let m = logits.max_axis(1, true)?.detach();
    let z = logits.sub(&m)?;
    let lse = z.exp()?.sum_axis(1, true)?.log()?;
    z.sub(&lse)?
        .mul(onehot)?
        .sum()?
        .scale(-1.0 / logits.shape()[0] as f32)
}

#[derive(Debug, Clone)]
pub struct SpiralsConfig {
    pub n_per_class: usize,
    pub hidden: usize,
    pub steps: usize,
    pub lr: f32,
    pub seed: u64,
}

impl Default for SpiralsConfig {
    fn default() -> Self {
        SpiralsConfig {
            n_per_class: 200,
            hidden: 64,
            steps: 800,
            lr: 0.5,
            seed: 1234,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SpiralsReport {
    /// (step, loss) read back at logging intervals.
    pub losses: Vec<(usize, f32)>,
    pub accuracy: f32,
    /// Largest number of submissions any one step made (forward + backward + update).
    pub max_submits_per_step: u64,
    pub dispatches_per_step: u64,
    /// Buffers allocated after warm-up (the first logging cycle); the pool makes this 0.
    pub allocations_after_warmup: u64,
}

/// Trains the 2 → hidden → hidden → 2 tanh MLP; `log(step, loss)` runs at each readback.
pub fn train_spirals(
    ctx: &Rc<Context>,
    cfg: &SpiralsConfig,
    mut log: impl FnMut(usize, f32),
) -> Result<SpiralsReport> {
    let n = cfg.n_per_class;
    let (xs, oh, labels) = spirals(n, cfg.seed);
    let x = Tensor::from_slice(ctx, &xs, &[2 * n, 2])?;
    let y = Tensor::from_slice(ctx, &oh, &[2 * n, 2])?;
    let mut rng = Rng::new(cfg.seed);
    let dims = [2usize, cfg.hidden, cfg.hidden, 2];
    let mut params = Vec::new();
    for w in dims.windows(2) {
        // He-style normal init from the seeded GPU generator.
        let std = (2.0 / w[0] as f32).sqrt();
        params.push(rng.normal(ctx, &[w[0], w[1]], 0.0, std)?.requires_grad_());
        params.push(Tensor::zeros(ctx, &[w[1]])?.requires_grad_());
    }
    let forward = |params: &[Tensor]| -> Result<Tensor> {
        let mut h = x.clone();
        for (i, wb) in params.chunks(2).enumerate() {
            h = h.matmul(&wb[0])?.add(&wb[1])?;
            if i + 1 < params.len() / 2 {
                h = h.tanh()?;
            }
        }
        Ok(h)
    };
    let mut report = SpiralsReport {
        losses: Vec::new(),
        accuracy: 0.0,
        max_submits_per_step: 0,
        dispatches_per_step: 0,
        allocations_after_warmup: 0,
    };
    let log_every = (cfg.steps / 20).max(1);
    let mut pending_loss = None;
    let mut allocs_at_warmup = 0;
    for step in 0..cfg.steps {
        ctx.submit();
        let before = ctx.stats();
        if step == log_every + 2 {
            allocs_at_warmup = before.buffer_allocations;
        }
        for p in &params {
            p.zero_grad();
        }
        let loss = cross_entropy(&forward(&params)?, &y)?;
        loss.backward()?;
        for p in &params {
            p.add_scaled_(&p.grad().expect("every parameter gets a gradient"), -cfg.lr)?;
        }
        ctx.submit();
        let after = ctx.stats();
        report.max_submits_per_step = report
            .max_submits_per_step
            .max(after.submits - before.submits);
        report.dispatches_per_step = after.dispatches - before.dispatches;
        // Read the previous logged loss now, so the readback never splits a step.
        if let Some((s, l)) = pending_loss.take() {
            let v = Tensor::item(&l)?;
            report.losses.push((s, v));
            log(s, v);
        }
        if step % log_every == 0 || step + 1 == cfg.steps {
            // Detached: holding the loss must not keep the whole tape (and its buffers) alive.
            pending_loss = Some((step, loss.detach()));
        }
    }
    if let Some((s, l)) = pending_loss.take() {
        let v = Tensor::item(&l)?;
        report.losses.push((s, v));
        log(s, v);
    }
    report.allocations_after_warmup = ctx
        .stats()
        .buffer_allocations
        .saturating_sub(allocs_at_warmup);
    let pred = no_grad(|| forward(&params)?.argmax_axis(1)?.to_vec_u32())?;
    report.accuracy =
        pred.iter().zip(&labels).filter(|(p, l)| p == l).count() as f32 / labels.len() as f32;
    Ok(report)
}
