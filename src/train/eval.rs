//! `tidal eval`: a checkpoint's predictions and metrics on any image file.

use super::{build_model, checkpoint, metrics, predict, ModelKind};
use crate::data::{self, split::Normalisation};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::models::Classifier;
use crate::tensor::create::Rng;
use metrics::Metrics;
use std::path::Path;
use std::rc::Rc;

pub struct EvalSummary {
    pub n: usize,
    pub metrics: Option<Metrics>,
}

/// The model stored in a checkpoint, and the normalisation (`source` or `target`
/// statistics of its training run) to apply to images before it sees them.
pub fn load_model(
    ctx: &Rc<Context>,
    ckpt: &Path,
    norm: &str,
) -> Result<(Box<dyn Classifier>, Normalisation)> {
    let loaded = checkpoint::load(ckpt)?;
    let bad = |what: &str| {
        Error::Invalid(format!(
            "{}: checkpoint metadata lacks {what}",
            ckpt.display()
        ))
    };
    let model_kind = match loaded.metadata.get("model").map(String::as_str) {
        Some("deepmerge") => ModelKind::DeepMerge,
        Some("resnet18") => ModelKind::ResNet18,
        _ => return Err(bad("a known model")),
    };
    let norms: serde_json::Value = serde_json::from_str(
        loaded
            .metadata
            .get("normalisation")
            .ok_or_else(|| bad("normalisation"))?,
    )
    .map_err(|e| Error::Invalid(format!("{}: normalisation: {e}", ckpt.display())))?;
    let which = match norm {
        "source" | "target" => norm,
        other => {
            return Err(Error::Invalid(format!(
                "--norm must be source or target, got '{other}'"
            )))
        }
    };
    let norm: Normalisation = serde_json::from_value(norms[which].clone())
        .map_err(|e| Error::Invalid(format!("{}: normalisation: {e}", ckpt.display())))?;
    let model = build_model(model_kind, ctx, &mut Rng::new(0))?;
    let mut state = Vec::new();
    model.module().named_state("", &mut state);
    checkpoint::restore(&loaded, &state, ckpt)?;
    Ok((model, norm))
}

pub fn evaluate(
    ctx: &Rc<Context>,
    ckpt: &Path,
    images: &Path,
    labels: Option<&Path>,
    norm: &str,
    predictions: &Path,
) -> Result<EvalSummary> {
    let (model, norm) = load_model(ctx, ckpt, norm)?;
    let mut ds = data::load(images, labels)?;
    ds.normalise(&norm);
    let all: Vec<usize> = (0..ds.n).collect();
    let p = predict(model.as_ref(), ctx, &ds, &all)?;
    let y = ds.gather_labels(&all);
    let mut csv = String::from("index,p_merger,predicted,label\n");
    for (i, &pi) in p.iter().enumerate() {
        let label = y.as_ref().map(|l| l[i].to_string()).unwrap_or_default();
        csv.push_str(&format!("{i},{pi:.6},{},{label}\n", (pi >= 0.5) as u8));
    }
    checkpoint::write_atomic(predictions, csv.as_bytes())?;
    Ok(EvalSummary {
        n: ds.n,
        metrics: y.map(|y| metrics::compute(&p, &y)),
    })
}
