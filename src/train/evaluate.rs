//! The one evaluation loop: a model in eval mode over images in batches of 256, reading
//! back merger probabilities (and, when asked, the transfer-loss features). `train`
//! (validation, test), `eval`, the diagnostics and the selection scores all go through it.

use crate::autograd::no_grad;
use crate::data::{self, Dataset};
use crate::error::Result;
use crate::gpu::Context;
use crate::models::Classifier;
use crate::ops::softmax::softmax;
use crate::tensor::Tensor;
use std::rc::Rc;

/// Merger probabilities and transfer-loss features of some images (eval mode).
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub probs: Vec<f32>,
    /// Logit of merger minus logit of non-merger, when asked for (for temperature scaling).
    pub margins: Vec<f32>,
    /// Row-major, `probs.len()` rows of `dim`.
    pub feats: Vec<f32>,
    pub dim: usize,
}

impl Features {
    pub fn rows(&self) -> usize {
        self.probs.len()
    }
    pub(super) fn row(&self, i: usize) -> &[f32] {
        &self.feats[i * self.dim..(i + 1) * self.dim]
    }
    /// At most `n` rows, evenly spread over the set (all of them when there are fewer).
    pub fn spread(&self, n: usize) -> Features {
        let idx = super::diagnostics::spread(&(0..self.rows()).collect::<Vec<_>>(), n);
        Features {
            probs: idx.iter().map(|&i| self.probs[i]).collect(),
            margins: idx
                .iter()
                .filter_map(|&i| self.margins.get(i).copied())
                .collect(),
            feats: idx
                .iter()
                .flat_map(|&i| self.row(i).iter().copied())
                .collect(),
            dim: self.dim,
        }
    }
    /// Rows whose index satisfies `keep`, as a flat buffer.
    pub(super) fn select(&self, keep: impl Fn(usize) -> bool) -> Vec<f32> {
        (0..self.rows())
            .filter(|&i| keep(i))
            .flat_map(|i| self.row(i).iter().copied())
            .collect()
    }
}

/// Merger probabilities of `indices` (eval mode, batches of 256).
pub fn predict(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    data: &Dataset,
    indices: &[usize],
) -> Result<Vec<f32>> {
    Ok(eval_batches(model, ctx, data, indices, Keep::Probs)?.probs)
}

/// Merger probabilities and logit margins of `indices` (for calibration).
pub fn predict_margins(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    data: &Dataset,
    indices: &[usize],
) -> Result<Features> {
    eval_batches(model, ctx, data, indices, Keep::Margins)
}

/// Runs `model` in eval mode over `indices` in batches of 256, keeping probabilities and
/// features (one bulk readback per batch).
pub fn predict_features(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    data: &Dataset,
    indices: &[usize],
) -> Result<Features> {
    eval_batches(model, ctx, data, indices, Keep::Features)
}

/// What an evaluation reads back besides the probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Probs,
    Margins,
    Features,
}

/// One batch of images (host values, [n, c, h, w]) through the model in eval mode (call
/// inside `no_grad`): appends its merger probabilities, and margins or features as asked.
pub fn eval_batch(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    images: &[f32],
    shape: [usize; 4],
    keep: Keep,
    out: &mut Features,
) -> Result<()> {
    let x = Tensor::from_slice(ctx, images, &shape)?;
    let o = model.run(&x)?;
    let p = softmax(&o.logits)?;
    match keep {
        Keep::Features => {
            let v = Tensor::read_all(&[&p, &o.features])?;
            out.probs.extend(v[0].chunks(2).map(|r| r[1]));
            out.feats.extend_from_slice(&v[1]);
        }
        Keep::Margins => {
            let v = Tensor::read_all(&[&p, &o.logits])?;
            out.probs.extend(v[0].chunks(2).map(|r| r[1]));
            out.margins.extend(v[1].chunks(2).map(|r| r[1] - r[0]));
        }
        Keep::Probs => out.probs.extend(p.to_vec()?.chunks(2).map(|r| r[1])),
    }
    Ok(())
}

/// Eval-mode merger probabilities, with margins or features as `keep` says (plain
/// prediction reads back two floats per image).
fn eval_batches(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    data: &Dataset,
    indices: &[usize],
    keep: Keep,
) -> Result<Features> {
    model.module().set_training(false);
    let mut out = Features {
        dim: model.feature_dim(),
        ..Features::default()
    };
    let mut buf = Vec::new();
    no_grad(|| -> Result<()> {
        for chunk in data::batches(indices, 256) {
            data.gather_images(chunk, None, &mut buf);
            let shape = [chunk.len(), data.c, data.h, data.w];
            eval_batch(model, ctx, &buf, shape, keep, &mut out)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// The labels of `indices` (empty when the data has none).
pub fn labels_of(data: &Dataset, indices: &[usize]) -> Vec<u32> {
    data.gather_labels(indices).unwrap_or_default()
}

/// Mean cross-entropy of merger probabilities against labels (host side, for validation).
pub fn nll(p: &[f32], y: &[u32]) -> f64 {
    let eps = 1e-7f64;
    p.iter()
        .zip(y)
        .map(|(&pi, &yi)| {
            -(if yi == 1 { pi as f64 } else { 1.0 - pi as f64 })
                .max(eps)
                .ln()
        })
        .sum::<f64>()
        / p.len().max(1) as f64
}
