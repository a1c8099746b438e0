//! `tidal eval`: a checkpoint's predictions and metrics on any image file.

use super::checkpoint::{self, CheckpointMeta, Norms};
use super::ModelKind;
use crate::data::{self, split::Normalisation};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::models::Classifier;
use crate::ops::random::Rng;
use crate::report::metrics::{self, Metrics};
use std::path::Path;
use std::rc::Rc;

#[derive(Debug)]
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
                return Err(Error::config(
                    "--norm",
                    format!("expected source, target, input or a .json file, got '{other}'"),
                ))
            }
        })
    }
}

/// A model loaded from a checkpoint, with its run's metadata (none for a file written by
/// PyTorch).
pub struct LoadedModel {
    pub model: Box<dyn Classifier>,
    pub kind: ModelKind,
    /// Input channels the model takes.
    pub bands: usize,
    pub meta: Option<CheckpointMeta>,
    /// The temperature fitted at the end of its training (1 for older or PyTorch files).
    pub temperature: f64,
    path: std::path::PathBuf,
}

impl LoadedModel {
    /// The normalisation `choice` names, for images `data`.
    pub fn normalisation(
        &self,
        choice: &NormChoice,
        data: &data::Dataset,
    ) -> Result<Normalisation> {
        let stored = |pick: fn(&Norms) -> &Normalisation| {
            self.meta
                .as_ref()
                .map(|m| pick(&m.normalisation).clone())
                .ok_or_else(|| {
                    Error::checkpoint(
                        &self.path,
                        "normalisation",
                        "absent (not written by tidal `train`); pass --norm input or --norm FILE.json",
                    )
                })
        };
        let n = match choice {
            NormChoice::Input => {
                let all: Vec<usize> = (0..data.n).collect();
                Normalisation::compute(data, &all)
            }
            NormChoice::File(p) => Normalisation::load(p)?,
            NormChoice::Source => stored(|n| &n.source)?,
            NormChoice::Target => stored(|n| &n.target)?,
        };
        if n.mean.len() != data.c || n.std.len() != data.c {
            return Err(Error::checkpoint(
                &self.path,
                "normalisation",
                format!(
                    "{} channel means and {} deviations, the images have {} channels",
                    n.mean.len(),
                    n.std.len(),
                    data.c
                ),
            ));
        }
        Ok(n)
    }
}

/// Which architecture a checkpoint holds: its metadata says, or (files written by PyTorch)
/// its tensor names do.
pub fn model_kind(loaded: &checkpoint::Loaded, ckpt: &Path) -> Result<ModelKind> {
    if let Some(m) = loaded.metadata.get("model") {
        return m
            .parse()
            .map_err(|e: Error| Error::checkpoint(ckpt, "model", e.to_string()));
    }
    let has = |k: &str| loaded.tensors.contains_key(k);
    if has("batchn1.weight") && has("fc3.weight") {
        Ok(ModelKind::DeepMerge)
    } else if has("layer1.0.conv1.weight") && has("bottleneck.weight") {
        Ok(ModelKind::ResNet18)
    } else {
        Err(Error::checkpoint(
            ckpt,
            "model",
            "neither DeepMerge (batchn1.*, fc3.*) nor ResNet18 (layer1.0.*, bottleneck.*) tensors",
        ))
    }
}

