//! One training step of a method: the model, the DANN discriminator and the Fisher
//! centres when the method has them, the optimizer, and the loss of
//! `CE(source) + w·transfer + fisher + λ_e·entropy`. Shared by the trainer and the
//! training-step benchmark.

use super::config::{Method, TrainConfig, Transfer};
use crate::error::Result;
use crate::gpu::Context;
use crate::losses::fisher::{fisher_loss, FisherConfig};
use crate::losses::{
    coral, cross_entropy, domain_loss, entropy, mmd_joint, CoralForm, EntropyForm, MmdConfig,
};
use crate::models::{Classifier, Discriminator};
use crate::nn::Module;
use crate::ops::random::Rng;
use crate::optim::{self, Optimizer, ParamGroup};
use crate::tensor::Tensor;
use std::rc::Rc;

pub struct Learner {
    pub model: Box<dyn Classifier>,
    pub disc: Option<Discriminator>,
    pub centres: Option<Tensor>,
    pub opt: Optimizer,
    pub method: Method,
    ctx: Rc<Context>,
    mmd: MmdConfig,
    fisher: FisherConfig,
    coral_form: CoralForm,
    entropy_form: EntropyForm,
    entropy_weight: f32,
    transfer_weight: f32,
    /// > 0: moving-average centres (not learned).
    centre_momentum: f32,
}

/// What a step leaves on the GPU: the loss terms (ce, transfer, fisher, entropy, total;
/// detached scalars) and, for DANN, the domain logits of the batch.
pub struct StepOut {
    pub terms: [Tensor; 5],
    pub domain_logits: Option<Tensor>,
}

impl Learner {
    /// A learner for three-band images (the published data).
    pub fn new(ctx: &Rc<Context>, cfg: &TrainConfig) -> Result<Learner> {
        Learner::with_bands(ctx, cfg, 3)
    }

    /// A learner whose model takes images of `bands` channels.
    pub fn with_bands(ctx: &Rc<Context>, cfg: &TrainConfig, bands: usize) -> Result<Learner> {
        let method = cfg.method;
        let mut rng = Rng::new(cfg.seed);
        let model = crate::models::build(cfg.model, bands, ctx, &mut rng)?;
        let feat = model.feature_dim();
        let disc = if method.transfer == Transfer::Dann {
            Some(Discriminator::new(ctx, &mut rng, feat, 1024)?)
        } else {
            None
        };
        // Centres: learned (with their own learning-rate multiplier), moved towards the batch
        // class means (centre_momentum > 0), or fixed at their initial draw (centre_lr_mult
        // = 0, as in the published runs, which never gave them to the optimizer).
        let centres = if method.fisher {
            let c = rng.normal(ctx, &[2, feat], 0.0, cfg.centre_init_std)?;
            Some(if cfg.centre_momentum > 0.0 || cfg.centre_lr_mult == 0.0 {
                c
            } else {
                c.requires_grad_()
            })
        } else {
            None
        };
        let mut groups = vec![ParamGroup::new(model.module().parameters())];
        if let Some(d) = &disc {
            groups.push(ParamGroup::new(d.parameters()));
        }
        if let Some(c) = centres.as_ref().filter(|c| c.requires_grad()) {
            groups.push(ParamGroup::new(vec![c.clone()]).lr_mult(cfg.centre_lr_mult));
        }
        Ok(Learner {
            model,
            disc,
            centres,
            opt: Optimizer::new(optim::Rule::reference_adam(), groups)?,
            method,
            ctx: ctx.clone(),
            mmd: cfg.mmd(),
            fisher: FisherConfig {
                form: cfg.fisher_form,
                intra: cfg.fisher_intra,
                inter: cfg.fisher_inter,
                norm: cfg.fisher_norm,
            },
            coral_form: cfg.coral_form,
            entropy_form: cfg.entropy_form,
            entropy_weight: cfg.resolved_entropy_weight()?,
            transfer_weight: cfg.transfer_weight,
            centre_momentum: cfg.centre_momentum,
        })
    }

