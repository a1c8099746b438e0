//! Every training setting, readable from TOML (`--config`) and overridden by flags; the
//! resolved configuration is written into the run directory.

use crate::error::{Error, Result};
use crate::losses::fisher::{FisherForm, FisherNorm};
use crate::losses::mmd::{Bandwidth, Estimator, MmdConfig, REFERENCE_SIGMAS};
use crate::losses::{CoralForm, EntropyForm};
use crate::models::ModelKind;
use crate::ops::GrlSchedule;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transfer {
    NoDa,
    Mmd,
    Dann,
    Coral,
}

/// A method: a transfer loss, optionally with the Fisher and entropy terms. Written as
/// text in configs ("mmd", "dann+fisher+entropy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Method {
    pub transfer: Transfer,
    pub fisher: bool,
    pub entropy: bool,
}

impl std::str::FromStr for Method {
    type Err = Error;
    /// "noda", "mmd", "dann", "coral", each optionally followed by "+fisher" and/or "+entropy".
    fn from_str(s: &str) -> Result<Method> {
        let mut parts = s.split('+').map(|p| p.trim().to_ascii_lowercase());
        let transfer = match parts.next().as_deref() {
            Some("noda") => Transfer::NoDa,
            Some("mmd") => Transfer::Mmd,
            Some("dann") => Transfer::Dann,
            Some("coral") => Transfer::Coral,
            other => {
                return Err(Error::config(
                    "method",
                    format!(
                        "unknown method '{}' (expected noda, mmd, dann or coral, optionally +fisher, +entropy)",
                        other.unwrap_or("")
                    ),
                ))
            }
        };
        let (mut fisher, mut entropy) = (false, false);
        for p in parts {
            let seen = match p.as_str() {
                "fisher" => std::mem::replace(&mut fisher, true),
                "entropy" => std::mem::replace(&mut entropy, true),
                _ => {
                    return Err(Error::config(
                        "method",
                        format!("unknown method term '+{p}' (expected +fisher or +entropy)"),
                    ))
                }
            };
            if seen {
                return Err(Error::config(
                    "method",
                    format!("'+{p}' is given twice in '{s}'"),
                ));
            }
        }
        Ok(Method {
            transfer,
            fisher,
            entropy,
        })
    }
}

impl TryFrom<String> for Method {
    type Error = Error;
    fn try_from(s: String) -> Result<Method> {
        s.parse()
    }
}

