//! Fisher loss (Zhang et al. 2020) on labelled source features h [B, d] with class centres
//! c [K, d]: only the traces of the scatter matrices are needed,
//! tr(S_w) = Σ_i ‖h_i − c_{y_i}‖² and tr(S_b) = Σ_k ‖c_k − c̄‖². tidal's default averages
//! the first over the batch and the second over the classes; the reference code sums both
//! (and clamps each ‖h_i − c‖² to [1e-12, 1e12]), which weighs the intra term B/K times
//! more against the inter term.
//!
//! Centres are either learnable parameters (give them to the optimizer, with their own
//! learning-rate multiplier) or a plain tensor moved towards the batch class means by
//! `update_centres`; every class always has a centre, so classes missing from a batch
//! cause no NaN.

use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FisherForm {
    /// intra·tr(S_w) / (inter·tr(S_b) + 1e-6)
    #[serde(alias = "TraceRatio")]
    TraceRatio,
    /// intra·tr(S_w) − inter·tr(S_b)
    #[serde(alias = "TraceDifference")]
    TraceDifference,
}

/// How the two traces are normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FisherNorm {
    /// tr(S_w)/B and tr(S_b)/K; the ratio's denominator gets + 1e-6.
    #[default]
    PerSample,
    /// The reference code: Σ_i clamp(‖h_i − c_{y_i}‖², 1e-12, 1e12) and Σ_k ‖c_k − c̄‖²,
    /// summed, not averaged; the ratio has no ε.
    Published,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FisherConfig {
    pub form: FisherForm,
    /// Reference weights: intra 0.01, inter 1.0.
    pub intra: f32,
    pub inter: f32,
    pub norm: FisherNorm,
}

impl Default for FisherConfig {
    fn default() -> Self {
        FisherConfig {
            form: FisherForm::TraceDifference,
            intra: 0.01,
            inter: 1.0,
            norm: FisherNorm::PerSample,
        }
    }
}

fn check(h: &Tensor, labels: &Tensor, centres: &Tensor) -> Result<()> {
    if h.dims() != 2
        || centres.dims() != 2
        || h.shape()[1] != centres.shape()[1]
        || labels.shape() != [h.shape()[0]]
    {
        return Err(Error::Shape {
            op: "fisher",
            detail: format!(
                "features {:?}, labels {:?}, centres {:?} (want [B, d], [B], [K, d])",
                h.shape(),
                labels.shape(),
                centres.shape()
            ),
        });
    }
    Ok(())
}

/// (tr(S_w), tr(S_b)) as scalars on the tape: (/B, /K) per sample, or the published sums.
pub fn scatter_traces(
    h: &Tensor,
    labels: &Tensor,
    centres: &Tensor,
    norm: FisherNorm,
) -> Result<(Tensor, Tensor)> {
    check(h, labels, centres)?;
    let b = h.shape()[0] as f32;
    let k = centres.shape()[0] as f32;
    let sq = h.sub(&centres.gather_rows(labels)?)?.square()?;
    let between = centres.sub(&centres.mean_axis(0, true)?)?.square()?.sum()?;
    Ok(match norm {
        FisherNorm::PerSample => (sq.sum()?.scale(1.0 / b)?, between.scale(1.0 / k)?),
        FisherNorm::Published => (sq.sum_axis(1, false)?.clamp(1e-12, 1e12)?.sum()?, between),
    })
}

pub fn fisher_loss(
    h: &Tensor,
    labels: &Tensor,
    centres: &Tensor,
    cfg: &FisherConfig,
) -> Result<Tensor> {
    let (within, between) = scatter_traces(h, labels, centres, cfg.norm)?;
    let w = within.scale(cfg.intra)?;
    let bt = between.scale(cfg.inter)?;
    match (cfg.form, cfg.norm) {
        (FisherForm::TraceRatio, FisherNorm::PerSample) => w.div(&bt.add_scalar(1e-6)?),
        (FisherForm::TraceRatio, FisherNorm::Published) => w.div(&bt),
        (FisherForm::TraceDifference, _) => w.sub(&bt),
    }
}

/// Moving-average centre update, in place: c_k += alpha·(mean of the batch's class-k
/// features − c_k) for every class present in the batch; absent classes keep their centre.
pub fn update_centres(centres: &Tensor, h: &Tensor, labels: &Tensor, alpha: f32) -> Result<()> {
    check(h, labels, centres)?;
    no_grad(|| {
        let k = centres.shape()[0];
        let onehot = labels.one_hot(k)?; // [B, K]
        let sums = onehot.matmul_t(&h.detach(), true, false)?; // [K, d]
        let counts = onehot.sum_axis(0, false)?.reshape(&[k, 1])?;
        let means = sums.div(&counts.clamp(1.0, f32::MAX)?)?;
        let present = counts.clamp(0.0, 1.0)?; // counts are whole numbers
        let c = centres.detach();
        let next = c.add(&means.sub(&c)?.mul(&present)?.scale(alpha)?)?;
        centres
            .ctx()
            .copy(next.buffer(), 0, centres.buffer(), 0, centres.bytes());
        Ok(())
    })
}
