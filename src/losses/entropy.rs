//! Entropy minimisation on the softmax outputs of a batch.

use crate::error::Result;
use crate::ops::softmax::log_softmax;
use crate::tensor::Tensor;

/// Which entropy sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntropyForm {
    /// Every probability contributes (p·log p → 0 as p → 0).
    #[default]
    Exact,
    /// The reference code's: probabilities below 1e-6 are dropped from the sum, so they get
    /// no gradient of their own.
    Published,
}

/// Probabilities below this are masked out by the published entropy.
pub const PUBLISHED_ENTROPY_FLOOR: f32 = 1e-6;

/// Ω = −(1/B) Σ_j Σ_k p_jk log p_jk of softmax(logits) [B, K]. Computed from log-softmax,
/// so probabilities near 0 contribute p·log p → 0 without a log(0); the published form
/// sums only the entries with p ≥ 1e-6.
pub fn entropy(logits: &Tensor, form: EntropyForm) -> Result<Tensor> {
    let logp = log_softmax(logits)?;
    let b = logits.shape()[0] as f32;
    let plogp = logp.exp()?.mul(&logp)?;
    let terms = match form {
        EntropyForm::Exact => plogp,
        EntropyForm::Published => {
            // The mask is a constant: at_least has no gradient.
            let keep = logp.detach().exp()?.at_least(PUBLISHED_ENTROPY_FLOOR)?;
            plogp.mul(&keep)?
        }
    };
    terms.sum()?.scale(-1.0 / b)
}