impl From<Method> for String {
    fn from(m: Method) -> String {
        m.to_string()
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<Method>().is_ok_and(|m| m == *self)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self.transfer {
            Transfer::NoDa => "noda",
            Transfer::Mmd => "mmd",
            Transfer::Dann => "dann",
            Transfer::Coral => "coral",
        };
        write!(
            f,
            "{t}{}{}",
            if self.fisher { "+fisher" } else { "" },
            if self.entropy { "+entropy" } else { "" }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    Constant,
    /// The reference triangle lr/10 → lr → lr/10 every 0.9 × cycle_length epochs.
    OneCycle,
    /// lr·(1 + 0.001·t)^−0.75
    InverseDecay,
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MmdPreset {
    Reference,
    Dan,
    DanMedian,
}

/// Largest batch per domain a config may ask for (a batch of the default data's whole
/// training split is 2100).
pub const MAX_BATCH: usize = 16384;
/// Most epochs a config may ask for.
pub const MAX_EPOCHS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub model: ModelKind,
    /// e.g. "mmd", "dann+fisher+entropy"
    pub method: Method,
    pub epochs: usize,
    /// Images per domain per step (128 + 128 in the reference recipe).
    pub batch: usize,
    /// Peak learning rate; 0 picks the reference recipe's value (1e-4 for MMD, 1e-3
    /// otherwise). The default 1e-3 suits the short default run.
    pub lr: f32,
    pub schedule: ScheduleKind,
    pub cycle_length: f32,
    pub seed: u64,
    /// Weight of the transfer loss (MMD, CORAL or the domain loss).
    pub transfer_weight: f32,
    pub mmd_preset: MmdPreset,
    pub mmd_estimator: Estimator,
    /// Ganin's schedule when true (γ = 10), else a constant λ = grl_lambda.
    pub grl_ganin: bool,
    pub grl_lambda: f32,
    pub fisher_form: FisherForm,
    pub fisher_intra: f32,
    pub fisher_inter: f32,
    /// "per-sample" (tr(S_w)/B, tr(S_b)/K) or "published" (both traces summed, as the
    /// reference code).
    pub fisher_norm: FisherNorm,
    /// "deep-coral" (‖ΔC‖²/(4d²)) or "published" (mean over the d² entries).
    pub coral_form: CoralForm,
    /// "exact" or "published" (probabilities below 1e-6 dropped from the sum).
    pub entropy_form: EntropyForm,
    /// Learning-rate multiplier of the learnable Fisher centres; 0 (the default) keeps them
    /// fixed at their initial draw (the published runs never updated them).
    pub centre_lr_mult: f32,
    /// Standard deviation of the centres' initial N(0, σ²) draw (default 1, as the
    /// published code).
    pub centre_init_std: f32,
    /// Fisher centres moved towards the batch class means by this rate instead of being
    /// learned (0 = learnable centres, trained by the optimizer).
    pub centre_momentum: f32,
    /// 0 picks the reference weight (0.05 with MMD, 1e-4 with DANN).
    pub entropy_weight: f32,
    /// Early stopping on the source validation loss.
    pub patience: usize,
    /// Per-epoch shift diagnostics (held-out MMD, proxy A-distance) and the t-SNE latent
    /// maps at the start and end of training.
    pub diagnostics: bool,
    /// With the built-in data: train on its noisy domain and adapt to the pristine one (the
    /// other half of the cross-domain matrix).
    pub swap_domains: bool,
    /// Bands to keep, in order (e.g. [0, 2]); empty: every band. The model's first layer
    /// takes as many as remain.
    pub bands: Vec<usize>,
    /// Axis order of the image files: "nchw" (the published files) or "nhwc".
    pub layout: crate::data::Layout,
    /// Images of another size than 75×75: "none" (refused), "area" or "bilinear".
    pub resize: crate::data::Resize,
    /// Source and target images (npy or FITS); empty = the built-in default data.
    pub source: Option<String>,
    pub source_labels: Option<String>,
    pub target: Option<String>,
    pub target_labels: Option<String>,
    /// Initial model weights (and batch-norm statistics) from a checkpoint written by tidal
    /// or by PyTorch (`state_dict` names); the optimizer starts fresh.
    pub init: Option<String>,
    pub out: String,
    /// The kernel variants: `auto` (the default: the choice cached for this adapter, or a
    /// short timed trial on first use; a run's config.toml records what it resolved to),
    /// an explicit `<matmul variant>[+fused][+rows[+flip]]` (`subgroup+fused+rows+flip`,
    /// `register`, `tiled+fused`, ...; `+rows` with `subgroup` only), or `default` (the adapter's
    /// default matmul variant and the separate batch-norm, ReLU and pool ops). Variants round differently, so a run keeps its choice for
    /// resumes, reruns, eval and predict. A config file without the key reads as `default`:
    /// files written before it existed come from such runs, and rerun bit for bit.
    #[serde(default = "without_kernels_key")]
    pub kernels: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::DeepMerge,
            method: Method {
                transfer: Transfer::Mmd,
                fisher: false,
                entropy: false,
            },
            epochs: 4,
            batch: 128,
            lr: 1e-3,
            schedule: ScheduleKind::Constant,
            cycle_length: 2.0,
            seed: 1,
            transfer_weight: 1.0,
            mmd_preset: MmdPreset::Reference,
            mmd_estimator: Estimator::Biased,
            grl_ganin: true,
            grl_lambda: 1.0,
            fisher_form: FisherForm::TraceDifference,
            fisher_intra: 0.01,
            fisher_inter: 1.0,
            fisher_norm: FisherNorm::PerSample,
            coral_form: CoralForm::DeepCoral,
            entropy_form: EntropyForm::Exact,
            // Fixed at an N(0, 1) draw, as the published code: chosen by the Fisher screen
            // on source validation loss over 3 seeds (README, "Fisher and entropy").
            centre_lr_mult: 0.0,
            centre_init_std: 1.0,
            centre_momentum: 0.0,
            entropy_weight: 0.0,
            patience: 20,
            diagnostics: true,
            swap_domains: false,
            bands: Vec::new(),
            layout: crate::data::Layout::Nchw,
            resize: crate::data::Resize::None,
            source: None,
            source_labels: None,
            target: None,
            target_labels: None,
            init: None,
            out: "runs/latest".into(),
            kernels: "auto".into(),
        }
    }
}

/// Whether the TOML text sets `key` at its top level.
fn names_key(text: &str, key: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key(key))
}

/// `kernels` of a config file that does not name it (see `TrainConfig::kernels`).
fn without_kernels_key() -> String {
    "default".into()
}

