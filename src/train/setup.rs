//! Run set-up: the run directory, the data and its splits and normalisation, the learner,
//! the schedules and the sampler, and the state a `--init` checkpoint or a `--resume`
//! brings back. Everything the epoch loop needs lives in one `Trainer`.

use super::checkpoint::{self, CheckpointMeta, DataIdentity, Norms};
use super::config::{self, TrainConfig};
use super::learner::Learner;
use super::selection::{Selection, Splits};
use crate::data::split::{split_indices, Normalisation};
use crate::data::{self, Dataset, Sampler};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::nn::Counter;
use crate::ops::GrlSchedule;
use crate::optim::Schedule;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A run directory.
pub(super) struct Run {
    pub dir: PathBuf,
}

impl Run {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        crate::atomic::write(&self.path(name), text.as_bytes())
    }
}

/// One training run in progress.
pub(super) struct Trainer<'a> {
    pub ctx: Rc<Context>,
    pub cfg: &'a TrainConfig,
    pub method: config::Method,
    pub run: Run,
    pub src: Dataset,
    pub tgt: Dataset,
    pub s: Splits,
    pub t: Splits,
    pub norms: Norms,
    /// What the data files were (so a resume with other files is refused).
    pub data: DataIdentity,
    pub learner: Learner,
    pub lr: f32,
    pub steps_per_epoch: usize,
    pub total_steps: u64,
    pub schedule: Schedule,
    pub grl: GrlSchedule,
    pub sampler: Sampler,
    /// The model's state (what `best.safetensors` restores for testing).
    pub state: Vec<(String, Tensor)>,
    /// Everything a checkpoint holds: the state, the discriminator, centres, optimizer moments.
    pub ckpt: Vec<(String, Tensor)>,
    pub counters: Vec<(String, Counter)>,
    pub sel: Selection,
    /// Epochs whose evaluation finished, and optimisation steps taken.
    pub epochs_done: usize,
    pub step: u64,
}

fn load_data(cfg: &TrainConfig) -> Result<(Dataset, Dataset)> {
    match (&cfg.source, &cfg.target) {
        (Some(s), Some(t)) => {
            let prep = cfg.prepare();
            let src = data::load_prepared(
                Path::new(s),
                cfg.source_labels.as_deref().map(Path::new),
                &prep,
            )?;
            let tgt = data::load_prepared(
                Path::new(t),
                cfg.target_labels.as_deref().map(Path::new),
                &prep,
            )?;
            if src.labels.is_none() {
                return Err(Error::data(
                    Path::new(s),
                    "source images need labels (--source-labels)",
                ));
            }
            if (src.c, src.h, src.w) != (tgt.c, tgt.h, tgt.w) {
                return Err(Error::data(
                    Path::new(t),
                    format!(
                        "target images are {}x{}x{}, the source images {}x{}x{}",
                        tgt.c, tgt.h, tgt.w, src.c, src.h, src.w
                    ),
                ));
            }
            Ok((src, tgt))
        }
        _ => {
            let (pristine, noisy) = data::default_dataset(&data::default_cache_dir())?;
            let (s, t) = if cfg.swap_domains {
                (noisy, pristine)
            } else {
                (pristine, noisy)
            };
            if cfg.bands.is_empty() {
                return Ok((s, t));
            }
            // Band selection on the built-in data (for experiments with fewer bands).
            let prep = cfg.prepare();
            let pick = |d: Dataset| -> Result<Dataset> {
                let [c, h, w] = prep.output(Path::new("the built-in data"), [d.c, d.h, d.w])?;
                Ok(Dataset {
                    images: prep.apply([d.c, d.h, d.w], &d.images),
                    c,
                    h,
                    w,
                    ..d
                })
            };
            Ok((pick(s)?, pick(t)?))
        }
    }
}

/// The source and target file names, for messages ("the built-in data" otherwise).
fn data_names(cfg: &TrainConfig) -> (String, String) {
    match (&cfg.source, &cfg.target) {
        (Some(s), Some(t)) => (s.clone(), t.clone()),
        _ => (
            "the built-in source data".into(),
            "the built-in target data".into(),
        ),
    }
}

