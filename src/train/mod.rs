//! The trainer: source-labelled, target-unlabelled training with a transfer loss, early
//! stopping and model selection on source validation only, checkpoints and a run
//! directory (config.toml, metrics.jsonl, best/last.safetensors, summary.json, report.md).

pub mod checkpoint;
pub mod config;
pub mod diagnostics;
pub mod eval;
pub mod gradcam;
pub mod learner;
pub mod metrics;
pub mod report;

pub use learner::Learner;

pub use config::{Method, ModelKind, TrainConfig, Transfer};

use crate::data::split::{split_indices, Normalisation};
use crate::data::{self, Dataset, Sampler};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::models::{Classifier, DeepMerge, ResNet18};
use crate::optim::Schedule;
use crate::tensor::create::Rng;
use crate::tensor::Tensor;
use metrics::Metrics;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes Ctrl-C stop training after the current step with `last.safetensors` written,
/// instead of killing the process mid-write. Call once (the CLI does).
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst));
}

/// Names of the loss terms, in the order they are logged.
pub const TERMS: [&str; 5] = ["ce", "transfer", "fisher", "entropy", "total"];

#[derive(Debug, Clone, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub step: u64,
    pub lr: f32,
    pub lambda: f32,
    pub losses: HashMap<String, f64>,
    pub source_val_loss: f64,
    pub source_val: Metrics,
    pub target_val: Option<Metrics>,
    /// DANN: fraction of source / target rows the discriminator classified correctly.
    pub discriminator_accuracy: Option<(f64, f64)>,
    /// Held-out source/target feature shift (absent with `diagnostics = false`).
    pub shift: Option<diagnostics::Shift>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub method: String,
    pub model: ModelKind,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub steps: u64,
    pub seconds: f64,
    pub train_images_per_s: f64,
    pub source_test: Metrics,
    pub target_test: Option<Metrics>,
    pub stopped_early: bool,
    /// Scores for choosing among runs without target labels (see `sweep summary`).
    #[serde(default)]
    pub selection: Option<diagnostics::SelectionScores>,
}

pub(crate) fn build_model(
    kind: ModelKind,
    ctx: &Rc<Context>,
    rng: &mut Rng,
) -> Result<Box<dyn Classifier>> {
    Ok(match kind {
        ModelKind::DeepMerge => Box::new(DeepMerge::new(ctx, rng)?),
        ModelKind::ResNet18 => Box::new(ResNet18::new(ctx, rng)?),
    })
}

/// Merger probabilities of `indices` (eval mode, batches of 256).
pub fn predict(
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    data: &Dataset,
    indices: &[usize],
) -> Result<Vec<f32>> {
    Ok(diagnostics::eval_batches(model, ctx, data, indices, false)?.probs)
}

fn labels_of(data: &Dataset, indices: &[usize]) -> Vec<u32> {
    data.gather_labels(indices).unwrap_or_default()
}

/// Mean cross-entropy of merger probabilities against labels (host side, for validation).
fn nll(p: &[f32], y: &[u32]) -> f64 {
    let eps = 1e-7f64;
    p.iter()
        .zip(y)
        .map(|(&pi, &yi)| {
            -(if yi == 1 { pi as f64 } else { 1.0 - pi as f64 })
                .max(eps)
                .ln()
        })
        .sum::<f64>()
        / p.len().max(1) as f64
}

fn load_data(cfg: &TrainConfig) -> Result<(Dataset, Dataset)> {
    match (&cfg.source, &cfg.target) {
        (Some(s), Some(t)) => {
            let src = data::load(Path::new(s), cfg.source_labels.as_deref().map(Path::new))?;
            let tgt = data::load(Path::new(t), cfg.target_labels.as_deref().map(Path::new))?;
            if src.labels.is_none() {
                return Err(Error::Invalid(format!(
                    "{s}: source images need labels (--source-labels)"
                )));
            }
            if (src.c, src.h, src.w) != (tgt.c, tgt.h, tgt.w) {
                return Err(Error::Invalid(format!(
                    "source images are {}x{}x{}, target images {}x{}x{}",
                    src.c, src.h, src.w, tgt.c, tgt.h, tgt.w
                )));
            }
            Ok((src, tgt))
        }
        _ => data::default_dataset(&data::default_cache_dir()),
    }
}

