//! The trainer: source-labelled, target-unlabelled training with a transfer loss, early
//! stopping and model selection on source validation only, checkpoints and a run
//! directory (config.toml, metrics.jsonl, best/last.safetensors, summary.json, report.md).
//!
//! `setup` prepares a run (data, splits, normalisation, learner, schedules, `--init`,
//! `--resume`); `epoch` is the loop of steps and the epoch's validation; `evaluate` the one
//! eval loop everything shares; `selection` model selection and early stopping;
//! `checkpoint` the safetensors files and their typed metadata; `learner` one training
//! step; `diagnostics` the shift, t-SNE and DEV numbers. (`compare`, methods × seeds, is a
//! sweep with a fixed plan: `sweep::compare`.)

pub mod calibration;
pub mod checkpoint;
pub mod config;
pub mod diagnostics;
mod epoch;
pub mod eval;
pub mod evaluate;
pub mod gradcam;
pub mod learner;
pub mod selection;
mod setup;

pub use crate::models::ModelKind;
pub use config::{Method, TrainConfig, Transfer};
pub use epoch::EpochLog;
pub use evaluate::predict;
pub use learner::Learner;

use crate::data::Dataset;
use crate::error::Result;
use crate::gpu::Context;
use crate::models::Classifier;
use crate::report::{self, metrics, CalibratedScores, Calibration, Summary, TestPrediction};
use evaluate::{labels_of, predict_features};
use setup::Trainer;
pub use setup::{holds_run, Start};
use std::rc::Rc;
use std::time::Instant;

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes Ctrl-C, SIGTERM (what SLURM sends at a time limit) and SIGHUP stop training after
/// the current step with `last.safetensors` written, instead of killing the process
/// mid-write. Call once (the CLI does).
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
}

/// Test images per domain in the latent maps.
const MAP_PER_DOMAIN: usize = 2000;
const LATENT_HEADER: &str = "stage,domain,label,x,y\n";

/// Trains as `cfg` says; `progress` receives (epoch, step in epoch, steps per epoch, message).
/// With `resume`, continues the run in `cfg.out` from its `last.safetensors`: weights,
/// optimizer moments and step, batch sampler, dropout generators and model-selection state
/// all continue where they stopped, so the trajectory is the uninterrupted one.
pub fn train(
    ctx: &Rc<Context>,
    cfg: &TrainConfig,
    resume: bool,
    progress: impl FnMut(usize, usize, usize, &str),
) -> Result<Summary> {
    let start = if resume { Start::Resume } else { Start::New };
    train_run(ctx, cfg, start, progress)
}