    pub fn set_training(&self, on: bool) {
        self.model.module().set_training(on);
        if let Some(d) = &self.disc {
            d.set_training(on);
        }
    }

    /// Model, discriminator and centre tensors by checkpoint name.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut state = Vec::new();
        self.model.module().named_state("", &mut state);
        if let Some(d) = &self.disc {
            d.named_state("discriminator", &mut state);
        }
        if let Some(c) = &self.centres {
            state.push(("fisher.centres".into(), c.clone()));
        }
        state
    }

    /// The model's host-side counters (batch norm's `num_batches_tracked`).
    pub fn counters(&self) -> Vec<(String, crate::nn::Counter)> {
        let mut c = Vec::new();
        self.model.module().named_counters("", &mut c);
        c
    }

    /// Generator states that a bit-identical resume needs besides the tensors.
    pub fn rng_state(&self) -> Vec<Rng> {
        self.disc
            .as_ref()
            .map(|d| d.dropout_rngs())
            .unwrap_or_default()
    }

    pub fn set_rng_state(&self, rngs: &[Rng]) {
        if let Some(d) = &self.disc {
            d.set_dropout_rngs(rngs);
        }
    }

    /// `state()` plus the optimizer's moments.
    pub fn checkpoint_tensors(&self) -> Vec<(String, Tensor)> {
        let mut t = self.state();
        let (m, v, _) = self.opt.state();
        t.push(("optimizer.m".into(), m.clone()));
        t.push(("optimizer.v".into(), v.clone()));
        t
    }

    /// One step on x = [source; target] (2B images) with source labels y (B): forward,
    /// backward and the update, recorded and submitted as one submission.
    pub fn step(&mut self, x: &Tensor, y: &Tensor, lr: f32, lambda: f32) -> Result<StepOut> {
        let ctx = self.ctx.clone();
        let b = y.shape()[0];
        self.opt.zero_grad();
        let out = self.model.run(x)?;
        // The source half of the features, copied out only for the losses that need it
        // (MMD takes the joint batch whole).
        let needs_fs = self.centres.is_some() || self.method.transfer == Transfer::Coral;
        let fs = if needs_fs {
            Some(out.features.slice_rows(0, b)?)
        } else {
            None
        };
        let ce = cross_entropy(&out.logits.slice_rows(0, b)?, y, None)?;
        let zero = || Tensor::zeros(&ctx, &[]);
        let mut domain_logits = None;
        let transfer = match self.method.transfer {
            Transfer::NoDa => zero()?,
            Transfer::Mmd => mmd_joint(&out.features, b, &self.mmd)?,
            Transfer::Coral => coral(
                fs.as_ref().expect("sliced for CORAL"),
                &out.features.slice_rows(b, 2 * b)?,
                self.coral_form,
            )?,
            Transfer::Dann => {
                let d = self.disc.as_ref().expect("DANN has a discriminator");
                d.grl.set_lambda(lambda);
                let logits = d.forward(&out.features)?;
                domain_logits = Some(logits.detach());
                domain_loss(&logits.slice_rows(0, b)?, &logits.slice_rows(b, 2 * b)?)?
            }
        };
        let fisher = match &self.centres {
            Some(c) => fisher_loss(fs.as_ref().expect("sliced for Fisher"), y, c, &self.fisher)?,
            None => zero()?,
        };
        let ent = if self.method.entropy {
            entropy(&out.logits, self.entropy_form)?.scale(self.entropy_weight)?
        } else {
            zero()?
        };
        let total = ce
            .add(&transfer.scale(self.transfer_weight)?)?
            .add(&fisher)?
            .add(&ent)?;
        total.backward()?;
        self.opt.step(lr)?;
        if let Some(c) = self.centres.as_ref().filter(|_| self.centre_momentum > 0.0) {
            let fs = fs.as_ref().expect("sliced for Fisher");
            crate::losses::fisher::update_centres(c, fs, y, self.centre_momentum)?;
        }
        ctx.submit();
        Ok(StepOut {
            terms: [
                ce.detach(),
                transfer.detach(),
                fisher.detach(),
                ent.detach(),
                total.detach(),
            ],
            domain_logits,
        })
    }
}