/// The identity of the files a run trains on.
fn data_identity(cfg: &TrainConfig) -> Result<DataIdentity> {
    let files: Vec<PathBuf> = match (&cfg.source, &cfg.target) {
        (Some(s), Some(t)) => [
            Some(s),
            cfg.source_labels.as_ref(),
            Some(t),
            cfg.target_labels.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .collect(),
        _ => {
            let dir = data::default_cache_dir();
            let (p, n) = (
                data::cache_entry(
                    &dir,
                    crate::data::synth::Domain::Pristine,
                    data::DEFAULT_N,
                    data::DEFAULT_SOURCE_SEED,
                ),
                data::cache_entry(
                    &dir,
                    crate::data::synth::Domain::Noisy,
                    data::DEFAULT_N,
                    data::DEFAULT_TARGET_SEED,
                ),
            );
            let (s, t) = if cfg.swap_domains { (n, p) } else { (p, n) };
            vec![
                s.join("X.npy"),
                s.join("y.npy"),
                t.join("X.npy"),
                t.join("y.npy"),
            ]
        }
    };
    DataIdentity::of(&files)
}

fn schedule(cfg: &TrainConfig, lr: f32, steps_per_epoch: usize, total_steps: u64) -> Schedule {
    match cfg.schedule {
        config::ScheduleKind::Constant => Schedule::Constant { lr },
        config::ScheduleKind::OneCycle => {
            Schedule::reference_one_cycle(lr, cfg.cycle_length, steps_per_epoch as u64)
        }
        config::ScheduleKind::InverseDecay => Schedule::InverseDecay {
            lr,
            a: 0.001,
            b: 0.75,
        },
        config::ScheduleKind::Cosine => Schedule::Cosine {
            lr,
            min_lr: lr * 0.01,
            warmup: steps_per_epoch as u64,
            total: total_steps,
        },
    }
}

/// How a run starts in its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new run. A directory that already holds a run is refused, except the default
    /// `runs/latest`, whose previous run is moved to `runs/previous` first.
    New,
    /// A new run replacing whatever run the directory holds (`--overwrite`).
    Overwrite,
    /// Continue the run from its `last.safetensors` (`--resume`).
    Resume,
}

/// Files that make a directory a run (a planned sweep run holds only its config.toml).
const RUN_FILES: [&str; 4] = [
    "metrics.jsonl",
    "last.safetensors",
    "best.safetensors",
    "summary.json",
];

/// True when `dir` holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// The largest activation one image makes in `model` (floats): DeepMerge's first
/// convolution (8×75×75) or ResNet18's stem (64×38×38), for the batch-size check.
fn largest_activation(model: crate::models::ModelKind, c: usize, h: usize, w: usize) -> u64 {
    let (ch, ds) = match model {
        crate::models::ModelKind::DeepMerge => (8, 1),
        crate::models::ModelKind::ResNet18 => (64, 2),
    };
    (ch * h.div_ceil(ds) * w.div_ceil(ds)).max(c * h * w) as u64
}

/// Every split of both domains must hold images, or its metrics are numbers about nothing.
fn check_splits(path: &str, n: usize, sp: &Splits) -> Result<()> {
    for (name, set) in [
        ("training", &sp.train),
        ("validation", &sp.val),
        ("test", &sp.test),
    ] {
        if set.is_empty() {
            return Err(Error::data(
                Path::new(path),
                format!(
                    "{n} images: the 70/10/20 split leaves the {name} set empty (at least 10 images are needed)"
                ),
            ));
        }
    }
    Ok(())
}

