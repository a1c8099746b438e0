//! What transferred, in numbers: features of held-out images, the MMD between source and
//! target features at fixed bandwidths (comparable across epochs and runs), the proxy
//! A-distance from a small domain classifier, the unsupervised model-selection scores a
//! sweep ranks runs by (deep embedded validation, target prediction entropy), and the 2-D
//! t-SNE maps of the features. Everything numeric except t-SNE runs on the GPU through
//! tidal's own ops.

pub use super::evaluate::{predict_features, Features};
use crate::autograd::no_grad;
use crate::error::Result;
use crate::gpu::Context;
use crate::losses::binary_cross_entropy_with_logits;
use crate::losses::mmd::{mmd, MmdConfig};
use crate::optim::{Optimizer, ParamGroup, Rule};
use crate::report::metrics::nan_if_null;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Held-out domain shift of one epoch, logged in `metrics.jsonl` as `shift`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Shift {
    /// Unbiased MMD² between source and target validation features with the reference
    /// preset's 19 fixed bandwidths.
    #[serde(deserialize_with = "nan_if_null")]
    pub heldout_mmd: f64,
    /// 2 (1 − 2ε), ε the test error of a domain classifier on the features: 0 when the
    /// domains are indistinguishable, 2 when they separate perfectly.
    #[serde(deserialize_with = "nan_if_null")]
    pub proxy_a_distance: f64,
}

/// Unbiased MMD² between two feature sets at the reference preset's fixed bandwidths.
pub fn heldout_mmd(ctx: &Rc<Context>, a: &Features, b: &Features) -> Result<f64> {
    if a.rows() == 0 || b.rows() == 0 {
        return Ok(f64::NAN);
    }
    no_grad(|| {
        let x = Tensor::from_slice(ctx, &a.feats, &[a.rows(), a.dim])?;
        let y = Tensor::from_slice(ctx, &b.feats, &[b.rows(), b.dim])?;
        // Unbiased, unclamped: the biased estimator's floor (up to (1/m + 1/n)·19 with 19
        // kernels: 0.13 at 300 + 300 images) would hide how much shift is left; this one is
        // 0 in expectation without shift and may dip slightly below.
        let cfg = MmdConfig {
            clamp_min: None,
            estimator: crate::losses::mmd::Estimator::Unbiased,
            ..MmdConfig::reference()
        };
        Ok(mmd(&x, &y, &cfg)?.to_vec()?[0] as f64)
    })
}

/// An L2-regularised logistic regression telling target (1) from source (0) features,
/// fitted on the GPU with Adam on standardised features.
pub struct DomainClassifier {
    w: Tensor,
    b: Tensor,
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl DomainClassifier {
    /// Fits on `source` and `target` rows of `dim` features (full batch, 150 steps).
    pub fn fit(ctx: &Rc<Context>, source: &[f32], target: &[f32], dim: usize) -> Result<Self> {
        let (ns, nt) = (source.len() / dim, target.len() / dim);
        let n = ns + nt;
        let mut mean = vec![0f64; dim];
        let mut sq = vec![0f64; dim];
        for row in source.chunks(dim).chain(target.chunks(dim)) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += v as f64;
                sq[j] += (v as f64) * (v as f64);
            }
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
        let scale: Vec<f32> = sq
            .iter()
            .zip(&mean)
            .map(|(s, &m)| {
                let var = s / n.max(1) as f64 - (m as f64) * (m as f64);
                // Constant features (dead ReLUs) carry no information: scale them to zero.
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mut x = Vec::with_capacity(n * dim);
        x.extend_from_slice(source);
        x.extend_from_slice(target);
        standardise(&mut x, &mean, &scale);
        let y: Vec<f32> = (0..n).map(|i| if i < ns { 0.0 } else { 1.0 }).collect();
        let xt = Tensor::from_slice(ctx, &x, &[n, dim])?;
        let yt = Tensor::from_slice(ctx, &y, &[n, 1])?;
        let w = Tensor::zeros(ctx, &[dim, 1])?.requires_grad_();
        let b = Tensor::zeros(ctx, &[1])?.requires_grad_();
        // Features outnumber images, so a fully fitted classifier would always separate the
        // fitting half; the fixed budget of 150 steps from zero is the main regulariser (the
        // decoupled weight decay shrinks weights by only ~1.5% over it).
        let mut opt = Optimizer::new(
            Rule::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-2,
                amsgrad: false,
                decoupled: true,
            },
            vec![ParamGroup::new(vec![w.clone(), b.clone()])],
        )?;
        for _ in 0..150 {
            opt.zero_grad();
            let logits = xt.matmul(&w)?.add(&b)?;
            binary_cross_entropy_with_logits(&logits, &yt, None)?.backward()?;
            opt.step(1e-2)?;
            ctx.submit();
        }
        Ok(DomainClassifier { w, b, mean, scale })
    }

    /// Probability that each row of `x` is a target image.
    pub fn prob_target(&self, ctx: &Rc<Context>, x: &[f32]) -> Result<Vec<f32>> {
        let dim = self.mean.len();
        let n = x.len() / dim;
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut x = x.to_vec();
        standardise(&mut x, &self.mean, &self.scale);
        no_grad(|| {
            let xt = Tensor::from_slice(ctx, &x, &[n, dim])?;
            xt.matmul(&self.w)?.add(&self.b)?.sigmoid()?.to_vec()
        })
    }
}

fn standardise(x: &mut [f32], mean: &[f32], scale: &[f32]) {
    for row in x.chunks_mut(mean.len()) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(scale) {
            *v = (*v - m) * s;
        }
    }
}