struct Run {
    dir: PathBuf,
}

impl Run {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn write(&self, name: &str, text: &str) -> Result<()> {
        checkpoint::write_atomic(&self.path(name), text.as_bytes())
    }
}

/// Model-selection and early-stopping state, saved with checkpoints so a resumed run
/// decides exactly as an uninterrupted one.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
struct Selection {
    /// (source validation accuracy, its loss, epoch) of the kept model
    best: Option<(f64, f64, usize)>,
    /// Lowest source validation loss so far, and epochs since it improved.
    best_loss: Option<f64>,
    since_best_loss: usize,
}

/// Trains as `cfg` says; `progress` receives (epoch, step in epoch, steps per epoch, message).
/// With `resume`, continues the run in `cfg.out` from its `last.safetensors`: weights,
/// optimizer moments and step, batch sampler, dropout generators and model-selection state
/// all continue where they stopped, so the trajectory is the uninterrupted one.
pub fn train(
    ctx: &Rc<Context>,
    cfg: &TrainConfig,
    resume: bool,
    mut progress: impl FnMut(usize, usize, usize, &str),
) -> Result<Summary> {
    cfg.validate()?;
    let method = cfg.method()?;
    let run = Run {
        dir: PathBuf::from(&cfg.out),
    };
    std::fs::create_dir_all(&run.dir).map_err(|source| Error::Io {
        path: run.dir.display().to_string(),
        source,
    })?;
    run.write("config.toml", &cfg.to_toml())?;

    let (mut src, mut tgt) = load_data(cfg)?;
    let (s_train, s_val, s_test) = split_indices(src.n, cfg.seed);
    let (t_train, t_val, t_test) = split_indices(tgt.n, cfg.seed.wrapping_add(1));
    let s_norm = Normalisation::compute(&src, &s_train);
    let t_norm = Normalisation::compute(&tgt, &t_train);
    src.normalise(&s_norm);
    tgt.normalise(&t_norm);
    let norm_json = serde_json::json!({ "source": s_norm, "target": t_norm }).to_string();

    let mut learner = Learner::new(ctx, cfg)?;
    let lr = cfg.resolved_lr()?;
    let steps_per_epoch = s_train.len().div_ceil(cfg.batch).max(1);
    let total_steps = (steps_per_epoch * cfg.epochs) as u64;
    let schedule = match cfg.schedule {
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
    };
    let grl = cfg.grl();
    let mut sampler = Sampler::new(cfg.seed);

    let state = learner.state();
    let ckpt = learner.checkpoint_tensors();
    let counters = learner.counters();
    // epochs_done: epochs whose evaluation finished; step: optimisation steps taken.
    let meta =
        |epochs_done: usize, step: u64, sel: &Selection, rngs: &[Rng]| -> HashMap<String, String> {
            HashMap::from([
                ("format".into(), "tidal-checkpoint-1".into()),
                ("model".into(), format!("{:?}", cfg.model).to_lowercase()),
                ("method".into(), method.to_string()),
                ("epochs_done".into(), epochs_done.to_string()),
                ("step".into(), step.to_string()),
                ("rng_seed".into(), cfg.seed.to_string()),
                (
                    "dropout_rngs".into(),
                    serde_json::to_string(rngs).expect("rngs serialise"),
                ),
                (
                    "selection".into(),
                    serde_json::to_string(sel).expect("selection serialises"),
                ),
                ("normalisation".into(), norm_json.clone()),
                ("config".into(), cfg.to_toml()),
            ])
        };
    let mut sel = Selection::default();
    let (mut epochs_done, mut step) = (0usize, 0u64);
    if let (Some(init), false) = (&cfg.init, resume) {
        let path = PathBuf::from(init);
        let loaded = checkpoint::load(&path)?;
        let kind = eval::model_kind(&loaded, &path)?;
        if kind != cfg.model {
            return Err(Error::Checkpoint {
                path: path.display().to_string(),
                key: "model".into(),
                reason: format!("holds {kind:?}, the run trains {:?}", cfg.model),
            });
        }
        checkpoint::restore(&loaded, &state, &path)?;
        checkpoint::restore_counters(&loaded, &counters);
    }
    if resume {
        let path = run.path("last.safetensors");
        let loaded = checkpoint::load(&path)?;
        checkpoint::restore(&loaded, &ckpt, &path)?;
        checkpoint::restore_counters(&loaded, &counters);
        let field = |k: &str| {
            loaded.metadata.get(k).cloned().ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: checkpoint metadata lacks '{k}'",
                    path.display()
                ))
            })
        };
        let bad = |k: &str, e: String| Error::Invalid(format!("{}: '{k}': {e}", path.display()));
        epochs_done = field("epochs_done")?
            .parse()
            .map_err(|e| bad("epochs_done", format!("{e}")))?;
        step = field("step")?
            .parse()
            .map_err(|e| bad("step", format!("{e}")))?;
        sel = serde_json::from_str(&field("selection")?)
            .map_err(|e| bad("selection", e.to_string()))?;
        let rngs: Vec<Rng> = serde_json::from_str(&field("dropout_rngs")?)
            .map_err(|e| bad("dropout_rngs", e.to_string()))?;
        learner.set_rng_state(&rngs);
        learner.opt.step = step;
        // The sampler is a pure function of the seed and the draws so far: replay them.
        for _ in 0..step {
            sampler.step(&s_train, &t_train, cfg.batch);
        }
    }

    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(resume)
        .write(true)
        .truncate(!resume)
        .open(run.path("metrics.jsonl"))
        .map_err(|source| Error::Io {
            path: run.path("metrics.jsonl").display().to_string(),
            source,
        })?;
    // The latent map of the untrained model, drawn before the first step (a resumed run
    // keeps the one its first start wrote).
    let s_map = diagnostics::spread(&s_test, MAP_PER_DOMAIN);
    let t_map = diagnostics::spread(&t_test, MAP_PER_DOMAIN);
    if cfg.diagnostics && step == 0 {
        let map = latent_map(
            "initial",
            learner.model.as_ref(),
            ctx,
            &src,
            &s_map,
            &tgt,
            &t_map,
            cfg.seed,
        );
        if let Some(rows) = warn_on_error("the initial latent map", map) {
            run.write("latent_tsne_initial.csv", &rows)?;
        }
    }
    let b = cfg.batch;
    let (mut xs, mut xt) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let steps_at_start = step;
    let mut epochs_run = epochs_done;
    let mut stopped_early = false;
    let mut last_msg = String::new();
    for epoch in epochs_done..cfg.epochs {
        let t_epoch = Instant::now();
        learner.set_training(true);
        let mut logged: Vec<[Tensor; 5]> = Vec::with_capacity(steps_per_epoch);
        let mut domain_logits: Vec<Tensor> = Vec::new();
        let (mut cur_lr, mut cur_lambda) = (lr, 0.0);
        // A run interrupted mid-epoch resumes at the step where it stopped.
        let first = (step - (epoch * steps_per_epoch) as u64).min(steps_per_epoch as u64) as usize;
        for s in first..steps_per_epoch {
            cur_lr = schedule.lr(step);
            cur_lambda = grl.lambda(step as f32 / total_steps.max(1) as f32);
            let (si, ti) = sampler.step(&s_train, &t_train, b);
            src.gather_images(&si, None, &mut xs);
            tgt.gather_images(&ti, None, &mut xt);
            xs.extend_from_slice(&xt);
            let x = Tensor::from_slice(ctx, &xs, &[2 * b, src.c, src.h, src.w])?;
            let y = Tensor::from_u32(ctx, &labels_of(&src, &si), &[b])?;

            let out = learner.step(&x, &y, cur_lr, cur_lambda)?;
            domain_logits.extend(out.domain_logits);
            logged.push(out.terms);
            step += 1;
            // A readback every few steps keeps the bar's numbers fresh without a stall per step.
            if s % 4 == 3 || s + 1 == steps_per_epoch {
                let last = logged.last().unwrap();
                let refs: Vec<&Tensor> = last.iter().collect();
                let v = Tensor::read_all(&refs)?;
                last_msg = format!(
                    "ce {:.4} transfer {:.4} fisher {:.4} entropy {:.4} | λ {:.3} lr {:.2e}",
                    v[0][0], v[1][0], v[2][0], v[3][0], cur_lambda, cur_lr
                );
            }
            progress(epoch, s + 1, steps_per_epoch, &last_msg);
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                let m = meta(epoch, step, &sel, &learner.rng_state());
                checkpoint::save(&run.path("last.safetensors"), &ckpt, &counters, m)?;
                return Err(Error::Invalid(format!(
                    "interrupted at step {step} (epoch {epoch}); {} written",
                    run.path("last.safetensors").display()
                )));
            }
        }
        // Epoch means of every term, read in one bulk readback; stop on NaN/Inf.
        let flat: Vec<&Tensor> = logged.iter().flat_map(|t| t.iter()).collect();
        let vals = Tensor::read_all(&flat)?;
        let mut means = HashMap::new();
        for (k, name) in TERMS.iter().enumerate() {
            let mut sum = 0.0;
            for (si, v) in vals.iter().skip(k).step_by(TERMS.len()).enumerate() {
                if !v[0].is_finite() {
                    return Err(Error::Invalid(format!(
                        "loss term '{name}' is {} at step {} (epoch {epoch}); the last good checkpoint is {}",
                        v[0],
                        step as usize - logged.len() + si,
                        run.path("last.safetensors").display()
                    )));
                }
                sum += v[0] as f64;
            }
            means.insert(name.to_string(), sum / logged.len() as f64);
        }
        let discriminator_accuracy = if domain_logits.is_empty() {
            None
        } else {
            let refs: Vec<&Tensor> = domain_logits.iter().collect();
            let (mut cs, mut ct) = (0usize, 0usize);
            for l in Tensor::read_all(&refs)? {
                cs += l[..b].iter().filter(|&&z| z > 0.0).count();
                ct += l[b..].iter().filter(|&&z| z <= 0.0).count();
            }
            let n = (domain_logits.len() * b) as f64;
            Some((cs as f64 / n, ct as f64 / n))
        };

        let fs = diagnostics::predict_features(learner.model.as_ref(), ctx, &src, &s_val)?;
        let ys = labels_of(&src, &s_val);
        let source_val = metrics::compute(&fs.probs, &ys);
        let source_val_loss = nll(&fs.probs, &ys);
        // Target validation images are run when their labels or the diagnostics need them.
        let ft = if (tgt.labels.is_some() || cfg.diagnostics) && !t_val.is_empty() {
            diagnostics::predict_features(learner.model.as_ref(), ctx, &tgt, &t_val)?
        } else {
            diagnostics::Features::default()
        };
        let target_val = if tgt.labels.is_some() && !t_val.is_empty() {
            Some(metrics::compute(&ft.probs, &labels_of(&tgt, &t_val)))
        } else {
            None
        };
        let shift = if cfg.diagnostics {
            warn_on_error("the shift diagnostics", diagnostics::shift(ctx, &fs, &ft))
        } else {
            None
        };
        let log = EpochLog {
            epoch,
            step,
            lr: cur_lr,
            lambda: cur_lambda,
            losses: means,
            source_val_loss,
            source_val,
            target_val,
            discriminator_accuracy,
            shift,
            seconds: t_epoch.elapsed().as_secs_f64(),
        };
        writeln!(
            metrics_file,
            "{}",
            serde_json::to_string(&log).expect("log serialises")
        )
        .and_then(|_| metrics_file.flush())
        .map_err(|source| Error::Io {
            path: run.path("metrics.jsonl").display().to_string(),
            source,
        })?;
        epochs_run = epoch + 1;
        // Model selection on source validation accuracy only (ties: lower loss).
        let better = match sel.best {
            None => true,
            Some((acc, loss, _)) => {
                source_val.accuracy > acc || (source_val.accuracy == acc && source_val_loss < loss)
            }
        };
        if better {
            sel.best = Some((source_val.accuracy, source_val_loss, epoch));
        }
        if sel.best_loss.is_none_or(|l| source_val_loss < l) {
            sel.best_loss = Some(source_val_loss);
            sel.since_best_loss = 0;
        } else {
            sel.since_best_loss += 1;
        }
        let m = meta(epoch + 1, step, &sel, &learner.rng_state());
        if better {
            checkpoint::save(&run.path("best.safetensors"), &ckpt, &counters, m.clone())?;
        }
        checkpoint::save(&run.path("last.safetensors"), &ckpt, &counters, m)?;
        if sel.since_best_loss >= cfg.patience {
            stopped_early = true;
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let best_epoch = sel.best.map(|b| b.2).unwrap_or(0);
    // Test with the kept (best on source validation) model.
    let best_path = run.path("best.safetensors");
    checkpoint::restore(&checkpoint::load(&best_path)?, &state, &best_path)?;
    let model = learner.model.as_ref();
    let ps = predict(model, ctx, &src, &s_test)?;
    let ys = labels_of(&src, &s_test);
    let source_test = metrics::compute(&ps, &ys);
    // Target probabilities are written even without labels: other tools use them.
    let pt = if t_test.is_empty() {
        Vec::new()
    } else {
        predict(model, ctx, &tgt, &t_test)?
    };
    let selection = warn_on_error(
        "the selection scores",
        selection_scores(ctx, model, &src, &tgt, &s_train, &t_train, &s_val, &t_val),
    )
    .flatten();
    if cfg.diagnostics {
        let map = latent_map("final", model, ctx, &src, &s_map, &tgt, &t_map, cfg.seed);
        if let Some(fin) = warn_on_error("the final latent map", map) {
            let mut rows = std::fs::read_to_string(run.path("latent_tsne_initial.csv"))
                .unwrap_or_else(|_| LATENT_HEADER.to_string());
            rows.push_str(fin.strip_prefix(LATENT_HEADER).unwrap_or(&fin));
            run.write("latent_tsne.csv", &rows)?;
        }
    }
    let yt = tgt.gather_labels(&t_test).filter(|_| !t_test.is_empty());
    let target_test = yt.as_ref().map(|y| metrics::compute(&pt, y));
    let rows = |domain: &str, idx: &[usize], p: &[f32], y: Option<&[u32]>| {
        idx.iter()
            .zip(p)
            .enumerate()
            .map(|(k, (&index, &prob_merger))| report::TestPrediction {
                domain: domain.into(),
                index,
                label: y.map(|y| y[k]),
                prob_merger,
            })
            .collect::<Vec<_>>()
    };
    let mut predictions = rows("source", &s_test, &ps, Some(&ys));
    predictions.extend(rows("target", &t_test, &pt, yt.as_deref()));
    report::write_test_predictions(&run.path("test_predictions.csv"), &predictions)?;
    let summary = Summary {
        method: method.to_string(),
        model: cfg.model,
        epochs_run,
        best_epoch,
        steps: step,
        seconds,
        train_images_per_s: ((step - steps_at_start) as f64 * 2.0 * b as f64) / seconds.max(1e-9),
        source_test,
        target_test,
        stopped_early,
        selection,
    };
    run.write(
        "summary.json",
        &serde_json::to_string_pretty(&summary).expect("summary serialises"),
    )?;
    report::write_report(&run.dir)?;
    Ok(summary)
}