impl<'a> Trainer<'a> {
    /// Checks everything first — the settings, the run directory, the data, the batch
    /// against the adapter's limits, the `--init` or `--resume` checkpoint — and only then
    /// writes: the previous `runs/latest` moves to `runs/previous`, `config.toml` is written.
    /// A run that cannot start leaves every file where it was.
    pub fn prepare(ctx: &Rc<Context>, cfg: &'a TrainConfig, start: Start) -> Result<Trainer<'a>> {
        cfg.validate()?;
        crate::tune::apply(ctx, &cfg.kernels)?;
        let method = cfg.method;
        let run = Run {
            dir: PathBuf::from(&cfg.out),
        };
        let rotate = match start {
            Start::New if holds_run(&run.dir) => {
                if cfg.out != TrainConfig::default().out {
                    return Err(Error::config(
                        "--out",
                        format!(
                            "{} already holds a run; pass --overwrite to replace it or --resume to continue it",
                            run.dir.display()
                        ),
                    ));
                }
                true
            }
            Start::Resume if !run.path("last.safetensors").is_file() => {
                return Err(Error::checkpoint(
                    &run.path("last.safetensors"),
                    "(file)",
                    "missing: there is no run to resume here",
                ));
            }
            _ => false,
        };

        let (mut src, mut tgt) = load_data(cfg)?;
        let (s_train, s_val, s_test) = split_indices(src.n, cfg.seed);
        let (t_train, t_val, t_test) = split_indices(tgt.n, cfg.seed.wrapping_add(1));
        let s = Splits {
            train: s_train,
            val: s_val,
            test: s_test,
        };
        let t = Splits {
            train: t_train,
            val: t_val,
            test: t_test,
        };
        let names = data_names(cfg);
        check_splits(&names.0, src.n, &s)?;
        check_splits(&names.1, tgt.n, &t)?;
        let per_image = largest_activation(cfg.model, src.c, src.h, src.w);
        let limit = ctx.limits.max_storage_buffer_binding_size;
        let bytes = 2 * cfg.batch as u64 * per_image * 4;
        if bytes > limit {
            return Err(Error::config(
                format!("batch = {}", cfg.batch),
                format!(
                    "the largest activation of a step would be {:.1} GB, above the adapter's largest buffer ({:.1} GB); at most {} images per domain fit",
                    bytes as f64 / 1e9,
                    limit as f64 / 1e9,
                    limit / (2 * per_image * 4)
                ),
            ));
        }
        let identity = data_identity(cfg)?;
        let s_norm = Normalisation::compute(&src, &s.train);
        let t_norm = Normalisation::compute(&tgt, &t.train);
        src.normalise(&s_norm);
        tgt.normalise(&t_norm);

        let learner = Learner::with_bands(ctx, cfg, src.c)?;
        let lr = cfg.resolved_lr()?;
        let steps_per_epoch = s.train.len().div_ceil(cfg.batch).max(1);
        let total_steps = (steps_per_epoch * cfg.epochs) as u64;
        let state = learner.state();
        let ckpt = learner.checkpoint_tensors();
        let counters = learner.counters();
        let mut t = Trainer {
            ctx: ctx.clone(),
            cfg,
            method,
            run,
            src,
            tgt,
            s,
            t,
            norms: Norms {
                source: s_norm,
                target: t_norm,
            },
            data: identity,
            learner,
            lr,
            steps_per_epoch,
            total_steps,
            schedule: schedule(cfg, lr, steps_per_epoch, total_steps),
            grl: cfg.grl(),
            sampler: Sampler::new(cfg.seed),
            state,
            ckpt,
            counters,
            sel: Selection::default(),
            epochs_done: 0,
            step: 0,
        };
        if let (Some(init), false) = (&cfg.init, start == Start::Resume) {
            t.init_from(Path::new(init))?;
        }
        if start == Start::Resume {
            t.resume()?;
        }
        // Everything checked: now the directory changes.
        if rotate {
            let previous = t.run.dir.with_file_name("previous");
            if previous.exists() {
                std::fs::remove_dir_all(&previous).map_err(|e| Error::io(&previous, e))?;
            }
            std::fs::rename(&t.run.dir, &previous).map_err(|e| Error::io(&t.run.dir, e))?;
            eprintln!(
                "the previous run in {} moved to {}",
                t.run.dir.display(),
                previous.display()
            );
        }
        if start == Start::Overwrite {
            for f in RUN_FILES {
                let p = t.run.path(f);
                if p.exists() {
                    std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                }
            }
        }
        std::fs::create_dir_all(&t.run.dir).map_err(|e| Error::io(&t.run.dir, e))?;
        t.run.write("config.toml", &cfg.to_toml())?;
        Ok(t)
    }

    /// Model weights, batch-norm statistics and counters from a tidal or PyTorch checkpoint.
    fn init_from(&self, path: &Path) -> Result<()> {
        let loaded = checkpoint::load(path)?;
        let kind = super::eval::model_kind(&loaded, path)?;
        if kind != self.cfg.model {
            return Err(Error::checkpoint(
                path,
                "model",
                format!("holds {kind:?}, the run trains {:?}", self.cfg.model),
            ));
        }
        checkpoint::restore(&loaded, &self.state, path)?;
        checkpoint::restore_counters(&loaded, &self.counters);
        Ok(())
    }

    /// Continues from `last.safetensors`: weights, optimizer moments and step, dropout
    /// generators, selection state, and the sampler replayed to the same draw.
    fn resume(&mut self) -> Result<()> {
        let path = self.run.path("last.safetensors");
        let loaded = checkpoint::load(&path)?;
        let meta = CheckpointMeta::from_loaded(&loaded, &path)?
            .ok_or_else(|| Error::checkpoint(&path, "format", "not a tidal training checkpoint"))?;
        if meta.model != self.cfg.model || meta.method != self.method.to_string() {
            return Err(Error::checkpoint(
                &path,
                "model/method",
                format!(
                    "the run trains {:?} with {}; it cannot resume as {:?} with {}",
                    meta.model, meta.method, self.cfg.model, self.method
                ),
            ));
        }
        if let Some(old) = &meta.data {
            if let Some(diff) = old.mismatch(&self.data) {
                return Err(Error::checkpoint(&path, "data", diff));
            }
        }
        checkpoint::restore(&loaded, &self.ckpt, &path)?;
        checkpoint::restore_counters(&loaded, &self.counters);
        self.epochs_done = meta.epochs_done;
        self.step = meta.step;
        self.sel = meta.selection;
        self.learner.set_rng_state(&meta.dropout_rngs);
        self.learner.opt.step = self.step;
        // The sampler is a pure function of the seed and the draws so far: replay them.
        for _ in 0..self.step {
            self.sampler
                .step(&self.s.train, &self.t.train, self.cfg.batch);
        }
        Ok(())
    }

    /// The metadata of a checkpoint written now.
    pub fn meta(&self, epochs_done: usize) -> CheckpointMeta {
        CheckpointMeta {
            model: self.cfg.model,
            method: self.method.to_string(),
            epochs_done,
            step: self.step,
            rng_seed: self.cfg.seed,
            dropout_rngs: self.learner.rng_state(),
            selection: self.sel,
            normalisation: self.norms.clone(),
            config: self.cfg.to_toml(),
            data: Some(self.data.clone()),
            bands: Some(self.bands()),
        }
    }

    /// Writes `name` (`last.safetensors` or `best.safetensors`) with the current state.
    /// Weights that became non-finite (a learning rate too high, inputs out of range) stop
    /// the run like a non-finite loss, naming the tensor and the last good checkpoint.
    pub fn save(&self, name: &str, epochs_done: usize) -> Result<()> {
        let refs: Vec<&Tensor> = self.ckpt.iter().map(|(_, t)| t).collect();
        let values = Tensor::read_all(&refs)?;
        if let Some((tensor, i, v)) = checkpoint::first_non_finite(&self.ckpt, &values) {
            return Err(Error::NonFinite {
                term: format!("weights ({tensor}[{i}])"),
                value: v,
                step: self.step,
                epoch: epochs_done.saturating_sub(1),
                last_good: self.last_good(),
            });
        }
        checkpoint::save_values(
            &self.run.path(name),
            &self.ckpt,
            &values,
            &self.counters,
            self.meta(epochs_done).to_map(),
        )
    }

    /// The model's input bands: the built-in data's filters by name, else `band<i>`.
    pub fn bands(&self) -> super::checkpoint::Bands {
        let selected: Vec<usize> = if self.cfg.bands.is_empty() {
            (0..self.src.c).collect()
        } else {
            self.cfg.bands.clone()
        };
        let builtin = ["F814W-like", "F160W-like", "F356W-like"];
        let names = selected
            .iter()
            .map(|&b| match (&self.cfg.source, builtin.get(b)) {
                (None, Some(n)) => n.to_string(),
                _ => format!("band{b}"),
            })
            .collect();
        super::checkpoint::Bands {
            count: self.src.c,
            selected,
            names,
        }
    }

    /// Which checkpoint holds the last good state, for messages.
    pub fn last_good(&self) -> String {
        let last = self.run.path("last.safetensors");
        if last.is_file() {
            format!("the last good checkpoint is {}", last.display())
        } else {
            "no checkpoint was written yet".into()
        }
    }
}