/// Proxy A-distance: a domain classifier fitted on the even rows of each set and tested on
/// the odd rows; 2 (1 − 2ε), floored at 0.
pub fn proxy_a_distance(ctx: &Rc<Context>, s: &Features, t: &Features) -> Result<f64> {
    if s.rows() < 4 || t.rows() < 4 {
        return Ok(f64::NAN);
    }
    let clf = DomainClassifier::fit(
        ctx,
        &s.select(|i| i % 2 == 0),
        &t.select(|i| i % 2 == 0),
        s.dim,
    )?;
    let ps = clf.prob_target(ctx, &s.select(|i| i % 2 == 1))?;
    let pt = clf.prob_target(ctx, &t.select(|i| i % 2 == 1))?;
    let wrong = ps.iter().filter(|&&p| p >= 0.5).count() + pt.iter().filter(|&&p| p < 0.5).count();
    let err = wrong as f64 / (ps.len() + pt.len()) as f64;
    Ok((2.0 * (1.0 - 2.0 * err)).max(0.0))
}

/// Rows per domain the shift diagnostics use: the MMD's Gram matrices grow with the square.
pub const SHIFT_ROWS: usize = 1000;

/// Held-out MMD and proxy A-distance on up to `SHIFT_ROWS` rows per domain.
pub fn shift(ctx: &Rc<Context>, s: &Features, t: &Features) -> Result<Shift> {
    let (s, t) = (s.spread(SHIFT_ROWS), t.spread(SHIFT_ROWS));
    Ok(Shift {
        heldout_mmd: heldout_mmd(ctx, &s, &t)?,
        proxy_a_distance: proxy_a_distance(ctx, &s, &t)?,
    })
}

/// At most `n` of `v`, evenly spread (splits are sorted, so the first `n` could all come
/// from one end of a file ordered by class or catalogue).
pub fn spread(v: &[usize], n: usize) -> Vec<usize> {
    if v.len() <= n {
        return v.to_vec();
    }
    (0..n).map(|i| v[i * v.len() / n]).collect()
}

/// Deep embedded validation (You et al., 2019): the importance-weighted source validation
/// loss with a control variate. `weights` are density ratios p_t(x)/p_s(x) of the source
/// validation images, `losses` their per-image losses. Lower is better.
pub fn dev_risk(weights: &[f64], losses: &[f64]) -> f64 {
    let n = weights.len().min(losses.len());
    if n < 2 {
        return f64::NAN;
    }
    let wl: Vec<f64> = weights.iter().zip(losses).map(|(w, l)| w * l).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (m_wl, m_w) = (mean(&wl), mean(&weights[..n]));
    let cov = wl
        .iter()
        .zip(weights)
        .map(|(a, w)| (a - m_wl) * (w - m_w))
        .sum::<f64>()
        / (n - 1) as f64;
    let var = weights[..n].iter().map(|w| (w - m_w).powi(2)).sum::<f64>() / (n - 1) as f64;
    let eta = if var > 0.0 { -cov / var } else { 0.0 };
    m_wl + eta * m_w - eta
}

/// Mean binary entropy (nats) of merger probabilities: how undecided the model is.
pub fn mean_entropy(p: &[f32]) -> f64 {
    let h = |p: f64| {
        let p = p.clamp(1e-7, 1.0 - 1e-7);
        -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())
    };
    p.iter().map(|&x| h(x as f64)).sum::<f64>() / p.len().max(1) as f64
}

/// Importance weights of the source validation images from a domain classifier fitted on
/// source and target training features: p/(1−p)·(n_s/n_t), p clipped away from 0 and 1.
pub fn dev_weights(
    ctx: &Rc<Context>,
    s_train: &Features,
    t_train: &Features,
    s_val: &Features,
) -> Result<Vec<f64>> {
    let clf = DomainClassifier::fit(ctx, &s_train.feats, &t_train.feats, s_val.dim)?;
    let ratio = s_train.rows() as f64 / t_train.rows().max(1) as f64;
    Ok(clf
        .prob_target(ctx, &s_val.feats)?
        .iter()
        .map(|&p| {
            let p = (p as f64).clamp(1e-3, 1.0 - 1e-3);
            p / (1.0 - p) * ratio
        })
        .collect())
}

/// A 2-D t-SNE of feature rows (Barnes–Hut, perplexity 30, 1000 iterations), started from a
/// seeded small Gaussian (bhtsne's parallel sums may still differ in the last bits between
/// runs).
pub fn tsne(feats: &[f32], dim: usize, seed: u64) -> Vec<(f32, f32)> {
    let rows: Vec<&[f32]> = feats.chunks(dim).collect();
    let n = rows.len();
    // bhtsne needs n − 1 ≥ 3 · perplexity, and a perplexity below 2 means little.
    if n < 7 {
        return rows.iter().map(|_| (0.0, 0.0)).collect();
    }
    let mut rng = crate::data::rng::DataRng::new(seed);
    let init: Vec<f32> = (0..2 * n).map(|_| 1e-4 * rng.normal() as f32).collect();
    // Perplexity must stay below (n - 1) / 3 for the neighbour search.
    let perplexity = 30f32.min((n as f32 - 1.0) / 3.0).max(2.0);
    let mut t = bhtsne::tSNE::new(&rows);
    t.embedding_dim(2)
        .perplexity(perplexity)
        .epochs(1000)
        .initial_embedding(init)
        .barnes_hut(0.5, |a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt()
        });
    t.embedding().chunks(2).map(|p| (p[0], p[1])).collect()
}
