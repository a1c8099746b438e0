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

/// Which per-channel normalisation to apply to images before the model sees them.
#[derive(Debug, Clone, PartialEq)]
pub enum NormChoice {
    /// The source (or target) statistics stored with the checkpoint's training run.
    Source,
    Target,
    /// Statistics computed over the images being evaluated.
    Input,
    /// A JSON file `{"mean": [..], "std": [..]}`.
    File(std::path::PathBuf),
}

impl std::str::FromStr for NormChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<NormChoice> {
        Ok(match s {
            "source" => NormChoice::Source,
            "target" => NormChoice::Target,
            "input" => NormChoice::Input,
            p if p.ends_with(".json") => NormChoice::File(p.into()),
            other => {
                return Err(Error::Invalid(format!(
                    "--norm must be source, target, input or a .json file, got '{other}'"
                )))
            }
        })
    }
}

/// A model loaded from a checkpoint, with the normalisations its run stored (none for a
/// file written by PyTorch).
pub struct LoadedModel {
    pub model: Box<dyn Classifier>,
    pub kind: ModelKind,
    stored: Option<serde_json::Value>,
    path: std::path::PathBuf,
}

impl LoadedModel {
    /// The normalisation `choice` names, for images `data`.
    pub fn normalisation(
        &self,
        choice: &NormChoice,
        data: &data::Dataset,
    ) -> Result<Normalisation> {
        let which = match choice {
            NormChoice::Input => {
                let all: Vec<usize> = (0..data.n).collect();
                return Ok(Normalisation::compute(data, &all));
            }
            NormChoice::File(p) => return Normalisation::load(p),
            NormChoice::Source => "source",
            NormChoice::Target => "target",
        };
        let bad = |reason: String| Error::Checkpoint {
            path: self.path.display().to_string(),
            key: "normalisation".into(),
            reason,
        };
        let stored = self.stored.as_ref().ok_or_else(|| {
            bad(
                "absent (not written by tidal `train`); pass --norm input or --norm FILE.json"
                    .into(),
            )
        })?;
        serde_json::from_value(stored[which].clone()).map_err(|e| bad(format!("{which}: {e}")))
    }
}

/// Which architecture a checkpoint holds: its metadata says, or (files written by PyTorch)
/// its tensor names do.
pub fn model_kind(loaded: &checkpoint::Loaded, ckpt: &Path) -> Result<ModelKind> {
    match loaded.metadata.get("model").map(String::as_str) {
        Some("deepmerge") => return Ok(ModelKind::DeepMerge),
        Some("resnet18") => return Ok(ModelKind::ResNet18),
        _ => {}
    }
    let has = |k: &str| loaded.tensors.contains_key(k);
    if has("batchn1.weight") && has("fc3.weight") {
        Ok(ModelKind::DeepMerge)
    } else if has("layer1.0.conv1.weight") && has("bottleneck.weight") {
        Ok(ModelKind::ResNet18)
    } else {
        Err(Error::Checkpoint {
            path: ckpt.display().to_string(),
            key: "model".into(),
            reason: "neither DeepMerge (batchn1.*, fc3.*) nor ResNet18 (layer1.0.*, bottleneck.*) tensors".into(),
        })
    }
}

/// The model stored in a checkpoint written by tidal or by PyTorch (`state_dict` names,
/// `num_batches_tracked` kept).
pub fn load_model(ctx: &Rc<Context>, ckpt: &Path) -> Result<LoadedModel> {
    let loaded = checkpoint::load(ckpt)?;
    let kind = model_kind(&loaded, ckpt)?;
    let stored = match loaded.metadata.get("normalisation") {
        Some(text) => Some(serde_json::from_str(text).map_err(|e| Error::Checkpoint {
            path: ckpt.display().to_string(),
            key: "normalisation".into(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let model = build_model(kind, ctx, &mut Rng::new(0))?;
    let mut state = Vec::new();
    model.module().named_state("", &mut state);
    checkpoint::restore(&loaded, &state, ckpt)?;
    let mut counters = Vec::new();
    model.module().named_counters("", &mut counters);
    checkpoint::restore_counters(&loaded, &counters);
    Ok(LoadedModel {
        model,
        kind,
        stored,
        path: ckpt.to_path_buf(),
    })
}

pub fn evaluate(
    ctx: &Rc<Context>,
    ckpt: &Path,
    images: &Path,
    labels: Option<&Path>,
    norm: &NormChoice,
    predictions: &Path,
) -> Result<EvalSummary> {
    let loaded = load_model(ctx, ckpt)?;
    let mut ds = data::load(images, labels)?;
    let norm = loaded.normalisation(norm, &ds)?;
    ds.normalise(&norm);
    let all: Vec<usize> = (0..ds.n).collect();
    let p = predict(loaded.model.as_ref(), ctx, &ds, &all)?;
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
