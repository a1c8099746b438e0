//! Run set-up: the run directory, the data and its splits and normalisation, the learner,
//! the schedules and the sampler, and the state a `--init` checkpoint or a `--resume`
//! brings back. Everything the epoch loop needs lives in one `Trainer`.

use super::checkpoint::{self, CheckpointMeta, Norms};
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
            let src = data::load(Path::new(s), cfg.source_labels.as_deref().map(Path::new))?;
            let tgt = data::load(Path::new(t), cfg.target_labels.as_deref().map(Path::new))?;
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
            Ok(if cfg.swap_domains {
                (noisy, pristine)
            } else {
                (pristine, noisy)
            })
        }
    }
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

impl<'a> Trainer<'a> {
    /// Writes `config.toml`, loads and prepares the data, builds the learner, and brings
    /// back the `--init` weights or, with `resume`, the run's `last.safetensors`.
    pub fn prepare(ctx: &Rc<Context>, cfg: &'a TrainConfig, resume: bool) -> Result<Trainer<'a>> {
        cfg.validate()?;
        let method = cfg.method;
        let run = Run {
            dir: PathBuf::from(&cfg.out),
        };
        std::fs::create_dir_all(&run.dir).map_err(|e| Error::io(&run.dir, e))?;
        run.write("config.toml", &cfg.to_toml())?;

        let (mut src, mut tgt) = load_data(cfg)?;
        let (s_train, s_val, s_test) = split_indices(src.n, cfg.seed);
        let (t_train, t_val, t_test) = split_indices(tgt.n, cfg.seed.wrapping_add(1));
        let s_norm = Normalisation::compute(&src, &s_train);
        let t_norm = Normalisation::compute(&tgt, &t_train);
        src.normalise(&s_norm);
        tgt.normalise(&t_norm);

        let learner = Learner::new(ctx, cfg)?;
        let lr = cfg.resolved_lr()?;
        let steps_per_epoch = s_train.len().div_ceil(cfg.batch).max(1);
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
            s: Splits {
                train: s_train,
                val: s_val,
                test: s_test,
            },
            t: Splits {
                train: t_train,
                val: t_val,
                test: t_test,
            },
            norms: Norms {
                source: s_norm,
                target: t_norm,
            },
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
        if let (Some(init), false) = (&cfg.init, resume) {
            t.init_from(Path::new(init))?;
        }
        if resume {
            t.resume()?;
        }
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
        checkpoint::restore(&loaded, &self.ckpt, &path)?;
        checkpoint::restore_counters(&loaded, &self.counters);
        let meta = CheckpointMeta::from_loaded(&loaded, &path)?
            .ok_or_else(|| Error::checkpoint(&path, "format", "not a tidal training checkpoint"))?;
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
        }
    }

    /// Writes `name` (`last.safetensors` or `best.safetensors`) with the current state.
    pub fn save(&self, name: &str, epochs_done: usize) -> Result<()> {
        checkpoint::save(
            &self.run.path(name),
            &self.ckpt,
            &self.counters,
            self.meta(epochs_done).to_map(),
        )
    }
}