/// `train` with the run directory's rule spelled out (`Start::Overwrite` for `--overwrite`).
pub fn train_run(
    ctx: &Rc<Context>,
    cfg: &TrainConfig,
    start: Start,
    mut progress: impl FnMut(usize, usize, usize, &str),
) -> Result<Summary> {
    let resume = start == Start::Resume;
    // `auto` becomes the variants it resolves to, so the run's config.toml and checkpoints
    // name them and every rerun, resume and eval uses the same ones.
    let resolved;
    let cfg = if crate::gpu::KernelSetting::parse(&cfg.kernels)
        == Some(crate::gpu::KernelSetting::Auto)
    {
        resolved = TrainConfig {
            kernels: crate::tune::resolve(ctx, &cfg.kernels)?.to_string(),
            ..cfg.clone()
        };
        &resolved
    } else {
        cfg
    };
    let mut t = Trainer::prepare(ctx, cfg, start)?;
    // metrics.jsonl is rewritten whole (atomically) each epoch, never appended in place; a
    // resumed run continues the lines its checkpoint's epochs wrote.
    let mut metrics_lines: Vec<String> = if resume {
        std::fs::read_to_string(t.run.path("metrics.jsonl"))
            .unwrap_or_default()
            .lines()
            .take(t.epochs_done)
            .map(String::from)
            .collect()
    } else {
        Vec::new()
    };
    // The latent map of the untrained model, drawn before the first step (a resumed run
    // keeps the one its first start wrote).
    let s_map = diagnostics::spread(&t.s.test, MAP_PER_DOMAIN);
    let t_map = diagnostics::spread(&t.t.test, MAP_PER_DOMAIN);
    if cfg.diagnostics && t.step == 0 {
        let map = t.latent_map("initial", &s_map, &t_map);
        if let Some(rows) = warn_on_error("the initial latent map", map) {
            t.run.write("latent_tsne_initial.csv", &rows)?;
        }
    }
    let started = Instant::now();
    let steps_at_start = t.step;
    let mut epochs_run = t.epochs_done;
    let mut stopped_early = false;
    for epoch in t.epochs_done..cfg.epochs {
        let log = t.epoch(epoch, &mut metrics_lines, &mut progress)?;
        epochs_run = epoch + 1;
        let better = t
            .sel
            .update(log.source_val.accuracy, log.source_val_loss, epoch);
        if better {
            t.save("best.safetensors", epoch + 1)?;
        }
        t.save("last.safetensors", epoch + 1)?;
        if t.sel.should_stop(cfg.patience) {
            stopped_early = true;
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let images = (t.step - steps_at_start) as f64 * 2.0 * cfg.batch as f64;
    t.finish(
        epochs_run,
        stopped_early,
        seconds,
        images / seconds.max(1e-9),
        (&s_map, &t_map),
    )
}

/// Diagnostics inform; they must not end a run (or every resume of it): a failure is
/// reported and the value left out.
fn warn_on_error<T>(what: &str, r: Result<T>) -> Option<T> {
    r.map_err(|e| eprintln!("warning: {what} could not be computed: {e}"))
        .ok()
}

fn prediction_rows(
    domain: &str,
    idx: &[usize],
    p: &[f32],
    cal: &[f32],
    y: Option<&[u32]>,
) -> Vec<TestPrediction> {
    idx.iter()
        .zip(p)
        .enumerate()
        .map(|(k, (&index, &prob_merger))| TestPrediction {
            domain: domain.into(),
            index,
            label: y.map(|y| y[k]),
            prob_merger,
            prob_calibrated: cal.get(k).copied(),
        })
        .collect()
}

/// Brier and ECE of one test set before and after temperature scaling.
fn calibrated_scores(raw: &metrics::Metrics, cal: &[f32], y: &[u32]) -> CalibratedScores {
    let c = metrics::compute(cal, y);
    CalibratedScores {
        brier_raw: raw.brier,
        brier: c.brier,
        ece_raw: raw.ece,
        ece: c.ece,
    }
}

impl Trainer<'_> {
    /// Tests the kept model (best on source validation), computes the selection scores and
    /// the final latent map, and writes the predictions, `summary.json` and the report.
    fn finish(
        &mut self,
        epochs_run: usize,
        stopped_early: bool,
        seconds: f64,
        train_images_per_s: f64,
        (s_map, t_map): (&[usize], &[usize]),
    ) -> Result<Summary> {
        let ctx = self.ctx.clone();
        let best_path = self.run.path("best.safetensors");
        checkpoint::restore(&checkpoint::load(&best_path)?, &self.state, &best_path)?;
        let model = self.learner.model.as_ref();
        let fs = evaluate::predict_margins(model, &ctx, &self.src, &self.s.test)?;
        let ps = fs.probs.clone();
        let ys = labels_of(&self.src, &self.s.test);
        let source_test = metrics::compute(&ps, &ys);
        // Target probabilities are written even without labels: other tools use them.
        let ft = if self.t.test.is_empty() {
            evaluate::Features::default()
        } else {
            evaluate::predict_margins(model, &ctx, &self.tgt, &self.t.test)?
        };
        let pt = ft.probs.clone();
        // Temperature scaling on the source validation split (never on target labels).
        let fv = evaluate::predict_margins(model, &ctx, &self.src, &self.s.val)?;
        let temperature =
            calibration::fit_temperature(&fv.margins, &labels_of(&self.src, &self.s.val));
        let cal = |m: &[f32]| -> Vec<f32> {
            m.iter()
                .map(|&x| calibration::calibrated(x, temperature))
                .collect()
        };
        let (cs, ct) = (cal(&fs.margins), cal(&ft.margins));
        checkpoint::set_metadata(&best_path, "temperature", &temperature.to_string())?;
        let selection = warn_on_error(
            "the selection scores",
            selection::selection_scores(&ctx, model, (&self.src, &self.s), (&self.tgt, &self.t)),
        )
        .flatten();
        if self.cfg.diagnostics {
            let map = self.latent_map("final", s_map, t_map);
            if let Some(fin) = warn_on_error("the final latent map", map) {
                let mut rows = std::fs::read_to_string(self.run.path("latent_tsne_initial.csv"))
                    .unwrap_or_else(|_| LATENT_HEADER.to_string());
                rows.push_str(fin.strip_prefix(LATENT_HEADER).unwrap_or(&fin));
                self.run.write("latent_tsne.csv", &rows)?;
            }
        }
        let yt = self
            .tgt
            .gather_labels(&self.t.test)
            .filter(|_| !self.t.test.is_empty());
        let target_test = yt.as_ref().map(|y| metrics::compute(&pt, y));
        let calibration = Calibration {
            temperature,
            source_test: calibrated_scores(&source_test, &cs, &ys),
            target_test: target_test
                .as_ref()
                .zip(yt.as_ref())
                .map(|(m, y)| calibrated_scores(m, &ct, y)),
        };
        let mut predictions = prediction_rows("source", &self.s.test, &ps, &cs, Some(&ys));
        predictions.extend(prediction_rows(
            "target",
            &self.t.test,
            &pt,
            &ct,
            yt.as_deref(),
        ));
        report::write_test_predictions(&self.run.path("test_predictions.csv"), &predictions)?;
        let summary = Summary {
            method: self.method.to_string(),
            model: self.cfg.model,
            epochs_run,
            best_epoch: self.sel.best_epoch(),
            steps: self.step,
            seconds,
            train_images_per_s,
            source_test,
            target_test,
            stopped_early,
            selection,
            calibration: Some(calibration),
            adapter: Some(format!("{} ({})", ctx.info.name, ctx.info.driver_info)),
            kernel_variant: Some(crate::gpu::describe(&ctx)),
            gpu_peak_bytes: Some(ctx.memory().peak),
            peak_rss_bytes: crate::host::peak_rss_bytes(),
        };
        self.run.write(
            "summary.json",
            &serde_json::to_string_pretty(&summary).expect("summary serialises"),
        )?;
        report::write_report(&self.run.dir)?;
        Ok(summary)
    }

    /// One t-SNE of the source and target features of the model together, as
    /// `latent_tsne.csv` rows.
    fn latent_map(&self, stage: &str, s_idx: &[usize], t_idx: &[usize]) -> Result<String> {
        latent_map(
            stage,
            self.learner.model.as_ref(),
            &self.ctx,
            (&self.src, s_idx),
            (&self.tgt, t_idx),
            self.cfg.seed,
        )
    }
}

fn latent_map(
    stage: &str,
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    (src, s_idx): (&Dataset, &[usize]),
    (tgt, t_idx): (&Dataset, &[usize]),
    seed: u64,
) -> Result<String> {
    let fs = predict_features(model, ctx, src, s_idx)?;
    let ft = predict_features(model, ctx, tgt, t_idx)?;
    let mut feats = fs.feats.clone();
    feats.extend_from_slice(&ft.feats);
    let xy = diagnostics::tsne(&feats, fs.dim.max(1), seed);
    let ys = src.gather_labels(s_idx);
    let yt = tgt.gather_labels(t_idx);
    let mut out = String::from(LATENT_HEADER);
    let label = |y: &Option<Vec<u32>>, i: usize| y.as_ref().map(|y| y[i].to_string());
    for (k, (x, y)) in xy.iter().enumerate() {
        let (domain, l) = if k < fs.rows() {
            ("source", label(&ys, k))
        } else {
            ("target", label(&yt, k - fs.rows()))
        };
        out.push_str(&format!(
            "{stage},{domain},{},{x},{y}\n",
            l.unwrap_or_default()
        ));
    }
    Ok(out)
}
