//! Model selection and early stopping, on source validation only: the kept model is the
//! one with the best source validation accuracy (ties: lower loss), and training stops when
//! the source validation loss has not improved for `patience` epochs. Target labels are
//! never read here. Also the unsupervised selection scores a sweep ranks runs by.

use super::diagnostics;
use super::evaluate::{labels_of, nll, predict_features};
use crate::data::Dataset;
use crate::error::Result;
use crate::gpu::Context;
use crate::models::Classifier;
use crate::report::{metrics, SelectionScores};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// Model-selection and early-stopping state, saved with checkpoints so a resumed run
/// decides exactly as an uninterrupted one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// (source validation accuracy, its loss, epoch) of the kept model
    pub best: Option<(f64, f64, usize)>,
    /// Lowest source validation loss so far, and epochs since it improved.
    pub best_loss: Option<f64>,
    pub since_best_loss: usize,
}

impl Selection {
    /// Records one epoch's source validation accuracy and loss; true when this epoch's model
    /// is the new kept one.
    pub fn update(&mut self, accuracy: f64, loss: f64, epoch: usize) -> bool {
        let better = match self.best {
            None => true,
            Some((acc, l, _)) => accuracy > acc || (accuracy == acc && loss < l),
        };
        if better {
            self.best = Some((accuracy, loss, epoch));
        }
        if self.best_loss.is_none_or(|l| loss < l) {
            self.best_loss = Some(loss);
            self.since_best_loss = 0;
        } else {
            self.since_best_loss += 1;
        }
        better
    }

    /// Whether the source validation loss has stalled for `patience` epochs.
    pub fn should_stop(&self, patience: usize) -> bool {
        self.since_best_loss >= patience
    }

    /// The epoch of the kept model.
    pub fn best_epoch(&self) -> usize {
        self.best.map(|b| b.2).unwrap_or(0)
    }
}

/// The image indices of one domain's three splits.
#[derive(Debug, Clone, Default)]
pub struct Splits {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Unsupervised selection scores of the current model: DEV risk (importance weights from a
/// domain classifier fitted on up to 500 training images per domain), target prediction
/// entropy and held-out MMD on the validation sets. None without target validation images.
pub fn selection_scores(
    ctx: &Rc<Context>,
    model: &dyn Classifier,
    (src, s): (&Dataset, &Splits),
    (tgt, t): (&Dataset, &Splits),
) -> Result<Option<SelectionScores>> {
    if t.val.is_empty() || s.val.is_empty() {
        return Ok(None);
    }
    let fs = predict_features(model, ctx, src, &s.val)?;
    let ft = predict_features(model, ctx, tgt, &t.val)?;
    let s_sub = diagnostics::spread(&s.train, 500);
    let t_sub = diagnostics::spread(&t.train, 500);
    let fs_train = predict_features(model, ctx, src, &s_sub)?;
    let ft_train = predict_features(model, ctx, tgt, &t_sub)?;
    let ys = labels_of(src, &s.val);
    let losses: Vec<f64> = fs
        .probs
        .iter()
        .zip(&ys)
        .map(|(&p, &y)| nll(&[p], &[y]))
        .collect();
    let weights = diagnostics::dev_weights(ctx, &fs_train, &ft_train, &fs)?;
    let acc = metrics::compute(&fs.probs, &ys).accuracy;
    Ok(Some(SelectionScores {
        source_val_acc: acc,
        source_val_loss: nll(&fs.probs, &ys),
        dev_risk: diagnostics::dev_risk(&weights, &losses),
        target_entropy: diagnostics::mean_entropy(&ft.probs),
        heldout_mmd: diagnostics::shift(ctx, &fs, &ft)?.heldout_mmd,
    }))
}
