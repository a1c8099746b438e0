//! The epoch loop: steps on sampled source + target batches, the epoch's loss means (a
//! NaN or infinite term stops the run), validation on both domains, and the
//! `metrics.jsonl` line.

use super::diagnostics;
use super::evaluate::{labels_of, nll, predict_features, Features};
use super::setup::Trainer;
use super::{warn_on_error, INTERRUPTED};
use crate::error::{Error, Result};
use crate::report::metrics::{self, Metrics};
use crate::report::TERMS;
use crate::tensor::Tensor;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

/// One line of `metrics.jsonl`.
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

impl Trainer<'_> {
    /// Trains epoch `epoch` (from the step where a resumed run stopped), validates, and
    /// appends its line to `metrics.jsonl`. `progress` gets (epoch, step in epoch, steps per
    /// epoch, message).
    pub fn epoch(
        &mut self,
        epoch: usize,
        metrics_lines: &mut Vec<String>,
        progress: &mut impl FnMut(usize, usize, usize, &str),
    ) -> Result<EpochLog> {
        let t_epoch = Instant::now();
        let (ctx, cfg, b) = (self.ctx.clone(), self.cfg, self.cfg.batch);
        self.learner.set_training(true);
        let mut logged: Vec<[Tensor; 5]> = Vec::with_capacity(self.steps_per_epoch);
        let mut domain_logits: Vec<Tensor> = Vec::new();
        let (mut cur_lr, mut cur_lambda) = (self.lr, 0.0);
        let (mut xs, mut xt) = (Vec::new(), Vec::new());
        let mut last_msg = String::new();
        // A run interrupted mid-epoch resumes at the step where it stopped.
        let first = (self.step - (epoch * self.steps_per_epoch) as u64)
            .min(self.steps_per_epoch as u64) as usize;
        for s in first..self.steps_per_epoch {
            cur_lr = self.schedule.lr(self.step);
            cur_lambda = self
                .grl
                .lambda(self.step as f32 / self.total_steps.max(1) as f32);
            let (si, ti) = self.sampler.step(&self.s.train, &self.t.train, b);
            self.src.gather_images(&si, None, &mut xs);
            self.tgt.gather_images(&ti, None, &mut xt);
            xs.extend_from_slice(&xt);
            let x = Tensor::from_slice(&ctx, &xs, &[2 * b, self.src.c, self.src.h, self.src.w])?;
            let y = Tensor::from_u32(&ctx, &labels_of(&self.src, &si), &[b])?;

            let out = self.learner.step(&x, &y, cur_lr, cur_lambda)?;
            domain_logits.extend(out.domain_logits);
            logged.push(out.terms);
            self.step += 1;
            // A readback every few steps keeps the bar's numbers fresh without a stall per step.
            if s % 4 == 3 || s + 1 == self.steps_per_epoch {
                let last = logged.last().expect("a step was logged");
                let refs: Vec<&Tensor> = last.iter().collect();
                let v = Tensor::read_all(&refs)?;
                last_msg = format!(
                    "ce {:.4} transfer {:.4} fisher {:.4} entropy {:.4} | λ {:.3} lr {:.2e}",
                    v[0][0], v[1][0], v[2][0], v[3][0], cur_lambda, cur_lr
                );
            }
            progress(epoch, s + 1, self.steps_per_epoch, &last_msg);
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                self.save("last.safetensors", epoch)?;
                return Err(Error::Interrupted {
                    step: self.step,
                    epoch,
                    checkpoint: self.run.path("last.safetensors").display().to_string(),
                });
            }
        }
        let means = self.loss_means(&logged, epoch)?;
        let discriminator_accuracy = discriminator_accuracy(&domain_logits, b)?;

        let fs = predict_features(self.learner.model.as_ref(), &ctx, &self.src, &self.s.val)?;
        let ys = labels_of(&self.src, &self.s.val);
        let source_val = metrics::compute(&fs.probs, &ys);
        let source_val_loss = nll(&fs.probs, &ys);
        // Target validation images are run when their labels or the diagnostics need them.
        let ft = if (self.tgt.labels.is_some() || cfg.diagnostics) && !self.t.val.is_empty() {
            predict_features(self.learner.model.as_ref(), &ctx, &self.tgt, &self.t.val)?
        } else {
            Features::default()
        };
        let target_val = if self.tgt.labels.is_some() && !self.t.val.is_empty() {
            Some(metrics::compute(
                &ft.probs,
                &labels_of(&self.tgt, &self.t.val),
            ))
        } else {
            None
        };
        let shift = if cfg.diagnostics {
            warn_on_error("the shift diagnostics", diagnostics::shift(&ctx, &fs, &ft))
        } else {
            None
        };
        let log = EpochLog {
            epoch,
            step: self.step,
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
        metrics_lines.push(serde_json::to_string(&log).expect("log serialises"));
        self.run
            .write("metrics.jsonl", &(metrics_lines.join("\n") + "\n"))?;
        Ok(log)
    }

    /// Epoch means of every term, read in one bulk readback; a NaN or Inf stops the run.
    fn loss_means(&self, logged: &[[Tensor; 5]], epoch: usize) -> Result<HashMap<String, f64>> {
        let flat: Vec<&Tensor> = logged.iter().flat_map(|t| t.iter()).collect();
        let vals = Tensor::read_all(&flat)?;
        let mut means = HashMap::new();
        for (k, name) in TERMS.iter().enumerate() {
            let mut sum = 0.0;
            for (si, v) in vals.iter().skip(k).step_by(TERMS.len()).enumerate() {
                if !v[0].is_finite() {
                    return Err(Error::NonFinite {
                        term: name.to_string(),
                        value: v[0],
                        step: self.step - logged.len() as u64 + si as u64,
                        epoch,
                        last_good: self.last_good(),
                    });
                }
                sum += v[0] as f64;
            }
            means.insert(name.to_string(), sum / logged.len() as f64);
        }
        Ok(means)
    }
}

/// DANN: the fraction of source (target) rows the discriminator put on the right side.
fn discriminator_accuracy(domain_logits: &[Tensor], b: usize) -> Result<Option<(f64, f64)>> {
    if domain_logits.is_empty() {
        return Ok(None);
    }
    let refs: Vec<&Tensor> = domain_logits.iter().collect();
    let (mut cs, mut ct) = (0usize, 0usize);
    for l in Tensor::read_all(&refs)? {
        cs += l[..b].iter().filter(|&&z| z > 0.0).count();
        ct += l[b..].iter().filter(|&&z| z <= 0.0).count();
    }
    let n = (domain_logits.len() * b) as f64;
    Ok(Some((cs as f64 / n, ct as f64 / n)))
}