/// The model stored in a checkpoint written by tidal or by PyTorch (`state_dict` names,
/// `num_batches_tracked` kept).
pub fn load_model(ctx: &Rc<Context>, ckpt: &Path) -> Result<LoadedModel> {
    let loaded = checkpoint::load(ckpt)?;
    let kind = model_kind(&loaded, ckpt)?;
    let meta = CheckpointMeta::from_loaded(&loaded, ckpt)?;
    // The kernels the run trained with (tidal checkpoints carry their config; older ones
    // read as `default`, which is what they ran).
    if let Some(cfg) = meta
        .as_ref()
        .and_then(|m| toml::from_str::<crate::train::TrainConfig>(&m.config).ok())
    {
        crate::tune::apply(ctx, &cfg.kernels)?;
    }
    // The band count is the first convolution's input channels.
    let bands = loaded
        .tensors
        .get("conv1.weight")
        .filter(|(shape, _)| shape.len() == 4)
        .map(|(shape, _)| shape[1])
        .ok_or_else(|| Error::checkpoint(ckpt, "conv1.weight", "missing or not 4-D"))?;
    let model = crate::models::build(kind, bands, ctx, &mut Rng::new(0))?;
    let mut state = Vec::new();
    model.module().named_state("", &mut state);
    checkpoint::restore(&loaded, &state, ckpt)?;
    let mut counters = Vec::new();
    model.module().named_counters("", &mut counters);
    checkpoint::restore_counters(&loaded, &counters);
    let temperature = match loaded.metadata.get("temperature") {
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| {
                Error::checkpoint(
                    ckpt,
                    "temperature",
                    format!("'{t}': expected a positive number"),
                )
            })?,
        None => 1.0,
    };
    Ok(LoadedModel {
        model,
        kind,
        bands,
        meta,
        temperature,
        path: ckpt.to_path_buf(),
    })
}

/// What `evaluate` reads and how.
pub struct EvalRequest<'a> {
    pub checkpoint: &'a Path,
    pub images: &'a Path,
    pub labels: Option<&'a Path>,
    pub norm: &'a NormChoice,
    /// Apply the checkpoint's temperature.
    pub calibrated: bool,
    pub prepare: &'a data::Prepare,
    /// Where the per-image predictions go (CSV).
    pub predictions: &'a Path,
}

/// A checkpoint's predictions (written to `predictions`) and, with labels, its metrics.
pub fn evaluate(ctx: &Rc<Context>, r: &EvalRequest) -> Result<EvalSummary> {
    let EvalRequest {
        checkpoint: ckpt,
        images,
        labels,
        norm,
        calibrated,
        prepare: prep,
        predictions,
    } = *r;
    if predictions.is_dir() {
        return Err(Error::config(
            "--predictions",
            format!(
                "{} is a directory; expected a file name",
                predictions.display()
            ),
        ));
    }
    let loaded = load_model(ctx, ckpt)?;
    let mut ds = data::load_prepared(images, labels, prep)?;
    if ds.n == 0 {
        return Err(Error::data(images, "no images: nothing to evaluate"));
    }
    if ds.c != loaded.bands {
        return Err(Error::checkpoint(
            ckpt,
            "conv1.weight",
            format!(
                "the model takes {} bands, {} gives {} (select bands with --bands)",
                loaded.bands,
                images.display(),
                ds.c
            ),
        ));
    }
    let norm = loaded.normalisation(norm, &ds)?;
    ds.normalise(&norm);
    let all: Vec<usize> = (0..ds.n).collect();
    let f = super::evaluate::predict_margins(loaded.model.as_ref(), ctx, &ds, &all)?;
    let p: Vec<f32> = if calibrated {
        f.margins
            .iter()
            .map(|&m| super::calibration::calibrated(m, loaded.temperature))
            .collect()
    } else {
        f.probs
    };
    if let Some(i) = p.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            images,
            format!(
                "image {i}: the model's probability is {} (non-finite weights or inputs)",
                p[i]
            ),
        ));
    }
    let y = ds.gather_labels(&all);
    let mut csv = String::from("index,p_merger,predicted,label\n");
    for (i, &pi) in p.iter().enumerate() {
        let label = y.as_ref().map(|l| l[i].to_string()).unwrap_or_default();
        csv.push_str(&format!("{i},{pi:.6},{},{label}\n", (pi >= 0.5) as u8));
    }
    crate::atomic::write(predictions, csv.as_bytes())?;
    Ok(EvalSummary {
        n: ds.n,
        metrics: y.map(|y| metrics::compute(&p, &y)),
    })
}