impl TrainConfig {
    pub fn from_toml_file(path: &std::path::Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let cfg: TrainConfig = toml::from_str(&text)
            .map_err(|e| Error::config(path.display().to_string(), e.to_string()))?;
        if !names_key(&text, "kernels") {
            eprintln!(
                "note: {} has no `kernels` key: running the adapter's default kernels with the \
                 separate batch-norm, ReLU and pool ops, as runs made before the key existed \
                 did; add `kernels = \"auto\"` for the faster choice",
                path.display()
            );
        }
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    pub fn resolved_lr(&self) -> Result<f32> {
        Ok(if self.lr > 0.0 {
            self.lr
        } else if self.method.transfer == Transfer::Mmd {
            1e-4
        } else {
            1e-3
        })
    }

    pub fn resolved_entropy_weight(&self) -> Result<f32> {
        Ok(if self.entropy_weight > 0.0 {
            self.entropy_weight
        } else if self.method.transfer == Transfer::Dann {
            1e-4
        } else {
            0.05
        })
    }

    pub fn mmd(&self) -> MmdConfig {
        let mut c = match self.mmd_preset {
            MmdPreset::Reference => MmdConfig::reference(),
            MmdPreset::Dan => MmdConfig::dan(),
            MmdPreset::DanMedian => MmdConfig::dan_median(),
        };
        c.estimator = self.mmd_estimator;
        if self.mmd_estimator != Estimator::Biased {
            c.clamp_min = None;
        }
        if let Bandwidth::Fixed(s) = &c.bandwidth {
            debug_assert_eq!(s.len(), REFERENCE_SIGMAS.len());
        }
        c
    }

    pub fn grl(&self) -> GrlSchedule {
        if self.grl_ganin {
            GrlSchedule::Ganin { gamma: 10.0 }
        } else {
            GrlSchedule::Constant(self.grl_lambda)
        }
    }

    /// How image files become the model's input.
    pub fn prepare(&self) -> crate::data::Prepare {
        crate::data::Prepare {
            layout: self.layout,
            bands: self.bands.clone(),
            resize: self.resize,
        }
    }

    /// Every setting in range, before anything is read or written: a key out of range is an
    /// error naming it, its value and what it must be.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, v: &dyn std::fmt::Display, want: &str| {
            Err(Error::config(
                format!("{key} = {v}"),
                format!("must be {want}"),
            ))
        };
        if crate::gpu::KernelSetting::parse(&self.kernels).is_none() {
            return bad(
                "kernels",
                &format!("{:?}", self.kernels),
                "auto, default, or a matmul variant (subgroup, register, tiled) optionally \
                 followed by +fused",
            );
        }
        for (name, v) in [("epochs", self.epochs), ("batch", self.batch)] {
            if v == 0 {
                return Err(Error::config(name, "must be at least 1"));
            }
        }
        if self.batch > MAX_BATCH {
            return bad(
                "batch",
                &self.batch,
                &format!("at most {MAX_BATCH} images per domain"),
            );
        }
        if self.epochs > MAX_EPOCHS {
            return bad("epochs", &self.epochs, &format!("at most {MAX_EPOCHS}"));
        }
        for (name, v) in [
            ("lr", self.lr),
            ("transfer_weight", self.transfer_weight),
            ("entropy_weight", self.entropy_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(
                    format!("{name} = {v}"),
                    "must be finite and at least 0",
                ));
            }
        }
        // Values no training would use: a typo's order of magnitude.
        for (name, v, hi) in [
            ("lr", self.lr, 10.0),
            ("transfer_weight", self.transfer_weight, 1e4),
            ("entropy_weight", self.entropy_weight, 1e4),
            ("fisher_intra", self.fisher_intra, 1e4),
            ("fisher_inter", self.fisher_inter, 1e4),
            ("centre_lr_mult", self.centre_lr_mult, 1e4),
        ] {
            if !(v.is_finite() && (0.0..=hi).contains(&v)) {
                return bad(name, &v, &format!("finite, in [0, {hi}]"));
            }
        }
        if !(self.grl_lambda.is_finite() && (0.0..=1e3).contains(&self.grl_lambda)) {
            return bad("grl_lambda", &self.grl_lambda, "finite, in [0, 1000]");
        }
        if !(self.centre_momentum.is_finite() && (0.0..=1.0).contains(&self.centre_momentum)) {
            return bad(
                "centre_momentum",
                &self.centre_momentum,
                "in [0, 1] (0 = learnable centres)",
            );
        }
        if !(self.centre_init_std.is_finite()
            && self.centre_init_std > 0.0
            && self.centre_init_std <= 1e3)
        {
            return bad(
                "centre_init_std",
                &self.centre_init_std,
                "finite, in (0, 1000]",
            );
        }
        if !(self.cycle_length.is_finite() && self.cycle_length > 0.0 && self.cycle_length <= 1e4) {
            return bad(
                "cycle_length",
                &self.cycle_length,
                "finite, in (0, 10000] epochs",
            );
        }
        if self.source.is_some() != self.target.is_some() {
            return Err(Error::config(
                "source/target",
                "give both --source and --target, or neither for the built-in data",
            ));
        }
        Ok(())
    }
}