/// Test images per domain in the latent maps.
const MAP_PER_DOMAIN: usize = 2000;
const LATENT_HEADER: &str = "stage,domain,label,x,y\n";

/// Diagnostics inform; they must not end a run (or every resume of it): a failure is
/// reported and the value left out.
fn warn_on_error<T>(what: &str, r: Result<T>) -> Option<T> {
    r.map_err(|e| eprintln!("warning: {what} could not be computed: {e}"))
        .ok()
}

/// One t-SNE of the source and target features of `model` together, as `latent_tsne.csv`
/// rows.
#[allow(clippy::too_many_arguments)]
fn latent_map(
    stage: &str,
    model: &dyn Classifier,
    ctx: &Rc<Context>,
    src: &Dataset,
    s_idx: &[usize],
    tgt: &Dataset,
    t_idx: &[usize],
    seed: u64,
) -> Result<String> {
    let fs = diagnostics::predict_features(model, ctx, src, s_idx)?;
    let ft = diagnostics::predict_features(model, ctx, tgt, t_idx)?;
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

/// Unsupervised selection scores of the current model: DEV risk (importance weights from a
/// domain classifier fitted on up to 500 training images per domain), target prediction
/// entropy and held-out MMD on the validation sets. None without target validation images.
#[allow(clippy::too_many_arguments)]
fn selection_scores(
    ctx: &Rc<Context>,
    model: &dyn Classifier,
    src: &Dataset,
    tgt: &Dataset,
    s_train: &[usize],
    t_train: &[usize],
    s_val: &[usize],
    t_val: &[usize],
) -> Result<Option<diagnostics::SelectionScores>> {
    if t_val.is_empty() || s_val.is_empty() {
        return Ok(None);
    }
    let fs = diagnostics::predict_features(model, ctx, src, s_val)?;
    let ft = diagnostics::predict_features(model, ctx, tgt, t_val)?;
    let s_sub = diagnostics::spread(s_train, 500);
    let t_sub = diagnostics::spread(t_train, 500);
    let fs_train = diagnostics::predict_features(model, ctx, src, &s_sub)?;
    let ft_train = diagnostics::predict_features(model, ctx, tgt, &t_sub)?;
    let ys = labels_of(src, s_val);
    let losses: Vec<f64> = fs
        .probs
        .iter()
        .zip(&ys)
        .map(|(&p, &y)| nll(&[p], &[y]))
        .collect();
    let weights = diagnostics::dev_weights(ctx, &fs_train, &ft_train, &fs)?;
    let acc = metrics::compute(&fs.probs, &ys).accuracy;
    Ok(Some(diagnostics::SelectionScores {
        source_val_acc: acc,
        source_val_loss: nll(&fs.probs, &ys),
        dev_risk: diagnostics::dev_risk(&weights, &losses),
        target_entropy: diagnostics::mean_entropy(&ft.probs),
        heldout_mmd: diagnostics::shift(ctx, &fs, &ft)?.heldout_mmd,
    }))
}

/// The metrics table, as Markdown.
pub fn metrics_table(rows: &[(&str, Option<&Metrics>)]) -> String {
    let mut s = String::from("| test set | n | accuracy | precision | recall | F1 | ROC AUC | Brier | ECE |\n|---|---|---|---|---|---|---|---|---|\n");
    for (name, m) in rows {
        match m {
            Some(m) => s.push_str(&format!(
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                m.n, m.accuracy, m.precision, m.recall, m.f1, m.auc, m.brier, m.ece
            )),
            None => s.push_str(&format!("| {name} | – | no labels | | | | | | |\n")),
        }
    }
    s
}

/// One row of `compare`: a method's test metrics over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub method: String,
    pub source: Vec<Metrics>,
    pub target: Vec<Metrics>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// The published-table view of `compare`: source and target accuracy and AUC per method
/// (mean ± std over seeds), marking methods whose target accuracy is below noDA's.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let fmt = |v: &[f64]| {
        let (m, s) = mean_std(v);
        if v.len() > 1 {
            format!("{:.1} ± {:.1}", m * 100.0, s * 100.0)
        } else {
            format!("{:.1}", m * 100.0)
        }
    };
    let noda = rows
        .iter()
        .find(|r| r.method == "noda")
        .map(|r| mean_std(&r.target.iter().map(|m| m.accuracy).collect::<Vec<_>>()).0);
    let mut s = String::from("| method | source acc % | target acc % | source AUC % | target AUC % | note |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let sa: Vec<f64> = r.source.iter().map(|m| m.accuracy).collect();
        let ta: Vec<f64> = r.target.iter().map(|m| m.accuracy).collect();
        let su: Vec<f64> = r.source.iter().map(|m| m.auc).collect();
        let tu: Vec<f64> = r.target.iter().map(|m| m.auc).collect();
        let note = match noda {
            Some(n) if r.method != "noda" && !ta.is_empty() && mean_std(&ta).0 < n => {
                "negative transfer (target below noDA)"
            }
            _ => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {note} |\n",
            r.method,
            fmt(&sa),
            fmt(&ta),
            fmt(&su),
            fmt(&tu)
        ));
    }
    s
}
